#!/bin/sh
# SPDX-License-Identifier: MIT
# A full disk: C-STORE answers 0xA700 (out of resources), nothing half-written is left in the
# store or its temporary folder, what was stored before stays intact, and storing works again
# once there is room. The data folder is a small tmpfs (filled up with a file); where mounting
# is not permitted, an LD_PRELOAD shim (tests/tools/enospc.c) makes writes under DATA/tmp fail
# with ENOSPC instead (FORCE_ENOSPC_SHIM=1 picks the shim even where mounting works).
. "$SRC/tests/lib.sh"

MOUNTED=""
trap 'if [ -n "$PACSD_PID" ]; then kill -9 "$PACSD_PID" 2>/dev/null || true; fi
      wait 2>/dev/null || true
      if [ -n "$MOUNTED" ]; then umount "$DATA" 2>/dev/null || umount -l "$DATA" || true; fi
      cleanup' EXIT

mkdir -p "$DATA"
mode=tmpfs
if [ "${FORCE_ENOSPC_SHIM:-0}" != 1 ] && [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=4m tmpfs "$DATA" 2>/dev/null; then
    MOUNTED=1
elif [ -n "${ENOSPC_SHIM:-}" ] && [ -f "$ENOSPC_SHIM" ]; then
    mode=shim
    echo "cannot mount a tmpfs here; using the ENOSPC shim $ENOSPC_SHIM" >&2
else
    echo "SKIP [$TEST_NAME]: cannot mount a tmpfs (not root?) and no ENOSPC shim was built" >&2
    exit 0
fi

make_ct_copies "$WORK/before" 3
make_ct_copies "$WORK/full" 4 own
make_ct_copies "$WORK/after" 2 own

if [ "$mode" = shim ]; then
    LD_PRELOAD=$ENOSPC_SHIM ENOSPC_PREFIX="$DATA/tmp/" ENOSPC_FLAG="$WORK/disk-is-full" \
        start_pacsd
else
    start_pacsd
fi
store "$WORK"/before/*.dcm || fail "storing before the disk is full"
find "$DATA/objects" -type f | sort >"$WORK/objects-before"

# Fill the disk.
if [ "$mode" = shim ]; then
    : >"$WORK/disk-is-full"
else
    dd if=/dev/zero of="$DATA/filler" bs=64k 2>/dev/null || true
    avail=$(df -k "$DATA" | awk 'NR == 2 { print $4 }')
    assert_eq 0 "$avail" "free space after filling the tmpfs"
fi

# Each store is refused with 0xA700 and an error comment; the association carries on.
set -- "$WORK"/full/*.dcm
timeout 120 $DICOM_SEND --port "$DIMSE_PORT" store "$@" >"$WORK/stores" ||
    fail "the association failed: $(cat "$WORK/stores")"
cat "$WORK/stores"
assert_eq 4 "$(grep -c '^STORE [0-9]* 0xa700 .' "$WORK/stores")" "0xA700 answers with a comment"
for f in "$WORK"/full/*.dcm; do
    assert_eq 0 "$(count_matches -S -k QueryRetrieveLevel=IMAGE \
        -k SOPInstanceUID="$(dcm_value "$f" 0008,0018)")" "a refused instance is not indexed"
done
# Nothing half-written: no temporary file, no new object, the old ones intact.
assert_eq 0 "$(tmp_files)" "temporary files left on the full disk"
find "$DATA/objects" -type f | sort >"$WORK/objects-full"
cmp -s "$WORK/objects-before" "$WORK/objects-full" || fail "objects changed on the full disk"
timeout 30 echoscu -aec PACS 127.0.0.1 "$DIMSE_PORT" || fail "C-ECHO on the full disk"

# Room again: storing works, without a restart.
if [ "$mode" = shim ]; then
    rm -f "$WORK/disk-is-full"
else
    rm -f "$DATA/filler"
fi
store "$WORK"/after/*.dcm "$WORK"/full/*.dcm || fail "storing once there is room again"
for f in "$WORK"/after/*.dcm "$WORK"/full/*.dcm; do
    assert_eq 1 "$(count_matches -S -k QueryRetrieveLevel=IMAGE \
        -k SOPInstanceUID="$(dcm_value "$f" 0008,0018)")" "an instance stored after the disk-full"
done
assert_eq 9 "$(find "$DATA/objects" -type f | wc -l | tr -d ' ')" "objects in the end"
stop_pacsd
"$PACS" --data "$DATA" verify >"$WORK/verify.log" || fail "pacs verify: $(cat "$WORK/verify.log")"
pass
