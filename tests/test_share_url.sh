#!/bin/sh
# SPDX-License-Identifier: MIT
# Where the link `pacs share` prints points (issue 15, item 5). A pacsd started on a port of its
# own choosing (http.port=0) leaves its address in DATA/pacsd.http; `pacs share`, run without
# repeating any --set, prints a link to that port, which answers with the share page. With
# http.public_url set, the link starts with it. With no pacsd running (the file is removed at a
# clean stop) and no public URL, the link falls back to the configuration and says so.
. "$SRC/tests/lib.sh"

: "${PACS:?PACS must point to the pacs tool}"
UID_CT=$(dcm_value "$SAMPLES/test_files/CT_small.dcm" 0020,000d)
start_pacsd
store "$SAMPLES/test_files/CT_small.dcm" >"$WORK/store.log" 2>&1 || fail "storescu: $(cat "$WORK/store.log")"
[ "$HTTP_PORT" != 8080 ] || fail "port 0 gave 8080: this test cannot tell the ports apart"
grep -q "^PORT=$HTTP_PORT\$" "$DATA/pacsd.http" || fail "pacsd.http: $(cat "$DATA/pacsd.http")"
grep -q "^PID=$PACSD_PID\$" "$DATA/pacsd.http" || fail "pacsd.http does not name pacsd's pid"

# Running pacsd, no public URL: the running server's port.
LINK=$("$PACS" --data "$DATA" share "$UID_CT" 2>"$WORK/err") || fail "pacs share: $(cat "$WORK/err")"
case $LINK in
http://*:"$HTTP_PORT"/share/*) ;;
*) fail "the link '$LINK' does not name the running pacsd's port $HTTP_PORT" ;;
esac
grep -q 'warning' "$WORK/err" && fail "a warning although pacsd's address is known: $(cat "$WORK/err")"
PAGE="http://127.0.0.1:$HTTP_PORT/share/${LINK##*/share/}"
assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' "$PAGE")" "the link's page on the running pacsd"
HOST=$(echo "$LINK" | sed 's|^http://\([^/]*\):[0-9]*/.*|\1|')
# An IP address of this machine (the link names one when pacsd listens on every address).
if echo "$HOST" | grep -Eq '^[0-9.]+$'; then
    assert_eq 200 "$(curl -s -o /dev/null -w '%{http_code}' "$LINK")" "the link itself ($LINK)"
fi

# http.public_url wins.
LINK=$("$PACS" --data "$DATA" --set http.public_url=https://pacs.example.org/dicomweb share \
    "$UID_CT" 2>"$WORK/err") || fail "pacs share: $(cat "$WORK/err")"
case $LINK in
https://pacs.example.org/share/*) ;;
*) fail "with http.public_url the link is '$LINK'" ;;
esac

# Stopped cleanly: the file goes, the link falls back to the configuration, with a warning.
stop_pacsd
[ -e "$DATA/pacsd.http" ] && fail "pacsd.http is left after a clean stop"
LINK=$("$PACS" --data "$DATA" share "$UID_CT" 2>"$WORK/err") || fail "pacs share: $(cat "$WORK/err")"
case $LINK in
http://*:8080/share/*) ;;
*) fail "with no pacsd and no public URL the link is '$LINK'" ;;
esac
grep -q 'warning: http.public_url is not set and no running pacsd' "$WORK/err" ||
    fail "no warning when neither address is known: $(cat "$WORK/err")"

# Killed: the file stays and names a process that is gone; the link still uses its port, and
# the tool says pacsd is not running.
start_pacsd
PORT2=$HTTP_PORT
kill9_pacsd
LINK=$("$PACS" --data "$DATA" share "$UID_CT" 2>"$WORK/err") || fail "pacs share: $(cat "$WORK/err")"
case $LINK in
http://*:"$PORT2"/share/*) ;;
*) fail "after a crash the link is '$LINK', not on port $PORT2" ;;
esac
grep -q 'is not running' "$WORK/err" || fail "no warning that pacsd is not running: $(cat "$WORK/err")"
pass
