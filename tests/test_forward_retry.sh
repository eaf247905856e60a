#!/bin/sh
# SPDX-License-Identifier: MIT
# Forwarding that gives up and is retried from the pacs tool: with forward.max_attempts = 2 and
# the destination down, entries end "failed" (never dropped) and `pacs forward list` shows them
# with their last error; once the destination is up, `pacs forward retry ID` and
# `pacs forward retry --all` send them, each exactly once. Bad tool arguments change nothing.
# A SIGTERM while an instance is on its way to a destination that takes its time stops pacsd
# promptly, and the entry stays queued.
. "$SRC/tests/lib.sh"
trap_background

port=$(free_port)
slow_port=$(free_port)
start_pacsd --set "ae.ARCHIVE2=127.0.0.1:$port" --set "route.all = ARCHIVE2 calling=STORESCU" \
    --set "ae.SLOW=127.0.0.1:$slow_port" --set "route.slow = SLOW calling=SLOWTEST" \
    --set forward.retry_min=1 --set forward.retry_max=1 --set forward.max_attempts=2

st=$(new_uid)
se=$(new_uid)
gen_ct "$WORK/s" "$st" "$se" 3
store "$WORK"/s/*.dcm >/dev/null 2>&1 || fail "storescu"
wait_fwd failed ARCHIVE2 2 3 60 || fail "entries did not fail after 2 attempts: $(fwd_list)"
assert_eq 0 "$(fwd_count pending ARCHIVE2 0)" "entries still pending"
fwd_list --state failed | grep -q "Connection refused" || fail "the last error is not listed"

start_storescp ARCHIVE2 "$port" "$WORK/a2" +uf || fail "storescp ARCHIVE2"
timeout 60 "$PACS" --data "$DATA" forward retry 999999 2>/dev/null &&
    fail "retry of an unknown entry succeeded"
rc=0
timeout 60 "$PACS" --data "$DATA" forward retry bogus 2>/dev/null || rc=$?
assert_eq 2 "$rc" "exit status for a bad entry id"
assert_eq 3 "$(fwd_count failed ARCHIVE2 0)" "failed entries after bad retries"

first=$(fwd_list --state failed | awk -F '\t' 'NR == 2 { print $1 }')
timeout 60 "$PACS" --data "$DATA" forward retry "$first" || fail "pacs forward retry $first"
wait_files "$WORK/a2" 1 60 || fail "the retried entry did not arrive"
wait_fwd done ARCHIVE2 0 1 60 || fail "the retried entry is not done: $(fwd_list)"
assert_eq 2 "$(fwd_count failed ARCHIVE2 0)" "failed entries after one retry"

timeout 60 "$PACS" --data "$DATA" forward retry --all || fail "pacs forward retry --all"
wait_files "$WORK/a2" 3 60 || fail "ARCHIVE2 got $(count_files "$WORK/a2") of 3"
wait_fwd done ARCHIVE2 0 3 60 || fail "entries not done after retry --all: $(fwd_list)"
assert_eq 3 "$(count_files "$WORK/a2")" "files at ARCHIVE2 (each once)"

# Stopping while a forward waits on a destination that sleeps 60 s in its C-STORE.
start_storescp SLOW "$slow_port" "$WORK/slow" -v --sleep-during 60 || fail "storescp SLOW"
timeout 60 storescu -aet SLOWTEST -aec PACS 127.0.0.1 "$DIMSE_PORT" "$WORK/s/ct-1.dcm" \
    >/dev/null 2>&1 || fail "storescu as SLOWTEST"
timeout 30 sh -c 'until grep -q "Received Store Request" "$1"; do sleep 0.1; done' _ \
    "$WORK/storescp-SLOW.log" || fail "the forward to SLOW did not start"
stop_pacsd # fails the test unless pacsd is gone within 30 s
assert_eq 1 "$(fwd_count pending SLOW 0)" "the interrupted forward is still queued"
assert_eq 0 "$(fwd_count done SLOW 0)" "the interrupted forward is not marked done"
pass
