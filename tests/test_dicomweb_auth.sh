#!/bin/sh
# SPDX-License-Identifier: MIT
# DICOMweb authentication against the real pacsd with http.auth=required: API keys (hashed in
# the configuration) and their scopes; OAuth2 bearer JWTs signed by `openssl` (RS256, ES256)
# and every forgery we know refused (expired, not yet valid, wrong issuer, wrong audience,
# another key, a tampered payload, alg none, HS256 keyed with the public key, unknown kid, no
# exp); share tokens made over the {prefix}/shares API, read from the Authorization header, the
# access_token/token parameter and the pacs_share cookie; a study-limited principal (share
# token, JWT with study_uid) reads its study through QIDO, WADO-RS, metadata, frames,
# rendered, thumbnails and WADO-URI, and gets byte-for-byte the same answer for another study
# that exists as for one that does not; revoked and expired share tokens refused with the
# same answer as garbage; STOW and DELETE refused to it. Then the default (http.auth=off):
# open to anonymous requests with a start-up warning, but a share token still limited.
. "$SRC/tests/lib.sh"
. "$SRC/tests/lib_dicomweb.sh"

JT="python3 $SRC/tests/tools/jwt_tool.py"
T="$SAMPLES/test_files"
ISS=https://idp.hospital.test
AUD=pacsd-dicomweb

# ---- keys: two signing keys in a JWKS, one stranger's, three API keys ----
cd "$WORK"
openssl genrsa -out rsa.pem 2048 2>/dev/null && openssl rsa -in rsa.pem -pubout -out rsa.pub 2>/dev/null ||
    fail "openssl RSA key"
openssl ecparam -name prime256v1 -genkey -noout -out ec.pem &&
    openssl ec -in ec.pem -pubout -out ec.pub 2>/dev/null || fail "openssl EC key"
openssl genrsa -out evil.pem 2048 2>/dev/null || fail "openssl RSA key"
$JT jwks "$WORK/jwks.json" rsa.pub:r1 ec.pub:e1 || fail "JWKS"
cd - >/dev/null
key_reader=$(openssl rand -hex 24)
key_writer=$(openssl rand -hex 24)
key_admin=$(openssl rand -hex 24)
hash() { printf %s "$1" | sha256sum | cut -d' ' -f1; }

start_pacsd --set http.auth=required --set "auth.jwt_keys=$WORK/jwks.json" \
    --set "auth.jwt_issuer=$ISS" --set "auth.jwt_audience=$AUD" --set auth.jwt_leeway=1 \
    --set "auth.key.reader=sha256:$(hash "$key_reader") read" \
    --set "auth.key.writer=sha256:$(hash "$key_writer") read write" \
    --set "auth.key.admin=sha256:$(hash "$key_admin") read write delete share" \
    --set dicomweb.delete_allowed=true
B="http://127.0.0.1:$HTTP_PORT/dicomweb"
ROOT="http://127.0.0.1:$HTTP_PORT"
grep -q INSECURE "$WORK/pacsd.log" && fail "the insecure-start warning with http.auth=required"

# Two studies over DIMSE (DICOM access control is not this test's business).
store "$T/CT_small.dcm" "$T/MR_small.dcm" >"$WORK/store.log" 2>&1 ||
    fail "storescu failed: $(tail -3 "$WORK/store.log")"
A=$(dcm_value "$T/CT_small.dcm" 0020,000d)
A_SE=$(dcm_value "$T/CT_small.dcm" 0020,000e)
A_SOP=$(dcm_value "$T/CT_small.dcm" 0008,0018)
O=$(dcm_value "$T/MR_small.dcm" 0020,000d)
O_SE=$(dcm_value "$T/MR_small.dcm" 0020,000e)
O_SOP=$(dcm_value "$T/MR_small.dcm" 0008,0018)
[ "$A" != "$O" ] || fail "the two samples share a study"
X=1.2.826.0.1.3680043.8.498.999999999999 # a study that does not exist
X_SE=1.2.826.0.1.3680043.8.498.999999999998
X_SOP=1.2.826.0.1.3680043.8.498.999999999997
JSON='Accept: application/dicom+json'

