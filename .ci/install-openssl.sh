#!/usr/bin/env bash
# Installs OpenSSL, the outside oracle of the encrypted PKCS #8 key tests
# (tuf TestOpenSSLInterop). Idempotent.
set -euo pipefail
if command -v openssl >/dev/null; then
  openssl version
  exit 0
fi
apt-get update
apt-get install -y openssl
openssl version
