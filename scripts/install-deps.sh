#!/bin/sh
# Install the Debian 12 packages mvm needs to build, test and fuzz.
# Idempotent and quiet when nothing is missing.
set -eu

PKGS="build-essential pkg-config meson ninja-build libssl-dev libzstd-dev libsqlite3-dev
libjansson-dev zlib1g-dev libcmocka-dev clang libclang-rt-14-dev python3 python3-numpy python3-onnx strace"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
