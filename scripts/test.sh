#!/bin/sh
# SPDX-License-Identifier: MIT
# README command two: install what is missing, build with warnings as errors, run every test;
# then the integration tests once more with the index on PostgreSQL (a throw-away cluster on
# loopback, scripts/pg_cluster.sh; each test gets a database of its own). PACS_PG_PASS=0 skips
# that second pass. Extra arguments go to both ctest runs.
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh
rc=0
# Style and shape: every tracked C/C++ file as .clang-format says, and every #include pointing
# down the tree's floors (scripts/check-layers.sh). A finding fails the run at the end.
./scripts/check-format.sh || rc=1
./scripts/check-layers.sh || rc=1
BUILD_DIR=${BUILD_DIR:-build} ./scripts/build.sh -DPACS_WERROR=ON
src=$(pwd)
cd "${BUILD_DIR:-build}"
first=$(pwd)
ctest --output-on-failure -j "$(nproc)" "$@" || rc=$?

# The sanitizer pass: the same sources built again in build-asan with AddressSanitizer and
# UndefinedBehaviorSanitizer (-DPACS_SANITIZE=ON), and the tests of PACS_ASAN_TESTS run there:
# "all" (the default) runs every test but those that exercise other programs (the OHIF viewer
# in Chromium, the benchmark, the clang fuzz build, PostgreSQL) or only measure (load); "core"
# (quicker, for a loaded machine) runs the unit tests, the fuzz corpus replays and the core
# integration tests (DIMSE, DICOMweb, archive, retrieve, crash and faults, security).
# fuzz_decode_replay is left out of both: its mutation pass forks a child per HTJ2K frame and outlasts its time limit under ASan, and the
# decoders it drives are Debian's, not instrumented (frames are decoded under ASan by the
# DICOMweb tests). Any sanitizer report of pacsd or a tool (kept in build-asan/sanitizer-logs,
# leaks included) fails the pass, except those of the HTJ2K decoding child, which exists to
# contain OpenJPH's crashes on corrupt codestreams (pacs/image/decode.c). PACS_ASAN_PASS=0
# skips the pass.
if [ "${PACS_ASAN_PASS:-1}" != 0 ]; then
    start=$(date +%s)
    asan=$src/${ASAN_BUILD_DIR:-build-asan}
    logs=$asan/sanitizer-logs
    if (cd "$src" && BUILD_DIR=$asan ./scripts/build.sh -DPACS_WERROR=ON -DPACS_SANITIZE=ON); then
        rm -rf "$logs" && mkdir -p "$logs"
        # The first pass's times, so that ctest starts the longest tests first here too (a
        # long one started last holds the pass up while the other slot idles).
        mkdir -p "$asan/Testing/Temporary"
        cp "$first/Testing/Temporary/CTestCostData.txt" "$asan/Testing/Temporary/" \
            2>/dev/null || true
        core='^(test_echo_store_find|test_(corpus|vietnamese|charsets|resend|bad_input|disk_full|crash)'
        core="$core|test_(move|move_errors|get|commit|forward|forward_retry)"
        core="$core|test_dicomweb_(qido|wado|stow|errors|client|auth)|test_(crash_rounds|faults_.*)"
        core="$core|test_(audit|dimse_access|dimse_tls|http_tls|login)|test_orthanc_.*)\$"
        other='^(test_dicomweb_ohif|test_viewer.*|test_login_viewer|test_login_oidc|test_share_links|test_bench.*|.*fuzz_short'
        other="$other|test_multinode|test_pg_.*|test_load|test_package)\$"
        (
            cd "$asan"
            export ASAN_OPTIONS="detect_leaks=1:log_path=$logs/asan:verify_asan_link_order=0"
            export LSAN_OPTIONS="suppressions=$src/tests/lsan.supp:print_suppressions=0"
            export UBSAN_OPTIONS="print_stacktrace=1:log_path=$logs/ubsan"
            if [ "${PACS_ASAN_TESTS:-all}" = all ]; then
                ctest --output-on-failure -j "$(nproc)" -E "$other|^fuzz_decode_replay\$" "$@"
            else
                r=0
                ctest --output-on-failure -j "$(nproc)" -L unit -E '^fuzz_decode_replay$' "$@" ||
                    r=1
                ctest --output-on-failure -j "$(nproc)" -L integration -R "$core" "$@" || r=1
                exit "$r"
            fi
        ) || rc=1
        # A file holding only "failed to allocate" warnings is the fuzz replays' 1 GiB cap
        # (allocator_may_return_null) doing its job, not a finding.
        reports=$(for f in "$logs"/*; do
            [ -e "$f" ] || continue
            grep -q decode_htj2k_isolated "$f" && continue
            grep -qv 'WARNING: AddressSanitizer failed to allocate' "$f" || continue
            echo "$f"
        done)
        if [ -n "$reports" ]; then
            echo "sanitizer reports:" >&2
            # shellcheck disable=SC2086
            head -n 60 $reports >&2
            rc=1
        fi
    else
        rc=1
    fi
    echo "sanitizer pass: $(($(date +%s) - start)) s" >&2
fi
[ "${PACS_PG_PASS:-1}" = 0 ] && exit "$rc"

# The PostgreSQL pass: the integration tests, and the index's unit tests on PostgreSQL (label
# postgresql: test_index_pg, test_index_records_pg, test_index_db_pg; in the first pass they ran
# on a cluster of their own). Left out, as they cannot apply or already ran on PostgreSQL above
# (and the tests labelled files, which open no index: tests/CMakeLists.txt's FILES_ONLY):
#   test_multinode, test_pg_migrate  their own PostgreSQL databases, in the first pass
#   test_faults_index                holds a lock on DATA/index.sqlite, which is not used here
#   test_faults_storage              makes the SQLite index's fsync fail (PostgreSQL's is the server's)
#   test_faults_storage_two_flushes  the same, with ingest.one_flush=false
#   test_bench_smoke                 the benchmark's report, not the index
pg=$(mktemp -d "${TMPDIR:-/tmp}/pacs-pg.XXXXXX")
chmod 711 "$pg"
trap '"$src/scripts/pg_cluster.sh" stop "$pg/c"; rm -rf "$pg"' EXIT
uri=$("$src/scripts/pg_cluster.sh" start "$pg/c")
echo "PostgreSQL pass: integration and index tests with the index at $uri" >&2
start=$(date +%s)
PACS_TEST_PG=$uri ctest --output-on-failure -j "$(nproc)" -L 'integration|postgresql' -LE '^files$' \
    -E '^(test_multinode|test_pg_migrate|test_faults_index|test_faults_storage|test_faults_storage_two_flushes|test_bench_smoke|test_package)$' "$@" || rc=$?
echo "PostgreSQL pass: $(($(date +%s) - start)) s" >&2
exit "$rc"
