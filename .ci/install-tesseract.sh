#!/usr/bin/env bash
# Installs TesseraCT v0.1.1's POSIX server, the reference static-ct log that
# bench/ctlog/run.sh measures sigil's CT log against, as
# $(go env GOPATH)/bin/tesseract-posix. Idempotent: kept when already there.
# Built from source with the machine's Go toolchain; sigil never imports it.
set -euo pipefail
version=v0.1.1
bindir="$(go env GOPATH)/bin"
bin="$bindir/tesseract-posix"
stamp="$bin.version"
if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
  echo "tesseract-posix $version already installed in $bindir"
  exit 0
fi
mkdir -p "$bindir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "installing github.com/transparency-dev/tesseract/cmd/tesseract/posix@$version as $bin"
GOBIN="$tmp" GOFLAGS=-buildvcs=false go install "github.com/transparency-dev/tesseract/cmd/tesseract/posix@$version"
mv "$tmp/posix" "$bin"
echo "$version" > "$stamp"
echo "installed $bin"