bearer() { echo "Authorization: Bearer $1"; }
status() { http_status "$@"; }
expect() { # code message curl-args...
    want=$1 msg=$2
    shift 2
    got=$(status "$@")
    [ "$got" = "$want" ] || fail "$msg: expected $want, got $got ($(head -c 200 "$WORK/body"))"
}

# ---- no credentials: 401 with a challenge; preflight stays open ----
expect 401 "QIDO without credentials" -H "$JSON" "$B/studies"
header_value WWW-Authenticate | grep -q '^Bearer realm="pacsd"$' || fail "challenge: $(header_value WWW-Authenticate)"
expect 401 "metadata without credentials" "$B/studies/$A/metadata"
expect 401 "WADO-URI without credentials" "$B?requestType=WADO&studyUID=$A&seriesUID=$A_SE&objectUID=$A_SOP"
stow_body PACSTEST "$WORK/stow" "$T/JPEG2000.dcm"
assert_eq 401 "$(stow_post "$B/studies" "$WORK/stow")" "STOW without credentials"
expect 401 "shares API without credentials" "$ROOT/dicomweb/shares"
expect 204 "CORS preflight without credentials" -X OPTIONS -H "Origin: http://x.test" \
    -H "Access-Control-Request-Method: GET" "$B/studies"
expect 401 "Basic instead of Bearer" -H "Authorization: Basic dXNlcjpwYXNz" "$B/studies"
header_value WWW-Authenticate | grep -q 'error="invalid_token"' || fail "invalid_token challenge"

# ---- API keys and scopes ----
expect 200 "reader key QIDO" -H "$JSON" -H "$(bearer "$key_reader")" "$B/studies"
json_check "len(d) == 2" "reader sees both studies"
expect 401 "unknown API key" -H "$JSON" -H "$(bearer "$(openssl rand -hex 24)")" "$B/studies"
expect 401 "the key's hash used as the key" -H "$JSON" -H "$(bearer "$(hash "$key_reader")")" "$B/studies"
stow_as() { # key -> status
    curl -sS --max-time 300 -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' \
        -H "$(bearer "$1")" -H 'Accept: application/dicom+json' \
        -H 'Content-Type: multipart/related; type="application/dicom"; boundary=PACSTEST' \
        --data-binary @"$WORK/stow" "$B/studies"
}
assert_eq 403 "$(stow_as "$key_reader")" "STOW with a read-only key"
header_value WWW-Authenticate | grep -q 'error="insufficient_scope", scope="write"' ||
    fail "insufficient_scope challenge: $(header_value WWW-Authenticate)"
assert_eq 200 "$(stow_as "$key_writer")" "STOW with a write key"
J_ST=$(dcm_value "$T/JPEG2000.dcm" 0020,000d)
expect 403 "DELETE with a write key" -X DELETE -H "$(bearer "$key_writer")" "$B/studies/$J_ST"
expect 403 "shares API with a write key" -H "$(bearer "$key_writer")" "$B/shares"
expect 204 "DELETE with the admin key" -X DELETE -H "$(bearer "$key_admin")" "$B/studies/$J_ST"
expect 404 "the deleted study is gone" -H "$(bearer "$key_admin")" "$B/studies/$J_ST/metadata"

# ---- JWTs ----
now=$(date +%s)
claims() { # extra JSON members
    echo "{\"iss\":\"$ISS\",\"aud\":\"$AUD\",\"sub\":\"dr.lan\",\"exp\":$((now + 600)),\"iat\":$now,\"scope\":\"openid read\"${1:-}}"
}
jwt() { $JT sign "$@"; }
ok_rs=$(jwt RS256 "$WORK/rsa.pem" '{"kid":"r1","typ":"JWT"}' "$(claims)")
ok_es=$(jwt ES256 "$WORK/ec.pem" '{"kid":"e1"}' "$(claims)")
expect 200 "RS256 JWT" -H "$JSON" -H "$(bearer "$ok_rs")" "$B/studies"
json_check "len(d) == 2" "JWT reader sees both studies"
expect 200 "ES256 JWT" -H "$JSON" -H "$(bearer "$ok_es")" "$B/studies"
# RFC 9068 access tokens (typ at+jwt, as oidc-provider and others write them; Debian's libjwt
# refuses any typ but JWT, so pacsd checks signatures with OpenSSL itself), on both key types.
expect 200 "RS256 JWT of typ at+jwt" -H "$JSON" -H "$(bearer "$(jwt RS256 "$WORK/rsa.pem" \
    '{"kid":"r1","typ":"at+jwt"}' "$(claims)")")" "$B/studies"
