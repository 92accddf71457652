#!/usr/bin/env bash
# sigil server start-up benchmark: time from exec to /readyz answering, on
# a fresh data directory (first start: every key, the CA chain and the TUF
# repository are created) and on the existing one (restart), and the
# server's resident memory once idle. Prints a table of medians over N runs.
# Usage: bench/server/run.sh [N]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-5}
out=bench/out; mkdir -p "$out"
go build -o "$out/sigil" ./cmd/sigil
port=18181
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

ms() { date +%s%N; }
wait_ready() { # wait_ready START_NS → prints ms to ready
  for _ in $(seq 1 600); do
    if curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
      echo $(( ($(ms) - $1) / 1000000 )); return 0
    fi
    sleep 0.005
  done
  echo "server did not become ready" >&2; return 1
}
run_once() { # run_once DATADIR → prints "ms pid"
  local t0; t0=$(ms)
  "$out/sigil" server --data "$1" --listen 127.0.0.1:$port >"$tmp/log" 2>&1 &
  local pid=$!
  local took; took=$(wait_ready "$t0")
  echo "$took $pid"
}
stop() { kill -TERM "$1"; wait "$1" 2>/dev/null || true; }

first=(); restart=(); rss=()
for i in $(seq 1 "$n"); do
  d="$tmp/data$i"
  read -r t pid < <(run_once "$d"); first+=("$t"); stop "$pid"
  read -r t pid < <(run_once "$d"); restart+=("$t")
  sleep 5
  rss+=("$(awk '/VmRSS/ {print int($2/1024)}' /proc/$pid/status)")
  stop "$pid"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "| measure (sigil server, dev mode, $n runs) | median | min | max | target |"
echo "|---|---|---|---|---|"
printf '| first start to ready (ms) | %s | %s | %s | ≤ 3000 |\n' "$(median "${first[@]}")" "$(printf '%s\n' "${first[@]}" | sort -n | head -1)" "$(printf '%s\n' "${first[@]}" | sort -n | tail -1)"
printf '| restart to ready (ms) | %s | %s | %s | ≤ 1000 |\n' "$(median "${restart[@]}")" "$(printf '%s\n' "${restart[@]}" | sort -n | head -1)" "$(printf '%s\n' "${restart[@]}" | sort -n | tail -1)"
printf '| idle RSS after 5 s (MiB) | %s | %s | %s | ≤ 100 |\n' "$(median "${rss[@]}")" "$(printf '%s\n' "${rss[@]}" | sort -n | head -1)" "$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)"
