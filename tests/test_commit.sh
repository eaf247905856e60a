#!/bin/sh
# SPDX-License-Identifier: MIT
# Storage Commitment (Push Model) with tests/tools/commitscu: instances that are stored and
# whose objects verify are committed; an unknown instance (0x0112), a wrong SOP class (0x0119)
# and an object whose bytes changed on disk (0x0110) go in the Failed SOP Sequence. The report
# comes on the same association, or on a new one to the requester's known AE when the requester
# released at once; a requester that is not a known AE is told nothing after it left.
. "$SRC/tests/lib.sh"
: "${COMMITSCU:?COMMITSCU must point to the commitscu test tool}"

T=$SAMPLES/test_files
lport=$(free_port)
start_pacsd --set "ae.COMMITSCU=127.0.0.1:$lport"
st=$(new_uid)
se=$(new_uid)
gen_ct "$WORK/s" "$st" "$se" 3
store "$WORK"/s/*.dcm "$T/MR_small.dcm" >/dev/null 2>&1 || fail "storescu"

# All stored: event type 1, every instance committed, on the same association.
timeout 60 "$COMMITSCU" --timeout 20 127.0.0.1 "$DIMSE_PORT" "$WORK"/s/*.dcm "$T/MR_small.dcm" \
    >"$WORK/c1" 2>&1 || fail "commitscu (all stored): $(cat "$WORK/c1")"
grep -q "^action_status=0x0000" "$WORK/c1" || fail "N-ACTION not accepted"
grep -q "^event_type=1 " "$WORK/c1" || fail "event type for all committed"
assert_eq 4 "$(grep -c '^committed ' "$WORK/c1")" "committed instances"
assert_eq 0 "$(grep -c '^failed ' "$WORK/c1")" "failed instances"
for f in "$WORK"/s/*.dcm "$T/MR_small.dcm"; do
    grep -q "^committed $(uid_value "$f" 0008,0016) $(dcm_value "$f" 0008,0018)\$" "$WORK/c1" ||
        fail "$f not reported committed"
done

# Unknown instance, wrong class, changed object.
ct=1.2.840.10008.5.1.4.1.1.2
mr_uid=$(dcm_value "$T/MR_small.dcm" 0008,0018)
bad_uid=$(new_uid)
victim=$WORK/s/ct-2.dcm
victim_uid=$(dcm_value "$victim" 0008,0018)
obj=$(grep -rl --binary-files=binary "$victim_uid" "$DATA/objects" | head -1)
[ -n "$obj" ] || fail "cannot find the stored object of $victim_uid"
size=$(stat -c %s "$obj")
chmod u+w "$obj"
printf 'X' | dd of="$obj" bs=1 seek=$((size - 100)) conv=notrunc 2>/dev/null
timeout 60 "$COMMITSCU" --timeout 20 127.0.0.1 "$DIMSE_PORT" "$WORK/s/ct-1.dcm" \
    "$ct:$bad_uid" "$ct:$mr_uid" "$victim" >"$WORK/c2" 2>&1 || fail "commitscu (failures)"
grep -q "^event_type=2 " "$WORK/c2" || fail "event type with failures"
assert_eq 1 "$(grep -c '^committed ' "$WORK/c2")" "committed among failures"
grep -q "^failed $ct $bad_uid reason=0x0112\$" "$WORK/c2" || fail "unknown instance: $(cat "$WORK/c2")"
grep -q "^failed $ct $mr_uid reason=0x0119\$" "$WORK/c2" || fail "wrong class: $(cat "$WORK/c2")"
grep -q "^failed $ct $victim_uid reason=0x0110\$" "$WORK/c2" || fail "changed object: $(cat "$WORK/c2")"

# The requester releases at once: the report comes on a new association to its known AE.
timeout 60 "$COMMITSCU" --timeout 20 --release --listen "$lport" 127.0.0.1 "$DIMSE_PORT" \
    "$WORK/s/ct-3.dcm" "$ct:$bad_uid" >"$WORK/c3" 2>&1 || fail "commitscu --release: $(cat "$WORK/c3")"
grep -q "^event_type=2 " "$WORK/c3" || fail "event type on the new association"
grep -q "^committed $ct $(dcm_value "$WORK/s/ct-3.dcm" 0008,0018)\$" "$WORK/c3" ||
    fail "committed instance on the new association"
grep -q "^failed $ct $bad_uid reason=0x0112\$" "$WORK/c3" || fail "failed instance on the new association"
grep -q "report delivered to COMMITSCU on a new association" "$WORK/pacsd.log" ||
    fail "no log line for the delivery"

# A requester that is not a known AE and leaves: nobody to tell; the server says so and goes on.
p2=$(free_port)
timeout 60 "$COMMITSCU" --aet STRANGER --timeout 3 --release --listen "$p2" 127.0.0.1 \
    "$DIMSE_PORT" "$WORK/s/ct-1.dcm" >"$WORK/c4" 2>&1 && fail "a report reached an unknown AE"
grep -q "report not delivered: the association ended and STRANGER is not a known AE" \
    "$WORK/pacsd.log" || fail "no log line for the undeliverable report"
timeout 30 echoscu -aec PACS 127.0.0.1 "$DIMSE_PORT" || fail "pacsd does not answer"

stop_pacsd
pass
