#!/bin/sh
# SPDX-License-Identifier: MIT
# Every storable file Debian's python3-pydicom ships (test_files and charset_files, all transfer
# syntaxes, many character sets) stores as it is and comes back from C-FIND by its SOP Instance
# UID at IMAGE level. The deliberately broken and non-composite files each get the outcome
# written in the table below (investigated with dcmdump), and harm nothing else.
. "$SRC/tests/lib.sh"

# FILE  OUTCOME  [dicom_send changes]  -- why
#   client: DCMTK's senders refuse it (and it is no Part 10 file for dicom_send.py either)
#   C000:   DCMTK refuses or the server answers; sent as it is, the server answers 0xC000 with
#           an error comment naming the problem
#   abort:  the dataset has an odd length: its last P-DATA fragment is odd, which PS3.7 Annex F
#           forbids and DCMTK's DIMSE layer answers by aborting that association (the server
#           carries on; test_bad_input covers even-length broken datasets on one association)
cat >"$WORK/expect" <<'EOF'
test_files/MR_truncated.dcm C000 - pixel data longer than the rest of the file
test_files/SC_rgb_jpeg.dcm C000 - explicit VR written with implicit VR elements (bad VR encoding)
test_files/UN_sequence.dcm C000 - a test dataset with no SOP Class or Study UID
test_files/priv_SQ.dcm C000 - private sequences only, no SOP Class UID
test_files/nested_priv_SQ.dcm abort class=1.2.840.10008.5.1.4.1.1.7:uid=1.2.3.999.1 - meta without SOP UIDs; private tags only, odd length
test_files/no_meta_group_length.dcm C000 - meta without group length; dataset has no SOP Class UID
test_files/empty_charset_LEI.dcm C000 class=1.2.840.10008.5.1.4.1.1.7:uid=1.2.3.999.2 - meta and dataset without SOP UIDs
test_files/meta_missing_tsyntax.dcm abort class=1.2.840.10008.5.1.4.1.1.7:uid=1.2.3.999.3:ts=1.2.840.10008.1.2 - meta without transfer syntax or SOP UIDs; odd length
test_files/rtdose_rle.dcm C000 - SOP Class/Instance UIDs encoded as UN bytes
test_files/rtdose_rle_1frame.dcm C000 - SOP Class/Instance UIDs encoded as UN bytes
charset_files/chrSQEncoding.dcm C000 - a character set test dataset, no SOP Class UID
charset_files/chrSQEncoding1.dcm C000 - a character set test dataset, no SOP Class UID
test_files/rtplan_truncated.dcm abort - truncated in the middle of a value, odd length
test_files/no_meta.dcm client - no meta header and an unreadable first element
EOF

start_pacsd

# The valid files, split by how DCMTK can send them as they are.
: >"$WORK/with_meta"
: >"$WORK/no_meta"
for f in "$SAMPLES"/test_files/*.dcm "$SAMPLES"/charset_files/*.dcm; do
    rel=${f#"$SAMPLES"/}
    if grep -q "^$rel " "$WORK/expect"; then
        continue
    fi
    if [ "$(dd if="$f" bs=1 skip=128 count=4 2>/dev/null)" = DICM ]; then
        echo "$f" >>"$WORK/with_meta"
    else
        echo "$f" >>"$WORK/no_meta"
    fi
done
n_meta=$(wc -l <"$WORK/with_meta" | tr -d ' ')
[ "$n_meta" -gt 60 ] || fail "only $n_meta pydicom files found under $SAMPLES"

# One association for all files with a meta header, each in its own transfer syntax.
# shellcheck disable=SC2046
send_as_is -v $(cat "$WORK/with_meta") >"$WORK/dcmsend.log" 2>&1 ||
    fail "dcmsend of the valid files failed: $(grep -E '^[EF]:' "$WORK/dcmsend.log" | head -5)"
grep -q "with status SUCCESS *: $n_meta\$" "$WORK/dcmsend.log" ||
    fail "not every valid file stored: $(grep -A4 'Status Summary' "$WORK/dcmsend.log")"
# Bare datasets (no meta header): storescu proposes exactly their SOP classes (-R).
while read -r f; do
    store -R "$f" >>"$WORK/storescu.log" 2>&1 || fail "storescu of $f failed"
    if grep -q "^E:" "$WORK/storescu.log"; then
        fail "storescu of $f: $(grep '^E:' "$WORK/storescu.log" | head -3)"
    fi
done <"$WORK/no_meta"

# Each comes back by its own SOP Instance UID at IMAGE level: one C-FIND with all of them as
# a UID list (PS3.4 C.2.2.2.2), each answer naming one of them.
cat "$WORK/with_meta" "$WORK/no_meta" >"$WORK/valid"
# shellcheck disable=SC2046
file_uids $(cat "$WORK/valid") >"$WORK/uids"
assert_eq "$(wc -l <"$WORK/valid" | tr -d ' ')" "$(wc -l <"$WORK/uids" | tr -d ' ')" \
    "SOP Instance UIDs read from the valid files"
list=$(sort -u "$WORK/uids" | tr '\n' '\\' | sed 's/\\$//')
find_dimse -S -k QueryRetrieveLevel=IMAGE -k "SOPInstanceUID=$list" -k SOPClassUID |
    sed -n 's/.*(0008,0018) UI \[\([0-9.]*\).*/\1/p' | sort >"$WORK/found-by-uid"
