#!/usr/bin/env bash
# Installs git (Debian package git), which the git signing tests drive
# (package gitsign, internal/cli git tests, bench/git). Idempotent.
set -euo pipefail
if command -v git >/dev/null 2>&1; then
  echo "git already installed: $(git --version)"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq git >/dev/null
echo "git installed: $(git --version)"
