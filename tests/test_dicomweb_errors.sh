#!/bin/sh
# SPDX-License-Identifier: MIT
# What bad HTTP input gets from the real pacsd: unknown UIDs 404, bad parameters 400 with a
# message, unacceptable media types 406/415, oversize bodies 413, unknown methods 405; path
# traversal reads nothing; huge headers, slow, truncated and malformed uploads neither crash
# nor hang the server nor leave files behind; idle connections are closed after http.timeout;
# CORS preflight and headers for allowed origins only.
. "$SRC/tests/lib.sh"
. "$SRC/tests/lib_dicomweb.sh"

start_pacsd --set http.max_body_mb=1 --set http.timeout=2 \
    --set http.cors_origins=http://viewer.example
B="http://127.0.0.1:$HTTP_PORT/dicomweb"
T="$SAMPLES/test_files"
store "$T/CT_small.dcm" >"$WORK/store.log" 2>&1 ||
    fail "storescu failed: $(tail -3 "$WORK/store.log")"
ST=$(dcm_value "$T/CT_small.dcm" 0020,000d)
SE=$(dcm_value "$T/CT_small.dcm" 0020,000e)
SOP=$(dcm_value "$T/CT_small.dcm" 0008,0018)

alive() {
    assert_eq 200 "$(http_status "$B/studies?limit=1")" "server still answers ($1)"
}

# Unknown UIDs.
assert_eq 404 "$(http_status "$B/studies/1.2.3.999")" "unknown study"
assert_eq 404 "$(http_status "$B/studies/1.2.3.999/metadata")" "unknown study metadata"
assert_eq 404 "$(http_status "$B/studies/$ST/series/1.2.3.999")" "unknown series"
assert_eq 404 "$(http_status "$B/studies/$ST/series/$SE/instances/1.2.3.999/frames/1")" \
    "unknown instance frames"
assert_eq 404 "$(http_status "$B/studies/1.2.3.999/series/$SE/instances/$SOP")" \
    "instance under the wrong study"

# Malformed paths, and malformed values of known parameters: 400 with a message naming the
# parameter.
for q in "limit=-1" "offset=abc" "fuzzymatching=maybe" "StudyDate=2020" "includefield=Nope" \
    "PatientName=%zz" "StudyTime=25x" "_=1&StudyDate=2020"; do
    assert_eq 400 "$(http_status "$B/studies?$q")" "QIDO $q"
    [ -s "$WORK/body" ] || fail "400 without a message for $q"
done
grep -q "StudyDate" "$WORK/body" || fail "the 400 does not name StudyDate: $(cat "$WORK/body")"
# Names QIDO-RS does not know are ignored (PS3.18 8.3), and a Warning says which.
assert_eq 200 "$(http_status "$B/studies?NoSuchAttribute=1&_=1733456789&PatientID=nobody")" \
    "QIDO with unknown parameter names"
json_check "d == []" "the known key still matched"
header_value Warning | grep -q "^299 127.0.0.1:$HTTP_PORT \".*not supported.*: NoSuchAttribute, _\"$" ||
    fail "Warning for ignored parameters: '$(header_value Warning)'"
assert_eq 400 "$(http_status "$B/studies/not-a-uid")" "malformed UID"
assert_eq 400 "$(http_status "$B/studies/$ST/series/$SE/instances/$SOP/frames/1,x")" "frame list"
assert_eq 404 "$(http_status "$B/nothing/here")" "unknown resource"
assert_eq 404 "$(http_status "http://127.0.0.1:$HTTP_PORT/elsewhere")" "outside the prefix"

# Path traversal never reaches a file.
for p in "/dicomweb/../../../../etc/passwd" "/dicomweb/studies/..%2F..%2F..%2Fetc%2Fpasswd" \
    "/dicomweb/studies/$ST/series/$SE/instances/$SOP/bulkdata/..%2F..%2Fetc%2Fpasswd" \
    "/dicomweb/%2e%2e/%2e%2e/etc/passwd"; do
    code=$(curl -sS --max-time 30 --path-as-is -o "$WORK/body" -w '%{http_code}' \
        "http://127.0.0.1:$HTTP_PORT$p")
    case $code in 400 | 404) ;; *) fail "traversal $p gave $code" ;; esac
    grep -q "root:" "$WORK/body" && fail "traversal $p leaked a file"
