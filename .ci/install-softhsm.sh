#!/usr/bin/env bash
# Installs SoftHSM2 (Debian package softhsm2) for the PKCS#11 CA key tests,
# and openssl for the encrypted PKCS#8 interop test.
# The tests create and initialise their own token in a temporary directory
# (SOFTHSM2_CONF), so this script only installs the module and its tool.
# Idempotent.
set -euo pipefail
if command -v softhsm2-util >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1 && [ -e /usr/lib/softhsm/libsofthsm2.so ]; then
  echo "softhsm2 already installed: $(softhsm2-util --version)"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq softhsm2 openssl >/dev/null
echo "softhsm2 installed: $(softhsm2-util --version)"
