#!/bin/sh
# SPDX-License-Identifier: MIT
# Storage faults while pacsd runs: a full disk, write errors, lost flushes (fsync) of objects
# and of the index, and a read-only data folder. For each, C-STORE and STOW-RS get the
# status that says whose trouble it is and whether it may pass (full disk: 0xA700 and HTTP 507;
# an I/O error or a read-only folder: 0x0110 processing failure and HTTP 500), with the cause
# in the error comment, in a STOW-RS Warning header and in a WARN line of the log; nothing of
# the refused instance is indexed or left in tmp/; C-ECHO and queries keep working. Once the
# fault is gone the same instances store without a restart, and `pacs verify` is clean.
#
# Faults come from the LD_PRELOAD injector tests/tools/enospc.c (FAULT_SHIM), switched on and
# off through a flag file; as root, the read-only folder is a real read-only bind mount and
# the full disk a full tmpfs (the injector stands in where mounting is not permitted, or
# everywhere with FORCE_FAULT_SHIM=1).
#
# pacsd makes an instance and its index rows durable with one flush of the file system
# (ingest.one_flush); with FAULTS_TWO_FLUSHES=1 (test_faults_storage_two_flushes) it runs
# with ingest.one_flush=false, where the index's own flush comes second and can fail alone.
. "$SRC/tests/lib.sh"
: "${FAULT_SHIM:?FAULT_SHIM must point to the fault injector (tests/tools/enospc.c)}"

STOW_TOOL="python3 $SRC/tests/tools/stow_tool.py"
FLAG="$WORK/fault"
MOUNTS=""
# (The trap may run inside start_pacsd, whose commands get the injector: it is dropped first.)
trap 'unset LD_PRELOAD
      if [ -n "$PACSD_PID" ]; then kill -9 "$PACSD_PID" 2>/dev/null || true; fi
      wait 2>/dev/null || true
      for m in $MOUNTS; do while mountpoint -q "$m"; do umount "$m" 2>/dev/null ||
          umount -l "$m" 2>/dev/null || break; done; done
      cleanup' EXIT