expect 200 "ES256 JWT of typ application/at+jwt" -H "$JSON" -H "$(bearer "$(jwt ES256 \
    "$WORK/ec.pem" '{"kid":"e1","typ":"application/at+jwt"}' "$(claims)")")" "$B/studies"
expect 200 "JWT with aud as an array" -H "$JSON" -H "$(bearer "$(jwt RS256 "$WORK/rsa.pem" '{"kid":"r1"}' \
    "{\"iss\":\"$ISS\",\"aud\":[\"other\",\"$AUD\"],\"exp\":$((now + 600)),\"scp\":[\"read\"]}")")" "$B/studies"
assert_eq 403 "$(stow_as "$ok_rs")" "STOW with a read-scope JWT"

refused() { # message token
    expect 401 "$1" -H "$JSON" -H "$(bearer "$2")" "$B/studies"
    cp "$WORK/body" "$WORK/body.401"
}
refused "expired JWT" "$(jwt RS256 "$WORK/rsa.pem" '{"kid":"r1"}' \
    "{\"iss\":\"$ISS\",\"aud\":\"$AUD\",\"exp\":$((now - 120)),\"scope\":\"read\"}")"
refused "JWT not yet valid" "$(jwt RS256 "$WORK/rsa.pem" '{"kid":"r1"}' "$(claims ",\"nbf\":$((now + 3600))")")"
refused "JWT from another issuer" "$(jwt RS256 "$WORK/rsa.pem" '{"kid":"r1"}' \
    "{\"iss\":\"https://evil.test\",\"aud\":\"$AUD\",\"exp\":$((now + 600)),\"scope\":\"read\"}")"
refused "JWT for another audience" "$(jwt RS256 "$WORK/rsa.pem" '{"kid":"r1"}' \
    "{\"iss\":\"$ISS\",\"aud\":\"orthanc\",\"exp\":$((now + 600)),\"scope\":\"read\"}")"
refused "JWT without exp" "$(jwt RS256 "$WORK/rsa.pem" '{"kid":"r1"}' \
    "{\"iss\":\"$ISS\",\"aud\":\"$AUD\",\"scope\":\"read\"}")"
refused "JWT signed by another key" "$(jwt RS256 "$WORK/evil.pem" '{"kid":"r1"}' "$(claims)")"
refused "JWT with an unknown kid" "$(jwt RS256 "$WORK/rsa.pem" '{"kid":"r9"}' "$(claims)")"
refused "JWT of typ logout+jwt (no access token)" \
    "$(jwt RS256 "$WORK/rsa.pem" '{"kid":"r1","typ":"logout+jwt"}' "$(claims)")"
refused "JWT alg none" "$(jwt none - '{"kid":"r1"}' "$(claims)")"
refused "JWT alg none, no kid" "$(jwt none - '{}' "$(claims)")"
refused "HS256 keyed with the RSA public key (alg confusion)" \
    "$(jwt HS256 "$WORK/rsa.pub" '{"kid":"r1"}' "$(claims)")"
refused "HS256 keyed with the EC public key (alg confusion)" \
    "$(jwt HS256 "$WORK/ec.pub" '{}' "$(claims)")"
refused "RS256 header on the EC key's kid" "$(jwt RS256 "$WORK/rsa.pem" '{"kid":"e1"}' "$(claims)")"
# A good token with its payload swapped for one granting more.
tampered=$(printf %s "$ok_rs" | cut -d. -f1).$(jwt RS256 "$WORK/evil.pem" '{}' \
    "$(claims ',"study_uid":"1.2"' | sed 's/openid read/read write delete share/')" | cut -d. -f2).$(printf %s "$ok_rs" | cut -d. -f3)
