#!/bin/sh
# SPDX-License-Identifier: MIT
# Backup and restore (issue 21, storage/backup.h): `pacs backup DEST` while storescu stores in a
# loop; `pacs restore` into an empty folder (a non-empty one is refused); pacsd started on the
# restored folder answers the same C-FIND and QIDO-RS for the study acknowledged before the
# backup began, holds every instance acknowledged before it began, `pacs verify` is clean, the
# share link made before still opens and the audit trail's lines are there; a second backup
# into the same folder copies only the objects stored since (the count it reports); a damaged
# object is named and fails the backup, and a backup without it fails the restore; a full
# backup disk fails the backup and leaves the one before intact. With a
# PostgreSQL index (PACS_TEST_PG): the objects the same way, the index by the pg_dump command
# the backup prints and the pg_restore command the restore prints.
. "$SRC/tests/lib.sh"
: "${PACS:?PACS must point to the pacs tool}"
trap_background

printf 'dimse.aet = PACS\nhospital.name = Test\n' >"$WORK/pacsd.conf"
start_pacsd --config "$WORK/pacsd.conf"
pacs() { timeout 300 "$PACS" --config "$WORK/pacsd.conf" --data "$DATA" \
    ${PACS_INDEX:+--set "index=$PACS_INDEX"} "$@"; }

# Study A: acknowledged before the backup; a share link to it.
make_ct_copies "$WORK/a" 20
store "$WORK"/a/*.dcm >"$WORK/store.log" 2>&1 || fail "storescu: $(cat "$WORK/store.log")"
A=$(dcm_value "$WORK/a/ct1.dcm" 0020,000d)
LINK=$(pacs share "$A" 2>"$WORK/err") || fail "pacs share: $(cat "$WORK/err")"
TOKEN=${LINK##*/share/}

# Study B: stored one file at a time, in a loop, around the backup. Each acknowledged file's
# SOP Instance UID goes to acked.txt once storescu has returned.
make_ct_copies "$WORK/b" 60
: >"$WORK/acked.txt"
(
    for f in "$WORK"/b/ct*.dcm; do
        [ -e "$WORK/stop" ] && break
        if timeout 60 storescu -aec PACS 127.0.0.1 "$DIMSE_PORT" "$f" >/dev/null 2>&1; then
            file_uids "$f" >>"$WORK/acked.txt"
        fi
    done
) &
LOOP=$!
timeout 60 sh -c 'until [ -s "$1" ]; do sleep 0.05; done' _ "$WORK/acked.txt" ||
    fail "the storing loop acknowledged nothing"

# What the archive answers for study A before the backup.
find_a() {
    find_dimse -S -k QueryRetrieveLevel=STUDY -k StudyInstanceUID="$A" -k PatientName \
        -k PatientID -k StudyDate -k NumberOfStudyRelatedInstances -k NumberOfStudyRelatedSeries \
        -k ModalitiesInStudy | grep -a '^I: (' || true
}
# QIDO-RS of study A and its instances, without the URLs (which name the server's port).
qido_a() {
    for path in "studies?StudyInstanceUID=$A&includefield=all" "studies/$A/instances"; do
        curl -sf "http://127.0.0.1:$HTTP_PORT/dicomweb/$path" | python3 -c '
import json, sys
rows = json.load(sys.stdin)
for r in rows:
    r.pop("00081190", None)
print(json.dumps(sorted(rows, key=lambda r: json.dumps(r, sort_keys=True)), sort_keys=True))'
    done
}
find_a >"$WORK/find.before"
qido_a >"$WORK/qido.before" || fail "QIDO-RS before the backup"
grep -q "NumberOfStudyRelatedInstances.*\[20\]\|(0020,1208) IS \[20\]" "$WORK/find.before" ||
    fail "C-FIND before the backup: $(cat "$WORK/find.before")"
