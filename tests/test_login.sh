#!/bin/sh
# SPDX-License-Identifier: MIT
# Built-in users and the login page (storage/users.h, dicomweb/login.c, http/session.h) with
# http.auth = required, driven by curl and the pacs tool: users added (the password on stdin,
# never in argv), listed, refused twice; no cookie gets 401 on DICOMweb and a redirect to /login
# on the viewer's pages; a wrong password and an unknown user get the same 401 (and the trail
# has each failure with its reason); the right one gives a session cookie (HttpOnly,
# SameSite=Strict, Path=/) that reads the stored study with the role's scopes (a radiologist
# may not delete, a technician may not share, until `pacs user role` makes it a radiologist,
# in its running session); a forged cookie, a cookie sent cross-site on a
# POST or DELETE, and a cookie after a restart (sessions are in memory) are refused; repeated
# failures lock the user (even the right password is then refused; another user is not
# affected) until a new password clears it; logout ends the session on the server; a rebuilt
# index (pacs reindex) keeps the users; a removed user's sessions end, and so do those begun
# before a new password; one address failing
# with several names is locked out whatever the user; over HTTPS the cookie is Secure. Runs on
# SQLite and, with PACS_TEST_PG, PostgreSQL. The browser side is test_login_viewer.
. "$SRC/tests/lib.sh"

: "${PACS:?PACS must point to the pacs tool}"
CT="$SAMPLES/test_files/CT_small.dcm"
STUDY=$(dcm_value "$CT" 0020,000D)
[ -n "$STUDY" ] || fail "no StudyInstanceUID in $CT"

user() { # pacs user ARGS..., the password (if any) on stdin
    "$PACS" --data "$DATA" user "$@"
}

# ---- users with the pacs tool ----
echo 'phim-x-quang-1' | user add lan.nguyen --role radiologist >"$WORK/out" ||
    fail "pacs user add failed: $(cat "$WORK/out")"
echo 'may-chup-ct-22' | user add tech1 --role technician >/dev/null || fail "pacs user add tech1"
rc=0
echo 'other-password' | user add lan.nguyen --role admin >/dev/null 2>&1 || rc=$?
assert_eq 1 "$rc" "a second user of the same name"
rc=0
echo 'short' | user add x --role admin >/dev/null 2>"$WORK/err" || rc=$?
assert_eq 2 "$rc" "a password of 5 bytes"
rc=0
echo 'long-enough-1' | user add y --role root >/dev/null 2>&1 || rc=$?
assert_eq 2 "$rc" "an unknown role"
user list >"$WORK/list" || fail "pacs user list failed"
grep -q '^lan.nguyen  *radiologist ' "$WORK/list" || fail "list: $(cat "$WORK/list")"
grep -q '^tech1  *technician ' "$WORK/list" || fail "list: $(cat "$WORK/list")"
assert_eq 2 "$(wc -l <"$WORK/list")" "users listed"

start_pacsd --set http.auth=required --set auth.lockout_failures=3 --set auth.lockout_minutes=10
B="http://127.0.0.1:$HTTP_PORT"
DW="$B/dicomweb"
store "$CT" >"$WORK/store.log" 2>&1 || fail "storescu failed: $(tail -3 "$WORK/store.log")"

