#!/bin/sh
# SPDX-License-Identifier: MIT
# Modality Worklist and MPPS over DIMSE (issue 16), with DCMTK's findscu -W (queries made by
# dump2dcm) and tests/tools/mppsscu (an MPPS requester on DCMTK's library). Negotiation and
# access control (allow=find for the worklist, allow=mpps for MPPS), refusals with the status
# PS3.4 gives them: a worklist query with a malformed key (0xA900), an N-CREATE or N-SET
# without attributes or without a required one (0x0120), an N-CREATE that is not IN PROGRESS
# (0x0106). End to end: a patient and two orders come in over MLLP (ADT^A01, ORM^O01, ACK AA),
# findscu -W finds them (names as sent in UTF-8, or without diacritics for a names=ascii AE),
# MPPS moves one through IN PROGRESS to COMPLETED and off the worklist, and after a restart the
# other order is still there, and after `pacs reindex`.
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
# The HIS: a patient (health ID and MRN), then two orders for CT1, over MLLP; each ACK is AA.
MSH='MSH|^~\&|HIS|BV|PACS|BV|20240105083000'
PID='PID|1||BN0001^^^BVTINH^MR~DN4010123456789^^^BHXH^SS||Nguyễn^Văn An||19800215|M'
order() { # placer accession step-id
    printf "%s" "msg:$MSH||ORM^O01^ORM_O01|O$1|P|2.5.1|||||VN|UNICODE UTF-8\\r$PID\\rORC|NW|$1|||SC||^^^20240106093000^^R\\rOBR|1|$1||CT01^CT sọ não^L||||||||||||||$2|RP$1|$3|CT1|||CT"
}
timeout 60 python3 "$SRC/tests/tools/mllp.py" "$HL7_PORT" \
    "msg:$MSH||ADT^A01^ADT_A01|A1|P|2.5.1|||||VN|UNICODE UTF-8\\rEVN|A01\\r$PID\\rPV1|1|O" \
    "$(order PL1001 ACC1001 SPS1001)" "$(order PL1002 ACC1002 SPS1002)" \
    "$(order PL1003 ACC1003 SPS1003 | sed 's/BN0001/BN9999/; s/DN4010123456789/XX0000000000000/')" \
    >"$WORK/hl7.txt" || fail "MLLP: $(cat "$WORK/hl7.txt")"
[ "$(grep -c '^MSA|AA|' "$WORK/hl7.txt")" = 3 ] || fail "HL7 not acknowledged AA: $(cat "$WORK/hl7.txt")"
# An order for a patient the archive does not know is refused (AE, PID-3) and stores nothing.
grep -q '^MSA|AE|OPL1003' "$WORK/hl7.txt" && grep -q '^ERR||PID^1^3|' "$WORK/hl7.txt" ||
    fail "order for an unknown patient: $(cat "$WORK/hl7.txt")"
# findscu -W: both orders, to CT1 without diacritics, to WS1 in UTF-8, with the health ID.
wl CT1 "$WORK/query.dcm" >"$WORK/wl1.txt"
grep -q 'Final Find Response (Success)' "$WORK/wl1.txt" || fail "worklist query: $(tail -3 "$WORK/wl1.txt")"
[ "$(grep -c 'Find Response: [0-9]* (Pending)' "$WORK/wl1.txt")" = 2 ] ||
    fail "worklist: not 2 items: $(cat "$WORK/wl1.txt")"
grep -q '(0008,0050) SH \[ACC1001 *\]' "$WORK/wl1.txt" || fail "worklist: no ACC1001"
grep -q '(0008,0050) SH \[ACC1002 *\]' "$WORK/wl1.txt" || fail "worklist: no ACC1002"
grep -q '(0010,0010) PN \[NGUYEN^VAN AN *\]' "$WORK/wl1.txt" || fail "CT1 (names=ascii): $(grep 0010,0010 "$WORK/wl1.txt")"
grep -q '(0010,0020) LO \[DN4010123456789 *\]' "$WORK/wl1.txt" || fail "worklist: PatientID is not the health ID"
grep -q '(0040,0009) SH \[SPS1001 *\]' "$WORK/wl1.txt" || fail "worklist: no step id SPS1001"
wl CT1 "$WORK/bad.dcm" >"$WORK/wl2.txt"
grep -q 'Final Find Response (Error: DataSetDoesNotMatchSOPClass)' "$WORK/wl2.txt" ||
    fail "malformed worklist key: $(tail -3 "$WORK/wl2.txt")"
grep -q "worklist C-FIND refused: bad date range '2024-01'" "$WORK/pacsd.log" ||
    fail "no reason logged for the malformed key"
