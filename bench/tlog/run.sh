#!/usr/bin/env bash
# bench/tlog/run.sh — write throughput and latency of sigil's transparency log
# and of the reference, rekor-tiles' POSIX server (v2.3.0), side by side on
# this machine with the same load generator and the same pre-signed requests
# (hashedrekord, ECDSA P-256 with Fulcio-style certificates, 8,192 of them
# in turn so that, as with keyless signers' new certificates, none is served
# from sigil's cache of parsed certificates; every request is validated and
# fsync'd before its 201 with an inclusion proof).
#
#   bench/tlog/run.sh            # full run (~10 minutes)
#   QUICK=1 bench/tlog/run.sh    # short runs, to check the script
#
# Knobs: DURATION (measured time per run, default 20s), WARMUP (3s),
# CONCURRENCY (256), RATE (open-loop offered rate, 1000/s), OUT
# (bench/out/tlog), SKIP_REFERENCE=1. The reference is installed with
# `go install` into $OUT/bin on first use. Results: $OUT/results.jsonl and
# the table printed at the end (also $OUT/table.md).
#
# writes/s counts the 201s with an inclusion proof answered within the
# measured window (what the log sustained; an open-loop run the log cannot
# keep up with shows less than the offered rate), the latencies are of the
# successful writes due in the window, from their due time to the answer.
# Failed requests are in the errors column, leave their run out of the
# ratios, and make the script exit 1 after the table.
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT=${OUT:-bench/out/tlog}
DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-3s}
CONCURRENCY=${CONCURRENCY:-256}
RATE=${RATE:-1000}
REF_VERSION=v2.3.0
if [ "${QUICK:-0}" = 1 ]; then DURATION=5s; WARMUP=1s; fi
mkdir -p "$OUT/bin"
OUT=$(cd "$OUT" && pwd)
RESULTS=$OUT/results.jsonl
: >"$RESULTS"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "== building sigil and the load generator"
go build -o "$OUT/bin/sigil" ./cmd/sigil
go build -o "$OUT/bin/loadgen" ./bench/tlog/loadgen
LOADGEN=$OUT/bin/loadgen
REF=$OUT/bin/posix
if [ -z "${SKIP_REFERENCE:-}" ] && [ ! -x "$REF" ]; then
  echo "== installing the reference: rekor-tiles POSIX server ${REF_VERSION}"
  GOFLAGS= GOBIN="$OUT/bin" go install "github.com/sigstore/rekor-tiles/v2/cmd/rekor-server/posix@${REF_VERSION}"
fi
[ -f "$OUT/rekor-tiles-key.pem" ] || "$LOADGEN" -genkey "$OUT/rekor-tiles-key.pem"

SERVER_PID=
stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=
}
trap stop_server EXIT

# Each server gets free loopback ports; wait_ready gives up as soon as the
# server exits (a port taken by another program), so that the load never
# goes to whatever else answers there.
wait_ready() { # URL
  for _ in $(seq 1 300); do
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "server exited: see $OUT/*.log" >&2; return 1; }
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "server did not come up: $1" >&2
  return 1
}

start_sigil() {
  PORT=$(free_port)
  DATA=$(mktemp -d "$OUT/sigil-data.XXXXXX")
  "$OUT/bin/sigil" log serve --data-dir "$DATA" --public-url "http://127.0.0.1:$PORT" --listen "127.0.0.1:$PORT" \
    2>"$OUT/sigil.log" &
  SERVER_PID=$!
  wait_ready "http://127.0.0.1:$PORT/healthz"
}

start_ref() { # extra flags
  PORT=$(free_port)
  DATA=$(mktemp -d "$OUT/ref-data.XXXXXX")
  "$REF" serve --storage-dir "$DATA" --hostname 127.0.0.1 --signer-filepath "$OUT/rekor-tiles-key.pem" \
    --http-address 127.0.0.1 --http-port "$PORT" --grpc-port "$(free_port)" --http-metrics-port "$(free_port)" "$@" \
    2>"$OUT/ref.log" &
  SERVER_PID=$!
  wait_ready "http://127.0.0.1:$PORT/healthz"
}

FAILED=0
load() { # group role label api concurrency rate warmup duration
  "$LOADGEN" -url "http://127.0.0.1:$PORT" -group "$1" -role "$2" -label "$3" -api "$4" -concurrency "$5" -rate "$6" \
    -warmup "$7" -duration "$8" -pid "$SERVER_PID" -json >>"$RESULTS" || FAILED=$((FAILED + 1))
}

sigil_run() { # group label api concurrency rate
  start_sigil
  load "$1" sigil "$2" "$3" "$4" "$5" "$WARMUP" "$DURATION"
  stop_server
  rm -rf "$DATA"
}

ref_run() { # group label concurrency rate warmup duration flags...
  local group=$1 label=$2 c=$3 rate=$4 warm=$5 dur=$6
  shift 6
  start_ref "$@"
  load "$group" reference "$label" v2 "$c" "$rate" "$warm" "$dur"
  stop_server
  rm -rf "$DATA"
}

G1="closed loop, $CONCURRENCY clients"
echo "== $G1"
sigil_run "$G1" "sigil" v2 "$CONCURRENCY" 0
sigil_run "$G1" "sigil" v1 "$CONCURRENCY" 0
if [ -z "${SKIP_REFERENCE:-}" ]; then
  ref_run "$G1" "rekor-tiles --checkpoint-interval=100ms" "$CONCURRENCY" 0 "$WARMUP" "$DURATION" --checkpoint-interval=100ms
  ref_run "$G1" "rekor-tiles --checkpoint-interval=1s" "$CONCURRENCY" 0 "$WARMUP" "$DURATION" --checkpoint-interval=1s
  # Defaults: ~11 s per write, so a longer run.
  ref_run "$G1" "rekor-tiles (defaults)" "$CONCURRENCY" 0 15s 45s
fi

G2="open loop, ${RATE}/s offered"
echo "== $G2"
sigil_run "$G2" "sigil" v2 "$CONCURRENCY" "$RATE"
sigil_run "$G2" "sigil" v1 "$CONCURRENCY" "$RATE"
if [ -z "${SKIP_REFERENCE:-}" ]; then
  ref_run "$G2" "rekor-tiles --checkpoint-interval=100ms" "$CONCURRENCY" "$RATE" "$WARMUP" "$DURATION" --checkpoint-interval=100ms
fi

echo
"$LOADGEN" -table "$RESULTS" | tee "$OUT/table.md"
echo
echo "machine: $(nproc) cores, $(uname -sr), $(go version | cut -d' ' -f3); load average $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$FAILED" -gt 0 ]; then
  echo "FAILED: $FAILED run(s) had failed requests or lost their server (see the errors column and the messages above)" >&2
  exit 1
fi
