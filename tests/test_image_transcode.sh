#!/bin/sh
# SPDX-License-Identifier: MIT
# Transcoding with `pacs render --transcode` (the converter DICOMweb and DIMSE retrieval use):
# every lossless target gives back identical pixels for every frame; DCMTK's own decoders
# (dcmdjpeg, dcmdjpls, dcmdrle), OpenJPEG's opj_decompress and OpenJPH's ojph_expand read what
# we wrote and agree; dciodvfy (dicom3tools) reports no error on the result that it did not
# report on the source; lossy targets carry LossyImageCompression, its ratio and method and
# stay close to the source; the same syntax copies the object unchanged.
. "$SRC/tests/lib.sh"
. "$SRC/tests/lib_image.sh"
: "${PACS:?PACS must point to the pacs binary}"
T="$SAMPLES/test_files"

errors_of() { # dciodvfy's error lines, without the file-specific parts
    f=$1
    case "$(dcmdump -Un +P TransferSyntaxUID "$f" 2>/dev/null)" in
    *1.2.840.10008.1.2.4.20[123]*) # dciodvfy (2022) does not know HTJ2K: check as JPEG 2000
        imgcmp retag "$f" "$WORK/retag.dcm" 1.2.840.10008.1.2.4.90
        f="$WORK/retag.dcm" ;;
    esac
    st=0
    timeout 60 dciodvfy "$f" >"$WORK/dciodvfy.out" 2>&1 || st=$?
    [ "$st" -lt 128 ] || { echo UNCHECKABLE; return; } # dciodvfy itself aborted (32-bit data)
    grep '^Error' "$WORK/dciodvfy.out" | sed 's/ - .*Value.*//' | sort -u
}

frames_of() {
    info_field "$("$PACS" render "$1" --info)" frames
}

decode_frames() { # file dir: every frame's decoded bytes as dir/N.raw, their count in dir/n
    rm -rf "$2" && mkdir -p "$2"
    n=$(frames_of "$1")
    [ -n "$n" ] || return 1
    i=1
    while [ "$i" -le "$n" ]; do
        "$PACS" render "$1" --raw --frame "$i" -o "$2/$i.raw" 2>/dev/null || return 1
        i=$((i + 1))
    done
    echo "$n" >"$2/n"
}

same_as_decoded() { # dir b: b's frames decode to the bytes in dir (decode_frames)
    n=$(cat "$1/n")
    [ "$n" = "$(frames_of "$2")" ] || return 1
    i=1
    while [ "$i" -le "$n" ]; do
        "$PACS" render "$2" --raw --frame "$i" -o "$WORK/fb.raw" 2>/dev/null || return 1
        cmp -s "$1/$i.raw" "$WORK/fb.raw" || return 1
        i=$((i + 1))
    done
}

same_frames() { # a b: every frame decodes to the same bytes
    decode_frames "$1" "$WORK/fa" && same_as_decoded "$WORK/fa" "$2"
}

# An independent decoder's view of OUT, compared with the source's frames as we decode them (OUT
# was found to decode to those already; exact).
cross_check() { # out ts name
    out=$1 ts=$2 name=$3
    case "$ts" in
    1.2.840.10008.1.2.5) tool="dcmdrle" ;;
    1.2.840.10008.1.2.4.57 | 1.2.840.10008.1.2.4.70) tool="dcmdjpeg" ;;
    1.2.840.10008.1.2.4.80) tool="dcmdjpls" ;;
    *) tool="" ;;
    esac
    if [ -n "$tool" ]; then
        timeout 60 $tool "$out" "$WORK/x.dcm" >/dev/null 2>&1 || fail "$name: $tool cannot read it"
        same_as_decoded "$WORK/src" "$WORK/x.dcm" || fail "$name: $tool decodes other pixels"
        echo "  $tool agrees"
    fi
}

