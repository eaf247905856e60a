#!/bin/sh
# SPDX-License-Identifier: MIT
# C-GET with getscu: a study, a series and a list of instances come back on the requester's own
# association; counts, final status and datasets are right (pixel data byte for byte when the
# syntax is kept). JPEG, JPEG-LS and RLE objects asked for by a requester that proposes only
# uncompressed syntaxes are converted, with pixels equal to DCMTK's own decompression, and a
# lossless JPEG 2000 object with pixels equal to the uncompressed original; a JPEG 2000 object no
# decoder reads fails alone (0xB000). A requester preferring JPEG lossless gets
# uncompressed objects encoded losslessly. C-CANCEL stops a C-GET with 0xFE00.
. "$SRC/tests/lib.sh"

T=$SAMPLES/test_files
start_pacsd

st=$(new_uid)
sa=$(new_uid)
sb=$(new_uid)
gen_ct "$WORK/a" "$st" "$sa" 3
gen_ct "$WORK/b" "$st" "$sb" 2
store "$WORK"/a/*.dcm "$WORK"/b/*.dcm >/dev/null 2>&1 || fail "storescu"
# MR_small_RLE and MR_small_jpeg_ls_lossless are one image (one UID): give one a new UID.
C=$WORK/c
mkdir -p "$C"
for f in SC_rgb_jpeg_dcmtk JPEG-lossy MR_small_jpeg_ls_lossless MR_small_RLE \
    MR_small_jp2klossless; do
    cp "$T/$f.dcm" "$C/"
done
dcmodify -nb -gin "$C/MR_small_jpeg_ls_lossless.dcm" "$C/MR_small_jp2klossless.dcm" >/dev/null ||
    fail "dcmodify"
broken_j2k "$T/JPEG2000.dcm" "$C/broken.dcm"
send_as_is "$C"/*.dcm >/dev/null 2>&1 || fail "dcmsend"

# -- the study --
get_into "$WORK/g1" -S -k QueryRetrieveLevel=STUDY -k StudyInstanceUID="$st" >"$WORK/o1" ||
    fail "getscu (study) failed"
assert_eq 0x0000 "$(final_status "$WORK/o1")" "study get status"
assert_eq 5 "$(final_count "$WORK/o1" Completed)" "study get completed"
assert_eq 0 "$(final_count "$WORK/o1" Failed)" "study get failed"
assert_eq 5 "$(count_files "$WORK/g1")" "files received"
for f in "$WORK"/a/*.dcm "$WORK"/b/*.dcm; do
    uid=$(dcm_value "$f" 0008,0018)
    got=$WORK/g1/CT.$uid
    [ -f "$got" ] || fail "instance $uid did not arrive"
    same_dataset "$f" "$got" || fail "instance $uid arrived with a different dataset"
    same_pixels "$f" "$got" || fail "instance $uid: pixel data not byte-equal"
    assert_eq "$(file_ts "$f")" "$(file_ts "$got")" "transfer syntax of $uid"
done

# -- one series --
get_into "$WORK/g2" -S -k QueryRetrieveLevel=SERIES -k StudyInstanceUID="$st" \
    -k SeriesInstanceUID="$sb" >"$WORK/o2" || fail "getscu (series) failed"
assert_eq 0x0000 "$(final_status "$WORK/o2")" "series get status"
assert_eq 2 "$(final_count "$WORK/o2" Completed)" "series get completed"
assert_eq 2 "$(count_files "$WORK/g2")" "files received for the series"

# -- a list of instances, patient root --
i1=$(dcm_value "$WORK/a/ct-1.dcm" 0008,0018)
i2=$(dcm_value "$WORK/a/ct-3.dcm" 0008,0018)
get_into "$WORK/g3" -P -k QueryRetrieveLevel=IMAGE -k PatientID=1CT1 -k StudyInstanceUID="$st" \
    -k SeriesInstanceUID="$sa" -k SOPInstanceUID="$i1\\$i2" >"$WORK/o3" ||
    fail "getscu (instances) failed"
assert_eq 0x0000 "$(final_status "$WORK/o3")" "instance list get status"
assert_eq 2 "$(final_count "$WORK/o3" Completed)" "instance list get completed"
[ -f "$WORK/g3/CT.$i1" ] && [ -f "$WORK/g3/CT.$i2" ] || fail "the listed instances are not there"
assert_eq 2 "$(count_files "$WORK/g3")" "files received for the list"

# -- compressed objects for a requester proposing only explicit little endian first --
ids=""
studies=""
for f in SC_rgb_jpeg_dcmtk JPEG-lossy MR_small_jpeg_ls_lossless MR_small_RLE \
    MR_small_jp2klossless broken; do
    ids="$ids\\$(dcm_value "$C/$f.dcm" 0008,0018)"
    studies="$studies\\$(dcm_value "$C/$f.dcm" 0020,000d)"
done
get_into "$WORK/g4" +xe -S -k QueryRetrieveLevel=IMAGE -k StudyInstanceUID="${studies#\\}" \
    -k SOPInstanceUID="${ids#\\}" >"$WORK/o4" || fail "getscu (compressed) failed"
assert_eq 0xb000 "$(final_status "$WORK/o4")" "status with one unconvertible instance"
assert_eq 5 "$(final_count "$WORK/o4" Completed)" "converted instances"
assert_eq 1 "$(final_count "$WORK/o4" Failed)" "unconvertible instances"
assert_eq 5 "$(count_files "$WORK/g4")" "converted files received"
for pair in SC_rgb_jpeg_dcmtk:dcmdjpeg JPEG-lossy:dcmdjpeg MR_small_jpeg_ls_lossless:dcmdjpls \
    MR_small_RLE:dcmdrle; do
    f=${pair%%:*}
    tool=${pair#*:}
    uid=$(dcm_value "$C/$f.dcm" 0008,0018)
    got=$(ls "$WORK"/g4/*."$uid")
    assert_eq 1.2.840.10008.1.2.1 "$(file_ts "$got")" "syntax of converted $f"
    timeout 60 "$tool" "$C/$f.dcm" "$WORK/ref-$f.dcm" || fail "$tool $f"
    same_pixels "$WORK/ref-$f.dcm" "$got" || fail "$f: pixels differ from $tool's"
done
j2k=$(dcm_value "$C/MR_small_jp2klossless.dcm" 0008,0018)
got=$(ls "$WORK"/g4/*."$j2k")
assert_eq 1.2.840.10008.1.2.1 "$(file_ts "$got")" "syntax of the converted JPEG 2000"
same_pixels "$T/MR_small.dcm" "$got" || fail "lossless JPEG 2000 did not decode to MR_small's pixels"
broken=$(dcm_value "$C/broken.dcm" 0008,0018)
grep -q "C-GET to=GETSCU sop=$broken failed: JPEG 2000" "$WORK/pacsd.log" ||
    fail "no log line for the unconvertible instance"

# -- a requester that prefers JPEG lossless gets the CT encoded losslessly --
get_into "$WORK/g5" +xs -S -k QueryRetrieveLevel=SERIES -k StudyInstanceUID="$st" \
    -k SeriesInstanceUID="$sb" >"$WORK/o5" || fail "getscu (+xs) failed"
assert_eq 0x0000 "$(final_status "$WORK/o5")" "lossless get status"
for f in "$WORK"/b/*.dcm; do
    uid=$(dcm_value "$f" 0008,0018)
    got=$WORK/g5/CT.$uid
    assert_eq 1.2.840.10008.1.2.4.70 "$(file_ts "$got")" "syntax of the lossless CT"
    timeout 60 dcmdjpeg "$got" "$WORK/dec.dcm" || fail "dcmdjpeg of what we sent"
    same_pixels "$f" "$WORK/dec.dcm" || fail "lossless round trip changed the pixels of $uid"
done

# -- C-CANCEL after the first instance (tests/tools/getcancel; getscu cannot cancel) --
: "${GETCANCEL:?GETCANCEL must point to the getcancel test tool}"
timeout 60 "$GETCANCEL" --cancel-after 1 --timeout 20 127.0.0.1 "$DIMSE_PORT" "$st" \
    1.2.840.10008.5.1.4.1.1.2 >"$WORK/o7" 2>&1 || fail "getcancel: $(cat "$WORK/o7")"
grep -q " status=0xfe00 " "$WORK/o7" || fail "status after C-CANCEL: $(cat "$WORK/o7")"
received=$(sed -n 's/^received=\([0-9]*\) .*/\1/p' "$WORK/o7")
completed=$(sed -n 's/.* completed=\([0-9]*\) .*/\1/p' "$WORK/o7")
assert_eq "$received" "$completed" "instances received and completed after C-CANCEL"
[ "$completed" -ge 1 ] && [ "$completed" -lt 5 ] || fail "completed after cancel: $completed"
grep -q "C-GET to=GETCANCEL instances=5 completed=$completed .* (canceled)" "$WORK/pacsd.log" ||
    fail "no log line for the cancelled C-GET"

# -- bad input: no level, unknown study --
get_into "$WORK/g6" -S -k StudyInstanceUID="$st" >"$WORK/o6" || true
assert_eq 0xa900 "$(final_status "$WORK/o6")" "get without QueryRetrieveLevel"
assert_eq 0 "$(count_files "$WORK/g6")" "files after a refused get"
kill -0 "$PACSD_PID" || fail "pacsd died"

stop_pacsd
pass
