#!/bin/sh
# SPDX-License-Identifier: MIT
# The pacs command: import of folders and of a CD through its DICOMDIR (beside a running pacsd,
# whose stores go on meanwhile), reindex and verify --sweep refused while pacsd runs, verify
# naming corrupt, missing and orphan objects, delete at every level, reindex keeping the share
# links, reindex from the objects alone, stats, progress only on a terminal, and the exit
# statuses.
. "$SRC/tests/lib.sh"

pacs() {
    "$PACS" --data "$DATA" "$@"
}
stat_of() { # name
    pacs stats | sed -n "s/^$1: //p"
}
objects() {
    find "$DATA/objects" -type f | wc -l | tr -d ' '
}

# ---- Arguments ----
st=0
pacs bogus 2>/dev/null || st=$?
assert_eq 2 "$st" "exit status of an unknown command"
st=0
pacs import 2>/dev/null || st=$?
assert_eq 2 "$st" "exit status of import without paths"
st=0
pacs delete --study 1.2..3 2>/dev/null || st=$?
assert_eq 2 "$st" "exit status of delete with a bad UID"
st=0
pacs --set dimse.port=x stats 2>"$WORK/err" || st=$?
assert_eq 2 "$st" "exit status of a bad --set"
grep -q "dimse.port" "$WORK/err" || fail "a bad --set is not named: $(cat "$WORK/err")"
pacs --help | grep -q "pacs import" || fail "pacs --help"

# ---- Import of a folder: nested, with non-DICOM files; beside a running pacsd ----
make_ct_copies "$WORK/in/a" 20
make_ct_copies "$WORK/in/b/deeper" 20 own
echo "not DICOM" >"$WORK/in/readme.txt"
cp "$SAMPLES/test_files/rtstruct.dcm" "$WORK/in/b/bare-dataset" # no meta header, no .dcm
make_ct_copies "$WORK/net" 30
start_pacsd
store "$WORK/net" +sd >"$WORK/storescu.log" 2>&1 &
scu=$!
pacs import "$WORK/in" >"$WORK/import.out" 2>"$WORK/import.err" ||
    fail "import failed: $(cat "$WORK/import.out" "$WORK/import.err")"
wait "$scu" || fail "storescu beside the import failed: $(tail -5 "$WORK/storescu.log")"
cat "$WORK/import.out"
grep -q "imported 41 of 42 file(s)" "$WORK/import.out" || fail "import summary"
grep -q "1 skipped (not DICOM), 0 failed" "$WORK/import.out" || fail "import summary (skipped)"
grep -q "readme.txt: skipped, not a DICOM file" "$WORK/import.err" || fail "the skipped file is not named"
# Progress is drawn on a terminal only: none of it in a file.
if grep -q "$(printf '\r')" "$WORK/import.err"; then
    fail "progress written to a non-terminal"
fi
assert_eq 71 "$(stat_of instances)" "instances after import and storescu"
# shellcheck disable=SC2046
file_uids $(find "$WORK/in" "$WORK/net" -name '*.dcm') "$WORK/in/b/bare-dataset" >"$WORK/want"
image_uids >"$WORK/have"
cmp -s "$WORK/want" "$WORK/have" || fail "C-FIND after import: $(comm -3 "$WORK/want" "$WORK/have")"

# Imported again: all already stored, nothing new.
pacs import "$WORK/in/a" >"$WORK/import2.out" 2>&1 || fail "second import"
grep -q "0 new, 20 already stored" "$WORK/import2.out" || fail "re-import: $(cat "$WORK/import2.out")"

