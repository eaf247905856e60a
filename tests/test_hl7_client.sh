#!/bin/sh
# SPDX-License-Identifier: MIT
# An independent HL7 v2 implementation against the real pacsd (issue 16): @medplum/hl7 from npm
# (tests/node/hl7_client_test.js) sends ADT^A01/A04/A08/A40, ORM^O01 and OMI^O23 over MLLP, in
# UTF-8 with Vietnamese names and in ISO 8859-1, and one over MLLP in TLS, and reads each ACK
# with its own parser; findscu -W then finds the orders it placed. The packages come from
# package-lock.json with `npm ci`. @medplum/hl7 4.5.2 declares node "^20.19.0 || >=22.12.0";
# npm only warns about it, and the client runs on Debian 12's nodejs 18.20.4 (what
# scripts/deps.sh installs in CI) as on NodeSource's 20: the node version is logged so that a
# failure after a Debian update can be told apart.
. "$SRC/tests/lib.sh"
. "$SRC/tests/lib_tls.sh"

command -v node >/dev/null 2>&1 || fail "node is not installed (scripts/deps.sh installs it)"
command -v npm >/dev/null 2>&1 || fail "npm is not installed (scripts/deps.sh installs it)"
echo "node $(node --version), npm $(npm --version)"
mkdir -p "$WORK/node"
cp "$SRC/tests/node/package.json" "$SRC/tests/node/package-lock.json" \
    "$SRC/tests/node/hl7_client_test.js" "$WORK/node/"
(cd "$WORK/node" && timeout 300 npm ci --no-audit --no-fund --loglevel=error >npm.log 2>&1) ||
    fail "npm ci failed: $(tail -5 "$WORK/node/npm.log")"
make_pki
start_pacsd --set hl7.tls.port=0 --set dimse.tls.cert="$PKI/server.crt" \
    --set dimse.tls.key="$PKI/server.key" --set dimse.tls.ca="$PKI/ca.crt"
timeout 120 node "$WORK/node/hl7_client_test.js" "$HL7_PORT" "$HL7_TLS_PORT" "$PKI/ca.crt" \
    "$PKI/client.crt" "$PKI/client.key" >"$WORK/acks.tsv" 2>"$WORK/node.err" ||
    fail "the HL7 client failed: $(tail -5 "$WORK/node.err")"
cat "$WORK/acks.tsv"

# ack NAME MSA-1 ERR-2 ERR-3: the line the client printed for NAME.
ack() {
    line=$(awk -F '\t' -v n="$1" '$1 == n' "$WORK/acks.tsv")
    [ -n "$line" ] || fail "no ACK for $1"
    got=$(echo "$line" | awk -F '\t' '{ print $2 "|" $4 "|" $5 }')
    assert_eq "$2|$3|$4" "$got" "ACK for $1 (MSA-1|ERR-2|ERR-3)"
}
# Refusals: the field at fault, from the message alone.
ack A01-no-id AE 'PID^1^3' 101
ack O01-bad-control AE 'ORC^1^1' 103
ack S12 AR 'MSH^1^9' 200
ack A02 AR 'MSH^1^9^1^2' 201
# Messages the archive takes, stored before the ACK: AA.
for m in A01 A04 A08 A40 O01 O23 A08-latin1 A01-tls; do
    ack "$m" AA '' ''
done
# What the npm client sent is on the worklist, for findscu -W: both orders, for the patient
# A01 registered under its health ID, with the name the last ADT gave (A08 made it Văn Anh,
# A01 over TLS Văn An again).
printf '(0008,0005) CS [ISO_IR 192]\n(0008,0050) SH []\n(0010,0010) PN []\n(0010,0020) LO []\n(0040,0100) SQ (Sequence with explicit length #=1)\n  (fffe,e000) na (Item with explicit length #=2)\n    (0040,0001) AE []\n    (0040,0009) SH []\n  (fffe,e00d) na\n(fffe,e0dd) na\n' >"$WORK/q.dump"
dump2dcm -q "$WORK/q.dump" "$WORK/q.dcm" || fail "dump2dcm"
timeout 60 findscu -v -W -aec PACS -aet CT1 127.0.0.1 "$DIMSE_PORT" "$WORK/q.dcm" >"$WORK/wl.txt" 2>&1 ||
    fail "findscu -W: $(tail -3 "$WORK/wl.txt")"
[ "$(grep -c 'Find Response: [0-9]* (Pending)' "$WORK/wl.txt")" = 2 ] ||
    fail "worklist: not 2 items: $(cat "$WORK/wl.txt")"
grep -q '(0008,0050) SH \[ACC1001 *\]' "$WORK/wl.txt" || fail "worklist: no ACC1001 (ORM^O01)"
grep -q '(0008,0050) SH \[ACC1002 *\]' "$WORK/wl.txt" || fail "worklist: no ACC1002 (OMI^O23)"
[ "$(grep -c '(0010,0010) PN \[Nguyễn^Văn An *\]' "$WORK/wl.txt")" = 2 ] ||
    fail "worklist names: $(grep '0010,0010' "$WORK/wl.txt")"
[ "$(grep -c '(0010,0020) LO \[DN4010123456789 *\]' "$WORK/wl.txt")" = 2 ] ||
    fail "worklist patient IDs: $(grep '0010,0020' "$WORK/wl.txt")"
kill -0 "$PACSD_PID" || fail "pacsd died"
pass
