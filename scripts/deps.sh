#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages needed to build, run and test pacsd, if any are missing.
# Runs apt-get as root (directly, or through sudo when available).
set -eu

PACKAGES="build-essential cmake pkg-config git curl ca-certificates
  postgresql libpq-dev
  libdcmtk-dev dcmtk libsqlite3-dev sqlite3 libssl-dev libjansson-dev libutf8proc-dev
  libzstd-dev libmicrohttpd-dev libopenjp2-7-dev libturbojpeg0-dev
  libcmocka-dev python3-pydicom libcurl4-openssl-dev libjwt-dev libargon2-dev
  libpng-dev libopenjph-dev openjph-tools libopenjp2-tools dicom3tools openssl
  zlib1g-dev nodejs clang clang-format libclang-rt-14-dev chromium libqrencode-dev zbar-tools
  libcairo2-dev libfontconfig-dev fonts-dejavu-core poppler-utils
  orthanc orthanc-dicomweb prometheus
  systemd dpkg-dev"

if [ "${1:-}" = "--print" ]; then
    echo $PACKAGES
    exit 0
fi

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
# npm runs the dicomweb-client test. Debian ships it apart from nodejs; NodeSource's nodejs
# includes it (and conflicts with Debian's npm), so it is asked for only when missing.
if ! command -v npm >/dev/null 2>&1; then
    missing="$missing npm"
fi
[ -z "$missing" ] && exit 0

echo "Installing:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "deps.sh: need root to install:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
