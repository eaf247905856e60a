#!/bin/sh
# SPDX-License-Identifier: MIT
# Modality Worklist and MPPS over DIMSE (issue 16), with DCMTK's findscu -W (queries made by
# dump2dcm) and tests/tools/mppsscu (an MPPS requester on DCMTK's library). Negotiation and
# access control (allow=find for the worklist, allow=mpps for MPPS), refusals with the status
# PS3.4 gives them: a worklist query with a malformed key (0xA900), an N-CREATE or N-SET
# without attributes or without a required one (0x0120), an N-CREATE that is not IN PROGRESS
# (0x0106). The archive's orders wait for the index core
# (storage/orders.c): until then a well-formed query gets "unable to process" (0xC000) and a
# well-formed N-CREATE or N-SET "processing failure" (0x0110), each with the reason.
. "$SRC/tests/lib.sh"
: "${MPPSSCU:?MPPSSCU must point to the mppsscu test tool}"

cat >"$WORK/query.dump" <<'DUMP'
(0008,0005) CS [ISO_IR 192]
(0008,0050) SH []
(0010,0010) PN []
(0010,0020) LO []
(0040,0100) SQ (Sequence with explicit length #=1)
  (fffe,e000) na (Item with explicit length #=5)
    (0008,0060) CS [CT]
    (0040,0001) AE [CT1]
    (0040,0002) DA [20240106-20240107]
    (0040,0003) TM []
    (0040,0009) SH []
  (fffe,e00d) na (ItemDelimitationItem for re-encoding)
(fffe,e0dd) na (SequenceDelimitationItem for re-encoding)
DUMP
sed 's/20240106-20240107/2024-01/' "$WORK/query.dump" >"$WORK/bad.dump"
cat >"$WORK/create.dump" <<'DUMP'
(0008,0005) CS [ISO_IR 192]
(0008,0060) CS [CT]
(0010,0010) PN [Nguyễn^Văn An]
(0010,0020) LO [DN4010123456789]
(0040,0241) AE [CT1]
(0040,0244) DA [20240106]
(0040,0245) TM [093000]
(0040,0252) CS [IN PROGRESS]
(0040,0253) SH [PPS1]
(0040,0270) SQ (Sequence with explicit length #=1)
  (fffe,e000) na (Item with explicit length #=3)
    (0008,0050) SH [ACC1001]
    (0040,0009) SH [SPS1001]
    (0040,1001) SH [RP1001]
  (fffe,e00d) na (ItemDelimitationItem for re-encoding)
(fffe,e0dd) na (SequenceDelimitationItem for re-encoding)
DUMP
printf '(0040,0252) CS [COMPLETED]\n(0040,0250) DA [20240106]\n(0040,0251) TM [094500]\n' \
    >"$WORK/set.dump"
sed 's/\[IN PROGRESS\]/[COMPLETED]/' "$WORK/create.dump" >"$WORK/done.dump"
grep -v '(0040,0253)' "$WORK/create.dump" >"$WORK/noid.dump"
for f in query bad create set done noid; do
    dump2dcm -q "$WORK/$f.dump" "$WORK/$f.dcm" 2>/dev/null || fail "dump2dcm $f"
done

start_pacsd --set dimse.access_control=true \
    --set "ae.CT1=127.0.0.1:104 allow=find,mpps names=ascii" \
    --set "ae.WS1=127.0.0.1:105 allow=find" --set "ae.MPPSSCU=127.0.0.1:106 allow=mpps"
wl() { # calling-AE query-file
    timeout 60 findscu -v -W -aec PACS -aet "$1" 127.0.0.1 "$DIMSE_PORT" "$2" 2>&1
}
wl CT1 "$WORK/query.dcm" >"$WORK/wl1.txt"
grep -q 'Final Find Response (Failed: UnableToProcess)' "$WORK/wl1.txt" ||
    fail "worklist query: $(tail -3 "$WORK/wl1.txt")"
grep -q 'worklist C-FIND failed: orders and patients are not stored yet' "$WORK/pacsd.log" ||
    fail "no reason logged for the worklist query"
wl CT1 "$WORK/bad.dcm" >"$WORK/wl2.txt"
grep -q 'Final Find Response (Error: DataSetDoesNotMatchSOPClass)' "$WORK/wl2.txt" ||
    fail "malformed worklist key: $(tail -3 "$WORK/wl2.txt")"
grep -q "worklist C-FIND refused: bad date range '2024-01'" "$WORK/pacsd.log" ||
    fail "no reason logged for the malformed key"
# WS1 may query (find), even the worklist; it may not report procedure steps.
wl WS1 "$WORK/query.dcm" >"$WORK/wl3.txt"
grep -q 'Final Find Response' "$WORK/wl3.txt" || fail "WS1 may query the worklist"
if timeout 60 "$MPPSSCU" --aet WS1 127.0.0.1 "$DIMSE_PORT" create:"$WORK/create.dcm" \
    >"$WORK/mpps0.txt" 2>&1; then
    fail "WS1 (allow=find) was given MPPS"
fi
grep -q 'MPPS was not accepted' "$WORK/mpps0.txt" || fail "WS1: $(cat "$WORK/mpps0.txt")"

timeout 60 "$MPPSSCU" --aet CT1 127.0.0.1 "$DIMSE_PORT" create:"$WORK/create.dcm" \
    set:last:"$WORK/set.dcm" create-empty set-empty:1.2.3.4 \
    create:"$WORK/create.dcm":1.2.826.0.1.3680043.10.1347.99.1 create:"$WORK/done.dcm" \
    create:"$WORK/noid.dcm" >"$WORK/mpps.txt" 2>&1 ||
    fail "mppsscu: $(cat "$WORK/mpps.txt")"
cat "$WORK/mpps.txt"
line() { sed -n "${1}p" "$WORK/mpps.txt"; }
line 1 | grep -q '^create status=0x0110 uid=[0-9.]* comment=orders and patients are not stored' ||
    fail "N-CREATE: $(line 1)"
line 2 | grep -q '^set status=0x0110 uid=[0-9.]* comment=orders and patients are not stored' ||
    fail "N-SET: $(line 2)"
line 3 | grep -q '^create status=0x0120 uid=[0-9.]* comment=N-CREATE without a dataset' ||
    fail "N-CREATE without attributes: $(line 3)"
line 4 | grep -q '^set status=0x0120 uid=1.2.3.4 comment=N-SET without a dataset' ||
    fail "N-SET without attributes: $(line 4)"
line 5 | grep -q '^create status=0x0110 uid=1.2.826.0.1.3680043.10.1347.99.1 ' ||
    fail "N-CREATE with our UID: $(line 5)"
line 6 | grep -q "^create status=0x0106 uid=[0-9.]* comment=PerformedProcedureStepStatus (0040,0252): 'COMPLETED'" ||
    fail "N-CREATE COMPLETED: $(line 6)"
line 7 | grep -q '^create status=0x0120 uid=[0-9.]* comment=missing PerformedProcedureStepID' ||
    fail "N-CREATE without its step id: $(line 7)"
# The SCP made the first instance's UID and sent it back.
[ "$(line 1 | sed 's/.* uid=\([0-9.]*\).*/\1/')" != "" ] || fail "no instance UID made"
kill -0 "$PACSD_PID" || fail "pacsd died"
pass
