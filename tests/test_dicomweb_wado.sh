#!/bin/sh
# SPDX-License-Identifier: MIT
# WADO-RS and WADO-URI against the real pacsd: studies, series and instances retrieved as
# multipart/related hold the original datasets bit for bit; metadata is valid DICOM JSON that
# agrees with dcm2json and has working absolute BulkDataURIs; frames have the right size, in
# little endian whatever was stored, and compressed frames come in their own media type when
# the Accept header allows it, 406 when it does not; HEAD gives the length without the body.
. "$SRC/tests/lib.sh"
. "$SRC/tests/lib_dicomweb.sh"

start_pacsd
B="http://127.0.0.1:$HTTP_PORT/dicomweb"
T="$SAMPLES/test_files"
ANY='Accept: multipart/related; type="application/dicom"; transfer-syntax=*'
OCTET='Accept: multipart/related; type="application/octet-stream"; transfer-syntax=*'

# A native two-frame RGB image, decompressed from a pydicom sample by DCMTK.
dcmdrle "$T/SC_rgb_rle_2frame.dcm" "$WORK/rgb2.dcm" >/dev/null 2>&1 || fail "dcmdrle failed"
dcmodify -nb -gin "$WORK/rgb2.dcm" >/dev/null 2>&1 || fail "dcmodify failed"
store "$T/CT_small.dcm" "$T/MR_small.dcm" "$WORK/rgb2.dcm" >"$WORK/store.log" 2>&1 ||
    fail "storescu failed: $(tail -3 "$WORK/store.log")"
# Compressed ones over STOW-RS, which keeps every byte (DIMSE senders may re-encode lengths).
stow_body PACSTEST "$WORK/stow" "$T/JPEG2000.dcm" "$T/SC_rgb_rle_2frame.dcm"
assert_eq 200 "$(stow_post "$B/studies" "$WORK/stow")" "STOW of the compressed samples"

uid() { dcm_value "$1" "$2"; }
ids() { # file -> ST SE SOP
    ST=$(uid "$1" 0020,000d)
    SE=$(uid "$1" 0020,000e)
    SOP=$(uid "$1" 0008,0018)
    I="$B/studies/$ST/series/$SE/instances/$SOP"
}

# Whole study as multipart/related: the dataset bytes equal the original's.
ids "$T/CT_small.dcm"
assert_eq 200 "$(http_status -H "$ANY" "$B/studies/$ST")" "retrieve study"
py "parts = multipart(open('$WORK/body', 'rb').read(), sys.argv[1])
assert len(parts) == 1, len(parts)
h, content = parts[0]
assert h['content-type'].startswith('application/dicom'), h
assert same_dataset(content, open('$T/CT_small.dcm', 'rb').read())
" "$(header_value Content-Type)" || fail "study bytes differ from the original dataset"
LEN=$(header_value Content-Length)
assert_eq "$(wc -c <"$WORK/body" | tr -d ' ')" "$LEN" "Content-Length of the study"

# HEAD: the same length, no body.
curl -sS --max-time 30 -I -H "$ANY" -o "$WORK/head" "$B/studies/$ST" || fail "HEAD failed"
grep -qi "^Content-Length: $LEN" "$WORK/head" || fail "HEAD Content-Length differs"

# Series and instance, and the instance as a bare application/dicom.
assert_eq 200 "$(http_status -H "$ANY" "$B/studies/$ST/series/$SE")" "retrieve series"
assert_eq 200 "$(http_status -H "$ANY" "$I")" "retrieve instance"
assert_eq 200 "$(http_status -H 'Accept: application/dicom' "$I")" "bare application/dicom"
py "assert same_dataset(open('$WORK/body', 'rb').read(), open('$T/CT_small.dcm', 'rb').read())" ||
    fail "instance bytes differ"
# Explicit VR Little Endian is also what a client asking for no transfer syntax gets.
assert_eq 200 "$(http_status -H 'Accept: multipart/related; type="application/dicom"' "$I")" \
    "default transfer syntax"