# A CD: the DICOMDIR's referenced files are imported, not the DICOMDIR or what lies beside it.
cp -r "$SAMPLES/test_files/dicomdirtests" "$WORK/cd"
echo "[autorun]" >"$WORK/cd/AUTORUN.INF"
n_ref=$(dcmdump +P 0004,1500 "$WORK/cd/DICOMDIR" 2>/dev/null | wc -l | tr -d ' ')
before=$(stat_of instances)
pacs import "$WORK/cd" >"$WORK/cd.out" 2>"$WORK/cd.err" || fail "CD import: $(cat "$WORK/cd.out" "$WORK/cd.err")"
grep -q "imported $n_ref of $n_ref file(s)" "$WORK/cd.out" || fail "CD import: $(cat "$WORK/cd.out")"
if grep -q "AUTORUN\|TINY_ALPHA" "$WORK/cd.err"; then
    fail "files beside the DICOMDIR were read: $(cat "$WORK/cd.err")"
fi
after=$(stat_of instances)
[ "$after" -gt "$before" ] || fail "the CD added no instance"
# Given the DICOMDIR itself, and with the file names in lower case as some copies have them.
mv "$WORK/cd/98892001/CT2N" "$WORK/cd/98892001/ct2n"
pacs import "$WORK/cd/DICOMDIR" >"$WORK/cd2.out" 2>&1 || fail "import of a DICOMDIR: $(cat "$WORK/cd2.out")"
grep -q "0 new, $n_ref already stored" "$WORK/cd2.out" || fail "DICOMDIR re-import: $(cat "$WORK/cd2.out")"

# ---- While pacsd runs: read-only tools work, the exclusive ones refuse ----
pacs verify >"$WORK/verify.out" || fail "verify beside pacsd: $(cat "$WORK/verify.out")"
st=0
pacs reindex >"$WORK/reindex.out" 2>&1 || st=$?
assert_eq 1 "$st" "reindex while pacsd runs"
grep -q "in use" "$WORK/reindex.out" || fail "reindex refusal: $(cat "$WORK/reindex.out")"
st=0
pacs verify --sweep >"$WORK/sweep.out" 2>&1 || st=$?
assert_eq 1 "$st" "verify --sweep while pacsd runs"
stop_pacsd

# ---- verify names each problem ----
n_obj=$(objects)
# The objects of two instances sent with storescu (objects are Part 10 files).
uid1=$(dcm_value "$WORK/net/ct1.dcm" 0008,0018)
uid2=$(dcm_value "$WORK/net/ct2.dcm" 0008,0018)
corrupt="" missing=""
for f in $(find "$DATA/objects" -type f); do
    case $(dcm_value "$f" 0008,0018) in
    "$uid1") corrupt=$f ;;
    "$uid2") missing=$f ;;
    esac
done
[ -n "$corrupt" ] && [ -n "$missing" ] || fail "objects of the storescu instances not found"
printf 'X' | dd of="$corrupt" bs=1 seek=200 conv=notrunc 2>/dev/null
rm "$missing"
orphan_key=0000000000000000000000000000000000000000000000000000000000000000
mkdir -p "$DATA/objects/00/00"
cp "$WORK/in/a/ct1.dcm" "$DATA/objects/00/00/$orphan_key"
st=0
pacs verify >"$WORK/verify.out" 2>&1 || st=$?
cat "$WORK/verify.out"
assert_eq 1 "$st" "verify with problems"
grep -q "^corrupt $(basename "$corrupt") sop=" "$WORK/verify.out" || fail "corrupt object not named"
grep -q "^missing $(basename "$missing") sop=" "$WORK/verify.out" || fail "missing object not named"
grep -q "^orphan $orphan_key" "$WORK/verify.out" || fail "orphan not named"
grep -q "1 corrupt, 1 missing, 1 orphan" "$WORK/verify.out" || fail "verify summary"
st=0
pacs verify --sweep >"$WORK/sweep.out" 2>&1 || st=$?
assert_eq 1 "$st" "verify --sweep with corrupt and missing objects left"
[ ! -e "$DATA/objects/00/00/$orphan_key" ] || fail "the orphan was not swept"
# The damaged instances are deleted through the archive; then all is clean.
sop_c=$(sed -n "s/^corrupt $(basename "$corrupt") sop=\([0-9.]*\):.*/\1/p" "$WORK/verify.out")
sop_m=$(sed -n "s/^missing $(basename "$missing") sop=\([0-9.]*\):.*/\1/p" "$WORK/verify.out")
pacs delete --instance "$sop_c" | grep -q "deleted 1 instance" || fail "delete --instance"
pacs delete --instance "$sop_m" | grep -q "deleted 1 instance" || fail "delete of a missing object"
pacs verify >"$WORK/verify.out" 2>&1 || fail "verify after the repair: $(cat "$WORK/verify.out")"
assert_eq $((n_obj - 2)) "$(objects)" "objects after deleting two instances"
st=0
pacs delete --instance "$sop_c" 2>/dev/null || st=$?
assert_eq 1 "$st" "delete of what is not stored"

