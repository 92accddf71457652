#!/usr/bin/env bash
# CT log benchmark: add-pre-chain from submission to SCT (durable sequencing
# included). Prints three tables:
#
#  1. Go benchmarks of the library: in process (the CA inside sigil server)
#     and over loopback HTTP with ctlog.Client, closed loop with many
#     submitters; adds/s, latency percentiles, process CPU per add, entries
#     per group-committed batch; and the CPU cost of checking one chain.
#  2. The HTTP servers side by side, driven by the same load generator with
#     the same precertificate chains: `sigil ctlog serve` against TesseraCT
#     v0.1.1 POSIX (the reference static-ct log; installed by
#     .ci/install-tesseract.sh), with TesseraCT's default of answering only
#     after the checkpoint is published and with that awaiter off (an SCT
#     after sequencing, as sigil does). Closed loop at -c submitters.
#  3. Open loop at 500 requests/s (the CA's latency target): p50/p99.
#
# Usage: bench/ctlog/run.sh [-short] [-n REQUESTS] [-c CONCURRENCY]
# A request counts only when answered 200 with an SCT; adds/s and latencies
# are of those, a run with failed requests gets no speed-up, and any failed
# request makes the script exit 1.
# Needs Go; TesseraCT rows are skipped (with a note) when tesseract-posix is
# missing and TESSERACT is not set.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
out=$root/bench/out/ctlog
mkdir -p "$out"
n=20000
c=256
benchn=20000
if [ "${1:-}" = "-short" ]; then n=3000; benchn=3000; shift; fi
while [ $# -gt 0 ]; do
  case $1 in
    -n) n=$2; benchn=$2; shift 2 ;;
    -c) c=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

echo "## 1. Library (go test -bench, GOMAXPROCS=$(nproc), $benchn adds, $c submitters)"
echo
go test ./ctlog -run '^$' -bench 'AddPreChain|Validate' -benchtime "${benchn}x" -concurrency "$c" > "$out/go-bench.txt"
python3 - "$out/go-bench.txt" <<'PY'
import sys
print("| %-22s | %8s | %8s | %8s | %12s | %13s |" % ("benchmark", "adds/s", "p50 ms", "p99 ms", "CPU µs/add", "entries/batch"))
print("|%s|%s|%s|%s|%s|%s|" % ("-"*24, "-"*10, "-"*10, "-"*10, "-"*14, "-"*15))
for line in open(sys.argv[1]):
    if not line.startswith("Benchmark"):
        continue
    f = line.split()
    name = f[0].split("-")[0].replace("Benchmark", "")
    m = {f[i+1]: f[i] for i in range(1, len(f)-1)}
    if "adds/s" in m:
        print("| %-22s | %8.0f | %8s | %8s | %12s | %13s |" % (name, float(m["adds/s"]), m["p50-ms"], m["p99-ms"], m["cpu-µs/add"], m.get("entries/batch", "-")))
    else:
        print("| %-22s | %8s | %8s | %8s | %12s | %13s |" % (name + " (1 chain)", "-", "-", "-", m["cpu-µs/op"], "-"))
PY

echo
echo "## 2. HTTP servers side by side ($n add-pre-chain requests, $c submitters, closed loop)"
echo
go build -o "$out/sigil" ./cmd/sigil
go build -o "$out/loadgen" ./bench/ctlog/loadgen
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
"$out/loadgen" init -dir "$work" -n "$n"

