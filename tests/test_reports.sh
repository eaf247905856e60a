#!/bin/sh
# SPDX-License-Identifier: MIT
# Reports in the study and the health record link (issue 17), with http.auth = required. Three
# CT studies of two patients registered over FHIR by their health ID (bhxh). A report by each
# route, each served back over WADO-RS (dcmdump shows its text and flags) and as a FHIR
# DiagnosticReport:
#   - the JSON call: a preliminary report on study A, then a final one amending it (the
#     Predecessor Documents Sequence names the first, which is kept);
#   - STOW-RS of a final Basic Text SR (xml2dsr) to study C and of an Encapsulated PDF
#     (pdf2dcm) to study B: the PDF is the DiagnosticReport's presentedForm, fetched back;
#   - HL7 ORU^R01 from the npm HL7 client (tests/node/hl7_oru_test.js): a final report on B
#     found by accession number (OBR-18), a corrected one on C amending the STOW-RS SR.
# FHIR: ImagingStudy searched by health ID finds exactly that person's studies (A and C, or B),
# with series, instances and the DICOMweb Endpoint; every FHIR answer validates against the R4
# JSON schema (tests/node/fhir_schema_test.js). The share page of A shows the final report's
# text, not the preliminary one. Bad input: a report for an unknown study (404), bad JSON and
# bad members (400), a read-only key (403), an ORU with an unknown accession (AE, ERR at
# OBR-18, nothing stored), malformed FHIR searches (400 OperationOutcome).
. "$SRC/tests/lib.sh"

node_setup fhir_schema_test.js hl7_oru_test.js
mkdir -p "$WORK/fhir" "$WORK/a" "$WORK/b" "$WORK/c"

