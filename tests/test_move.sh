#!/bin/sh
# SPDX-License-Identifier: MIT
# C-MOVE to a storescp destination: a study, a series and a list of instances; counts and
# final status; received datasets equal to what was stored (pixel data byte for byte when the
# syntax did not change); JPEG (DCMTK) and JPEG 2000 (pacs/image) converted for a destination
# that takes only uncompressed, while a JPEG 2000 instance that no decoder reads fails alone
# (0xB000 with the Failed SOP Instance UID List); the known AEs reload on SIGHUP; C-CANCEL
# stops a move with 0xFE00.
. "$SRC/tests/lib.sh"
trap_background

T=$SAMPLES/test_files
port=$(free_port)
start_storescp DEST "$port" "$WORK/dest" || fail "storescp did not start"
cat >"$WORK/pacsd.conf" <<CONF
ae.DEST = 127.0.0.1:$port
CONF
start_pacsd --config "$WORK/pacsd.conf"

# A study of two series (3 + 2 CT instances) and some compressed singles.
st=$(new_uid)
sa=$(new_uid)
sb=$(new_uid)
gen_ct "$WORK/a" "$st" "$sa" 3
gen_ct "$WORK/b" "$st" "$sb" 2
store "$WORK"/a/*.dcm "$WORK"/b/*.dcm >/dev/null 2>&1 || fail "storescu of the generated study"
broken_j2k "$T/JPEG2000.dcm" "$WORK/broken.dcm"
send_as_is "$T/SC_rgb_jpeg_dcmtk.dcm" "$T/JPEG2000.dcm" "$WORK/broken.dcm" >/dev/null 2>&1 ||
    fail "dcmsend"

# -- the study --
move -S -aem DEST -k QueryRetrieveLevel=STUDY -k StudyInstanceUID="$st" >"$WORK/m1" ||
    fail "movescu (study) failed"
assert_eq 0x0000 "$(final_status "$WORK/m1")" "study move status"
assert_eq 5 "$(final_count "$WORK/m1" Completed)" "study move completed"
assert_eq 0 "$(final_count "$WORK/m1" Failed)" "study move failed"
assert_eq 5 "$(grep -ac 'Message Type *: C-MOVE RSP' "$WORK/m1")" "responses (4 pending + final)"
wait_files "$WORK/dest" 5 30 || fail "the destination did not get 5 files"
assert_eq 5 "$(count_files "$WORK/dest")" "files at the destination"
for f in "$WORK"/a/*.dcm "$WORK"/b/*.dcm; do
    uid=$(dcm_value "$f" 0008,0018)
    got=$WORK/dest/CT.$uid
    [ -f "$got" ] || fail "instance $uid did not arrive"
    same_dataset "$f" "$got" || fail "instance $uid arrived with a different dataset"
    same_pixels "$f" "$got" || fail "instance $uid: pixel data not byte-equal"
    assert_eq "$(file_ts "$f")" "$(file_ts "$got")" "transfer syntax of $uid"
done

# -- one series (study root) --
rm -f "$WORK"/dest/*
move -S -aem DEST -k QueryRetrieveLevel=SERIES -k StudyInstanceUID="$st" \
    -k SeriesInstanceUID="$sa" >"$WORK/m2" || fail "movescu (series) failed"
assert_eq 0x0000 "$(final_status "$WORK/m2")" "series move status"
assert_eq 3 "$(final_count "$WORK/m2" Completed)" "series move completed"
wait_files "$WORK/dest" 3 30 || fail "the destination did not get 3 files"
assert_eq 3 "$(count_files "$WORK/dest")" "files after the series move"

# -- a list of instances (patient root, IMAGE level) --
rm -f "$WORK"/dest/*
i1=$(dcm_value "$WORK/a/ct-2.dcm" 0008,0018)
i2=$(dcm_value "$WORK/b/ct-1.dcm" 0008,0018)
move -P -aem DEST -k QueryRetrieveLevel=IMAGE -k PatientID=1CT1 -k StudyInstanceUID="$st" \
    -k SeriesInstanceUID="$sa\\$sb" -k SOPInstanceUID="$i1\\$i2" >"$WORK/m3" ||
    fail "movescu (instances) failed"
assert_eq 0x0000 "$(final_status "$WORK/m3")" "instance list move status"
assert_eq 2 "$(final_count "$WORK/m3" Completed)" "instance list move completed"
wait_files "$WORK/dest" 2 30 || fail "the destination did not get 2 files"
[ -f "$WORK/dest/CT.$i1" ] && [ -f "$WORK/dest/CT.$i2" ] || fail "the listed instances are not there"
assert_eq 2 "$(count_files "$WORK/dest")" "files after the instance move"

# -- conversion: storescp takes uncompressed only --
rm -f "$WORK"/dest/*
j1=$(dcm_value "$T/SC_rgb_jpeg_dcmtk.dcm" 0008,0018)
j2=$(dcm_value "$T/JPEG2000.dcm" 0008,0018)
j3=$(dcm_value "$WORK/broken.dcm" 0008,0018)
move -S -aem DEST -k QueryRetrieveLevel=IMAGE \
    -k StudyInstanceUID="$(dcm_value "$T/SC_rgb_jpeg_dcmtk.dcm" 0020,000d)\\$(dcm_value "$T/JPEG2000.dcm" 0020,000d)" \
    -k SOPInstanceUID="$j1\\$j2\\$j3" >"$WORK/m4" || true # movescu exits 1 on a warning
assert_eq 0xb000 "$(final_status "$WORK/m4")" "status with one unconvertible instance"
assert_eq 2 "$(final_count "$WORK/m4" Completed)" "converted instances"
assert_eq 1 "$(final_count "$WORK/m4" Failed)" "unconvertible instances"
grep -a "FailedSOPInstanceUIDList" "$WORK/m4" | grep -q "$j3" ||
    fail "the Failed SOP Instance UID List does not name the broken instance"
grep -a "FailedSOPInstanceUIDList" "$WORK/m4" | grep -q "$j2" &&
    fail "the Failed SOP Instance UID List names a converted instance"
wait_files "$WORK/dest" 2 30 || fail "the converted instances did not arrive"
assert_eq 2 "$(count_files "$WORK/dest")" "converted files at the destination"
got=$WORK/dest/SC.$j1
assert_eq 1.2.840.10008.1.2.1 "$(file_ts "$got")" "syntax of the converted JPEG"
timeout 60 dcmdjpeg "$T/SC_rgb_jpeg_dcmtk.dcm" "$WORK/ref.dcm" || fail "dcmdjpeg"
same_pixels "$WORK/ref.dcm" "$got" || fail "converted pixels differ from dcmdjpeg's"
assert_eq 1.2.840.10008.1.2.1 "$(file_ts "$WORK/dest/SC.$j2")" "syntax of the converted JPEG 2000"
grep -q "sop=$j3 failed: JPEG 2000" "$WORK/pacsd.log" ||
    fail "no log line for the unconvertible instance"

# -- known AEs reload on SIGHUP --
port2=$(free_port)
start_storescp LATE "$port2" "$WORK/late" || fail "second storescp did not start"
move -S -aem LATE -k QueryRetrieveLevel=STUDY -k StudyInstanceUID="$st" >"$WORK/m5" || true
assert_eq 0xa801 "$(final_status "$WORK/m5")" "move to an AE not yet configured"
echo "ae.LATE = 127.0.0.1:$port2" >>"$WORK/pacsd.conf"
kill -HUP "$PACSD_PID"
timeout 20 sh -c 'until grep -q "SIGHUP: reloaded known_aes=2" "$1"; do sleep 0.1; done' _ \
    "$WORK/pacsd.log" || fail "no reload after SIGHUP"
move -S -aem LATE -k QueryRetrieveLevel=STUDY -k StudyInstanceUID="$st" >"$WORK/m6" ||
    fail "movescu after reload"
assert_eq 0x0000 "$(final_status "$WORK/m6")" "move to the AE added by SIGHUP"
assert_eq 5 "$(final_count "$WORK/m6" Completed)" "moved after reload"
echo "ae.LATE = not-a-host-port" >>"$WORK/pacsd.conf"
kill -HUP "$PACSD_PID"
timeout 20 sh -c 'until grep -q "SIGHUP: configuration not reloaded" "$1"; do sleep 0.1; done' _ \
    "$WORK/pacsd.log" || fail "a bad configuration was not refused on SIGHUP"
move -S -aem LATE -k QueryRetrieveLevel=SERIES -k SeriesInstanceUID="$sb" >"$WORK/m7" ||
    fail "movescu after a refused reload"
assert_eq 0x0000 "$(final_status "$WORK/m7")" "the old table stays after a bad reload"

# -- C-CANCEL: a slow destination, cancelled after the first pending response --
stop_pid "$SCP_PID"
port3=$(free_port)
start_storescp SLOW "$port3" "$WORK/slow" --sleep-after 1 || fail "slow storescp did not start"
sed -i '/^ae.LATE = not-a-host-port/d' "$WORK/pacsd.conf"
echo "ae.SLOW = 127.0.0.1:$port3" >>"$WORK/pacsd.conf"
kill -HUP "$PACSD_PID"
timeout 20 sh -c 'until grep -q "SIGHUP: reloaded known_aes=3" "$1"; do sleep 0.1; done' _ \
    "$WORK/pacsd.log" || fail "no reload for SLOW"
move -S -aem SLOW --cancel 1 -k QueryRetrieveLevel=STUDY -k StudyInstanceUID="$st" \
    >"$WORK/m8" || true
assert_eq 0xfe00 "$(final_status "$WORK/m8")" "status after C-CANCEL"
done_n=$(final_count "$WORK/m8" Completed)
[ "$done_n" -ge 1 ] && [ "$done_n" -lt 5 ] || fail "completed after cancel: $done_n (want 1..4)"
timeout 30 echoscu -aec PACS 127.0.0.1 "$DIMSE_PORT" || fail "pacsd does not answer after cancel"

stop_pacsd
pass
