#!/bin/sh
# SPDX-License-Identifier: MIT
# One flush per instance (ingest.one_flush, SQLite): an instance's index rows are committed
# without a flush of their own and made durable by the same flush of the file system as its
# object, with a record of the put (table `unflushed`) that a start-up checks. A power cut in
# between can leave rows whose object never reached the disk; this test makes exactly that
# state by hand (pacsd killed right after its last stores, whose records the writer has not
# yet forgotten, then their objects removed or cut short, as a disk that lost them would) and
# checks that the next start removes those rows and nothing else, that an instance whose
# lost put had replaced an earlier version gets that version back, and that a clean stop
# leaves no record. (Only the last put's record is left to find: each later commit forgets the
# records of puts whose flush has finished.) tests/test_power_cut.sh reaches the same state by emulated power cuts.
. "$SRC/tests/lib.sh"
[ -z "${PACS_INDEX:-}" ] || { echo "SKIP: one flush is SQLite's (the index is $PACS_INDEX)"; exit 77; }

records() { sqlite3 "$DATA/index.sqlite" "SELECT object FROM unflushed ORDER BY id"; }
object_path() { echo "$DATA/objects/$(echo "$1" | cut -c1-2)/$(echo "$1" | cut -c3-4)/$1"; }
object_of() { # sop_uid
    sqlite3 "$DATA/index.sqlite" "SELECT object FROM instances WHERE sop_uid='$1'"
}
indexed() { # sop_uid
    sqlite3 "$DATA/index.sqlite" "SELECT count(*) FROM instances WHERE sop_uid='$1'"
}

make_ct_copies "$WORK/a" 4 own
for i in 1 2 3 4; do
    eval "uid$i=\$(dcm_value \"\$WORK/a/ct$i.dcm\" 0008,0018)"
done
# ct4's second version: same SOP Instance UID, other bytes.
cp "$WORK/a/ct4.dcm" "$WORK/ct4v2.dcm"
dcmodify -nb -q -i "(0008,103e)=second version" "$WORK/ct4v2.dcm"

# 1. A clean stop forgets every record.
start_pacsd
store "$WORK/a/ct1.dcm" || fail "storing ct1"
stop_pacsd
assert_eq "" "$(records)" "records left after a clean stop"
grep -q "had not reached the disk" "$WORK/pacsd.log" && fail "a check ran without a power cut"

# 2. Stores, then a kill: the last put's record is still there (no later batch forgot it);
# the disk lost that object whole.
start_pacsd
store "$WORK/a/ct2.dcm" "$WORK/a/ct3.dcm" || fail "storing ct2 and ct3"
kill9_pacsd
o3=$(object_of "$uid3")
assert_eq "$o3" "$(records)" "the records after the last put"
rm "$(object_path "$o3")"
start_pacsd
grep -q "checked 1 instance(s) stored just before the last stop: 1 had not reached the disk" \
    "$WORK/pacsd.log" || fail "no check of the records: $(grep archive "$WORK/pacsd.log" | tail -5)"
assert_eq 1 "$(indexed "$uid1")" "ct1 (stored before the clean stop)"
assert_eq 1 "$(indexed "$uid2")" "ct2 (its object reached the disk)"
assert_eq 0 "$(indexed "$uid3")" "ct3 (its object was lost): its rows"
assert_eq 0 "$(count_matches -S -k QueryRetrieveLevel=IMAGE -k SOPInstanceUID="$uid3")" "C-FIND of ct3"
assert_eq "" "$(records)" "records left after the check"

# 3. A put that replaced an earlier version (same SOP Instance UID, other bytes) is lost, cut
# short on the disk: the earlier version, not yet swept, is indexed again.
# (Its sweep, after the flush, happened here; before the flush, as the cut came, it had not:
# the first version's file is put back as it was.)
store "$WORK/a/ct4.dcm" || fail "storing ct4"
v1=$(object_of "$uid4")
cp "$(object_path "$v1")" "$WORK/v1"
store "$WORK/ct4v2.dcm" || fail "storing ct4's second version"
kill9_pacsd
v2=$(object_of "$uid4")
[ "$v1" != "$v2" ] || fail "the second version has the first's object"
# The sweep of the first version after the flush is a commit of its own, which may already have
# forgotten the record; as the cut came before that flush, the record is as the put made it.
if [ -n "$(records)" ]; then
    assert_eq "$v2" "$(records)" "the record of the replacing put"
    assert_eq "$v1" "$(sqlite3 "$DATA/index.sqlite" "SELECT old_object FROM unflushed")" \
        "the earlier version the record names"
else
    sqlite3 "$DATA/index.sqlite" "INSERT INTO unflushed(object, old_object) VALUES('$v2', '$v1')"
fi
[ ! -f "$(object_path "$v1")" ] || fail "ct4's first version was not swept after the flush"
cp "$WORK/v1" "$(object_path "$v1")"
truncate -s 100 "$(object_path "$v2")"
start_pacsd
grep -q "checked 1 instance(s) stored just before the last stop: 1 had not reached the disk" \
    "$WORK/pacsd.log" || fail "no check of the replacing put: $(grep archive "$WORK/pacsd.log" | tail -5)"
assert_eq 1 "$(indexed "$uid4")" "ct4 (its second version was lost)"
assert_eq "$v1" "$(object_of "$uid4")" "ct4 is its first version again"
st4=$(dcm_value "$WORK/a/ct4.dcm" 0020,000d) se4=$(dcm_value "$WORK/a/ct4.dcm" 0020,000e)
curl -sf "http://127.0.0.1:$HTTP_PORT/dicomweb/studies/$st4/series/$se4/instances/$uid4/metadata" \
    >"$WORK/meta4.json" || fail "metadata of ct4"
grep -q "second version" "$WORK/meta4.json" && fail "ct4 is served as its lost second version"
stop_pacsd
"$PACS" --data "$DATA" verify >"$WORK/verify.log" 2>&1 || fail "pacs verify: $(cat "$WORK/verify.log")"
grep -q " 0 corrupt, 0 missing, 0 orphan" "$WORK/verify.log" || fail "pacs verify: $(cat "$WORK/verify.log")"

# 4. ct3 sent again stores as new; with ingest.one_flush=false no record is kept at all.
start_pacsd --set ingest.one_flush=false
store "$WORK/a/ct3.dcm" || fail "storing ct3 again"
kill9_pacsd
assert_eq "" "$(records)" "records with ingest.one_flush=false"
assert_eq 1 "$(indexed "$uid3")" "ct3 stored again"
echo "one flush: lost objects' rows removed at the start, a replaced version restored, nothing else touched"
pass
