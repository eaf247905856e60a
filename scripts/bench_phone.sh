#!/bin/sh
# SPDX-License-Identifier: MIT
# The share page on a phone over emulated 3G and 4G (issue 18; BENCHMARKS.md): stores one
# synthetic 300-slice 512x512 CT from BUILD_DIR/bin/pacs-gen in a fresh pacsd, makes its share
# link, and runs tools/bench/phone_bench.js (headless Chromium, playwright-core from
# tests/node/package.json) RUNS times per profile: seconds from opening the link to the first
# slice, bytes before it, and slices painted per second while a finger drags through the
# series. Run it on a quiet machine; everything lives in a temporary folder removed at the end.
#
#   scripts/bench_phone.sh [BUILD_DIR] [RUNS]
set -eu
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}
RUNS=${2:-3}
PACSD=$BUILD_DIR/bin/pacsd
PACS=$BUILD_DIR/bin/pacs
GEN=$BUILD_DIR/bin/pacs-gen
export TCP_NODELAY=1
for b in "$PACSD" "$PACS" "$GEN"; do
    [ -x "$b" ] || { echo "bench_phone: build first ($b is missing)" >&2; exit 2; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pacs-bench-phone.XXXXXX")
PID=""
trap '[ -z "$PID" ] || kill "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT

cp tests/node/package.json tests/node/package-lock.json tools/bench/phone_bench.js "$WORK/"
(cd "$WORK" && timeout 300 npm ci --no-audit --no-fund --loglevel=error >npm.log 2>&1) ||
    { echo "bench_phone: npm ci failed: $(tail -3 "$WORK/npm.log")" >&2; exit 1; }
"$GEN" --out "$WORK/gen" --seed 18 --studies 1 --slices 300 --matrix 512 >"$WORK/gen.log" 2>&1
STUDY=$(awk -F'\t' 'NR == 2 { print $2 }' "$WORK/gen/manifest.tsv")

"$PACSD" --data "$WORK/d" --set dimse.port=0 --set http.port=0 --set log.level=warn \
    --ready-file "$WORK/ready" >"$WORK/pacsd.log" 2>&1 &
PID=$!
timeout 30 sh -c 'until [ -s "$1" ]; do sleep 0.1; done' _ "$WORK/ready"
. "$WORK/ready"
timeout 600 storescu -aec PACS +sd 127.0.0.1 "$DIMSE_PORT" "$WORK/gen/0000000" >"$WORK/store.log" 2>&1
LINK=$("$PACS" --data "$WORK/d" --set "http.public_url=http://127.0.0.1:$HTTP_PORT/dicomweb" \
    share "$STUDY" 2>/dev/null)
echo "study: 300 slices of 512x512 (pacs-gen --seed 18); link: ${LINK%/*}/..." >&2

for profile in 3g 4g; do
    (cd "$WORK" && timeout 1200 node phone_bench.js "$LINK" "$profile" "$RUNS") | tee "$WORK/$profile.out"
done
echo
echo "| link | first slice (s) | page in / tap sent / slice in (s) | bytes before it | slices/s while dragging | catch-up after (s) |"
echo "| --- | --- | --- | --- | --- | --- |"
for profile in 3g 4g; do
    sed -n 's/^MEDIAN //p' "$WORK/$profile.out" | python3 -c '
import json, sys
m = json.loads(sys.stdin.read())
name = {"3g": "3G (1.6 Mbit/s, 300 ms)", "4g": "4G (9 Mbit/s, 170 ms)"}[m["profile"]]
print("| %s | %.2f | %.2f / %.2f / %.2f | %d | %.1f | %.2f |" % (name, m["first_slice_s"],
      m["page_in_s"], m["slice_asked_s"], m["slice_in_s"], m["bytes_before"], m["slices_per_s"],
      m["catch_up_s"]))'
done
