#!/usr/bin/env bash
# Benchmark: whole-process `sigil sign-blob` of a 1 GiB file, this tree
# against the same command built at another git revision, in alternating
# pairs against one `sigil server` (this tree's), so that a change to the
# hashing path is measured side by side on the same machine and minute.
#
# Usage: bench/sign/ab.sh REV [pairs, default 12]
#   e.g. bench/sign/ab.sh 18599b5^ 12   (before the pipelined hashing)
# Prints the median and range of wall time, GB/s at the median, and the
# largest peak RSS of each (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/../.."
rev=${1:?usage: bench/sign/ab.sh REV [pairs]}
pairs=${2:-12}
command -v /usr/bin/time >/dev/null || apt-get install -y time >/dev/null
tmp=$(mktemp -d)
. bench/sign/server.sh
trap 'stop_sigil; rm -rf "$tmp"' EXIT
go build -o "$tmp/sigil-new" ./cmd/sigil
mkdir "$tmp/src"
git archive "$rev" | tar -x -C "$tmp/src"
(cd "$tmp/src" && go build -o "$tmp/sigil-old" ./cmd/sigil)
cd "$tmp"
start_sigil ./sigil-new
head -c 1073741824 /dev/zero > big.bin
for i in $(seq 1 "$pairs"); do
  # Alternate which goes first.
  if (( i % 2 )); then order="old new"; else order="new old"; fi
  for b in $order; do
    /usr/bin/time -f "$b %e %M" -a -o times ./sigil-$b sign-blob big.bin --bundle b.json --identity-token token >/dev/null 2>&1
  done
done
python3 - "$rev" "$pairs" <<'PY'
import statistics, sys
rev, pairs = sys.argv[1], sys.argv[2]
runs = {"old": [], "new": []}
for line in open("times"):
    b, s, kb = line.split()
    runs[b].append((float(s), int(kb)))
print("| sign-blob of 1 GiB, %s alternating pairs | median s | min–max s | GB/s at median | peak RSS MiB |" % pairs)
print("|---|---|---|---|---|")
for b, name in (("old", "at " + rev), ("new", "this tree")):
    t = [r[0] for r in runs[b]]
    m = statistics.median(t)
    print("| %s | %.3f | %.2f–%.2f | %.2f | %d |" % (name, m, min(t), max(t), 1.073741824 / m, max(r[1] for r in runs[b]) // 1024))
PY
