#!/usr/bin/env bash
# Installs gitsign, the interop oracle of sigil's git signing (package
# gitsign): sigil verifies gitsign's commit signatures and gitsign verifies
# sigil's. Built from source with the machine's Go toolchain into
# $(go env GOPATH)/bin; sigil's own module never imports gitsign.
#
# Version: v0.17.1 is the newest release the module proxy serves whose go.mod
# asks for no newer Go than the machine's (go 1.26.0); v0.17.0, v0.15.x and
# v0.13.x are not served. `go install github.com/sigstore/gitsign@v0.17.1`
# fails here: it asks the proxy for the module's version list (to look for a
# deprecation notice) and the proxy refuses that list. So the script
# downloads that exact version with `go mod download` and builds it in its
# own module directory, with its own go.sum.
#
# Idempotent: a binary already at that version is kept.
set -euo pipefail
version=0.17.1
bindir="$(go env GOPATH)/bin"
mkdir -p "$bindir"
if [ -x "$bindir/gitsign" ] && "$bindir/gitsign" version 2>/dev/null | grep -q "v$version"; then
  echo "gitsign v$version already installed in $bindir"
  exit 0
fi
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
dir=$(go mod download -json "github.com/sigstore/gitsign@v$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
if [ -z "$dir" ] || [ ! -d "$dir" ]; then
  echo "couldn't download github.com/sigstore/gitsign@v$version" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "building github.com/sigstore/gitsign@v$version into $bindir"
(cd "$dir" && go build -trimpath -mod=readonly \
  -ldflags "-X github.com/sigstore/gitsign/pkg/version.gitVersion=v$version" \
  -o "$tmp/gitsign" .)
mv "$tmp/gitsign" "$bindir/gitsign"
"$bindir/gitsign" version
