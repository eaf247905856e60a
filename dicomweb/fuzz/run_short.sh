#!/bin/sh
# SPDX-License-Identifier: MIT
# A short, bounded libFuzzer run of the DICOMweb parsers for CI builds made with gcc: builds
# just the fuzz targets with clang (-DPACS_FUZZ=ON) in a folder of the build tree, then runs each
# for SECONDS over the committed seed corpus. A crash fails the test and leaves crash-* files
# in that folder; copy one into testdata/fuzz/<target>/ to keep it as a regression input.
# usage: run_short.sh SOURCE_DIR OUT_DIR SECONDS
set -eu
src=$1
out=$2
secs=$3
CC=clang CXX=clang++ cmake -S "$src" -B "$out" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPACS_FUZZ=ON \
    >"$out.cmake.log" 2>&1 || { tail -20 "$out.cmake.log"; exit 1; }
cmake --build "$out" -j "$(nproc)" --target fuzz_multipart fuzz_qido_params >"$out.build.log" 2>&1 ||
    { tail -40 "$out.build.log"; exit 1; }
for t in fuzz_multipart fuzz_qido_params; do
    mkdir -p "$out/corpus-$t"
    cd "$out"
    rc=0
    timeout $((secs * 3 + 60)) "$out/dicomweb/$t" -max_total_time="$secs" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 "$out/corpus-$t" "$src/testdata/fuzz/$t" \
        >"$out/$t.log" 2>&1 || rc=$?
    tail -n 12 "$out/$t.log"
    if [ "$rc" -ne 0 ]; then
        echo "$t failed (exit $rc); see $out/$t.log" >&2
        exit 1
    fi
done
