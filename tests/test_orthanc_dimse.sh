#!/bin/sh
# SPDX-License-Identifier: MIT
# Orthanc as an independent DIMSE peer of pacsd, in both directions, driven through Orthanc's
# REST API. Into pacsd: Orthanc's C-ECHO; its C-STORE with storage commitment (the report
# comes back on a new association, as Orthanc expects), and a commitment request naming an
# instance pacsd does not hold (reported failed, 0x0112); its C-FIND at study and image level,
# a Japanese name (ISO 2022 IR 87 at ingest) answered in UTF-8; its C-MOVE to itself. From
# pacsd into Orthanc: C-MOVE asked by another SCU (movescu) and forwarding (a route for one
# calling AE only). Every instance arrives byte for byte.
. "$SRC/tests/lib.sh"
. "$SRC/tests/lib_dicomweb.sh"
. "$SRC/tests/lib_orthanc.sh"

start_orthanc
cat >"$WORK/pacsd.conf" <<CONF
ae.ORTHANC = 127.0.0.1:$ORTHANC_DIMSE_PORT
route.to-orthanc = ORTHANC calling=FWDTEST
forward.retry_min = 1
forward.retry_max = 2
CONF
start_pacsd --config "$WORK/pacsd.conf"
orthanc_peer_pacsd
T="$SAMPLES/test_files"

# C-ECHO.
assert_eq "{}" "$(ocurl POST /modalities/pacs/echo '{}' | tr -d ' \n')" "Orthanc's C-ECHO"

# C-STORE of a study of four CT images and an RLE image, with storage commitment.
st=$(new_uid)
gen_ct "$WORK/ct" "$st" "$(new_uid)" 4
set -- "$WORK"/ct/*.dcm "$T/SC_rgb_rle.dcm"
file_uids "$@" >"$WORK/sent"
studies=$(orthanc_upload "$@" | sed 's/.*/"&"/' | tr '\n' ',' | sed 's/,$//')
ocurl POST /modalities/pacs/store \
    "{\"Resources\": [$studies], \"StorageCommitment\": true, \"Synchronous\": true}" \
    >"$WORK/store.json"
grep -q '"FailedInstancesCount" : 0' "$WORK/store.json" || fail "C-STORE: $(cat "$WORK/store.json")"
grep -q '"InstancesCount" : 5' "$WORK/store.json" || fail "C-STORE: $(cat "$WORK/store.json")"
image_uids >"$WORK/in-pacsd"
cmp -s "$WORK/sent" "$WORK/in-pacsd" ||
    fail "pacsd holds other instances than Orthanc sent: $(diff "$WORK/sent" "$WORK/in-pacsd")"
$OTOOL wado-same "http://127.0.0.1:$HTTP_PORT/dicomweb" "$@" ||
    fail "what Orthanc stored differs from what pacsd serves"
tx=$(sed -n 's/.*"StorageCommitmentTransactionUID" : "\([0-9.]*\)".*/\1/p' "$WORK/store.json")
[ -n "$tx" ] || fail "no storage commitment transaction: $(cat "$WORK/store.json")"
$OTOOL wait-commit "$ORTHANC" "$tx" >"$WORK/commit.json"
py "d = json.load(open('$WORK/commit.json'))
ok = sorted(x['SOPInstanceUID'] for x in d.get('Success', []))
sys.exit(0 if d['Status'] == 'Success' and not d['Failures'] and
         ok == open('$WORK/sent').read().split() else 1)" ||
    fail "storage commitment report: $(cat "$WORK/commit.json")"
grep -q "commitment transaction=$tx report delivered to ORTHANC on a new association status=0x0000" \
    "$WORK/pacsd.log" || fail "the report did not go to Orthanc on a new association"

