#!/bin/sh
# SPDX-License-Identifier: MIT
# `pacs migrate --to postgresql://...` and `pacs reindex` on PostgreSQL (issue 10): an archive
# filled on SQLite (pydicom's corpus through `pacs import`, and C-STORE with forwards left
# pending) is copied into an empty PostgreSQL database without reading an object; pacsd on
# PostgreSQL then gives the same C-FIND and QIDO-RS answers, the same study metadata and the
# same retrieved files, sends the pending forwards and takes the share links made on SQLite
# (a revoked one stays revoked); a second migrate into the now full
# database and a migrate while pacsd runs are refused and change nothing; `pacs reindex`
# rebuilds the PostgreSQL index from the objects alone with the same answers and the same
# share links.
. "$SRC/tests/lib.sh"
. "$SRC/tests/lib_multinode.sh"

# The archive starts on SQLite whatever the pass (PACS_TEST_PG would point pacsd elsewhere).
unset PACS_INDEX
T=$SAMPLES/test_files
pg_database

IDX="" # the index pacs and pacsd use: "" for SQLite, then $PG_URI
pacs() {
    timeout 300 "$PACS" --data "$DATA" ${IDX:+--set "index=$IDX"} "$@"
}

# Every answer that should not depend on the backend, into folder $1.
answers() { # dir
    mkdir -p "$1"
    # C-FIND at each level; datasets sorted so that order does not count.
    for q in "STUDY -k PatientName -k PatientID -k StudyDate -k ModalitiesInStudy -k NumberOfStudyRelatedSeries -k NumberOfStudyRelatedInstances -k StudyInstanceUID" \
        "SERIES -k Modality -k SeriesNumber -k NumberOfSeriesRelatedInstances -k SeriesInstanceUID -k StudyInstanceUID" \
        "IMAGE -k SOPClassUID -k InstanceNumber -k SOPInstanceUID -k StudyInstanceUID"; do
        lvl=${q%% *}
        # shellcheck disable=SC2086
        find_dimse -S -k QueryRetrieveLevel=${q} >"$1/find-$lvl.raw"
        grep -c "Find Response.*(Pending)" "$1/find-$lvl.raw" >"$1/find-$lvl.count" || true
        awk '/^# Dicom-Data-Set/ { if (b != "") print b; b = "" } /^\(/ { b = b "|" $0 }
             END { if (b != "") print b }' "$1/find-$lvl.raw" | sort >"$1/find-$lvl"
    done
    # C-FIND with a wildcard and a date range, matched in SQL.
    find_dimse -S -k QueryRetrieveLevel=STUDY -k "PatientName=*" -k StudyDate=19000101-20991231 \
        -k StudyInstanceUID | grep -c "Find Response.*(Pending)" >"$1/find-range" || true
    for path in "studies?includefield=all&limit=1000" "series?limit=1000" \
        "instances?limit=5000&includefield=00200013" "studies/$ct_st/metadata"; do
        f="$1/qido-$(echo "$path" | tr -c 'a-z0-9' '_')"
        code=$(curl -sS --max-time 60 -o "$f.raw" -w '%{http_code}' "$WEB/$path")
        assert_eq 200 "$code" "GET $path"
        python3 -c '
import json, re, sys
# URLs (RetrieveURL, BulkDataURI) name the port, which differs from run to run.
r = json.loads(re.sub(r"http://127\.0\.0\.1:[0-9]+/", "URL/", open(sys.argv[1]).read()))
print("\n".join(sorted(json.dumps(x, sort_keys=True) for x in r)))' "$f.raw" >"$f"
    done
    pacs stats >"$1/stats" 2>/dev/null
}

# ---- an archive on SQLite ----
pacs import "$T" >"$WORK/import.out" 2>&1 || true
grep -q "imported" "$WORK/import.out" || fail "import: $(tail -3 "$WORK/import.out")"
dport=$(free_port)
start_pacsd --set route.out=DEST --set "ae.DEST=127.0.0.1:$dport" --set forward.retry_min=1 \
    --set forward.retry_max=1