refused "JWT with a tampered payload" "$tampered"
cp "$WORK/body.401" "$WORK/jwt.401"
refused "JWT truncated signature" "${ok_rs%??????}"
# A token that verified is remembered, but never past its exp (+1 s of leeway here).
short_exp=$(($(date +%s) + 3))
short=$(jwt RS256 "$WORK/rsa.pem" '{"kid":"r1"}' \
    "{\"iss\":\"$ISS\",\"aud\":\"$AUD\",\"exp\":$short_exp,\"scope\":\"read\"}")
if [ "$(date +%s)" -lt "$short_exp" ]; then
    expect 200 "short-lived JWT" -H "$JSON" -H "$(bearer "$short")" "$B/studies"
    expect 200 "short-lived JWT again" -H "$JSON" -H "$(bearer "$short")" "$B/studies"
fi
timeout 20 sh -c 'while [ "$(date +%s)" -le $(($1 + 1)) ]; do sleep 0.2; done' _ "$short_exp"
expect 401 "short-lived JWT after its exp" -H "$JSON" -H "$(bearer "$short")" "$B/studies"
refused "garbage with two dots" "a.b.c"
cmp -s "$WORK/body.401" "$WORK/jwt.401" || fail "refusals differ in their body"

# ---- share links over the API ----
expect 201 "create a share of study A" -X POST -H "$(bearer "$key_admin")" \
    -H 'Content-Type: application/json' --data "{\"study\":\"$A\",\"days\":7}" "$B/shares"
json_check "len(d['token']) == 40 and d['study'] == '$A' and d['url'].endswith('/share/' + d['token'])" \
    "share answer"
TOK=$(py "print(json.load(open('$WORK/body'))['token'])")
SID=$(py "print(json.load(open('$WORK/body'))['id'])")
expect 201 "create a share with query parameters" -X POST -H "$(bearer "$key_admin")" \
    "$B/shares?study=$A&days=1"
TOK2=$(py "print(json.load(open('$WORK/body'))['token'])")
expect 404 "share of a study that does not exist" -X POST -H "$(bearer "$key_admin")" "$B/shares?study=$X&days=1"
expect 400 "share for too long" -X POST -H "$(bearer "$key_admin")" "$B/shares?study=$A&days=100000"
expect 400 "share of a malformed UID" -X POST -H "$(bearer "$key_admin")" "$B/shares?study=1..2&days=1"
expect 200 "list shares" -H "$(bearer "$key_admin")" "$B/shares?study=$A"
json_check "len(d) == 2 and all('token' not in s for s in d)" "list holds both shares and no token"

