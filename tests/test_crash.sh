#!/bin/sh
# SPDX-License-Identifier: MIT
# A crash mid-stream loses nothing that was acknowledged: instances go in on several
# associations, pacsd is killed with SIGKILL while they do, and after a restart every instance
# that got a success status is found by C-FIND and retrievable (C-GET), and `pacs verify` is
# clean: the first start after an unclean stop sweeps the orphan objects (written, never
# indexed, never acknowledged) that the crash may have left.
. "$SRC/tests/lib.sh"

N=100 # instances per association
for a in 1 2 3; do
    make_ct_copies "$WORK/s$a" "$N"
done
start_pacsd
for a in 1 2 3; do
    timeout 300 storescu -v -aec PACS 127.0.0.1 "$DIMSE_PORT" "$WORK/s$a" +sd \
        >"$WORK/storescu$a.log" 2>&1 &
    eval "scu$a=\$!"
done
# Kill the server once some instances are stored, while the rest are on their way.
timeout 60 sh -c 'until [ "$(find "$1/objects" -type f 2>/dev/null | wc -l)" -ge 40 ]; do
    sleep 0.02; done' _ "$DATA" || fail "instances did not arrive"
kill9_pacsd
for a in 1 2 3; do
    eval "wait \$scu$a" || true
done

# What each storescu was told: the files whose store got a success status.
: >"$WORK/acked"
for a in 1 2 3; do
    awk '/Sending file: / { f = $NF }
         /Received Store Response \(Success\)/ { if (f != "") print f; f = "" }' \
        "$WORK/storescu$a.log" >>"$WORK/acked"
done
n_acked=$(wc -l <"$WORK/acked" | tr -d ' ')
[ "$n_acked" -gt 0 ] || fail "no instance was acknowledged before the kill"
[ "$n_acked" -lt $((3 * N)) ] || fail "the kill came after the last instance (not mid-stream)"
echo "acknowledged before the kill: $n_acked of $((3 * N))"

start_pacsd
grep -q "ended uncleanly" "$WORK/pacsd.log" || fail "the restart did not notice the crash"
# shellcheck disable=SC2046
file_uids $(cat "$WORK/acked") >"$WORK/acked-uids"
image_uids >"$WORK/found-uids"
missing=$(comm -23 "$WORK/acked-uids" "$WORK/found-uids")
[ -z "$missing" ] || fail "acknowledged but not found after the crash: $missing"

# Retrievable as objects: C-GET each study; every acknowledged instance must arrive.
mkdir -p "$WORK/got"
for a in 1 2 3; do
    study=$(dcm_value "$WORK/s$a/ct1.dcm" 0020,000d)
    timeout 120 getscu -aec PACS -S -k QueryRetrieveLevel=STUDY -k StudyInstanceUID="$study" \
        -od "$WORK/got" 127.0.0.1 "$DIMSE_PORT" >>"$WORK/getscu.log" 2>&1 || true
done
file_uids "$WORK"/got/* >"$WORK/got-uids"
missing=$(comm -23 "$WORK/acked-uids" "$WORK/got-uids")
[ -z "$missing" ] || fail "acknowledged but not retrieved after the crash: $missing"

"$PACS" --data "$DATA" verify >"$WORK/verify.log" 2>&1 ||
    fail "pacs verify after the crash: $(cat "$WORK/verify.log")"
cat "$WORK/verify.log"
assert_eq 0 "$(tmp_files)" "temporary files after the restart"
stop_pacsd
pass
