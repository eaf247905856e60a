#!/bin/sh
# SPDX-License-Identifier: MIT
# Resends: a byte-identical resend stores one object and one instance; a changed resend of the
# same SOP Instance UID replaces the instance and its old object file is swept. What is stored
# is the dataset exactly as it was sent.
. "$SRC/tests/lib.sh"

objects() {
    find "$DATA/objects" -type f | sort
}

# The dataset bytes of a Part 10 file (everything after its meta header), as hex lines.
dataset_of() {
    python3 - "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
pos = 132
while struct.unpack_from("<H", d, pos)[0] == 2:
    vr = d[pos + 4:pos + 6]
    if vr in (b"OB", b"OW", b"UN", b"UT", b"SQ"):
        pos += 12 + struct.unpack_from("<I", d, pos + 8)[0]
    else:
        pos += 8 + struct.unpack_from("<H", d, pos + 6)[0]
sys.stdout.buffer.write(d[pos:])
PY
}

make_ct_copies "$WORK/a" 1 own
f="$WORK/a/ct1.dcm"
sop=$(dcm_value "$f" 0008,0018)
study=$(dcm_value "$f" 0020,000d)
start_pacsd

store "$f" || fail "first store"
first=$(objects)
assert_eq 1 "$(echo "$first" | wc -l | tr -d ' ')" "objects after one store"
dataset_of "$first" >"$WORK/stored.bin"
dataset_of "$f" >"$WORK/sent.bin"
cmp -s "$WORK/stored.bin" "$WORK/sent.bin" || fail "the stored dataset differs from the one sent"

# Byte-identical resends, on one association and on another, with storescu and dcmsend.
store "$f" "$f" || fail "identical resend"
send_as_is "$f" || fail "identical resend with dcmsend"
assert_eq "$first" "$(objects)" "objects after identical resends"
assert_eq 1 "$(count_matches -S -k QueryRetrieveLevel=IMAGE -k SOPInstanceUID="$sop")" \
    "instances after identical resends"
assert_eq 1 "$(find_dimse -S -k QueryRetrieveLevel=STUDY -k StudyInstanceUID="$study" \
    -k NumberOfStudyRelatedInstances | sed -n 's/.*(0020,1208) IS \[\([0-9]*\).*/\1/p')" \
    "NumberOfStudyRelatedInstances after identical resends"

# A changed resend: the same SOP Instance UID with another description.
cp "$f" "$WORK/changed.dcm"
timeout 60 dcmodify -nb -q -m "(0008,1030)=CORRECTED REPORT" "$WORK/changed.dcm" || fail dcmodify
store "$WORK/changed.dcm" || fail "changed resend"
now=$(objects)
assert_eq 1 "$(echo "$now" | wc -l | tr -d ' ')" "objects after the changed resend"
[ "$now" != "$first" ] || fail "the changed resend kept the old object"
[ ! -e "$first" ] || fail "the old object $first was not swept"
assert_eq 1 "$(count_matches -S -k QueryRetrieveLevel=IMAGE -k SOPInstanceUID="$sop")" \
    "instances after the changed resend"
out=$(find_dimse -S -k QueryRetrieveLevel=STUDY -k StudyInstanceUID="$study" \
    -k StudyDescription -k NumberOfStudyRelatedInstances)
echo "$out" | grep -q "CORRECTED REPORT" || fail "the index still has the old description: $out"
dataset_of "$now" >"$WORK/stored.bin"
dataset_of "$WORK/changed.dcm" >"$WORK/sent.bin"
cmp -s "$WORK/stored.bin" "$WORK/sent.bin" || fail "the stored dataset differs from the resent one"

# Back to the first version: replaced again, and the store holds exactly one object.
store "$f" || fail "second changed resend"
assert_eq "$first" "$(objects)" "objects after going back to the first version"
assert_eq 0 "$(tmp_files)" "temporary files left"

# A stored copy that went bad on disk (one flipped byte, same size) is repaired by a resend of
# the identical instance rather than kept because its name and size match.
stop_pacsd
python3 -c 'import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0xFF
open(p, "wb").write(b)' "$first"
"$PACS" --data "$DATA" verify >"$WORK/verify.log" 2>&1 && fail "pacs verify missed the flipped byte"
start_pacsd
store "$f" || fail "resend after corruption"
assert_eq "$first" "$(objects)" "objects after repairing the corrupt copy"
stop_pacsd
"$PACS" --data "$DATA" verify >"$WORK/verify.log" || fail "pacs verify: $(cat "$WORK/verify.log")"
pass