# ---- a study-limited principal: share token (header, parameter, cookie) and a JWT ----
SCOPED_JWT=$(jwt ES256 "$WORK/ec.pem" '{"kid":"e1"}' "$(claims ",\"study_uid\":\"$A\"" | sed 's/openid read/read write delete share/')")
check_limited() { # label curl-args-that-authenticate...
    label=$1
    shift
    expect 200 "$label: QIDO studies" -H "$JSON" "$@" "$B/studies"
    json_check "len(d) == 1 and d[0]['0020000D']['Value'][0] == '$A'" "$label: QIDO shows its study only"
    expect 200 "$label: QIDO for the other study" -H "$JSON" "$@" "$B/studies?StudyInstanceUID=$O"
    json_check "d == []" "$label: QIDO with the other study's UID is empty"
    expect 200 "$label: QIDO with a UID list" -H "$JSON" "$@" "$B/studies?StudyInstanceUID=$O,$A"
    json_check "len(d) == 1 and d[0]['0020000D']['Value'][0] == '$A'" "$label: UID list"
    expect 200 "$label: QIDO series of the other study" -H "$JSON" "$@" "$B/studies/$O/series"
    json_check "d == []" "$label: series of the other study"
    expect 200 "$label: QIDO all series" -H "$JSON" "$@" "$B/series"
    json_check "len(d) == 1 and d[0]['0020000E']['Value'][0] == '$A_SE'" "$label: all series"
    expect 200 "$label: QIDO all instances" -H "$JSON" "$@" "$B/instances?includefield=all"
    json_check "len(d) == 1 and d[0]['00080018']['Value'][0] == '$A_SOP'" "$label: all instances"
    expect 200 "$label: QIDO by patient of the other study" -H "$JSON" "$@" \
        "$B/instances?SOPInstanceUID=$O_SOP"
    json_check "d == []" "$label: instance of the other study by SOP UID"
    # The patient's counts of studies would tell of the others: refused whatever they are.
    expect 400 "$label: NumberOfPatientRelatedStudies" -H "$JSON" "$@" "$B/studies?includefield=00201200"
    expect 400 "$label: matching on NumberOfPatientRelatedInstances" -H "$JSON" "$@" \
        "$B/instances?NumberOfPatientRelatedInstances=1"
    expect 200 "$label: metadata" -H "$JSON" "$@" "$B/studies/$A/metadata"
    expect 200 "$label: study" -H 'Accept: multipart/related; type="application/dicom"' "$@" "$B/studies/$A"
    expect 200 "$label: frames" -H 'Accept: multipart/related; type="application/octet-stream"; transfer-syntax=*' \
        "$@" "$B/studies/$A/series/$A_SE/instances/$A_SOP/frames/1"
    expect 200 "$label: rendered" -H 'Accept: image/jpeg' "$@" "$B/studies/$A/series/$A_SE/instances/$A_SOP/rendered"
    expect 200 "$label: thumbnail" -H 'Accept: image/jpeg' "$@" "$B/studies/$A/series/$A_SE/thumbnail"
    expect 200 "$label: WADO-URI" "$@" "$B?requestType=WADO&studyUID=$A&seriesUID=$A_SE&objectUID=$A_SOP&contentType=application/dicom"
    # The other study, which exists, answers exactly as one that does not.
    for path in "studies/ST" "studies/ST/metadata" "studies/ST/series/SE" "studies/ST/series/SE/metadata" \
        "studies/ST/series/SE/instances/SOP" "studies/ST/series/SE/instances/SOP/metadata" \
        "studies/ST/series/SE/instances/SOP/frames/1" "studies/ST/series/SE/instances/SOP/rendered" \
        "studies/ST/rendered" "studies/ST/series/SE/thumbnail" "studies/ST/series/SE/instances/SOP/bulkdata/7fe00010" \
        "?requestType=WADO&studyUID=ST&seriesUID=SE&objectUID=SOP" \
        "?requestType=WADO&studyUID=ST&seriesUID=SE&objectUID=SOP&contentType=application/dicom"; do
        for which in O X; do
            if [ $which = O ]; then
                u=$(echo "$path" | sed "s/ST/$O/; s/SE/$O_SE/; s/SOP/$O_SOP/")
            else
                u=$(echo "$path" | sed "s/ST/$X/; s/SE/$X_SE/; s/SOP/$X_SOP/")
            fi
            case "$u" in \?*) url="$B$u" ;; *) url="$B/$u" ;; esac
            code=$(status "$@" "$url")
            grep -iv '^date:' "$WORK/headers" >"$WORK/ans.$which"
            echo "status=$code" >>"$WORK/ans.$which"
            cat "$WORK/body" >>"$WORK/ans.$which"
        done
        assert_eq 404 "$code" "$label: $path of a study that does not exist"
        cmp -s "$WORK/ans.O" "$WORK/ans.X" ||
            fail "$label: $path differs for an existing other study: $(diff "$WORK/ans.O" "$WORK/ans.X" | head -5)"
    done
    # Its own study with another study's series and instance: as for ones that do not exist.
    for path in "studies/$A/series/SE/metadata" "studies/$A/series/SE/instances/SOP/frames/1" \
        "studies/$A/series/SE/instances/SOP/rendered" "?requestType=WADO&studyUID=$A&seriesUID=SE&objectUID=SOP"; do
        for which in O X; do
            if [ $which = O ]; then
                u=$(echo "$path" | sed "s/SE/$O_SE/; s/SOP/$O_SOP/")
            else
                u=$(echo "$path" | sed "s/SE/$X_SE/; s/SOP/$X_SOP/")
            fi
            case "$u" in \?*) url="$B$u" ;; *) url="$B/$u" ;; esac
            code=$(status "$@" "$url")
            grep -iv '^date:' "$WORK/headers" >"$WORK/ans.$which"
            echo "status=$code" >>"$WORK/ans.$which"
            cat "$WORK/body" >>"$WORK/ans.$which"
        done
        assert_eq 404 "$code" "$label: $path with a series that does not exist"
        cmp -s "$WORK/ans.O" "$WORK/ans.X" || fail "$label: $path differs for another study's series"
    done
    # Tricks: HEAD, the tag form of the key, a repeated parameter, an escaped UID in the path.
    expect 404 "$label: HEAD of the other study" -I "$@" "$B/studies/$O/metadata"
    expect 200 "$label: QIDO by tag" -H "$JSON" "$@" "$B/studies?0020000D=$O"
    json_check "d == []" "$label: QIDO by tag for the other study"
    expect 200 "$label: QIDO with the key twice" -H "$JSON" "$@" "$B/studies?StudyInstanceUID=$A&StudyInstanceUID=$O"
    json_check "d == [] or (len(d) == 1 and d[0]['0020000D']['Value'][0] == '$A')" "$label: key twice"
    esc=$(printf %s "$O" | sed 's/\./%2E/g')
    expect 404 "$label: escaped UID of the other study" "$@" "$B/studies/$esc/metadata"
    expect 404 "$label: WADO-URI with the study twice" "$@" \
        "$B?requestType=WADO&studyUID=$O&studyUID=$A&seriesUID=$O_SE&objectUID=$O_SOP&contentType=application/dicom"
    # Writing is refused, whatever the study (a parameter or cookie is no credential for POST).
    case "$label" in
    parameter* | cookie*) return 0 ;;
    esac
    code=$(curl -sS --max-time 60 -o "$WORK/body" -w '%{http_code}' "$@" \
        -H 'Content-Type: multipart/related; type="application/dicom"; boundary=PACSTEST' \
        --data-binary @"$WORK/stow" "$B/studies")
    assert_eq 403 "$code" "$label: STOW"
}
check_limited "share in header" -H "$(bearer "$TOK")"
check_limited "parameter access_token" -G --data-urlencode "access_token=$TOK"
check_limited "parameter token" -G --data-urlencode "token=$TOK"
check_limited "cookie" -H "Cookie: theme=dark; pacs_share=$TOK"
check_limited "JWT with study_uid" -H "$(bearer "$SCOPED_JWT")"
expect 403 "DELETE with a share token" -X DELETE -H "$(bearer "$TOK")" "$B/studies/$A"
expect 403 "DELETE with a study JWT holding every scope" -X DELETE -H "$(bearer "$SCOPED_JWT")" "$B/studies/$A"
expect 403 "shares API with a share token" -H "$(bearer "$TOK")" "$B/shares"
expect 403 "shares API with a study JWT" -X POST -H "$(bearer "$SCOPED_JWT")" "$B/shares?study=$A&days=1"
expect 200 "the study is still there" -H "$JSON" -H "$(bearer "$key_reader")" "$B/studies/$A/metadata"

