#!/bin/sh
# SPDX-License-Identifier: MIT
# Disk watermarks (issue 21): on a small tmpfs with storage.free_warn = 5MB and
# storage.free_min = 3MB. Below free_warn stores go on, with a WARN line in the log and level 1
# in the metrics; below free_min a C-STORE gets 0xA700 and STOW-RS 507, each naming the
# setting, /readyz answers 503, the metrics show level 2 and count the refusals, and nothing
# of the refused instances is indexed or left in tmp/, while the disk still has room (refused
# before it is full). Once space is freed the same instances store without a restart, and
# `pacs verify` is clean. Needs root (to mount the tmpfs): skipped (77) otherwise.
. "$SRC/tests/lib.sh"
. "$SRC/tests/lib_dicomweb.sh"

MOUNTED=""
trap 'if [ -n "$PACSD_PID" ]; then kill -9 "$PACSD_PID" 2>/dev/null || true; fi
      wait 2>/dev/null || true
      if [ -n "$MOUNTED" ]; then umount "$DATA" 2>/dev/null || umount -l "$DATA" || true; fi
      cleanup' EXIT

mkdir -p "$DATA"
if [ "$(id -u)" -ne 0 ] || ! mount -t tmpfs -o size=12m tmpfs "$DATA" 2>/dev/null; then
    echo "SKIP [$TEST_NAME]: cannot mount a tmpfs (not root?)" >&2
    exit 77
fi
MOUNTED=1

make_ct_copies "$WORK/before" 2
make_ct_copies "$WORK/low" 1 own
make_ct_copies "$WORK/refused" 3 own
make_ct_copies "$WORK/stow" 1 own
start_pacsd --set storage.free_warn=5MB --set storage.free_min=3MB
base="http://127.0.0.1:$HTTP_PORT"

avail_kib() { df -k "$DATA" | awk 'NR == 2 { print $4 }'; }
# Fills the tmpfs with $DATA/filler until about $1 KiB are left.
leave_kib() {
    rm -f "$DATA/filler"
    n=$(($(avail_kib) - $1))
    [ "$n" -gt 0 ] || fail "the tmpfs has less than $1 KiB free already"
    dd if=/dev/zero of="$DATA/filler" bs=1k count="$n" 2>/dev/null || fail "filling the tmpfs"
}
metric() { # name{labels} as written
    http_get "$base/metrics" | awk -v k="$1" '$1 == k { print $2 }'
}
level() {
    http_get "$base/metrics" | sed -n 's/^pacs_disk_space_level{path="[^"]*"} //p' | sort -n | tail -1
}
indexed() {
    count_matches -S -k QueryRetrieveLevel=IMAGE -k SOPInstanceUID="$(dcm_value "$1" 0008,0018)"
}

store "$WORK"/before/*.dcm || fail "storing with room to spare"
assert_eq 0 "$(level)" "the level with room to spare"

# Between the two levels: stored, with a warning.
leave_kib 4096
store "$WORK"/low/*.dcm || fail "storing below storage.free_warn"
assert_eq 1 "$(indexed "$WORK"/low/ct1.dcm)" "an instance stored below free_warn"
grep -q 'WARN storage: free space on .* is low: .* below storage.free_warn' "$WORK/pacsd.log" ||
    fail "no WARN line below storage.free_warn"
assert_eq 1 "$(level)" "the level below storage.free_warn"
assert_eq 200 "$(http_status "$base/readyz")" "/readyz below storage.free_warn"

# Below the high watermark: refused, cleanly, with room left on the disk.
leave_kib 2048
find "$DATA/objects" -type f | sort >"$WORK/objects-before"
timeout 120 $DICOM_SEND --port "$DIMSE_PORT" store "$WORK"/refused/*.dcm >"$WORK/stores" ||
    fail "the association failed: $(cat "$WORK/stores")"
assert_eq 3 "$(grep -c '^STORE [0-9]* 0xa700 free space below storage.free_min' \
    "$WORK/stores")" "C-STORE answers below storage.free_min: $(cat "$WORK/stores")"
stow_body PACSTEST "$WORK/stow.body" "$WORK"/stow/*.dcm
assert_eq 507 "$(stow_post "$base/dicomweb/studies" "$WORK/stow.body")" "STOW-RS below free_min"
header_value Warning | grep -q 'storage.free_min' || fail "STOW-RS Warning: $(header_value Warning)"
assert_eq 503 "$(http_status "$base/readyz")" "/readyz below storage.free_min"
grep -q 'storage.free_min' "$WORK/body" || fail "/readyz says why: $(cat "$WORK/body")"
assert_eq 2 "$(level)" "the level below storage.free_min"
assert_eq 4 "$(metric pacs_store_refused_low_space_total)" "refusals counted"
grep -q 'ERROR storage: free space on .* below storage.free_min .*: new stores are refused' \
    "$WORK/pacsd.log" || fail "no ERROR line below storage.free_min"
for f in "$WORK"/refused/*.dcm "$WORK"/stow/*.dcm; do
    assert_eq 0 "$(indexed "$f")" "a refused instance is not indexed"
done
assert_eq 0 "$(tmp_files)" "temporary files after the refusals"
find "$DATA/objects" -type f | sort >"$WORK/objects-after"
cmp -s "$WORK/objects-before" "$WORK/objects-after" || fail "objects changed while refusing"
[ "$(avail_kib)" -gt 1024 ] || fail "the disk filled up: $(avail_kib) KiB left"
timeout 30 echoscu -aec PACS 127.0.0.1 "$DIMSE_PORT" || fail "C-ECHO while refusing stores"

# Space freed: the same instances store, without a restart.
rm -f "$DATA/filler"
store "$WORK"/refused/*.dcm || fail "storing once space was freed"
assert_eq 200 "$(stow_post "$base/dicomweb/studies" "$WORK/stow.body")" "STOW-RS after freeing"
for f in "$WORK"/refused/*.dcm "$WORK"/stow/*.dcm; do
    assert_eq 1 "$(indexed "$f")" "an instance stored once space was freed"
done
assert_eq 0 "$(level)" "the level once space was freed"
assert_eq 200 "$(http_status "$base/readyz")" "/readyz once space was freed"
grep -q 'INFO storage: free space on .*: enough again' "$WORK/pacsd.log" ||
    fail "no INFO line once space was freed"
stop_pacsd
"$PACS" --data "$DATA" verify >"$WORK/verify.log" || fail "pacs verify: $(cat "$WORK/verify.log")"
pass