# A JPEG 2000 instance: served as stored when the client accepts it (transfer-syntax=* or its
# UID); asked for without a transfer syntax, it comes decompressed: Explicit VR Little Endian is
# application/dicom's default (PS3.18 8.7.3, Table 8.7.3-2), and it was stored lossy, so it
# still says LossyImageCompression 01.
ids "$T/JPEG2000.dcm"
J2K_I=$I
assert_eq 200 "$(http_status -H "$ANY" "$I")" "JPEG 2000 with transfer-syntax=*"
py "parts = multipart(open('$WORK/body', 'rb').read(), sys.argv[1])
assert 'transfer-syntax=1.2.840.10008.1.2.4.91' in parts[0][0]['content-type'], parts[0][0]
assert dataset_bytes(parts[0][1]) == dataset_bytes(open('$T/JPEG2000.dcm', 'rb').read())
" "$(header_value Content-Type)" || fail "JPEG 2000 bytes differ"
assert_eq 200 "$(http_status -H 'Accept: multipart/related; type="application/dicom"' "$I")" \
    "JPEG 2000 without transfer-syntax"
py "parts = multipart(open('$WORK/body', 'rb').read(), sys.argv[1])
assert len(parts) == 1 and 'transfer-syntax=1.2.840.10008.1.2.1' in parts[0][0]['content-type'], parts[0][0]
open('$WORK/j2k-default.dcm', 'wb').write(parts[0][1])
" "$(header_value Content-Type)" || fail "JPEG 2000 without transfer-syntax: not one part"
assert_eq 1.2.840.10008.1.2.1 "$(file_ts "$WORK/j2k-default.dcm")" "decompressed syntax"
assert_eq 01 "$(dcm_value "$WORK/j2k-default.dcm" 0028,2110)" "lossy stays marked lossy"
assert_eq "$(dcm_value "$T/JPEG2000.dcm" 0008,0018)" "$(dcm_value "$WORK/j2k-default.dcm" 0008,0018)" \
    "decompressed: the same SOP Instance UID"
# A bare application/dicom for one instance: the same, as a single part.
assert_eq 200 "$(http_status -H 'Accept: application/dicom' "$I")" "bare, without transfer-syntax"
case "$(header_value Content-Type)" in
"application/dicom; transfer-syntax=1.2.840.10008.1.2.1") ;;
*) fail "bare answer is $(header_value Content-Type)" ;;
esac
cmp -s "$WORK/body" "$WORK/j2k-default.dcm" || fail "bare and multipart answers differ"
# The Pixel Data bulk value asked for as octet-stream without a transfer syntax: decoded too.
assert_eq 200 "$(http_status -H 'Accept: multipart/related; type="application/octet-stream"' "$I/bulkdata/7FE00010")" \
    "JPEG 2000 pixel data without transfer-syntax"
py "parts = multipart(open('$WORK/body', 'rb').read(), sys.argv[1])
assert len(parts) == 1 and 'transfer-syntax=1.2.840.10008.1.2.1' in parts[0][0]['content-type'], parts[0][0]
assert len(parts[0][1]) == $(dcmdump -q +P 0028,0010 "$T/JPEG2000.dcm" | awk '{ print $3 }') * $(dcmdump -q +P 0028,0011 "$T/JPEG2000.dcm" | awk '{ print $3 }') * 2, len(parts[0][1])
" "$(header_value Content-Type)" || fail "decoded JPEG 2000 pixel data"
assert_eq 406 "$(http_status -H 'Accept: multipart/related; type="application/dicom"; transfer-syntax=1.2.3.4' "$I")" \
    "a syntax this server does not write"
assert_eq 200 "$(http_status -H 'Accept: multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.91' "$I")" \
    "JPEG 2000 asked by its UID"

# Frames of a JPEG 2000 instance (1.2.840.10008.1.2.4.91): image/jp2 when that syntax is named
# (image/jp2's default is the lossless-only .90), or octet-stream with transfer-syntax=*.
# image/jp2 alone means .90 (lossless): the stored .91 frame is decoded and encoded again.
assert_eq 200 "$(http_status -H 'Accept: multipart/related; type="image/jp2"' "$I/frames/1")" \
    "image/jp2 means .90 unless told otherwise"
grep -aq 'transfer-syntax=1.2.840.10008.1.2.4.90' "$WORK/body" || fail "image/jp2 part is not .90"
assert_eq 200 "$(http_status -H 'Accept: multipart/related; type="image/jp2"; transfer-syntax=1.2.840.10008.1.2.4.91' "$I/frames/1")" \
    "JPEG 2000 frame as image/jp2"
