#!/bin/sh
# SPDX-License-Identifier: MIT
# Tele-reading with two district hospitals (issue 17): three pacsd on loopback (plain HTTP,
# http.auth=required; test_telereading covers HTTPS), districts A and B forwarding their CT
# studies to one central pacsd by STOW-RS, each with an API key of its own (district-a,
# district-b). The central one routes reports back with `study_from=key:district-a` and
# `study_from=key:district-b`: a report written there by a radiologist (a third key) goes to
# the district its study came from and to no other; a study stored at central over DIMSE by a
# calling AE spelt like a district's key is from nobody, and its report goes nowhere.
. "$SRC/tests/lib.sh"
: "${PACS:?PACS must point to the pacs binary}"
TELE_MAIN=C
. "$SRC/tests/lib_tele.sh"

hash() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
for k in a b ca cb rad; do
    openssl rand -hex 24 >"$WORK/$k.key"
done
key() { head -n 1 "$WORK/$1.key"; }

A_DATA=$WORK/a B_DATA=$WORK/b C_DATA=$WORK/central
C_INDEX=${PACS_INDEX:-}
tele_db a A_INDEX
tele_db b B_INDEX
A_PORT=$(free_port) B_PORT=$(free_port) C_PORT=$(free_port)
A="http://127.0.0.1:$A_PORT/dicomweb" B="http://127.0.0.1:$B_PORT/dicomweb"
C="http://127.0.0.1:$C_PORT/dicomweb"

start_node C "$C_DATA" "$C_INDEX" "$C_PORT" \
    --set "auth.key.district-a=sha256:$(hash "$(key a)") read write" \
    --set "auth.key.district-b=sha256:$(hash "$(key b)") read write" \
    --set "auth.key.radiologist=sha256:$(hash "$(key rad)") read write" \
    --set "web.DIST_A=$A key=@$WORK/ca.key" --set "web.DIST_B=$B key=@$WORK/cb.key" \
    --set "route.back-a=DIST_A modality=SR study_from=key:district-a" \
    --set "route.back-b=DIST_B modality=SR study_from=key:district-b"
for n in A B; do
    lower=$(echo "$n" | tr A-Z a-z)
    eval "data=\$${n}_DATA index=\$${n}_INDEX port=\$${n}_PORT"
    start_node "$n" "$data" "$index" "$port" \
        --set "auth.key.central=sha256:$(hash "$(key "c$lower")") read write" \
        --set "web.CENTRAL=$C key=@$WORK/$lower.key" --set "route.tele=CENTRAL modality=CT"
done

# ---- each district's CT study reaches central ----
ST_A=$(new_uid) ST_B=$(new_uid) ST_X=$(new_uid)
gen_ct "$WORK/ct-a" "$ST_A" "$(new_uid)" 3
gen_ct "$WORK/ct-b" "$ST_B" "$(new_uid)" 2
gen_ct "$WORK/ct-x" "$ST_X" "$(new_uid)" 1
timeout 60 storescu -aec PACS 127.0.0.1 "$A_DIMSE" "$WORK"/ct-a/*.dcm || fail "storescu to A"
timeout 60 storescu -aec PACS 127.0.0.1 "$B_DIMSE" "$WORK"/ct-b/*.dcm || fail "storescu to B"
# At central over DIMSE, from a calling AE spelt like district A's credential.
timeout 60 storescu -aet key:district-a -aec PACS 127.0.0.1 "$C_DIMSE" "$WORK"/ct-x/*.dcm ||
    fail "storescu to central"
rad=$(key rad)
central_a() { qido_count "$C" "$rad" "/studies/$ST_A/instances"; }
central_b() { qido_count "$C" "$rad" "/studies/$ST_B/instances"; }
wait_until 60 at_least central_a 3 || fail "central has $(central_a) of A's 3 instances"
wait_until 60 at_least central_b 2 || fail "central has $(central_b) of B's 2 instances"

# ---- a radiologist's report on each, written at central with the JSON call ----
report() { # study text
    code=$(curl -sS --max-time 60 -o "$WORK/report.json" -w '%{http_code}' \
        -H "Authorization: Bearer $rad" -H 'Content-Type: application/json' \
        --data "{\"text\": \"$2\", \"author\": \"Lê^Văn Cường\", \"status\": \"final\"}" \
        "$C/studies/$1/reports")
    assert_eq 201 "$code" "the report on $1 at central: $(cat "$WORK/report.json")"
}
report "$ST_A" "Report A: không thấy tổn thương."
report "$ST_B" "Report B: nốt phổi phải."
report "$ST_X" "Report X: from nobody."

# Each report was queued (at its ingest, before the answer) for its own district only: one
# entry per district, the CT instances and the third report not at all.
total() { # dest: entries of every state
    node_pacs "$C_DATA" "$C_INDEX" forward list --by-dest 2>/dev/null |
        awk -F '\t' -v d="$1" '$1 == d { print $2 + $3 + $4 }'
}
assert_eq 1 "$(total DIST_A)" "central's entries for DIST_A"
assert_eq 1 "$(total DIST_B)" "central's entries for DIST_B"
wait_until 60 is 1 by_dest "$C_DATA" "$C_INDEX" DIST_A 3 || fail "the report did not reach A"
wait_until 60 is 1 by_dest "$C_DATA" "$C_INDEX" DIST_B 3 || fail "the report did not reach B"

# ---- QIDO at both districts: A has A's report and not B's, and the other way round ----
key_ca=$(key ca) key_cb=$(key cb)
assert_eq 1 "$(qido_count "$A" "$key_ca" "/studies/$ST_A/series?Modality=SR")" "A's report at A"
assert_eq 0 "$(qido_count "$A" "$key_ca" "/studies?StudyInstanceUID=$ST_B")" "B's study at A"
assert_eq 1 "$(qido_count "$B" "$key_cb" "/studies/$ST_B/series?Modality=SR")" "B's report at B"
assert_eq 0 "$(qido_count "$B" "$key_cb" "/studies?StudyInstanceUID=$ST_A")" "A's study at B"
assert_eq 0 "$(qido_count "$A" "$key_ca" "/studies?StudyInstanceUID=$ST_X")" "X's study at A"
sr_text() { # base key study: the report's text from its instance metadata
    curl -sS --max-time 30 -H "Authorization: Bearer $2" "$1/studies/$3/metadata" |
        grep -o 'Report [AB]: [^"]*' | head -n 1
}
assert_eq "Report A: không thấy tổn thương." "$(sr_text "$A" "$key_ca" "$ST_A")" "the text at A"
assert_eq "Report B: nốt phổi phải." "$(sr_text "$B" "$key_cb" "$ST_B")" "the text at B"

kill -0 "$A_PID" && kill -0 "$B_PID" && kill -0 "$C_PID" || fail "a pacsd died"
kill -TERM "$A_PID" "$B_PID" "$C_PID"
PASSED=1
pass
