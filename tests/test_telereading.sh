#!/bin/sh
# SPDX-License-Identifier: MIT
# Tele-reading (issue 17): two pacsd on loopback, a "district" one without a radiologist and a
# "central" one, both on HTTPS (a test CA) with http.auth=required and API keys. A CT series
# stored at the district goes to the central one by STOW-RS (web.CENTRAL, transcoded to JPEG-LS
# on the wire, two instances a request) through a gate that holds each answer until the test
# lets it pass; the district is killed with -9 after central stored a batch whose answer is
# held, restarted, sends that batch again, and the central archive ends with every instance
# once (QIDO and its index) and identical pixels. A
# destination answering 500 and one whose key is refused keep their entries pending, retried
# and listed, none dropped. A report written at the central side with the JSON call comes back
# by its route (modality=SR to web.DISTRICT) and shows in the district's QIDO and share page.
. "$SRC/tests/lib.sh"
. "$SRC/tests/lib_tls.sh"
: "${PACS:?PACS must point to the pacs binary}"
TOOL="python3 $SRC/tests/tools/tele_tool.py"
BG_PIDS=""
D_PID="" C_PID=""

make_ca ca
make_cert ca server
[ -s "$PKI/server.crt" ] || fail "openssl made no certificate"
key_c=$(openssl rand -hex 24) # what central accepts (the district's sender has it)
key_d=$(openssl rand -hex 24) # what the district accepts (the central's sender has it)
printf '%s\n' "$key_c" >"$WORK/central.key"
printf '%s\n' "$key_d" >"$WORK/district.key"
openssl rand -hex 24 >"$WORK/wrong.key"
hash() { printf %s "$1" | sha256sum | cut -d' ' -f1; }

# Each node has its own data folder and, on the PostgreSQL pass, its own database.
D_DATA=$WORK/district C_DATA=$WORK/central
D_INDEX=${PACS_INDEX:-} C_INDEX=""
if [ -n "$PG_TEST_DB" ]; then
    timeout 60 psql "$PACS_TEST_PG" -qAt -c "CREATE DATABASE ${PG_TEST_DB}_c" >/dev/null
    C_INDEX="${PACS_TEST_PG%/*}/${PG_TEST_DB}_c"
fi
trap 'for p in $BG_PIDS $D_PID $C_PID; do kill -9 "$p" 2>/dev/null || true; done
      if [ -n "$C_INDEX" ]; then
          timeout 60 psql "$PACS_TEST_PG" -qAt -c "DROP DATABASE IF EXISTS ${PG_TEST_DB}_c WITH (FORCE)" \
              >/dev/null 2>&1 || true
      fi
      [ "${PASSED:-0}" = 0 ] && [ -f "$WORK/C.log" ] && { echo "---- central ----"; tail -n 15 "$WORK/C.log"; } >&2
      cleanup' EXIT
D_PORT=$(free_port) C_PORT=$(free_port) GATE_PORT=$(free_port) BAD_PORT=$(free_port)
D="https://127.0.0.1:$D_PORT/dicomweb" C="https://127.0.0.1:$C_PORT/dicomweb"
mkdir -p "$WORK/gate"