code() { # curl args...: the status code
    curl -s -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' "$@" || true
}
# Logs in (JSON); prints the session cookie "pacs_session=..." of the answer.
login() { # name password
    printf '{"name":"%s","password":"%s"}' "$1" "$2" >"$WORK/login.json"
    st=$(code -X POST -H 'Content-Type: application/json' --data-binary @"$WORK/login.json" "$B/login")
    [ "$st" = 200 ] || return 1
    tr -d '\r' <"$WORK/headers" | sed -n 's/^Set-Cookie: \(pacs_session=[^;]*\);.*/\1/p'
}
audit_has() { # action who detail-fragment
    grep "\"action\":\"$1\"" "$DATA"/audit/*.jsonl | grep "\"who\":\"$2\"" | grep -q "$3"
}

# ---- without a session ----
assert_eq 401 "$(code "$DW/studies")" "QIDO without credentials"
assert_eq 302 "$(code "$B/viewer/")" "the study list without a session"
loc=$(tr -d '\r' <"$WORK/headers" | sed -n 's/^Location: //p')
assert_eq "/login?next=/viewer/" "$loc" "the study list sends to the login page"
assert_eq 302 "$(code "$B/viewer/viewer?StudyInstanceUIDs=$STUDY")" "a study without a session"
loc=$(tr -d '\r' <"$WORK/headers" | sed -n 's/^Location: //p')
assert_eq "/login?next=/viewer/viewer%3FStudyInstanceUIDs%3D$STUDY" "$loc" "a study's page comes back"
assert_eq 200 "$(code "$B/login?next=/viewer/viewer%3FStudyInstanceUIDs%3D$STUDY")" "the login page"
grep -q '<form method="post" action="/login">' "$WORK/body" || fail "no form on the login page"
grep -q "name=\"next\" value=\"/viewer/viewer?StudyInstanceUIDs=$STUDY\"" "$WORK/body" ||
    fail "the login page does not carry the way back: $(grep -o 'name="next"[^>]*' "$WORK/body")"
code "$B/login?next=//evil.example/" >/dev/null
grep -q 'name="next" value="/viewer/"' "$WORK/body" || fail "the login page took another site as next"

# ---- failures: the same answer for a wrong password and an unknown user ----
st=$(code -X POST --data 'name=lan.nguyen&password=wrong-password&next=/viewer/' "$B/login")
assert_eq 401 "$st" "a wrong password (form)"
cp "$WORK/body" "$WORK/wrong.html"
grep -q 'wrong user name or password' "$WORK/wrong.html" || fail "no message on the page"
st=$(code -X POST --data 'name=nobody&password=wrong-password&next=/viewer/' "$B/login")
assert_eq 401 "$st" "an unknown user"
cmp -s "$WORK/body" "$WORK/wrong.html" || fail "an unknown user is answered otherwise than a wrong password"
audit_has login-failure lan.nguyen 'wrong password' || fail "no login-failure line for lan.nguyen"
audit_has login-failure nobody 'no such user' || fail "no login-failure line for an unknown user"

# ---- a session ----
st=$(code -X POST --data 'name=lan.nguyen&password=phim-x-quang-1&next=/viewer/' "$B/login")
assert_eq 303 "$st" "a form login"
tr -d '\r' <"$WORK/headers" >"$WORK/h"
assert_eq "/viewer/" "$(sed -n 's/^Location: //p' "$WORK/h")" "a form login goes on to next"
setc=$(sed -n 's/^Set-Cookie: //p' "$WORK/h")
case $setc in
pacs_session=*"; Path=/; Max-Age=43200; HttpOnly; SameSite=Strict") ;;
*) fail "the session cookie: $setc" ;;
esac
C=$(login lan.nguyen phim-x-quang-1) || fail "JSON login failed: $(cat "$WORK/body")"
grep -q '"role":"radiologist"' "$WORK/body" || fail "JSON login answer: $(cat "$WORK/body")"
[ "${#C}" = 56 ] || fail "a session id is not 43 characters: $C"
audit_has login lan.nguyen radiologist || fail "no login line"
assert_eq 200 "$(code -b "$C" "$DW/studies")" "QIDO with the session cookie"
grep -q "$STUDY" "$WORK/body" || fail "the study is not listed for the session"
# With a session the study list is served (or 503 in a build without the viewer), not redirected.
st=$(code -b "$C" "$B/viewer/")
case $st in 200 | 503) ;; *) fail "the study list with a session: $st" ;; esac
assert_eq 200 "$(code -b "$C" "$DW/studies/$STUDY/metadata")" "metadata with the session"
# The radiologist's role has no delete scope; a cross-site DELETE does not even count the cookie.
same="Origin: $B"
assert_eq 403 "$(code -b "$C" -H "$same" -X DELETE "$DW/studies/$STUDY")" "DELETE by a radiologist"
assert_eq 401 "$(code -b "$C" -H 'Origin: http://evil.example' -X DELETE "$DW/studies/$STUDY")" \
    "a cross-site DELETE with the cookie"
# STOW-RS: with the cookie, from this server's page (Origin) it stores; cross-site, or with no
# Origin or Referer at all, the cookie does not count.
bnd=pacsloginboundary
{
    printf -- '--%s\r\nContent-Type: application/dicom\r\n\r\n' "$bnd"
    cat "$CT"
    printf -- '\r\n--%s--\r\n' "$bnd"
} >"$WORK/stow.body"
stow() { # extra curl args
    code -b "$C" -X POST -H "Content-Type: multipart/related; type=\"application/dicom\"; boundary=$bnd" \
        --data-binary @"$WORK/stow.body" "$@" "$DW/studies"
}
assert_eq 401 "$(stow -H 'Origin: http://evil.example')" "a cross-site STOW with the cookie"
assert_eq 401 "$(stow -H 'Referer: http://evil.example/page')" "a STOW referred by another site"
assert_eq 401 "$(stow)" "a STOW with the cookie and no Origin or Referer"
assert_eq 200 "$(stow -H "$same")" "a same-origin STOW with the session"
assert_eq 200 "$(stow -H "Referer: $B/viewer/")" "a STOW referred by the viewer"
grep -q 'access-denied\|login-failure' "$DATA"/audit/*.jsonl || fail "no refusal in the trail"
# A radiologist may share.
assert_eq 201 "$(code -b "$C" -H "$same" -X POST "$DW/shares?study=$STUDY&days=1")" "a share by a radiologist"
# A technician may read and store, not share.
T=$(login tech1 may-chup-ct-22) || fail "technician login failed"
assert_eq 200 "$(code -b "$T" "$DW/studies")" "QIDO by a technician"
assert_eq 403 "$(code -b "$T" -H "$same" -X POST "$DW/shares?study=$STUDY&days=1")" \
    "a share by a technician"
# Forged and malformed cookies.
forged=$(printf '%s' "$C" | sed 's/pacs_session=./pacs_session=A/')
[ "$forged" != "$C" ] || forged=$(printf '%s' "$C" | sed 's/pacs_session=./pacs_session=B/')
assert_eq 401 "$(code -b "$forged" "$DW/studies")" "a forged session cookie"
assert_eq 401 "$(code -b 'pacs_session=x' "$DW/studies")" "a malformed session cookie"
assert_eq 302 "$(code -b "$forged" "$B/viewer/")" "the viewer with a forged cookie"

# ---- logout ----
assert_eq 403 "$(code -b "$C" -H 'Origin: http://evil.example' -X POST "$B/logout")" "a cross-site logout"
assert_eq 200 "$(code -b "$C" "$DW/studies")" "the session survives a cross-site logout"
assert_eq 204 "$(code -b "$C" -H "$same" -X POST "$B/logout")" "logout"
tr -d '\r' <"$WORK/headers" | grep -q '^Set-Cookie: pacs_session=; Path=/; Max-Age=0' ||
    fail "logout does not clear the cookie"
assert_eq 401 "$(code -b "$C" "$DW/studies")" "the cookie after logout"
audit_has logout lan.nguyen '' || fail "no logout line"

# ---- lockout: 3 failures lock lan.nguyen for 10 minutes ----
for i in 1 2 3; do
    login lan.nguyen "wrong-$i" >/dev/null && fail "wrong password $i accepted"
    assert_eq 401 "$st" "wrong password $i"
done
audit_has lockout lan.nguyen 'locked for 10 minutes after 3 failed logins' || fail "no lockout line"
login lan.nguyen phim-x-quang-1 >/dev/null && fail "the right password accepted while locked"
assert_eq 401 "$st" "the right password while locked"
grep -q 'wrong user name or password, or too many failed attempts' "$WORK/body" ||
    fail "a locked user's answer: $(cat "$WORK/body")"
audit_has login-failure lan.nguyen 'the user is locked' || fail "no failure line for a locked user"
login tech1 may-chup-ct-22 >/dev/null || fail "another user is locked too"
user list >"$WORK/list"
grep -q '^lan.nguyen .* locked until ' "$WORK/list" || fail "list does not show the lock: $(cat "$WORK/list")"
# A new password clears the lock; the old one no longer works.
echo 'mat-khau-moi-3' | user passwd lan.nguyen >/dev/null || fail "pacs user passwd"
login lan.nguyen phim-x-quang-1 >/dev/null && fail "the old password after passwd"
C=$(login lan.nguyen mat-khau-moi-3) || fail "the new password refused: $(cat "$WORK/body")"
assert_eq 200 "$(code -b "$C" "$DW/studies")" "a session with the new password"

# ---- a restart ends every session (they live in pacsd's memory) ----
stop_pacsd
start_pacsd --set http.auth=required
B="http://127.0.0.1:$HTTP_PORT"
DW="$B/dicomweb"
assert_eq 401 "$(code -b "$C" "$DW/studies")" "a session cookie after a restart"
C=$(login lan.nguyen mat-khau-moi-3) || fail "login after a restart"
assert_eq 200 "$(code -b "$C" "$DW/studies")" "a new session after a restart"

# ---- users are in no object: a rebuilt index keeps them, with their passwords ----
stop_pacsd
"$PACS" --data "$DATA" reindex >"$WORK/reindex.log" 2>&1 || fail "pacs reindex: $(tail -3 "$WORK/reindex.log")"
user list >"$WORK/list"
assert_eq 2 "$(wc -l <"$WORK/list")" "users after a reindex"
start_pacsd --set http.auth=required --set auth.session_recheck=0
B="http://127.0.0.1:$HTTP_PORT"
DW="$B/dicomweb"
C=$(login lan.nguyen mat-khau-moi-3) || fail "login after a reindex"
assert_eq 200 "$(code -b "$C" "$DW/studies")" "a session after a reindex"

# ---- a new role applies to running sessions (looked up on every request: recheck=0) ----
T=$(login tech1 may-chup-ct-22) || fail "technician login before the removal"
assert_eq 200 "$(code -b "$T" "$DW/studies")" "the technician's session before the removal"
same="Origin: $B"
assert_eq 403 "$(code -b "$T" -H "$same" -X POST "$DW/shares?study=$STUDY&days=1")" \
    "a share by the technician before the new role"
assert_eq "user tech1 given the role radiologist" "$(user role tech1 radiologist)" "pacs user role"
user list | grep -q '^tech1  *radiologist ' || fail "list after the new role: $(user list)"
assert_eq 201 "$(code -b "$T" -H "$same" -X POST "$DW/shares?study=$STUDY&days=1")" \
    "a share in the same session with the new role"
grep '"action":"user"' "$DATA"/audit/*.jsonl | grep -q 'user tech1 given the role radiologist' ||
    fail "no user line for the new role"
rc=0
user role tech1 surgeon >/dev/null 2>&1 || rc=$?
assert_eq 2 "$rc" "an unknown role"
rc=0
user role nobody admin >/dev/null 2>&1 || rc=$?
assert_eq 1 "$rc" "a role for no such user"

# ---- removing a user ends its sessions ----
user remove tech1 >/dev/null || fail "pacs user remove"
assert_eq 401 "$(code -b "$T" "$DW/studies")" "a removed user's session"
assert_eq 200 "$(code -b "$C" "$DW/studies")" "another user's session after the removal"
rc=0
user remove tech1 >/dev/null 2>&1 || rc=$?
assert_eq 1 "$rc" "removing a user twice"
login tech1 may-chup-ct-22 >/dev/null && fail "a removed user logs in"
grep '"action":"user"' "$DATA"/audit/*.jsonl | grep -q 'user tech1 removed' || fail "no user line for the removal"

# ---- a new password ends the sessions begun with the old one ----
C2=$(login lan.nguyen mat-khau-moi-3) || fail "a second login before the new password"
assert_eq 200 "$(code -b "$C2" "$DW/studies")" "a session before the new password"
echo 'mat-khau-thu-4' | user passwd lan.nguyen >/dev/null || fail "pacs user passwd"
assert_eq 401 "$(code -b "$C" "$DW/studies")" "a session begun before the new password"
assert_eq 401 "$(code -b "$C2" "$DW/studies")" "another session begun before it"
C=$(login lan.nguyen mat-khau-thu-4) || fail "login with the new password"
assert_eq 200 "$(code -b "$C" "$DW/studies")" "a session begun with the new password"

# ---- one address trying many names: 3 failures lock the address, whatever the user ----
stop_pacsd
start_pacsd --set http.auth=required --set auth.lockout_address_failures=3
B="http://127.0.0.1:$HTTP_PORT"
for n in ana binh chau; do
    login "$n" guessed-password >/dev/null && fail "an unknown user $n logged in"
done
grep '"action":"lockout"' "$DATA"/audit/*.jsonl | grep -q 'address locked for 15 minutes after 3 failed logins' ||
    fail "no lockout line for the address"
login lan.nguyen mat-khau-thu-4 >/dev/null && fail "a login from a locked address"
assert_eq 401 "$st" "the right password from a locked address"
grep -q 'wrong user name or password, or too many failed attempts' "$WORK/body" ||
    fail "a locked address's answer: $(cat "$WORK/body")"
audit_has login-failure lan.nguyen 'the address is locked' || fail "no failure line for a locked address"

# ---- over HTTPS the session cookie is Secure too ----
stop_pacsd
. "$SRC/tests/lib_tls.sh"
make_ca ca && make_cert ca server || fail "openssl could not make the test certificates"
start_pacsd --set http.auth=required --set http.tls=true --set "http.tls.cert=$PKI/server.crt" \
    --set "http.tls.key=$PKI/server.key"
B="https://127.0.0.1:$HTTP_PORT"
printf '{"name":"lan.nguyen","password":"mat-khau-thu-4"}' >"$WORK/login.json"
st=$(code --cacert "$PKI/ca.crt" -X POST -H 'Content-Type: application/json' \
    --data-binary @"$WORK/login.json" "$B/login")
assert_eq 200 "$st" "a login over HTTPS"
setc=$(tr -d '\r' <"$WORK/headers" | sed -n 's/^Set-Cookie: //p')
case $setc in
pacs_session=*"; HttpOnly; SameSite=Strict; Secure") ;;
*) fail "the session cookie over HTTPS: $setc" ;;
esac
C=${setc%%;*}
assert_eq 200 "$(code --cacert "$PKI/ca.crt" -b "$C" "$B/dicomweb/studies")" "QIDO over HTTPS with the session"
pass
