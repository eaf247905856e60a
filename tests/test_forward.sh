#!/bin/sh
# SPDX-License-Identifier: MIT
# Forwarding with a persistent queue. CT instances match a rule for REFERRAL while REFERRAL is
# down; pacsd is killed with SIGKILL while the queue holds them; REFERRAL comes up, pacsd
# restarts, and every instance arrives exactly once (storescp writes unique file names, so a
# duplicate would show). An MR the rule does not match is not sent. A second destination aborts
# every association on its first C-STORE (it vanishes mid-transfer): its entries stay queued,
# and arrive once it behaves.
. "$SRC/tests/lib.sh"
trap_background

ref_port=$(free_port)
van_port=$(free_port)
cat >"$WORK/pacsd.conf" <<CONF
ae.REFERRAL = 127.0.0.1:$ref_port
ae.VANISH = 127.0.0.1:$van_port
route.to-referral = REFERRAL modality=CT
route.ct-to-vanish = VANISH modality=CT sop_class=1.2.840.10008.5.1.4.1.1.2 calling=STORESCU
route.never = VANISH calling=SOMEONE-ELSE
forward.retry_min = 1
forward.retry_max = 2
CONF
start_pacsd --config "$WORK/pacsd.conf"

st=$(new_uid)
se=$(new_uid)
gen_ct "$WORK/s" "$st" "$se" 6
store "$WORK"/s/*.dcm "$SAMPLES/test_files/MR_small.dcm" >/dev/null 2>&1 || fail "storescu"

# Both destinations are down: every CT entry is tried and kept.
wait_fwd pending REFERRAL 1 6 60 || fail "REFERRAL entries were not tried: $(fwd_list)"
wait_fwd pending VANISH 1 6 60 || fail "VANISH entries were not tried: $(fwd_list)"
assert_eq 12 "$(fwd_list | awk 'NR > 1' | wc -l | tr -d ' ')" "queue entries (6 CT x 2, no MR)"
grep -q "dest=REFERRAL unreachable, 6 instances wait" "$WORK/pacsd.log" ||
    fail "no log line for the unreachable destination"

# A crash with a non-empty queue; the destinations come up (one of them misbehaving).
kill9_pacsd
start_storescp REFERRAL "$ref_port" "$WORK/referral" +uf || fail "storescp REFERRAL"
start_storescp VANISH "$van_port" "$WORK/vanish-1" --abort-after || fail "storescp VANISH"
start_pacsd --config "$WORK/pacsd.conf"

wait_files "$WORK/referral" 6 60 || fail "REFERRAL got $(count_files "$WORK/referral") of 6"
wait_fwd done REFERRAL 1 6 60 || fail "REFERRAL entries not marked done: $(fwd_list)"
for f in "$WORK"/s/*.dcm; do
    uid=$(dcm_value "$f" 0008,0018)
    n=$(grep -l "$uid" "$WORK"/referral/* 2>/dev/null | wc -l | tr -d ' ')
    assert_eq 1 "$n" "copies of $uid at REFERRAL"
    same_dataset "$f" "$(grep -l "$uid" "$WORK"/referral/*)" || fail "$uid arrived changed"
done
assert_eq 6 "$(count_files "$WORK/referral")" "files at REFERRAL (no duplicates, no MR)"

# VANISH aborted each association: its entries are intact and still pending.
timeout 30 sh -c 'until grep -q "dest=VANISH sop=.*attempt .* failed" "$1"; do sleep 0.1; done' _ \
    "$WORK/pacsd.log" || fail "no failed attempt against VANISH"
assert_eq 6 "$(fwd_count pending VANISH 1)" "VANISH entries pending after aborts"
stop_pid "$SCP_PID"
start_storescp VANISH "$van_port" "$WORK/vanish-2" +uf || fail "storescp VANISH (good)"
wait_files "$WORK/vanish-2" 6 60 || fail "VANISH got $(count_files "$WORK/vanish-2") of 6"
wait_fwd done VANISH 1 6 60 || fail "VANISH entries not marked done: $(fwd_list)"
assert_eq 6 "$(count_files "$WORK/vanish-2")" "files at VANISH"

# A resend of a forwarded instance is not queued again: the queue is written before the
# C-STORE response, so what it holds when storescu returns is final.
store "$WORK/s/ct-1.dcm" >/dev/null 2>&1 || fail "storescu resend"
assert_eq 0 "$(fwd_count pending REFERRAL 0)" "pending REFERRAL entries after an identical resend"
assert_eq 6 "$(fwd_count done REFERRAL 1)" "done REFERRAL entries after an identical resend"

stop_pacsd
pass
