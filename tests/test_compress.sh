#!/bin/sh
# SPDX-License-Identifier: MIT
# Compression at rest (issue 21, storage/compress.h). pydicom's samples in several syntaxes
# (explicit, implicit and big-endian LE, RLE, JPEG 2000 lossless, RGB, multi-frame; JPEG-LS
# already; lossy JPEG that must be left alone) and a CT series from pacs-gen are stored; before
# and after `pacs compress` (while pacsd runs) every instance is fetched in Explicit VR Little
# Endian over WADO-RS and C-GET, and the native ones in their own syntax, and the pixel data
# bytes must be identical; the objects are smaller, the compressible instances are stored as
# JPEG-LS, the lossy ones are byte for byte as before, `pacs verify` is clean, WADO-URI still
# answers. Then pacsd's background job, slowed by compress.rate, is killed with SIGKILL in the
# middle of its passes, round after round; after each restart every instance is retrievable
# with the same pixels and `pacs verify` is clean; a last pass shows the bytes saved in
# /metrics and the audit trail.
. "$SRC/tests/lib.sh"
: "${PACS:?PACS must point to the pacs tool}"
: "${PACS_GEN:?PACS_GEN must point to pacs-gen}"
T=$SAMPLES/test_files
JLS=1.2.840.10008.1.2.4.80
pacs() { timeout 300 "$PACS" --data "$DATA" ${PACS_INDEX:+--set "index=$PACS_INDEX"} "$@"; }
RULE="--set compress.modalities=* --set compress.after_days=0"

# The samples, each with a SOP Instance UID of its own (several share pydicom's MR's).
mkdir -p "$WORK/in"
for f in CT_small MR_small MR_small_implicit MR_small_bigendian MR_small_RLE \
    MR_small_jp2klossless MR_small_jpeg_ls_lossless SC_rgb_small_odd SC_rgb_rle_2frame JPEG-lossy \
    SC_rgb_jpeg_dcmtk; do
    cp "$T/$f.dcm" "$WORK/in/$f.dcm"