checked=0
for src in CT_small MR_small_RLE SC_rgb_rle_2frame image_dfl JPEG2000 rtdose; do
    f="$T/$src.dcm"
    # The source's frames, decoded once for the comparisons with each result below.
    decode_frames "$f" "$WORK/src" || fail "$src: cannot decode the source"
    # The source's own errors (dciodvfy cannot read a deflated dataset: its inflated copy too).
    before=$(errors_of "$f")
    if timeout 60 dcmconv +te "$f" "$WORK/inflated.dcm" >/dev/null 2>&1; then
        before=$(printf '%s\n%s\n' "$before" "$(errors_of "$WORK/inflated.dcm")")
    fi
    for ts in 1.2.840.10008.1.2.1 1.2.840.10008.1.2 1.2.840.10008.1.2.5 1.2.840.10008.1.2.4.57 \
        1.2.840.10008.1.2.4.70 1.2.840.10008.1.2.4.80 1.2.840.10008.1.2.4.90 \
        1.2.840.10008.1.2.4.201 1.2.840.10008.1.2.4.202; do
        out="$WORK/$src-$ts.dcm"
        if ! "$PACS" render "$f" --transcode "$ts" -o "$out" 2>"$WORK/err"; then
            # 32-bit samples fit only native syntaxes and RLE: a clear refusal is right.
            grep -q "32-bit\|HTJ2K: unsupported image" "$WORK/err" ||
                fail "$src -> $ts: $(cat "$WORK/err")"
            echo "$src -> $ts refused: $(cat "$WORK/err")"
            continue
        fi
        got=$(dcmdump -Un +P TransferSyntaxUID "$out" | sed -n 's/^[^[]*\[\(.*\)\].*$/\1/p')
        assert_eq "$ts" "$got" "$src -> $ts: transfer syntax of the result"
        same_as_decoded "$WORK/src" "$out" ||
            fail "$src -> $ts: pixels differ after a lossless transcode"
        if printf '%s' "$before" | grep -q UNCHECKABLE; then
            echo "  (dciodvfy aborts on the source itself: no validity comparison)"
        else
            after=$(errors_of "$out")
            new=$(printf '%s\n' "$after" | grep -vxF -e "$before" | grep . || true)
            [ -z "$new" ] || fail "$src -> $ts: dciodvfy reports new errors: $new"
        fi
        [ "$(dcm_value "$out" LossyImageCompression)" != 01 ] ||
            [ "$(dcm_value "$f" LossyImageCompression)" = 01 ] ||
            fail "$src -> $ts: a lossless transcode was marked lossy"
        echo "$src -> $ts: identical pixels, no new dciodvfy errors"
        cross_check "$out" "$ts" "$src -> $ts"
        checked=$((checked + 1))
    done
done
[ "$checked" -ge 40 ] || fail "only $checked lossless transcodes were checked"

# JPEG 2000 and HTJ2K output read by OpenJPEG's and OpenJPH's own tools (8-bit grey, RGB).
for src in image_dfl SC_rgb_rle_2frame; do
    out="$WORK/$src-1.2.840.10008.1.2.4.90.dcm"
    imgcmp frame "$out" 0 "$WORK/j.j2k"
    timeout 60 opj_decompress -quiet -i "$WORK/j.j2k" -o "$WORK/j.rawl" >/dev/null 2>&1 ||
        fail "$src: opj_decompress cannot read our JPEG 2000"
    "$PACS" render "$T/$src.dcm" --raw --frame 1 -o "$WORK/mine.raw" 2>/dev/null
    info=$("$PACS" render "$T/$src.dcm" --info)
    imgcmp raw "$WORK/mine.raw" "$WORK/j.rawl" "$(info_field "$info" rows)" \
        "$(info_field "$info" cols)" "$(info_field "$info" samples)" 1 0 1 plain 0 0 >/dev/null ||
        fail "$src: opj_decompress decodes other pixels"
    out="$WORK/$src-1.2.840.10008.1.2.4.201.dcm"
    ext=pgm
    [ "$(info_field "$info" samples)" = 3 ] && ext=ppm
    imgcmp frame "$out" 0 "$WORK/h.j2c"
    timeout 60 ojph_expand -i "$WORK/h.j2c" -o "$WORK/h.$ext" >/dev/null 2>&1 ||
        fail "$src: ojph_expand cannot read our HTJ2K"
    "$PACS" render "$out" --format png -o "$WORK/h.png"
    /usr/bin/python3 - "$WORK/mine.raw" "$WORK/h.$ext" "$IMGCMP" <<'PY' || fail "$src: ojph_expand decodes other pixels"
import importlib.util, sys
spec = importlib.util.spec_from_file_location("imgcmp", sys.argv[3])
src = open(sys.argv[3]).read().replace("\nmain()\n", "\n")
ns = {}
exec(compile(src, sys.argv[3], "exec"), ns)
w, h, ch, px = ns["pgm_pixels"](sys.argv[2])
mine = list(open(sys.argv[1], "rb").read())
sys.exit(0 if mine == px else 1)
PY
    echo "$src: opj_decompress and ojph_expand read our JPEG 2000 and HTJ2K frames exactly"
done