mkdir -p "$DATA"
tmpfs=0
if [ "${FORCE_FAULT_SHIM:-0}" != 1 ] && [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=16m tmpfs "$DATA" 2>/dev/null; then
    MOUNTS="$DATA"
    tmpfs=1
fi
echo "data folder: $([ "$tmpfs" = 1 ] && echo "a 16 MiB tmpfs" || echo "a plain folder")"

make_ct_copies "$WORK/ok" 2 own
# storage.free_min = 0: the disk really fills (the watermark that refuses earlier is
# test_watermark's).
two=${FAULTS_TWO_FLUSHES:-0}
FAULT_PREFIX="$DATA/" FAULT_FLAG="$FLAG" LD_PRELOAD="$FAULT_SHIM" start_pacsd \
    --set storage.free_min=0 --set ingest.one_flush="$([ "$two" = 1 ] && echo false || echo true)"
B="http://127.0.0.1:$HTTP_PORT/dicomweb"
store "$WORK"/ok/*.dcm || fail "storing before any fault"
stored=2

indexed() { # file
    count_matches -S -k QueryRetrieveLevel=IMAGE -k SOPInstanceUID="$(dcm_value "$1" 0008,0018)"
}

# One fault: $1 its name, $2 what turns it on, $3 what turns it off, $4 the C-STORE status,
# $5 the HTTP status, $6 the STOW-RS failure reason, $7 text the cause must be told with.
fault_case() {
    name=$1 on=$2 off=$3 dimse=$4 http=$5 reason=$6 cause=$7
    d="$WORK/$name"
    make_ct_copies "$d" 2 own
    logn=$(wc -l <"$WORK/pacsd.log")
    eval "$on"
    timeout 120 $DICOM_SEND --port "$DIMSE_PORT" store "$d/ct1.dcm" >"$d/dimse" ||
        fail "$name: the association failed: $(cat "$d/dimse")"
    grep -q "^STORE 1 $dimse .*$cause" "$d/dimse" ||
        fail "$name: C-STORE should get $dimse saying '$cause': $(cat "$d/dimse")"
    timeout 120 $STOW_TOOL post --url "$B" "$d/ct2.dcm" >"$d/stow" 2>&1 ||
        fail "$name: STOW-RS: $(cat "$d/stow")"
    grep -q "^HTTP $http\$" "$d/stow" || fail "$name: STOW-RS should get $http: $(cat "$d/stow")"
    grep -qi "^FAILED .* $reason\$" "$d/stow" ||
        fail "$name: STOW-RS failure reason should be $reason: $(cat "$d/stow")"
    grep -q "^WARNING 299 .*$cause" "$d/stow" ||
        fail "$name: STOW-RS Warning header should say '$cause': $(cat "$d/stow")"
    # The server carries on: associations, queries and the other instances.
    timeout 30 echoscu -aec PACS 127.0.0.1 "$DIMSE_PORT" || fail "$name: C-ECHO during the fault"
    code=$(timeout 30 curl -s -o /dev/null -w '%{http_code}' "$B/studies") || true
    assert_eq 200 "$code" "$name: QIDO-RS during the fault"
    assert_eq 0 "$(indexed "$d/ct1.dcm")" "$name: a refused C-STORE instance is not indexed"
    assert_eq 0 "$(indexed "$d/ct2.dcm")" "$name: a refused STOW-RS instance is not indexed"
    eval "$off"
    assert_eq 0 "$(tmp_files)" "$name: temporary files left"
    tail -n +"$((logn + 1))" "$WORK/pacsd.log" >"$d/log"
    grep -q "WARN dimse: .*status=$dimse: .*$cause" "$d/log" ||
        fail "$name: no WARN line for the C-STORE: $(cat "$d/log")"
    grep -q "WARN stow: .*$cause" "$d/log" || fail "$name: no WARN line for the STOW-RS part"
    # The fault is gone: the same instances store, without a restart.
    timeout 120 $DICOM_SEND --port "$DIMSE_PORT" store "$d/ct1.dcm" >"$d/dimse2" ||
        fail "$name: the association failed after the fault"
    grep -q "^STORE 1 0x0000" "$d/dimse2" || fail "$name: C-STORE after the fault: $(cat "$d/dimse2")"
    timeout 120 $STOW_TOOL post --url "$B" "$d/ct2.dcm" >"$d/stow2" 2>&1
    grep -q "^HTTP 200\$" "$d/stow2" || fail "$name: STOW-RS after the fault: $(cat "$d/stow2")"
    assert_eq 1 "$(indexed "$d/ct1.dcm")" "$name: the C-STORE instance stored after the fault"
    assert_eq 1 "$(indexed "$d/ct2.dcm")" "$name: the STOW-RS instance stored after the fault"
    stored=$((stored + 2))
    echo "$name: C-STORE $dimse, STOW-RS $http/$reason, '$cause'; stored once the fault was gone"
}

# A full disk: a real one on tmpfs (filled with a file), else the injector's ENOSPC.
if [ "$tmpfs" = 1 ]; then
    fault_case disk-full \
        'dd if=/dev/zero of="$DATA/filler" bs=64k 2>/dev/null || true' \
        'rm -f "$DATA/filler"' 0xa700 507 0xA700 "No space left on device"
else
    fault_case disk-full 'echo enospc >"$FLAG"' 'rm -f "$FLAG"' \
        0xa700 507 0xA700 "No space left on device"
fi
# A disk that fails writes of objects.
fault_case write-error 'echo eio >"$FLAG"' 'rm -f "$FLAG"' \
    0x0110 500 0x0110 "writing object: Input/output error"
# A disk that loses the flush of an object.
fault_case object-fsync 'echo fsync >"$FLAG"' 'rm -f "$FLAG"' \
    0x0110 500 0x0110 "fsync of object: Input/output error"
# Flushes of the index fail (the objects' do not).
if [ "$two" = 1 ]; then
    fault_case index-fsync 'echo "fsync $DATA/index" >"$FLAG"' 'rm -f "$FLAG"' \
        0x0110 500 0x0110 "disk I/O error"
else
    # With one flush, ingest never flushes the index file itself: the file system's flush
    # carries its log, so the instance is stored and indexed.
    d="$WORK/index-fsync"
    make_ct_copies "$d" 1 own
    echo "fsync $DATA/index" >"$FLAG"
    timeout 120 $DICOM_SEND --port "$DIMSE_PORT" store "$d/ct1.dcm" >"$d/dimse" ||
        fail "index-fsync: the association failed: $(cat "$d/dimse")"
    rm -f "$FLAG"
    grep -q "^STORE 1 0x0000" "$d/dimse" || fail "index-fsync: C-STORE: $(cat "$d/dimse")"
    assert_eq 1 "$(indexed "$d/ct1.dcm")" "index-fsync: the instance is indexed"
    stored=$((stored + 1))
    echo "index-fsync: with one flush, the index's own flush is not needed: stored"
fi
# A read-only data folder: a read-only bind mount over it, else the injector's EROFS.
# pacsd may be opening a file through the bind mount at the moment it is taken away (umount:
# "target is busy"; seen once under ASan): try again for a while, then detach it lazily (files
# opened through it keep working; what pacsd opens next is on the folder below).
unbind() {
    i=0
    while ! umount "$DATA" 2>/dev/null; do
        i=$((i + 1))
        if [ "$i" -ge 50 ]; then
            umount -l "$DATA"
            return
        fi
        sleep 0.1
    done
}
if [ "${FORCE_FAULT_SHIM:-0}" != 1 ] && [ "$(id -u)" -eq 0 ] && mount --bind "$DATA" "$DATA" 2>/dev/null; then
    unbind
    fault_case read-only \
        'mount --bind "$DATA" "$DATA" && mount -o remount,bind,ro "$DATA"' 'unbind' \
        0x0110 500 0x0110 "temporary file: Read-only file system"
else
    fault_case read-only 'echo erofs >"$FLAG"' 'rm -f "$FLAG"' \
        0x0110 500 0x0110 "temporary file: Read-only file system"
fi

assert_eq "$stored" "$(count_files "$DATA/objects")" "objects in the end"
stop_pacsd
"$PACS" --data "$DATA" verify >"$WORK/verify.log" 2>&1 || fail "pacs verify: $(cat "$WORK/verify.log")"
cat "$WORK/verify.log"
pass
