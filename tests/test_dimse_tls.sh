#!/bin/sh
# SPDX-License-Identifier: MIT
# DICOM over TLS (dimse.tls.*, PS3.15 BCP 195 profiles): DCMTK's echoscu/storescu/findscu with
# +tls and a certificate signed by the configured CA store and find; refused, with a
# login-failure line in the audit trail and nothing stored: a plain client on the TLS port, a
# client without a certificate, one whose certificate another CA signed, one whose certificate
# has expired; a client that does not trust the server's certificate gives up by itself; silent
# peers on either port hold up nobody else. With
# dimse.plain = false there is no plain port. C-MOVE reaches a destination marked `tls` (a
# storescp +tls that requires our certificate); a TLS destination we cannot verify, or whose
# certificate names another host, gets nothing.
. "$SRC/tests/lib.sh"
. "$SRC/tests/lib_tls.sh"
trap_background
make_pki

ct=$SAMPLES/test_files/CT_small.dcm
dport=$(free_port)
mkdir -p "$WORK/dest"
timeout 600 storescp -aet DEST +tls "$PKI/client.key" "$PKI/client.crt" +cf "$PKI/ca.crt" \
    -od "$WORK/dest" "$dport" >>"$WORK/storescp.log" 2>&1 &
BG_PIDS="$BG_PIDS $!"
rport=$(free_port)
mkdir -p "$WORK/rogue-dest"
timeout 600 storescp -aet ROGUE +tls "$PKI/stranger.key" "$PKI/stranger.crt" +cf "$PKI/ca.crt" \
    -od "$WORK/rogue-dest" "$rport" >>"$WORK/storescp.log" 2>&1 &
BG_PIDS="$BG_PIDS $!"
# A destination whose certificate our CA signed, but for another host.
eport=$(free_port)
mkdir -p "$WORK/else-dest"
timeout 600 storescp -aet ELSE +tls "$PKI/elsewhere.key" "$PKI/elsewhere.crt" +cf "$PKI/ca.crt" \
    -od "$WORK/else-dest" "$eport" >>"$WORK/storescp.log" 2>&1 &
BG_PIDS="$BG_PIDS $!"
cat >"$WORK/pacsd.conf" <<CONF
dimse.tls.port = 0
dimse.tls.cert = $PKI/server.crt
dimse.tls.key = $PKI/server.key
dimse.tls.ca = $PKI/ca.crt
ae.DEST = 127.0.0.1:$dport tls
ae.ROGUE = 127.0.0.1:$rport tls
ae.ELSE = 127.0.0.1:$eport tls
CONF
start_pacsd --config "$WORK/pacsd.conf" --set dimse.acse_timeout=60
[ -n "${DIMSE_TLS_PORT:-}" ] || fail "no DIMSE_TLS_PORT in the ready file"
grep -q "DICOM TLS on .* (profile bcp195)" "$WORK/pacsd.log" || fail "no TLS start-up line"

TLS="+tls $PKI/client.key $PKI/client.crt +cf $PKI/ca.crt"
tls_echo() { timeout 30 echoscu -aec PACS "$@" 127.0.0.1 "$DIMSE_TLS_PORT" >"$WORK/o" 2>&1; }
n_stored() { timeout 60 "$PACS" --data "$DATA" audit 2>/dev/null | grep -c '"action":"store","atna":"110104","outcome":"success"' || true; }
n_login_failures() { timeout 60 "$PACS" --data "$DATA" audit 2>/dev/null | grep -c '"action":"login-failure"' || true; }

# -- the good client --
# shellcheck disable=SC2086
tls_echo $TLS || fail "echoscu +tls with a trusted certificate: $(tail -2 "$WORK/o")"
# shellcheck disable=SC2086
timeout 60 storescu $TLS -aec PACS 127.0.0.1 "$DIMSE_TLS_PORT" "$ct" >/dev/null 2>&1 ||
    fail "storescu +tls"
# shellcheck disable=SC2086
n=$(timeout 60 findscu $TLS -aec PACS -S -k QueryRetrieveLevel=STUDY -k StudyInstanceUID \
    127.0.0.1 "$DIMSE_TLS_PORT" 2>&1 | grep -ac "Find Response.*(Pending)" || true)