# Lossy targets: marked as such, close to the source, no new dciodvfy errors.
lossy() { # src ts method max_mean_error_per_mille extra-args
    src=$1 ts=$2 method=$3 limit=$4
    shift 4
    f="$T/$src.dcm"
    [ -f "$f" ] || f="$WORK/$src.dcm"
    out="$WORK/$src-lossy-$ts.dcm"
    "$PACS" render "$f" --transcode "$ts" --lossy "$@" -o "$out" 2>"$WORK/err" ||
        fail "$src -> $ts lossy: $(cat "$WORK/err")"
    assert_eq 01 "$(dcm_value "$out" LossyImageCompression)" "$src -> $ts: LossyImageCompression"
    ratio=$(dcm_value "$out" LossyImageCompressionRatio)
    assert_eq "$method" "$(dcm_value "$out" LossyImageCompressionMethod)" "$src -> $ts: method"
    /usr/bin/python3 -c "import sys; sys.exit(0 if float(sys.argv[1].split('\\\\')[-1]) > 1 else 1)" \
        "$ratio" || fail "$src -> $ts: ratio '$ratio'"
    info=$("$PACS" render "$f" --info)
    bits=$(info_field "$info" bits_stored)
    "$PACS" render "$f" --raw -o "$WORK/a.raw" 2>/dev/null
    "$PACS" render "$out" --raw -o "$WORK/b.raw" 2>/dev/null
    bps=$(($(info_field "$info" bits_allocated) / 8))
    res=$(imgcmp raw "$WORK/b.raw" "$WORK/a.raw" "$(info_field "$info" rows)" \
        "$(info_field "$info" cols)" "$(info_field "$info" samples)" "$bps" \
        "$(info_field "$info" pixel_rep)" 0 plain 0 1000000) || true
    mean=$(printf '%s' "$res" | sed -n 's/.*mean=\([0-9.]*\).*/\1/p')
    /usr/bin/python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) * 1000 <= float(sys.argv[2]) * 2 ** int(sys.argv[3]) else 1)" \
        "$mean" "$limit" "$bits" || fail "$src -> $ts: mean error $mean is too large"
    before=$(errors_of "$f")
    new=$(errors_of "$out" | grep -vxF -e "$before" | grep . || true)
    [ -z "$new" ] || fail "$src -> $ts: dciodvfy reports new errors: $new"
    printf '%s\n' "$src -> $ts lossy: ratio $ratio, method $method, $res"
}
lossy SC_rgb_rle 1.2.840.10008.1.2.4.50 ISO_10918_1 20 --quality 90
timeout 60 dcmdjpeg "$T/JPGExtended.dcm" "$WORK/ext12.dcm" # a 12-bit native source
lossy ext12 1.2.840.10008.1.2.4.51 ISO_10918_1 20 --quality 90
lossy CT_small 1.2.840.10008.1.2.4.91 ISO_15444_1 5
lossy CT_small 1.2.840.10008.1.2.4.203 ISO_15444_15 5
lossy ext12 1.2.840.10008.1.2.4.81 ISO_14495_1 1 # DCMTK's JPEG-LS near-lossless: unsigned only

# Without --lossy a lossy-only syntax is refused; 4.91 stays lossless.
status=0
"$PACS" render "$T/SC_rgb_rle.dcm" --transcode 1.2.840.10008.1.2.4.50 -o "$WORK/x.dcm" \
    2>"$WORK/err" || status=$?
assert_eq 1 "$status" "JPEG baseline without --lossy"
"$PACS" render "$T/CT_small.dcm" --transcode 1.2.840.10008.1.2.4.91 -o "$WORK/x.dcm"
same_frames "$T/CT_small.dcm" "$WORK/x.dcm" || fail "4.91 without --lossy lost information"
# A new SOP Instance UID only when asked for, and only for a lossy result.
"$PACS" render "$T/CT_small.dcm" --transcode 1.2.840.10008.1.2.4.91 --lossy --new-uid \
    -o "$WORK/y.dcm" 2>/dev/null
[ "$(dcm_value "$WORK/y.dcm" SOPInstanceUID)" != "$(dcm_value "$T/CT_small.dcm" SOPInstanceUID)" ] ||
    fail "--new-uid kept the SOP Instance UID"
# The same syntax: the object as it is.
"$PACS" render "$T/MR_small_RLE.dcm" --transcode 1.2.840.10008.1.2.5 -o "$WORK/same.dcm"
cmp -s "$T/MR_small_RLE.dcm" "$WORK/same.dcm" || fail "same-syntax transcode changed bytes"
status=0
"$PACS" render "$T/CT_small.dcm" --transcode 1.2.3.4 -o "$WORK/x.dcm" 2>/dev/null || status=$?
assert_eq 1 "$status" "unknown target syntax"
echo "$checked lossless transcodes checked"
pass
