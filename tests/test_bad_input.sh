#!/bin/sh
# SPDX-License-Identifier: MIT
# Bad input gets a clear status and harms nothing else: non-DICOM bytes on the port (the server
# survives and the next C-ECHO works); on one association, truncated, garbage and incomplete
# datasets and identity mismatches each get a failure status with an error comment while the
# good instances around them store; an object over the size limit gets 0xA700.
. "$SRC/tests/lib.sh"

start_pacsd --set ingest.max_object_mb=1 --set dimse.acse_timeout=3

echo_ok() {
    timeout 30 echoscu -aec PACS 127.0.0.1 "$DIMSE_PORT" || fail "C-ECHO failed after $1"
    kill -0 "$PACSD_PID" || fail "pacsd died after $1"
}

# ---- Non-DICOM bytes on the DICOM port ----
head -c 4096 /dev/urandom >"$WORK/junk"
printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' >"$WORK/http"
# A-ASSOCIATE-RQ that claims a 4 GiB body, then nothing.
printf '\001\000\377\377\377\377\000\001' >"$WORK/huge"
# P-DATA-TF before any association.
printf '\004\000\000\000\000\006\000\000\000\002\001\003' >"$WORK/pdata"
# A-ASSOCIATE-RQ whose items run past its end.
printf '\001\000\000\000\000\110\000\001\000\000PACS            RAW             ' >"$WORK/short"
head -c 32 /dev/zero >>"$WORK/short"
printf '\020\000\377\377' >>"$WORK/short"
for bytes in junk http pdata; do
    out=$(timeout 40 $DICOM_SEND --port "$DIMSE_PORT" raw "$WORK/$bytes" || true)
    case $out in
    "RAW closed" | "RAW PDU 0x03" | "RAW PDU 0x07") ;; # closed, rejected or aborted
    *) fail "$bytes on the port: unexpected answer '$out'" ;;
    esac
    echo_ok "$bytes on the port"
done
# Peers that send a broken or endless association request and then hold the connection open
# must not stop the server from accepting others (a bad request used to block the accepting
# thread until the peer hung up, up to three minutes).
for bytes in short huge junk; do
    python3 -c 'import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(open(sys.argv[2], "rb").read())
time.sleep(100)' "$DIMSE_PORT" "$WORK/$bytes" &
    holder=$!
    sleep 0.5
    echo_ok "$bytes from a peer that stays connected"
    kill "$holder" 2>/dev/null || true
    wait "$holder" 2>/dev/null || true
done
# ---- Broken datasets among good ones, on one association ----
make_ct_copies "$WORK/i" 10 own
g="$WORK/i/ct"
uid() { dcm_value "$1" 0008,0018; }
timeout 60 dcmodify -nb -q -ea "(0020,000d)" "${g}4.dcm" || fail dcmodify
timeout 60 dcmodify -nb -q -ea "(0020,000e)" "${g}5.dcm" || fail dcmodify
timeout 60 dcmodify -nb -q -ea "(0008,0016)" "${g}10.dcm" || fail dcmodify
MR=1.2.840.10008.5.1.4.1.1.4
timeout 120 $DICOM_SEND --port "$DIMSE_PORT" store \
    "${g}1.dcm" \
    "${g}2.dcm:truncate=-1000" \
    "${g}3.dcm:garbage=512" \
    "${g}4.dcm" \
    "${g}5.dcm" \
    "${g}6.dcm:uid=1.2.826.0.1.3680043.10.1347.77.6" \
    "${g}7.dcm:class=$MR" \
    "${g}8.dcm" \
    "${g}9.dcm:truncate=0" \
    "${g}10.dcm:class=1.2.840.10008.5.1.4.1.1.2" \
    "${g}9.dcm:garbage=1200000" \
    "${g}8.dcm:uid=1.2.3.04" \
    >"$WORK/stores" || fail "the association failed: $(cat "$WORK/stores")"
cat "$WORK/stores"

