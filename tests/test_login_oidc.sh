#!/bin/sh
# SPDX-License-Identifier: MIT
# A radiologist signs in to the viewer at the hospital's OpenID Connect provider: a real one,
# npm's oidc-provider (tests/node/oidc_provider.js: the viewer as a public client with PKCE, a
# user with a password, JWT access tokens for pacsd with the read scope), whose public key pacsd
# takes as auth.jwt_keys. pacsd (http.auth = required, viewer.oidc.*) writes OHIF's OIDC
# settings into app-config.js and leaves the sign-in to OHIF: in Debian's headless Chromium
# (tests/node/oidc_login_test.js) /viewer/ goes to the provider's page, a wrong password gets
# nothing from DICOMweb, the right one comes back to the study list, the study opens and a
# slice is drawn with the provider's token; curl without a token still gets 401, with the
# browser's token 200, and the audit trail names the user. Screenshots:
# $ARTIFACT_DIR/test_login_oidc/. The settings pacsd refuses are test_login_oidc_settings'.
. "$SRC/tests/lib.sh"

setup_browser_test browser.js oidc_provider.js oidc_login_test.js
rm -f "$ART/token.txt"
mkdir -p "$WORK/op"

USER_NAME=lan.nguyen
PASSWORD=phim-so-2026
trap_background
(cd "$WORK/node" && exec node oidc_provider.js "$WORK/op" "$USER_NAME" "$PASSWORD" urn:pacsd pacsd) \
    >"$WORK/op.log" 2>&1 &
BG_PIDS=$!
timeout 60 sh -c 'until [ -s "$1" ]; do sleep 0.1; done' _ "$WORK/op/issuer" ||
    fail "the OpenID provider did not start: $(tail -5 "$WORK/op.log")"
ISSUER=$(cat "$WORK/op/issuer")

start_pacsd --set http.auth=required --set "auth.jwt_keys=$WORK/op/jwks.json" \
    --set "auth.jwt_issuer=$ISSUER" --set auth.jwt_audience=pacsd \
    --set "viewer.oidc.authority=$ISSUER" --set viewer.oidc.client_id=pacs-viewer \
    --set viewer.oidc.params=resource=urn:pacsd
B="http://127.0.0.1:$HTTP_PORT"
echo "$B" >"$WORK/op/viewer-origin"
timeout 60 sh -c 'until grep -q "oidc provider at" "$1"; do sleep 0.1; done' _ "$WORK/op.log" ||
    fail "the OpenID provider did not take the viewer: $(tail -5 "$WORK/op.log")"

store_gen_study

# The viewer's page is served as it is (OHIF signs in), not sent to pacsd's login page.
st=$(curl -s -o /dev/null -w '%{http_code}' "$B/viewer/")
assert_eq 200 "$st" "/viewer/ with OIDC and no credential"
curl -s "$B/viewer/app-config.js" >"$WORK/app-config.js"
grep -qF "oidc: [{\"authority\":\"$(printf %s "$ISSUER" | sed 's#/#\\/#g')\"" "$WORK/app-config.js" ||
    fail "app-config.js has no oidc entry for $ISSUER: $(grep oidc "$WORK/app-config.js")"
st=$(curl -s -o /dev/null -w '%{http_code}' "$B/dicomweb/studies")
assert_eq 401 "$st" "DICOMweb without a token"

(cd "$WORK/node" && timeout 500 node oidc_login_test.js "$B" "$ISSUER" "$USER_NAME" "$PASSWORD" \
    "$STUDY" "$GIVEN" "$ART") >"$WORK/browser.log" 2>&1 ||
    fail "OIDC sign-in checks failed: $(tail -15 "$WORK/browser.log"; tail -5 "$WORK/op.log")"
cat "$WORK/browser.log"
for s in oidc-provider-page oidc-study-list oidc-slice; do
    [ -s "$ART/$s.png" ] || fail "no screenshot $ART/$s.png"
done

# The token the viewer sent works for curl too, and without it DICOMweb still answers 401.
T=$(cat "$ART/token.txt")
curl -s -H "Authorization: Bearer $T" "$B/dicomweb/studies" >"$WORK/studies.json"
grep -q "$STUDY" "$WORK/studies.json" || fail "the viewer's token does not list the study"
st=$(curl -s -o /dev/null -w '%{http_code}' "$B/dicomweb/studies/$STUDY/metadata")
assert_eq 401 "$st" "metadata without a token after the sign-in"

# The trail names the user for the viewer's queries and retrieves of the study.
for a in query retrieve; do
    grep "\"action\":\"$a\"" "$DATA"/audit/*.jsonl | grep -q "\"who\":\"jwt:$USER_NAME\"" ||
        fail "no $a line for jwt:$USER_NAME in the trail"
done
grep '"action":"retrieve"' "$DATA"/audit/*.jsonl | grep "\"who\":\"jwt:$USER_NAME\"" |
    grep -q "\"study\":\"$STUDY\"" || fail "no retrieve of $STUDY by jwt:$USER_NAME in the trail"
pass
