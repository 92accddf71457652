#!/usr/bin/env bash
# Benchmark: sigil's CA against Fulcio v1.8.8, side by side on this machine.
#
# Both servers trust the same test OIDC issuer (loadgen issuer, RS256) and
# read the same issuer configuration (Fulcio's JSON format); the load
# generator sends the same pre-built v2 signingCert requests (P-256 key,
# proof of possession, email token) to each in turn. Fulcio runs as in its
# docs' minimal setup (--ca ephemeralca --ct-log-url=""); sigil runs with a
# P-256 root + intermediate from "sigil ca init", without CT, and then with
# embedded SCTs from its CT log in the same process.
#
# Usage: bench/ca/run.sh [seconds per run, default 10] [concurrency, default 8]
# Env:   SKIP_FULCIO=1 to measure sigil alone; SIGIL_BENCH_CACHE (default
#        ~/.cache/sigil-bench) holds the Fulcio binary between runs.
#
# Columns: throughput (certificates/s), latency p50/p99/max (ms), server CPU
# per certificate (ms, from /proc/PID/stat), load generator CPU per request,
# failed requests. Then the ratios sigil/Fulcio. A run with failed requests
# keeps its row (the figures are of the successes), gets no ratio, and makes
# the script exit 1 at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
conc=${2:-8}
cache=${SIGIL_BENCH_CACHE:-$HOME/.cache/sigil-bench}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/sigil" ./cmd/sigil
go build -o "$work/loadgen" ./bench/ca/loadgen

fulcio=""
if [ "${SKIP_FULCIO:-}" = "" ]; then
  fulcio="$cache/bin/fulcio"
  if [ ! -x "$fulcio" ]; then
    echo "installing fulcio v1.8.8 into $cache/bin (needs the go1.27.3 toolchain from the module proxy)" >&2
    mkdir -p "$cache/bin"
    GOBIN="$cache/bin" GOTOOLCHAIN=go1.27.3 GOFLAGS=-buildvcs=false go install github.com/sigstore/fulcio@v1.8.8
  fi
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # wait_port PORT PID
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    kill -0 "$2" 2>/dev/null || { echo "server exited" >&2; return 1; }
    sleep 0.1
  done
  echo "server did not listen on $1" >&2
  return 1
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

iport=$(free_port)
issuer="http://127.0.0.1:$iport"
"$work/loadgen" issuer -addr "127.0.0.1:$iport" -key "$work/issuer.pem" >/dev/null &
pids+=($!)
wait_port "$iport" "$!"
cat >"$work/issuers.json" <<EOF
{"OIDCIssuers":{"$issuer":{"IssuerURL":"$issuer","ClientID":"sigstore","Type":"email"}}}
EOF
"$work/sigil" ca init --dir "$work/ca" >/dev/null

failed=0
load() { # load NAME PID PORT [extra loadgen flags]
  local name=$1 pid=$2 port=$3
  shift 3
  "$work/loadgen" run -url "http://127.0.0.1:$port" -issuer "$issuer" -key "$work/issuer.pem" -pid "$pid" -c "$conc" -d "${secs}s" -name "$name" "$@" |
    tee -a "$results" || failed=$((failed + 1))
}

echo "CA benchmark: ${secs}s per run, $conc concurrent clients, $(nproc) cores, $(go version | cut -d' ' -f3)"
echo
echo "| server                       | load        | certs/s  | p50 ms  | p99 ms  | max ms  | srv CPU ms/c | gen CPU ms | fail  |"
echo "|------------------------------|-------------|----------|---------|---------|---------|--------------|------------|-------|"
results="$work/results"
: >"$results"

if [ -n "$fulcio" ]; then
  port=$(free_port); gport=$(free_port); mport=$(free_port)
  "$fulcio" serve --host 127.0.0.1 --port "$port" --grpc-host 127.0.0.1 --grpc-port "$gport" --metrics-port "$mport" \
    --ca ephemeralca --ct-log-url="" --config-path "$work/issuers.json" --log_type prod >"$work/fulcio.log" 2>&1 &
  fpid=$!; pids+=($fpid)
  wait_port "$port" "$fpid"
  load "fulcio v1.8.8 (no CT)" "$fpid" "$port"
  load "fulcio v1.8.8 (no CT)" "$fpid" "$port" -rate 500
  stop "$fpid"
fi

serve_sigil() { # serve_sigil PORT [extra flags]; sets spid
  local port=$1
  shift
  "$work/sigil" ca serve --listen "127.0.0.1:$port" --chain "$work/ca/chain.pem" --key "$work/ca/intermediate-key.pem" \
    --password-file "$work/ca/password" --oidc-config "$work/issuers.json" "$@" >"$work/sigil.log" 2>&1 &
  spid=$!; pids+=($spid)
  wait_port "$port" "$spid"
}

port=$(free_port)
serve_sigil "$port"
load "sigil (no CT)" "$spid" "$port"
load "sigil (no CT)" "$spid" "$port" -rate 500
stop "$spid"

port=$(free_port)
serve_sigil "$port" --ct-dir "$work/ct"
load "sigil (embedded SCT)" "$spid" "$port"
load "sigil (embedded SCT)" "$spid" "$port" -rate 500
# The CT log group-commits: one fsync round serves every submission that
# arrived during the previous one, so throughput grows with requests in
# flight while latency stays near one fsync round.
load "sigil (embedded SCT)" "$spid" "$port" -c 256 -pool 1024
stop "$spid"

if [ -n "$fulcio" ]; then
  echo
  # A row with failed requests has the figures of its successes alone: no
  # ratio from it (it would credit one side with the other's failures).
  awk -F'|' '
    $3 ~ /c='"$conc"' / { gsub(/ /,"",$2); tp[$2]=$4; cpu[$2]=$8; bad[$2]=($10+0 > 0) }
    END {
      f="fulciov1.8.8(noCT)"
      for (k in tp) if (k != f && tp[f] > 0) {
        if (bad[k] || bad[f]) { printf "%-22s not compared with Fulcio (a run had failed requests)\n", k; continue }
        printf "%-22s throughput %.2fx Fulcio, server CPU per certificate %.2fx\n", k, tp[k]/tp[f], (cpu[k] > 0 ? cpu[k]/cpu[f] : 0)
      }
    }' "$results" | sort
fi
if [ "$failed" -gt 0 ]; then
  echo "FAILED: $failed run(s) had failed requests (fail column, messages above)" >&2
  exit 1
fi