expect() { # n status comment-pattern
    line=$(grep "^STORE $1 " "$WORK/stores") || fail "no answer to store $1"
    echo "$line" | grep -q "^STORE $1 $2" || fail "store $1: expected $2, got '$line'"
    if [ -n "$3" ]; then
        echo "$line" | grep -qi "$3" || fail "store $1: comment should say '$3': '$line'"
    fi
}
expect 1 0x0000 ""
expect 2 0xc000 "cannot parse"
expect 3 0xc000 "."
expect 4 0xc000 "Study Instance UID"
expect 5 0xc000 "Series Instance UID"
expect 6 0xc000 "SOP Instance UID differs"
expect 7 0xc000 "SOP Class UID differs"
expect 8 0x0000 ""
expect 9 0xc000 "empty"
expect 10 0xc000 "SOP Class UID"
expect 11 0xa700 "limit"
expect 12 0xc000 "invalid UID"

# Only the good ones are stored; nothing is left half-written.
for n in 1 8; do
    assert_eq 1 "$(count_matches -S -k QueryRetrieveLevel=IMAGE -k SOPInstanceUID="$(uid "${g}$n.dcm")")" \
        "good instance $n"
done
for n in 2 3 4 5 6 7 9 10; do
    assert_eq 0 "$(count_matches -S -k QueryRetrieveLevel=IMAGE -k SOPInstanceUID="$(uid "${g}$n.dcm")")" \
        "broken instance $n"
done
assert_eq 0 "$(count_matches -S -k QueryRetrieveLevel=IMAGE \
    -k SOPInstanceUID=1.2.826.0.1.3680043.10.1347.77.6)" "the mismatched UID"
assert_eq 0 "$(tmp_files)" "temporary files left"
assert_eq 2 "$(find "$DATA/objects" -type f | wc -l | tr -d ' ')" "objects stored"

# DCMTK's storescu sends the dataset without Study Instance UID too; it gets the same answer
# (its debug output shows the error comment).
store -d "${g}4.dcm" >"$WORK/storescu.log" 2>&1 || true
grep -qi "Study Instance UID" "$WORK/storescu.log" ||
    fail "storescu was not told why: $(grep -i status "$WORK/storescu.log")"
echo_ok "the broken datasets"
"$PACS" --data "$DATA" verify >"$WORK/verify.log" || fail "pacs verify: $(cat "$WORK/verify.log")"
stop_pacsd

# ---- A peer rejected for the association limit that keeps its connection open ----
# The limit is enforced in the accepting thread; it must not then wait (up to
# dimse.acse_timeout) for the rejected peer to hang up before accepting anyone else.
stop_pacsd
start_pacsd --set dimse.max_associations=1 --set dimse.acse_timeout=30
timeout 60 $DICOM_SEND --port "$DIMSE_PORT" hold 40 >"$WORK/hold_a" &
holder_a=$!
timeout 10 sh -c 'until [ -s "$1" ]; do sleep 0.05; done' _ "$WORK/hold_a" ||
    fail "no answer to the first association request"
assert_eq ACCEPTED "$(cat "$WORK/hold_a")" "first association under a limit of one"
timeout 60 $DICOM_SEND --port "$DIMSE_PORT" hold 40 >"$WORK/hold_b" &
holder_b=$!
timeout 10 sh -c 'until [ -s "$1" ]; do sleep 0.05; done' _ "$WORK/hold_b" ||
    fail "no answer to the second association request"
assert_eq REJECTED "$(cat "$WORK/hold_b")" "second association under a limit of one"
kill "$holder_a" 2>/dev/null || true
wait "$holder_a" 2>/dev/null || true
timeout 10 sh -c 'until grep -q "assoc=1 .*aborted\|assoc=1 .*released" "$1"; do sleep 0.05; done' \
    _ "$WORK/pacsd.log" || fail "the first association did not end after its peer left"
timeout 5 echoscu -aec PACS 127.0.0.1 "$DIMSE_PORT" ||
    fail "C-ECHO not served while a peer rejected for the limit holds its connection"
kill "$holder_b" 2>/dev/null || true
wait "$holder_b" 2>/dev/null || true
stop_pacsd
pass
