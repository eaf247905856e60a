#!/bin/sh
# SPDX-License-Identifier: MIT
# Corrupt objects on disk: one stored object gets a bit flipped in its pixel data, another is
# cut short, as a failing disk or a careless hand might leave them. `pacs verify` (run while
# pacsd serves) names both, by object and SOP Instance UID, and exits non-zero; Storage
# Commitment refuses to commit them (failure reason 0x0110) while committing the rest; the
# other instances are still retrieved byte-identical. Resending the two instances repairs
# them without a restart: verify is clean again and they come back byte-identical.
. "$SRC/tests/lib.sh"
: "${COMMITSCU:?COMMITSCU must point to the commitscu test tool}"

STOW_TOOL="python3 $SRC/tests/tools/stow_tool.py"
make_ct_copies "$WORK/s" 4 own
start_pacsd
B="http://127.0.0.1:$HTTP_PORT/dicomweb"
store "$WORK"/s/*.dcm || fail "storing"

# The object holding a file's instance (found by its SOP Instance UID's bytes).
object_of() { # file
    grep -rl --fixed-strings "$(dcm_value "$1" 0008,0018)" "$DATA/objects" | head -1
}
flipped=$(object_of "$WORK/s/ct2.dcm")
cut=$(object_of "$WORK/s/ct3.dcm")
[ -n "$flipped" ] && [ -n "$cut" ] && [ "$flipped" != "$cut" ] || fail "objects not found"
python3 -c 'import sys
p = sys.argv[1]
d = bytearray(open(p, "rb").read())
d[len(d) - 1000] ^= 0x10  # a bit in the pixel data, near the end
open(p, "wb").write(d)' "$flipped"
size=$(wc -c <"$cut")
truncate -s $((size / 2)) "$cut"

# pacs verify names both, and only them.
if "$PACS" --data "$DATA" verify >"$WORK/verify.log" 2>&1; then
    fail "pacs verify passed over corrupt objects: $(cat "$WORK/verify.log")"
fi
cat "$WORK/verify.log"
for f in ct2 ct3; do
    uid=$(dcm_value "$WORK/s/$f.dcm" 0008,0018)
    obj=$(basename "$(object_of "$WORK/s/$f.dcm")")
    grep -q "^corrupt $obj sop=$uid: " "$WORK/verify.log" ||
        fail "pacs verify does not name $obj (sop $uid)"
done
assert_eq 2 "$(grep -c '^corrupt ' "$WORK/verify.log")" "objects verify calls corrupt"
grep -q ": 2 corrupt, 0 missing, 0 orphan" "$WORK/verify.log" || fail "verify summary"

# Storage Commitment commits the sound instances only.
timeout 60 "$COMMITSCU" --timeout 20 127.0.0.1 "$DIMSE_PORT" "$WORK"/s/*.dcm >"$WORK/commit" 2>&1 ||
    fail "commitscu: $(cat "$WORK/commit")"
for f in ct1 ct4; do
    grep -q "^committed .* $(dcm_value "$WORK/s/$f.dcm" 0008,0018)\$" "$WORK/commit" ||
        fail "$f should be committed: $(cat "$WORK/commit")"
done
for f in ct2 ct3; do
    grep -q "^failed .* $(dcm_value "$WORK/s/$f.dcm" 0008,0018) reason=0x0110\$" "$WORK/commit" ||
        fail "$f should fail commitment with 0x0110: $(cat "$WORK/commit")"
done
timeout 60 $STOW_TOOL check --url "$B" "$WORK/s/ct1.dcm" "$WORK/s/ct4.dcm" >"$WORK/check" ||
    fail "the sound instances: $(cat "$WORK/check")"

# A resend repairs them, without a restart.
store "$WORK/s/ct2.dcm" "$WORK/s/ct3.dcm" || fail "resending the damaged instances"
"$PACS" --data "$DATA" verify >"$WORK/verify2.log" 2>&1 ||
    fail "pacs verify after the resend: $(cat "$WORK/verify2.log")"
cat "$WORK/verify2.log"
timeout 60 $STOW_TOOL check --url "$B" "$WORK"/s/*.dcm >"$WORK/check2" ||
    fail "retrieving after the repair: $(cat "$WORK/check2")"
timeout 60 "$COMMITSCU" --timeout 20 127.0.0.1 "$DIMSE_PORT" "$WORK"/s/*.dcm >"$WORK/commit2" 2>&1 ||
    fail "commitscu after the repair"
assert_eq 4 "$(grep -c '^committed ' "$WORK/commit2")" "instances committed after the repair"
stop_pacsd
pass
