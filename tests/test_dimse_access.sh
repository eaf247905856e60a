#!/bin/sh
# SPDX-License-Identifier: MIT
# DIMSE access control (dimse.access_control, ae.TITLE = host:port allow=... from=...): known
# AEs use the services they are allowed from the addresses they are allowed; everything else
# is refused at association time with the A-ASSOCIATE-RJ reason PS3.8 9.3.4 gives (calling AE
# title not recognised = 3, called AE title not recognised = 7), or per presentation context
# (user rejection) for a service the AE may not use. Each refusal is in the audit trail, and
# nothing refused stores, finds or retrieves anything.
. "$SRC/tests/lib.sh"
trap_background

port=$(free_port)
start_storescp WS1 "$port" "$WORK/dest" || fail "storescp did not start"
cat >"$WORK/pacsd.conf" <<CONF
dimse.access_control = true
ae.CT1 = 127.0.0.1:104 allow=store,commit
ae.WS1 = 127.0.0.1:$port allow=find,move,get
ae.LAN = 10.9.9.9:104 allow=all from=127.0.0.0/8
ae.FARAWAY = 10.9.9.9:104 allow=all
ae.PINGER = 127.0.0.1:104 allow=none
CONF
start_pacsd --config "$WORK/pacsd.conf"
grep -q "DICOM listens on 0.0.0.0:.* without TLS" "$WORK/pacsd.log" ||
    fail "no start-up warning for plain DICOM on all interfaces"
grep -q "without access control" "$WORK/pacsd.log" &&
    fail "an access-control warning although access control is on"

# $1: calling AE; $2: called AE. Prints echoscu's verbose output.
echo_as() { timeout 30 echoscu -v -aet "$1" -aec "$2" 127.0.0.1 "$DIMSE_PORT" 2>&1; }
# Asserts that an association was rejected with reason text $2 (DCMTK's wording).
assert_rejected() { # output-file reason what
    grep -q "Association Rejected" "$1" || fail "$3 was not rejected: $(tail -3 "$1")"
    grep -q "Result: Rejected Permanent, Source: Service User" "$1" ||
        fail "$3: wrong result/source: $(grep -A3 Rejected "$1")"
    grep -q "Reason: $2" "$1" || fail "$3: wrong reason: $(grep -A3 Rejected "$1")"
}

st=$(new_uid)
gen_ct "$WORK/a" "$st" "$(new_uid)" 2

# -- attack: an unknown calling AE --
echo_as STRANGER PACS >"$WORK/o" && fail "an unknown calling AE was accepted"
assert_rejected "$WORK/o" "Calling AE Title Not Recognized" "an unknown calling AE"
timeout 60 storescu -aet STRANGER -aec PACS 127.0.0.1 "$DIMSE_PORT" "$WORK/a/ct-1.dcm" \
    >/dev/null 2>&1 && fail "an unknown calling AE stored an image"
# -- attack: a known AE title used from an address it is not allowed to call from --
echo_as FARAWAY PACS >"$WORK/o" && fail "a known AE from the wrong address was accepted"
assert_rejected "$WORK/o" "Calling AE Title Not Recognized" "a known AE from the wrong address"
# -- attack: a called AE title that is not ours --
echo_as CT1 NOTPACS >"$WORK/o" && fail "a wrong called AE title was accepted"
assert_rejected "$WORK/o" "Called AE Title Not Recognized" "a wrong called AE title"

