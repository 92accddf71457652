#!/usr/bin/env bash
# Cost of keyless git signing, measured with hyperfine on real git:
#
#   unsigned     git commit (commit.gpgsign=false), the baseline
#   sigil sign   git commit signed by sigil with a cached certificate
#                (offline mode: log entry embedded) — target: overhead
#                over unsigned <= 100 ms
#   sigil verify git verify-commit HEAD with sigil (offline, no network)
#   gitsign sign / verify   the same with gitsign (the reference; offline
#                mode, no credential cache daemon, so it gets a certificate
#                per commit from the local CA)
#
# against the fake CA, Rekor v1 log and TSA of internal/fakesvc on loopback
# (bench/git/services), so the numbers are the clients' cost, not a remote
# service's latency. Prints a table and the ratios sigil / gitsign.
#
#   bench/git/run.sh                 # RUNS=30 per command
#   RUNS=200 bench/git/run.sh        # on a quiet machine
#
# Needs git and hyperfine (Debian packages git, hyperfine); gitsign is
# measured when .ci/install-gitsign.sh has installed it (or SKIP_REFERENCE=1).
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-30}
out=$PWD/bench/out/git
mkdir -p "$out"
for tool in git hyperfine; do
  command -v "$tool" >/dev/null || { echo "bench/git: $tool is needed (apt-get install -y $tool)" >&2; exit 1; }
done
go build -o "$out/sigil" ./cmd/sigil
go build -o "$out/services" ./bench/git/services
gitsign=""
if [ -z "${SKIP_REFERENCE:-}" ]; then
  gitsign=$(command -v gitsign || true)
  [ -z "$gitsign" ] && [ -x "$(go env GOPATH)/bin/gitsign" ] && gitsign="$(go env GOPATH)/bin/gitsign"
fi

work=$(mktemp -d)
svc=$work/svc
mkdir -p "$svc"
"$out/services" -dir "$svc" >"$work/services.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ -s "$svc/url" ] && break; sleep 0.1; done
url=$(cat "$svc/url")

# A private HOME: git config, the credential cache and gitsign's files.
export HOME=$work/home XDG_CACHE_HOME=$work/home/.cache GIT_CONFIG_NOSYSTEM=1 LANG=C
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@sigil.test GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@sigil.test
export SIGSTORE_ID_TOKEN=$(cat "$svc/token")
export GITSIGN_FULCIO_URL=$url GITSIGN_REKOR_URL=$url GITSIGN_FULCIO_ROOT=$svc/fulcio.pem GITSIGN_REKOR_MODE=offline
export SIGSTORE_REKOR_PUBLIC_KEY=$svc/rekor.pub SIGSTORE_CT_LOG_PUBLIC_KEY_FILE=$svc/ct.pub TUF_ROOT=$work/home/.sigstore
mkdir -p "$HOME"
repo=$work/repo
git init -q "$repo"
cd "$repo"
"$out/sigil" git setup --trusted-root "$svc/trusted_root.json" --fulcio-url "$url" --rekor-url "$url" >/dev/null
git commit -q --allow-empty -m warm-up # gets and caches the certificate
git verify-commit HEAD 2>/dev/null

results=$work/results.csv
: >"$results"
bench() { # bench NAME COMMAND
  hyperfine -N --warmup 3 --runs "$RUNS" --export-csv "$work/one.csv" "$2" >/dev/null 2>&1 ||
    hyperfine --warmup 3 --runs "$RUNS" --export-csv "$work/one.csv" "$2" >/dev/null
  tail -n 1 "$work/one.csv" | awk -F, -v n="$1" '{ printf "%s,%.2f,%.2f\n", n, $2*1000, $3*1000 }' >>"$results"
}
bench unsigned "git -c commit.gpgsign=false commit -q --allow-empty -m unsigned"
bench "sigil sign" "git commit -q --allow-empty -m signed"
bench "sigil verify" "git verify-commit HEAD"
if [ -n "$gitsign" ]; then
  git -c gpg.x509.program="$gitsign" commit -q --allow-empty -m gitsign-warm-up
  bench "gitsign sign" "git -c gpg.x509.program=$gitsign commit -q --allow-empty -m gitsign"
  bench "gitsign verify" "git -c gpg.x509.program=$gitsign verify-commit HEAD"
fi

echo "git signing: $RUNS runs each, $(nproc) cores, $(git --version), services on loopback (internal/fakesvc)"
printf '%-16s %10s %9s %12s\n' command mean_ms sd_ms overhead_ms
awk -F, '
  { name[NR]=$1; mean[$1]=$2; sd[$1]=$3 }
  END {
    base = mean["unsigned"]
    for (i = 1; i <= NR; i++) {
      n = name[i]; o = "-"
      if (n ~ /sign$/) o = sprintf("%.1f", mean[n] - base)
      printf "%-16s %10.1f %9.1f %12s\n", n, mean[n], sd[n], o
    }
    so = mean["sigil sign"] - base
    printf "\nsigil signing overhead %.1f ms (target <= 100 ms): %s\n", so, (so <= 100 ? "met" : "NOT met")
    if ("gitsign sign" in mean) {
      go = mean["gitsign sign"] - base
      printf "ratio sigil/gitsign: verify-commit %.2f\n", mean["sigil verify"] / mean["gitsign verify"]
      printf "signing overhead sigil/gitsign %.2f: not like for like (sigil reuses its cached certificate; gitsign, without its\n", so / go
      printf "credential-cache daemon, generates a key and gets a certificate from the CA for every commit)\n"
    }
  }' "$results"