BHXH=http://fhir.ehealth.gov.vn/core/sid/insurance_number
P1=DN4010000000001
P2=DN4010000000002
A=$(new_uid)
B=$(new_uid)
C=$(new_uid)
# study dir uid patient-id accession name
make_study() {
    gen_ct "$1" "$2" "$2.1" 2
    for f in "$1"/*.dcm; do
        dcmodify -nb -m "(0010,0020)=$3" -m "(0008,0050)=$4" -m "(0010,0010)=$5" "$f" \
            >/dev/null 2>&1 || fail "dcmodify $f"
    done
}
make_study "$WORK/a" "$A" "$P1" ACC3001 "NGUYEN^VAN AN"
make_study "$WORK/b" "$B" "$P2" ACC3002 "TRAN^THI BINH"
make_study "$WORK/c" "$C" "$P1" ACC3003 "NGUYEN^VAN AN"

KEY=admin-key-for-test-reports
RKEY=reader-key-for-test-reports
hash() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
start_pacsd --set http.auth=required --set "auth.key.admin=sha256:$(hash "$KEY") read write" \
    --set "auth.key.reader=sha256:$(hash "$RKEY") read"
S="http://127.0.0.1:$HTTP_PORT"
D="$S/dicomweb"
F="$S/fhir"
AUTH="Authorization: Bearer $KEY"

# ---- the patients (FHIR) and their studies (C-STORE) ----
patient() { # id family given
    printf '{"resourceType": "Patient", "identifier": [{"system": "%s", "value": "%s"}], "name": [{"family": "%s", "given": ["%s"]}]}' \
        "$BHXH" "$1" "$2" "$3" >"$WORK/p.json"
    st=$(curl -sS --max-time 60 -o "$WORK/p.out" -w '%{http_code}' -H "$AUTH" \
        -H 'Content-Type: application/fhir+json' --data-binary @"$WORK/p.json" "$F/Patient")
    assert_eq 201 "$st" "FHIR Patient $1: $(cat "$WORK/p.out")"
}
patient "$P1" Nguyễn "Văn An"
patient "$P2" Trần "Thị Bình"
store "$WORK"/a/*.dcm "$WORK"/b/*.dcm "$WORK"/c/*.dcm >"$WORK/store.log" 2>&1 ||
    fail "storescu: $(tail -3 "$WORK/store.log")"

# ---- 1. the JSON call ----
report() { # study json [key]: status; the answer in $WORK/body
    curl -sS --max-time 60 -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' -X POST \
        -H "Authorization: Bearer ${3:-$KEY}" -H 'Content-Type: application/json' \
        --data-binary "$2" "$D/studies/$1/reports"
}
# The value of a JSON member of $WORK/body, or of the file given (tests/lib.sh json_value).
jget() { json_value "${2:-$WORK/body}" "$1"; }
PRELIM_TEXT="Phổi hai bên sáng, chờ so sánh phim cũ."
FINAL_TEXT="Không thấy tổn thương khu trú. Kết luận: bình thường."
st=$(report "$A" "{\"text\": \"$PRELIM_TEXT\", \"author\": \"Lê^Văn Cường\", \"status\": \"preliminary\"}")
assert_eq 201 "$st" "preliminary report: $(cat "$WORK/body")"
SR1=$(jget SOPInstanceUID)
SE1=$(jget SeriesInstanceUID)
assert_eq "$A" "$(jget StudyInstanceUID)" "the report's study"
assert_eq 1.2.840.10008.5.1.4.1.1.88.11 "$(jget SOPClassUID)" "the report's class"
assert_eq "$D/studies/$A/series/$SE1/instances/$SR1" "$(jget url)" "the report's WADO-RS URL"
grep -qi "^Location: $D/studies/$A/series/$SE1/instances/$SR1" "$WORK/headers" ||
    fail "no Location for the report"
st=$(report "$A" "{\"text\": \"$FINAL_TEXT\", \"author\": \"Lê^Văn Cường\", \"status\": \"final\", \"amends\": \"$SR1\", \"organization\": \"Bệnh viện tỉnh\"}")
assert_eq 201 "$st" "final report: $(cat "$WORK/body")"
SR2=$(jget SOPInstanceUID)
SE2=$(jget SeriesInstanceUID)
[ "$SR2" != "$SR1" ] || fail "the amendment has the amended document's UID"

# Bad input: nothing stored, each with its status.
st=$(report 1.2.3.4.5.6 '{"text": "x", "author": "A^B", "status": "final"}')
assert_eq 404 "$st" "report for an unknown study"
st=$(report "$A" '{"text": "x", "author": ')
assert_eq 400 "$st" "report with bad JSON"
st=$(report "$A" '{"text": "x", "author": "A^B", "status": "signed"}')
assert_eq 400 "$st" "report with a bad status"
st=$(report "$A" '{"text": "x", "author": "A^B", "status": "final", "colour": "red"}')
assert_eq 400 "$st" "report with an unknown member"
st=$(report "$A" '{"text": "", "author": "A^B", "status": "final"}')
assert_eq 400 "$st" "report without text"
st=$(report "$A" "{\"text\": \"x\", \"author\": \"A^B\", \"status\": \"final\", \"amends\": \"$A.1.1\"}")
assert_eq 400 "$st" "report amending an instance that is no report: $(cat "$WORK/body")"
st=$(report "$A" '{"text": "x", "author": "A^B", "status": "final"}' "$RKEY")
assert_eq 403 "$st" "report with a read-only key"
st=$(curl -sS --max-time 60 -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data '{"text": "x", "author": "A^B", "status": "final"}' "$D/studies/$A/reports")
assert_eq 401 "$st" "report without a credential"

# ---- 2. STOW-RS: a Basic Text SR (to C) and an Encapsulated PDF (to B) ----
cat >"$WORK/sr.xml" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<report type="Basic Text SR">
<sopclass uid="1.2.840.10008.5.1.4.1.1.88.11">BasicTextSRStorage</sopclass>
<charset>ISO_IR 192</charset>
<modality>SR</modality>
<patient><id>$P1</id><name><last>NGUYEN</last><first>VAN AN</first></name></patient>
<study uid="$C"><accession><number>ACC3003</number></accession></study>
<series uid="$C.990"><number>990</number></series>
<instance uid="$C.990.1"><number>1</number></instance>
<document>
<completion flag="COMPLETE"/>
<verification flag="VERIFIED"><observer pos="1"><datetime>2024-05-02T10:00:00</datetime>
<name><last>Phạm</last><first>Thu Hà</first></name><organization>Bệnh viện tỉnh</organization></observer>
</verification>
<content><date>2024-05-02</date><time>10:00:00</time>
<container flag="SEPARATE"><concept><value>18748-4</value><scheme><designator>LN</designator></scheme><meaning>Diagnostic Imaging Report</meaning></concept>
<text><relationship>CONTAINS</relationship><concept><value>121071</value><scheme><designator>DCM</designator></scheme><meaning>Finding</meaning></concept><value>Gan to nhẹ.</value></text>
</container></content>
</document>
</report>
XML
xml2dsr "$WORK/sr.xml" "$WORK/sr.dcm" >"$WORK/sr.log" 2>&1 || fail "xml2dsr: $(cat "$WORK/sr.log")"
make_pdf "$WORK/report.pdf"
pdf2dcm --title "Kết quả CT" +st "$WORK/b/ct-1.dcm" -k AccessionNumber=ACC3002 "$WORK/report.pdf" "$WORK/pdf.dcm" \
    >"$WORK/pdf.log" 2>&1 || fail "pdf2dcm: $(cat "$WORK/pdf.log")"
PDF_SOP=$(dcm_value "$WORK/pdf.dcm" 0008,0018)
stow() { # study file
    stow_body PACSTEST "$WORK/stow.body" "$2"
    curl -sS --max-time 120 -o "$WORK/body" -w '%{http_code}' -H "$AUTH" \
        -H 'Content-Type: multipart/related; type="application/dicom"; boundary=PACSTEST' \
        -H 'Accept: application/dicom+json' --data-binary @"$WORK/stow.body" "$D/studies/$1"
}
. "$SRC/tests/lib_dicomweb.sh"
assert_eq 200 "$(stow "$C" "$WORK/sr.dcm")" "STOW-RS of the SR: $(cat "$WORK/body")"
assert_eq 200 "$(stow "$B" "$WORK/pdf.dcm")" "STOW-RS of the PDF: $(cat "$WORK/body")"

# ---- 3. HL7 ORU^R01 from the npm client ----
count_reports() { # the report documents stored (QIDO over every study)
    total=0
    for s in "$A" "$B" "$C"; do
        n=$(curl -sS --max-time 60 -H "$AUTH" \
            "$D/studies/$s/instances?SOPClassUID=1.2.840.10008.5.1.4.1.1.88.11,1.2.840.10008.5.1.4.1.1.104.1" |
            python3 -c 'import json, sys; t = sys.stdin.read(); print(len(json.loads(t)) if t.strip() else 0)')
        total=$((total + n))
    done
    echo "$total"
}
BEFORE=$(count_reports)
assert_eq 4 "$BEFORE" "report documents before HL7"
PID1="PID|1||$P1^^^BHXH^SS||Nguyễn^Văn An"
PID2="PID|1||$P2^^^BHXH^SS||Trần^Thị Bình"
ORU_F="Gan lách bình thường.\\.br\\Không có dịch ổ bụng."
timeout 120 node "$WORK/node/hl7_oru_test.js" "$HL7_PORT" \
    final "$PID2
OBR|1|PL3002|ACC3002|CT01^CT bụng^L|||20240105083000|||||||||||ACC3002||||20240105100000|||F|||||||BS01&Đỗ&Minh Tâm
OBX|1|FT|18782-3^Study observation^LN||$ORU_F||||||F" \
    corrected "$PID1
OBR|1|PL3003|ACC3003|CT01^CT sọ^L|||20240105083000|||||||||||ACC3003||||20240105110000|||C|||||||BS02&Phạm&Thu Hà
OBX|1|TX|18782-3^Study observation^LN||Gan to nhẹ, đã đính chính.||||||C" \
    unknown "$PID1
OBR|1|PL9999|ACC9999|CT01^CT^L|||20240105083000|||||||||||ACC9999||||20240105110000|||F|||||||BS01&Đỗ&Minh Tâm
OBX|1|TX|18782-3^Study observation^LN||Không thuộc ca nào.||||||F" \
    >"$WORK/acks.tsv" 2>"$WORK/node.err" || fail "the HL7 client failed: $(tail -5 "$WORK/node.err")"
cat "$WORK/acks.tsv"
ack() { # name MSA-1 ERR-2 ERR-3
    got=$(awk -F '\t' -v n="$1" '$1 == n { print $2 "|" $4 "|" $5 }' "$WORK/acks.tsv")
    assert_eq "$2|$3|$4" "$got" "ACK for the ORU $1 (MSA-1|ERR-2|ERR-3)"
}
ack final AA '' ''
ack corrected AA '' ''
ack unknown AE 'OBR^1^18' 204
assert_eq $((BEFORE + 2)) "$(count_reports)" "report documents after HL7 (the unknown one stored nothing)"

# ---- each report over WADO-RS: dcmdump shows its text and flags ----
# fetch study series sop: the instance as a Part 10 file in $WORK/got.dcm
fetch() {
    curl -sS --max-time 60 -H "$AUTH" -D "$WORK/headers" -o "$WORK/got.mp" \
        -H 'Accept: multipart/related; type="application/dicom"' \
        "$D/studies/$1/series/$2/instances/$3" || fail "WADO-RS $3"
    py "parts = multipart(open(sys.argv[1], 'rb').read(), sys.argv[2])
assert len(parts) == 1
open(sys.argv[3], 'wb').write(parts[0][1])" "$WORK/got.mp" "$(header_value Content-Type)" \
        "$WORK/got.dcm" || fail "WADO-RS $3: not one part"
    dcmdump +L "$WORK/got.dcm" >"$WORK/got.txt" 2>&1 || fail "dcmdump of $3"
}
has() { grep -q "$1" "$WORK/got.txt" || fail "$2: no '$1' in the dump"; }
fetch "$A" "$SE1" "$SR1"
has "TextValue" "preliminary report"
grep -q "UT \[$PRELIM_TEXT\]" "$WORK/got.txt" || fail "the preliminary report's text: $(grep TextValue "$WORK/got.txt")"
has "(0040,a491) CS \[PARTIAL\]" "preliminary report"
has "(0040,a493) CS \[UNVERIFIED\]" "preliminary report"
has "(0010,0020) LO \[$P1\]" "preliminary report's PatientID"
has "(0008,0050) SH \[ACC3001\]" "preliminary report's accession number"
fetch "$A" "$SE2" "$SR2"
grep -q "UT \[$FINAL_TEXT\]" "$WORK/got.txt" || fail "the final report's text"
has "(0040,a491) CS \[COMPLETE\]" "final report"
has "(0040,a493) CS \[VERIFIED\]" "final report"
has "(0040,a075) PN \[Lê^Văn Cường\]" "final report's verifying observer"
has "(0040,a360) SQ" "final report's Predecessor Documents Sequence"
has "(0008,1155) UI \[$SR1\]" "final report's predecessor"
# The HL7 ones, found by QIDO in their studies.
hl7_report() { # study: series and SOP of its newest report made by pacsd
    curl -sS --max-time 60 -H "$AUTH" \
        "$D/studies/$1/instances?SOPClassUID=1.2.840.10008.5.1.4.1.1.88.11&includefield=00080018" |
        python3 -c 'import json, sys
for i in json.load(sys.stdin):
    sop = i["00080018"]["Value"][0]
    if sop.startswith("1.2.826.0.1.3680043.10.1347.6."):
        print(i["0020000E"]["Value"][0], sop)'
}
set -- $(hl7_report "$B")
fetch "$B" "$1" "$2"
ORU_B=$2
grep -q "UT \[Gan lách bình thường.$" "$WORK/got.txt" || fail "ORU final: its text: $(grep -A1 TextValue "$WORK/got.txt")"
has "(0040,a493) CS \[VERIFIED\]" "ORU final"
has "(0040,a075) PN \[Đỗ^Minh Tâm\]" "ORU final's verifying observer"
has "(0008,0050) SH \[ACC3002\]" "ORU final's accession number"
set -- $(hl7_report "$C")
fetch "$C" "$1" "$2"
ORU_C=$2
grep -q "UT \[Gan to nhẹ, đã đính chính.\]" "$WORK/got.txt" || fail "ORU corrected: its text"
has "(0008,1155) UI \[$C.990.1\]" "ORU corrected: amends the STOW-RS SR"
has "(0040,a491) CS \[COMPLETE\]" "ORU corrected"

# ---- FHIR ----
N=0
fhir() { # path: sets STATUS; the answer is kept as $WORK/fhir/N.json ($LAST)
    N=$((N + 1))
    LAST="$WORK/fhir/$N.json"
    STATUS=$(curl -sS --max-time 60 -H "$AUTH" -o "$LAST" -w '%{http_code}' "$F$1")
}
ids() { # the sorted resource ids of the Bundle $LAST
    python3 -c 'import json, sys
b = json.load(open(sys.argv[1]))
print(" ".join(sorted(e["resource"]["id"] for e in b.get("entry", []))))' "$LAST"
}
sorted() { printf '%s\n' "$@" | sort | tr '\n' ' ' | sed 's/ $//'; }
# ImagingStudy by health ID: exactly that person's studies.
fhir "/ImagingStudy?patient.identifier=$BHXH%7C$P1"
assert_eq 200 "$STATUS" "ImagingStudy search P1"
assert_eq "$(sorted "$A" "$C")" "$(ids)" "P1's studies"
assert_eq 2 "$(jget total "$LAST")" "P1's total"
assert_eq self "$(jget link.0.relation "$LAST")" "the Bundle's self link"
assert_eq searchset "$(jget type "$LAST")" "the Bundle's type"
fhir "/ImagingStudy?patient.identifier=$BHXH%7C$P2"
assert_eq 200 "$STATUS" "ImagingStudy search P2"
assert_eq "$B" "$(ids)" "P2's studies"
fhir "/ImagingStudy?patient=Patient/bhxh-$P1"
assert_eq 200 "$STATUS" "ImagingStudy search patient="
assert_eq "$(sorted "$A" "$C")" "$(ids)" "P1's studies by patient="
# Paging: a study a page; the next link gives the other, and that last page the total.
fhir "/ImagingStudy?patient.identifier=$BHXH%7C$P1&_count=1"
assert_eq 200 "$STATUS" "a page of one study"
page1=$(ids)
assert_eq "" "$(jget total "$LAST")" "no total while pages follow"
assert_eq next "$(jget link.1.relation "$LAST")" "the first page's next link"
next=$(jget link.1.url "$LAST")
case $next in "$F"/ImagingStudy\?*_offset=1*) ;; *) fail "next link: $next" ;; esac
fhir "${next#"$F"}"
assert_eq 200 "$STATUS" "the next page"
assert_eq 2 "$(jget total "$LAST")" "the last page's total"
assert_eq "" "$(jget link.1.relation "$LAST")" "no next link after the last page"
assert_eq "$(sorted "$A" "$C")" "$(sorted "$page1" "$(ids)")" "the two pages: P1's studies once each"
for bad in "_count=0" "_count=ten" "_offset=-1"; do
    fhir "/ImagingStudy?patient.identifier=$BHXH%7C$P1&$bad"
    assert_eq 400 "$STATUS" "ImagingStudy search with $bad"
    assert_eq OperationOutcome "$(jget resourceType "$LAST")" "$bad: an OperationOutcome"
done
fhir "/ImagingStudy?patient.identifier=$BHXH%7CDN4019999999999"
assert_eq 200 "$STATUS" "nobody"
assert_eq 0 "$(jget total "$LAST")" "an unknown health ID finds nothing"
fhir "/ImagingStudy?patient.identifier=$BHXH%7C$P1&modality=SR&status=available"
assert_eq 200 "$STATUS" \
    "search by modality"
assert_eq "$(sorted "$A" "$C")" "$(ids)" "P1's studies with an SR"
fhir "/ImagingStudy?patient.identifier=$BHXH%7C$P1&date=le1990-01-01"
assert_eq 200 "$STATUS" "by date"
assert_eq 0 "$(jget total "$LAST")" "no study before 1990"
# The study itself: series, instances, counts, the Endpoint.
fhir "/ImagingStudy/$A"
assert_eq 200 "$STATUS" "ImagingStudy read"
assert_eq "$A" "$(jget id "$LAST")" "ImagingStudy id"
assert_eq "Patient/bhxh-$P1" "$(jget subject.reference "$LAST")" "ImagingStudy subject"
assert_eq 3 "$(jget numberOfSeries "$LAST")" "ImagingStudy numberOfSeries (CT and two reports)"
assert_eq 4 "$(jget numberOfInstances "$LAST")" "ImagingStudy numberOfInstances"
assert_eq "$D" "$(jget contained.0.address "$LAST")" "the Endpoint's address"
assert_eq dicom-wado-rs "$(jget contained.0.connectionType.code "$LAST")" "the Endpoint's type"
assert_eq "#dicomweb" "$(jget endpoint.0.reference "$LAST")" "the study's endpoint"
fhir "/ImagingStudy/1.2.3.4.5"
assert_eq 404 "$STATUS" "an unknown ImagingStudy"

# DiagnosticReport: one per document, status from the flags.
report_line() { # the Bundle $LAST as "id status" lines
    python3 -c 'import json, sys
b = json.load(open(sys.argv[1]))
for e in b.get("entry", []):
    r = e["resource"]
    print(r["id"], r["status"])' "$LAST"
}
fhir "/DiagnosticReport?imaging-study=ImagingStudy/$A"
assert_eq 200 "$STATUS" "DiagnosticReport of A"
report_line >"$WORK/ra"
grep -qx "$SR1 preliminary" "$WORK/ra" || fail "A's preliminary report: $(cat "$WORK/ra")"
grep -qx "$SR2 final" "$WORK/ra" || fail "A's final report: $(cat "$WORK/ra")"
fhir "/DiagnosticReport/$SR2"
assert_eq 200 "$STATUS" "DiagnosticReport read"
assert_eq "$FINAL_TEXT" "$(jget conclusion "$LAST")" "the final report's conclusion"
assert_eq "Lê Văn Cường" "$(jget performer.0.display "$LAST")" "the final report's performer"
assert_eq "ImagingStudy/$A" "$(jget imagingStudy.0.reference "$LAST")" "its imagingStudy"
assert_eq "Patient/bhxh-$P1" "$(jget subject.reference "$LAST")" "its subject"
fhir "/DiagnosticReport/$ORU_C"
assert_eq 200 "$STATUS" "the corrected report"
assert_eq amended "$(jget status "$LAST")" "an amendment of a final report"
fhir "/DiagnosticReport/$C.990.1"
assert_eq 200 "$STATUS" "the STOW-RS SR"
assert_eq final "$(jget status "$LAST")" "the STOW-RS SR's status"
assert_eq "Gan to nhẹ." "$(jget conclusion "$LAST")" "the STOW-RS SR's conclusion"
assert_eq "Phạm Thu Hà" "$(jget performer.0.display "$LAST")" "the STOW-RS SR's performer"
fhir "/DiagnosticReport/$ORU_B"
assert_eq 200 "$STATUS" "the ORU report"
assert_eq "$(printf 'Gan lách bình thường.\nKhông có dịch ổ bụng.')" "$(jget conclusion "$LAST")" \
    "the ORU report's conclusion (FT line break)"
fhir "/DiagnosticReport/$PDF_SOP"
assert_eq 200 "$STATUS" "the PDF"
assert_eq final "$(jget status "$LAST")" "the PDF's status"
assert_eq application/pdf "$(jget presentedForm.0.contentType "$LAST")" "the PDF's presentedForm"
PDF_URL=$(jget presentedForm.0.url "$LAST")
curl -sS --max-time 60 -H "$AUTH" -o "$WORK/pdf.got" "$PDF_URL" || fail "GET $PDF_URL"
grep -q '%PDF-1.4' "$WORK/pdf.got" || fail "the presentedForm URL does not serve the PDF"
grep -q 'padding line 59' "$WORK/pdf.got" || fail "the PDF served is not whole"
fhir "/DiagnosticReport?patient.identifier=$BHXH%7C$P2"
assert_eq 200 "$STATUS" "P2's reports"
assert_eq "$(sorted "$PDF_SOP" "$ORU_B")" "$(ids)" "P2's reports: the PDF and the ORU"
fhir "/DiagnosticReport?patient.identifier=$BHXH%7C$P1"
assert_eq 200 "$STATUS" "P1's reports"
assert_eq "$(sorted "$SR1" "$SR2" "$C.990.1" "$ORU_C")" "$(ids)" "P1's reports"
fhir /metadata
assert_eq 200 "$STATUS" "CapabilityStatement"
grep -q '"ImagingStudy"' "$LAST" && grep -q '"DiagnosticReport"' "$LAST" ||
    fail "the CapabilityStatement does not list ImagingStudy and DiagnosticReport"

# Malformed searches: 400 with an OperationOutcome.
bad_search() { # path what
    fhir "$1"
    assert_eq 400 "$STATUS" "$2"
    assert_eq OperationOutcome "$(jget resourceType "$LAST")" "$2: an OperationOutcome"
}
bad_search "/ImagingStudy?date=2024-13-45&patient=Patient/bhxh-$P1" "a date that is no day"
bad_search "/ImagingStudy?colour=red" "an unknown search parameter"
bad_search "/ImagingStudy?modality=c%2Ft" "a modality that is no code"
bad_search "/ImagingStudy?patient=nobody%7Cx" "a patient that is no id"
bad_search "/ImagingStudy?status=available" "a search that would list every study"
bad_search "/DiagnosticReport" "a DiagnosticReport search without criteria"
bad_search "/DiagnosticReport?imaging-study=not-a-uid" "an imaging-study that is no UID"

# Every FHIR answer is R4.
(cd "$WORK/node" && timeout 120 node fhir_schema_test.js "$WORK"/fhir/*.json) >"$WORK/schema.txt" 2>&1 ||
    fail "FHIR answers that are not valid R4: $(grep -v '^ok' "$WORK/schema.txt")"
grep -q "ok .* ImagingStudy" "$WORK/schema.txt" && grep -q "ok .* DiagnosticReport" "$WORK/schema.txt" &&
    grep -q "ok .* Bundle" "$WORK/schema.txt" || fail "the schema check saw no resources: $(cat "$WORK/schema.txt")"

# ---- 4. the share page shows the final report's text ----
LINK=$("$PACS" --data "$DATA" --set "http.public_url=$D" ${PACS_INDEX:+--set "index=$PACS_INDEX"} \
    share "$A" --days 1 2>"$WORK/share.err") || fail "pacs share: $(cat "$WORK/share.err")"
curl -sS --max-time 60 -o "$WORK/page" "$LINK" || fail "GET $LINK"
grep -q "Không thấy tổn thương khu trú" "$WORK/page" || fail "the share page does not show the final report"
grep -q "Lê Văn Cường" "$WORK/page" || fail "the share page does not say who signed"
grep -q "chờ so sánh phim cũ" "$WORK/page" && fail "the share page shows the preliminary report"

kill -0 "$PACSD_PID" || fail "pacsd died"
pass
