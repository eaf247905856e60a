#!/bin/sh
# SPDX-License-Identifier: MIT
# Rendered images and thumbnails over HTTP against the real pacsd: WADO-RS /rendered and
# /thumbnail at study, series, instance and frame level (image/jpeg and image/png, window,
# viewport, quality), WADO-URI with contentType=image/jpeg and windowCenter/windowWidth/rows/
# columns/frameNumber; a second request is served from the cache with the same bytes; bad
# parameters get 400, unknown frames 404, unsupported media types 406, and pacsd lives on.
. "$SRC/tests/lib.sh"
. "$SRC/tests/lib_image.sh"
T="$SAMPLES/test_files"
start_pacsd
B="http://127.0.0.1:$HTTP_PORT/dicomweb"
send_as_is "$T/CT_small.dcm" "$T/SC_rgb_rle_2frame.dcm" "$T/JPEG2000.dcm" >/dev/null 2>&1 ||
    fail "storing the samples"
ST=$(dcm_value "$T/CT_small.dcm" StudyInstanceUID)
SE=$(dcm_value "$T/CT_small.dcm" SeriesInstanceUID)
SOP=$(dcm_value "$T/CT_small.dcm" SOPInstanceUID)
MST=$(dcm_value "$T/SC_rgb_rle_2frame.dcm" StudyInstanceUID)
MSE=$(dcm_value "$T/SC_rgb_rle_2frame.dcm" SeriesInstanceUID)
MSOP=$(dcm_value "$T/SC_rgb_rle_2frame.dcm" SOPInstanceUID)

get() { # expected-status out url [curl args]
    want=$1 out=$2 url=$3
    shift 3
    code=$(timeout 60 curl -s -o "$out" -w '%{http_code}' "$@" "$url") || code=000
    [ "$code" = "$want" ] || fail "GET $url: status $code, expected $want ($(head -c 200 "$out"))"
}
ctype() { timeout 60 curl -s -o /dev/null -w '%{content_type}' "$@"; }
magic() { od -An -tx1 -N4 "$1" | tr -d ' \n'; }

I="$B/studies/$ST/series/$SE/instances/$SOP"
get 200 "$WORK/r.jpg" "$I/rendered"
assert_eq ffd8ffe0 "$(magic "$WORK/r.jpg" | cut -c1-8)" "instance rendered is a JPEG"
assert_eq image/jpeg "$(ctype "$I/rendered")" "rendered content type"
# The same window as dcmj2pnm, as PNG: within one grey level.
get 200 "$WORK/r.png" "$I/rendered?window=40,400&accept=image/png"
timeout 60 dcmj2pnm +Ww 40 400 "$T/CT_small.dcm" "$WORK/ref.pgm" || fail "dcmj2pnm"
out=$(imgcmp img "$WORK/r.png" "$WORK/ref.pgm" 1 0.5) || fail "rendered PNG vs dcmj2pnm: $out"
echo "HTTP rendered PNG vs dcmj2pnm +Ww 40 400: $out"
get 200 "$WORK/r2.png" "$I/rendered?window=40,400" -H 'Accept: image/png'
cmp -s "$WORK/r.png" "$WORK/r2.png" || fail "the cached answer differs from the first"
get 200 "$WORK/s.jpg" "$I/rendered?window=-600,1500,sigmoid&viewport=64,64&quality=50"
get 200 "$WORK/f.jpg" "$I/frames/1/rendered"
get 200 "$WORK/t.jpg" "$I/thumbnail"
size=$(wc -c <"$WORK/t.jpg")
[ "$size" -lt 10000 ] || fail "a thumbnail of $size bytes"
echo "instance thumbnail: $size bytes"
get 200 "$WORK/st.jpg" "$B/studies/$ST/thumbnail"
get 200 "$WORK/se.jpg" "$B/studies/$MST/series/$MSE/thumbnail?viewport=32,32"
M="$B/studies/$MST/series/$MSE/instances/$MSOP"
get 200 "$WORK/m2.png" "$M/frames/2/rendered?accept=image/png"
get 200 "$WORK/mm" "$M/frames/1,2/rendered"
ctype "$M/frames/1,2/rendered" | grep -q '^multipart/related' || fail "two frames: not multipart"
[ "$(grep -c 'Content-Type: image/jpeg' "$WORK/mm")" = 2 ] || fail "two frames: not two parts"
get 200 "$WORK/ser" "$B/studies/$MST/series/$MSE/rendered"
[ "$(grep -ac 'Content-Type: image/jpeg' "$WORK/ser")" = 2 ] || fail "series rendered: 2 frames"

