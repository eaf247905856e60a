#!/bin/sh
# SPDX-License-Identifier: MIT
# Reconciliation of images stored before their order (issue 16). The HIS registers a patient;
# a modality stores a CT (pydicom) with an accession number no order has yet, a typo'd PatientID
# and a name without diacritics, and a second instance of the same study in HTJ2K (made by
# pacsd's own transcoder from another CT, sent over STOW-RS). Nothing is reconciled until the
# HIS places the order (ORM^O01): then, in the same transaction, the stored study takes the
# patient's identity (QIDO by the health ID, C-FIND, metadata with the received PatientID in an
# Original Attributes Sequence item), the order goes IN PROGRESS (off the worklist), the audit
# trail says so, and WADO-URI sends both instances with the HIS's identity: the HTJ2K one still
# HTJ2K, its pixel data byte for byte as stored. A restart keeps all of it. Then a modality that
# writes no accession number into its images reports them in an MPPS (tests/tools/mppsscu):
# the series its N-SET's Performed Series Sequence names are reconciled to the order its
# Scheduled Step Attributes Sequence names, the one stored before the N-SET and the one after.
. "$SRC/tests/lib.sh"
. "$SRC/tests/lib_dicomweb.sh"

PYD=/usr/bin/python3 # Debian's, with python3-pydicom
HID=DN4010123456789
TYPO=DN4010123456798
HTJ2K=1.2.840.10008.1.2.4.201
"$PYD" - "$SAMPLES/test_files/CT_small.dcm" "$WORK" "$TYPO" <<'PY' || fail "pydicom could not write the CTs"
import sys
from pydicom import dcmread
from pydicom.uid import generate_uid
for name, accession in (("ct.dcm", "ACC3001"), ("other.dcm", "ACC3999"), ("mpps1.dcm", ""),
                        ("mpps2.dcm", "")):
    ds = dcmread(sys.argv[1])
    ds.AccessionNumber = accession
    ds.PatientID = sys.argv[3]
    ds.PatientName = "NGUYEN^VAN AN"
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.save_as(sys.argv[2] + "/" + name)
PY
STUDY=$(dcm_value "$WORK/ct.dcm" 0020,000d)
SERIES=$(dcm_value "$WORK/ct.dcm" 0020,000e)
SOP=$(dcm_value "$WORK/ct.dcm" 0008,0018)
OTHER_ST=$(dcm_value "$WORK/other.dcm" 0020,000d)

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
wl_items() {
    timeout 60 findscu -v -W -aec PACS -aet CT1 127.0.0.1 "$DIMSE_PORT" "$WORK/wl.dcm" 2>&1 |
        grep -c 'Find Response: [0-9]* (Pending)' || true
}

start_pacsd
B="http://127.0.0.1:$HTTP_PORT/dicomweb"
MSH='MSH|^~\&|HIS|BV|PACS|BV|20240105083000'
PIDSEG="PID|1||BN0001^^^BVTINH^MR~$HID^^^BHXH^SS||Nguyễn^Văn An||19800215|M"
hl7() { # name messages...
    name=$1
    shift
    timeout 60 python3 "$SRC/tests/tools/mllp.py" "$HL7_PORT" "$@" >"$WORK/$name.txt" ||
        fail "MLLP $name: $(cat "$WORK/$name.txt")"
    [ "$(grep -c '^MSA|AA|' "$WORK/$name.txt")" = "$#" ] ||
        fail "$name not acknowledged AA: $(cat "$WORK/$name.txt")"
}
hl7 patient "msg:$MSH||ADT^A01^ADT_A01|A1|P|2.5.1|||||VN|UNICODE UTF-8\\rEVN|A01\\r$PIDSEG\\rPV1|1|O"

# The modality stores before the HIS orders: the CT, and the other CT to make the HTJ2K from.
store "$WORK/ct.dcm" "$WORK/other.dcm" >"$WORK/store.log" 2>&1 ||
    fail "storescu: $(tail -3 "$WORK/store.log")"
