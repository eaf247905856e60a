#!/bin/sh
# SPDX-License-Identifier: MIT
# Reconciliation end to end (issue 16): the HIS registers a patient and places an order over
# MLLP (ADT^A01, ORM^O01); a modality stores a CT (made with pydicom) that carries the order's
# accession number but its own typo'd PatientID and a name without diacritics. The archive
# serves the study with the HIS's identity: QIDO by the health ID finds it, C-FIND at study
# level shows the Vietnamese name in UTF-8, the metadata keeps the received PatientID in an
# Original Attributes Sequence item, and the order has left the worklist (IN PROGRESS). Files
# served (WADO-RS, WADO-URI in the stored syntax and another, C-GET, and the copy a forwarding
# rule sends) carry the HIS's identity, coerced on the way out, while the stored object stays as
# received. An ADT^A08 renames the study, an ADT^A40 moves it to the surviving
# patient, each change a line in the audit trail; a restart keeps all of it.
. "$SRC/tests/lib.sh"
. "$SRC/tests/lib_dicomweb.sh"
trap_background

PYD=/usr/bin/python3 # Debian's, with python3-pydicom
HID=DN4010123456789 # the health ID (social-insurance number)
TYPO=DN4010123456798
"$PYD" - "$SAMPLES/test_files/CT_small.dcm" "$WORK/ct.dcm" "$TYPO" <<'PY' ||
import sys
from pydicom import dcmread
from pydicom.uid import generate_uid
ds = dcmread(sys.argv[1])
ds.AccessionNumber = "ACC2001"
ds.PatientID = sys.argv[3]
ds.PatientName = "NGUYEN^VAN AN"
ds.StudyInstanceUID = generate_uid()
ds.SeriesInstanceUID = generate_uid()
ds.SOPInstanceUID = generate_uid()
ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
ds.save_as(sys.argv[2])
PY
    fail "pydicom could not write the CT"
STUDY=$(dcm_value "$WORK/ct.dcm" 0020,000d)
SERIES=$(dcm_value "$WORK/ct.dcm" 0020,000e)
SOP=$(dcm_value "$WORK/ct.dcm" 0008,0018)