done

# Media types.
assert_eq 406 "$(http_status -H 'Accept: application/dicom+xml' "$B/studies")" "QIDO as XML"
assert_eq 406 "$(http_status -H 'Accept: image/png' "$B/studies/$ST")" "study as PNG"
assert_eq 400 "$(http_status -H 'Accept: a/b; q=5' "$B/studies")" "malformed Accept"
assert_eq 415 "$(curl -sS --max-time 30 -o "$WORK/body" -w '%{http_code}' -H 'Content-Type: text/plain' \
    --data-binary 'hello' "$B/studies")" "STOW of text"
grep -q "not text/plain" "$WORK/body" || fail "415 reason: $(cat "$WORK/body")"

# STOW refusals name their own reason (a boundary is not a media type).
stow_refusal() { # status expected-text content-type body
    code=$(curl -sS --max-time 30 -o "$WORK/body" -w '%{http_code}' -H "Content-Type: $3" \
        --data-binary "$4" "$B/studies")
    assert_eq "$1" "$code" "STOW with Content-Type '$3'"
    grep -q "$2" "$WORK/body" || fail "STOW refusal should say '$2': $(cat "$WORK/body")"
}
long=$(printf '%0201d' 0)
stow_refusal 400 "201 characters: RFC 2046 allows 70, and this server takes up to 200" \
    "multipart/related; type=\"application/dicom\"; boundary=$long" "--$long--"
stow_refusal 400 "has no boundary" 'multipart/related; type="application/dicom"' 'x'
stow_refusal 415 "not application/dicom+xml" \
    'multipart/related; type="application/dicom+xml"; boundary=x' '--x--'
stow_refusal 400 "never holds a line '--wanted'" \
    'multipart/related; type="application/dicom"; boundary=wanted' "$(printf -- '--other\r\n\r\nx\r\n--other--\r\n')"

# Methods.
assert_eq 405 "$(curl -sS --max-time 30 -o /dev/null -w '%{http_code}' -X PUT "$B/studies")" "PUT"
assert_eq 405 "$(curl -sS --max-time 30 -o /dev/null -w '%{http_code}' -X POST \
    -H 'Content-Type: multipart/related; type="application/dicom"; boundary=x' --data-binary 'x' \
    "$B/studies/$ST/metadata")" "POST to metadata"

# A body over http.max_body_mb: 413 when announced, and 413 too when chunked (the rest is read
# and dropped); a chunked body past twice the limit is cut off.
head -c 2000000 /dev/zero >"$WORK/big"
assert_eq 413 "$(curl -sS --max-time 30 -o /dev/null -w '%{http_code}' \
    -H 'Content-Type: multipart/related; type="application/dicom"; boundary=x' \
    --data-binary @"$WORK/big" "$B/studies")" "oversize body"
assert_eq 413 "$(curl -sS --max-time 30 -o "$WORK/body" -w '%{http_code}' \
    -H 'Transfer-Encoding: chunked' \
    -H 'Content-Type: multipart/related; type="application/dicom"; boundary=x' \
    --data-binary @- "$B/studies" <"$WORK/big")" "oversize chunked body"
grep -q "http.max_body_mb (1 MiB)" "$WORK/body" || fail "chunked 413 reason: $(cat "$WORK/body")"
head -c 3000000 /dev/zero >"$WORK/huge"
curl -sS --max-time 30 -o /dev/null -H 'Transfer-Encoding: chunked' \
    -H 'Content-Type: multipart/related; type="application/dicom"; boundary=x' \
    --data-binary @- "$B/studies" <"$WORK/huge" 2>/dev/null || true
