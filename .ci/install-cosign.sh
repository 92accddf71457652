#!/usr/bin/env bash
# Installs the cosign releases the interop tests run as outside oracles:
#   cosign  = v2.6.5 (Fulcio v1 API, --fulcio-url)
#   cosign3 = v3.1.3 (Fulcio v2 API through a signing config)
# into $(go env GOPATH)/bin. Idempotent: a binary already at the right
# version is kept. Built from source with the machine's Go toolchain; sigil's
# own module never imports cosign.
set -euo pipefail
bindir="$(go env GOPATH)/bin"
mkdir -p "$bindir"

have() { # have BIN VERSION: the binary exists and reports VERSION
  [ -x "$bindir/$1" ] && "$bindir/$1" version 2>/dev/null | grep -q "GitVersion:[[:space:]]*v\?$2"
}

install_one() { # install_one MODULE VERSION NAME
  local module=$1 version=$2 name=$3
  if have "$name" "$version"; then
    echo "$name $version already installed in $bindir"
    return
  fi
  local tmp
  tmp=$(mktemp -d)
  echo "installing $module@v$version as $bindir/$name"
  GOBIN="$tmp" GOFLAGS=-buildvcs=false go install \
    -ldflags "-X sigs.k8s.io/release-utils/version.gitVersion=v$version" \
    "$module@v$version"
  mv "$tmp/cosign" "$bindir/$name"
  rm -rf "$tmp"
}

install_one github.com/sigstore/cosign/v2/cmd/cosign 2.6.5 cosign
install_one github.com/sigstore/cosign/v3/cmd/cosign 3.1.3 cosign3
"$bindir/cosign" version | grep GitVersion
"$bindir/cosign3" version | grep GitVersion