cat >"$WORK/wl.dump" <<'DUMP'
(0008,0005) CS [ISO_IR 192]
(0008,0050) SH []
(0010,0020) LO []
(0040,0100) SQ (Sequence with explicit length #=1)
  (fffe,e000) na (Item with explicit length #=2)
    (0040,0001) AE [CT1]
    (0040,0009) SH []
  (fffe,e00d) na (ItemDelimitationItem for re-encoding)
(fffe,e0dd) na (SequenceDelimitationItem for re-encoding)
DUMP
dump2dcm -q "$WORK/wl.dump" "$WORK/wl.dcm" 2>/dev/null || fail "dump2dcm"

# A forwarding rule sends every CT to REF (DCMTK's storescp).
ref_port=$(free_port)
start_storescp REF "$ref_port" "$WORK/ref" || fail "storescp REF"
printf 'ae.REF = 127.0.0.1:%s\nroute.to-ref = REF modality=CT\n' "$ref_port" >"$WORK/fwd.conf"
start_pacsd --config "$WORK/fwd.conf"
B="http://127.0.0.1:$HTTP_PORT/dicomweb"
MSH='MSH|^~\&|HIS|BV|PACS|BV|20240105083000'
PID="PID|1||BN0001^^^BVTINH^MR~$HID^^^BHXH^SS||Nguyễn^Văn An||19800215|M"
hl7() { # name messages...
    name=$1
    shift
    timeout 60 python3 "$SRC/tests/tools/mllp.py" "$HL7_PORT" "$@" >"$WORK/$name.txt" ||
        fail "MLLP $name: $(cat "$WORK/$name.txt")"
    [ "$(grep -c '^MSA|AA|' "$WORK/$name.txt")" = "$#" ] ||
        fail "$name not acknowledged AA: $(cat "$WORK/$name.txt")"
}
hl7 order "msg:$MSH||ADT^A01^ADT_A01|A1|P|2.5.1|||||VN|UNICODE UTF-8\\rEVN|A01\\r$PID\\rPV1|1|O" \
    "msg:$MSH||ORM^O01^ORM_O01|O1|P|2.5.1|||||VN|UNICODE UTF-8\\r$PID\\rORC|NW|PL2001|||SC||^^^20240106093000^^R\\rOBR|1|PL2001||CT01^CT sọ não^L||||||||||||||ACC2001|RP2001|SPS2001|CT1|||CT"
wl_items() {
    timeout 60 findscu -v -W -aec PACS -aet CT1 127.0.0.1 "$DIMSE_PORT" "$WORK/wl.dcm" 2>&1 |
        grep -c 'Find Response: [0-9]* (Pending)' || true
}
assert_eq 1 "$(wl_items)" "the order on the worklist before its images"

store "$WORK/ct.dcm" >"$WORK/store.log" 2>&1 || fail "storescu: $(tail -3 "$WORK/store.log")"

# QIDO by the health ID finds the study; by the PatientID the modality typed, nothing.
qido_study() { # PatientID expected-count
    assert_eq 200 "$(http_status "$B/studies?PatientID=$1&includefield=00101002")" "QIDO $1"
    json_check "len(d) == $2" "QIDO PatientID=$1: $2 studies expected"
}
qido_study "$HID" 1
json_check "d[0]['0020000D']['Value'] == ['$STUDY']" "QIDO: the study"
json_check "d[0]['00100010']['Value'][0]['Alphabetic'] == 'Nguyễn^Văn An'" "QIDO: the HIS's name"
json_check "d[0]['00101002']['Value'][0]['00100020']['Value'] == ['BN0001']" \
    "QIDO: the MRN as an Other Patient ID"
qido_study "$TYPO" 0

# C-FIND at study level: the HIS's name, in UTF-8.
find_dimse -S -k QueryRetrieveLevel=STUDY -k "PatientID=$HID" -k PatientName -k StudyInstanceUID \
    -k SpecificCharacterSet >"$WORK/find.txt"
grep -q 'Find Response: 1 (Pending)' "$WORK/find.txt" || fail "C-FIND: $(cat "$WORK/find.txt")"
grep -q '(0010,0010) PN \[Nguyễn^Văn An\]' "$WORK/find.txt" ||
    fail "C-FIND name: $(grep 0010,0010 "$WORK/find.txt")"

# The metadata: the served identity, and what was received in the Original Attributes Sequence.
assert_eq 200 "$(http_status "$B/studies/$STUDY/metadata")" "study metadata"
json_check "d[0]['00100020']['Value'] == ['$HID'] and d[0]['00100021']['Value'] == ['BHXH']" \
    "metadata: PatientID and issuer"
json_check "[i['04000550']['Value'][0]['00100020']['Value'] for i in d[0]['04000561']['Value']]
    == [['$TYPO']]" "metadata: the received PatientID in the Original Attributes Sequence"
json_check "d[0]['04000561']['Value'][0]['04000565']['Value'] == ['COERCE']" \
    "metadata: the reason for the modification"

# Files served carry the HIS's identity too, coerced on the way out: WADO-RS in the stored
# syntax, and C-GET; the received PatientID is in their Original Attributes Sequence.
retrieved_is_his() { # file what name
    "$PYD" - "$1" "$HID" "$TYPO" "$3" "$WORK/ct.dcm" <<'PY' || fail "$2: not the HIS's identity"
import sys
from pydicom import dcmread
ds = dcmread(sys.argv[1])
old = ds.OriginalAttributesSequence[0].ModifiedAttributesSequence[0]
assert ds.PatientID == sys.argv[2], ds.PatientID
assert ds.IssuerOfPatientID == "BHXH", ds.IssuerOfPatientID
assert str(ds.PatientName) == sys.argv[4], str(ds.PatientName)
assert old.PatientID == sys.argv[3], old.PatientID
assert ds.OtherPatientIDsSequence[0].PatientID == "BN0001"
assert ds.PixelData == dcmread(sys.argv[5]).PixelData
PY
}
assert_eq 200 "$(http_status -H 'Accept: multipart/related; type="application/dicom"; transfer-syntax=*' \
    "$B/studies/$STUDY/series/$SERIES/instances/$SOP")" "WADO-RS instance"
"$PYD" - "$WORK/body" "$WORK/wado.dcm" <<'PY' || fail "WADO-RS: not one DICOM part"
import sys
data = open(sys.argv[1], "rb").read()
start = data.index(b"\r\n\r\n") + 4
end = data.rindex(b"\r\n--")
open(sys.argv[2], "wb").write(data[start:end])
PY
retrieved_is_his "$WORK/wado.dcm" "WADO-RS instance" 'Nguyễn^Văn An'
mkdir "$WORK/get"
timeout 120 getscu -aec PACS -od "$WORK/get" -k QueryRetrieveLevel=STUDY -k "StudyInstanceUID=$STUDY" \
    127.0.0.1 "$DIMSE_PORT" >"$WORK/get.log" 2>&1 || fail "getscu: $(tail -3 "$WORK/get.log")"
retrieved_is_his "$(find "$WORK/get" -type f | head -1)" "C-GET" 'Nguyễn^Văn An'
# As dcmdump reads the bytes received: the HIS's PatientID and name (UTF-8), the received
# PatientID kept in the Original Attributes Sequence, and the transfer syntax asked for.
dumped_is_his() { # file what transfer-syntax-uid
    dcmdump -q -Un +U8 "$1" >"$WORK/dump.txt" 2>&1 || fail "$2: dcmdump: $(head -3 "$WORK/dump.txt")"
    grep -q "(0002,0010) UI \[$3\]" "$WORK/dump.txt" ||
        fail "$2: transfer syntax: $(grep 0002,0010 "$WORK/dump.txt")"
    awk '/\(0400,0561\)/ { exit } /\(0010,0020\)/ { print; exit }' "$WORK/dump.txt" |
        grep -q "\[$HID\]" || fail "$2: PatientID: $(grep 0010,0020 "$WORK/dump.txt")"
    grep -q '(0010,0010) PN \[Nguyễn^Văn An\]' "$WORK/dump.txt" ||
        fail "$2: PatientName: $(grep 0010,0010 "$WORK/dump.txt")"
    sed -n '/(0400,0561) SQ/,$p' "$WORK/dump.txt" | grep -q "(0010,0020) LO \[$TYPO\]" ||
        fail "$2: no Original Attributes Sequence with the received PatientID"
}
STORED_TS=$(dcmdump -q -Un +P 0002,0010 "$WORK/ct.dcm" | sed 's/.*\[\(.*\)\].*/\1/')
# WADO-URI, in the stored syntax, then in another (transferSyntax).
U="$B/wado?requestType=WADO&studyUID=$STUDY&seriesUID=$SERIES&objectUID=$SOP&contentType=application%2Fdicom"
assert_eq 200 "$(http_status "$U")" "WADO-URI"
cp "$WORK/body" "$WORK/uri.dcm"
dumped_is_his "$WORK/uri.dcm" "WADO-URI" "$STORED_TS"
retrieved_is_his "$WORK/uri.dcm" "WADO-URI" 'Nguyễn^Văn An'
assert_eq 200 "$(http_status "$U&transferSyntax=1.2.840.10008.1.2")" "WADO-URI implicit VR"
cp "$WORK/body" "$WORK/uri-ivr.dcm"
dumped_is_his "$WORK/uri-ivr.dcm" "WADO-URI transferSyntax=1.2.840.10008.1.2" 1.2.840.10008.1.2
retrieved_is_his "$WORK/uri-ivr.dcm" "WADO-URI implicit VR" 'Nguyễn^Văn An'
# The copy the forwarding rule sent.
wait_files "$WORK/ref" 1 60 || fail "nothing forwarded to REF: $(tail -3 "$WORK/pacsd.log")"
dumped_is_his "$(find "$WORK/ref" -type f | head -1)" "forwarded" "$STORED_TS"
retrieved_is_his "$(find "$WORK/ref" -type f | head -1)" "forwarded" 'Nguyễn^Văn An'
# The object itself is as received (content-addressed, never rewritten).
OBJECT=$(find "$DATA/objects" -type f)
[ "$(echo "$OBJECT" | wc -l)" = 1 ] || fail "not one stored object: $OBJECT"
"$PYD" - "$OBJECT" "$TYPO" <<'PY' || fail "the stored object is not as received"
import sys
from pydicom import dcmread
ds = dcmread(sys.argv[1])
assert ds.PatientID == sys.argv[2] and "OriginalAttributesSequence" not in ds
PY

# The order is IN PROGRESS: off the worklist.
assert_eq 0 "$(wl_items)" "the order on the worklist after its images"

# ADT^A08: the HIS corrects the name; the study is served with it.
hl7 rename "msg:$MSH||ADT^A08^ADT_A01|A2|P|2.5.1|||||VN|UNICODE UTF-8\\rEVN|A08\\r$(echo "$PID" |
    sed 's/Văn An/Văn Anh/')\\rPV1|1|O"
qido_study "$HID" 1
json_check "d[0]['00100010']['Value'][0]['Alphabetic'] == 'Nguyễn^Văn Anh'" "QIDO after ADT^A08"

# ADT^A40: the patient is a duplicate of another, who survives; the study moves to it.
SURV="PID|1||HN9990001^^^BHXH^SS||Trần^Thị Bình||19750101|F"
hl7 merge "msg:$MSH||ADT^A01^ADT_A01|A3|P|2.5.1|||||VN|UNICODE UTF-8\\rEVN|A01\\r$SURV\\rPV1|1|O" \
    "msg:$MSH||ADT^A40^ADT_A39|A4|P|2.5.1|||||VN|UNICODE UTF-8\\rEVN|A40\\r$SURV\\rMRG|$HID^^^BHXH^SS"
check_merged() {
    qido_study "$HID" 0
    qido_study HN9990001 1
    json_check "d[0]['0020000D']['Value'] == ['$STUDY']" "QIDO: the study under the survivor"
    json_check "d[0]['00100010']['Value'][0]['Alphabetic'] == 'Trần^Thị Bình'" \
        "QIDO: the survivor's name"
    find_dimse -S -k QueryRetrieveLevel=STUDY -k PatientID=HN9990001 -k PatientName \
        -k SpecificCharacterSet >"$WORK/find2.txt"
    grep -q '(0010,0010) PN \[Trần^Thị Bình\]' "$WORK/find2.txt" ||
        fail "C-FIND after the merge: $(cat "$WORK/find2.txt")"
    assert_eq 200 "$(http_status "$B/studies/$STUDY/metadata")" "study metadata after the merge"
    json_check "d[0]['00100020']['Value'] == ['HN9990001']" "metadata after the merge"
    json_check "[i['04000550']['Value'][0].get('00100020', {}).get('Value')
        for i in d[0]['04000561']['Value']] == [['$TYPO'], None, ['$HID']]" \
        "metadata: one Original Attributes item per change"
    rm -rf "$WORK/get2" && mkdir "$WORK/get2"
    timeout 120 getscu -aec PACS -od "$WORK/get2" -k QueryRetrieveLevel=STUDY \
        -k "StudyInstanceUID=$STUDY" 127.0.0.1 "$DIMSE_PORT" >"$WORK/get2.log" 2>&1 ||
        fail "getscu: $(tail -3 "$WORK/get2.log")"
    "$PYD" - "$(find "$WORK/get2" -type f | head -1)" <<'PY' || fail "C-GET after the merge"
import sys
from pydicom import dcmread
ds = dcmread(sys.argv[1])
assert ds.PatientID == "HN9990001", ds.PatientID
assert str(ds.PatientName) == "Trần^Thị Bình", str(ds.PatientName)
assert len(ds.OriginalAttributesSequence) == 3
PY
}
check_merged

# Every change is a line in the audit trail, naming identifiers and the study, never the name.
timeout 60 "$PACS" --data "$DATA" audit >"$WORK/audit.txt" 2>&1 ||
    fail "pacs audit: $(cat "$WORK/audit.txt")"
audited() { # detail patient-id
    grep "\"detail\":\"$1" "$WORK/audit.txt" | grep "$2" | grep -q "\"study\":\"$STUDY\"" ||
        fail "no audit line '$1' for $2"
}
audited 'reconcile study to placer=PL2001' "\"patient\":\"$HID\""
audited 'in progress placer=PL2001' '"action":"order"'
audited 'reconcile study after update' "\"patient\":\"$HID\""
audited 'reconcile study after merge' '"patient":"HN9990001"'
if grep -q -e 'Nguy' -e 'Trần' "$WORK/audit.txt"; then fail "a name in the audit trail"; fi

# A restart keeps all of it.
stop_pacsd
start_pacsd
B="http://127.0.0.1:$HTTP_PORT/dicomweb"
check_merged
assert_eq 0 "$(wl_items)" "the order on the worklist after a restart"
pass
