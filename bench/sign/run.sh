#!/usr/bin/env bash
# Keyless signing benchmark against one local sigil server, token in hand:
#   - sigil sign-blob vs cosign v2.6.5 sign-blob on the Rekor v1 path
#     (--fulcio-url/--rekor-url: Fulcio v1 API, Rekor v1);
#   - sigil sign-blob vs cosign v3.1.3 sign-blob on the Rekor v2 + TSA path
#     (signing config from the server's TUF repository);
#   - where sigil's time goes: process start-up (sigil version), the same
#     v2 signing with a TUF update on every command (--tuf-cache-validity 0),
#     and the server's own time per request (its /metrics, mean over the runs);
#   - signing a 1 GiB file: throughput and peak RSS (/usr/bin/time), five runs.
# Whole-process wall times with hyperfine, in rounds that alternate which
# command runs first (so that load from elsewhere on the machine hits both
# alike); medians over all rounds and ratios in a table.
# Needs cosign and cosign3 (.ci/install-cosign.sh) and hyperfine (apt).
# Usage: bench/sign/run.sh [RUNS]   (default 20; per command, over 5 rounds)
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
. bench/sign/server.sh
trap 'stop_sigil; rm -rf "$tmp"' EXIT
cd "$tmp"
start_sigil "$out/sigil"
echo "benchmark artifact" > a.txt
TUF_ROOT=$tmp/cosign2-tuf cosign initialize --mirror $pub/tuf --root data/tuf/repository/root.json >/dev/null 2>&1
TUF_ROOT=$tmp/cosign3-tuf cosign3 initialize --mirror $pub/tuf --root data/tuf/repository/root.json >/dev/null 2>&1

# Each cosign finds its TUF cache through TUF_ROOT, exported around its
# pair (sigil does not read it) rather than with an env(1) prefix, which
# would add a process start (~0.8 ms here) to cosign's side alone.
v1_sigil="$out/sigil sign-blob a.txt --bundle s1.json --identity-token token --rekor-url $pub"
v1_cosign="cosign sign-blob --yes --fulcio-url $pub --rekor-url $pub --identity-token token --new-bundle-format --bundle c1.json a.txt"
v2_sigil="$out/sigil sign-blob a.txt --bundle s2.json --identity-token token"
v2_cosign="cosign3 sign-blob --yes --identity-token token --bundle c2.json a.txt"
v2_sigil_tuf="$out/sigil sign-blob a.txt --bundle s3.json --identity-token token --tuf-cache-validity 0"
start="$out/sigil version"
check() { for c in "$@"; do $c >/dev/null 2>&1 || { echo "failed: $c" >&2; $c; exit 1; }; done; }
export TUF_ROOT=$tmp/cosign2-tuf; check "$v1_sigil" "$v1_cosign"
export TUF_ROOT=$tmp/cosign3-tuf; check "$v2_sigil" "$v2_cosign" "$v2_sigil_tuf"
# hf ARGS: hyperfine ARGS, its report discarded. A timed command that fails
# (an expired token, a refused request) stops the script naming the command
# and its exit status, then shows that command's own output.
hf() {
  if ! hyperfine "$@" >hf.out 2>&1; then
    echo "a timed command failed:" >&2
    grep -E '^(Benchmark [0-9]+:|Error:)' hf.out | tail -2 >&2
    local cmd
    cmd=$(grep -E '^Benchmark [0-9]+:' hf.out | tail -1 | sed -E 's/^Benchmark [0-9]+: //')
    [ -z "$cmd" ] || $cmd >&2 || true
    exit 1
  fi
}
# pair NAME A B: RUNS runs of each of A and B, in 5 rounds alternating
# which goes first; NAME.<round>.json hold hyperfine's samples (A first).
rounds=5
per=$(( (runs + rounds - 1) / rounds ))
pair() {
  for r in $(seq 1 $rounds); do
    if (( r % 2 )); then
      hf -N --warmup 1 --runs "$per" --export-json "$1.$r.json" "$2" "$3"
    else
      hf -N --warmup 1 --runs "$per" --export-json "$1.$r.swapped.json" "$3" "$2"
    fi
  done
}
# The server's request durations, summed, before and after a sigil-only run.
metrics() { curl -fs $pub/metrics | grep -E '^sigil_(ca_signing_cert|ctlog_add|tlog_add|tsa_sign)_duration_seconds_(sum|count)' || true; }
export TUF_ROOT=$tmp/cosign2-tuf
pair v1 "$v1_sigil" "$v1_cosign"
metrics > m0.txt
hf -N --warmup 0 --runs "$runs" "$v1_sigil"
metrics > m1.txt
export TUF_ROOT=$tmp/cosign3-tuf
pair v2 "$v2_sigil" "$v2_cosign"
metrics > m2.txt
hf -N --warmup 0 --runs "$runs" "$v2_sigil"
metrics > m3.txt
pair tuf "$v2_sigil" "$v2_sigil_tuf"
hf -N --warmup 2 --runs "$runs" --export-json start.json "$start"