ct_st=$(new_uid)
gen_ct "$WORK/ct" "$ct_st" "$(new_uid)" 4
store "$WORK"/ct/*.dcm >"$WORK/store.log" 2>&1 || fail "storescu: $(tail -3 "$WORK/store.log")"
wait_fwd pending DEST 1 4 60 || fail "forwards were not tried"
stop_pacsd
n=$(pacs stats | sed -n 's/^instances: //p')
[ "$n" -gt 40 ] || fail "only $n instances imported"
start_pacsd
WEB="http://127.0.0.1:$HTTP_PORT/dicomweb"
answers "$WORK/sqlite"
assert_eq "$n" "$(cat "$WORK/sqlite/find-IMAGE.count")" "C-FIND at IMAGE level (SQLite)"
[ "$(cat "$WORK/sqlite/find-range")" -gt 10 ] || fail "C-FIND with a range: too few matches"
get_into "$WORK/g-sqlite" -S -k QueryRetrieveLevel=STUDY -k StudyInstanceUID="$ct_st" >/dev/null ||
    fail "getscu (SQLite)"

# Share links made on SQLite (one revoked) go with the index.
LINK=$(pacs share "$ct_st" --days 1 2>"$WORK/share.err") || fail "pacs share: $(cat "$WORK/share.err")"
GONE=$(pacs share "$ct_st" --days 1 2>"$WORK/share.err") || fail "pacs share: $(cat "$WORK/share.err")"
pacs share --revoke "${GONE##*/}" 2>/dev/null || fail "pacs share --revoke"
page() { curl -sS --max-time 60 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/share/${1##*/}"; }
assert_eq 200 "$(page "$LINK")" "a share link on SQLite"

# ---- migrate refused while pacsd runs: the data folder is in use ----
st=0
pacs migrate --to "$PG_URI" >"$WORK/m0" 2>&1 || st=$?
[ "$st" -ne 0 ] || fail "migrate while pacsd runs was accepted"
stop_pacsd
st=0
pacs migrate >/dev/null 2>&1 || st=$?
assert_eq 2 "$st" "migrate without --to"

# ---- migrate ----
objs_before=$(find "$DATA/objects" -type f | wc -l)
pacs migrate --to "$PG_URI" >"$WORK/m1" 2>&1 || fail "migrate: $(cat "$WORK/m1")"
grep -q "copied $n instance(s) and 4 pending forward(s)" "$WORK/m1" || fail "migrate: $(cat "$WORK/m1")"
assert_eq "$objs_before" "$(find "$DATA/objects" -type f | wc -l)" "objects after migrate"
st=0
pacs migrate --to "$PG_URI" >"$WORK/m2" 2>&1 || st=$?
[ "$st" -ne 0 ] || fail "a second migrate into a full index was accepted"
grep -q "already holds $n instance" "$WORK/m2" || fail "second migrate: $(cat "$WORK/m2")"

# ---- pacsd on PostgreSQL: the same answers, the pending forwards sent ----
mkdir -p "$WORK/dest"
start_storescp DEST "$dport" "$WORK/dest" || fail "storescp"
IDX=$PG_URI
start_pacsd --set "index=$PG_URI" --set route.out=DEST --set "ae.DEST=127.0.0.1:$dport" \
    --set forward.retry_min=1 --set forward.retry_max=1
WEB="http://127.0.0.1:$HTTP_PORT/dicomweb"
answers "$WORK/pg"
for f in $(cd "$WORK/sqlite" && ls | grep -v "\.raw$"); do
    cmp -s "$WORK/sqlite/$f" "$WORK/pg/$f" ||
        fail "$f differs on PostgreSQL: $(diff "$WORK/sqlite/$f" "$WORK/pg/$f" | head -5)"
done
get_into "$WORK/g-pg" -S -k QueryRetrieveLevel=STUDY -k StudyInstanceUID="$ct_st" >/dev/null ||
    fail "getscu (PostgreSQL)"
for f in "$WORK"/g-sqlite/*; do
    cmp -s "$f" "$WORK/g-pg/$(basename "$f")" || fail "C-GET: $(basename "$f") differs"
done
assert_eq 4 "$(count_files "$WORK/g-pg")" "C-GET from PostgreSQL: files"
wait_files "$WORK/dest" 4 60 || fail "the migrated forwards were not sent ($(count_files "$WORK/dest"))"
assert_eq 200 "$(page "$LINK")" "a share link made on SQLite, on PostgreSQL"
assert_eq 404 "$(page "$GONE")" "a share link revoked on SQLite, on PostgreSQL"
stop_pacsd

# ---- reindex on PostgreSQL: from the objects alone ----
pacs reindex >"$WORK/reindex.out" 2>&1 || fail "reindex: $(cat "$WORK/reindex.out")"
grep -q "reindexed $n instance" "$WORK/reindex.out" || fail "reindex: $(cat "$WORK/reindex.out")"
start_pacsd --set "index=$PG_URI"
WEB="http://127.0.0.1:$HTTP_PORT/dicomweb"
answers "$WORK/pg2"
for f in $(cd "$WORK/sqlite" && ls | grep -v "\.raw$"); do
    cmp -s "$WORK/sqlite/$f" "$WORK/pg2/$f" ||
        fail "$f differs after reindex: $(diff "$WORK/sqlite/$f" "$WORK/pg2/$f" | head -5)"
done
assert_eq 200 "$(page "$LINK")" "a share link after reindex on PostgreSQL"
assert_eq 404 "$(page "$GONE")" "a revoked share link after reindex on PostgreSQL"
pass