py "parts = multipart(open('$WORK/body', 'rb').read(), sys.argv[1])
assert len(parts) == 1 and parts[0][0]['content-type'].startswith('image/jp2'), parts[0][0]
c = parts[0][1]
assert c[:4] == b'\xff\x4f\xff\x51' or c[4:8] == b'jP  ', c[:12]
" "$(header_value Content-Type)" || fail "JPEG 2000 frame is not a J2K codestream"
assert_eq 200 "$(http_status -H "$OCTET" "$I/frames/1")" "JPEG 2000 frame, transfer-syntax=*"
# octet-stream without transfer-syntax is Explicit VR Little Endian: the frame decoded.
us() { dcmdump -q +P "$2" "$1" | awk '{ print $3 }'; } # file tag -> an US value
assert_eq 200 "$(http_status -H 'Accept: multipart/related; type="application/octet-stream"' "$I/frames/1")" \
    "JPEG 2000 frame decoded"
py "parts = multipart(open('$WORK/body', 'rb').read(), sys.argv[1])
assert len(parts) == 1 and 'transfer-syntax=1.2.840.10008.1.2.1' in parts[0][0]['content-type'], parts[0][0]
assert len(parts[0][1]) == $(us "$T/JPEG2000.dcm" 0028,0010) * $(us "$T/JPEG2000.dcm" 0028,0011) * 2, len(parts[0][1])
" "$(header_value Content-Type)" || fail "decoded JPEG 2000 frame"

