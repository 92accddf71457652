#!/usr/bin/env bash
# Verification benchmark: prints two tables.
#
#  1. CPU per bundle of the verifier library on every positive conformance
#     vector (Go benchmarks, one core, process CPU time per operation), and on
#     bundles with an all-P-256 chain made by the test PKI.
#  2. Whole-process wall time of `sigil verify-blob` against
#     `cosign verify-blob --new-bundle-format --trusted-root` (cosign v2.6.5,
#     the reference) on the same bundle, and the ratio.
#
# Needs: Go, ../shared/conformance beside the repository, hyperfine (installed
# with apt-get when missing), cosign v2.6.5 (installed with go install into
# bench/out when missing; set COSIGN=/path/to/cosign to use another).
# Usage: bench/verify/run.sh [-short]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
out=$root/bench/out
mkdir -p "$out"
count=5
runs=30
if [ "${1:-}" = "-short" ]; then count=1; runs=10; fi

vectors=${SIGIL_CONFORMANCE_DIR:-$root/../shared/conformance}
[ -d "$vectors/bundle-verify" ] || { echo "conformance vectors not found at $vectors" >&2; exit 1; }

if ! command -v hyperfine >/dev/null; then
  apt-get install -y hyperfine >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y hyperfine >/dev/null; }
fi
COSIGN=${COSIGN:-}
if [ -z "$COSIGN" ]; then
  if [ ! -x "$out/cosign-v2.6.5/cosign" ]; then
    echo "installing cosign v2.6.5 (a few minutes, once)..." >&2
    GOBIN=$out/cosign-v2.6.5 go install github.com/sigstore/cosign/v2/cmd/cosign@v2.6.5
  fi
  COSIGN=$out/cosign-v2.6.5/cosign
fi

echo "## Verifier CPU per bundle (go test -bench, 1 core; cpu-ns/op is process CPU time, robust to other load)"
echo
go test ./verify -run '^$' -bench 'VerifyVectors/.*/verify$|VerifyVectors/.*/parse\+verify$|VerifyP256' -benchmem -count "$count" -cpu 1 \
  > "$out/verify-bench.txt"
python3 - "$out/verify-bench.txt" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    if not line.startswith("Benchmark"):
        continue
    f = line.split()
    name = re.sub(r"^BenchmarkVerify(Vectors|P256)/", "", f[0])
    name = re.sub(r"-\d+$", "", name)
    r = rows.setdefault(name, {"ns": [], "cpu": [], "allocs": 0})
    for i in range(1, len(f) - 1):
        if f[i + 1] == "ns/op": r["ns"].append(float(f[i]))
        if f[i + 1] == "cpu-ns/op": r["cpu"].append(float(f[i]))
        if f[i + 1] == "allocs/op": r["allocs"] = int(f[i])
print("| %-62s | %10s | %10s | %9s |" % ("bundle / step", "wall ms/op", "CPU ms/op", "allocs/op"))
print("|%s|%s|%s|%s|" % ("-" * 64, "-" * 12, "-" * 12, "-" * 11))
for name, r in rows.items():
    print("| %-62s | %10.3f | %10.3f | %9d |" % (name, statistics.median(r["ns"]) / 1e6, statistics.median(r["cpu"]) / 1e6, r["allocs"]))
PY

echo
echo "## Whole process: sigil verify-blob vs cosign v2.6.5 verify-blob (hyperfine, $runs runs, same bundle)"
echo
go build -o "$out/sigil" ./cmd/sigil
tuf=$(mktemp -d)
# cosign's TUF cache, in the environment of both commands (sigil does not
# read TUF_ROOT) rather than with an env(1) prefix, which would add a
# process start (~0.8 ms here) to cosign's side alone.
export TUF_ROOT=$tuf
id=https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main
iss=https://token.actions.githubusercontent.com
printf "| %-34s | %12s | %12s | %8s |\n" "bundle" "sigil ms" "cosign ms" "speed-up"
printf "|%s|%s|%s|%s|\n" "------------------------------------" "--------------" "--------------" "----------"
for v in happy-path-v0.3 happy-path-intoto-in-dsse-v3 rekor2-happy-path; do
  dir=$vectors/bundle-verify/$v
  trustroot=$vectors/production_trusted_root.json
  [ -f "$dir/trusted_root.json" ] && trustroot=$dir/trusted_root.json
  art=$vectors/bundle-verify/a.txt
  [ -f "$dir/artifact" ] && art=$dir/artifact
  sub=verify-blob; extra=()
  if grep -q dsseEnvelope "$dir/bundle.sigstore.json"; then sub=verify-blob-attestation; fi
  csub=$sub
  [ "$sub" = verify-blob-attestation ] && extra=(--type https://slsa.dev/provenance/v1)
  ts=(); grep -q rfc3161Timestamps "$dir/bundle.sigstore.json" && ts=(--use-signed-timestamps)
  sigil_cmd="$out/sigil $sub --bundle $dir/bundle.sigstore.json --certificate-identity $id --certificate-oidc-issuer $iss --trusted-root $trustroot $art"
  cosign_cmd="$COSIGN $csub --new-bundle-format --bundle $dir/bundle.sigstore.json --certificate-identity $id --certificate-oidc-issuer $iss --trusted-root $trustroot ${ts[*]} ${extra[*]} $art"
  $sigil_cmd >/dev/null 2>&1 || { echo "sigil failed on $v" >&2; $sigil_cmd; exit 1; }
  if ! $cosign_cmd >/dev/null 2>&1; then
    printf "| %-34s | %12s | %12s | %8s |\n" "$v" "-" "(cosign fails)" "-"
    continue
  fi
  hyperfine -N --warmup 3 --runs "$runs" --export-json "$out/hf-$v.json" "$sigil_cmd" "$cosign_cmd" >/dev/null 2>&1
  python3 - "$out/hf-$v.json" "$v" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
s, c = r[0]["median"] * 1000, r[1]["median"] * 1000
print("| %-34s | %12.1f | %12.1f | %7.1fx |" % (sys.argv[2], s, c, c / s))
PY
done
echo
echo "(medians; raw data in bench/out/)"