# Each server gets a free loopback port and is stopped once measured, so that
# no log under test shares the machine with an earlier one (idle, but with
# its own background work), and a server that fails to start (a port taken
# by another program) stops the script instead of letting it measure
# whatever answers on that port.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { # wait_up URL PID
  for _ in $(seq 1 200); do
    kill -0 "$2" 2>/dev/null || { echo "server for $1 exited" >&2; return 1; }
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "server at $1 did not come up" >&2; return 1
}
stop_server() { kill "$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true; }
start_sigil() { # start_sigil PORT DIR; sets spid
  "$out/sigil" ctlog serve --data-dir "$2" --roots "$work/root.pem" --key "$work/log-key.pem" \
    --listen "127.0.0.1:$1" --public-url "http://127.0.0.1:$1/ct" >"$2.log" 2>&1 &
  spid=$!; pids+=($spid)
  wait_up "http://127.0.0.1:$1/ct/ct/v1/get-roots" "$spid"
}
TESSERACT=${TESSERACT:-$(go env GOPATH)/bin/tesseract-posix}
start_tesseract() { # start_tesseract PORT DIR AWAITER; sets spid
  "$TESSERACT" --storage_dir "$2" --origin 127.0.0.1 --roots_pem_file "$work/root.pem" \
    --private_key "$work/log-key.pem" --ext_key_usages CodeSigning --http_endpoint "127.0.0.1:$1" \
    --enable_publication_awaiter="$3" >"$2.log" 2>&1 &
  spid=$!; pids+=($spid)
  wait_up "http://127.0.0.1:$1/ct/v1/get-roots" "$spid"
}
# A run with failed requests still gets its row (adds/s and latencies of the
# successes alone), but the script ends with status 1 and says so.
failures=0
run_load() { # run_load NAME URL MODE VALUE [REQUESTS]
  "$out/loadgen" run -name "$1" -url "$2" -bodies "$work/bodies.ndjson" "-$3" "$4" -n "${5:-$n}" | tee -a "$work/results" ||
    failures=$((failures + 1))
}
open_n=$(( n < 5000 ? n : 5000 ))

: > "$work/results"
port=$(free_port); start_sigil "$port" "$work/sigil"
run_load sigil "http://127.0.0.1:$port/ct" concurrency "$c" >/dev/null
stop_server
if [ -x "$TESSERACT" ]; then
  port=$(free_port); start_tesseract "$port" "$work/tesseract" true
  run_load tesseract-awaiter "http://127.0.0.1:$port" concurrency "$c" >/dev/null
  stop_server
  port=$(free_port); start_tesseract "$port" "$work/tesseract-noawait" false
  run_load tesseract-no-awaiter "http://127.0.0.1:$port" concurrency "$c" >/dev/null
  stop_server
else
  echo "(TesseraCT rows skipped: run .ci/install-tesseract.sh or set TESSERACT)"
fi
python3 - "$work/results" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
base = {r[0]: float(r[3]) for r in rows}
# A run with failed requests counts its successes alone: no ratio from it.
bad = {r[0] for r in rows if r[2] != "0"}
print("| %-22s | %8s | %6s | %8s | %8s | %8s | %14s |" % ("server", "requests", "errors", "adds/s", "p50 ms", "p99 ms", "sigil speed-up"))
print("|%s|%s|%s|%s|%s|%s|%s|" % ("-"*24, "-"*10, "-"*8, "-"*10, "-"*10, "-"*10, "-"*16))
for r in rows:
    if r[0] == "sigil" or float(r[3]) == 0:
        ratio = "-"
    elif r[0] in bad or "sigil" in bad:
        ratio = "not compared"
    else:
        ratio = "%.2fx" % (base["sigil"] / float(r[3]))
    print("| %-22s | %8s | %6s | %8s | %8s | %8s | %14s |" % (r[0], r[1], r[2], r[3], r[4], r[5], ratio))
PY

echo
echo "## 3. Open loop at 500 requests/s ($open_n requests, fresh logs)"
echo
: > "$work/results"
port=$(free_port); start_sigil "$port" "$work/sigil-open"
run_load sigil "http://127.0.0.1:$port/ct" rate 500 "$open_n" >/dev/null
stop_server
if [ -x "$TESSERACT" ]; then
  port=$(free_port); start_tesseract "$port" "$work/tesseract-open" false
  run_load tesseract-no-awaiter "http://127.0.0.1:$port" rate 500 "$open_n" >/dev/null
  stop_server
fi
python3 - "$work/results" <<'PY'
import sys
print("| %-22s | %8s | %6s | %8s | %8s |" % ("server", "requests", "errors", "p50 ms", "p99 ms"))
print("|%s|%s|%s|%s|%s|" % ("-"*24, "-"*10, "-"*8, "-"*10, "-"*10))
for l in open(sys.argv[1]):
    r = l.split()
    if r:
        print("| %-22s | %8s | %6s | %8s | %8s |" % (r[0], r[1], r[2], r[4], r[5]))
PY
if [ "$failures" -gt 0 ]; then
  echo
  echo "FAILED: $failures run(s) had failed requests (see the errors column and the messages above); their rows count successes only" >&2
  exit 1
fi
