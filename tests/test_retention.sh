#!/bin/sh
# SPDX-License-Identifier: MIT
# Retention rules (issue 21, storage/retention.h): studies of several modalities and dates, one
# with a live share link, one reconciled to an order still IN PROGRESS (ADT^A01 + ORM^O01 over
# MLLP), one without a StudyDate. `pacs retention --dry-run` lists exactly the studies the rules
# take, with their instances and bytes, and changes nothing; a rule with :shares takes the
# shared one too; the real run deletes exactly those studies (C-FIND before and after), one
# audit line each, and `pacs verify` stays clean.
. "$SRC/tests/lib.sh"
: "${PACS:?PACS must point to the pacs tool}"
pacs() { timeout 300 "$PACS" --data "$DATA" ${PACS_INDEX:+--set "index=$PACS_INDEX"} "$@"; }
RULES="CT:10, MR:30, *:15"

start_pacsd
Y=$(date -u +%Y)
# name source modality StudyDate ("" none) [accession]: a study of one instance of its own.
mk() {
    cp "$SAMPLES/test_files/$2.dcm" "$WORK/$1.dcm"
    chmod u+w "$WORK/$1.dcm"
    set -- "$1" "$2" "$3" "$4" "${5:-ACC$1}"
    if [ -n "$4" ]; then
        date_arg="(0008,0020)=$4"
    else
        date_arg="(0008,0020)="
    fi
    timeout 60 dcmodify -nb -q -gst -gse -gin -m "(0008,0060)=$3" -m "$date_arg" \
        -i "(0008,0050)=$5" "$WORK/$1.dcm" || fail "dcmodify $1"
    store "$WORK/$1.dcm" >"$WORK/store.log" 2>&1 || fail "storescu $1: $(tail -3 "$WORK/store.log")"
    eval "$1=\$(uid_value \"\$WORK/\$1.dcm\" 0020,000d)"
}
mk OLDCT CT_small CT 20010101      # CT older than 10 years: goes
mk NEWCT CT_small CT "$((Y - 2))0101" # CT 2 years old: stays
mk OLDMR MR_small MR 20050101      # MR kept 30 years: stays
mk OLDCR CT_small CR 20030101      # CR, only * (15 years) applies: goes
mk SHARED CT_small CT 20020101     # old, but a live share link: stays
mk NODATE CT_small CT ""           # no StudyDate: never taken
# An old CT reconciled to an order that is IN PROGRESS (its images arrived): stays.
MSH='MSH|^~\&|HIS|BV|PACS|BV|20240105083000'
PID='PID|1||BN0001^^^BVTINH^MR~DN4010123456789^^^BHXH^SS||Tran^Van Binh||19800215|M'
timeout 60 python3 "$SRC/tests/tools/mllp.py" "$HL7_PORT" \
    "msg:$MSH||ADT^A01^ADT_A01|A1|P|2.5.1|||||VN|UNICODE UTF-8\\rEVN|A01\\r$PID\\rPV1|1|O" \
    "msg:$MSH||ORM^O01^ORM_O01|O1|P|2.5.1|||||VN|UNICODE UTF-8\\r$PID\\rORC|NW|PL3001|||SC||^^^20020106093000^^R\\rOBR|1|PL3001||CT01^CT^L||||||||||||||ACCORD|RP3001|SPS3001|CT1|||CT" \
    >"$WORK/hl7.txt" || fail "MLLP: $(cat "$WORK/hl7.txt")"
[ "$(grep -c '^MSA|AA|' "$WORK/hl7.txt")" = 2 ] || fail "HL7 not acknowledged: $(cat "$WORK/hl7.txt")"
mk ORDERED CT_small CT 20020101 ACCORD
pacs --set hospital.name=Test share "$SHARED" >"$WORK/share.txt" 2>&1 ||
    fail "pacs share: $(cat "$WORK/share.txt")"

