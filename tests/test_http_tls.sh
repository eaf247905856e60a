#!/bin/sh
# SPDX-License-Identifier: MIT
# DICOMweb over HTTPS (http.tls, libmicrohttpd with GnuTLS): curl --cacert reads studies and the
# links in answers say https; refused: plain HTTP on the port (no HTTP answer at all), a client
# that does not trust the certificate, TLS 1.1, a CBC-only cipher list. Bad settings stop
# pacsd at start-up with a message naming the key.
. "$SRC/tests/lib.sh"
. "$SRC/tests/lib_tls.sh"
make_pki

start_pacsd --set http.tls=true --set "http.tls.cert=$PKI/server.crt" \
    --set "http.tls.key=$PKI/server.key"
grep -q "DICOMweb listens on .* without TLS" "$WORK/pacsd.log" &&
    fail "a no-TLS warning although DICOMweb is on HTTPS"
store "$SAMPLES/test_files/CT_small.dcm" >/dev/null 2>&1 || fail "storescu"
st=$(dcm_value "$SAMPLES/test_files/CT_small.dcm" 0020,000D)
B=https://127.0.0.1:$HTTP_PORT/dicomweb
# curl_code OPTIONS... URL: the HTTP status, or 000 when no HTTP answer came.
curl_code() { timeout 30 curl -sS -o "$WORK/body" -w '%{http_code}' "$@" 2>"$WORK/curl.err" || true; }

assert_eq 200 "$(curl_code --cacert "$PKI/ca.crt" "$B/studies?StudyInstanceUID=$st")" \
    "QIDO over HTTPS"
grep -q "$st" "$WORK/body" || fail "the study is not in the HTTPS answer"
grep -q "\"https://127.0.0.1:$HTTP_PORT/dicomweb/studies/$st\"" "$WORK/body" ||
    fail "the Retrieve URL does not say https: $(head -c 400 "$WORK/body")"
assert_eq 200 "$(curl_code --cacert "$PKI/ca.crt" -H 'Accept: application/dicom+json' \
    "$B/studies/$st/metadata")" "metadata over HTTPS"
assert_eq 200 "$(curl_code --cacert "$PKI/ca.crt" --tlsv1.3 "$B/studies")" "TLS 1.3"
assert_eq 200 "$(curl_code --cacert "$PKI/ca.crt" --tlsv1.2 --tls-max 1.2 "$B/studies")" "TLS 1.2"

# -- attacks --
assert_eq 000 "$(curl_code "http://127.0.0.1:$HTTP_PORT/dicomweb/studies")" "plain HTTP on the HTTPS port"
assert_eq 000 "$(curl_code "$B/studies")" "a client without our CA"
grep -q "certificate" "$WORK/curl.err" || fail "curl did not refuse the certificate: $(cat "$WORK/curl.err")"
assert_eq 000 "$(curl_code --cacert "$PKI/rogue.crt" "$B/studies")" "a client trusting another CA"
assert_eq 000 "$(curl_code --cacert "$PKI/ca.crt" --tls-max 1.1 "$B/studies")" "TLS 1.1"
assert_eq 000 "$(curl_code --cacert "$PKI/ca.crt" --tlsv1.2 --tls-max 1.2 --ciphers AES128-SHA \
    "$B/studies")" "a CBC-only cipher list"
# The server still answers after the refused handshakes.
assert_eq 200 "$(curl_code --cacert "$PKI/ca.crt" "$B/studies")" "HTTPS after the attacks"
stop_pacsd

# -- bad settings --
refused_start() { # what, then pacsd arguments
    what=$1
    shift
    rc=0
    timeout 20 "$PACSD" --data "$DATA" --set dimse.port=0 --set http.port=0 "$@" \
        >"$WORK/bad.log" 2>&1 </dev/null || rc=$?
    [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "pacsd started with $what (status $rc)"
}
refused_start "http.tls and no certificate" --set http.tls=true
grep -q "http.tls needs http.tls.cert" "$WORK/bad.log" || fail "no message for the missing cert"
printf 'not a key\n' >"$WORK/junk.pem"
refused_start "a key file that is not PEM" --set http.tls=true \
    --set "http.tls.cert=$PKI/server.crt" --set "http.tls.key=$WORK/junk.pem"
grep -q "http.tls.key: .* is not a PEM file" "$WORK/bad.log" || fail "no message for the bad key"
refused_start "a key that is not its certificate's" --set http.tls=true \
    --set "http.tls.cert=$PKI/server.crt" --set "http.tls.key=$PKI/client.key"
pass