done
chmod u+w "$WORK"/in/*.dcm
timeout 120 dcmodify -nb -q -gin "$WORK"/in/*.dcm || fail "dcmodify"
timeout 300 "$PACS_GEN" --out "$WORK/gen" --studies 1 --slices 12 --matrix 256 >/dev/null ||
    fail "pacs-gen"

start_pacsd
send_as_is "$WORK"/in/*.dcm >"$WORK/send.log" 2>&1 || fail "dcmsend: $(tail -5 "$WORK/send.log")"
find "$WORK/gen" -type f -name '*.dcm' | sort >"$WORK/gen.list"
[ "$(wc -l <"$WORK/gen.list")" -eq 12 ] || fail "pacs-gen wrote $(wc -l <"$WORK/gen.list") files"
store $(cat "$WORK/gen.list") >"$WORK/store.log" 2>&1 || fail "storescu: $(tail -5 "$WORK/store.log")"
N=$((11 + 12))
assert_eq "$N" "$(image_uids | wc -l | tr -d ' ')" "instances stored"

b() { echo "http://127.0.0.1:$HTTP_PORT/dicomweb"; }
# "SOP TS sha256(PixelData)" per instance of a multipart/related body or of DICOM files.
pixsums() { # multipart-file | files...
    /usr/bin/python3 - "$@" <<'PY'
import hashlib, io, re, sys
import pydicom
def parts(path):
    d = open(path, "rb").read()
    m = re.match(rb"--([^\r\n]+)\r\n", d)
    for p in d.split(b"--" + m.group(1))[1:-1]:
        yield p[2:-2].partition(b"\r\n\r\n")[2]
args = sys.argv[1:]
blobs = list(parts(args[0])) if args[0].endswith(".multipart") else [open(a, "rb").read() for a in args]
out = []
for b in blobs:
    ds = pydicom.dcmread(io.BytesIO(b))
    px = ds.get("PixelData")
    h = hashlib.sha256(px).hexdigest() if px else "none"
    out.append(f"{ds.SOPInstanceUID} {ds.file_meta.TransferSyntaxUID} {h}")
print("\n".join(sorted(out)))
PY
}
studies() {
    find_dimse -S -k QueryRetrieveLevel=STUDY -k StudyInstanceUID |
        sed -n 's/.*(0020,000d) UI \[\([0-9.]*\).*/\1/p' | sort
}
# Every instance over WADO-RS in syntax $2 ("*": as stored), as "SOP TS sum" lines in file $1.
wado_all() { # out ts
    : >"$1"
    for st in $(studies); do
        curl -sf -o "$WORK/w.multipart" "$(b)/studies/$st" \
            -H "Accept: multipart/related; type=\"application/dicom\"; transfer-syntax=$2" ||
            fail "WADO-RS of study $st in $2"
        pixsums "$WORK/w.multipart" >>"$1"
    done
    sort -o "$1" "$1"
}
# Every instance over C-GET, accepting Explicit VR Little Endian only.
cget_all() { # out
    rm -rf "$WORK/get"
    for st in $(studies); do
        get_into "$WORK/get" +xe -S -k QueryRetrieveLevel=STUDY -k StudyInstanceUID="$st" \
            >"$WORK/get.log" || fail "getscu: $(tail -5 "$WORK/get.log")"
    done
    pixsums "$WORK"/get/* | sort >"$1"
}
# Samples in their own syntax (implicit LE, explicit LE, RLE): "SOP TS sum".
own_syntax() { # out
    : >"$1"
    for f in MR_small_implicit CT_small MR_small_RLE; do
        sop=$(uid_value "$WORK/in/$f.dcm" 0008,0018)
        st=$(uid_value "$WORK/in/$f.dcm" 0020,000d)
        se=$(uid_value "$WORK/in/$f.dcm" 0020,000e)
        ts=$(file_ts "$WORK/in/$f.dcm")
        curl -sf -o "$WORK/o.multipart" "$(b)/studies/$st/series/$se/instances/$sop" \
            -H "Accept: multipart/related; type=\"application/dicom\"; transfer-syntax=$ts" ||
            fail "WADO-RS of $f in $ts"
        if [ "$f" = MR_small_RLE ]; then
            # Two RLE encoders may segment differently: the pixels are what dcmdrle decodes.
            /usr/bin/python3 -c 'import re, sys
d = open(sys.argv[1], "rb").read()
b = re.match(rb"--([^\r\n]+)\r\n", d).group(1)
open(sys.argv[2], "wb").write(d.split(b"--" + b)[1][2:-2].partition(b"\r\n\r\n")[2])' \
                "$WORK/o.multipart" "$WORK/o.dcm"
            [ "$(file_ts "$WORK/o.dcm")" = 1.2.840.10008.1.2.5 ] || fail "$f not served as RLE"
            timeout 60 dcmdrle "$WORK/o.dcm" "$WORK/o.le.dcm" || fail "dcmdrle $f"
            pixsums "$WORK/o.le.dcm" >>"$1"
        else
            pixsums "$WORK/o.multipart" >>"$1"
        fi
    done
}
stored_bytes() { pacs stats | sed -n 's/^bytes: \([0-9]*\).*/\1/p'; }
verify_clean() { # what
    pacs verify >"$WORK/verify.log" 2>&1 || fail "pacs verify $1: $(cat "$WORK/verify.log")"
}

wado_all "$WORK/le.before" 1.2.840.10008.1.2.1
wado_all "$WORK/stored.before" '*'
cget_all "$WORK/get.before"
own_syntax "$WORK/own.before"
[ "$(wc -l <"$WORK/le.before")" -eq "$N" ] || fail "WADO-RS returned $(wc -l <"$WORK/le.before") instances"
[ "$(wc -l <"$WORK/get.before")" -eq "$N" ] || fail "C-GET returned $(wc -l <"$WORK/get.before") instances"
grep -q " $JLS " "$WORK/le.before" && fail "explicit LE asked, JPEG-LS served"
BYTES0=$(stored_bytes)

# A dry run changes nothing and says what it would save.
pacs compress --dry-run $RULE --set compress.rate=0 >"$WORK/dry.out" 2>&1 ||
    fail "pacs compress --dry-run: $(cat "$WORK/dry.out")"
grep -q '^would compress: ' "$WORK/dry.out" || fail "dry run summary: $(cat "$WORK/dry.out")"
assert_eq "$BYTES0" "$(stored_bytes)" "bytes stored after a dry run"
wado_all "$WORK/stored.dry" '*'
cmp -s "$WORK/stored.before" "$WORK/stored.dry" || fail "a dry run changed what is stored"

# The real pass, while pacsd runs.
pacs compress $RULE --set compress.rate=0 >"$WORK/run.out" 2>&1 ||
    fail "pacs compress: $(cat "$WORK/run.out")"
cat "$WORK/run.out"
DONE=$(sed -n 's/^compressed: \([0-9]*\) of.*/\1/p' "$WORK/run.out")
[ "${DONE:-0}" -ge 12 ] || fail "only ${DONE:-0} instances compressed: $(cat "$WORK/run.out")"
SAVED=$(sed -n 's/^bytes: .* \([0-9]*\) saved.*/\1/p' "$WORK/run.out")
BYTES1=$(stored_bytes)
[ "$BYTES1" -lt "$BYTES0" ] || fail "objects not smaller: $BYTES0 -> $BYTES1 bytes"
assert_eq "$((BYTES0 - BYTES1))" "$SAVED" "bytes saved as reported and as counted by pacs stats"
verify_clean "after compressing"

wado_all "$WORK/stored.after" '*'
# Every generated CT slice and the CT and MR samples are JPEG-LS now.
for f in CT_small MR_small MR_small_implicit MR_small_bigendian MR_small_RLE; do
    sop=$(uid_value "$WORK/in/$f.dcm" 0008,0018)
    grep -q "^$sop $JLS " "$WORK/stored.after" || fail "$f not stored as JPEG-LS: $(grep "^$sop " "$WORK/stored.after")"
done
for sop in $(file_uids $(cat "$WORK/gen.list")); do
    grep -q "^$sop $JLS " "$WORK/stored.after" || fail "generated CT slice $sop not JPEG-LS"
done
# Lossy originals are left alone: the same syntax and the same pixel data bytes.
for f in JPEG-lossy SC_rgb_jpeg_dcmtk; do
    sop=$(uid_value "$WORK/in/$f.dcm" 0008,0018)
    assert_eq "$(grep "^$sop " "$WORK/stored.before")" "$(grep "^$sop " "$WORK/stored.after")" \
        "lossy $f as stored"
done
pacs compress --dry-run --verbose $RULE --set compress.rate=0 >"$WORK/dry2.out" 2>&1 ||
    fail "pacs compress --dry-run --verbose: $(cat "$WORK/dry2.out")"
for f in JPEG-lossy SC_rgb_jpeg_dcmtk; do
    grep -q "skipped $(uid_value "$WORK/in/$f.dcm" 0008,0018): stored in a lossy" "$WORK/dry2.out" ||
        fail "$f not named as skipped for its lossy syntax: $(cat "$WORK/dry2.out")"
done

# The same pixels for clients that asked for a syntax.
wado_all "$WORK/le.after" 1.2.840.10008.1.2.1
cmp -s "$WORK/le.before" "$WORK/le.after" ||
    fail "WADO-RS explicit LE pixels differ: $(diff "$WORK/le.before" "$WORK/le.after" | head -5)"
cget_all "$WORK/get.after"
cmp -s "$WORK/get.before" "$WORK/get.after" ||
    fail "C-GET explicit LE pixels differ: $(diff "$WORK/get.before" "$WORK/get.after" | head -5)"
own_syntax "$WORK/own.after"
cmp -s "$WORK/own.before" "$WORK/own.after" ||
    fail "pixels in the original syntax differ: $(diff "$WORK/own.before" "$WORK/own.after")"

# WADO-URI still answers for a compressed instance: the object and a rendered JPEG.
f=$WORK/in/CT_small.dcm
U="$(b)/wado?requestType=WADO&studyUID=$(uid_value "$f" 0020,000d)&seriesUID=$(uid_value "$f" 0020,000e)&objectUID=$(uid_value "$f" 0008,0018)"
curl -sf -o "$WORK/uri.dcm" "$U&contentType=application/dicom" || fail "WADO-URI application/dicom"
[ "$(pixsums "$WORK/uri.dcm" | cut -d' ' -f3)" = "$(grep "^$(uid_value "$f" 0008,0018) " "$WORK/le.before" | cut -d' ' -f3)" ] ||
    [ "$(file_ts "$WORK/uri.dcm")" = "$JLS" ] || fail "WADO-URI object neither as stored nor the same pixels"
# Asked for explicit VR little endian, WADO-URI transcodes the compressed object back: the
# same pixels as before compression.
curl -sf -o "$WORK/uri.le.dcm" "$U&contentType=application/dicom&transferSyntax=1.2.840.10008.1.2.1" ||
    fail "WADO-URI transferSyntax=explicit LE of a compressed instance"
[ "$(file_ts "$WORK/uri.le.dcm")" = 1.2.840.10008.1.2.1 ] ||
    fail "WADO-URI transferSyntax: got $(file_ts "$WORK/uri.le.dcm")"
[ "$(pixsums "$WORK/uri.le.dcm" | cut -d' ' -f3)" = "$(grep "^$(uid_value "$f" 0008,0018) " "$WORK/le.before" | cut -d' ' -f3)" ] ||
    fail "WADO-URI transferSyntax: pixels differ from before compression"
curl -sf -o "$WORK/uri.jpg" "$U&contentType=image/jpeg" || fail "WADO-URI image/jpeg"
[ "$(head -c 2 "$WORK/uri.jpg" | od -An -tx1 | tr -d ' ')" = ffd8 ] || fail "WADO-URI: not a JPEG"

# A second pass has nothing left to do.
pacs compress $RULE --set compress.rate=0 >"$WORK/run2.out" 2>&1 ||
    fail "second pass: $(cat "$WORK/run2.out")"
grep -q '^compressed: 0 of' "$WORK/run2.out" || fail "second pass: $(cat "$WORK/run2.out")"

# ---- The background job, killed with SIGKILL while it works ----
stop_pacsd
gen2() { timeout 300 "$PACS_GEN" --out "$WORK/gen2" --seed 7 --studies 1 --slices 16 --matrix 256 >/dev/null; }
gen2 || fail "pacs-gen (second study)"
start_pacsd
store $(find "$WORK/gen2" -type f -name '*.dcm' | sort) >"$WORK/store2.log" 2>&1 ||
    fail "storescu: $(tail -5 "$WORK/store2.log")"
N=$((N + 16))
wado_all "$WORK/le2.before" 1.2.840.10008.1.2.1
stop_pacsd
metric() { curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
# 120 a minute: one instance each half second, so the kill lands in the middle of a pass.
round=1
while [ "$round" -le 3 ]; do
    start_pacsd --set compress.enabled=true $RULE --set compress.rate=120 --set compress.interval=1
    timeout 60 sh -c 'until [ "$(curl -sf "http://127.0.0.1:$1/metrics" |
        awk "\$1 == \"pacs_compress_instances_total\" { print \$2 }")" -ge 1 ] 2>/dev/null; do
        sleep 0.05; done' _ "$HTTP_PORT" || fail "round $round: the background job compressed nothing"
    sleep "0.$(od -An -N1 -tu1 /dev/urandom | tr -d ' ' | cut -c1)"
    kill9_pacsd
    start_pacsd
    assert_eq "$N" "$(image_uids | wc -l | tr -d ' ')" "round $round: instances after the kill"
    wado_all "$WORK/le2.after" 1.2.840.10008.1.2.1
    cmp -s "$WORK/le2.before" "$WORK/le2.after" ||
        fail "round $round: pixels differ after the kill: $(diff "$WORK/le2.before" "$WORK/le2.after" | head -5)"
    verify_clean "after the kill of round $round"
    stop_pacsd
    round=$((round + 1))
done

# A last pass, undisturbed: the bytes saved in /metrics, the log line and the audit trail.
start_pacsd --set compress.enabled=true $RULE --set compress.rate=0 --set compress.interval=1
timeout 120 sh -c 'until grep -q "compress.*pass examined=.*compressed=[1-9].* saved=[1-9]" "$1"
    do sleep 0.1; done' _ "$WORK/pacsd.log" || fail "no log line of a pass that saved bytes"
SAVEDM=$(metric pacs_compress_saved_bytes_total)
[ "${SAVEDM:-0}" -gt 0 ] || fail "pacs_compress_saved_bytes_total in /metrics: '${SAVEDM:-}'"
LOGGED=$(sed -n 's/.*pass examined=.* saved=\([0-9]*\) .*/\1/p' "$WORK/pacsd.log" | tail -1)
assert_eq "$LOGGED" "$SAVEDM" "bytes saved in the log line and in /metrics"
wado_all "$WORK/stored.end" '*'
[ "$(grep -c " $JLS " "$WORK/stored.end")" -ge $((12 + 16 + 5)) ] ||
    fail "not every compressible instance is JPEG-LS at the end"
wado_all "$WORK/le2.end" 1.2.840.10008.1.2.1
cmp -s "$WORK/le2.before" "$WORK/le2.end" || fail "pixels differ at the end"
verify_clean "at the end"
pacs audit >"$WORK/audit.out" 2>&1 || fail "pacs audit"
grep -q '"action":"compress"' "$WORK/audit.out" || fail "no compress line in the audit trail"
pass
