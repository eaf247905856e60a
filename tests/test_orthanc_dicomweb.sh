#!/bin/sh
# SPDX-License-Identifier: MIT
# Orthanc's DICOMweb plugin as an independent client of pacsd, the way a district hospital
# running Orthanc pushes to a central archive (issue 15). Orthanc sends STOW-RS chunked with a
# 73-character multipart boundary (checked here first, so that this test keeps testing that):
# pushing studies (`POST /dicom-web/servers/pacs/stow`) stores every instance byte for byte;
# Orthanc retrieves them back (`.../retrieve`, WADO-RS) identical to what it sent, and searches
# pacsd (`.../get`, QIDO-RS), a cache-busting parameter included; a malformed value of a known
# QIDO-RS key is still refused (400).
. "$SRC/tests/lib.sh"
. "$SRC/tests/lib_dicomweb.sh"
. "$SRC/tests/lib_orthanc.sh"

start_orthanc
start_pacsd
orthanc_peer_pacsd
B="http://127.0.0.1:$HTTP_PORT/dicomweb"
T="$SAMPLES/test_files"

# A study of five CT images, and three single-image studies (JPEG 2000, RLE, JPEG-LS).
st=$(new_uid)
gen_ct "$WORK/ct" "$st" "$(new_uid)" 5
set -- "$WORK"/ct/*.dcm "$T/JPEG2000.dcm" "$T/SC_rgb_rle.dcm" "$T/MR_small_jpeg_ls_lossless.dcm"
studies=$(orthanc_upload "$@")
assert_eq 4 "$(echo "$studies" | wc -l | tr -d ' ')" "studies in Orthanc"
file_uids "$@" >"$WORK/sent"

# How Orthanc sends STOW-RS: chunked, with a boundary longer than RFC 2046's 70 characters.
python3 "$SRC/tests/tools/http_capture.py" "$WORK/cap.port" "$WORK/cap" &
cap_pid=$!
BG_PIDS="$BG_PIDS $cap_pid"
timeout 20 sh -c 'until [ -s "$1" ]; do sleep 0.1; done' _ "$WORK/cap.port" ||
    fail "the capture server did not start"
ocurl PUT /dicom-web/servers/capture "{\"Url\": \"http://127.0.0.1:$(cat "$WORK/cap.port")/dicomweb/\"}" \
    >/dev/null
ocurl_status POST /dicom-web/servers/capture/stow \
    "{\"Resources\": [\"$(echo "$studies" | head -1)\"]}" >/dev/null
timeout 60 sh -c 'while kill -0 "$1" 2>/dev/null; do sleep 0.1; done' _ "$cap_pid" ||
    fail "the capture server did not finish"
grep -q "^PATH /dicomweb/studies$" "$WORK/cap" || fail "Orthanc's STOW path: $(cat "$WORK/cap")"
grep -q "^CHUNKED 1$" "$WORK/cap" || fail "Orthanc no longer sends STOW-RS chunked: $(cat "$WORK/cap")"
blen=$(sed -n 's/^BOUNDARY //p' "$WORK/cap")
[ -n "$blen" ] && [ "$blen" -gt 70 ] ||
    fail "Orthanc's boundary is no longer longer than 70 characters: $(cat "$WORK/cap")"

# Push every study to pacsd. Orthanc's job answers with what it sent.
for s in $studies; do
    ocurl POST /dicom-web/servers/pacs/stow "{\"Resources\": [\"$s\"]}" >"$WORK/stow.json"
    grep -q '"InstancesCount" : "[1-9]' "$WORK/stow.json" ||
        fail "Orthanc's STOW-RS job: $(cat "$WORK/stow.json")"
done
grep -q "stow: req=.* stored=.* status=200" "$WORK/pacsd.log" || fail "no STOW-RS 200 in the log"
image_uids >"$WORK/in-pacsd"
cmp -s "$WORK/sent" "$WORK/in-pacsd" ||
    fail "pacsd holds other instances than Orthanc pushed: $(diff "$WORK/sent" "$WORK/in-pacsd")"
# Byte for byte: the dataset of each, as pacsd serves it stored (WADO-RS, transfer-syntax=*),
# equals the file's.
$OTOOL wado-same "$B" "$@" || fail "what Orthanc pushed differs from what pacsd serves"

# Orthanc retrieves the studies back from pacsd (WADO-RS) after forgetting them.
orthanc_clear
studies_uids=$(for f in "$@"; do uid_value "$f" 0020,000d; done | sort -u)
res=$(for u in $studies_uids; do printf '{"Study": "%s"},' "$u"; done | sed 's/,$//')
ocurl POST /dicom-web/servers/pacs/retrieve "{\"Resources\": [$res]}" >"$WORK/retrieve.json"
orthanc_sops >"$WORK/back"
cmp -s "$WORK/sent" "$WORK/back" ||
    fail "Orthanc retrieved other instances: $(diff "$WORK/sent" "$WORK/back") $(cat "$WORK/retrieve.json")"
$OTOOL same "$ORTHANC" "$@" || fail "what Orthanc retrieved from pacsd differs"

# Orthanc searches pacsd with QIDO-RS; a cache-busting parameter pacsd does not know is
# ignored, not refused; a malformed value of a known key is refused.
ocurl POST /dicom-web/servers/pacs/get \
    "{\"Uri\": \"/studies\", \"Arguments\": {\"StudyInstanceUID\": \"$st\", \"_\": \"1733456789\"}}" \
    >"$WORK/body"
json_check "len(d) == 1 and d[0]['0020000D']['Value'] == ['$st'] and
    d[0]['00201208']['Value'] == [5]" "QIDO-RS through Orthanc"
assert_eq 200 "$(http_status "$B/studies?StudyInstanceUID=$st&_=1733456789")" "QIDO with _"
header_value Warning | grep -q '^299 .*ignored: _"$' || fail "no Warning for _: $(cat "$WORK/headers")"
code=$(ocurl_status POST /dicom-web/servers/pacs/get \
    '{"Uri": "/studies", "Arguments": {"StudyDate": "2020"}}')
[ "$code" != 200 ] || fail "Orthanc got 200 for StudyDate=2020"
grep -q '"HttpStatus" : 400' "$WORK/orthanc/rest" ||
    fail "a malformed StudyDate should reach Orthanc as pacsd's 400: $(cat "$WORK/orthanc/rest")"
assert_eq 400 "$(http_status "$B/studies?StudyDate=2020&_=1")" "QIDO StudyDate=2020"
grep -q "StudyDate" "$WORK/body" || fail "the 400 does not name StudyDate: $(cat "$WORK/body")"

stop_orthanc
stop_pacsd
pass
