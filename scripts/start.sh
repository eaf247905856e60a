#!/bin/sh
# SPDX-License-Identifier: MIT
# README command one: install what is missing, build, and start pacsd with its embedded
# defaults (DICOM on port 11112, AE title PACS, data in ./data). Arguments go to pacsd.
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh
./scripts/build.sh
exec ./build/bin/pacsd "$@"
