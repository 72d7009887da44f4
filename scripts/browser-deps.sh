#!/usr/bin/env bash
# Installs the headless browser the report's browser test drives (Debian/Ubuntu, run as root).
# Safe to run again: it does nothing when chromium is already on the PATH.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  echo "chromium already installed: $(command -v chromium)"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
echo "chromium installed: $(command -v chromium)"