image_uids "$A" >"$WORK/a.uids"
assert_eq 20 "$(wc -l <"$WORK/a.uids" | tr -d ' ')" "instances of study A"

# The backup, while the loop stores.
sort "$WORK/acked.txt" >"$WORK/acked.before"
pacs backup "$WORK/bk" >"$WORK/backup1.log" 2>&1 || fail "pacs backup: $(cat "$WORK/backup1.log")"
acked_after_backup=$(wc -l <"$WORK/acked.txt")
n1=$(sed -n 's/^objects: \([0-9]*\) in the index, \([0-9]*\) copied.*/\1/p' "$WORK/backup1.log")
c1=$(sed -n 's/^objects: \([0-9]*\) in the index, \([0-9]*\) copied.*/\2/p' "$WORK/backup1.log")
[ -n "$n1" ] || fail "no object count in: $(cat "$WORK/backup1.log")"
assert_eq "$n1" "$c1" "a first backup copies every object"
before=$(wc -l <"$WORK/acked.before")
[ "$n1" -ge $((20 + before)) ] ||
    fail "the backup holds $n1 objects, fewer than the $((20 + before)) acknowledged before it"
grep -q '^configuration: saved as pacsd.conf' "$WORK/backup1.log" ||
    fail "the configuration was not saved: $(cat "$WORK/backup1.log")"
cmp -s "$WORK/pacsd.conf" "$WORK/bk/pacsd.conf" || fail "bk/pacsd.conf is not the configuration"

# The loop goes on after the backup: it did run while storing.
timeout 60 sh -c 'until [ "$(wc -l <"$1")" -gt "$2" ]; do sleep 0.05; done' _ \
    "$WORK/acked.txt" "$acked_after_backup" || fail "the storing loop stopped with the backup"
touch "$WORK/stop"
wait "$LOOP" || true

if [ -n "${PACS_TEST_PG:-}" ]; then
    # PostgreSQL: the index is pg_dump's; the command is printed, and run as it says: the dump,
    # then the backup again (which copies the objects stored meanwhile).
    grep -q "^  pg_dump --format=custom --file='$WORK/bk/index.pgdump' '$PACS_INDEX'\$" \
        "$WORK/backup1.log" || fail "no pg_dump command: $(cat "$WORK/backup1.log")"
    [ ! -e "$WORK/bk/index.sqlite" ] || fail "a PostgreSQL backup holds an index.sqlite"
    eval "timeout 120 $(sed -n 's/^  \(pg_dump .*\)$/\1/p' "$WORK/backup1.log")" ||
        fail "the printed pg_dump command failed"
else
    grep -q '^index: copied' "$WORK/backup1.log" || fail "index not copied: $(cat "$WORK/backup1.log")"

    # Restore: refused into a non-empty folder, done into an empty one.
    mkdir "$WORK/full" && touch "$WORK/full/x"
    rc=0
    pacs restore "$WORK/bk" "$WORK/full" >"$WORK/r.log" 2>&1 || rc=$?
    assert_eq 2 "$rc" "restore into a non-empty folder"
    grep -q 'not empty' "$WORK/r.log" || fail "the refusal does not say why: $(cat "$WORK/r.log")"
    [ "$(ls "$WORK/full")" = x ] || fail "a refused restore wrote into the folder"
    mkdir "$WORK/r"
    pacs restore "$WORK/bk" "$WORK/r" >"$WORK/r.log" 2>&1 || fail "pacs restore: $(cat "$WORK/r.log")"
    grep -q "^objects: $n1 in the index, $n1 copied" "$WORK/r.log" ||
        fail "restore did not copy the $n1 objects: $(cat "$WORK/r.log")"
fi