# The other CT in HTJ2K, from pacsd's transcoder (it names no order: nothing coerced), made an
# instance of the first study with the accession number to come; stored over STOW-RS.
assert_eq 200 "$(http_status -H "Accept: multipart/related; type=\"application/dicom\"; transfer-syntax=$HTJ2K" \
    "$B/studies/$OTHER_ST")" "WADO-RS in HTJ2K"
"$PYD" - "$WORK/body" "$WORK/ht.dcm" "$STUDY" <<'PY' || fail "could not make the HTJ2K instance"
import sys
from pydicom import dcmread
from pydicom.filebase import DicomBytesIO
from pydicom.uid import UID, generate_uid
# pydicom 2.3 predates HTJ2K: tell its writer that the syntax is encapsulated, as all are.
known = UID.is_compressed
UID.is_compressed = property(lambda u: u.startswith("1.2.840.10008.1.2.4.20") or known.fget(u))
data = open(sys.argv[1], "rb").read()
part = data[data.index(b"\r\n\r\n") + 4:data.rindex(b"\r\n--")]
ds = dcmread(DicomBytesIO(part))  # an unknown syntax to pydicom 2.3: read as explicit LE
assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.201"
ds.StudyInstanceUID = sys.argv[3]
ds.SeriesInstanceUID = generate_uid()
ds.SOPInstanceUID = generate_uid()
ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
ds.AccessionNumber = "ACC3001"
ds.save_as(sys.argv[2], write_like_original=True)
PY
HT_SERIES=$(dcm_value "$WORK/ht.dcm" 0020,000e)
HT_SOP=$(dcm_value "$WORK/ht.dcm" 0008,0018)
stow_body PACSTEST "$WORK/stow.body" "$WORK/ht.dcm"
assert_eq 200 "$(stow_post "$B/studies" "$WORK/stow.body")" "STOW-RS of the HTJ2K instance"

qido_study() { # PatientID expected-count
    assert_eq 200 "$(http_status "$B/studies?PatientID=$1")" "QIDO $1"
    json_check "len(d) == $2" "QIDO PatientID=$1: $2 studies expected"
}
# Before the order: the study is the modality's.
qido_study "$HID" 0
qido_study "$TYPO" 2

hl7 order "msg:$MSH||ORM^O01^ORM_O01|O1|P|2.5.1|||||VN|UNICODE UTF-8\\r$PIDSEG\\rORC|NW|PL3001|||SC||^^^20240106093000^^R\\rOBR|1|PL3001||CT01^CT sọ não^L||||||||||||||ACC3001|RP3001|SPS3001|CT1|||CT"

check_reconciled() {
    qido_study "$HID" 1
    json_check "d[0]['0020000D']['Value'] == ['$STUDY']" "QIDO: the study stored before its order"
    json_check "d[0]['00100010']['Value'][0]['Alphabetic'] == 'Nguyễn^Văn An'" "QIDO: the HIS's name"
    json_check "d[0]['00201208']['Value'] == [2]" "QIDO: both instances"
    qido_study "$TYPO" 1 # the other study names no order
    find_dimse -S -k QueryRetrieveLevel=STUDY -k "PatientID=$HID" -k PatientName \
        -k StudyInstanceUID -k SpecificCharacterSet >"$WORK/find.txt"
    grep -q '(0010,0010) PN \[Nguyễn^Văn An\]' "$WORK/find.txt" ||
        fail "C-FIND name: $(cat "$WORK/find.txt")"
    assert_eq 200 "$(http_status "$B/studies/$STUDY/metadata")" "study metadata"
    json_check "len(d) == 2 and all(i['00100020']['Value'] == ['$HID'] for i in d)" \
        "metadata: the HIS's PatientID on both instances"
    json_check "all([x['04000550']['Value'][0]['00100020']['Value'] for x in i['04000561']['Value']]
        == [['$TYPO']] for i in d)" "metadata: the received PatientID kept, once"
    # The order is IN PROGRESS: off the worklist.
    assert_eq 0 "$(wl_items)" "the order on the worklist once its images are found"
}
check_reconciled

