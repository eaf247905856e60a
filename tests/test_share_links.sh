#!/bin/sh
# SPDX-License-Identifier: MIT
# Share links end to end (issue 9), with DICOMweb closed to anyone without credentials
# (http.auth = required): `pacs share` prints a link and draws it as a QR code that zbarimg
# decodes back to the link; the /share/{token} page names the patient (Vietnamese, escaped),
# the study date and description, and sets the share cookie (the page's phone viewer has a
# test of its own, test_share_phone); the token, as a Bearer token, a query parameter or the
# cookie, reads its own study and is refused on another study's QIDO, metadata, WADO and frame
# URLs; in Debian's headless Chromium on a phone-sized screen the page's OHIF button opens the
# study and a slice is drawn, and the bytes of that first screen are counted for a 300-slice
# CT stored uncompressed and one stored as JPEG-LS; an expired, a revoked and a rotated-out
# token are refused, on the page with the same answer as a made-up one.
# Screenshots: $ARTIFACT_DIR/test_share_links/.
. "$SRC/tests/lib.sh"

: "${PACS:?PACS must point to the pacs tool}"
: "${PACS_GEN:?PACS_GEN must point to pacs-gen}"
[ -x /usr/bin/chromium ] || fail "Debian's chromium is not installed (scripts/deps.sh installs it)"
command -v npm >/dev/null 2>&1 || fail "npm is not installed (scripts/deps.sh installs it)"
command -v zbarimg >/dev/null 2>&1 || fail "zbarimg is not installed (zbar-tools; scripts/deps.sh)"
# The checks on DICOMweb need its authentication (http/auth.h, http.auth); without it this
# build cannot refuse anything, so the test is skipped (ctest's SKIP_RETURN_CODE).
if ! "$PACSD" --help-config 2>/dev/null | grep -q '^http\.auth '; then
    echo "SKIP [$TEST_NAME]: this pacsd has no http.auth (DICOMweb authentication)"
    exit 77
fi
SITE=$(cd "$(dirname "$PACSD")/.." && pwd)/viewer
[ -f "$SITE/index.html" ] ||
    fail "the viewer is not installed in $SITE (the build installs it with npm: scripts/viewer.sh)"
