#!/bin/sh
# SPDX-License-Identifier: MIT
# QIDO-RS against the real pacsd: instances stored with storescu are found by keyword and tag
# matching, wildcards, ranges, UID lists, fuzzy Vietnamese names, includefield, limit/offset, at
# study, series and instance level, with the PS3.18 default attributes and working RetrieveURLs;
# the exact queries OHIF sends; gzip when asked for.
. "$SRC/tests/lib.sh"
. "$SRC/tests/lib_dicomweb.sh"

start_pacsd
B="http://127.0.0.1:$HTTP_PORT/dicomweb"
T="$SAMPLES/test_files"

# A third study with a Vietnamese name (UTF-8), made from CT_small with new UIDs.
cp "$T/CT_small.dcm" "$WORK/vn.dcm"
dcmodify -nb -gst -gse -gin -m "(0008,0005)=ISO_IR 192" -m "(0010,0010)=Nguyễn^Thị Hương" \
    -m "(0010,0020)=VN-0001" -m "(0008,0020)=20240315" "$WORK/vn.dcm" >/dev/null 2>&1 ||
    fail "dcmodify could not prepare the Vietnamese study"
store "$T/CT_small.dcm" "$T/MR_small.dcm" "$WORK/vn.dcm" >"$WORK/store.log" 2>&1 ||
    fail "storescu failed: $(tail -3 "$WORK/store.log")"

CT_STUDY=$(dcm_value "$T/CT_small.dcm" 0020,000d)
MR_STUDY=$(dcm_value "$T/MR_small.dcm" 0020,000d)
CT_SERIES=$(dcm_value "$T/CT_small.dcm" 0020,000e)
CT_SOP=$(dcm_value "$T/CT_small.dcm" 0008,0018)
VN_STUDY=$(dcm_value "$WORK/vn.dcm" 0020,000d)

# All studies, with the default attributes of PS3.18 Table 10.6.3-3.
assert_eq 200 "$(http_status "$B/studies")" "GET /studies"
assert_eq "application/dicom+json" "$(header_value Content-Type)" "QIDO content type"
json_check "len(d) == 3" "three studies expected"
json_check "all(k in s for s in d for k in ('0020000D', '00080020', '00080061', '00100010',
    '00100020', '00201206', '00201208', '00081190', '00080056'))" "default study attributes"
json_check "all(s['00201208']['Value'] == [1] for s in d)" "NumberOfStudyRelatedInstances"

# Each RetrieveURL names the study and is itself retrievable (checked in the WADO test).
json_check "sorted(s['00081190']['Value'][0].rsplit('/', 1)[1] for s in d) ==
    sorted(['$CT_STUDY', '$MR_STUDY', '$VN_STUDY'])" "RetrieveURL per study"

# Matching by keyword and by tag, and the number of results each gives.
count() { http_status "$1" >/dev/null; py "print(len(json.load(open('$WORK/body'))))"; }
assert_eq 1 "$(count "$B/studies?PatientID=1CT1")" "PatientID=1CT1"
assert_eq 1 "$(count "$B/studies?00100020=4MR1")" "00100020=4MR1"
assert_eq 0 "$(count "$B/studies?PatientID=nobody")" "PatientID=nobody"
assert_eq 3 "$(count "$B/studies?PatientID=*1")" "wildcard on PatientID"
assert_eq 1 "$(count "$B/studies?PatientID=?MR1")" "single-character wildcard"
assert_eq 2 "$(count "$B/studies?ModalitiesInStudy=CT")" "ModalitiesInStudy=CT"
assert_eq 1 "$(count "$B/studies?StudyDate=20240101-")" "open date range"
assert_eq 2 "$(count "$B/studies?StudyDate=20000101-20041231")" "closed date range"
assert_eq 2 "$(count "$B/studies?StudyInstanceUID=$CT_STUDY,$MR_STUDY")" "UID list (comma)"
assert_eq 2 "$(count "$B/studies?StudyInstanceUID=$CT_STUDY%5C$VN_STUDY")" "UID list (backslash)"

# Vietnamese names: typed with diacritics (percent-encoded UTF-8), or folded with fuzzymatching.
assert_eq 1 "$(count "$B/studies?PatientName=Nguy%E1%BB%85n*")" "UTF-8 name with diacritics"
assert_eq 1 "$(count "$B/studies?PatientName=nguyen*")" "name typed without diacritics"
assert_eq 1 "$(count "$B/studies?PatientName=huong&fuzzymatching=true")" "fuzzy name word"
assert_eq 0 "$(count "$B/studies?PatientName=huong")" "no fuzzy: whole name must match"
http_status "$B/studies?PatientID=VN-0001" >/dev/null
json_check "d[0]['00100010']['Value'][0]['Alphabetic'] == 'Nguyễn^Thị Hương'" "UTF-8 name returned"
json_check "d[0]['00080005']['Value'] == ['ISO_IR 192']" "SpecificCharacterSet for UTF-8 text"

