#!/bin/sh
# SPDX-License-Identifier: MIT
# STOW-RS against the real pacsd: parts sent with curl are stored through the one ingest path
# and found with findscu and QIDO; the store response follows PS3.18 (ReferencedSOPSequence with
# RetrieveURLs, FailedSOPSequence with FailureReasons, 200/202/409); a broken part fails alone;
# a part of another study than the URL names is refused and nothing of it is stored; a chunked
# upload of many instances streams; DELETE is refused unless allowed, then removes; a chunked
# upload past http.max_body_mb gets 413 with what was stored before the limit.
. "$SRC/tests/lib.sh"
. "$SRC/tests/lib_dicomweb.sh"

start_pacsd
B="http://127.0.0.1:$HTTP_PORT/dicomweb"
T="$SAMPLES/test_files"

# Three good instances, one of them compressed.
stow_body PACSTEST "$WORK/good" "$T/CT_small.dcm" "$T/MR_small.dcm" "$T/JPEG2000.dcm"
assert_eq 200 "$(stow_post "$B/studies" "$WORK/good")" "STOW of three instances"
assert_eq "application/dicom+json" "$(header_value Content-Type)" "store response type"
json_check "len(d['00081199']['Value']) == 3 and '00081198' not in d" "three referenced"
json_check "all(i['00081190']['Value'][0].startswith('http://127.0.0.1:$HTTP_PORT/dicomweb/studies/')
    and i['00081155']['Value'][0] and i['00081150']['Value'][0]
    for i in d['00081199']['Value'])" "RetrieveURL, SOP Class and Instance per item"

# findscu sees them; so does QIDO.
assert_eq 3 "$(count_matches -S -k QueryRetrieveLevel=STUDY -k StudyInstanceUID)" \
    "C-FIND after STOW"
CT_SOP=$(dcm_value "$T/CT_small.dcm" 0008,0018)
assert_eq 1 "$(count_matches -S -k QueryRetrieveLevel=IMAGE -k SOPInstanceUID="$CT_SOP" \
    -k StudyInstanceUID="$(dcm_value "$T/CT_small.dcm" 0020,000d)" \
    -k SeriesInstanceUID="$(dcm_value "$T/CT_small.dcm" 0020,000e)")" "C-FIND of the CT image"

# And the bytes come back exactly as sent (STOW keeps the dataset bit for bit).
J_ST=$(dcm_value "$T/JPEG2000.dcm" 0020,000d)
assert_eq 200 "$(http_status -H 'Accept: multipart/related; type="application/dicom"; transfer-syntax=*' \
    "$B/studies/$J_ST")" "retrieve the STOWed study"
py "parts = multipart(open('$WORK/body', 'rb').read(), sys.argv[1])
assert dataset_bytes(parts[0][1]) == dataset_bytes(open('$T/JPEG2000.dcm', 'rb').read())
" "$(header_value Content-Type)" || fail "STOWed bytes differ"

# A broken part fails alone: garbage, a truncated file and a good new instance.
cp "$T/CT_small.dcm" "$WORK/new.dcm"
dcmodify -nb -gin "$WORK/new.dcm" >/dev/null 2>&1 || fail "dcmodify failed"
printf 'this is not DICOM' >"$WORK/garbage"
stow_body PACSTEST "$WORK/mixed" "$WORK/garbage" "$T/rtplan_truncated.dcm" "$WORK/new.dcm"
assert_eq 202 "$(stow_post "$B/studies" "$WORK/mixed")" "mixed STOW"
json_check "len(d['00081199']['Value']) == 1 and len(d['00081198']['Value']) == 2" \
    "one stored, two failed"
json_check "all(i['00081197']['Value'][0] in (0xC000, 0x0110, 0xA900, 0xC122)
    for i in d['00081198']['Value'])" "failure reasons"
json_check "d['00081198']['Value'][1]['00081155']['Value'][0].encode() in
    open('$T/rtplan_truncated.dcm', 'rb').read()[:1024]" "the truncated part is named"
NEW_SOP=$(dcm_value "$WORK/new.dcm" 0008,0018)
http_status "$B/instances?SOPInstanceUID=$NEW_SOP" >/dev/null
json_check "len(d) == 1" "the good part of a mixed request is stored"

# Nothing stored: 409.
stow_body PACSTEST "$WORK/bad" "$WORK/garbage"
assert_eq 409 "$(stow_post "$B/studies" "$WORK/bad")" "STOW of garbage only"
json_check "'00081199' not in d and len(d['00081198']['Value']) == 1" "all failed"

# A body that goes wrong after a whole part: that part is stored, and the answer says the rest
# of the body was not read (202, with the parser's reason in a Warning).
cp "$T/CT_small.dcm" "$WORK/before.dcm"
dcmodify -nb -gin "$WORK/before.dcm" >/dev/null 2>&1 || fail "dcmodify failed"
{ printf -- '--PACSTEST\r\nContent-Type: application/dicom\r\n\r\n'; cat "$WORK/before.dcm"
  printf -- '\r\n--PACSTESTjunk\r\n'; } >"$WORK/broken-after"
assert_eq 202 "$(stow_post "$B/studies" "$WORK/broken-after")" "STOW broken after a whole part"
json_check "len(d['00081199']['Value']) == 1" "the whole part is stored"
header_value Warning | grep -q '^299 127.0.0.1:[0-9]* ".*boundary not followed by CRLF"$' ||
    fail "Warning for the broken body: '$(header_value Warning)'"

