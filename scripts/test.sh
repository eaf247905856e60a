#!/bin/sh
# SPDX-License-Identifier: MIT
# README command two: install what is missing, build with warnings as errors, run every test.
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh
BUILD_DIR=${BUILD_DIR:-build} ./scripts/build.sh -DPACS_WERROR=ON
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j "$(nproc)" "$@"
