#!/usr/bin/env sh
# System packages for the optional `gl` package (headless WebGL for the gpujs kernel backend).
#
#   build (node-gyp compiles gl and its bundled ANGLE, ~5 min on 2 cores):
#     libx11-dev libxi-dev libxext-dev pkg-config python3 make g++
#   run (ANGLE drives Mesa's software or hardware GL through GLX, on a real or virtual X display):
#     libgl1 libgl1-mesa-dri libglx-mesa0 xvfb xauth
#
# Debian/Ubuntu, idempotent and non-interactive: installs only what is missing. Afterwards run
# `npm install` (package.json's allowScripts lets gl's install script build it), or
# `npm rebuild gl` if gl was installed before these packages were present.
# Without these packages everything still installs and runs; the gpujs backend then reports
# headlessgl unavailable and runs in webasm or cpu mode.
set -eu

PACKAGES="libx11-dev libxi-dev libxext-dev pkg-config python3 make g++ libgl1 libgl1-mesa-dri libglx-mesa0 xvfb xauth"

if ! command -v apt-get >/dev/null 2>&1; then
  echo "gl-deps: apt-get not found; install the equivalents of: $PACKAGES" >&2
  exit 1
fi

missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  echo "gl-deps: all packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "gl-deps: not root and no sudo; install:$missing" >&2
    exit 1
  fi
fi

echo "gl-deps: installing$missing"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