# STOW to /studies/{study}: an instance of another study is refused and not stored.
cp "$T/MR_small.dcm" "$WORK/other.dcm"
dcmodify -nb -gin "$WORK/other.dcm" >/dev/null 2>&1 || fail "dcmodify failed"
stow_body PACSTEST "$WORK/wrong" "$WORK/other.dcm"
CT_ST=$(dcm_value "$T/CT_small.dcm" 0020,000d)
assert_eq 409 "$(stow_post "$B/studies/$CT_ST" "$WORK/wrong")" "STOW into the wrong study"
json_check "d['00081198']['Value'][0]['00081197']['Value'] == [0xA900]" "mismatch reason"
http_status "$B/instances?SOPInstanceUID=$(dcm_value "$WORK/other.dcm" 0008,0018)" >/dev/null
json_check "len(d) == 0" "the refused instance is not stored"
stow_body PACSTEST "$WORK/right" "$WORK/new.dcm"
assert_eq 200 "$(stow_post "$B/studies/$CT_ST" "$WORK/right")" "STOW into the right study"

# Bad requests.
assert_eq 415 "$(curl -sS --max-time 30 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary '{}' "$B/studies")" "STOW of JSON"
assert_eq 400 "$(curl -sS --max-time 30 -o /dev/null -w '%{http_code}' \
    -H 'Content-Type: multipart/related; type="application/dicom"' --data-binary 'x' "$B/studies")" \
    "STOW without boundary"
printf -- '--PACSTEST\r\nContent-Type: application/dicom\r\n\r\nno end' >"$WORK/cut"
assert_eq 400 "$(stow_post "$B/studies" "$WORK/cut")" "STOW cut short"
ls "$DATA/tmp" 2>/dev/null | grep -q . && fail "temporary files left behind"

# Many instances in one chunked request, streamed as they arrive.
i=0
set --
while [ $i -lt 40 ]; do
    cp "$T/CT_small.dcm" "$WORK/g$i.dcm"
    set -- "$@" "$WORK/g$i.dcm"
    i=$((i + 1))
done
dcmodify -nb -gst -gse -gin "$@" >/dev/null 2>&1 || fail "dcmodify failed"
stow_body PACSTEST "$WORK/many" "$@"
STATUS=$(curl -sS --max-time 300 -o "$WORK/body" -w '%{http_code}' -H 'Transfer-Encoding: chunked' \
    -H 'Content-Type: multipart/related; type="application/dicom"; boundary=PACSTEST' \
    --data-binary @- "$B/studies" <"$WORK/many")
assert_eq 200 "$STATUS" "chunked STOW of 40 instances"
json_check "len(d['00081199']['Value']) == 40" "40 referenced"

# DELETE: refused by default; allowed by configuration.
I_URL=$(py "print(json.load(open('$WORK/body'))['00081199']['Value'][0]['00081190']['Value'][0])")
assert_eq 403 "$(curl -sS --max-time 30 -o /dev/null -w '%{http_code}' -X DELETE "$I_URL")" \
    "DELETE while not allowed"
stop_pacsd
start_pacsd --set dicomweb.delete_allowed=true
I_URL=$(echo "$I_URL" | sed "s|http://127.0.0.1:[0-9]*/|http://127.0.0.1:$HTTP_PORT/|")
assert_eq 204 "$(curl -sS --max-time 30 -o /dev/null -w '%{http_code}' -X DELETE "$I_URL")" "DELETE"
assert_eq 404 "$(http_status "$I_URL/metadata")" "deleted instance is gone"
assert_eq 404 "$(curl -sS --max-time 30 -o /dev/null -w '%{http_code}' -X DELETE "$I_URL")" \
    "DELETE twice"

# A chunked request past http.max_body_mb: 413 naming the limit and how many instances were
# complete before it (those are stored and found; the part cut by the limit leaves nothing).
stop_pacsd
start_pacsd --set http.max_body_mb=1
B="http://127.0.0.1:$HTTP_PORT/dicomweb"
for f in "$@"; do cp "$f" "$f.over"; done
set -- "$WORK"/g*.dcm.over
OVER_ST=$(new_uid)
dcmodify -nb -gin -m "(0020,000d)=$OVER_ST" -m "(0020,000e)=$OVER_ST.1" "$@" >/dev/null 2>&1 ||
    fail "dcmodify failed"
stow_body PACSTEST "$WORK/over" "$@"
[ "$(wc -c <"$WORK/over")" -gt 1100000 ] || fail "the body is not over 1 MiB"
STATUS=$(curl -sS --max-time 300 -o "$WORK/body" -w '%{http_code}' -H 'Transfer-Encoding: chunked' \
    -H 'Content-Type: multipart/related; type="application/dicom"; boundary=PACSTEST' \
    --data-binary @- "$B/studies" <"$WORK/over")
assert_eq 413 "$STATUS" "chunked STOW over the limit"
N=$(sed -n 's/.*(1 MiB); \([0-9]*\) instance(s) complete before the limit were stored.*/\1/p' \
    "$WORK/body")
[ -n "$N" ] && [ "$N" -gt 10 ] && [ "$N" -lt 40 ] || fail "413 message: $(cat "$WORK/body")"
assert_eq "$N" "$(count_matches -S -k QueryRetrieveLevel=IMAGE \
    -k StudyInstanceUID="$OVER_ST" -k SOPInstanceUID)" \
    "the instances stored before the limit"
timeout 10 sh -c 'until [ -z "$(ls "$1" 2>/dev/null)" ]; do sleep 0.1; done' _ "$DATA/tmp" ||
    fail "the part cut by the limit left temporary files: $(ls "$DATA/tmp")"
pass
