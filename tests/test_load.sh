#!/bin/sh
# SPDX-License-Identifier: MIT
# Load: LOAD_ASSOCS associations store at once (storescu, one association each, LOAD_PER_ASSOC
# instances apiece) while LOAD_HTTP HTTP clients query and retrieve through DICOMweb
# (tests/tools/load_http.py), until the storing is done. Every C-STORE must succeed, every
# HTTP request must get a complete 200/204, the log must hold no ERROR line, and every
# instance sent must be found afterwards. Prints the throughput (instances stored per second,
# HTTP requests per second) and pacsd's peak RSS (VmHWM), for the record; nothing about speed
# is asserted. Bounded: every client runs under `timeout`.
#
# CI runs 50 associations x 4 instances and 100 HTTP clients. The long run, by hand:
#   LOAD_PER_ASSOC=100 ctest -R test_load --output-on-failure    (in a build folder)
# or LOAD_ASSOCS / LOAD_HTTP to change the number of associations and HTTP clients.
. "$SRC/tests/lib.sh"

ASSOCS=${LOAD_ASSOCS:-50}
PER_ASSOC=${LOAD_PER_ASSOC:-4}
HTTP=${LOAD_HTTP:-100}
LIMIT=${LOAD_SECONDS:-1800}

# A study stored beforehand, so that the HTTP clients have something to retrieve from the start.
make_ct_copies "$WORK/pre" 10
a=1
while [ "$a" -le "$ASSOCS" ]; do
    make_ct_copies "$WORK/s$a" "$PER_ASSOC" own
    a=$((a + 1))
done
start_pacsd --set dimse.max_associations=$((ASSOCS + 8)) --set http.max_connections=$((HTTP + 64))
store "$WORK"/pre/*.dcm || fail "storing the first study"
pre_study=$(dcm_value "$WORK/pre/ct1.dcm" 0020,000d)

timeout $((LIMIT + 60)) python3 "$SRC/tests/tools/load_http.py" \
    --url "http://127.0.0.1:$HTTP_PORT/dicomweb" --clients "$HTTP" --stop "$WORK/stop" \
    --seconds "$LIMIT" --ready "$WORK/http-ready" --study "$pre_study" >"$WORK/http.log" 2>&1 &
http_pid=$!
# The stores start once every HTTP client is at work (Python may be slow to start).
timeout 120 sh -c 'until [ -e "$1" ]; do kill -0 "$2" 2>/dev/null || exit 1; sleep 0.1; done' \
    _ "$WORK/http-ready" "$http_pid" || fail "the HTTP clients did not start: $(cat "$WORK/http.log")"
t0=$(date +%s.%N)
pids=""
a=1
while [ "$a" -le "$ASSOCS" ]; do
    timeout "$LIMIT" storescu -aec PACS 127.0.0.1 "$DIMSE_PORT" "$WORK/s$a"/ct*.dcm \
        >"$WORK/storescu$a.log" 2>&1 &
    pids="$pids $!"
    a=$((a + 1))
done
failed=0
for p in $pids; do
    wait "$p" || failed=$((failed + 1))
done
t1=$(date +%s.%N)
: >"$WORK/stop"
wait "$http_pid" || true
cat "$WORK/http.log"
rss=$(awk '/^VmHWM/ { print $2 }' "/proc/$PACSD_PID/status")

[ "$failed" -eq 0 ] ||
    fail "$failed of $ASSOCS associations failed: $(grep -h -i 'error\|fail' "$WORK"/storescu*.log | head -5)"
grep -q "^LOAD .* failures=0 " "$WORK/http.log" || fail "HTTP requests failed"
n_http=$(sed -n 's/^LOAD requests=\([0-9]*\).*/\1/p' "$WORK/http.log")
[ "${n_http:-0}" -gt 0 ] || fail "no HTTP request was made"
! grep -q " ERROR " "$WORK/pacsd.log" || fail "ERROR in the log: $(grep " ERROR " "$WORK/pacsd.log" | head -5)"
total=$((ASSOCS * PER_ASSOC))
# shellcheck disable=SC2046
file_uids "$WORK"/s*/ct*.dcm >"$WORK/sent"
image_uids >"$WORK/found"
missing=$(comm -23 "$WORK/sent" "$WORK/found" | wc -l | tr -d ' ')
assert_eq 0 "$missing" "instances sent but not found"
awk -v a="$ASSOCS" -v n="$total" -v t0="$t0" -v t1="$t1" -v h="$HTTP" -v q="$n_http" -v rss="$rss" \
    'BEGIN { printf "%d associations stored %d instances in %.1f s (%.1f instances/s) while %d " \
             "HTTP clients made %d requests; pacsd peak RSS %d MiB\n", a, n, t1 - t0,
             n / (t1 - t0), h, q, rss / 1024 }'
stop_pacsd
pass
