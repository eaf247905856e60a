#!/bin/sh
# SPDX-License-Identifier: MIT
# A real DICOMweb client against the real pacsd: the dicomweb-client npm package (what OHIF
# uses), run by Node, lists studies, reads metadata, a frame, an instance and bulk data
# (tests/node/client_test.js). Then, as a client that names no transfer syntax (issue 15): every
# compressed pydicom sample (RLE, JPEG, JPEG-LS, JPEG 2000), retrieved with retrieveInstance and
# its Pixel Data with retrieveBulkData (tests/node/compressed_test.js), comes back decompressed
# in Explicit VR Little Endian with the same pixels as the stored object decoded, a lossy one
# still marked LossyImageCompression 01; only an object no decoder reads fails, never with 406.
# The packages come from package-lock.json with `npm ci`.
. "$SRC/tests/lib.sh"
. "$SRC/tests/lib_dicomweb.sh"
: "${PACS:?PACS must point to the pacs binary}"

command -v node >/dev/null 2>&1 || fail "node is not installed (scripts/deps.sh installs it)"
command -v npm >/dev/null 2>&1 || fail "npm is not installed (scripts/deps.sh installs it)"
mkdir -p "$WORK/node"
cp "$SRC/tests/node/package.json" "$SRC/tests/node/package-lock.json" \
    "$SRC/tests/node/client_test.js" "$SRC/tests/node/compressed_test.js" "$WORK/node/"
(cd "$WORK/node" && timeout 300 npm ci --no-audit --no-fund --loglevel=error >npm.log 2>&1) ||
    fail "npm ci failed: $(tail -5 "$WORK/node/npm.log")"

start_pacsd
T="$SAMPLES/test_files"
store "$T/CT_small.dcm" "$T/MR_small.dcm" >"$WORK/store.log" 2>&1 ||
    fail "storescu failed: $(tail -3 "$WORK/store.log")"
timeout 120 node "$WORK/node/client_test.js" "http://127.0.0.1:$HTTP_PORT/dicomweb" \
    "$(dcm_value "$T/CT_small.dcm" 0020,000d)" "$(dcm_value "$T/CT_small.dcm" 0020,000e)" \
    "$(dcm_value "$T/CT_small.dcm" 0008,0018)" 128 128 2 || fail "dicomweb-client checks failed"

# -- every compressed sample, asked for with no transfer syntax --
B="http://127.0.0.1:$HTTP_PORT/dicomweb"
# A lossy JPEG without LossyImageCompression (PS3.3 C.7.6.1.1.5 wants it): still 01 decoded.
cp "$T/SC_rgb_jpeg_dcmtk.dcm" "$WORK/nolossy.dcm"
dcmodify -nb -ea "(0028,2110)" -m "(0008,0018)=$(new_uid)" "$WORK/nolossy.dcm" >/dev/null 2>&1 ||
    fail "dcmodify"