head -c 1073741824 /dev/zero > big.bin
# Five runs (the disk and the machine's other tenants make one run noisy);
# the table gives the median time and the largest peak RSS.
for _ in 1 2 3 4 5; do
  /usr/bin/time -f "%e %M" -a -o big.time "$out/sigil" sign-blob big.bin --bundle big.json --identity-token token >/dev/null 2>big.err ||
    { echo "sign-blob of the 1 GiB file failed:" >&2; tail -3 big.err >&2; exit 1; }
done
python3 - "$runs" <<'PY'
import glob, json, re, statistics, sys
def med(name):
    """Medians (ms) of the pair's two commands over all rounds."""
    a, b = [], []
    for f in glob.glob(name + ".*.json"):
        r = json.load(open(f))["results"]
        if f.endswith(".swapped.json"):
            r = r[::-1]
        a += r[0]["times"]
        b += r[1]["times"]
    return statistics.median(a) * 1000, statistics.median(b) * 1000
def metrics(f):
    m = {}
    for line in open(f):
        k, v = line.rsplit(" ", 1)
        m[k] = float(v)
    return m
def server(a, b):
    """Mean server time per request (ms) between two /metrics snapshots."""
    a, b = metrics(a), metrics(b)
    out = []
    for k in sorted(b):
        if not k.startswith("sigil_") or "_sum" not in k:
            continue
        c = k.replace("_sum", "_count")
        n = b.get(c, 0) - a.get(c, 0)
        if n > 0:
            name = re.sub(r"^sigil_|_duration_seconds_sum", "", k)
            out.append((name, (b[k] - a.get(k, 0)) / n * 1000))
    return out
print("| keyless sign-blob, token in hand (%s runs) | sigil ms | cosign ms | speed-up | sigil target |" % sys.argv[1])
print("|---|---|---|---|---|")
s, c = med("v1"); print("| Rekor v1 path (cosign v2.6.5) | %.1f | %.1f | %.1fx | p50 ≤ 150 ms, ≥ 3x |" % (s, c, c / s))
s2, c = med("v2"); print("| Rekor v2 + TSA path (cosign v3.1.3) | %.1f | %.1f | %.1fx | p50 ≤ 400 ms, ≥ 3x |" % (s2, c, c / s2))
fast, tuf = med("tuf")
start = json.load(open("start.json"))["results"][0]["median"] * 1000
print()
print("| where sigil's time goes (medians) | ms |")
print("|---|---|")
print("| process start-up and exit (`sigil version`) | %.1f |" % start)
print("| Rekor v2 path, TUF view reused (default `--tuf-cache-validity 10m`) | %.1f |" % fast)
print("| Rekor v2 path, TUF update on every command (`--tuf-cache-validity 0`) | %.1f (%+.1f) |" % (tuf, tuf - fast))
for path, a, b in (("v1", "m0.txt", "m1.txt"), ("v2", "m2.txt", "m3.txt")):
    for name, ms in server(a, b):
        print("| %s path, server: %s (mean per request) | %.1f |" % (path, name, ms))
runs1g = [l.split() for l in open("big.time") if l.strip()]
secs = statistics.median(float(r[0]) for r in runs1g)
kb = max(int(r[1]) for r in runs1g)
print()
print("| sign-blob of a 1 GiB file (median of %d runs) | wall s | GB/s | peak RSS MiB | target |" % len(runs1g))
print("|---|---|---|---|---|")
print("| sigil (keyless, Rekor v2 + TSA) | %.2f | %.2f | %d | ≥ 1.2 GB/s, ≤ 50 MiB |" % (secs, 1.073741824 / secs, kb // 1024))
PY