alive "after oversize uploads"

# Raw-socket abuse: huge headers, a truncated upload, a silent connection, malformed multipart.
py "
import socket, time
port = int(sys.argv[1])
def conn():
    s = socket.create_connection(('127.0.0.1', port), 5)
    s.settimeout(10)
    return s
def answer(s):
    data = b''
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    except (socket.timeout, ConnectionResetError):
        pass
    return data
# 1. 200 KB of headers: refused (or the connection dropped), never served.
s = conn()
try:
    s.sendall(b'GET /dicomweb/studies HTTP/1.1\r\nHost: x\r\nX-Big: ' + b'a' * 200000 + b'\r\n\r\n')
except (BrokenPipeError, ConnectionResetError):
    pass
a = answer(s)
assert not a.startswith(b'HTTP/1.1 200'), a[:100]
s.close()
# 2. An upload that stops halfway and hangs up.
s = conn()
s.sendall(b'POST /dicomweb/studies HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n'
          b'Content-Type: multipart/related; type=\"application/dicom\"; boundary=B\r\n\r\n'
          b'--B\r\nContent-Type: application/dicom\r\n\r\n' + open(sys.argv[2], 'rb').read()[:5000])
time.sleep(0.3)
s.close()
# 3. A connection that says nothing is closed after http.timeout (2 s).
s = conn()
s.sendall(b'GET /dicomweb/stu')
t0 = time.time()
a = answer(s)
assert time.time() - t0 < 9, 'idle connection kept open'
s.close()
# 4. A slow upload that stalls is closed too.
s = conn()
s.sendall(b'POST /dicomweb/studies HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n'
          b'Content-Type: multipart/related; type=\"application/dicom\"; boundary=B\r\n\r\n--B\r\n')
t0 = time.time()
answer(s)
assert time.time() - t0 < 9, 'stalled upload kept open'
s.close()
" "$HTTP_PORT" "$T/CT_small.dcm" || fail "raw socket checks"
alive "after raw-socket abuse"
timeout 10 sh -c 'until [ -z "$(ls "$1" 2>/dev/null)" ]; do sleep 0.1; done' _ "$DATA/tmp" ||
    fail "an aborted upload left temporary files: $(ls "$DATA/tmp")"

# Malformed multipart bodies of many shapes: 400, server unharmed.
for body in 'no delimiter at all' '--x\r\nContent-Type: application/dicom\r\n' \
    '--x\r\n\r\n--xjunk' '--x--'; do
    printf -- "$body" >"$WORK/mal"
    code=$(curl -sS --max-time 30 -o /dev/null -w '%{http_code}' \
        -H 'Content-Type: multipart/related; type="application/dicom"; boundary=x' \
        --data-binary @"$WORK/mal" "$B/studies")
    assert_eq 400 "$code" "malformed multipart '$body'"
done
alive "after malformed multipart"

# CORS: preflight and response headers for the allowed origin only.
curl -sS --max-time 30 -o /dev/null -D "$WORK/headers" -X OPTIONS \
    -H 'Origin: http://viewer.example' -H 'Access-Control-Request-Method: GET' \
    -H 'Access-Control-Request-Headers: accept' "$B/studies" || fail "preflight"
grep -q "^HTTP/1.1 204" "$WORK/headers" || fail "preflight status"
assert_eq "http://viewer.example" "$(header_value Access-Control-Allow-Origin)" "preflight origin"
header_value Access-Control-Allow-Methods | grep -q GET || fail "preflight methods"
http_status -H 'Origin: http://viewer.example' "$B/studies" >/dev/null
assert_eq "http://viewer.example" "$(header_value Access-Control-Allow-Origin)" "CORS on GET"
http_status -H 'Origin: http://evil.example' "$B/studies" >/dev/null
[ -z "$(header_value Access-Control-Allow-Origin)" ] || fail "CORS for an origin not allowed"

kill -0 "$PACSD_PID" || fail "pacsd died"
stop_pacsd
pass
