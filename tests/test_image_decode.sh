#!/bin/sh
# SPDX-License-Identifier: MIT
# Every pydicom sample with pixel data: the frames `pacs render --raw` decodes equal what
# DCMTK's own tools decode (dcmconv +te for native and deflated syntaxes, dcmdrle, dcmdjpeg,
# dcmdjpls, then dcmdump +W for the bytes) and, for JPEG 2000, what OpenJPEG's opj_decompress
# gives for the same codestream. Lossless syntaxes must match exactly; lossy JPEG decoded by
# libjpeg-turbo may differ from DCMTK's IJG decoder by at most 2 levels (IDCT rounding) and
# lossy JPEG 2000 not at all (same library). A file DCMTK decodes but we refuse fails the test.
. "$SRC/tests/lib.sh"
. "$SRC/tests/lib_image.sh"
: "${PACS:?PACS must point to the pacs binary}"

checked=0
frames_checked=0
for f in "$SAMPLES"/test_files/*.dcm; do
    name=$(basename "$f" .dcm)
    dcmdump -q "$f" 2>/dev/null | grep -q "^(7fe0,0010)" || continue # top-level pixel data
    dcmdump -q "$f" 2>/dev/null | grep -q "^(0028,0010)" || { echo "skip $name: no Rows, not an image"; continue; }
    ref="$WORK/$name.ref.dcm"
    ts=$(dcmdump -Un +P TransferSyntaxUID "$f" 2>/dev/null | head -1 | sed -n 's/^[^[]*\[\(.*\)\].*$/\1/p')
    src="$f"
    kind=plain
    tol=0
    case "$ts" in
    1.2.840.10008.1.2 | 1.2.840.10008.1.2.1 | 1.2.840.10008.1.2.1.99)
        refcmd="dcmconv +te" ;;
    1.2.840.10008.1.2.2)
        refcmd="dcmconv +te"
        # DCMTK reads 32-bit samples in big endian OW as swapped 16-bit words; pydicom ships
        # the same dose in little endian, which is the reference then.
        twin=$(printf '%s' "$f" | sed 's/_expb//')
        if [ "$(dcmdump +P BitsAllocated "$f" 2>/dev/null | awk '{print $3; exit}')" = 32 ] && [ -f "$twin" ]; then src="$twin"; fi ;;
    1.2.840.10008.1.2.5) refcmd="dcmdrle" ;;
    1.2.840.10008.1.2.4.50 | 1.2.840.10008.1.2.4.51) refcmd="dcmdjpeg +px"; tol=2 ;;
    1.2.840.10008.1.2.4.57 | 1.2.840.10008.1.2.4.70) refcmd="dcmdjpeg +px" ;;
    1.2.840.10008.1.2.4.80 | 1.2.840.10008.1.2.4.81) refcmd="dcmdjpls +px" ;;
    1.2.840.10008.1.2.4.90 | 1.2.840.10008.1.2.4.91) refcmd="opj" ;;
    *) echo "skip $name: transfer syntax $ts"; continue ;;
    esac
    info=$("$PACS" render "$f" --info 2>"$WORK/err") || info=""
    if [ "$refcmd" = opj ]; then
        imgcmp frame "$f" 0 "$WORK/$name.j2k" 2>/dev/null &&
            timeout 60 opj_decompress -quiet -i "$WORK/$name.j2k" -o "$WORK/$name.rawl" \
                >/dev/null 2>&1 || { echo "skip $name: no OpenJPEG reference"; continue; }
    elif ! timeout 60 $refcmd "$src" "$ref" >/dev/null 2>&1; then
        [ -z "$info" ] || echo "note $name: DCMTK cannot decode it; we can ($info)"
        echo "skip $name: DCMTK refuses it"
        continue
    fi
    [ -n "$info" ] || fail "$name: DCMTK decodes it, pacs render refuses: $(cat "$WORK/err")"
    rows=$(info_field "$info" rows)
    cols=$(info_field "$info" cols)
    frames=$(info_field "$info" frames)
    samples=$(info_field "$info" samples)
    bits=$(info_field "$info" bits_allocated)
    pi=$(info_field "$info" photometric)
    if [ "$refcmd" = opj ]; then
        frames=1 # one codestream per comparison; multi-frame J2K is covered by transcoding
        refraw="$WORK/$name.rawl"
        planar=1
    else
        rm -rf "$WORK/raw" && mkdir "$WORK/raw"
        dcmdump +W "$WORK/raw" "$ref" >/dev/null 2>&1
        refraw=$(ls "$WORK/raw"/*.raw | head -1)
        planar=$(dcmdump +P PlanarConfiguration "$ref" 2>/dev/null | awk '{print $3; exit}')
    fi
    bps=$((bits / 8))
    [ "$bits" = 1 ] && kind=bits && bps=1
    if [ "$pi" = YBR_FULL_422 ] && [ "$ts" = 1.2.840.10008.1.2.1 ]; then kind=ybr422; fi
    signed=0
    [ "$(info_field "$info" pixel_rep)" = 1 ] && [ "$refcmd" = opj ] && signed=1
    i=0
    while [ "$i" -lt "$frames" ]; do
        "$PACS" render "$f" --raw --frame $((i + 1)) -o "$WORK/mine.raw" 2>"$WORK/err" ||
            fail "$name frame $((i + 1)): $(cat "$WORK/err")"
        out=$(imgcmp raw "$WORK/mine.raw" "$refraw" "$rows" "$cols" "$samples" "$bps" \
            "$signed" "${planar:-0}" "$kind" "$i" "$tol") ||
            fail "$name frame $((i + 1)) differs from the reference ($out, tolerance $tol)"
        i=$((i + 1))
        frames_checked=$((frames_checked + 1))
    done
    echo "ok $name ($ts, $frames frame(s)): $out"
    checked=$((checked + 1))
done
[ "$checked" -ge 30 ] || fail "only $checked samples were compared"
echo "$checked samples, $frames_checked frames equal their reference decoding"
pass