# start_node NAME DATA INDEX HTTP_PORT [--set ...]: pacsd on HTTPS with auth required; sets
# NAME_PID and NAME_DIMSE.
start_node() {
    name=$1 data=$2 index=$3 port=$4
    shift 4
    rm -f "$WORK/$name.ready"
    log=$WORK/$name.log
    [ "$name" = D ] && log=$WORK/pacsd.log # the district's is the one fail() shows
    "$PACSD" --data "$data" --set dimse.port=0 --set "http.port=$port" \
        --ready-file "$WORK/$name.ready" ${index:+--set "index=$index"} \
        --set http.tls=true --set "http.tls.cert=$PKI/server.crt" \
        --set "http.tls.key=$PKI/server.key" --set http.auth=required \
        --set forward.retry_min=1 --set forward.retry_max=2 "$@" >>"$log" 2>&1 &
    eval "${name}_PID=$!"
    timeout 30 sh -c 'until [ -s "$1" ]; do sleep 0.05; done' _ "$WORK/$name.ready" ||
        { cat "$log" >&2; fail "$name did not become ready"; }
    eval "${name}_DIMSE=$(sed -n 's/^DIMSE_PORT=//p' "$WORK/$name.ready")"
}
start_central() {
    start_node C "$C_DATA" "$C_INDEX" "$C_PORT" \
        --set "auth.key.district=sha256:$(hash "$key_c") read write" \
        --set "web.DISTRICT=$D key=@$WORK/district.key ca=$PKI/ca.crt" \
        --set "route.reports=DISTRICT modality=SR"
}
# On PostgreSQL the entries a node was sending when it died stay claimed for
# index.claim_seconds (they could be another node's): a short claim lets the restart take them.
start_district() {
    start_node D "$D_DATA" "$D_INDEX" "$D_PORT" --set index.claim_seconds=3 \
        --set "auth.key.central=sha256:$(hash "$key_d") read write" \
        --set "web.CENTRAL=https://127.0.0.1:$GATE_PORT/dicomweb key=@$WORK/central.key ca=$PKI/ca.crt accept=jpegls,explicit batch=2" \
        --set "web.BROKEN=http://127.0.0.1:$BAD_PORT/dicomweb" \
        --set "web.WRONGKEY=$C key=@$WORK/wrong.key ca=$PKI/ca.crt" \
        --set "route.tele=CENTRAL modality=CT" --set "route.broken=BROKEN modality=CT" \
        --set "route.wrongkey=WRONGKEY modality=CT"
}
node_pacs() { # DATA INDEX args...
    data=$1 index=$2
    shift 2
    timeout 60 "$PACS" --data "$data" ${index:+--set "index=$index"} "$@"
}
# by_dest DATA INDEX DEST COLUMN: a column of `pacs forward list --by-dest` (2 pending, 3 done,
# 4 failed, 5 bytes sent).
by_dest() {
    node_pacs "$1" "$2" forward list --by-dest 2>/dev/null |
        awk -F '\t' -v d="$3" -v c="$4" '$1 == d { print $c }'
}
# entries DATA INDEX STATE DEST MIN_ATTEMPTS: queue entries so.
entries() {
    node_pacs "$1" "$2" forward list --state "$3" 2>/dev/null |
        awk -F '\t' -v d="$4" -v a="$5" 'NR > 1 && $4 == d && $3 >= a' | wc -l | tr -d ' '
}
qido_count() { # base key path: the number of results of a QIDO request
    curl -sS --max-time 30 --cacert "$PKI/ca.crt" -H "Authorization: Bearer $2" "$1$3" |
        python3 -c 'import json, sys; t = sys.stdin.read(); print(len(json.loads(t)) if t.strip() else 0)'
}
at_least() { [ "$($1)" -ge "$2" ]; }

$TOOL gate "$GATE_PORT" "$C_PORT" "$WORK/gate" & BG_PIDS="$BG_PIDS $!"
$TOOL fail500 "$BAD_PORT" & BG_PIDS="$BG_PIDS $!"
start_central
start_district
grep -qF "$key_c" "$WORK/pacsd.log" "$WORK/C.log" && fail "a bearer key in a log"

# ---- 1. a CT series at the district, the district killed after central stored a batch whose
# answer it never heard: the batch goes again after the restart, and central keeps one copy ----
ST=$(new_uid) SE=$(new_uid)
gen_ct "$WORK/ct" "$ST" "$SE" 20
timeout 120 storescu -aec PACS 127.0.0.1 "$D_DIMSE" "$WORK"/ct/*.dcm || fail "storescu to the district"
touch "$WORK/gate/1" # the first answer passes; the second request is stored, its answer held
central_count() { qido_count "$C" "$key_c" "/studies/$ST/instances"; }
done_count() { by_dest "$D_DATA" "$D_INDEX" CENTRAL 3; }
wait_until 60 at_least done_count 1 || fail "the district saw no first batch done"
first=$(done_count)
wait_until 60 test -e "$WORK/gate/seen-2" || fail "the district sent no second request"
wait_until 60 at_least central_count $((first + 1)) ||
    fail "central did not store the second batch (held answer)"
kill -9 "$D_PID"
wait "$D_PID" 2>/dev/null || true
assert_eq "$first" "$(done_count)" "entries done before the restart (the held batch is not)"
touch "$WORK/gate/open"
start_district
wait_until 120 at_least central_count 20 ||
    fail "central has $(central_count) of 20 instances after the restart"
assert_eq 20 "$(central_count)" "instances at central by QIDO (none twice)"
received=$(sed -n 's/.*stow: .* stored=\([0-9]*\) .*/\1/p' "$WORK/C.log" | awk '{ n += $1 } END { print n + 0 }')
[ "$received" -gt 20 ] || fail "central stored $received parts: the held batch was not sent again"
assert_eq 20 "$(node_pacs "$C_DATA" "$C_INDEX" stats | sed -n 's/^instances: //p')" \
    "instances in central's index"
wait_until 60 is 20 by_dest "$D_DATA" "$D_INDEX" CENTRAL 3 ||
    fail "district's queue: $(node_pacs "$D_DATA" "$D_INDEX" forward list --by-dest 2>&1)"

