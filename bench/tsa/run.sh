#!/usr/bin/env bash
# TSA throughput and latency: sigil's TSA (package tsa) next to the Sigstore
# timestamp-authority (the reference implementation, in-memory P-256 signer),
# on this machine, driven by the same load generator (bench/tsa/loadgen)
# with the request sigstore-go sends (DER, SHA-256, no nonce, no certs) and
# the JSON form. Prints a table and the ratio sigil / reference.
#
#   bench/tsa/run.sh                  # N=2000 requests, C=8 clients
#   N=20000 C=16 bench/tsa/run.sh     # on a quiet machine
#
# Everything runs in a private network namespace (unshare -n) when possible,
# so both servers and the load generator see only their own loopback.
# The reference is installed with `go install` into bench/out/bin
# (REF_VERSION, default v2.1.3, the newest that builds with Go 1.26); without it (or with SKIP_REFERENCE=1),
# only sigil is measured.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-2000}
C=${C:-8}
REF_VERSION=${REF_VERSION:-v2.1.3}
out=bench/out/tsa
bin=$PWD/bench/out/bin
mkdir -p "$out" "$bin"

if [ -z "${SIGIL_BENCH_INNER:-}" ]; then
  go build -o "$out/sigil-tsa" ./bench/tsa/sigil-tsa
  go build -o "$out/loadgen" ./bench/tsa/loadgen
  if [ -n "${SKIP_REFERENCE:-}" ]; then
    rm -f "$bin/timestamp-server.version"
  elif [ ! -x "$bin/timestamp-server" ] || [ "$(cat "$bin/timestamp-server.version" 2>/dev/null)" != "$REF_VERSION" ]; then
    echo "installing the reference: timestamp-server $REF_VERSION into $bin" >&2
    if GOBIN="$bin" GOFLAGS=-buildvcs=false go install "github.com/sigstore/timestamp-authority/v2/cmd/timestamp-server@$REF_VERSION" >&2; then
      echo "$REF_VERSION" > "$bin/timestamp-server.version"
    else
      echo "could not install the reference; measuring sigil alone" >&2
      rm -f "$bin/timestamp-server"
    fi
  fi
  if command -v unshare >/dev/null && command -v ip >/dev/null && unshare -n true 2>/dev/null; then
    exec env SIGIL_BENCH_INNER=1 unshare -n bash -c 'ip link set lo up && exec "$0"' "$0"
  fi
  export SIGIL_BENCH_INNER=1
fi

wait_up() { # wait_up PORT: until 127.0.0.1:PORT accepts connections (at most 10 s)
  for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "no server on 127.0.0.1:$1" >&2; return 1
}

results=$out/results.tsv
: > "$results"
measure() { # measure NAME URL
  "$out/loadgen" -url "$2" -n "$N" -c "$C" -label "$1 DER" >> "$results"
  "$out/loadgen" -url "$2" -n "$N" -c "$C" -json -label "$1 JSON" >> "$results"
}

"$out/sigil-tsa" -addr 127.0.0.1:3101 2>"$out/sigil-tsa.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
wait_up 3101
measure sigil http://127.0.0.1:3101/api/v1/timestamp
kill $pid; wait $pid 2>/dev/null || true

if [ -z "${SKIP_REFERENCE:-}" ] && [ -x "$bin/timestamp-server" ]; then
  # NTP monitoring off (it would query public NTP servers); loopback only.
  HOST=127.0.0.1 PORT=3102 "$bin/timestamp-server" serve --timestamp-signer memory --disable-ntp-monitoring \
    --log-type prod >"$out/reference.log" 2>&1 &
  pid=$!
  wait_up 3102
  measure reference http://127.0.0.1:3102/api/v1/timestamp
  kill $pid; wait $pid 2>/dev/null || true
fi

echo "TSA: $N requests per row, $C concurrent clients, $(nproc) cores; ${REF_VERSION} reference (in-memory signer)"
printf '%-16s %10s %9s %9s %9s\n' implementation req/s p50_ms p90_ms p99_ms
awk -F'\t' '{ printf "%-16s %10s %9s %9s %9s\n", $1, $3, $4, $5, $6 }' "$results"
awk -F'\t' '
  { rps[$1]=$3; p50[$1]=$4; p99[$1]=$6 }
  END {
    split("DER JSON", forms, " ")
    for (i = 1; i <= 2; i++) { s="sigil " forms[i]; r="reference " forms[i]
      if ((s in rps) && (r in rps))
        printf "ratio %-10s %10.2f %9.2f %9s %9.2f   (req/s: sigil/reference; latency: reference/sigil)\n", forms[i], rps[s]/rps[r], p50[r]/p50[s], "", p99[r]/p99[s] }
  }' "$results"
