#!/usr/bin/env bash
# bench/tlog/fs.sh — the transparency log's v2 write throughput on ext4 with
# and without a journal, side by side on the same disk: two loop-mounted
# ext4 file systems (one made with `mkfs.ext4 -O ^has_journal`), alternating
# closed-loop runs of sigil's log on each. On ext4 without a journal every
# new inode skips the recently deleted ones (ext4's recently_deleted check),
# and Tessera's POSIX driver writes every tile, bundle and checkpoint as a
# new file renamed over the old one.
#
#   sudo bench/tlog/fs.sh        # needs root (mount), mkfs.ext4 and python3
#
# Knobs: PAIRS (alternating pairs, default 3), DURATION (10s), WARMUP (2s),
# CONCURRENCY (256), SIZE (each image, 3G), OUT (bench/out/tlog-fs).
set -euo pipefail
cd "$(dirname "$0")/../.."

PAIRS=${PAIRS:-3}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONCURRENCY=${CONCURRENCY:-256}
SIZE=${SIZE:-3G}
OUT=${OUT:-bench/out/tlog-fs}
[ "$(id -u)" = 0 ] || { echo "fs.sh mounts file systems: run it as root" >&2; exit 1; }
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
RESULTS=$OUT/results.jsonl
: >"$RESULTS"

go build -o "$OUT/sigil" ./cmd/sigil
go build -o "$OUT/loadgen" ./bench/tlog/loadgen

work=$(mktemp -d "$OUT/fs.XXXXXX")
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  for fs in journal nojournal; do
    mountpoint -q "$work/$fs" && umount "$work/$fs"
  done
  rm -rf "$work"
}
trap cleanup EXIT

for fs in journal nojournal; do
  fallocate -l "$SIZE" "$work/$fs.img"
  if [ $fs = journal ]; then mkfs.ext4 -q -F "$work/$fs.img"; else mkfs.ext4 -q -F -O ^has_journal "$work/$fs.img"; fi
  mkdir "$work/$fs"
  mount -o loop "$work/$fs.img" "$work/$fs"
done

run() { # FS
  local data
  data=$(mktemp -d "$work/$1/log.XXXXXX")
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$OUT/sigil" log serve --data-dir "$data" --public-url "http://127.0.0.1:$PORT" --listen "127.0.0.1:$PORT" 2>"$OUT/sigil.log" &
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "the log exited: see $OUT/sigil.log" >&2; exit 1; }
    curl -fsS -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null && break
    sleep 0.1
  done
  "$OUT/loadgen" -url "http://127.0.0.1:$PORT" -group "fs" -role sigil -label "$1" -api v2 -concurrency "$CONCURRENCY" -rate 0 \
    -warmup "$WARMUP" -duration "$DURATION" -pid "$SERVER_PID" -json >>"$RESULTS"
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
  rm -rf "$data"
}

for p in $(seq 1 "$PAIRS"); do
  if (( p % 2 )); then run journal; run nojournal; else run nojournal; run journal; fi
done

python3 - "$RESULTS" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {"journal": [], "nojournal": []}
for r in rows:
    by[r["label"]].append(r)
print("| ext4 | run | writes/s | p50 ms | p99 ms | server cores | server CPU ms per write |")
print("|---|---|---|---|---|---|---|")
for fs, label in (("journal", "with journal"), ("nojournal", "without journal")):
    for i, r in enumerate(by[fs], 1):
        print("| %s | %d | %.0f | %.0f | %.0f | %.2f | %.3f |" % (label, i, r["throughput"], r["p50ms"], r["p99ms"],
              r["serverCPUCores"], r["serverCPUCores"] / r["throughput"] * 1000))
pairs = [j["throughput"] / n["throughput"] for j, n in zip(by["journal"], by["nojournal"])]
print()
print("with journal ÷ without, per pair: " + ", ".join("%.2fx" % x for x in pairs) + "; median %.2fx" % statistics.median(pairs))
PY
