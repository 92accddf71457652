#!/usr/bin/env bash
# Image verification benchmark: prints three tables.
#
#  1. Whole-process wall time of `sigil verify IMAGE` against `cosign verify
#     IMAGE` on the same image in the same registry (hyperfine): a
#     legacy-format signature against cosign v2.6.5, a referrers-format
#     (bundle v0.3) signature against cosign v3.1.3; and the ratio.
#  2. Throughput: `sigil verify IMG1 … IMGn` in one process (concurrent,
#     --max-workers), images/s, beside `cosign verify IMG1 … IMGn` (v3.1.3).
#  3. The library's cost per image (go test -bench, in-process registry).
#
# The registry is the distribution registry (Debian's docker-registry),
# started here on loopback with a temporary config and storage; the images
# are random and signed keyless against the test signing services by
# bench/oci/fixture. Verification is offline (registry + trusted root).
#
# Needs: Go, hyperfine and docker-registry (installed with apt-get when
# missing), cosign and cosign3 (.ci/install-cosign.sh).
# Usage: bench/oci/run.sh [-short]     (-short: fewer runs and images)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
out=$root/bench/out/oci
rm -rf "$out"
mkdir -p "$out"
runs=30; n=100; count=5
if [ "${1:-}" = "-short" ]; then runs=8; n=30; count=1; fi

for pkg in hyperfine docker-registry; do
  bin=$pkg; [ "$pkg" = docker-registry ] && bin=/usr/bin/docker-registry
  command -v "$bin" >/dev/null || { apt-get update -qq >/dev/null; apt-get install -y -qq "$pkg" >/dev/null; }
done
bindir=$(go env GOPATH)/bin
[ -x "$bindir/cosign" ] && [ -x "$bindir/cosign3" ] || bash .ci/install-cosign.sh >&2
COSIGN2=${COSIGN2:-$bindir/cosign}
COSIGN3=${COSIGN3:-$bindir/cosign3}

# The registry, on a free loopback port.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
host=127.0.0.1:$port
cat >"$out/registry.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $out/registry
http:
  addr: $host
EOF
/usr/bin/docker-registry serve "$out/registry.yml" >"$out/registry.log" 2>&1 &
regpid=$!
trap 'kill $regpid 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -fs "http://$host/v2/" >/dev/null 2>&1 && break; sleep 0.1; done

go build -o "$out/sigil" ./cmd/sigil
go run ./bench/oci/fixture -registry "$host" -n "$n" -out "$out"
legacy=$(cat "$out/legacy.txt")
referrers=$(cat "$out/referrers.txt")
id=(--certificate-identity alice@sigil.test --certificate-oidc-issuer https://issuer.sigil.test --trusted-root "$out/trusted_root.json")

# cosign in an environment of its own (no TUF cache, no network). Where
# sigil and cosign are timed side by side, hyperfine itself runs in it
# too, so that both commands are a bare exec: an env(1) prefix on
# cosign's alone would add a process start (~0.8 ms here) to its side.
home=$(mktemp -d)
cosign_env="env -i HOME=$home TUF_ROOT=$home/tuf PATH=$PATH SIGSTORE_NO_CACHE=true"

echo "## Verify one image, whole process (hyperfine, $runs runs, same image and registry)"
echo
printf "| %-38s | %10s | %10s | %8s |\n" "signature format (reference)" "sigil ms" "cosign ms" "speed-up"
printf "|%s|%s|%s|%s|\n" "----------------------------------------" "------------" "------------" "----------"
bench_one() { # bench_one LABEL IMAGE COSIGN
  local label=$1 img=$2 cosign=$3
  # Both must succeed before they are timed.
  $cosign_env "$out/sigil" verify "$img" "${id[@]}" 2>/dev/null
  $cosign_env "$cosign" verify "$img" "${id[@]}" >/dev/null 2>&1
  $cosign_env hyperfine -N --warmup 2 --runs "$runs" --export-json "$out/hf-$label.json" \
    -n sigil "$out/sigil verify $img ${id[*]}" \
    -n cosign "$cosign verify $img ${id[*]}" >/dev/null
  python3 - "$out/hf-$label.json" "$label" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
s, c = r["sigil"]["mean"] * 1000, r["cosign"]["mean"] * 1000
print("| %-38s | %10.1f | %10.1f | %7.1fx |" % (sys.argv[2], s, c, c / s))
PY
}
bench_one "legacy tag (cosign v2.6.5)" "$legacy" "$COSIGN2"
bench_one "referrers, bundle v0.3 (cosign v3.1.3)" "$referrers" "$COSIGN3"

echo
echo "## Verify $n images in one invocation (referrers format; hyperfine, $((runs / 4 + 2)) runs)"
echo
mapfile -t imgs <"$out/images.txt"
"$out/sigil" verify "${imgs[@]}" "${id[@]}" 2>/dev/null
printf "| %-44s | %10s | %10s |\n" "command" "seconds" "images/s"
printf "|%s|%s|%s|\n" "----------------------------------------------" "------------" "------------"
for w in 1 10 32; do
  hyperfine -N --warmup 1 --runs $((runs / 4 + 2)) --export-json "$out/hf-many-$w.json" \
    "$out/sigil verify --max-workers $w ${imgs[*]} ${id[*]}" >/dev/null
  python3 - "$out/hf-many-$w.json" "sigil verify --max-workers $w" "$n" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["results"][0]["mean"]
print("| %-44s | %10.2f | %10.1f |" % (sys.argv[2], m, int(sys.argv[3]) / m))
PY
done
hyperfine -N --runs 2 --export-json "$out/hf-many-cosign.json" \
  "$cosign_env $COSIGN3 verify ${imgs[*]} ${id[*]}" >/dev/null
python3 - "$out/hf-many-cosign.json" "cosign v3.1.3 verify (sequential)" "$n" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["results"][0]["mean"]
print("| %-44s | %10.2f | %10.1f |" % (sys.argv[2], m, int(sys.argv[3]) / m))
PY

echo
echo "## Library cost per image (go test -bench, in-process registry, count $count)"
echo
go test ./oci -run '^$' -bench 'VerifyImage' -benchmem -count "$count" | grep -E '^Benchmark' | \
  awk '{ printf "| %-40s | %12s ns/op | %10s B/op | %8s allocs/op |\n", $1, $3, $5, $7 }'
