#!/bin/sh
# SPDX-License-Identifier: MIT
# pacsd under valgrind (memcheck, full leak check) through a short ingest and query run:
# C-STORE and STOW-RS of a few CT images, C-FIND, QIDO-RS, WADO-RS of instances, metadata and a
# frame, a rendered image; then a clean stop (SIGTERM). Passes when valgrind reports no error
# and nothing definitely or indirectly lost; prints valgrind's leak and error summary.
# tests/valgrind.supp names the one thing suppressed (DCMTK's codec registration at start-up).
# Not part of ctest (a few minutes under valgrind); run by hand from a build folder with a
# plain build (no ASan):
#   PACSD=$PWD/bin/pacsd PACS=$PWD/bin/pacs SRC=/path/to/source sh ../tests/valgrind_ingest_query.sh
. "$SRC/tests/lib.sh"

STOW_TOOL="python3 $SRC/tests/tools/stow_tool.py"
make_ct_copies "$WORK/s" 6
mkdir -p "$DATA"
timeout 900 valgrind --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --num-callers=30 --log-file="$WORK/valgrind.log" \
    --suppressions="$SRC/tests/valgrind.supp" \
    "$PACSD" --data "$DATA" --set dimse.port=0 --set http.port=0 --set http.bind=127.0.0.1 \
    --ready-file "$WORK/ready" >>"$WORK/pacsd.log" 2>&1 &
PACSD_PID=$!
timeout 300 sh -c 'until [ -s "$1" ]; do sleep 0.2; done' _ "$WORK/ready" ||
    fail "pacsd did not become ready under valgrind"
. "$WORK/ready"
B="http://127.0.0.1:$HTTP_PORT/dicomweb"

timeout 300 storescu -aec PACS 127.0.0.1 "$DIMSE_PORT" "$WORK"/s/ct1.dcm "$WORK"/s/ct2.dcm \
    "$WORK"/s/ct3.dcm || fail "C-STORE"
timeout 300 $STOW_TOOL post --url "$B" "$WORK"/s/ct4.dcm "$WORK"/s/ct5.dcm "$WORK"/s/ct6.dcm \
    >"$WORK/stow" 2>&1
grep -q "^HTTP 200$" "$WORK/stow" || fail "STOW-RS: $(cat "$WORK/stow")"
study=$(dcm_value "$WORK/s/ct1.dcm" 0020,000d)
series=$(dcm_value "$WORK/s/ct1.dcm" 0020,000e)
sop=$(dcm_value "$WORK/s/ct1.dcm" 0008,0018)
assert_eq 6 "$(timeout 300 findscu -aec PACS -S -k QueryRetrieveLevel=IMAGE \
    -k StudyInstanceUID="$study" -k SOPInstanceUID 127.0.0.1 "$DIMSE_PORT" 2>&1 |
    grep -c '(0008,0018)')" "C-FIND"
for path in "/studies?StudyInstanceUID=$study" "/studies/$study/series" \
    "/studies/$study/series/$series/instances" "/studies/$study/metadata" \
    "/studies/$study/series/$series/instances/$sop/frames/1" \
    "/studies/$study/series/$series/instances/$sop/rendered"; do
    code=$(timeout 300 curl -s -o /dev/null -w '%{http_code}' -H 'Accept: */*' "$B$path") || true
    assert_eq 200 "$code" "GET $path"
done
timeout 300 $STOW_TOOL check --url "$B" "$WORK"/s/*.dcm >"$WORK/check" 2>&1 ||
    fail "WADO-RS: $(cat "$WORK/check")"

kill -TERM "$PACSD_PID"
timeout 300 sh -c 'while kill -0 "$1" 2>/dev/null; do sleep 0.2; done' _ "$PACSD_PID" ||
    fail "pacsd did not stop under valgrind"
wait "$PACSD_PID" 2>/dev/null || true
PACSD_PID=""
sed -n '/HEAP SUMMARY/,$p' "$WORK/valgrind.log" | sed 's/^==[0-9]*== //'
grep -q "ERROR SUMMARY: 0 errors" "$WORK/valgrind.log" ||
    fail "valgrind found errors: $(grep -A12 -m3 'Invalid\|uninitialised\|definitely lost in' "$WORK/valgrind.log" | head -40)"
pass