assert_eq 1 "$n" "studies found over TLS"
assert_eq 1 "$(n_stored)" "instances stored"

# -- attacks, each refused before any PDU --
before=$(n_login_failures)
tls_echo && fail "a plain client was accepted on the TLS port"
timeout 60 storescu -aec PACS 127.0.0.1 "$DIMSE_TLS_PORT" "$ct" >/dev/null 2>&1 &&
    fail "a plain storescu stored on the TLS port"
tls_echo +tla +cf "$PKI/ca.crt" && fail "a client without a certificate was accepted"
tls_echo +tls "$PKI/stranger.key" "$PKI/stranger.crt" +cf "$PKI/ca.crt" &&
    fail "a client certificate from an untrusted CA was accepted"
tls_echo +tls "$PKI/expired.key" "$PKI/expired.crt" +cf "$PKI/ca.crt" &&
    fail "an expired client certificate was accepted"
# A client that trusts another CA refuses our certificate itself.
tls_echo +tls "$PKI/client.key" "$PKI/client.crt" +cf "$PKI/rogue.crt" &&
    fail "a client accepted a server certificate it has no CA for"
# TLS to the plain port fails too.
timeout 30 echoscu -aec PACS +tls "$PKI/client.key" "$PKI/client.crt" +cf "$PKI/ca.crt" \
    127.0.0.1 "$DIMSE_PORT" >/dev/null 2>&1 && fail "TLS handshake succeeded on the plain port"
after=$(n_login_failures)
[ "$after" -ge $((before + 5)) ] ||
    fail "expected at least 5 login-failure lines for the refused handshakes, got $((after - before))"
assert_eq 1 "$(n_stored)" "instances stored after the attacks"
# The server still serves good clients.
# shellcheck disable=SC2086
tls_echo $TLS || fail "echoscu +tls after the attacks"

# -- attack: peers that connect and say nothing hold up neither port --
python3 -c 'import socket, sys, time
held = [socket.create_connection(("127.0.0.1", int(p))) for p in sys.argv[1:] for _ in range(3)]
print("held", flush=True)
time.sleep(120)' "$DIMSE_TLS_PORT" "$DIMSE_PORT" >"$WORK/held" 2>&1 &
HOLD_PID=$!
BG_PIDS="$BG_PIDS $HOLD_PID"
timeout 20 sh -c 'until grep -q held "$1"; do sleep 0.1; done' _ "$WORK/held" ||
    fail "the silent peers did not connect"
# Both would wait a minute (DCMTK's socket timeout, dimse.acse_timeout = 60) if the silent
# peers held the ports; 45 s bounds the wait.
# shellcheck disable=SC2086
timeout 45 echoscu -aec PACS $TLS 127.0.0.1 "$DIMSE_TLS_PORT" >/dev/null 2>&1 ||
    fail "a TLS client was held up by silent peers"
timeout 45 echoscu -aec PACS 127.0.0.1 "$DIMSE_PORT" >/dev/null 2>&1 ||
    fail "a plain client was held up by silent peers"
stop_pid "$HOLD_PID"

# -- C-MOVE to a TLS destination that requires our certificate --
st=$(dcm_value "$ct" 0020,000D)
move -S -aem DEST -k QueryRetrieveLevel=STUDY -k StudyInstanceUID="$st" >"$WORK/m" ||
    fail "movescu"
assert_eq 0x0000 "$(final_status "$WORK/m")" "move to the TLS destination"
wait_files "$WORK/dest" 1 30 || fail "the TLS destination got nothing"
# -- ... and to one whose certificate our CA did not sign: nothing is sent --
move -S -aem ROGUE -k QueryRetrieveLevel=STUDY -k StudyInstanceUID="$st" >"$WORK/m" || true
assert_eq 0xa702 "$(final_status "$WORK/m")" "move to an unverifiable TLS destination"
assert_eq 0 "$(count_files "$WORK/rogue-dest")" "files at the unverifiable destination"
# -- ... and to one whose certificate names another host: nothing is sent --
move -S -aem ELSE -k QueryRetrieveLevel=STUDY -k StudyInstanceUID="$st" >"$WORK/m" || true
assert_eq 0xa702 "$(final_status "$WORK/m")" "move to a destination with another host's certificate"
assert_eq 0 "$(count_files "$WORK/else-dest")" "files at the destination with another host's certificate"
stop_pacsd

