#!/bin/sh
# SPDX-License-Identifier: MIT
# Three pacsd nodes on one machine, each with its own ports and data folder, sharing one
# PostgreSQL index and one object folder (issue 10). Instances stored through node A with
# storescu and STOW-RS are found and retrieved through node B at once (findscu, QIDO, getscu,
# WADO-RS) and committed by B (Storage Commitment); forwarding entries are sent exactly once
# by whichever node claims them, and those A queued while the destination was down are sent by
# node C after A and B stopped; a kill -9 of node B in the middle of a store loses no
# acknowledged instance, the other nodes go on serving, and B comes back and serves them too;
# `pacs verify --sweep` run from another data folder while A stores takes nothing A stores, and
# `pacs verify` finds nothing missing or corrupt. A share link made through A works through B
# (the shares are in the index; B has A's share.key), and a revocation through B holds on A.
. "$SRC/tests/lib.sh"
. "$SRC/tests/lib_dicomweb.sh"
. "$SRC/tests/lib_multinode.sh"
: "${COMMITSCU:?COMMITSCU must point to the commitscu test tool}"

T=$SAMPLES/test_files
pg_database
dport=$(free_port)
start_storescp DEST "$dport" "$WORK/dest" -v || fail "storescp"
# Every node queues what it stores for DEST, and every node may send.
# A claim outlives a node that died holding it by index.claim_seconds.
common="--set route.out=DEST --set ae.DEST=127.0.0.1:$dport --set forward.retry_min=1
    --set forward.retry_max=2 --set index.claim_seconds=5"
# shellcheck disable=SC2086
start_node A $common
# shellcheck disable=SC2086
start_node B $common --set "ae.COMMITSCU=127.0.0.1:$(free_port)"
# shellcheck disable=SC2086
start_node C $common

# Instances a node's log says it delivered (over the nodes named).
sent_by() { # nodes...
    for n in "$@"; do
        sed -n 's/.*dest=DEST sent=\([0-9]*\).*/\1/p' "$WORK/$n.log"
    done | awk '{s += $1} END {print s + 0}'
}

