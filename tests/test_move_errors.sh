#!/bin/sh
# SPDX-License-Identifier: MIT
# C-MOVE bad input: an unknown destination (0xA801), a destination that refuses the association
# (every sub-operation fails: 0xA702 with the Failed SOP Instance UID List), a destination that
# vanishes after the first C-STORE-RQ (the rest fail, no crash), identifiers without a usable
# level or key (0xA900). After all that, a good move still works. A SIGTERM while a move waits on a
# destination that sleeps in its C-STORE ends every association cleanly.
. "$SRC/tests/lib.sh"
trap_background

ok_port=$(free_port)
refuse_port=$(free_port)
vanish_port=$(free_port)
dead_port=$(free_port) # nothing listens here
start_storescp GOOD "$ok_port" "$WORK/good" || fail "storescp GOOD"
start_storescp REFUSER "$refuse_port" "$WORK/refuser" --refuse || fail "storescp REFUSER"
start_storescp VANISH "$vanish_port" "$WORK/vanish" --abort-after || fail "storescp VANISH"
start_pacsd --set "ae.GOOD=127.0.0.1:$ok_port" --set "ae.REFUSER=127.0.0.1:$refuse_port" \
    --set "ae.VANISH=127.0.0.1:$vanish_port" --set "ae.DEAD=127.0.0.1:$dead_port"

st=$(new_uid)
se=$(new_uid)
gen_ct "$WORK/s" "$st" "$se" 4
store "$WORK"/s/*.dcm >/dev/null 2>&1 || fail "storescu"
uids=""
for f in "$WORK"/s/*.dcm; do
    uids="$uids $(dcm_value "$f" 0008,0018)"
done

# Unknown destination.
move -S -aem NOBODY -k QueryRetrieveLevel=STUDY -k StudyInstanceUID="$st" >"$WORK/m1" || true
assert_eq 0xa801 "$(final_status "$WORK/m1")" "move to an unknown AE"
grep -q "destination NOBODY is not a known AE" "$WORK/pacsd.log" || fail "no log line for NOBODY"

# The destination refuses the association; and one where nothing listens.
for dest in REFUSER DEAD; do
    move -S -aem "$dest" -k QueryRetrieveLevel=STUDY -k StudyInstanceUID="$st" >"$WORK/m-$dest" ||
        true
    assert_eq 0xa702 "$(final_status "$WORK/m-$dest")" "move to $dest"
    assert_eq 4 "$(final_count "$WORK/m-$dest" Failed)" "failed sub-operations to $dest"
    assert_eq 0 "$(final_count "$WORK/m-$dest" Completed)" "completed sub-operations to $dest"
    for u in $uids; do
        grep -a FailedSOPInstanceUIDList "$WORK/m-$dest" | grep -q "$u" ||
            fail "$u missing from the Failed SOP Instance UID List ($dest)"
    done
done
assert_eq 0 "$(count_files "$WORK/refuser")" "files at the refusing destination"

# The destination aborts the association on the first C-STORE-RQ.
move -S -aem VANISH -k QueryRetrieveLevel=STUDY -k StudyInstanceUID="$st" >"$WORK/m3" || true
assert_eq 0xa702 "$(final_status "$WORK/m3")" "move to a destination that vanished"
assert_eq 4 "$(final_count "$WORK/m3" Failed)" "failed after the destination vanished"
grep -q "C-MOVE to=VANISH sop=.* association lost" "$WORK/pacsd.log" ||
    fail "no log line for the lost association"

# Identifiers that name nothing usable.
move -S -aem GOOD -k StudyInstanceUID="$st" >"$WORK/m4" || true
assert_eq 0xa900 "$(final_status "$WORK/m4")" "move without QueryRetrieveLevel"
move -S -aem GOOD -k QueryRetrieveLevel=PATIENT -k PatientID=1CT1 >"$WORK/m5" || true
assert_eq 0xa900 "$(final_status "$WORK/m5")" "PATIENT level under Study Root"
move -S -aem GOOD -k QueryRetrieveLevel=SERIES -k StudyInstanceUID="$st" >"$WORK/m6" || true
assert_eq 0xa900 "$(final_status "$WORK/m6")" "SERIES level without a Series Instance UID"
move -S -aem GOOD -k QueryRetrieveLevel=STUDY -k StudyInstanceUID="1.2.3*" >"$WORK/m7" || true
assert_eq 0xa900 "$(final_status "$WORK/m7")" "wildcard in a retrieve key"
move -S -aem GOOD -k QueryRetrieveLevel=STUDY -k StudyInstanceUID="$(new_uid)" >"$WORK/m8" ||
    fail "move of an unknown study"
assert_eq 0x0000 "$(final_status "$WORK/m8")" "move of a study that is not stored"
assert_eq 0 "$(final_count "$WORK/m8" Completed)" "nothing to move"

# Nothing above harmed the server.
kill -0 "$PACSD_PID" || fail "pacsd died"
move -S -aem GOOD -k QueryRetrieveLevel=STUDY -k StudyInstanceUID="$st" >"$WORK/m9" ||
    fail "good move after the bad ones"
assert_eq 0x0000 "$(final_status "$WORK/m9")" "good move after the bad ones"
wait_files "$WORK/good" 4 30 || fail "GOOD did not get 4 files"
assert_eq 4 "$(count_files "$WORK/good")" "files at GOOD"

# SIGTERM during a move to a destination that takes 60 s per C-STORE.
sleepy_port=$(free_port)
start_storescp SLEEPY "$sleepy_port" "$WORK/sleepy" -v --sleep-during 60 || fail "storescp SLEEPY"
stop_pacsd
start_pacsd --set "ae.SLEEPY=127.0.0.1:$sleepy_port"
move -S -aem SLEEPY -k QueryRetrieveLevel=STUDY -k StudyInstanceUID="$st" >"$WORK/m10" 2>&1 &
mover=$!
BG_PIDS="$BG_PIDS $mover"
timeout 30 sh -c 'until grep -q "Received Store Request" "$1"; do sleep 0.1; done' _ \
    "$WORK/storescp-SLEEPY.log" || fail "the move to SLEEPY did not start"
stop_pacsd # fails the test unless pacsd is gone within 30 s
grep -q "associations did not end" "$WORK/pacsd.log" && fail "an association outlived the server"
wait "$mover" 2>/dev/null || true
pass
