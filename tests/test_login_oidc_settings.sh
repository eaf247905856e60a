#!/bin/sh
# SPDX-License-Identifier: MIT
# The viewer's OpenID Connect settings (viewer.oidc.*), with curl and node and no browser (the
# sign-in itself is test_login_oidc's): pacsd refuses to start on inconsistent ones, naming
# the setting; with good ones app-config.js carries OHIF's oidc entry (authority, client id,
# scope, code flow, its callback route, the extra sign-in parameters), the viewer's pages are
# served without a credential (OHIF signs in) while DICOMweb still answers 401 without one;
# without them the same server sends the viewer's pages to pacsd's own login page.
. "$SRC/tests/lib.sh"

command -v node >/dev/null 2>&1 || fail "node is not installed (scripts/deps.sh installs it)"
IDP=https://idp.benhvien.vn/realms/pacs
mkdir -p "$WORK/site"
echo '<!doctype html><title>viewer</title>' >"$WORK/site/index.html"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/idp.key" 2>/dev/null &&
    openssl pkey -in "$WORK/idp.key" -pubout -out "$WORK/idp.pem" || fail "openssl failed"
JWT="--set auth.jwt_keys=$WORK/idp.pem --set auth.jwt_issuer=$IDP --set auth.jwt_audience=pacsd"

# refused SETTINGS... : pacsd exits non-zero and its log names WORDS (the last argument).
refused() {
    words=$1
    shift
    rc=0
    timeout 30 "$PACSD" --data "$DATA" --set dimse.port=0 --set http.port=0 \
        ${PACS_INDEX:+--set "index=$PACS_INDEX"} --set "viewer.root=$WORK/site" "$@" \
        >"$WORK/refused.log" 2>&1 || rc=$?
    [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "pacsd started (rc $rc) with $*"
    grep -q "$words" "$WORK/refused.log" ||
        fail "pacsd's refusal of $* does not say '$words': $(tail -2 "$WORK/refused.log")"
}
refused 'needs auth.jwt_keys, auth.jwt_issuer' --set "viewer.oidc.authority=$IDP" \
    --set viewer.oidc.client_id=pacs-viewer
# shellcheck disable=SC2086
refused 'needs viewer.oidc.client_id' --set "viewer.oidc.authority=$IDP" $JWT
# shellcheck disable=SC2086
refused 'viewer.oidc.authority = idp.benhvien.vn' --set viewer.oidc.authority=idp.benhvien.vn \
    --set viewer.oidc.client_id=pacs-viewer $JWT
# shellcheck disable=SC2086
refused 'needs openid' --set "viewer.oidc.authority=$IDP" --set viewer.oidc.client_id=pacs-viewer \
    --set 'viewer.oidc.scope=profile read' $JWT
# shellcheck disable=SC2086
refused 'viewer.oidc.params = =x' --set "viewer.oidc.authority=$IDP" \
    --set viewer.oidc.client_id=pacs-viewer --set 'viewer.oidc.params==x' $JWT
echo "ok - inconsistent settings are refused"

# shellcheck disable=SC2086
start_pacsd --set http.auth=required --set "viewer.root=$WORK/site" $JWT \
    --set "viewer.oidc.authority=$IDP" --set viewer.oidc.client_id=pacs-viewer \
    --set 'viewer.oidc.params=resource=https://pacs.benhvien.vn/&audience=pacsd'
B="http://127.0.0.1:$HTTP_PORT"
curl -s "$B/viewer/app-config.js" >"$WORK/app-config.js"
got=$(node -e '
    const window = { location: { origin: "http://pacs.test" } };
    eval(require("fs").readFileSync(process.argv[1], "utf8"));
    const c = window.config;
    const o = c.oidc && c.oidc[0];
    console.log(JSON.stringify([c.oidc.length, o.authority, o.client_id, o.scope, o.response_type,
        o.redirect_uri, o.post_logout_redirect_uri, o.extraQueryParams, c.routerBasename,
        c.dataSources[0].configuration.qidoRoot]));' "$WORK/app-config.js") ||
    fail "app-config.js does not run: $(head -c 300 "$WORK/app-config.js")"
assert_eq "[1,\"$IDP\",\"pacs-viewer\",\"openid profile read\",\"code\",\"/callback\",\"/signed-out\",{\"resource\":\"https://pacs.benhvien.vn/\",\"audience\":\"pacsd\"},\"/viewer\",\"http://pacs.test/dicomweb\"]" \
    "$got" "OHIF's oidc settings in app-config.js"
st=$(curl -s -o /dev/null -w '%{http_code}' "$B/viewer/")
assert_eq 200 "$st" "/viewer/ without a credential when OHIF signs in"
st=$(curl -s -o /dev/null -w '%{http_code}' "$B/viewer/callback?code=x&state=y")
assert_eq 200 "$st" "OHIF's callback route"
st=$(curl -s -o /dev/null -w '%{http_code}' "$B/dicomweb/studies")
assert_eq 401 "$st" "DICOMweb without a token"
stop_pacsd

# Without OIDC the built-in login stays in charge of the viewer's pages.
start_pacsd --set http.auth=required --set "viewer.root=$WORK/site"
B="http://127.0.0.1:$HTTP_PORT"
got=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$B/viewer/")
assert_eq "302 $B/login?next=/viewer/" "$got" "/viewer/ without OIDC and without a credential"
curl -s "$B/viewer/app-config.js" | grep -q 'oidc' && fail "app-config.js without OIDC names oidc"
pass