# ---- delete a series and a study; their objects go ----
series=$(dcm_value "$WORK/in/a/ct2.dcm" 0020,000e)
study=$(dcm_value "$WORK/in/b/deeper/ct1.dcm" 0020,000d)
before=$(objects)
pacs delete --series "$series" | grep -q "deleted 20 instance" || fail "delete --series"
pacs delete --study "$study" | grep -q "deleted 1 instance" || fail "delete --study"
assert_eq $((before - 21)) "$(objects)" "objects after deleting a series and a study"
assert_eq "$(objects)" "$(stat_of instances)" "instances and objects"

# ---- reindex keeps the share links: they are in the index and in no object ----
start_pacsd
st_kept=$(find_dimse -S -k QueryRetrieveLevel=STUDY -k StudyInstanceUID |
    sed -n 's/.*(0020,000d) UI \[\([0-9.]*\).*/\1/p' | head -1)
stop_pacsd
[ -n "$st_kept" ] || fail "no study left to share"
kept=$(pacs share "$st_kept" --days 1 2>"$WORK/share.err") || fail "pacs share: $(cat "$WORK/share.err")"
gone=$(pacs share "$st_kept" --days 1 2>"$WORK/share.err") || fail "pacs share: $(cat "$WORK/share.err")"
pacs share --revoke "${gone##*/}" 2>/dev/null || fail "pacs share --revoke"
pacs reindex >"$WORK/reindex.out" 2>&1 || fail "reindex: $(cat "$WORK/reindex.out")"
start_pacsd
page() { curl -sS --max-time 60 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/share/${1##*/}"; }
assert_eq 200 "$(page "$kept")" "a share link after reindex"
assert_eq 404 "$(page "$gone")" "a revoked share link after reindex"
stop_pacsd

# ---- reindex from the objects alone ----
pacs stats >"$WORK/stats.before"
rm -f "$DATA/index.sqlite" "$DATA/index.sqlite-wal" "$DATA/index.sqlite-shm"
pacs reindex >"$WORK/reindex.out" 2>&1 || fail "reindex: $(cat "$WORK/reindex.out")"
grep -q "reindexed $(objects) instance" "$WORK/reindex.out" || fail "reindex summary: $(cat "$WORK/reindex.out")"
pacs stats >"$WORK/stats.after"
cmp -s "$WORK/stats.before" "$WORK/stats.after" ||
    fail "stats differ after reindex: $(diff "$WORK/stats.before" "$WORK/stats.after")"
start_pacsd
image_uids >"$WORK/have-after"
assert_eq "$(stat_of instances)" "$(wc -l <"$WORK/have-after" | tr -d ' ')" "C-FIND after reindex"
stop_pacsd
pacs verify >/dev/null || fail "verify after reindex"

# ---- Progress on a terminal (script(1) gives the tool one) ----
if command -v script >/dev/null 2>&1; then
    make_ct_copies "$WORK/tty" 30 own
    timeout 120 script -qec "$PACS --data $DATA import --jobs 1 $WORK/tty" /dev/null \
        >"$WORK/tty.out" 2>&1 || fail "import on a terminal: $(cat "$WORK/tty.out")"
    grep -q "import .*/30 .*left" "$WORK/tty.out" || fail "no progress on a terminal: $(cat "$WORK/tty.out")"
    grep -q "imported 30 of 30" "$WORK/tty.out" || fail "no summary on a terminal"
fi
pass