# A commitment request naming an instance pacsd does not hold: reported as failed (0x0112).
missing=$(new_uid)
ocurl POST /modalities/pacs/storage-commitment \
    "{\"DicomInstances\": [{\"SOPClassUID\": \"1.2.840.10008.5.1.4.1.1.2\", \"SOPInstanceUID\": \"$missing\"},
      {\"SOPClassUID\": \"1.2.840.10008.5.1.4.1.1.2\", \"SOPInstanceUID\": \"$(head -1 "$WORK/sent")\"}],
      \"Timeout\": 60}" >"$WORK/sc.json"
tx2=$(sed -n 's/.*"ID" : "\([0-9.]*\)".*/\1/p' "$WORK/sc.json")
[ -n "$tx2" ] || fail "no transaction for the second commitment: $(cat "$WORK/sc.json")"
$OTOOL wait-commit "$ORTHANC" "$tx2" >"$WORK/commit2.json"
py "d = json.load(open('$WORK/commit2.json'))
sys.exit(0 if d['Status'] == 'Failure' and
         [(f['SOPInstanceUID'], f['FailureReason']) for f in d['Failures']] == [('$missing', 0x0112)]
         and len(d['Success']) == 1 else 1)" ||
    fail "report of a commitment with an unknown instance: $(cat "$WORK/commit2.json")"

# C-FIND: a study, its images, and a Japanese name stored as ISO 2022 IR 87.
store "$SAMPLES/charset_files/chrH31.dcm" >"$WORK/store-h31.log" 2>&1 ||
    fail "storescu chrH31: $(tail -3 "$WORK/store-h31.log")"
q=$(ocurl POST /modalities/pacs/query \
    "{\"Level\": \"Study\", \"Query\": {\"StudyInstanceUID\": \"$st\", \"NumberOfStudyRelatedInstances\": \"\"}}" |
    sed -n 's/.*"ID" : "\([^"]*\)".*/\1/p')
ocurl GET "/queries/$q/answers?expand&simplify" >"$WORK/body"
json_check "len(d) == 1 and d[0]['StudyInstanceUID'] == '$st' and
    d[0]['NumberOfStudyRelatedInstances'] == '4'" "Orthanc's C-FIND of the study"
q=$(ocurl POST /modalities/pacs/query \
    "{\"Level\": \"Instance\", \"Query\": {\"StudyInstanceUID\": \"$st\", \"SeriesInstanceUID\": \"\", \"SOPInstanceUID\": \"\"}}" |
    sed -n 's/.*"ID" : "\([^"]*\)".*/\1/p')
ocurl GET "/queries/$q/answers?expand&simplify" >"$WORK/body"
file_uids "$WORK"/ct/*.dcm >"$WORK/ct-sops"
json_check "sorted(a['SOPInstanceUID'] for a in d) == open('$WORK/ct-sops').read().split()" \
    "Orthanc's C-FIND of the images"
q=$(ocurl POST /modalities/pacs/query \
    '{"Level": "Patient", "Query": {"PatientID": "H31EXAMPLE", "PatientName": ""}}' |
    sed -n 's/.*"ID" : "\([^"]*\)".*/\1/p')
ocurl GET "/queries/$q/answers?expand&simplify" >"$WORK/body"
json_check "len(d) == 1 and d[0]['PatientName'] == 'Yamada^Tarou=山田^太郎=やまだ^たろう'" \
    "Orthanc's C-FIND of a Japanese name"

# Orthanc's C-MOVE to itself, after forgetting what it sent.
orthanc_clear
ocurl POST /modalities/pacs/move \
    "{\"Level\": \"Study\", \"Resources\": [{\"StudyInstanceUID\": \"$st\"}], \"TargetAet\": \"ORTHANC\", \"Synchronous\": true}" \
    >/dev/null
orthanc_sops >"$WORK/moved"
assert_eq "$(cat "$WORK/ct-sops")" "$(cat "$WORK/moved")" "what Orthanc's C-MOVE brought"
$OTOOL same "$ORTHANC" "$WORK"/ct/*.dcm || fail "what pacsd moved to Orthanc differs"

# pacsd's C-MOVE into Orthanc, asked by another SCU.
orthanc_clear
move -aem ORTHANC -S -k QueryRetrieveLevel=IMAGE -k StudyInstanceUID="$(uid_value "$T/SC_rgb_rle.dcm" 0020,000d)" \
    -k SeriesInstanceUID="$(uid_value "$T/SC_rgb_rle.dcm" 0020,000e)" \
    -k SOPInstanceUID="$(uid_value "$T/SC_rgb_rle.dcm" 0008,0018)" >"$WORK/move.log"
assert_eq 0x0000 "$(final_status "$WORK/move.log")" "movescu to ORTHANC"
assert_eq "$(uid_value "$T/SC_rgb_rle.dcm" 0008,0018)" "$(orthanc_sops)" "what movescu moved"
$OTOOL same "$ORTHANC" "$T/SC_rgb_rle.dcm" || fail "the RLE image moved to Orthanc differs"

# Forwarding: what FWDTEST stores goes on to Orthanc once; what others store does not.
orthanc_clear
cp "$T/MR_small.dcm" "$WORK/mr.dcm"
cp "$T/CT_small.dcm" "$WORK/other.dcm"
dcmodify -nb -q -gin "$WORK/mr.dcm" "$WORK/other.dcm" || fail "dcmodify"
store -aet FWDTEST "$WORK/mr.dcm" >/dev/null 2>&1 || fail "storescu as FWDTEST"
store -aet SOMEONE "$WORK/other.dcm" >/dev/null 2>&1 || fail "storescu as SOMEONE"
mr=$(uid_value "$WORK/mr.dcm" 0008,0018)
timeout 60 sh -c 'until [ "$($1 sops "$2")" = "$3" ]; do sleep 0.5; done' _ "$OTOOL" "$ORTHANC" "$mr" ||
    fail "the forwarded MR did not reach Orthanc: $(orthanc_sops)"
$OTOOL same "$ORTHANC" "$WORK/mr.dcm" || fail "the forwarded MR differs"
grep -q "forward: dest=ORTHANC sent=1 failed=0" "$WORK/pacsd.log" || fail "no forwarding log line"
fwd_list --state all >"$WORK/queue"
assert_eq "$mr" "$(awk -F '\t' 'NR > 1 && $4 == "ORTHANC" { print $6 }' "$WORK/queue")" \
    "the forwarding queue holds the MR only"

stop_orthanc
stop_pacsd
pass
