#!/bin/sh
# SPDX-License-Identifier: MIT
# A radiologist signs in to the viewer on a secured server (http.auth = required): in Debian's
# headless Chromium (playwright-core, tests/node/login_test.js) /viewer/ goes to the login
# page, a wrong password is refused there (and the trail records the failure), the right one
# comes back to OHIF's study list with the stored study, the study opens and a slice is drawn
# (OHIF's DICOMweb requests carry the session cookie: same origin, no OHIF change), and logout
# ends the session: curl with the cookie the browser held then gets 401. Screenshots:
# $ARTIFACT_DIR/test_login_viewer/. The curl-level checks are test_login's.
. "$SRC/tests/lib.sh"

: "${PACS:?PACS must point to the pacs tool}"
setup_browser_test login_test.js browser.js
rm -f "$ART/cookie.txt"

echo 'doc-phim-2026' | "$PACS" --data "$DATA" user add bs.hoa --role radiologist >/dev/null ||
    fail "pacs user add failed"
start_pacsd --set http.auth=required
B="http://127.0.0.1:$HTTP_PORT"

store_gen_study

(cd "$WORK/node" && timeout 500 node login_test.js "$B" bs.hoa doc-phim-2026 "$STUDY" "$GIVEN" "$ART") \
    >"$WORK/browser.log" 2>&1 || fail "login checks failed: $(tail -15 "$WORK/browser.log")"
cat "$WORK/browser.log"
for s in login-page login-study-list login-slice; do
    [ -s "$ART/$s.png" ] || fail "no screenshot $ART/$s.png"
done

# The trail: the failure, the login and the logout, each naming the user.
for a in login-failure login logout; do
    grep "\"action\":\"$a\"" "$DATA"/audit/*.jsonl | grep -q '"who":"bs.hoa"' ||
        fail "no $a line for bs.hoa in the trail"
done
grep '"action":"login-failure"' "$DATA"/audit/*.jsonl | grep -q 'wrong password' ||
    fail "the failure's reason is not in the trail"
# The cookie the browser held no longer works, and it did before the logout (the viewer's own
# requests were answered: the slice was drawn with it).
C=$(cat "$ART/cookie.txt")
case $C in pacs_session=?*) ;; *) fail "no session cookie saved from the browser" ;; esac
st=$(curl -s -o /dev/null -w '%{http_code}' -b "$C" "$B/dicomweb/studies")
assert_eq 401 "$st" "the browser's session cookie after logout"
pass