studies() {
    find_dimse -S -k QueryRetrieveLevel=STUDY -k StudyInstanceUID |
        sed -n 's/.*(0020,000d) UI \[\([0-9.]*\).*/\1/p' | sort
}
ALL=$(studies)
assert_eq 7 "$(echo "$ALL" | wc -l | tr -d ' ')" "studies stored"
BYTES0=$(pacs stats | sed -n 's/^bytes: \([0-9]*\).*/\1/p')

# The dry run: exactly OLDCT and OLDCR, oldest first, with their counts; nothing changes.
pacs --set "retention.rules=$RULES" retention --dry-run >"$WORK/dry.out" 2>&1 ||
    fail "pacs retention --dry-run: $(cat "$WORK/dry.out")"
cat "$WORK/dry.out"
assert_eq "$OLDCT $OLDCR" "$(sed -n 's/^would delete study=\([0-9.]*\) .*/\1/p' "$WORK/dry.out" | tr '\n' ' ' | sed 's/ $//')" \
    "studies the dry run lists, oldest first"
grep -q "^would delete study=$OLDCT date=20010101 modalities=\\\\CT\\\\ instances=1 bytes=[1-9][0-9]* rule=CT:10$" \
    "$WORK/dry.out" || fail "the dry run's line for the old CT"
grep -q "^would delete study=$OLDCR .* rule=\*:15$" "$WORK/dry.out" || fail "the dry run's line for the CR"
LISTED=$(sed -n 's/^would delete study=.* bytes=\([0-9]*\) .*/\1/p' "$WORK/dry.out" | awk '{ t += $1 } END { print t }')
grep -q "^would delete: 2 studies, 2 instances, $LISTED bytes .*kept: 1 for an open order, 1 for a live share link; 0 failed$" \
    "$WORK/dry.out" || fail "the dry run's totals: $(tail -1 "$WORK/dry.out")"
assert_eq "$ALL" "$(studies)" "studies after the dry run"
assert_eq "$BYTES0" "$(pacs stats | sed -n 's/^bytes: \([0-9]*\).*/\1/p')" "bytes after the dry run"

# A rule that says so takes the shared study too.
pacs --set "retention.rules=CT:10:shares, MR:30, *:15" retention --dry-run >"$WORK/dry2.out" 2>&1 ||
    fail "pacs retention --dry-run (:shares): $(cat "$WORK/dry2.out")"
assert_eq "$OLDCT $SHARED $OLDCR" "$(sed -n 's/^would delete study=\([0-9.]*\) .*/\1/p' "$WORK/dry2.out" | tr '\n' ' ' | sed 's/ $//')" \
    "studies a :shares rule lists"

# The real run deletes exactly those two, through the archive's delete path.
pacs --set "retention.rules=$RULES" retention >"$WORK/run.out" 2>&1 ||
    fail "pacs retention: $(cat "$WORK/run.out")"
cat "$WORK/run.out"
assert_eq "$OLDCT $OLDCR" "$(sed -n 's/^deleted study=\([0-9.]*\) .*/\1/p' "$WORK/run.out" | tr '\n' ' ' | sed 's/ $//')" \
    "studies deleted"
EXPECT=$(echo "$ALL" | grep -v -e "^$OLDCT\$" -e "^$OLDCR\$")
assert_eq "$EXPECT" "$(studies)" "studies left"
BYTES1=$(pacs stats | sed -n 's/^bytes: \([0-9]*\).*/\1/p')
assert_eq "$((BYTES0 - LISTED))" "$BYTES1" "bytes left"
pacs verify >"$WORK/verify.log" 2>&1 || fail "pacs verify: $(cat "$WORK/verify.log")"
pacs audit >"$WORK/audit.out" 2>&1 || fail "pacs audit"
for st in "$OLDCT" "$OLDCR"; do
    grep "\"action\":\"delete\"" "$WORK/audit.out" | grep -q "\"study\":\"$st\"" ||
        fail "no delete line for $st in the audit trail"
done
# Nothing left to take.
pacs --set "retention.rules=$RULES" retention >"$WORK/run2.out" 2>&1 || fail "second run"
grep -q '^deleted: 0 studies' "$WORK/run2.out" || fail "second run: $(cat "$WORK/run2.out")"
pass