# -- allowed: echo for everyone known, CIDR from=, store for CT1 --
echo_as PINGER PACS >/dev/null || fail "C-ECHO refused to a known AE with allow=none"
echo_as LAN PACS >/dev/null || fail "C-ECHO refused to an AE allowed by from=127.0.0.0/8"
timeout 60 storescu -aet CT1 -aec PACS 127.0.0.1 "$DIMSE_PORT" "$WORK"/a/*.dcm >/dev/null 2>&1 ||
    fail "CT1 could not store"

# -- attack: a service the AE is not allowed (context refused) --
timeout 60 storescu -aet WS1 -aec PACS 127.0.0.1 "$DIMSE_PORT" "$WORK/a/ct-1.dcm" \
    >"$WORK/o" 2>&1 && fail "WS1 (find, move, get) stored an image"
timeout 60 storescu -aet PINGER -aec PACS 127.0.0.1 "$DIMSE_PORT" "$WORK/a/ct-1.dcm" \
    >/dev/null 2>&1 && fail "PINGER (allow=none) stored an image"
timeout 60 findscu -aet CT1 -aec PACS -S -k QueryRetrieveLevel=STUDY -k StudyInstanceUID \
    127.0.0.1 "$DIMSE_PORT" >"$WORK/o" 2>&1 && fail "CT1 (store, commit) ran a C-FIND"
grep -q "No Acceptable Presentation Contexts\|no presentation context" "$WORK/o" ||
    fail "CT1's C-FIND was not refused by its context: $(tail -3 "$WORK/o")"
grep -q "Find Response" "$WORK/o" && fail "CT1 got a C-FIND response"
timeout 60 movescu -aet CT1 -aec PACS -aem WS1 -S -k QueryRetrieveLevel=STUDY \
    -k StudyInstanceUID="$st" 127.0.0.1 "$DIMSE_PORT" >/dev/null 2>&1 &&
    fail "CT1 ran a C-MOVE"
mkdir -p "$WORK/got"
timeout 60 getscu -aet CT1 -aec PACS -od "$WORK/got" -S -k QueryRetrieveLevel=STUDY \
    -k StudyInstanceUID="$st" 127.0.0.1 "$DIMSE_PORT" >/dev/null 2>&1 && fail "CT1 ran a C-GET"
assert_eq 0 "$(count_files "$WORK/got")" "files CT1 got by C-GET"
assert_eq 0 "$(count_files "$WORK/dest")" "files moved for CT1"

# -- allowed: WS1 finds, moves to itself and gets --
n=$(timeout 60 findscu -aet WS1 -aec PACS -S -k QueryRetrieveLevel=STUDY \
    -k StudyInstanceUID="$st" 127.0.0.1 "$DIMSE_PORT" 2>&1 | grep -ac "Find Response.*(Pending)" || true)
assert_eq 1 "$n" "WS1's C-FIND matches"
timeout 60 movescu -d -aet WS1 -aec PACS -aem WS1 -S -k QueryRetrieveLevel=STUDY \
    -k StudyInstanceUID="$st" 127.0.0.1 "$DIMSE_PORT" >"$WORK/m" 2>&1 || fail "WS1's C-MOVE"
assert_eq 0x0000 "$(final_status "$WORK/m")" "WS1's move status"
wait_files "$WORK/dest" 2 30 || fail "WS1 did not receive the moved study"
timeout 60 getscu -aet WS1 -aec PACS -od "$WORK/got" -S -k QueryRetrieveLevel=STUDY \
    -k StudyInstanceUID="$st" 127.0.0.1 "$DIMSE_PORT" >/dev/null 2>&1 || fail "WS1's C-GET"
assert_eq 2 "$(count_files "$WORK/got")" "files WS1 got by C-GET"

# -- the known AEs reload on SIGHUP: a new AE is let in, a removed one is not --
sed -i 's/^ae.PINGER.*/ae.NEWCOMER = 127.0.0.1:104 allow=none/' "$WORK/pacsd.conf"
kill -HUP "$PACSD_PID"
timeout 20 sh -c 'until grep -q "SIGHUP: reloaded" "$1"; do sleep 0.1; done' _ "$WORK/pacsd.log" ||
    fail "no reload"
echo_as NEWCOMER PACS >/dev/null || fail "an AE added on SIGHUP was refused"
echo_as PINGER PACS >"$WORK/o" && fail "an AE removed on SIGHUP was accepted"

# -- every refusal is in the audit trail --
timeout 60 "$PACS" --data "$DATA" audit >"$WORK/audit" 2>/dev/null
for who in STRANGER FARAWAY CT1 WS1 PINGER; do
    grep '"action":"access-denied"' "$WORK/audit" | grep -q "\"who\":\"$who\"" ||
        fail "no access-denied line for $who"
done
assert_eq 2 "$(grep -c '"action":"store","atna":"110104","outcome":"success"' "$WORK/audit")" \
    "instances stored (CT1's two only)"
pass
