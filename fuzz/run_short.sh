#!/bin/sh
# SPDX-License-Identifier: MIT
# A short, bounded libFuzzer run of fuzz targets for CI builds made with gcc: builds just the
# named targets with clang (-DPACS_FUZZ=ON) in a folder of the build tree (under a lock), then
# runs each for SECONDS over the committed seed corpus. A crash fails the test and
# leaves crash-* files in that folder; copy one into testdata/fuzz/<target>/ to keep it as a
# regression input. Prints libFuzzer's final statistics (executions) per target.
# usage: run_short.sh SOURCE_DIR OUT_DIR SECONDS [TARGET...]
set -eu
src=$(cd "$1" && pwd)
out=$2
secs=$3
shift 3
targets=${*:?name the targets}
mkdir -p "$out"
out=$(cd "$out" && pwd)
(
    flock 9
    CC=clang CXX=clang++ cmake -S "$src" -B "$out" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DPACS_FUZZ=ON >"$out.whole.cmake.log" 2>&1 || { tail -20 "$out.whole.cmake.log"; exit 1; }
    # shellcheck disable=SC2086
    cmake --build "$out" -j "$(nproc)" --target $targets >"$out.whole.build.log" 2>&1 ||
        { tail -40 "$out.whole.build.log"; exit 1; }
) 9>"$out.lock"
# An element may declare a length of gigabytes in a small file, and DCMTK allocates it before
# reading: harmless without ASan (never touched), but ASan's allocator then takes minutes. As on
# a box short of memory, such an allocation fails instead, and the ingest must refuse cleanly.
ASAN_OPTIONS=${ASAN_OPTIONS:-allocator_may_return_null=1:max_allocation_size_mb=1024}
export ASAN_OPTIONS
for t in $targets; do
    mkdir -p "$out/corpus-$t"
    cd "$out"
    rc=0
    timeout $((secs * 3 + 120)) "$out/bin/$t" -max_total_time="$secs" -timeout=120 \
        -rss_limit_mb=2048 -print_final_stats=1 "$out/corpus-$t" "$src/testdata/fuzz/$t" \
        >"$out/$t.log" 2>&1 || rc=$?
    grep -E '^stat::number_of_executed_units|^Done|^==|ERROR|SUMMARY' "$out/$t.log" |
        grep -v 'WARNING: AddressSanitizer failed to allocate' | head -12
    if [ "$rc" -ne 0 ]; then
        tail -n 40 "$out/$t.log"
        echo "$t failed (exit $rc); see $out/$t.log" >&2
        exit 1
    fi
done