# ---- revoked, expired and forged share tokens: the same 401 as garbage ----
expect 204 "revoke the first share" -X DELETE -H "$(bearer "$key_admin")" "$B/shares/$SID"
expect 404 "revoke an unknown share" -X DELETE -H "$(bearer "$key_admin")" "$B/shares/AAAAAAAAAAAA"
expect 401 "revoked share token" -H "$JSON" -H "$(bearer "$TOK")" "$B/studies"
cp "$WORK/body" "$WORK/revoked.401"
expect 200 "the other share still works" -H "$JSON" -H "$(bearer "$TOK2")" "$B/studies"
EXPIRED=$($JT share "$DATA" "$A" $((now - 60))) || fail "minting an expired share"
FRESH=$($JT share "$DATA" "$A" $((now + 600))) || fail "minting a share"
expect 200 "a share minted by the test tool (control)" -H "$JSON" -H "$(bearer "$FRESH")" "$B/studies"
expect 401 "expired share token" -H "$JSON" -H "$(bearer "$EXPIRED")" "$B/studies"
cp "$WORK/body" "$WORK/expired.401"
expect 401 "expired share token as a parameter" -H "$JSON" "$B/studies?access_token=$EXPIRED"
FORGED=$(printf %s "$TOK2" | cut -c1-30)$(printf %s "$TOK2" | cut -c31-40 | tr 'A-Za-z' 'B-ZAb-za')
expect 401 "share token with a forged MAC" -H "$JSON" -H "$(bearer "$FORGED")" "$B/studies"
cp "$WORK/body" "$WORK/forged.401"
expect 401 "garbage token" -H "$JSON" -H "$(bearer "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")" "$B/studies"
for f in revoked expired forged; do
    cmp -s "$WORK/$f.401" "$WORK/body" || fail "the $f share's 401 differs from garbage's"
