#!/bin/sh
# SPDX-License-Identifier: MIT
# Pushing to the health record (issue 17): pacsd with `ehr.EHR` (and `ehr.WRONG`, whose key the
# EHR refuses) and routes to both, and an EHR stand-in (tests/tools/ehr_server.py: PUT/GET of
# FHIR resources by type and id, a bearer key, 500 while told to). While the EHR answers 500 a
# CT series of two studies, a report written with the JSON call and an Encapsulated PDF
# (pdf2dcm, STOW-RS) are stored: their entries stay pending, retried and listed. pacsd is killed
# with -9, the EHR recovers, the entries are made due (`pacs forward retry --all`) and pacsd
# restarted: every entry is delivered, with ONE ImagingStudy PUT per study for the batch (the
# stand-in's log), and the EHR ends with each study's ImagingStudy (series and instance counts,
# subject by the health ID, Endpoint at pacsd's DICOMweb) and a DiagnosticReport per report
# document, the PDF in presentedForm. A slice arriving later, while the EHR answers 500 again,
# is delivered once it recovers and the study is PUT again, whole. WRONG's entries stay pending
# with the refused key listed and logged as an ERROR. Every body the EHR received validates
# against the FHIR R4 JSON schema (tests/node/fhir_schema_test.js).
. "$SRC/tests/lib.sh"
. "$SRC/tests/lib_dicomweb.sh"
: "${PACS:?PACS must point to the pacs binary}"
trap_background

node_setup fhir_schema_test.js
mkdir -p "$WORK/ehr"

BHXH=http://fhir.ehealth.gov.vn/core/sid/insurance_number
P1=DN4010000000011
P2=DN4010000000012
openssl rand -hex 24 >"$WORK/ehr.key"
openssl rand -hex 24 >"$WORK/wrong.key"
EHR_PORT=$(free_port)
HTTP=$(free_port)
D="http://127.0.0.1:$HTTP/dicomweb"
python3 "$SRC/tests/tools/ehr_server.py" "$EHR_PORT" "$WORK/ehr.key" "$WORK/ehr" &
BG_PIDS="$BG_PIDS $!"
timeout 30 sh -c 'until [ -s "$1" ]; do sleep 0.05; done' _ "$WORK/ehr/ready" ||
    fail "the EHR stand-in did not start"
# On PostgreSQL the entries pacsd was sending when killed stay claimed for index.claim_seconds.
run_pacsd() {
    start_pacsd --set "http.port=$HTTP" --set "http.public_url=$D" \
        --set "ehr.EHR=http://127.0.0.1:$EHR_PORT/fhir key=@$WORK/ehr.key" \
        --set "ehr.WRONG=http://127.0.0.1:$EHR_PORT/fhir/ key=@$WORK/wrong.key" \
        --set route.ehr=EHR --set route.wrong=WRONG --set forward.retry_min=1 \
        --set forward.retry_max=1 --set index.claim_seconds=3
}
pacs_tool() { timeout 60 "$PACS" --data "$DATA" "$@"; }
by_dest() { # DEST COLUMN of `pacs forward list --by-dest` (2 pending, 3 done, 4 failed)
    pacs_tool forward list --by-dest 2>/dev/null | awk -F '\t' -v d="$1" -v c="$2" '$1 == d { print $c }'
}
puts() { # TYPE ID: the PUTs the EHR answered 200 or 201, in its log from line $MARK on
    tail -n +"$((MARK + 1))" "$WORK/ehr/log" | awk -v t="$1" -v i="$2" \
        '$1 == "PUT" && $2 == t && $3 == i && ($4 == 200 || $4 == 201)' | wc -l | tr -d ' '
}