# A second backup into the same folder copies only the objects stored since the first.
total=$(pacs stats | sed -n 's/^instances: //p')
new=$((total - n1))
[ "$new" -gt 0 ] || fail "nothing was stored after the first backup"
pacs backup "$WORK/bk" >"$WORK/backup2.log" 2>&1 || fail "pacs backup (2): $(cat "$WORK/backup2.log")"
grep -q "^objects: $total in the index, $new copied ([^)]*), $n1 already there, 0 removed" \
    "$WORK/backup2.log" ||
    fail "the second backup should copy $new of $total objects: $(cat "$WORK/backup2.log")"
find "$WORK/bk/objects" -type f | wc -l | tr -d ' ' >"$WORK/n"
assert_eq "$total" "$(cat "$WORK/n")" "objects in the backup folder after the second backup"

# A damaged object of the archive: a backup copies the others, names it and exits 1; a restore
# of that backup says the object is missing and exits 1.
obj=$(find "$DATA/objects" -type f | sort | head -1)
cp -p "$obj" "$WORK/obj.saved"
python3 -c 'import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(300); b = f.read(1); f.seek(300); f.write(bytes([b[0] ^ 1]))' "$obj"
rc=0
pacs backup "$WORK/bk3" >"$WORK/backup3.log" 2>&1 || rc=$?
assert_eq 1 "$rc" "exit status of a backup with a corrupt object"
grep -q "^objects: $total in the index, $((total - 1)) copied" "$WORK/backup3.log" ||
    fail "the backup should copy all but the corrupt object: $(cat "$WORK/backup3.log")"
grep -q "^objects not copied: 0 missing, 1 corrupt" "$WORK/backup3.log" ||
    fail "the corrupt object is not reported: $(cat "$WORK/backup3.log")"
grep -q "object=$(basename "$obj") corrupt" "$WORK/backup3.log" ||
    fail "the corrupt object is not named: $(cat "$WORK/backup3.log")"
cp -p "$WORK/obj.saved" "$obj"
if [ -z "${PACS_TEST_PG:-}" ]; then
    rc=0
    pacs restore "$WORK/bk3" "$WORK/r3" >"$WORK/r3.log" 2>&1 || rc=$?
    assert_eq 1 "$rc" "exit status of a restore with an object missing"
    grep -q "^objects not copied: 1 missing, 0 corrupt" "$WORK/r3.log" ||
        fail "the missing object is not reported: $(cat "$WORK/r3.log")"
fi

