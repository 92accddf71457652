#!/usr/bin/env bash
# Keyless signing benchmark against one local sigil server, token in hand:
#   - sigil sign-blob vs cosign v2.6.5 sign-blob on the Rekor v1 path
#     (--fulcio-url/--rekor-url: Fulcio v1 API, Rekor v1);
#   - sigil sign-blob vs cosign v3.1.3 sign-blob on the Rekor v2 + TSA path
#     (signing config from the server's TUF repository);
#   - signing a 1 GiB file: throughput and peak RSS (/usr/bin/time).
# Whole-process wall times with hyperfine; medians and ratios in a table.
# Needs cosign and cosign3 (.ci/install-cosign.sh) and hyperfine (apt).
# Usage: bench/sign/run.sh [RUNS]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-20}
out=$PWD/bench/out; mkdir -p "$out"
export PATH="$(go env GOPATH)/bin:$PATH"
command -v hyperfine >/dev/null || apt-get install -y hyperfine >/dev/null
command -v /usr/bin/time >/dev/null || apt-get install -y time >/dev/null
for b in cosign cosign3; do command -v $b >/dev/null || { echo "$b missing: run .ci/install-cosign.sh" >&2; exit 1; }; done
go build -o "$out/sigil" ./cmd/sigil
tmp=$(mktemp -d)
port=18282
pub=http://127.0.0.1:$port
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
cd "$tmp"
"$out/sigil" server --data data --listen 127.0.0.1:$port >server.log 2>&1 &
for _ in $(seq 1 300); do curl -fs $pub/readyz >/dev/null 2>&1 && break; sleep 0.05; done
export SIGIL_TUF_CACHE=$tmp/sigil-tuf
"$out/sigil" trust init --mirror $pub/tuf --root data/tuf/repository/root.json >/dev/null 2>&1
# A token valid for the whole run (the dev issuer's maximum is 10 minutes).
"$out/sigil" dev-token --oidc-issuer $pub/oidc --mint | tr -d '\n' > token
echo "benchmark artifact" > a.txt
TUF_ROOT=$tmp/cosign2-tuf cosign initialize --mirror $pub/tuf --root data/tuf/repository/root.json >/dev/null 2>&1
TUF_ROOT=$tmp/cosign3-tuf cosign3 initialize --mirror $pub/tuf --root data/tuf/repository/root.json >/dev/null 2>&1

v1_sigil="$out/sigil sign-blob a.txt --bundle s1.json --identity-token token --rekor-url $pub"
v1_cosign="env TUF_ROOT=$tmp/cosign2-tuf cosign sign-blob --yes --fulcio-url $pub --rekor-url $pub --identity-token token --new-bundle-format --bundle c1.json a.txt"
v2_sigil="$out/sigil sign-blob a.txt --bundle s2.json --identity-token token"
v2_cosign="env TUF_ROOT=$tmp/cosign3-tuf cosign3 sign-blob --yes --identity-token token --bundle c2.json a.txt"
for c in "$v1_sigil" "$v1_cosign" "$v2_sigil" "$v2_cosign"; do $c >/dev/null 2>&1 || { echo "failed: $c" >&2; $c; exit 1; }; done
hyperfine -N --warmup 2 --runs "$runs" --export-json v1.json "$v1_sigil" "$v1_cosign" >/dev/null 2>&1
hyperfine -N --warmup 2 --runs "$runs" --export-json v2.json "$v2_sigil" "$v2_cosign" >/dev/null 2>&1

head -c 1073741824 /dev/zero > big.bin
/usr/bin/time -f "%e %M" -o big.time "$out/sigil" sign-blob big.bin --bundle big.json --identity-token token >/dev/null 2>&1
python3 - "$runs" <<'PY'
import json, sys
def med(f):
    r = json.load(open(f))["results"]
    return r[0]["median"] * 1000, r[1]["median"] * 1000
print("| keyless sign-blob, token in hand (%s runs) | sigil ms | cosign ms | speed-up | sigil target |" % sys.argv[1])
print("|---|---|---|---|---|")
s, c = med("v1.json"); print("| Rekor v1 path (cosign v2.6.5) | %.0f | %.0f | %.1fx | p50 ≤ 150 ms, ≥ 3x |" % (s, c, c / s))
s, c = med("v2.json"); print("| Rekor v2 + TSA path (cosign v3.1.3) | %.0f | %.0f | %.1fx | p50 ≤ 400 ms, ≥ 3x |" % (s, c, c / s))
secs, kb = open("big.time").read().split()
print()
print("| sign-blob of a 1 GiB file | wall s | GB/s | peak RSS MiB | target |")
print("|---|---|---|---|---|")
print("| sigil (keyless, Rekor v2 + TSA) | %s | %.2f | %d | ≥ 1.2 GB/s, ≤ 50 MiB |" % (secs, 1.073741824 / float(secs), int(kb) // 1024))
PY