# Two studies: A (P1, 4 slices, then a report and a PDF) and B (P2, 2 slices).
A=$(new_uid) B=$(new_uid)
gen_ct "$WORK/a" "$A" "$A.1" 4
gen_ct "$WORK/b" "$B" "$B.1" 2
for f in "$WORK"/a/*.dcm; do dcmodify -nb -m "(0010,0020)=$P1" "$f" >/dev/null 2>&1 || fail "dcmodify"; done
for f in "$WORK"/b/*.dcm; do dcmodify -nb -m "(0010,0020)=$P2" "$f" >/dev/null 2>&1 || fail "dcmodify"; done
make_pdf "$WORK/report.pdf"
pdf2dcm --title "Kết quả CT" +st "$WORK/a/ct-1.dcm" "$WORK/report.pdf" "$WORK/pdf.dcm" \
    >"$WORK/pdf.log" 2>&1 || fail "pdf2dcm: $(cat "$WORK/pdf.log")"
PDF_SOP=$(dcm_value "$WORK/pdf.dcm" 0008,0018)

# ---- 1. the EHR answers 500: everything stays pending, retried and listed ----
touch "$WORK/ehr/fail500"
run_pacsd
# P1 registered by the HIS (pacsd's own FHIR then refers to Patient/bhxh-P1; the EHR gets the
# identifier), P2 not.
printf '{"resourceType": "Patient", "identifier": [{"system": "%s", "value": "%s"}], "name": [{"family": "Nguyễn", "given": ["Văn An"]}]}' \
    "$BHXH" "$P1" >"$WORK/p.json"
code=$(curl -sS --max-time 60 -o "$WORK/p.out" -w '%{http_code}' -H 'Content-Type: application/fhir+json' \
    --data-binary @"$WORK/p.json" "http://127.0.0.1:$HTTP/fhir/Patient")
assert_eq 201 "$code" "FHIR Patient P1: $(cat "$WORK/p.out")"
grep -qF "$(cat "$WORK/ehr.key")" "$WORK/pacsd.log" && fail "the EHR's key in the log"
store "$WORK"/a/*.dcm "$WORK"/b/*.dcm >"$WORK/store.log" 2>&1 || fail "storescu: $(tail -3 "$WORK/store.log")"
TEXT="Không thấy tổn thương khu trú."
code=$(curl -sS --max-time 60 -o "$WORK/report.json" -w '%{http_code}' \
    -H 'Content-Type: application/json' \
    --data "{\"text\": \"$TEXT\", \"author\": \"Lê^Văn Cường\", \"status\": \"final\"}" \
    "$D/studies/$A/reports")
assert_eq 201 "$code" "the report: $(cat "$WORK/report.json")"
SR_SOP=$(json_value "$WORK/report.json" SOPInstanceUID)
stow_body PACSTEST "$WORK/stow.body" "$WORK/pdf.dcm"
code=$(curl -sS --max-time 60 -o "$WORK/stow.json" -w '%{http_code}' \
    -H 'Content-Type: multipart/related; type="application/dicom"; boundary=PACSTEST' \
    --data-binary @"$WORK/stow.body" "$D/studies/$A")
assert_eq 200 "$code" "STOW-RS of the PDF: $(cat "$WORK/stow.json")"
wait_fwd pending EHR 2 8 60 || fail "EHR entries not retried: $(fwd_list 2>&1)"
fwd_list --state pending | awk -F '\t' '$4 == "EHR"' | grep -q "HTTP 500 from the server" ||
    fail "the 500 is not listed: $(fwd_list)"
assert_eq 0 "$(by_dest EHR 3)" "EHR entries done while it answers 500"
assert_eq 0 "$(by_dest EHR 4)" "EHR entries failed while it answers 500"
[ ! -e "$WORK/ehr/ImagingStudy-$A.json" ] || fail "the EHR kept a study while answering 500"

# ---- 2. kill -9, the EHR recovers, restart: one ImagingStudy PUT per study ----
kill9_pacsd
rm "$WORK/ehr/fail500"
pacs_tool forward retry --all >/dev/null 2>&1 || fail "pacs forward retry --all"
MARK=$(wc -l <"$WORK/ehr/log")
run_pacsd
wait_until 60 is 8 by_dest EHR 3 || fail "EHR after the restart: $(pacs_tool forward list --by-dest 2>&1)"
assert_eq 1 "$(puts ImagingStudy "$A")" "ImagingStudy PUTs of A in the batch"
assert_eq 1 "$(puts ImagingStudy "$B")" "ImagingStudy PUTs of B in the batch"
assert_eq 1 "$(puts DiagnosticReport "$SR_SOP")" "DiagnosticReport PUTs of the SR"
assert_eq 1 "$(puts DiagnosticReport "$PDF_SOP")" "DiagnosticReport PUTs of the PDF"

# What the EHR holds.
IA=$WORK/ehr/ImagingStudy-$A.json
assert_eq "$A" "$(json_value "$IA" id)" "ImagingStudy id"
assert_eq 3 "$(json_value "$IA" numberOfSeries)" "A's series (CT, SR, PDF)"
assert_eq 6 "$(json_value "$IA" numberOfInstances)" "A's instances"
assert_eq "$BHXH" "$(json_value "$IA" subject.identifier.system)" "A's subject: the health ID's system"
assert_eq "$P1" "$(json_value "$IA" subject.identifier.value)" "A's subject: the health ID"
assert_eq "" "$(json_value "$IA" subject.reference)" "A's subject: no Patient reference of pacsd's"
assert_eq "$D" "$(json_value "$IA" contained.0.address)" "A's Endpoint: pacsd's DICOMweb"
assert_eq "#dicomweb" "$(json_value "$IA" endpoint.0.reference)" "A's endpoint"
python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
ct = [x for x in s["series"] if x["uid"] == sys.argv[2]]
assert len(ct) == 1 and ct[0]["numberOfInstances"] == 4 and len(ct[0]["instance"]) == 4, ct' \
    "$IA" "$A.1" || fail "A's CT series in the EHR"
IB=$WORK/ehr/ImagingStudy-$B.json
assert_eq 2 "$(json_value "$IB" numberOfInstances)" "B's instances"
assert_eq "$P2" "$(json_value "$IB" subject.identifier.value)" "B's subject"
RS=$WORK/ehr/DiagnosticReport-$SR_SOP.json
assert_eq final "$(json_value "$RS" status)" "the SR's DiagnosticReport status"
assert_eq "$TEXT" "$(json_value "$RS" conclusion)" "the SR's conclusion"
assert_eq "ImagingStudy/$A" "$(json_value "$RS" imagingStudy.0.reference)" "the SR's study"
assert_eq "$P1" "$(json_value "$RS" subject.identifier.value)" "the SR's subject"
RP=$WORK/ehr/DiagnosticReport-$PDF_SOP.json
assert_eq application/pdf "$(json_value "$RP" presentedForm.0.contentType)" "the PDF's presentedForm"
json_value "$RP" presentedForm.0.data | base64 -d >"$WORK/got.pdf" || fail "the PDF's data is not base64"
cmp -s "$WORK/got.pdf" "$WORK/report.pdf" || fail "the PDF in the EHR differs from the one stored"

# ---- 3. a slice arriving later, while the EHR answers 500 again ----
touch "$WORK/ehr/fail500"
gen_ct "$WORK/late" "$A" "$A.1" 5
dcmodify -nb -m "(0010,0020)=$P1" "$WORK/late/ct-5.dcm" >/dev/null 2>&1 || fail "dcmodify"
store "$WORK/late/ct-5.dcm" >"$WORK/store.log" 2>&1 || fail "storescu of the late slice"
wait_fwd pending EHR 1 1 60 || fail "the late slice is not retried: $(fwd_list 2>&1)"
assert_eq 8 "$(by_dest EHR 3)" "EHR entries done while it answers 500 again"
MARK=$(wc -l <"$WORK/ehr/log")
rm "$WORK/ehr/fail500"
wait_until 60 is 9 by_dest EHR 3 || fail "the late slice after the EHR recovered: $(fwd_list 2>&1)"
assert_eq 1 "$(puts ImagingStudy "$A")" "A PUT again once"
assert_eq 7 "$(json_value "$IA" numberOfInstances)" "A's instances after the late slice"

# ---- 4. the refused key: pending, listed, an ERROR ----
assert_eq 0 "$(by_dest WRONG 3)" "WRONG entries done"
assert_eq 0 "$(by_dest WRONG 4)" "WRONG entries failed"
wait_fwd pending WRONG 2 9 60 || fail "WRONG entries: $(fwd_list 2>&1)"
fwd_list --state pending | awk -F '\t' '$4 == "WRONG"' | grep -q "refused ehr.WRONG's key" ||
    fail "the refused key is not listed: $(fwd_list)"
grep -q "ERROR.*dest=WRONG .*refused ehr.WRONG's key" "$WORK/pacsd.log" ||
    fail "the refused key is not logged as an ERROR"
grep -qF "$(cat "$WORK/wrong.key")" "$WORK/pacsd.log" && fail "a bearer key in the log"

# ---- 5. every body the EHR received is valid FHIR R4 ----
ls "$WORK"/ehr/bodies/*.json >/dev/null 2>&1 || fail "the EHR received no body"
(cd "$WORK/node" && timeout 120 node fhir_schema_test.js "$WORK"/ehr/bodies/*.json) \
    >"$WORK/schema.txt" 2>&1 || fail "bodies not valid R4: $(grep -v '^ok' "$WORK/schema.txt" | head -5)"
grep -c '^ok' "$WORK/schema.txt" | grep -qv '^0$' || fail "nothing validated"
grep '^ok' "$WORK/schema.txt" | awk '{ print $3 }' | sort -u | tr '\n' ' ' |
    grep -qx 'DiagnosticReport ImagingStudy ' || fail "bodies of other types: $(cat "$WORK/schema.txt" | head -3)"

# A bad ehr.* setting stops pacsd at start, naming it.
env -u PACS_INDEX timeout 30 "$PACSD" --data "$WORK/bad" --set dimse.port=0 --set http.port=0 \
    --set "ehr.X=http://127.0.0.1:1/fhir" >"$WORK/bad.log" 2>&1 && fail "pacsd started without http.public_url"
grep -q "ehr.X needs http.public_url" "$WORK/bad.log" || fail "no message for http.public_url: $(tail -2 "$WORK/bad.log")"
env -u PACS_INDEX timeout 30 "$PACSD" --data "$WORK/bad" --set dimse.port=0 --set http.port=0 \
    --set "ehr.X=http://127.0.0.1:1/fhir batch=2" >"$WORK/bad.log" 2>&1 && fail "pacsd took batch= for ehr"
grep -q "ehr.X: 'batch=2' is not an option" "$WORK/bad.log" || fail "no message for batch=: $(tail -2 "$WORK/bad.log")"

kill -0 "$PACSD_PID" || fail "pacsd died"
stop_pacsd
pass
