#!/usr/bin/env bash
# Installs rekor-cli (sigstore/rekor), an outside oracle for the transparency
# log's v1 API (tlog/rekorcli_test.go), into $(go env GOPATH)/bin.
# Idempotent: does nothing when that version is already installed.
set -euo pipefail
version=v1.5.4
bin="$(go env GOPATH)/bin/rekor-cli"
if [ -x "$bin" ] && go version -m "$bin" 2>/dev/null | grep -q "mod[[:space:]]*github.com/sigstore/rekor[[:space:]]*${version}"; then
  echo "rekor-cli ${version} is installed at ${bin}"
  exit 0
fi
echo "installing rekor-cli ${version}..."
GOFLAGS= go install "github.com/sigstore/rekor/cmd/rekor-cli@${version}"
"$bin" version >/dev/null
echo "rekor-cli ${version} installed at ${bin}"
