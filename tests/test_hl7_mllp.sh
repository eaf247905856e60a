#!/bin/sh
# SPDX-License-Identifier: MIT
# HL7 v2 over MLLP, the transport and the refusals (issue 16): the real pacsd on port 0, a raw
# MLLP client (tests/tools/mllp.py) for what real HIS clients never send. Several messages on
# one connection; a message without MSH, with wrong encoding characters, an unknown character
# set or version, truncated, of 10 MB, an unsupported type: each answered AR with an ERR that
# names the field, and the connection still answers the next. Bytes that are not MLLP close the
# connection; a half-sent message is dropped after hl7.timeout; connections beyond
# hl7.max_connections are closed at once; MLLP over TLS with the DICOM TLS certificates.
. "$SRC/tests/lib.sh"
. "$SRC/tests/lib_tls.sh"
MLLP="python3 $SRC/tests/tools/mllp.py"

make_pki
start_pacsd --set hl7.timeout=3 --set hl7.max_connections=4 --set hl7.tls.port=0 \
    --set dimse.tls.cert="$PKI/server.crt" --set dimse.tls.key="$PKI/server.key" \
    --set dimse.tls.ca="$PKI/ca.crt"
[ -n "${HL7_PORT:-}" ] && [ -n "${HL7_TLS_PORT:-}" ] || fail "no HL7 ports in the ready file"

MSH='MSH|^~\&|HIS|BV|PACS|BV|20240105083000'
out=$WORK/one.txt
$MLLP "$HL7_PORT" \
    "msg:$MSH||SIU^S12^SIU_S12|C1|P|2.5.1\\rPID|1||X1" \
    "msg:PID|1||X1^^^BV^MR" \
    "msg:MSH|^^\\&|HIS|BV|PACS|BV|1||ADT^A01|C3|P|2.5" \
    "msg:$MSH||ADT^A01|C4|P|2.5||||||ISO IR87" \
    "msg:$MSH||ADT^A01|C5|P|3.0" \
    "msg:MSH|^~\\&|HIS|B" \
    "big:10485760" \
    "msg:$MSH||SIU^S12|C9|P|2.5.1" >"$out" || fail "no answer: $(cat "$out")"
[ "$(grep -c '^--$' "$out")" = 8 ] || fail "8 messages on one connection, $(grep -c '^--$' "$out") answers"
# Each answer: MSA-1, MSA-2 (the message's control id), ERR-2 (where) and ERR-3 (table 0357).
expect() { # n msa err2 err3
    got=$(awk -v n="$1" 'BEGIN { RS = "--\n" } NR == n' "$out")
    echo "$got" | grep -q "^MSA|$2" || fail "answer $1: no MSA|$2 in: $got"
    echo "$got" | grep -q "^ERR||$3|$4^" || fail "answer $1: no ERR||$3|$4 in: $got"
}
expect 1 'AR|C1|' 'MSH^1^9' 200
expect 2 'AR||' 'MSH^1' 100
expect 3 'AR|C3|' 'MSH^1^2' 102
expect 4 'AR|C4|' 'MSH^1^18' 103
expect 5 'AR|C5|' 'MSH^1^12' 203
expect 6 'AR||' 'MSH^1^9' 101
expect 7 'AR|BIG1|' '' 207
expect 8 'AR|C9|' 'MSH^1^9' 200
grep -q '^MSA|AR|BIG1|message of 10485760 bytes is larger than hl7.max_message_kb (1024 KiB)' \
    "$out" || fail "the oversize answer does not say why: $(grep BIG1 "$out")"
grep -q '^MSH|^~\\&|PACS|BV|HIS|BV|[0-9]*[-+][0-9]*||ACK^S12^ACK|PACS[0-9.]*|P|2.5.1|' "$out" ||
    fail "ACK header: $(head -1 "$out")"

# Not MLLP at all: the connection is closed.
$MLLP "$HL7_PORT" "raw:GET / HTTP/1.1\\r\\n\\r\\n" wait-close >"$WORK/raw.txt" ||
    fail "bytes that are not MLLP: $(cat "$WORK/raw.txt")"
grep -q '^closed$' "$WORK/raw.txt" || fail "not closed after bytes that are not MLLP"
# A message that never ends: dropped after hl7.timeout (3 s), with a log line.
$MLLP "$HL7_PORT" "half:$MSH||ADT^A01|H1|P|2.5" wait-close >"$WORK/half.txt" ||
    fail "a half message: $(cat "$WORK/half.txt")"
grep -q 'timed out within a message' "$WORK/pacsd.log" || fail "no log line for the half message"

# hl7.max_connections (4): four silent connections are kept, a fifth is closed at once.
python3 - "$HL7_PORT" <<'PY' || fail "connection limit"
import socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port), 10) for _ in range(4)]
for s in held:
    s.sendall(b"\x0bMSH|^~\\&|A|B|C|D|1||SIU^S12|K|P|2.5\x1c\r")
    assert b"MSA|AR|K" in s.recv(65536), "a held connection is answered"
extra = socket.create_connection(("127.0.0.1", port), 10)
extra.settimeout(10)
assert extra.recv(100) == b"", "the fifth connection is closed"
PY
grep -q 'refused: 4 connections already open' "$WORK/pacsd.log" || fail "no log line for the fifth"

# MLLP over TLS, with a client certificate signed by dimse.tls.ca; none and a stranger's are
# refused in the handshake.
$MLLP --tls "$PKI/ca.crt" "$PKI/client.crt" "$PKI/client.key" "$HL7_TLS_PORT" \
    "msg:$MSH||SIU^S12|T1|P|2.5" >"$WORK/tls.txt" || fail "over TLS: $(cat "$WORK/tls.txt")"
grep -q '^MSA|AR|T1|' "$WORK/tls.txt" || fail "no answer over TLS: $(cat "$WORK/tls.txt")"
if $MLLP --tls "$PKI/ca.crt" "$HL7_TLS_PORT" "msg:$MSH||SIU^S12|T2|P|2.5" \
    >"$WORK/tls2.txt" 2>&1; then
    fail "TLS without a client certificate was answered"
fi
if $MLLP --tls "$PKI/ca.crt" "$PKI/stranger.crt" "$PKI/stranger.key" "$HL7_TLS_PORT" \
    "msg:$MSH||SIU^S12|T3|P|2.5" >"$WORK/tls3.txt" 2>&1; then
    fail "TLS with a certificate of another CA was answered"
fi
grep -q 'hl7.*TLS handshake with 127.0.0.1 failed' "$WORK/pacsd.log" || fail "no log of the refusals"
grep -q '"action":"login-failure".*"protocol":"hl7"' "$DATA"/audit/*.jsonl ||
    fail "no audit line for the refused TLS handshake"
kill -0 "$PACSD_PID" || fail "pacsd died"
stop_pacsd
pass