ART=${ARTIFACT_DIR:-$WORK/artifacts}/test_share_links
mkdir -p "$ART" "$WORK/node"
rm -f "$ART"/*.png
cp "$SRC/tests/node/package.json" "$SRC/tests/node/package-lock.json" \
    "$SRC/tests/node/viewer_test.js" "$WORK/node/"
(cd "$WORK/node" && timeout 300 npm ci --no-audit --no-fund --loglevel=error >npm.log 2>&1) ||
    fail "npm ci failed: $(tail -5 "$WORK/node/npm.log")"

# Two 300-slice CTs (one uncompressed, one JPEG-LS) and a small one whose patient name needs
# escaping.
"$PACS_GEN" --out "$WORK/a" --seed 1 --studies 1 --slices 300 >"$WORK/gen.log" 2>&1 &&
    "$PACS_GEN" --out "$WORK/b" --seed 2 --studies 1 --slices 300 --ts jpeg-ls >>"$WORK/gen.log" 2>&1 ||
    fail "pacs-gen failed: $(tail -2 "$WORK/gen.log")"
col() { awk -F'\t' -v c="$2" 'NR == 2 { print $c }' "$WORK/$1/manifest.tsv"; }
A=$(col a 2)
B=$(col b 2)
A_NAME=$(col a 4)
B_NAME=$(col b 4)
A_DATE=$(col a 5)
A_FILE=$(find "$WORK/a" -name '*.dcm' | head -1)
B_FILE=$(find "$WORK/b" -name '*.dcm' | head -1)
A_DESC=$(dcm_value "$A_FILE" 0008,1030)
A_SERIES=$(dcm_value "$A_FILE" 0020,000e)
B_SERIES=$(dcm_value "$B_FILE" 0020,000e)
B_SOP=$(dcm_value "$B_FILE" 0008,0018)
[ -n "$A" ] && [ -n "$B" ] && [ "$A" != "$B" ] && [ -n "$B_SOP" ] && [ -n "$A_DESC" ] ||
    fail "pacs-gen's output is not as expected"
C=1.2.826.0.1.3680043.10.1347.91.1
cp "$SAMPLES/test_files/CT_small.dcm" "$WORK/c.dcm"
dcmodify -nb -gin -i "(0008,0005)=ISO_IR 192" -m "(0010,0010)=Lê^<b>Văn</b> & \"Tú\"" \
    -m "(0020,000d)=$C" -i "(0008,1030)=<script>alert(1)</script>" "$WORK/c.dcm" >/dev/null 2>&1 ||
    fail "dcmodify failed"

KEY=admin-secret-for-this-test
KEY_HASH=$(printf %s "$KEY" | sha256sum | cut -d' ' -f1)
start_pacsd --set http.auth=required --set "auth.key.admin=sha256:$KEY_HASH read"
S="http://127.0.0.1:$HTTP_PORT"
D="$S/dicomweb"
PACS_SET="--set http.public_url=$D"
store +sd "$(dirname "$A_FILE")" "$WORK/c.dcm" >"$WORK/store.log" 2>&1 &&
    send_as_is +sd "$(dirname "$B_FILE")" >>"$WORK/store.log" 2>&1 ||
    fail "storing failed: $(tail -3 "$WORK/store.log")"

# ---- pacs share, the QR code ----
share() { # study [options]: prints the link; the share id goes to $WORK/id
    "$PACS" --data "$DATA" $PACS_SET share "$@" 2>"$WORK/share.err" || fail "pacs share $*: $(cat "$WORK/share.err")"
    sed -n 's/^pacs: share \([A-Za-z0-9_-]*\) of study.*/\1/p' "$WORK/share.err" >"$WORK/id"
}
LINK=$(share "$A" --days 30 --qr "$WORK/qr.png")
case $LINK in
"$S/share/"*) ;;
*) fail "pacs share printed '$LINK', not a link under $S/share/" ;;
esac
TOKEN=${LINK##*/}
A_ID=$(cat "$WORK/id")
assert_eq 40 "${#TOKEN}" "token length"
assert_eq "$LINK" "$(timeout 30 zbarimg -q --raw "$WORK/qr.png" 2>/dev/null)" "the QR code decodes to the link"
# Sized to print: at least 4 cm at 300 dpi (472 px), with the PNG's own resolution saying so.
python3 - "$WORK/qr.png" <<'EOF' || fail "the QR PNG is not print-sized"
import struct, sys
d = open(sys.argv[1], 'rb').read()
w, h = struct.unpack('>II', d[16:24])
i = d.find(b'pHYs')
ppm = struct.unpack('>I', d[i + 4:i + 8])[0] if i > 0 else 0
assert w == h and w >= 472 and ppm == 11811, (w, h, ppm)
EOF
cp "$WORK/qr.png" "$ART/share-qr.png"
"$PACS" --data "$DATA" $PACS_SET share "$A" --qr - >"$WORK/qr.txt" 2>/dev/null || fail "pacs share --qr - failed"
[ "$(head -1 "$WORK/qr.txt" | grep -c '^http')" = 1 ] || fail "--qr - does not print the link first"
python3 -c 'import sys
rows = open(sys.argv[1], encoding="utf-8").read().splitlines()[1:]
assert len(rows) >= 15 and len({len(r) for r in rows}) == 1, "ragged"
assert set("".join(rows)) <= set(" \u2580\u2584\u2588"), "not half blocks"
assert abs(len(rows[0]) - 2 * len(rows)) <= 2, "not square"
# Drawn back as an image (blocks are light, as on a dark terminal), 6 pixels a module.
top = {" ": 0, "\u2580": 1, "\u2584": 0, "\u2588": 1}
bottom = {" ": 0, "\u2580": 0, "\u2584": 1, "\u2588": 1}
px = []
for r in rows:
    for half in (top, bottom):
        line = bytes(255 if half[c] else 0 for c in r for _ in range(6))
        px += [line] * 6
with open(sys.argv[2], "wb") as f:
    f.write(b"P5 %d %d 255\n" % (len(px[0]), len(px)) + b"".join(px))' "$WORK/qr.txt" "$WORK/qr.pgm" ||
    fail "the terminal QR code is not a square of UTF-8 half blocks"
assert_eq "$(head -1 "$WORK/qr.txt")" "$(timeout 30 zbarimg -q --raw "$WORK/qr.pgm" 2>/dev/null)" \
    "the terminal QR code decodes to its link"
"$PACS" --data "$DATA" share --list >"$WORK/list" || fail "pacs share --list failed"
grep -q "^$A_ID  active .* $A " "$WORK/list" || fail "pacs share --list: $(cat "$WORK/list")"
"$PACS" --data "$DATA" share 1.2.3.4.5.6 >/dev/null 2>&1 && fail "a share of a study that is not stored"

# ---- the share page ----
curl -s -D "$WORK/h" -o "$WORK/page" "$LINK" || fail "curl $LINK"
head -1 "$WORK/h" | grep -q ' 200 ' || fail "share page: $(head -1 "$WORK/h")"
grep -qi "^set-cookie: pacs_share=$TOKEN; Path=/; Max-Age=[0-9]*; HttpOnly; SameSite=Strict" "$WORK/h" ||
    fail "the share page does not set the share cookie: $(grep -i set-cookie "$WORK/h")"
A_SHOWN=$(printf %s "$A_NAME" | tr '^' ' ')
grep -q "<h1>$A_SHOWN</h1>" "$WORK/page" || fail "the share page does not name $A_SHOWN"
grep -q "$(echo "$A_DATE" | sed 's|\(....\)\(..\)\(..\)|\3/\2/\1|')" "$WORK/page" || fail "no study date"
grep -q "$A_DESC" "$WORK/page" || fail "no study description"
grep -q "href=\"/viewer/viewer?StudyInstanceUIDs=$A\"" "$WORK/page" || fail "no link to the viewer"
grep -q '<script src\|<link rel="stylesheet"\|url(\|https\?://' "$WORK/page" &&
    fail "the share page loads a script or style, or anything from another site"
C_LINK=$(share "$C" --days 1)
curl -s "$C_LINK" >"$WORK/cpage" || fail "curl $C_LINK"
grep -q '<h1>Lê &lt;b&gt;Văn&lt;/b&gt; &amp; &quot;Tú&quot;</h1>' "$WORK/cpage" ||
    fail "the patient name is not escaped: $(grep -o '<h1>.*</h1>' "$WORK/cpage")"
grep -q '&lt;script&gt;alert(1)&lt;/script&gt;' "$WORK/cpage" && ! grep -q '<script>alert' "$WORK/cpage" ||
    fail "the description is not escaped"

# ---- the token on DICOMweb: its own study, and nothing else ----
code() { curl -s -o "$WORK/body" -w '%{http_code}' "$@"; }
assert_eq 401 "$(code "$D/studies")" "QIDO without credentials"
for how in bearer query cookie; do
    case $how in
    bearer) set -- -H "Authorization: Bearer $TOKEN"; q="" ;;
    query) set --; q="token=$TOKEN&" ;;
    cookie) set -- -H "Cookie: pacs_share=$TOKEN"; q="" ;;
    esac
    assert_eq 200 "$(code "$@" "$D/studies?${q}StudyInstanceUID=$A")" "$how: QIDO of its study"
    grep -q "$A" "$WORK/body" || fail "$how: QIDO did not return its study"
    c=$(code "$@" "$D/studies?${q}limit=10")
    grep -q "$B" "$WORK/body" && fail "$how: QIDO of all studies shows another study ($c)"
    c=$(code "$@" "$D/studies?${q}StudyInstanceUID=$B")
    grep -q "$B" "$WORK/body" && fail "$how: QIDO for another study returned it ($c)"
    c=$(code "$@" "$D/studies/$B/series?${q}")
    grep -q "$B_SERIES" "$WORK/body" && fail "$how: QIDO of another study's series returned them ($c)"
    for u in "studies/$B/metadata" "studies/$B/series/$B_SERIES/metadata" \
        "studies/$B/series/$B_SERIES/instances/$B_SOP/frames/1" "studies/$B/series/$B_SERIES" \
        "studies/$B/series/$B_SERIES/instances/$B_SOP/rendered" "studies/$B/thumbnail"; do
        c=$(code "$@" -H 'Accept: */*' "$D/$u?${q}")
        case $c in
        401 | 403 | 404) ;;
        *) fail "$how: $u answered $c for a token of another study" ;;
        esac
    done
    c=$(code "$@" -H 'Accept: */*' "$D/wado?${q}requestType=WADO&studyUID=$B&seriesUID=$B_SERIES&objectUID=$B_SOP")
    case $c in
    401 | 403 | 404) ;;
    *) fail "$how: WADO-URI answered $c for a token of another study" ;;
    esac
    assert_eq 200 "$(code "$@" "$D/studies/$A/series/$A_SERIES/metadata?${q}")" "$how: its own metadata"
