#!/usr/bin/env bash
# Installs the distribution registry (Debian's docker-registry package,
# /usr/bin/docker-registry) that the OCI tests start on loopback with a
# temporary config and storage (oci/ocitest.StartRegistry) and stop after.
# Idempotent. The package's own service is not used: tests never touch
# /etc/docker/registry or /var/lib/docker-registry.
set -euo pipefail
if [ -x /usr/bin/docker-registry ]; then
  echo "docker-registry already installed: $(/usr/bin/docker-registry --version)"
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
export DEBIAN_FRONTEND=noninteractive
# The package's postinst would start its service on :5000; in containers
# policy-rc.d usually denies that, and tests use their own instance anyway.
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends docker-registry
/usr/bin/docker-registry --version