# SpecificCharacterSet exactly for the results whose text is not ASCII (whatever was stored),
# keys in tag order in every object, with includefield=all too.
for q in "" "?includefield=all" "?includefield=00080005"; do
    http_status "$B/studies$q" >/dev/null
    json_check "all(('00080005' in s) == any(ord(c) > 127 for k, a in s.items() if k != '00080005'
        for c in json.dumps(a, ensure_ascii=False)) for s in d)" "SpecificCharacterSet iff non-ASCII ($q)"
    json_check "sum('00080005' in s for s in d) == 1" "one study with UTF-8 text ($q)"
    json_check "all(list(s) == sorted(s) and all(list(a) == sorted(a) for a in s.values()) for s in d)" \
        "keys in tag order ($q)"
done

# Paging.
assert_eq 1 "$(count "$B/studies?limit=1")" "limit=1"
assert_eq 2 "$(count "$B/studies?limit=10&offset=1")" "offset=1"
assert_eq 0 "$(count "$B/studies?offset=5")" "offset past the end"

# includefield: a list, repeated, and all.
http_status "$B/studies?PatientID=1CT1&includefield=StudyDescription,00081030&includefield=00180015" >/dev/null
json_check "'00081030' in d[0]" "includefield StudyDescription"
http_status "$B/studies?PatientID=1CT1&includefield=all" >/dev/null
json_check "len(d[0]) > 17" "includefield=all returns more than the defaults"

# OHIF's study list, exactly as it asks.
assert_eq 200 "$(http_status -H 'Accept: application/dicom+json' \
    "$B/studies?limit=101&offset=0&fuzzymatching=true&includefield=00081030%2C00080060%2C00080090%2C00100030")" \
    "OHIF study list"
json_check "len(d) == 3" "OHIF study list has the three studies"
assert_eq 1 "$(count "$B/studies?limit=101&offset=0&fuzzymatching=true&StudyInstanceUID=$CT_STUDY")" \
    "OHIF study by UID"

# Series of a study, all series, instances of a series, all instances.
assert_eq 200 "$(http_status "$B/studies/$CT_STUDY/series?includefield=00080021%2C00080031%2C0008103E%2C00200011")" \
    "series of a study"
json_check "len(d) == 1 and d[0]['0020000E']['Value'] == ['$CT_SERIES'] and
    d[0]['00080060']['Value'] == ['CT'] and '00201209' in d[0]" "series result"
json_check "d[0]['00081190']['Value'][0].endswith('/studies/$CT_STUDY/series/$CT_SERIES')" \
    "series RetrieveURL"
assert_eq 1 "$(count "$B/series?Modality=MR")" "all series, Modality=MR"
http_status "$B/series?Modality=MR" >/dev/null
json_check "'0020000D' in d[0] and '00100020' in d[0]" "/series carries study attributes"
assert_eq 200 "$(http_status "$B/studies/$CT_STUDY/series/$CT_SERIES/instances")" "instances"
json_check "len(d) == 1 and d[0]['00080018']['Value'] == ['$CT_SOP'] and
    d[0]['00280010']['Value'] == [128] and '00080016' in d[0]" "instance result"
json_check "d[0]['00081190']['Value'][0].endswith('/instances/$CT_SOP')" "instance RetrieveURL"
assert_eq 1 "$(count "$B/studies/$CT_STUDY/instances")" "instances of a study"
assert_eq 3 "$(count "$B/instances")" "all instances"
assert_eq 1 "$(count "$B/instances?SOPInstanceUID=$CT_SOP")" "instance by SOP UID"
assert_eq 0 "$(count "$B/studies/1.2.3.4/series")" "series of an unknown study"

# gzip when the client accepts it; the JSON inside is the same.
http_status --compressed -H 'Accept-Encoding: gzip' "$B/studies?includefield=all" >/dev/null
assert_eq gzip "$(header_value Content-Encoding)" "Content-Encoding"
json_check "len(d) == 3" "gzip body decodes"
http_status "$B/studies" >/dev/null
[ -z "$(header_value Content-Encoding)" ] || fail "gzip without Accept-Encoding"

# Agreement with C-FIND on the same archive.
assert_eq 3 "$(count_matches -S -k QueryRetrieveLevel=STUDY -k StudyInstanceUID)" "C-FIND count"
pass
