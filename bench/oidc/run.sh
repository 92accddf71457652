#!/usr/bin/env bash
# Token benchmarks: the dev OIDC issuer (server side) and the client's token
# acquisition, as one table of wall and process-CPU time per operation.
#
#   Mint                    sign one ES256 ID token (Issuer.Mint)
#   ClientCredentials       POST /token, client_credentials grant, loopback HTTP
#   AuthorizationCodeFlow   GET /auth (auto-approved) + code exchange with PKCE
#   Check                   the client's unverified exp/aud check of a token
#   DefaultFromEnvironment  token.Default with SIGSTORE_ID_TOKEN set (the CI case)
#   BrowserSignIn           a whole headless browser sign-in: discovery, loopback
#                           listener, authorization, redirect, exchange, JWKS verify
#
# CPU is the process's (client and in-process issuer together), robust to
# other load on the machine; wall time is not. There is no side-by-side
# reference: Sigstore's dev issuers (Dex, scaffolding's fakeoidc) are not
# Go-embeddable services one can run in the same process, and the token
# getting of cosign (sigstore/sigstore pkg/oauthflow) opens its browser with
# a child process, which would measure process start-up, not the flow.
#
# Needs: Go. Usage: bench/oidc/run.sh [-short]
set -euo pipefail
cd "$(dirname "$0")/../.."
out=bench/out
mkdir -p "$out"
count=5
benchtime=2s
if [ "${1:-}" = "-short" ]; then count=1; benchtime=200x; fi

go test ./oidc/dev ./oidc/token -run '^$' -bench . -benchmem -benchtime "$benchtime" -count "$count" -cpu 1 > "$out/oidc-bench.txt"
echo "## Dev OIDC issuer and token acquisition (go test -bench, 1 core, median of $count)"
echo
awk '
/^Benchmark/ {
  name=$1; sub(/^Benchmark/, "", name); sub(/-[0-9]+$/, "", name)
  for (i=2; i<=NF; i++) { if ($(i+1)=="ns/op") ns[name]=ns[name]" "$i; if ($(i+1)=="cpu-ns/op") cpu[name]=cpu[name]" "$i; if ($(i+1)=="allocs/op") al[name]=$i }
  if (!(name in seen)) { seen[name]=1; order[++n]=name }
}
function median(s,   a, i, j, t, m) {  # portable: no gawk asort
  m=split(s, a, " ")
  for (i=2; i<=m; i++) { t=a[i]+0; for (j=i-1; j>=1 && a[j]+0>t; j--) a[j+1]=a[j]; a[j+1]=t }
  return a[int((m+1)/2)]
}
END {
  printf "| %-24s | %12s | %12s | %9s |\n", "operation", "wall ms/op", "CPU ms/op", "allocs/op"
  printf "|%s|%s|%s|%s|\n", "--------------------------", "--------------", "--------------", "-----------"
  for (i=1; i<=n; i++) { k=order[i]; printf "| %-24s | %12.3f | %12.3f | %9d |\n", k, median(ns[k])/1e6, median(cpu[k])/1e6, al[k] }
}' "$out/oidc-bench.txt"
