#!/bin/sh
# SPDX-License-Identifier: MIT
# The index locked by another process: while a second program holds an exclusive SQLite
# transaction on DATA/index.sqlite (as a careless `sqlite3` session or a backup tool might),
# C-STORE gets 0xA700 (out of resources) and STOW-RS HTTP 503 with failure reason 0xA700, each
# saying the database is locked, in the answer and in a WARN line; searching (C-FIND,
# QIDO-RS) and retrieving what is stored keep working, since readers are not blocked. Once the
# lock is released the same instances store without a restart, and `pacs verify` is clean.
# Each refused store waits out the index's busy timeout first (about ten seconds).
. "$SRC/tests/lib.sh"

STOW_TOOL="python3 $SRC/tests/tools/stow_tool.py"
HOLDER=""
trap 'if [ -n "$HOLDER" ]; then kill "$HOLDER" 2>/dev/null || true; fi
      cleanup' EXIT

make_ct_copies "$WORK/ok" 2 own
make_ct_copies "$WORK/locked" 2 own
start_pacsd
B="http://127.0.0.1:$HTTP_PORT/dicomweb"
store "$WORK"/ok/*.dcm || fail "storing before the lock"
indexed() { # file
    count_matches -S -k QueryRetrieveLevel=IMAGE -k SOPInstanceUID="$(dcm_value "$1" 0008,0018)"
}

# Another process takes the write lock and keeps it while the file "$WORK/hold" exists.
: >"$WORK/hold"
timeout 300 python3 -c 'import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
while os.path.exists(sys.argv[3]):
    time.sleep(0.05)
db.execute("ROLLBACK")' "$DATA/index.sqlite" "$WORK/has-lock" "$WORK/hold" &
HOLDER=$!
timeout 30 sh -c 'until [ -e "$1" ]; do sleep 0.05; done' _ "$WORK/has-lock" ||
    fail "the other process did not get the lock"
logn=$(wc -l <"$WORK/pacsd.log")

timeout 120 $DICOM_SEND --port "$DIMSE_PORT" store "$WORK/locked/ct1.dcm" >"$WORK/dimse" ||
    fail "the association failed: $(cat "$WORK/dimse")"
grep -q "^STORE 1 0xa700 .*locked" "$WORK/dimse" ||
    fail "C-STORE under the lock should get 0xA700 (locked): $(cat "$WORK/dimse")"
timeout 120 $STOW_TOOL post --url "$B" "$WORK/locked/ct2.dcm" >"$WORK/stow" 2>&1 ||
    fail "STOW-RS: $(cat "$WORK/stow")"
grep -q "^HTTP 503\$" "$WORK/stow" || fail "STOW-RS under the lock should get 503: $(cat "$WORK/stow")"
grep -qi "^FAILED .* 0xA700\$" "$WORK/stow" || fail "STOW-RS failure reason: $(cat "$WORK/stow")"
grep -q "^WARNING 299 .*locked" "$WORK/stow" || fail "STOW-RS Warning header: $(cat "$WORK/stow")"
# Readers carry on.
assert_eq 1 "$(indexed "$WORK/ok/ct1.dcm")" "C-FIND under the lock"
code=$(timeout 30 curl -s -o /dev/null -w '%{http_code}' "$B/studies") || true
assert_eq 200 "$code" "QIDO-RS under the lock"
timeout 60 $STOW_TOOL check --url "$B" "$WORK"/ok/*.dcm >"$WORK/check" ||
    fail "retrieving under the lock: $(cat "$WORK/check")"
tail -n +"$((logn + 1))" "$WORK/pacsd.log" >"$WORK/log-locked"
grep -q "WARN dimse: .*status=0xa700: .*database is locked" "$WORK/log-locked" ||
    fail "no WARN line for the C-STORE: $(cat "$WORK/log-locked")"
grep -q "WARN stow: .*database is locked" "$WORK/log-locked" || fail "no WARN line for STOW-RS"

# The lock goes away: the same instances store, without a restart.
rm -f "$WORK/hold"
wait "$HOLDER" || fail "the lock holder failed"
HOLDER=""
timeout 120 $DICOM_SEND --port "$DIMSE_PORT" store "$WORK/locked/ct1.dcm" >"$WORK/dimse2" ||
    fail "the association failed after the lock"
grep -q "^STORE 1 0x0000" "$WORK/dimse2" || fail "C-STORE after the lock: $(cat "$WORK/dimse2")"
timeout 120 $STOW_TOOL post --url "$B" "$WORK/locked/ct2.dcm" >"$WORK/stow2" 2>&1
grep -q "^HTTP 200\$" "$WORK/stow2" || fail "STOW-RS after the lock: $(cat "$WORK/stow2")"
for f in "$WORK"/locked/*.dcm; do
    assert_eq 1 "$(indexed "$f")" "an instance stored after the lock"
done
timeout 60 $STOW_TOOL check --url "$B" "$WORK"/ok/*.dcm "$WORK"/locked/*.dcm >"$WORK/check2" ||
    fail "retrieving after the lock: $(cat "$WORK/check2")"
assert_eq 0 "$(tmp_files)" "temporary files"
stop_pacsd
"$PACS" --data "$DATA" verify >"$WORK/verify.log" 2>&1 || fail "pacs verify: $(cat "$WORK/verify.log")"
cat "$WORK/verify.log"
echo "index locked: C-STORE 0xA700, STOW-RS 503/0xA700 ('database is locked'); reads went on;" \
    "stored once the lock was gone"
pass