# -- TLS only: dimse.plain = false --
lines=$(wc -l <"$WORK/pacsd.log")
start_pacsd --config "$WORK/pacsd.conf" --set dimse.plain=false
assert_eq -1 "$DIMSE_PORT" "plain port with dimse.plain = false"
# shellcheck disable=SC2086
tls_echo $TLS || fail "echoscu +tls with dimse.plain = false"
tail -n +"$((lines + 1))" "$WORK/pacsd.log" >"$WORK/restart.log"
grep -q "DICOM TLS on" "$WORK/restart.log" || fail "the restart is not in the log"
grep -q "DICOM listens on .* without TLS" "$WORK/restart.log" &&
    fail "a plain-port warning without a plain port"
stop_pacsd

# -- with access control, an AE marked tls may call over TLS only, ... --
printf 'ae.TLSONLY = 127.0.0.1:104 tls\nae.ANYWAY = 127.0.0.1:104\n' >>"$WORK/pacsd.conf"
printf 'ae.BOUND = 127.0.0.1:104 cert=client\n' >>"$WORK/pacsd.conf"
start_pacsd --config "$WORK/pacsd.conf" --set dimse.access_control=true
# shellcheck disable=SC2086
tls_echo -aet TLSONLY $TLS || fail "TLSONLY over TLS: $(tail -2 "$WORK/o")"
timeout 30 echoscu -v -aet TLSONLY -aec PACS 127.0.0.1 "$DIMSE_PORT" >"$WORK/o" 2>&1 &&
    fail "an AE marked tls was accepted on the plain port"
grep -q "Reason: Calling AE Title Not Recognized" "$WORK/o" || fail "wrong rejection: $(tail -3 "$WORK/o")"
timeout 30 echoscu -aet ANYWAY -aec PACS 127.0.0.1 "$DIMSE_PORT" >/dev/null 2>&1 ||
    fail "an AE not marked tls was refused on the plain port"
# -- ... and an AE bound to a certificate (cert=CN) only with that certificate --
# shellcheck disable=SC2086
tls_echo -aet BOUND $TLS || fail "BOUND with its certificate: $(tail -2 "$WORK/o")"
tls_echo -v -aet BOUND +tls "$PKI/elsewhere.key" "$PKI/elsewhere.crt" +cf "$PKI/ca.crt" &&
    fail "BOUND was accepted with another certificate our CA signed"
grep -q "Reason: Calling AE Title Not Recognized" "$WORK/o" || fail "wrong rejection: $(tail -3 "$WORK/o")"
timeout 30 echoscu -aet BOUND -aec PACS 127.0.0.1 "$DIMSE_PORT" >/dev/null 2>&1 &&
    fail "BOUND was accepted without a certificate"
stop_pacsd

# -- bad TLS settings stop pacsd at start-up, naming the problem --
# $1: what; then pacsd arguments. Fails unless pacsd exits by itself with an error.
refused_start() {
    what=$1
    shift
    rc=0
    timeout 20 "$PACSD" --data "$DATA" --set dimse.port=0 --set http.port=0 "$@" \
        >"$WORK/bad.log" 2>&1 </dev/null || rc=$?
    [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "pacsd started with $what (status $rc)"
}
refused_start "TLS and no CA" --set dimse.tls.port=0 --set "dimse.tls.cert=$PKI/server.crt" \
    --set "dimse.tls.key=$PKI/server.key"
grep -q "dimse.tls.ca" "$WORK/bad.log" || fail "the start-up error does not name dimse.tls.ca"
refused_start "a key that is not its certificate's" --set dimse.tls.port=0 \
    --set "dimse.tls.cert=$PKI/server.crt" --set "dimse.tls.key=$PKI/client.key" \
    --set "dimse.tls.ca=$PKI/ca.crt"
grep -q "is not the key of" "$WORK/bad.log" || fail "no message for the mismatched key"
refused_start "TLS only without a TLS port" --set dimse.plain=false
pass