# A full backup disk (the fault injector tests/tools/enospc.c on DEST/tmp, where copies are
# written): the backup fails saying so, the backup already in DEST is left as it was, and once
# there is room again the next backup copies what is new.
make_ct_copies "$WORK/c" 1
store "$WORK"/c/*.dcm >"$WORK/store.log" 2>&1 || fail "storescu: $(cat "$WORK/store.log")"
: "${FAULT_SHIM:?FAULT_SHIM must point to the fault injector}"
# (BACKUP, and with SQLite the index copy: what a failed backup must leave as it was)
kept="$WORK/bk3/BACKUP"
[ -n "${PACS_TEST_PG:-}" ] || kept="$kept $WORK/bk3/index.sqlite"
# shellcheck disable=SC2086 # two paths without blanks
cksum $kept >"$WORK/bk3.sum"
echo "enospc $WORK/bk3/tmp/" >"$WORK/fault.flag"
rc=0
LD_PRELOAD="$FAULT_SHIM" FAULT_PREFIX="$WORK/bk3/" FAULT_FLAG="$WORK/fault.flag" \
    pacs backup "$WORK/bk3" >"$WORK/backup4.log" 2>&1 || rc=$?
assert_eq 1 "$rc" "exit status of a backup onto a full disk"
grep -q 'out of storage space\|No space left' "$WORK/backup4.log" ||
    fail "the backup does not say the disk is full: $(cat "$WORK/backup4.log")"
# shellcheck disable=SC2086
cksum $kept | cmp -s - "$WORK/bk3.sum" ||
    fail "a failed backup changed the backup before it"
[ ! -e "$WORK/bk3/index.sqlite.new" ] || fail "a failed backup left index.sqlite.new"
rm "$WORK/fault.flag"
pacs backup "$WORK/bk3" >"$WORK/backup5.log" 2>&1 || fail "pacs backup (5): $(cat "$WORK/backup5.log")"
grep -q "^objects: $((total + 1)) in the index, 2 copied ([^)]*), $((total - 1)) already there" \
    "$WORK/backup5.log" ||
    fail "the backup after the full disk should copy the new and the repaired object: $(cat "$WORK/backup5.log")"
stop_pacsd
expect=$n1
if [ -n "${PACS_TEST_PG:-}" ]; then
    # The objects with pacs restore, the index with pg_restore into a new database.
    mkdir "$WORK/r"
    pacs restore "$WORK/bk" "$WORK/r" >"$WORK/r.log" 2>&1 || fail "pacs restore: $(cat "$WORK/r.log")"
    grep -q "pg_restore --no-owner --dbname=" "$WORK/r.log" || fail "no pg_restore: $(cat "$WORK/r.log")"
    timeout 60 psql "$PACS_TEST_PG" -qAt -c "CREATE DATABASE ${PG_TEST_DB}_r" >/dev/null
    trap 'for p in $BG_PIDS; do kill -TERM "$p" 2>/dev/null || true; done
        timeout 60 psql "$PACS_TEST_PG" -qAt -c "DROP DATABASE IF EXISTS ${PG_TEST_DB}_r WITH (FORCE)" \
            >/dev/null 2>&1 || true
        cleanup' EXIT
    export PACS_INDEX="${PACS_INDEX}_r"
    timeout 120 pg_restore --no-owner --dbname="$PACS_INDEX" "$WORK/bk/index.pgdump" \
        >"$WORK/pg_restore.log" 2>&1 || fail "pg_restore: $(cat "$WORK/pg_restore.log")"
    expect=$total
fi

# pacsd on the restored folder.
DATA="$WORK/r"
start_pacsd --config "$WORK/pacsd.conf"
find_a >"$WORK/find.after"
cmp -s "$WORK/find.before" "$WORK/find.after" ||
    fail "C-FIND differs: $(diff "$WORK/find.before" "$WORK/find.after")"
qido_a >"$WORK/qido.after" || fail "QIDO-RS on the restored archive"
cmp -s "$WORK/qido.before" "$WORK/qido.after" || fail "QIDO-RS differs after the restore"
image_uids >"$WORK/r.uids"
missing=$(sort "$WORK/a.uids" "$WORK/acked.before" | comm -23 - "$WORK/r.uids" | wc -l)
assert_eq 0 "$(echo "$missing" | tr -d ' ')" "instances acknowledged before the backup, missing"
assert_eq "$expect" "$(wc -l <"$WORK/r.uids" | tr -d ' ')" "instances in the restored archive"
timeout 300 "$PACS" --data "$DATA" verify >"$WORK/verify.log" 2>&1 ||
    fail "pacs verify on the restored archive: $(cat "$WORK/verify.log")"
grep -q "^verified $expect object(s) in [0-9.]* s: 0 corrupt, 0 missing, 0 orphan(s)\$" "$WORK/verify.log" ||
    fail "pacs verify on the restored archive: $(cat "$WORK/verify.log")"
# The share link made before the backup, and the audit trail's store lines for study A.
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/share/$TOKEN")
assert_eq 200 "$code" "the share link on the restored archive"
timeout 60 "$PACS" --data "$DATA" share --list >"$WORK/shares" 2>&1 || fail "pacs share --list"
grep -q "$A" "$WORK/shares" || fail "the share is not listed: $(cat "$WORK/shares")"
n_store=$(timeout 60 "$PACS" --data "$DATA" audit --study "$A" | grep -c '"action":"store"' || true)
assert_eq 20 "$n_store" "store lines of study A in the restored audit trail"
cmp -s "$WORK/bk/share.key" "$WORK/r/share.key" || fail "share.key not restored"
pass