# Native frames in a compressed syntax (what a viewer on a slow link asks for): JPEG-LS and
# HTJ2K codestreams, smaller than the raw frame; a lossy syntax only when named.
ids "$T/CT_small.dcm"
for want in 'image/jls|ffd8fff7|1.2.840.10008.1.2.4.80' 'image/jphc|ff4fff51|1.2.840.10008.1.2.4.201' \
    'application/octet-stream"; transfer-syntax="1.2.840.10008.1.2.4.201|ff4fff51|1.2.840.10008.1.2.4.201'; do
    type=${want%%|*} rest=${want#*|}
    magic=${rest%%|*} ts=${rest#*|}
    assert_eq 200 "$(http_status -H "Accept: multipart/related; type=\"$type\"" "$I/frames/1")" \
        "native frame as $type"
    py "parts = multipart(open('$WORK/body', 'rb').read(), sys.argv[1])
assert len(parts) == 1 and 'transfer-syntax=$ts' in parts[0][0]['content-type'], parts[0][0]
assert parts[0][1][:4].hex() == '$magic', parts[0][1][:8]
assert len(parts[0][1]) < 128 * 128 * 2, len(parts[0][1])
" "$(header_value Content-Type)" || fail "native frame as $type"
done
assert_eq 406 "$(http_status -H 'Accept: multipart/related; type="image/jp2"; transfer-syntax=1.2.840.10008.1.2.4.50' "$I/frames/1")" \
    "a syntax image/jp2 cannot carry"

# Native frames: size rows*columns*samples*bytes, and the multi-frame list.
ids "$WORK/rgb2.dcm"
assert_eq 200 "$(http_status -H "$OCTET" "$I/frames/2,1")" "two native frames"
py "parts = multipart(open('$WORK/body', 'rb').read(), sys.argv[1])
assert len(parts) == 2, len(parts)
assert all(len(c) == 100 * 100 * 3 for h, c in parts), [len(c) for h, c in parts]
assert parts[0][0]['content-location'].endswith('/frames/2'), parts[0][0]
assert 'application/octet-stream' in parts[0][0]['content-type']
" "$(header_value Content-Type)" || fail "native frame sizes"
assert_eq 200 "$(http_status -H 'Accept: application/octet-stream' "$I/frames/1")" \
    "single frame as a bare octet-stream"
assert_eq 30000 "$(wc -c <"$WORK/body" | tr -d ' ')" "bare frame size"
assert_eq 404 "$(http_status -H "$OCTET" "$I/frames/3")" "frame past the end"
assert_eq 400 "$(http_status -H "$OCTET" "$I/frames/0")" "frame 0"

# RLE frames: image/dicom-rle when asked, octet-stream with transfer-syntax=*, else 406.
ids "$T/SC_rgb_rle_2frame.dcm"
assert_eq 200 "$(http_status -H 'Accept: multipart/related; type="image/dicom-rle"' "$I/frames/1,2")" \
    "RLE frames as image/dicom-rle"
py "parts = multipart(open('$WORK/body', 'rb').read(), sys.argv[1])
assert len(parts) == 2 and all(h['content-type'].startswith('image/dicom-rle') for h, c in parts)
assert all(int.from_bytes(c[:4], 'little') == 3 for h, c in parts), 'RLE header: 3 segments'
" "$(header_value Content-Type)" || fail "RLE frames"
assert_eq 200 "$(http_status -H "$OCTET" "$I/frames/1")" "RLE frame with transfer-syntax=*"
grep -q "transfer-syntax=1.2.840.10008.1.2.5" "$WORK/body" || fail "RLE part names its syntax"
assert_eq 406 "$(http_status -H 'Accept: image/jpeg' "$I/frames/1")" "RLE frame as JPEG"

# Big endian stored frames come out little endian: MR_small and MR_small_bigendian hold the same
# pixels (the same SOP Instance UID, so the second replaces the first).
ids "$T/MR_small.dcm"
http_status -H "$OCTET" "$I/frames/1" >/dev/null
cp "$WORK/body" "$WORK/le.frame"
cp "$WORK/headers" "$WORK/le.headers"
store "$T/MR_small_bigendian.dcm" >"$WORK/store.log" 2>&1 ||
    fail "storescu (big endian) failed: $(tail -3 "$WORK/store.log")"
assert_eq 200 "$(http_status -H "$OCTET" "$I/frames/1")" "big endian frame"
py "le = multipart(open('$WORK/le.frame', 'rb').read(), sys.argv[1])[0][1]
be = multipart(open('$WORK/body', 'rb').read(), sys.argv[2])[0][1]
assert len(le) == 64 * 64 * 2 and le == be, (len(le), len(be))
" "$(grep -i '^Content-Type' "$WORK/le.headers" | cut -d: -f2-)" "$(header_value Content-Type)" ||
    fail "big endian frame differs from the little endian one"

# Metadata: valid DICOM JSON (PS3.18 F.2) agreeing with dcm2json on the same file.
ids "$T/CT_small.dcm"
assert_eq 200 "$(http_status "$B/studies/$ST/metadata")" "study metadata"
assert_eq "application/dicom+json" "$(header_value Content-Type)" "metadata content type"
dcm2json "$T/CT_small.dcm" "$WORK/ref.json" 2>/dev/null || fail "dcm2json failed"
py "d = json.load(open('$WORK/body'))
ref = json.load(open('$WORK/ref.json'))
assert isinstance(d, list) and len(d) == 1
m = d[0]
for key, attr in m.items():
    assert re.fullmatch('[0-9A-F]{8}', key), key
    assert re.fullmatch('[A-Z]{2}', attr['vr']), attr
    assert len([k for k in ('Value', 'BulkDataURI', 'InlineBinary') if k in attr]) <= 1, attr
same = 0
for key, attr in ref.items():
    if key.startswith('0002') or 'Value' not in attr or attr['vr'] in ('SQ', 'OB', 'OW', 'UN'):
        continue
    got = m.get(key, {}).get('Value')
    if attr['vr'] in ('FL', 'FD', 'DS'):
        # The same binary float may be printed with more or fewer digits.
        ok = got is not None and len(got) == len(attr['Value']) and all(
            abs(float(a) - float(b)) <= 1e-6 * max(1.0, abs(float(b)))
            for a, b in zip(got, attr['Value']))
    else:
        ok = got == attr['Value']
    assert ok, (key, m.get(key), attr)
    same += 1
assert same > 40, same
uri = m['7FE00010']['BulkDataURI']
assert uri.startswith('http://') and uri.endswith('/instances/$SOP/bulkdata/7FE00010'), uri
print(uri)
" >"$WORK/uri" || fail "metadata disagrees with dcm2json"
assert_eq 200 "$(http_status -H "$OCTET" "$(cat "$WORK/uri")")" "BulkDataURI of Pixel Data"
py "parts = multipart(open('$WORK/body', 'rb').read(), sys.argv[1])
assert len(parts) == 1 and len(parts[0][1]) == 128 * 128 * 2, [len(c) for h, c in parts]
" "$(header_value Content-Type)" || fail "pixel data bulk size"
# Every other BulkDataURI works too: a private OB value at the top level, and a value nested
# in a sequence item, in explicit and implicit VR little endian.
http_status "$B/studies/$ST/metadata" >/dev/null
PRIV=$(py "print(json.load(open('$WORK/body'))[0]['00431029']['BulkDataURI'])")
assert_eq 200 "$(http_status -H 'Accept: application/octet-stream' "$PRIV")" "private bulk data"
assert_eq "$(dcmdump +P 0043,1029 "$T/CT_small.dcm" | sed -n 's/.*# *\([0-9]*\),.*/\1/p')" \
    "$(wc -c <"$WORK/body" | tr -d ' ')" "private bulk data length"
head -c 3000 /dev/urandom >"$WORK/icc.bin"
cp "$T/MR_small.dcm" "$WORK/nest.dcm"
dcmodify -nb -gin -i "(0054,0016)[0].(0018,1072)=101010" -i "(0054,0016)[1].(0018,1072)=111111" \
    -if "(0054,0016)[1].(0028,2000)=$WORK/icc.bin" "$WORK/nest.dcm" >/dev/null 2>&1 ||
    fail "dcmodify could not nest bulk data"
dcmconv +ti "$WORK/nest.dcm" "$WORK/nest_i.dcm" && dcmodify -nb -gin "$WORK/nest_i.dcm" >/dev/null 2>&1 ||
    fail "dcmconv failed"
store "$WORK/nest.dcm" >"$WORK/store.log" 2>&1 ||
    fail "storescu (nested) failed: $(tail -3 "$WORK/store.log")"
store -xi "$WORK/nest_i.dcm" >"$WORK/store.log" 2>&1 ||
    fail "storescu (nested, implicit) failed: $(tail -3 "$WORK/store.log")"
for f in nest nest_i; do
    http_status "$B/instances?SOPInstanceUID=$(dcm_value "$WORK/$f.dcm" 0008,0018)" >/dev/null
    U=$(py "print(json.load(open('$WORK/body'))[0]['00081190']['Value'][0])")
    http_status "$U/metadata" >/dev/null
    N=$(py "print(json.load(open('$WORK/body'))[0]['00540016']['Value'][1]['00282000']['BulkDataURI'])")
    assert_eq "$U/bulkdata/00540016/1/00282000" "$N" "nested BulkDataURI ($f)"
    assert_eq 200 "$(http_status -H 'Accept: application/octet-stream' "$N")" "nested bulk ($f)"
    cmp -s "$WORK/body" "$WORK/icc.bin" || fail "nested bulk data differs ($f)"
    assert_eq 404 "$(http_status "$U/bulkdata/00540016/2/00282000")" "no such item ($f)"
done
assert_eq 200 "$(http_status "$B/studies/$ST/series/$SE/metadata")" "series metadata"
json_check "len(d) == 1 and d[0]['00080018']['Value'] == ['$SOP']" "series metadata content"
assert_eq 200 "$(http_status "$I/metadata")" "instance metadata"
http_status --compressed -H 'Accept-Encoding: gzip' "$B/studies/$ST/metadata" >/dev/null
assert_eq gzip "$(header_value Content-Encoding)" "gzip metadata"
json_check "len(d) == 1" "gzip metadata decodes"
assert_eq 406 "$(http_status -H 'Accept: multipart/related; type="application/dicom+xml"' "$I/metadata")" \
    "metadata as XML"

# WADO-URI.
U="$B/wado?requestType=WADO&studyUID=$ST&seriesUID=$SE&objectUID=$SOP"
assert_eq 200 "$(http_status "$U&contentType=application%2Fdicom")" "WADO-URI application/dicom"
assert_eq "application/dicom" "$(header_value Content-Type)" "WADO-URI content type"
py "assert same_dataset(open('$WORK/body', 'rb').read(), open('$T/CT_small.dcm', 'rb').read())" ||
    fail "WADO-URI bytes differ"
assert_eq 200 "$(http_status "$U")" "WADO-URI default content type (a rendered image/jpeg)"
assert_eq 404 "$(http_status "$B/wado?requestType=WADO&studyUID=$ST&seriesUID=$SE&objectUID=1.2.3&contentType=application/dicom")" \
    "WADO-URI unknown object"

# Rendered images and thumbnails (tests/test_image_http.sh tests them in detail).
assert_eq 200 "$(http_status "$I/rendered")" "rendered"
assert_eq 200 "$(http_status "$B/studies/$ST/series/$SE/thumbnail?viewport=256%2C256")" "thumbnail"
pass