# WADO-URI: both instances with the HIS's identity, the HTJ2K one still in HTJ2K, its pixel
# data as stored (copied, not transcoded).
U="$B/wado?requestType=WADO&studyUID=$STUDY&contentType=application%2Fdicom"
assert_eq 200 "$(http_status "$U&seriesUID=$SERIES&objectUID=$SOP")" "WADO-URI of the CT"
cp "$WORK/body" "$WORK/uri.dcm"
dcmdump -q -Un +U8 "$WORK/uri.dcm" >"$WORK/dump.txt" 2>&1 || fail "dcmdump: $(head -3 "$WORK/dump.txt")"
awk '/\(0400,0561\)/ { exit } /\(0010,0020\)/ { print; exit }' "$WORK/dump.txt" |
    grep -q "\[$HID\]" || fail "WADO-URI: PatientID: $(grep 0010,0020 "$WORK/dump.txt")"
grep -q '(0010,0010) PN \[Nguyễn^Văn An\]' "$WORK/dump.txt" || fail "WADO-URI: PatientName"
sed -n '/(0400,0561) SQ/,$p' "$WORK/dump.txt" | grep -q "(0010,0020) LO \[$TYPO\]" ||
    fail "WADO-URI: no Original Attributes Sequence with the received PatientID"
assert_eq 200 "$(http_status "$U&seriesUID=$HT_SERIES&objectUID=$HT_SOP")" "WADO-URI of the HTJ2K"
"$PYD" - "$WORK/body" "$WORK/ht.dcm" "$HID" "$TYPO" <<'PY' || fail "WADO-URI of the HTJ2K instance"
import sys
from pydicom import dcmread
got, sent = dcmread(sys.argv[1]), dcmread(sys.argv[2])
assert got.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.201", got.file_meta.TransferSyntaxUID
assert got.PatientID == sys.argv[3], got.PatientID
assert str(got.PatientName) == "Nguyễn^Văn An", str(got.PatientName)
assert got.OriginalAttributesSequence[0].ModifiedAttributesSequence[0].PatientID == sys.argv[4]
assert got.PixelData == sent.PixelData, "pixel data changed"
PY

# The audit trail: the study reconciled when the order came, the order taken IN PROGRESS.
timeout 60 "$PACS" --data "$DATA" audit >"$WORK/audit.txt" 2>&1 ||
    fail "pacs audit: $(cat "$WORK/audit.txt")"
grep '"detail":"reconcile study to placer=PL3001 (stored before the order)' "$WORK/audit.txt" |
    grep "\"patient\":\"$HID\"" | grep -q "\"study\":\"$STUDY\"" ||
    fail "no audit line for the study reconciled to the late order"
grep -q '"detail":"in progress placer=PL3001 (images arrived)' "$WORK/audit.txt" ||
    fail "no audit line for the order going IN PROGRESS"

stop_pacsd
start_pacsd
B="http://127.0.0.1:$HTTP_PORT/dicomweb"
check_reconciled

