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
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

ms() { date +%s%N; }
# The server is started by this shell (not in a subshell), so that stop can
# wait for it to exit before the restart is timed, and the EXIT trap stops it
# if the script fails; a server that exits before it is ready (port or data
# directory in use) stops the script.
run_once() { # run_once DATADIR → sets took (ms to ready) and pid
  local t0; t0=$(ms)
  "$out/sigil" server --data "$1" --listen 127.0.0.1:$port >"$tmp/log" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do
    if curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
      took=$(( ($(ms) - t0) / 1000000 )); return 0
    fi
    kill -0 "$pid" 2>/dev/null || { echo "server exited before it was ready:" >&2; tail -5 "$tmp/log" >&2; exit 1; }
    sleep 0.005
  done
  echo "server did not become ready" >&2; exit 1
}
stop() { kill -TERM "$pid"; wait "$pid" 2>/dev/null || true; pid=; }

first=(); restart=(); rss=()
for i in $(seq 1 "$n"); do
  d="$tmp/data$i"
  run_once "$d"; first+=("$took"); stop
  run_once "$d"; restart+=("$took")
  sleep 5
  rss+=("$(awk '/VmRSS/ {print int($2/1024)}' /proc/$pid/status)")
  stop
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "| measure (sigil server, dev mode, $n runs) | median | min | max | target |"
echo "|---|---|---|---|---|"
printf '| first start to ready (ms) | %s | %s | %s | ≤ 3000 |\n' "$(median "${first[@]}")" "$(printf '%s\n' "${first[@]}" | sort -n | head -1)" "$(printf '%s\n' "${first[@]}" | sort -n | tail -1)"
printf '| restart to ready (ms) | %s | %s | %s | ≤ 1000 |\n' "$(median "${restart[@]}")" "$(printf '%s\n' "${restart[@]}" | sort -n | head -1)" "$(printf '%s\n' "${restart[@]}" | sort -n | tail -1)"
printf '| idle RSS after 5 s (MiB) | %s | %s | %s | ≤ 100 |\n' "$(median "${rss[@]}")" "$(printf '%s\n' "${rss[@]}" | sort -n | head -1)" "$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)"