# ---- store through A: C-STORE and STOW-RS ----
st=$(new_uid)
se=$(new_uid)
gen_ct "$WORK/in" "$st" "$se" 5
DIMSE_PORT=$A_DIMSE
store "$WORK"/in/*.dcm >"$WORK/store.log" 2>&1 || fail "storescu to A: $(tail -3 "$WORK/store.log")"
stow_body PACSTEST "$WORK/stow" "$T/MR_small.dcm" "$T/JPEG2000.dcm"
assert_eq 200 "$(stow_post "http://127.0.0.1:$A_HTTP/dicomweb/studies" "$WORK/stow")" \
    "STOW-RS to A"
n_total=7

# ---- found through B at once (no waiting: the index is one) ----
assert_eq 1 "$(node_count B -S -k QueryRetrieveLevel=STUDY -k StudyInstanceUID="$st")" \
    "C-FIND on B: the study stored through A"
assert_eq 5 "$(node_count B -S -k QueryRetrieveLevel=IMAGE -k StudyInstanceUID="$st" \
    -k SeriesInstanceUID="$se" -k SOPInstanceUID)" "C-FIND on B: its instances"
mr_st=$(dcm_value "$T/MR_small.dcm" 0020,000d)
assert_eq 1 "$(node_count B -S -k QueryRetrieveLevel=STUDY -k StudyInstanceUID="$mr_st")" \
    "C-FIND on B: the study stored with STOW-RS through A"
code=$(curl -sS --max-time 60 -o "$WORK/qido" -w '%{http_code}' \
    "http://127.0.0.1:$B_HTTP/dicomweb/studies?StudyInstanceUID=$st&includefield=00201208")
assert_eq 200 "$code" "QIDO on B"
assert_eq 5 "$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r[0]["00201208"]["Value"][0])' "$WORK/qido")" \
    "QIDO on B: NumberOfStudyRelatedInstances"

# ---- a share link made through A works on B: the shares are in the index ----
# A node accepts the links signed with the key in its own data folder: B refuses A's link
# until it has A's key, then accepts it; a revocation through B is seen by A.
share_page() { # node token: the HTTP status of the node's share page
    eval "port=\$${1}_HTTP"
    curl -sS --max-time 60 -o "$WORK/share-page" -w '%{http_code}' "http://127.0.0.1:$port/share/$2"
}
LINK=$(node_pacs A share "$st" --days 1 2>"$WORK/share.err") || fail "pacs share on A: $(cat "$WORK/share.err")"
TOKEN=${LINK##*/}
SHARE_ID=$(sed -n 's/^pacs: share \([A-Za-z0-9_-]*\) of study.*/\1/p' "$WORK/share.err")
[ ${#TOKEN} -eq 40 ] && [ -n "$SHARE_ID" ] || fail "pacs share on A printed '$LINK' ($(cat "$WORK/share.err"))"
assert_eq 200 "$(share_page A "$TOKEN")" "the share page on A"
grep -q "<h1>CompressedSamples CT1</h1>" "$WORK/share-page" || fail "the share page on A: $(cat "$WORK/share-page")"
assert_eq 404 "$(share_page B "$TOKEN")" "the share page on B while B has a key of its own"
cp -p "$WORK/A/d/share.key" "$WORK/B/d/share.key.new" && mv "$WORK/B/d/share.key.new" "$WORK/B/d/share.key" ||
    fail "cannot give B the key of A"
assert_eq 200 "$(share_page B "$TOKEN")" "the share page on B of a link made through A"
grep -q "<h1>CompressedSamples CT1</h1>" "$WORK/share-page" || fail "the share page on B: $(cat "$WORK/share-page")"
node_pacs B share --list | grep -q "^$SHARE_ID  active .* $st " || fail "pacs share --list on B: $(node_pacs B share --list)"
node_pacs B share --revoke "$SHARE_ID" 2>"$WORK/revoke.err" || fail "pacs share --revoke on B: $(cat "$WORK/revoke.err")"
assert_eq 404 "$(share_page A "$TOKEN")" "the share page on A of a link revoked through B"
assert_eq 404 "$(share_page B "$TOKEN")" "the share page on B of a link revoked through B"

# ---- retrieved through B: C-GET and WADO-RS ----
DIMSE_PORT=$B_DIMSE
get_into "$WORK/g" -S -k QueryRetrieveLevel=STUDY -k StudyInstanceUID="$st" >"$WORK/get.log" ||
    fail "getscu from B"
assert_eq 5 "$(final_count "$WORK/get.log" Completed)" "C-GET from B: completed"
for f in "$WORK"/in/*.dcm; do
    uid=$(dcm_value "$f" 0008,0018)
    [ -f "$WORK/g/CT.$uid" ] || fail "C-GET from B: $uid did not arrive"
    same_dataset "$f" "$WORK/g/CT.$uid" || fail "C-GET from B: $uid differs"
done
mr_se=$(dcm_value "$T/MR_small.dcm" 0020,000e)
mr_sop=$(dcm_value "$T/MR_small.dcm" 0008,0018)
code=$(curl -sS --max-time 60 -o "$WORK/wado" -w '%{http_code}' \
    -H 'Accept: multipart/related; type="application/dicom"' \
    "http://127.0.0.1:$B_HTTP/dicomweb/studies/$mr_st/series/$mr_se/instances/$mr_sop")
assert_eq 200 "$code" "WADO-RS on B of an instance stored with STOW-RS on A"
grep -aq "$mr_sop" "$WORK/wado" || fail "WADO-RS on B: the instance is not in the answer"
code=$(curl -sS --max-time 60 -o "$WORK/frame" -w '%{http_code}' \
    -H 'Accept: multipart/related; type="application/octet-stream"; transfer-syntax=*' \
    "http://127.0.0.1:$B_HTTP/dicomweb/studies/$mr_st/series/$mr_se/instances/$mr_sop/frames/1")
assert_eq 200 "$code" "WADO-RS frame on B"

# ---- Storage Commitment asked of B for what A stored ----
timeout 60 "$COMMITSCU" --timeout 20 127.0.0.1 "$B_DIMSE" "$WORK"/in/*.dcm "$T/MR_small.dcm" \
    >"$WORK/commit" 2>&1 || fail "commitscu to B: $(cat "$WORK/commit")"
grep -q "^event_type=1 " "$WORK/commit" || fail "commitment on B: not all committed"
assert_eq 6 "$(grep -c '^committed ' "$WORK/commit")" "commitment on B: committed instances"

# ---- forwarding: each queued instance sent once, by whichever node claims it ----
end=$(($(date +%s) + 120))
while [ "$(grep -c "Received Store Request" "$WORK/storescp-DEST.log")" -lt "$n_total" ]; do
    [ "$(date +%s)" -lt "$end" ] || fail "DEST got $(grep -c "Received Store Request" "$WORK/storescp-DEST.log") of $n_total"
    sleep 0.2
done
sleep 3 # time for a duplicate to show, if a second node were to send one
assert_eq "$n_total" "$(grep -c "Received Store Request" "$WORK/storescp-DEST.log")" \
    "C-STORE requests DEST received (each instance once)"
assert_eq "$n_total" "$(sent_by A B C)" "instances the nodes report sent"
assert_eq "$n_total" "$(node_pacs C forward list --state done 2>/dev/null | awk 'NR > 1' | wc -l)" \
    "forwards done"

# ---- forwarding: queued by A while DEST is down, sent by C once A and B are gone ----
stop_pid "$SCP_PID"
st2=$(new_uid)
gen_ct "$WORK/in2" "$st2" "$(new_uid)" 4
DIMSE_PORT=$A_DIMSE
store "$WORK"/in2/*.dcm >"$WORK/store2.log" 2>&1 || fail "storescu to A (DEST down)"
wait_pending() { # n: until n entries are pending with at least one failed attempt
    end=$(($(date +%s) + 60))
    until [ "$(node_pacs C forward list --state pending 2>/dev/null | awk -F '\t' 'NR > 1 && $3 >= 1' | wc -l)" -ge "$1" ]; do
        [ "$(date +%s)" -lt "$end" ] || fail "the queued forwards were never tried"
        sleep 0.2
    done
}
wait_pending 4
stop_node A
stop_node B
c_before=$(sent_by C)
start_storescp DEST "$dport" "$WORK/dest" -v || fail "storescp again"
end=$(($(date +%s) + 120))
while [ "$(sent_by C)" -lt "$((c_before + 4))" ]; do
    [ "$(date +%s)" -lt "$end" ] || fail "C did not send what A queued ($(sent_by C) sent)"
    sleep 0.2
done
n_total=$((n_total + 4))
assert_eq "$n_total" "$(grep -c "Received Store Request" "$WORK/storescp-DEST.log")" \
    "C-STORE requests DEST received in all"
for f in "$WORK"/in2/*.dcm; do
    [ -f "$WORK/dest/CT.$(dcm_value "$f" 0008,0018)" ] || fail "DEST lacks $f"
done
# shellcheck disable=SC2086
start_node A $common
# shellcheck disable=SC2086
start_node B $common

# ---- kill -9 of node B in the middle of a store ----
make_ct_copies "$WORK/k" 60 own
: >"$WORK/acked"
(
    for f in "$WORK"/k/ct*.dcm; do
        if timeout 30 storescu -aec PACS 127.0.0.1 "$B_DIMSE" "$f" >/dev/null 2>&1; then
            echo "$f" >>"$WORK/acked"
        fi
    done
) &
loop=$!
timeout 60 sh -c 'until [ "$(wc -l <"$1")" -ge 15 ]; do sleep 0.05; done' _ "$WORK/acked" ||
    fail "stores through B did not start"
kill9_node B
wait "$loop" 2>/dev/null || true
acked=$(wc -l <"$WORK/acked")
[ "$acked" -ge 15 ] && [ "$acked" -lt 60 ] || fail "the kill came at an odd moment ($acked acked)"
# The others go on: A stores, C finds everything B acknowledged before it died.
DIMSE_PORT=$A_DIMSE
store "$T/CT_small.dcm" >/dev/null 2>&1 || fail "storescu to A after B died"
while read -r f; do
    uid=$(dcm_value "$f" 0008,0018)
    assert_eq 1 "$(node_count C -S -k QueryRetrieveLevel=IMAGE -k StudyInstanceUID="$(dcm_value "$f" 0020,000d)" \
        -k SeriesInstanceUID="$(dcm_value "$f" 0020,000e)" -k SOPInstanceUID="$uid")" \
        "C-FIND on C of $uid, acknowledged by B before kill -9"
done <"$WORK/acked"
DIMSE_PORT=$C_DIMSE
last=$(tail -1 "$WORK/acked")
get_into "$WORK/g2" -S -k QueryRetrieveLevel=STUDY -k StudyInstanceUID="$(dcm_value "$last" 0020,000d)" \
    >"$WORK/get2.log" || fail "getscu from C of the last instance B acknowledged"
same_dataset "$last" "$WORK/g2/CT.$(dcm_value "$last" 0008,0018)" ||
    fail "the last instance B acknowledged differs when retrieved from C"

# B comes back (an unclean stop: it releases the objects its intents still name) and serves.
# shellcheck disable=SC2086
start_node B $common
grep -q "node B ended uncleanly" "$WORK/B.log" || fail "B did not notice its unclean stop"
assert_eq "$acked" "$(for f in $(cat "$WORK/acked"); do
    node_count B -S -k QueryRetrieveLevel=IMAGE -k StudyInstanceUID="$(dcm_value "$f" 0020,000d)" \
        -k SeriesInstanceUID="$(dcm_value "$f" 0020,000e)" -k SOPInstanceUID="$(dcm_value "$f" 0008,0018)"
done | awk '{s += $1} END {print s + 0}')" "instances B finds after its restart"

# ---- verify --sweep from a fourth data folder (another machine's tool) while A stores ----
make_ct_copies "$WORK/sw" 30
mkdir -p "$WORK/T"
DIMSE_PORT=$A_DIMSE
store "$WORK"/sw/ct*.dcm >"$WORK/store-sw.log" 2>&1 &
scu=$!
timeout 300 "$PACS" --data "$WORK/T/d" --set "index=$PG_URI" --set "storage.objects=$SHARED_OBJECTS" \
    --set node.name=T --set storage.sweep_grace=60 verify --sweep >"$WORK/sweep" 2>&1 || true
grep -q "swept" "$WORK/sweep" || fail "verify --sweep beside A: $(cat "$WORK/sweep")"
wait "$scu" || fail "storescu to A beside a sweep: $(tail -3 "$WORK/store-sw.log")"
f=$(ls "$WORK"/sw/ct*.dcm | head -1)
assert_eq 30 "$(node_count C -S -k QueryRetrieveLevel=IMAGE -k StudyInstanceUID="$(dcm_value "$f" 0020,000d)" \
    -k SOPInstanceUID)" "C-FIND on C of what A stored beside a sweep"
node_pacs C verify >"$WORK/verify" 2>&1 || fail "pacs verify: $(cat "$WORK/verify")"
grep -q " 0 corrupt, 0 missing" "$WORK/verify" || fail "pacs verify: $(cat "$WORK/verify")"
pass