# Compressed on the wire: stored at central as JPEG-LS, fewer bytes sent than the originals
# hold, and the same pixels once decoded.
SOP=$(uid_value "$WORK/ct/ct-7.dcm" 0008,0018)
$TOOL fetch "$C/studies/$ST/series/$SE/instances/$SOP" "$PKI/ca.crt" "$key_c" "$WORK/got.dcm" ||
    fail "WADO-RS from central"
assert_eq 1.2.840.10008.1.2.4.80 "$(file_ts "$WORK/got.dcm")" "the syntax central stored"
dcmdjpls "$WORK/got.dcm" "$WORK/got-native.dcm" || fail "dcmdjpls"
same_pixels "$WORK/got-native.dcm" "$WORK/ct/ct-7.dcm" || fail "central's pixels differ"
sent=$(by_dest "$D_DATA" "$D_INDEX" CENTRAL 5)
orig=$(cat "$WORK"/ct/*.dcm | wc -c)
[ "$sent" -gt 0 ] && [ "$sent" -lt "$orig" ] || fail "bytes sent $sent, originals $orig"

# ---- 2. a server answering 500, a key refused: retried, listed, none dropped ----
wait_until 60 is 20 entries "$D_DATA" "$D_INDEX" pending BROKEN 2 ||
    fail "BROKEN: $(node_pacs "$D_DATA" "$D_INDEX" forward list --by-dest 2>&1)"
wait_until 60 is 20 entries "$D_DATA" "$D_INDEX" pending WRONGKEY 2 ||
    fail "WRONGKEY: $(node_pacs "$D_DATA" "$D_INDEX" forward list --by-dest 2>&1)"
node_pacs "$D_DATA" "$D_INDEX" forward list --state pending 2>/dev/null | grep BROKEN |
    grep -q "HTTP 500" || fail "the 500 is not listed"
node_pacs "$D_DATA" "$D_INDEX" forward list --state pending 2>/dev/null | grep WRONGKEY |
    grep -q "refused web.WRONGKEY's key" || fail "the refused key is not listed"
grep -q "dest=WRONGKEY .*refused web.WRONGKEY's key" "$WORK/pacsd.log" || fail "the refused key is not logged"
assert_eq 0 "$(by_dest "$D_DATA" "$D_INDEX" BROKEN 4)" "BROKEN entries failed"
grep -qF "$(cat "$WORK/wrong.key")" "$WORK/pacsd.log" && fail "a bearer key in the district's log"

# ---- 3. a report written at central comes back to the district ----
code=$(curl -sS --max-time 60 -o "$WORK/report.json" -w '%{http_code}' --cacert "$PKI/ca.crt" \
    -H "Authorization: Bearer $key_c" -H 'Content-Type: application/json' \
    --data '{"text": "Không thấy tổn thương khu trú.", "author": "Lê^Văn Cường", "status": "final"}' \
    "$C/studies/$ST/reports")
assert_eq 201 "$code" "the report at central: $(cat "$WORK/report.json")"
district_sr() { qido_count "$D" "$key_d" "/studies/$ST/series?Modality=SR"; }
wait_until 60 at_least district_sr 1 || fail "the report did not reach the district"
curl -sS --max-time 30 --cacert "$PKI/ca.crt" -H "Authorization: Bearer $key_d" \
    "$D/studies?StudyInstanceUID=$ST&includefield=00080061" | grep -q '"SR"' ||
    fail "ModalitiesInStudy at the district has no SR"
LINK=$(node_pacs "$D_DATA" "$D_INDEX" --set "http.public_url=$D" share "$ST" --days 1 \
    2>"$WORK/share.err") || fail "pacs share: $(cat "$WORK/share.err")"
curl -sS --max-time 60 --cacert "$PKI/ca.crt" -o "$WORK/page" "$LINK" || fail "GET $LINK"
grep -q "Không thấy tổn thương khu trú" "$WORK/page" || fail "the district's share page lacks the report"

# A key file that cannot be read stops pacsd at start, naming the file.
env -u PACS_INDEX timeout 30 "$PACSD" --data "$WORK/bad" --set dimse.port=0 --set http.port=0 \
    --set "web.X=https://127.0.0.1:1/dicomweb key=@$WORK/nope.key" >"$WORK/bad.log" 2>&1 &&
    fail "pacsd started without its key file"
grep -q "web.X: cannot read the key file $WORK/nope.key" "$WORK/bad.log" ||
    fail "no message for the missing key file: $(tail -3 "$WORK/bad.log")"

kill -0 "$D_PID" && kill -0 "$C_PID" || fail "a pacsd died"
kill -TERM "$D_PID" "$C_PID"
PASSED=1
pass