# WS1 may query (find), even the worklist; it may not report procedure steps.
wl WS1 "$WORK/query.dcm" >"$WORK/wl3.txt"
grep -q 'Final Find Response (Success)' "$WORK/wl3.txt" || fail "WS1 may query the worklist"
grep -q '(0010,0010) PN \[Nguyễn^Văn An *\]' "$WORK/wl3.txt" || fail "WS1 (UTF-8): $(grep 0010,0010 "$WORK/wl3.txt")"
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
line 1 | grep -q '^create status=0x0000 uid=[0-9.]*$' || fail "N-CREATE: $(line 1)"
line 2 | grep -q '^set status=0x0000 uid=[0-9.]*$' || fail "N-SET: $(line 2)"
line 3 | grep -q '^create status=0x0120 uid=[0-9.]* comment=N-CREATE without a dataset' ||
    fail "N-CREATE without attributes: $(line 3)"
line 4 | grep -q '^set status=0x0120 uid=1.2.3.4 comment=N-SET without a dataset' ||
    fail "N-SET without attributes: $(line 4)"
line 5 | grep -q '^create status=0x0000 uid=1.2.826.0.1.3680043.10.1347.99.1$' ||
    fail "N-CREATE with our UID: $(line 5)"
line 6 | grep -q "^create status=0x0106 uid=[0-9.]* comment=PerformedProcedureStepStatus (0040,0252): 'COMPLETED'" ||
    fail "N-CREATE COMPLETED: $(line 6)"
line 7 | grep -q '^create status=0x0120 uid=[0-9.]* comment=missing PerformedProcedureStepID' ||
    fail "N-CREATE without its step id: $(line 7)"
# Each change is a line in the audit trail, naming identifiers, never the name.
timeout 60 "$PACS" --data "$DATA" audit >"$WORK/audit.txt" 2>&1 || fail "pacs audit: $(cat "$WORK/audit.txt")"
grep '"action": *"patient"' "$WORK/audit.txt" | grep -q 'BN0001' || fail "no patient line in the audit trail"
grep '"action": *"order"' "$WORK/audit.txt" | grep -q 'place placer=PL1001 accession=ACC1001' ||
    fail "no order line in the audit trail: $(grep order "$WORK/audit.txt")"
grep -q 'mpps-set ' "$WORK/audit.txt" || fail "no MPPS line in the audit trail"
if grep -q 'Nguy' "$WORK/audit.txt"; then fail "a name in the audit trail"; fi
# The step MPPS completed has left the worklist; the other stays, across a restart.
wl CT1 "$WORK/query.dcm" >"$WORK/wl4.txt"
[ "$(grep -c 'Find Response: [0-9]* (Pending)' "$WORK/wl4.txt")" = 1 ] &&
    grep -q '(0008,0050) SH \[ACC1002 *\]' "$WORK/wl4.txt" ||
    fail "after MPPS COMPLETED: $(cat "$WORK/wl4.txt")"
stop_pacsd
start_pacsd --set dimse.access_control=true --set "ae.CT1=127.0.0.1:104 allow=find,mpps names=ascii"
wl CT1 "$WORK/query.dcm" >"$WORK/wl5.txt"
[ "$(grep -c 'Find Response: [0-9]* (Pending)' "$WORK/wl5.txt")" = 1 ] &&
    grep -q '(0008,0050) SH \[ACC1002 *\]' "$WORK/wl5.txt" ||
    fail "after a restart: $(cat "$WORK/wl5.txt")"
# The orders are in no object: `pacs reindex` (which rebuilds the index from the objects) keeps
# them.
stop_pacsd
timeout 120 "$PACS" --data "$DATA" ${PACS_INDEX:+--set "index=$PACS_INDEX"} reindex \
    >"$WORK/reindex.txt" 2>&1 || fail "reindex: $(cat "$WORK/reindex.txt")"
start_pacsd --set dimse.access_control=true --set "ae.CT1=127.0.0.1:104 allow=find,mpps names=ascii"
wl CT1 "$WORK/query.dcm" >"$WORK/wl6.txt"
[ "$(grep -c 'Find Response: [0-9]* (Pending)' "$WORK/wl6.txt")" = 1 ] &&
    grep -q '(0008,0050) SH \[ACC1002 *\]' "$WORK/wl6.txt" ||
    fail "after pacs reindex: $(cat "$WORK/wl6.txt")"
# The SCP made the first instance's UID and sent it back.
[ "$(line 1 | sed 's/.* uid=\([0-9.]*\).*/\1/')" != "" ] || fail "no instance UID made"
kill -0 "$PACSD_PID" || fail "pacsd died"
pass