# MPPS: images without an accession number, named by the Performed Series Sequence.
hl7 order2 "msg:$MSH||ORM^O01^ORM_O01|O2|P|2.5.1|||||VN|UNICODE UTF-8\\r$PIDSEG\\rORC|NW|PL3002|||SC||^^^20240106103000^^R\\rOBR|1|PL3002||CT01^CT sọ não^L||||||||||||||ACC3002|RP3002|SPS3002|CT1|||CT"
M1_ST=$(dcm_value "$WORK/mpps1.dcm" 0020,000d)
M2_ST=$(dcm_value "$WORK/mpps2.dcm" 0020,000d)
cat >"$WORK/create.dump" <<'DUMP'
(0008,0060) CS [CT]
(0040,0241) AE [CT1]
(0040,0244) DA [20240106]
(0040,0245) TM [103000]
(0040,0252) CS [IN PROGRESS]
(0040,0253) SH [PPS3002]
(0040,0270) SQ (Sequence with explicit length #=1)
  (fffe,e000) na (Item with explicit length #=2)
    (0008,0050) SH [ACC3002]
    (0040,0009) SH [SPS3002]
  (fffe,e00d) na (ItemDelimitationItem for re-encoding)
(fffe,e0dd) na (SequenceDelimitationItem for re-encoding)
DUMP
cat >"$WORK/set.dump" <<DUMP
(0040,0252) CS [COMPLETED]
(0040,0250) DA [20240106]
(0040,0251) TM [104500]
(0040,0340) SQ (Sequence with explicit length #=2)
  (fffe,e000) na (Item with explicit length #=1)
    (0020,000e) UI [$(dcm_value "$WORK/mpps1.dcm" 0020,000e)]
  (fffe,e00d) na (ItemDelimitationItem for re-encoding)
  (fffe,e000) na (Item with explicit length #=1)
    (0020,000e) UI [$(dcm_value "$WORK/mpps2.dcm" 0020,000e)]
  (fffe,e00d) na (ItemDelimitationItem for re-encoding)
(fffe,e0dd) na (SequenceDelimitationItem for re-encoding)
DUMP
for f in create set; do
    dump2dcm -q "$WORK/$f.dump" "$WORK/$f.dcm" 2>/dev/null || fail "dump2dcm $f"
done
served_pid() { # study
    assert_eq 200 "$(http_status "$B/studies?StudyInstanceUID=$1")" "QIDO study $1"
    py "d = json.load(open('$WORK/body', 'rb')); print(d[0]['00100020']['Value'][0])"
}
store "$WORK/mpps1.dcm" >"$WORK/store2.log" 2>&1 || fail "storescu: $(tail -3 "$WORK/store2.log")"
assert_eq "$TYPO" "$(served_pid "$M1_ST")" "the series before its MPPS: the modality's PatientID"
timeout 60 "$MPPSSCU" --aet CT1 127.0.0.1 "$DIMSE_PORT" create:"$WORK/create.dcm" \
    set:last:"$WORK/set.dcm" >"$WORK/mpps.txt" 2>&1 || fail "mppsscu: $(cat "$WORK/mpps.txt")"
[ "$(grep -c 'status=0x0000' "$WORK/mpps.txt")" = 2 ] || fail "MPPS: $(cat "$WORK/mpps.txt")"
assert_eq "$HID" "$(served_pid "$M1_ST")" "the series stored before the MPPS N-SET"
store "$WORK/mpps2.dcm" >"$WORK/store3.log" 2>&1 || fail "storescu: $(tail -3 "$WORK/store3.log")"
assert_eq "$HID" "$(served_pid "$M2_ST")" "the series stored after the MPPS N-SET"
assert_eq 200 "$(http_status "$B/studies/$M1_ST/metadata")" "MPPS study metadata"
json_check "[x['04000550']['Value'][0]['00100020']['Value'] for x in d[0]['04000561']['Value']]
    == [['$TYPO']]" "MPPS study: the received PatientID kept"
timeout 60 "$PACS" --data "$DATA" audit >"$WORK/audit2.txt" 2>&1 ||
    fail "pacs audit: $(cat "$WORK/audit2.txt")"
grep '"detail":"reconcile study to placer=PL3002 (MPPS performed series)' "$WORK/audit2.txt" |
    grep -q "\"study\":\"$M1_ST\"" || fail "no audit line for the study the MPPS linked"
stop_pacsd
start_pacsd
B="http://127.0.0.1:$HTTP_PORT/dicomweb"
assert_eq "$HID" "$(served_pid "$M2_ST")" "the MPPS's series after a restart"
pass