done
echo "the token reads its study and is refused on another's (Bearer, query parameter, cookie)"

# ---- in the browser, on a phone: the link opens the study; first-screen bytes ----
(cd "$WORK/node" && timeout 500 node viewer_test.js share "$LINK" "$A" "${A_NAME#*^}" "$ART") \
    >"$WORK/browser-a.log" 2>&1 || fail "share link in the browser: $(tail -15 "$WORK/browser-a.log")"
cat "$WORK/browser-a.log"
B_LINK=$(share "$B" --days 30)
mkdir -p "$ART/jpeg-ls"
(cd "$WORK/node" && timeout 500 node viewer_test.js share "$B_LINK" "$B" "${B_NAME#*^}" "$ART/jpeg-ls") \
    >"$WORK/browser-b.log" 2>&1 || fail "JPEG-LS share link in the browser: $(tail -15 "$WORK/browser-b.log")"
sed 's/^BYTES /BYTES (JPEG-LS) /' "$WORK/browser-b.log"
for s in share-page share-viewer jpeg-ls/share-viewer; do
    [ -s "$ART/$s.png" ] || fail "no screenshot $ART/$s.png"
done

# ---- refused tokens: expired, revoked, rotated out; the page tells none apart ----
refused() { # link what
    t=${1##*/}
    curl -s -D "$WORK/rh" -o "$WORK/rpage" "$1"
    head -1 "$WORK/rh" | grep -q ' 404 ' || fail "$2: the page answered $(head -1 "$WORK/rh")"
    grep -q 'not valid' "$WORK/rpage" || fail "$2: the page does not say the link is not valid"
    cmp -s "$WORK/rpage" "$WORK/bogus" || fail "$2: the page differs from a made-up token's"
    assert_eq 401 "$(code -H "Authorization: Bearer $t" "$D/studies?StudyInstanceUID=$A")" "$2: Bearer"
    assert_eq 401 "$(code "$D/studies?token=$t&StudyInstanceUID=$A")" "$2: query parameter"
    assert_eq 401 "$(code -H "Cookie: pacs_share=$t" "$D/studies/$A/metadata")" "$2: cookie"
}
curl -s -o "$WORK/bogus" "$S/share/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" || fail "curl"
grep -q 'not valid' "$WORK/bogus" || fail "a made-up token's page does not say the link is not valid"
grep -q "$A_NAME\|${A_NAME#*^}" "$WORK/bogus" && fail "a refused page names a patient"

E_LINK=$(share "$A" --seconds 2)
E_EXP=$(sed -n 's/.*(expires=\([0-9]*\)).*/\1/p' "$WORK/share.err")
[ -n "$E_EXP" ] || fail "pacs share did not say when the link expires"
timeout 30 sh -c 'until [ "$(date +%s)" -gt "$1" ]; do sleep 0.2; done' _ "$E_EXP" ||
    fail "the clock did not pass the expiry"
refused "$E_LINK" expired

R_LINK=$(share "$A" --days 30)
R_ID=$(cat "$WORK/id")
curl -s -o /dev/null -w '%{http_code}' "$R_LINK" | grep -q 200 || fail "a fresh link does not work"
"$PACS" --data "$DATA" share --revoke "$R_ID" 2>"$WORK/revoke.err" || fail "revoke: $(cat "$WORK/revoke.err")"
refused "$R_LINK" revoked
"$PACS" --data "$DATA" share --list | grep -q "^$R_ID  revoked " || fail "--list does not show the revocation"

grep -h '"share"' "$DATA"/audit/*.jsonl >"$WORK/audit" 2>/dev/null || true
grep -q -e "$A_ID" "$WORK/audit" && grep -q -e "$R_ID revoked" "$WORK/audit" ||
    fail "the audit trail lacks the share lines: $(head -3 "$WORK/audit")"

"$PACS" --data "$DATA" share --rotate-key 2>/dev/null || fail "rotate-key failed"
refused "$LINK" "rotated out"
pass
