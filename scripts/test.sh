#!/bin/sh
# SPDX-License-Identifier: MIT
# README command two: install what is missing, build with warnings as errors, run every test;
# then the integration tests once more with the index on PostgreSQL (a throw-away cluster on
# loopback, scripts/pg_cluster.sh; each test gets a database of its own). PACS_PG_PASS=0 skips
# that second pass. Extra arguments go to both ctest runs.
set -eu
cd "$(dirname "$0")/.."
./scripts/deps.sh
BUILD_DIR=${BUILD_DIR:-build} ./scripts/build.sh -DPACS_WERROR=ON
src=$(pwd)
cd "${BUILD_DIR:-build}"
rc=0
ctest --output-on-failure -j "$(nproc)" "$@" || rc=$?
[ "${PACS_PG_PASS:-1}" = 0 ] && exit "$rc"

# The PostgreSQL pass. Left out, as they cannot apply or already ran on PostgreSQL above:
#   test_multinode, test_pg_migrate  their own PostgreSQL databases, in the first pass
#   test_faults_index                holds a lock on DATA/index.sqlite, which is not used here
#   test_faults_storage              makes the SQLite index's fsync fail (PostgreSQL's is the server's)
#   test_bench_smoke                 the benchmark's report, not the index
pg=$(mktemp -d "${TMPDIR:-/tmp}/pacs-pg.XXXXXX")
chmod 711 "$pg"
trap '"$src/scripts/pg_cluster.sh" stop "$pg/c"; rm -rf "$pg"' EXIT
uri=$("$src/scripts/pg_cluster.sh" start "$pg/c")
echo "PostgreSQL pass: integration tests with the index at $uri" >&2
start=$(date +%s)
PACS_TEST_PG=$uri ctest --output-on-failure -j "$(nproc)" -L integration \
    -E '^(test_multinode|test_pg_migrate|test_faults_index|test_faults_storage|test_bench_smoke)$' "$@" || rc=$?
echo "PostgreSQL pass: $(($(date +%s) - start)) s" >&2
exit "$rc"
