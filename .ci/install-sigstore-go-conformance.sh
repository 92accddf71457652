#!/usr/bin/env bash
# Installs sigstore-go's conformance client (v1.3.0, the newest that builds
# with Go 1.26; v1.4.0 needs Go 1.27) as $(go env GOPATH)/bin/sigstore-go-conformance:
# an outside oracle that verifies bundles sigil makes. Idempotent.
set -euo pipefail
version=v1.3.0
bin="$(go env GOPATH)/bin/sigstore-go-conformance"
if [ -x "$bin" ] && go version -m "$bin" 2>/dev/null | grep -q "mod[[:space:]]*github.com/sigstore/sigstore-go[[:space:]]*${version}"; then
  echo "sigstore-go conformance ${version} is installed at ${bin}"
  exit 0
fi
tmp=$(mktemp -d)
echo "installing sigstore-go conformance ${version}..."
GOBIN="$tmp" GOFLAGS=-buildvcs=false go install "github.com/sigstore/sigstore-go/test/conformance@${version}"
mkdir -p "$(dirname "$bin")"
mv "$tmp/conformance" "$bin"
rm -rf "$tmp"
echo "installed ${bin}"