sort -u "$WORK/uids" | cmp -s - "$WORK/found-by-uid" ||
    fail "C-FIND by SOP Instance UID: $(sort -u "$WORK/uids" | comm -3 - "$WORK/found-by-uid")"
n_valid=$(sort -u "$WORK/uids" | wc -l | tr -d ' ')

# The broken ones, each as the table says.
while read -r rel outcome changes _; do
    f="$SAMPLES/$rel"
    [ -f "$f" ] || fail "$rel is missing"
    if timeout 60 dcmsend -v --decompress-never -aec PACS 127.0.0.1 "$DIMSE_PORT" "$f" \
        >"$WORK/one.log" 2>&1 && ! grep -q "with status ERROR" "$WORK/one.log"; then
        fail "$rel was stored, expected $outcome"
    fi
    [ "$outcome" = client ] && continue
    spec=$f
    [ "$changes" = - ] || spec="$f:$changes"
    # A good instance after the bad one, on the same association, must still store.
    make_ct_copies "$WORK/after-$outcome" 1 own >/dev/null
    good="$WORK/after-$outcome/ct1.dcm"
    out=$(timeout 60 $DICOM_SEND --port "$DIMSE_PORT" store "$spec" "$good" || true)
    case $outcome in
    C000)
        echo "$out" | head -1 | grep -q "^STORE 1 0xc000 ..." ||
            fail "$rel: expected 0xC000 with a comment, got: $out"
        echo "$out" | grep -q "^STORE 2 0x0000" || fail "$rel: the next instance failed: $out"
        ;;
    abort)
        echo "$out" | grep -q "^ERROR" || fail "$rel: expected the association aborted: $out"
        ;;
    esac
    rm -rf "$WORK/after-$outcome"
done <"$WORK/expect"

# The server is unharmed: it answers, every valid instance is still there, nothing is left
# half-written and the store verifies.
timeout 30 echoscu -aec PACS 127.0.0.1 "$DIMSE_PORT" || fail "C-ECHO after the broken files"
sort -u "$WORK/uids" >"$WORK/valid-uids"
image_uids >"$WORK/found-uids"
missing=$(comm -23 "$WORK/valid-uids" "$WORK/found-uids")
[ -z "$missing" ] || fail "valid instances gone after the broken files: $missing"
assert_eq 0 "$(tmp_files)" "temporary files left"
"$PACS" --data "$DATA" verify >"$WORK/verify.log" 2>&1 || fail "pacs verify: $(cat "$WORK/verify.log")"
# The valid files plus one good instance per broken file sent through dicom_send.py.
n_sent=$(grep -vc " client " "$WORK/expect")
n_good=$(grep -c " C000 " "$WORK/expect")
want=$((n_valid + n_good))
got=$("$PACS" --data "$DATA" stats | sed -n 's/^instances: //p')
assert_eq "$want" "$got" "instances stored ($n_valid valid files, $n_sent broken ones sent)"
stop_pacsd
pass