done
# A stale cookie is no credential: 401 when auth is required.
expect 401 "expired share cookie" -H "$JSON" -H "Cookie: pacs_share=$EXPIRED" "$B/studies"

# ---- the audit trail holds the refusals and the shares (never a credential) ----
stop_pacsd
cat "$DATA"/audit/*.jsonl >"$WORK/audit.jsonl" 2>/dev/null || fail "no audit trail"
py "import json
lines = [json.loads(l) for l in open('$WORK/audit.jsonl')]
acts = [(l.get('action'), l.get('who'), l.get('study'), l.get('detail', '')) for l in lines]
assert any(a == 'login-failure' for a, *_ in acts), 'no login-failure'
assert any(a == 'access-denied' and w == 'key:reader' and d == 'write' for a, w, s, d in acts), 'no scope refusal'
assert any(a == 'access-denied' and w == 'share:$SID' and d == 'another study' for a, w, s, d in acts), 'no study refusal'
assert any(a == 'share' and w == 'key:admin' and s == '$A' and d.startswith('created ') for a, w, s, d in acts), 'no share'
assert any(a == 'share' and d == 'revoked $SID' for a, w, s, d in acts), 'no revocation'
text = open('$WORK/audit.jsonl').read()
for secret in ('$key_reader', '$key_admin', '$TOK', '$TOK2', '$ok_rs'.split('.')[2]):
    assert secret not in text, 'a credential in the audit trail'
" || fail "audit trail: $(tail -c 600 "$WORK/audit.jsonl")"
grep -F -e "$key_reader" -e "$key_admin" -e "$TOK" "$WORK/pacsd.log" && fail "a credential in the log"

# ---- the default: auth off, open with a warning, share tokens still limited ----
: >"$WORK/pacsd.log"
start_pacsd --set http.bind=0.0.0.0
B="http://127.0.0.1:$HTTP_PORT/dicomweb"
grep -q 'INSECURE: DICOMweb on 0.0.0.0' "$WORK/pacsd.log" || fail "no warning for an open server on 0.0.0.0"
expect 200 "anonymous QIDO with auth off" -H "$JSON" "$B/studies"
json_check "len(d) == 2" "anonymous sees both studies"
expect 200 "share token with auth off" -H "$JSON" -H "$(bearer "$TOK2")" "$B/studies"
json_check "len(d) == 1 and d[0]['0020000D']['Value'][0] == '$A'" "a share token stays limited with auth off"
expect 404 "share token with auth off, other study" -H "$(bearer "$TOK2")" "$B/studies/$O/metadata"
expect 401 "revoked token with auth off" -H "$JSON" -H "$(bearer "$TOK")" "$B/studies"
expect 401 "shares API anonymously with auth off" -X POST "$B/shares?study=$A&days=1"
stop_pacsd
: >"$WORK/pacsd.log"
start_pacsd --set http.bind=127.0.0.1
grep -q INSECURE "$WORK/pacsd.log" && fail "warning on loopback"
stop_pacsd

# Bad settings stop the start, naming the setting. (pacsd's early exits do not free what main
# made before; leak checking is off for these runs only, in the sanitizer pass.)
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
export ASAN_OPTIONS
for bad in "auth.key.x=sha256:1234 read" "auth.key.x=sha256:$(hash x) admin" "http.auth=maybe" \
    "auth.jwt_keys=$WORK/rsa.pem"; do
    if timeout 30 "$PACSD" --data "$DATA" --set dimse.port=0 --set http.port=0 --set "$bad" \
        --set "auth.jwt_issuer=$ISS" --set "auth.jwt_audience=$AUD" >"$WORK/bad.log" 2>&1; then
        fail "pacsd started with $bad"
    fi
    grep -q "${bad%%=*}" "$WORK/bad.log" || fail "the error for $bad: $(tail -2 "$WORK/bad.log")"
done
pass