[ -z "$(dcm_value "$WORK/nolossy.dcm" 0028,2110)" ] || fail "LossyImageCompression still there"
list="$WORK/compressed.list"
: >"$list"
for f in "$T"/*.dcm "$WORK/nolossy.dcm"; do
    case "$(file_ts "$f")" in
    1.2.840.10008.1.2.5 | 1.2.840.10008.1.2.4.*) ;;
    *) continue ;;
    esac
    dcmdump -q "$f" 2>/dev/null | grep -q "^(7fe0,0010)" || continue
    # Several samples share a SOP Instance UID (the same MR in four syntaxes): each gets its
    # own, so that none replaces another (dcmodify leaves compressed pixel data as it is).
    copy="$WORK/copy-$(basename "$f")"
    cp "$f" "$copy"
    dcmodify -nb -m "(0008,0018)=$(new_uid)" "$copy" >/dev/null 2>&1 || cp "$f" "$copy"
    f=$copy
    stow_body PACSTEST "$WORK/stow" "$f"
    # Some samples are refused at ingest on purpose (invalid UIDs, not composite): skip those.
    case "$(stow_post "$B/studies" "$WORK/stow")" in
    200 | 202) ;; # 202: stored, with a warning
    *) echo "not stored: $f" && continue ;;
    esac
    echo "$f $(dcm_value "$f" 0020,000d) $(dcm_value "$f" 0020,000e) $(dcm_value "$f" 0008,0018)" >>"$list"
done
[ "$(wc -l <"$list")" -ge 25 ] || fail "only $(wc -l <"$list") compressed samples were stored"
mkdir "$WORK/got"
# shellcheck disable=SC2046
timeout 600 node "$WORK/node/compressed_test.js" "$B" "$WORK/got" $(cut -d' ' -f2- "$list") \
    >"$WORK/calls" || fail "compressed_test.js failed: $(tail -3 "$WORK/calls")"
assert_eq "$(($(wc -l <"$list") * 2))" "$(wc -l <"$WORK/calls")" "calls made"

# The frames of a file as `pacs render --raw` decodes them, back to back, into $2.
raw_frames() { # file out
    : >"$2"
    n=$(sed -n 's/.*frames=\([0-9]*\).*/\1/p' "$WORK/info")
    i=1
    while [ "$i" -le "$n" ]; do
        "$PACS" render "$1" --raw --frame "$i" -o "$WORK/frame.raw" 2>/dev/null || return 1
        cat "$WORK/frame.raw" >>"$2"
        i=$((i + 1))
    done
}

checked=0
while read -r f st se sop; do
    name=$(basename "$f" .dcm)
    ok_i=$(grep "\"sop\":\"$sop\",\"call\":\"retrieveInstance\"" "$WORK/calls")
    ok_b=$(grep "\"sop\":\"$sop\",\"call\":\"retrieveBulkData\"" "$WORK/calls")
    if ! "$PACS" render "$f" --info >"$WORK/info" 2>/dev/null ||
        ! raw_frames "$f" "$WORK/want.raw"; then
        # No decoder reads this object: an error, but not "not acceptable".
        for call in "$ok_i" "$ok_b"; do
            case "$call" in *'"ok":false'*) ;; *) fail "$name: undecodable, yet served: $call" ;; esac
            case "$call" in *'"status":406'*) fail "$name: 406 for an undecodable object" ;; esac
        done
        echo "undecodable, refused: $name"
        continue
    fi
    case "$ok_i" in *'"ok":true'*) ;; *) fail "$name: retrieveInstance: $ok_i" ;; esac
    case "$ok_b" in *'"ok":true'*) ;; *) fail "$name: retrieveBulkData: $ok_b" ;; esac
    got="$WORK/got/$sop.dcm"
    assert_eq 1.2.840.10008.1.2.1 "$(file_ts "$got")" "$name: transfer syntax retrieved"
    "$PACS" render "$got" --info >"$WORK/info" || fail "$name: the retrieved instance is unreadable"
    raw_frames "$got" "$WORK/got.raw" || fail "$name: pacs render cannot read what came back"
    cmp -s "$WORK/want.raw" "$WORK/got.raw" || fail "$name: retrieved pixels differ"
    cmp -s "$WORK/want.raw" "$WORK/got/$sop.bulk" || fail "$name: bulk data differs from the frames"
    case "$(file_ts "$f")" in
    1.2.840.10008.1.2.4.50 | 1.2.840.10008.1.2.4.51)
        assert_eq 01 "$(dcm_value "$got" 0028,2110)" "$name: LossyImageCompression" ;;
    *)
        [ "$(dcm_value "$f" 0028,2110)" != 01 ] ||
            assert_eq 01 "$(dcm_value "$got" 0028,2110)" "$name: LossyImageCompression" ;;
    esac
    assert_eq "$sop" "$(dcm_value "$got" 0008,0018)" "$name: SOP Instance UID"
    checked=$((checked + 1))
done <"$list"
[ "$checked" -ge 25 ] || fail "only $checked compressed samples were checked"
echo "$checked compressed samples retrieved decompressed by dicomweb-client"
pass