# WADO-URI
U="$B/wado?requestType=WADO&studyUID=$ST&seriesUID=$SE&objectUID=$SOP"
get 200 "$WORK/u.jpg" "$U"
get 200 "$WORK/u2.jpg" "$U&contentType=image/jpeg&windowCenter=40&windowWidth=400&rows=64&columns=64&frameNumber=1"
get 200 "$WORK/u.png" "$U&contentType=image/png&windowCenter=40&windowWidth=400"
cmp -s "$WORK/u.png" "$WORK/r.png" || fail "WADO-URI and WADO-RS render the same window differently"

# Retrieval in another transfer syntax: a series as HTJ2K, the same pixels.
get 200 "$WORK/htj2k.multipart" "$B/studies/$ST/series/$SE" \
    -H 'Accept: multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.201'
/usr/bin/python3 - "$WORK/htj2k.multipart" "$WORK/part" <<'PY' || fail "HTJ2K multipart unreadable"
import sys
d = open(sys.argv[1], "rb").read()
b = d[:d.index(b"\r\n")]
parts = [p for p in d.split(b) if b"\r\n\r\n" in p]
for i, p in enumerate(parts):
    body = p[p.index(b"\r\n\r\n") + 4:]
    open("%s%d.dcm" % (sys.argv[2], i), "wb").write(body[:-2])
print(len(parts))
PY
got=$(dcmdump -Un +P TransferSyntaxUID "$WORK/part0.dcm" | sed -n 's/^[^[]*\[\(.*\)\].*$/\1/p')
assert_eq 1.2.840.10008.1.2.4.201 "$got" "transcoded series: transfer syntax"
"$PACS" render "$WORK/part0.dcm" --raw -o "$WORK/h.raw" && "$PACS" render "$T/CT_small.dcm" --raw -o "$WORK/o.raw"
cmp -s "$WORK/h.raw" "$WORK/o.raw" || fail "HTJ2K series: pixels differ"
get 406 "$WORK/e" "$I" -H 'Accept: multipart/related; type="application/dicom"; transfer-syntax=1.2.3.4'

# Bad requests
get 400 "$WORK/e" "$I/rendered?window=40,0"
get 400 "$WORK/e" "$I/rendered?viewport=0,10"
get 400 "$WORK/e" "$I/rendered?viewport=99999,99999"
get 400 "$WORK/e" "$I/rendered?quality=500"
get 404 "$WORK/e" "$I/frames/9/rendered"
get 406 "$WORK/e" "$I/rendered" -H 'Accept: image/gif'
get 400 "$WORK/e" "$U&windowCenter=40"
get 404 "$WORK/e" "$U&frameNumber=3"
get 404 "$WORK/e" "$B/studies/1.2.3.999/thumbnail"
# A corrupt JPEG 2000 object: an error for that request, and the server lives on.
/usr/bin/python3 - "$T/JPEG2000.dcm" "$WORK/bad.dcm" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
soc = d.index(b"\xff\x4f\xff\x51")
for i in range(soc + 120, len(d) - 40, 7):
    d[i] ^= 0x5A
open(sys.argv[2], "wb").write(d)
PY
send_as_is "$WORK/bad.dcm" >/dev/null 2>&1 || true
BST=$(dcm_value "$T/JPEG2000.dcm" StudyInstanceUID)
code=$(timeout 60 curl -s -o "$WORK/e" -w '%{http_code}' "$B/studies/$BST/thumbnail") || code=000
case "$code" in 4* | 5*) echo "corrupt JPEG 2000 thumbnail: $code $(head -c 120 "$WORK/e")" ;;
*) fail "corrupt JPEG 2000 thumbnail: status $code" ;; esac
get 200 "$WORK/alive.jpg" "$I/thumbnail"
kill -0 "$PACSD_PID" || fail "pacsd died"
pass
