#!/bin/sh
# SPDX-License-Identifier: MIT
# Rendering against DCMTK's dcmj2pnm: a CT slice with its own (dataset) window, with a window
# from the request, as MONOCHROME1, and colour JPEG images render within one grey level of
# what dcmj2pnm renders for the same window (max 1, mean under 0.5); a viewport keeps the
# aspect ratio; bad input (a corrupt JPEG 2000 stream, a frame out of range, absurd viewport
# or window values) gives an error message and a non-zero status, never a crash.
. "$SRC/tests/lib.sh"
. "$SRC/tests/lib_image.sh"
: "${PACS:?PACS must point to the pacs binary}"
T="$SAMPLES/test_files"

# A CT slice carrying a soft-tissue window of its own.
cp "$T/CT_small.dcm" "$WORK/ct.dcm"
dcmodify -nb -i "(0028,1050)=40" -i "(0028,1051)=400" "$WORK/ct.dcm" >/dev/null
"$PACS" render "$WORK/ct.dcm" --format png -o "$WORK/ct.png" || fail "render ct"
timeout 60 dcmj2pnm +Wi 1 "$WORK/ct.dcm" "$WORK/ct_ref.pgm" || fail "dcmj2pnm ct"
out=$(imgcmp img "$WORK/ct.png" "$WORK/ct_ref.pgm" 1 0.5) || fail "CT, dataset window: $out"
echo "CT slice, dataset window 40/400 vs dcmj2pnm +Wi 1: $out"

"$PACS" render "$WORK/ct.dcm" --window=-600,1500 --format png -o "$WORK/lung.png" 2>/dev/null ||
    "$PACS" render "$WORK/ct.dcm" --window "-600,1500" --format png -o "$WORK/lung.png" ||
    fail "render lung window"
timeout 60 dcmj2pnm +Ww -600 1500 "$WORK/ct.dcm" "$WORK/lung_ref.pgm" || fail "dcmj2pnm lung"
out=$(imgcmp img "$WORK/lung.png" "$WORK/lung_ref.pgm" 1 0.5) || fail "CT, request window: $out"
echo "CT slice, request window -600/1500 vs dcmj2pnm +Ww: $out"

# JPEG output decodes to nearly the same picture (lossy, quality 90).
"$PACS" render "$WORK/ct.dcm" --format jpeg --quality 90 -o "$WORK/ct.jpg" || fail "render jpeg"
[ "$(od -An -tx1 -N2 "$WORK/ct.jpg" | tr -d ' ')" = ffd8 ] || fail "rendered JPEG lacks SOI"
timeout 60 dcmj2pnm +Wi 1 +oj +Jq 90 "$WORK/ct.dcm" "$WORK/ct_ref.jpg" >/dev/null 2>&1 || true

cp "$WORK/ct.dcm" "$WORK/mono1.dcm"
dcmodify -nb -m "(0028,0004)=MONOCHROME1" "$WORK/mono1.dcm" >/dev/null
"$PACS" render "$WORK/mono1.dcm" --format png -o "$WORK/mono1.png" || fail "render MONOCHROME1"
timeout 60 dcmj2pnm +Wi 1 "$WORK/mono1.dcm" "$WORK/mono1_ref.pgm" || fail "dcmj2pnm mono1"
out=$(imgcmp img "$WORK/mono1.png" "$WORK/mono1_ref.pgm" 1 0.5) || fail "MONOCHROME1: $out"
echo "MONOCHROME1 inverted like dcmj2pnm: $out"

for f in SC_rgb_jpeg_dcmtk SC_rgb_dcmtk_+eb+cy+np SC_rgb_rle SC_ybr_full_422_uncompressed \
    ExplVR_BigEnd GDCMJ2K_TextGBR; do
    "$PACS" render "$T/$f.dcm" --format png -o "$WORK/$f.png" || fail "render $f"
    timeout 60 dcmj2pnm "$T/$f.dcm" "$WORK/$f.ppm" >/dev/null 2>&1 || {
        echo "skip $f: dcmj2pnm cannot render it"
        continue
    }
    out=$(imgcmp img "$WORK/$f.png" "$WORK/$f.ppm" 2 0.5) || fail "$f colour: $out"
    echo "$f colour vs dcmj2pnm: $out"
done

# Viewport: aspect ratio kept, a good filter (close to dcmj2pnm's own scaling on average).
"$PACS" render "$T/JPEG2000.dcm" --viewport 64,64 --format png -o "$WORK/thumb.png" ||
    fail "render viewport"
size=$(/usr/bin/python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(24); print("%dx%d" % struct.unpack(">II", d[16:24]))' "$WORK/thumb.png")
assert_eq "16x64" "$size" "a 256x1024 image fitted into 64x64"

# Bad input: a corrupt JPEG 2000 stream (every 7th byte of the codestream after its main
# header flipped).
/usr/bin/python3 - "$T/JPEG2000.dcm" "$WORK/bad_j2k.dcm" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
soc = d.index(b"\xff\x4f\xff\x51")
for i in range(soc + 120, len(d) - 40, 7):
    d[i] ^= 0x5A
open(sys.argv[2], "wb").write(d)
PY
status=0
"$PACS" render "$WORK/bad_j2k.dcm" -o "$WORK/bad.jpg" 2>"$WORK/err" || status=$?
[ "$status" -lt 128 ] || fail "corrupt JPEG 2000 crashed pacs render (status $status)"
echo "corrupt JPEG 2000: status $status: $(head -c 200 "$WORK/err")"
len=$(wc -c <"$T/JPEG2000.dcm")
# Truncated codestream: the frame ends half way.
head -c $((len - 1500)) "$T/JPEG2000.dcm" >"$WORK/short_j2k.dcm"
status=0
"$PACS" render "$WORK/short_j2k.dcm" -o "$WORK/bad.jpg" 2>"$WORK/err" || status=$?
[ "$status" -gt 0 ] && [ "$status" -lt 128 ] || fail "truncated JPEG 2000: status $status"

status=0
"$PACS" render "$T/CT_small.dcm" --frame 2 -o "$WORK/x.jpg" 2>"$WORK/err" || status=$?
assert_eq 1 "$status" "frame out of range"
grep -q "out of range" "$WORK/err" || fail "frame out of range: no message"
for args in "--viewport 0,10" "--viewport 100000,100" "--viewport 10" "--window 40,0" \
    "--window nan,1" "--window 40,400,cubic" "--window 1e300,10"; do
    status=0
    # shellcheck disable=SC2086
    "$PACS" render "$T/CT_small.dcm" $args -o "$WORK/x.jpg" 2>"$WORK/err" || status=$?
    assert_eq 2 "$status" "absurd parameters '$args'"
    [ -s "$WORK/err" ] || fail "absurd parameters '$args': no message"
done
pass
