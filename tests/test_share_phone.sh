#!/bin/sh
# SPDX-License-Identifier: MIT
# The share link on a patient's phone (issue 18), with DICOMweb closed to anyone without
# credentials (http.auth = required). A small two-series CT from pacs-gen gets a final report:
# a Basic Text SR made with DCMTK's xml2dsr, in Vietnamese. With curl: the page and what it
# loads with the token carry Cache-Control: no-store and Referrer-Policy: no-referrer; the page
# runs only its own inline script (a hash in its Content-Security-Policy) and is well under
# 50 KB compressed; a study without a report shows none. In Debian's headless Chromium with
# touch emulation, on a 412x915 phone at device scale 2.6 and on a 360x640 one
# (tests/node/phone_test.js): the page lists the series and the report's text, a tap opens a
# slice across the screen with every image of the series listed (QIDO paged: at most 5 results
# a request here), a swipe changes the slice, a preset changes the window, pinch and
# double tap zoom and reset, the slice saves as a JPEG. Last, with the log at DEBUG, no token
# is in pacsd's log or the audit trail. Screenshots: $ARTIFACT_DIR/test_share_phone/.
. "$SRC/tests/lib.sh"

: "${PACS:?PACS must point to the pacs tool}"
: "${PACS_GEN:?PACS_GEN must point to pacs-gen}"
[ -x /usr/bin/chromium ] || fail "Debian's chromium is not installed (scripts/deps.sh installs it)"
command -v npm >/dev/null 2>&1 || fail "npm is not installed (scripts/deps.sh installs it)"
command -v xml2dsr >/dev/null 2>&1 || fail "DCMTK's xml2dsr is not installed (dcmtk)"
if ! "$PACSD" --help-config 2>/dev/null | grep -q '^http\.auth '; then
    echo "SKIP [$TEST_NAME]: this pacsd has no http.auth (DICOMweb authentication)"
    exit 77
fi
ART=${ARTIFACT_DIR:-$WORK/artifacts}/test_share_phone
mkdir -p "$ART" "$WORK/node"
rm -f "$ART"/*.png "$ART"/*.jpg
cp "$SRC/tests/node/package.json" "$SRC/tests/node/package-lock.json" \
    "$SRC/tests/node/phone_test.js" "$WORK/node/"
(cd "$WORK/node" && timeout 300 npm ci --no-audit --no-fund --loglevel=error >npm.log 2>&1) ||
    fail "npm ci failed: $(tail -5 "$WORK/node/npm.log")"

"$PACS_GEN" --out "$WORK/a" --seed 3 --studies 1 --series 2 --slices 16 >"$WORK/gen.log" 2>&1 ||
    fail "pacs-gen failed: $(tail -2 "$WORK/gen.log")"
col() { awk -F'\t' -v c="$1" 'NR == 2 { print $c }' "$WORK/a/manifest.tsv"; }
A=$(col 2)
A_PID=$(col 3)
A_NAME=$(col 4)
A_FILE=$(find "$WORK/a" -name '*.dcm' | sort | head -1)
A_DATE=$(dcm_value "$A_FILE" 0008,0020)
A_DESC=$(dcm_value "$A_FILE" 0008,1030)
[ -n "$A" ] && [ -n "$A_PID" ] && [ -n "$A_DATE" ] || fail "pacs-gen's output is not as expected"

# The final report: a Basic Text SR in the study, signed (COMPLETE, VERIFIED), in UTF-8.
FINDING="Cột sống thắt lưng không thấy tổn thương khu trú."
IMPRESSION="Bình thường."
code_item() { # value designator meaning
    echo "<concept><value>$1</value><scheme><designator>$2</designator></scheme><meaning>$3</meaning></concept>"
}
text_item() { # value designator meaning text
    echo "<text><relationship>CONTAINS</relationship>$(code_item "$1" "$2" "$3")<value>$4</value></text>"
}
cat >"$WORK/sr.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<report type="Basic Text SR">
<sopclass uid="1.2.840.10008.5.1.4.1.1.88.11">BasicTextSRStorage</sopclass>
<charset>ISO_IR 192</charset>
<modality>SR</modality>
<patient><id>$A_PID</id><name><last>${A_NAME%%^*}</last><first>${A_NAME#*^}</first></name></patient>
<study uid="$A"><date>$(echo "$A_DATE" | sed 's/\(....\)\(..\)\(..\)/\1-\2-\3/')</date><description>$A_DESC</description></study>
<series uid="$A.990"><number>990</number></series>
<instance uid="$A.990.1"><number>1</number></instance>
<document>
<completion flag="COMPLETE"/>
<verification flag="VERIFIED"><observer pos="1"><datetime>2024-05-02T10:00:00</datetime>
<name><last>Trần</last><first>Văn Bình</first></name><organization>Bệnh viện tỉnh</organization></observer>
</verification>
<content><date>2024-05-02</date><time>10:00:00</time>
<container flag="SEPARATE">$(code_item 18748-4 LN "Diagnostic Imaging Report")
<container flag="SEPARATE"><relationship>CONTAINS</relationship>$(code_item 121070 DCM Findings)
$(text_item 121071 DCM Finding "$FINDING")</container>
<container flag="SEPARATE"><relationship>CONTAINS</relationship>$(code_item 121072 DCM Impression)
$(text_item 121073 DCM Impression "$IMPRESSION")</container>
</container></content>
</document>
</report>
EOF
xml2dsr "$WORK/sr.xml" "$WORK/sr.dcm" >"$WORK/sr.log" 2>&1 || fail "xml2dsr: $(cat "$WORK/sr.log")"
dsrdump "$WORK/sr.dcm" 2>/dev/null | grep -q "Verification Flag *: VERIFIED" || fail "the SR is not verified"

# Another patient's study, without a report.
C=1.2.826.0.1.3680043.10.1347.92.1
cp "$SAMPLES/test_files/CT_small.dcm" "$WORK/c.dcm"
dcmodify -nb -gin -m "(0020,000d)=$C" "$WORK/c.dcm" >/dev/null 2>&1 || fail "dcmodify failed"

KEY=admin-secret-for-this-test
KEY_HASH=$(printf %s "$KEY" | sha256sum | cut -d' ' -f1)
# QIDO answers at most 5 results a request here: the viewer must page through a series' list.
start_pacsd --set http.auth=required --set "auth.key.admin=sha256:$KEY_HASH read" --set log.level=debug \
    --set dicomweb.max_results=5
S="http://127.0.0.1:$HTTP_PORT"
D="$S/dicomweb"
store +sd "$(dirname "$A_FILE")" "$WORK/sr.dcm" "$WORK/c.dcm" >"$WORK/store.log" 2>&1 ||
    fail "storing failed: $(tail -3 "$WORK/store.log")"
share() {
    "$PACS" --data "$DATA" --set "http.public_url=$D" share "$@" 2>"$WORK/share.err" ||
        fail "pacs share $*: $(cat "$WORK/share.err")"
}
LINK=$(share "$A" --days 7)
TOKEN=${LINK##*/}
[ "${#TOKEN}" = 40 ] || fail "pacs share printed '$LINK'"

# ---- the page, with curl ----
header() { sed -n "s/^$1: //Ip" "$WORK/h" | tr -d '\r' | head -1; }
curl -s -D "$WORK/h" -o "$WORK/page" "$LINK" || fail "curl $LINK"
head -1 "$WORK/h" | grep -q ' 200 ' || fail "share page: $(head -1 "$WORK/h")"
assert_eq no-store "$(header Cache-Control)" "the page's Cache-Control"
assert_eq no-referrer "$(header Referrer-Policy)" "the page's Referrer-Policy"
CSP=$(header Content-Security-Policy)
echo "$CSP" | grep -q "default-src 'none'; script-src 'sha256-[A-Za-z0-9+/=]*';" ||
    fail "the page's scripts are not limited to its own inline one: $CSP"
echo "$CSP" | grep -q "unsafe" && fail "the page's CSP allows unsafe sources: $CSP"
grep -q '<script src\|<link rel="stylesheet"\|https\?://' "$WORK/page" &&
    fail "the page loads a script, a style or anything from another site"
for se in $(find "$WORK/a" -name '*.dcm' -exec dcmdump +P 0020,000e {} \; | sed 's/.*\[\(.*\)\].*/\1/' | sort -u); do
    grep -q "data-series=\"$se\"" "$WORK/page" || fail "the page does not list series $se"
done
grep -q "$FINDING" "$WORK/page" || fail "the page does not show the report's text"
grep -q "Trần Văn Bình" "$WORK/page" || fail "the page does not say who signed the report"
ZBYTES=$(curl -s -H 'Accept-Encoding: gzip' "$LINK" | wc -c)
[ "$ZBYTES" -lt 51200 ] || fail "the page, script and style are $ZBYTES bytes compressed (goal: under 50 KB)"
echo "the page with its script and style: $(wc -c <"$WORK/page") bytes, $ZBYTES compressed"

# What the page loads with the token: a thumbnail (cookie), a slice (Bearer); never cached.
SE=$(sed -n 's/.*data-series="\([0-9.]*\)" data-mid="\([0-9.]*\)".*/\1 \2/p' "$WORK/page" | head -1)
MID=${SE#* }
SE=${SE%% *}
curl -s -D "$WORK/h" -o "$WORK/thumb" -H "Cookie: pacs_share=$TOKEN" "$D/studies/$A/series/$SE/thumbnail?viewport=256,256"
head -1 "$WORK/h" | grep -q ' 200 ' || fail "thumbnail with the cookie: $(head -1 "$WORK/h")"
assert_eq no-store "$(header Cache-Control)" "the thumbnail's Cache-Control"
assert_eq no-referrer "$(header Referrer-Policy)" "the thumbnail's Referrer-Policy"
curl -s -D "$WORK/h" -o "$WORK/slice" -H "Authorization: Bearer $TOKEN" \
    "$D/studies/$A/series/$SE/instances/$MID/frames/1/rendered?viewport=512,512&quality=85"
head -1 "$WORK/h" | grep -q ' 200 ' || fail "a slice with the token: $(head -1 "$WORK/h")"
assert_eq no-store "$(header Cache-Control)" "the slice's Cache-Control"
assert_eq image/jpeg "$(header Content-Type)" "the slice's type"

C_LINK=$(share "$C" --days 1)
curl -s -o "$WORK/cpage" "$C_LINK" || fail "curl $C_LINK"
grep -q 'data-series=' "$WORK/cpage" || fail "the second study's page lists no series"
grep -q 'class="rp"' "$WORK/cpage" && fail "a study without a report shows one"
grep -q "$A\|$FINDING" "$WORK/cpage" && fail "the second study's page tells of the first"

# ---- on two phones ----
(cd "$WORK/node" && timeout 500 node phone_test.js page "$LINK" "$ART" 2 "$IMPRESSION" "${A_NAME#*^}") \
    >"$WORK/phone.log" 2>&1 || fail "the page on a phone: $(tail -15 "$WORK/phone.log")"
cat "$WORK/phone.log"

# ---- the token is in no log ----
grep -q 'GET /share status=200' "$WORK/pacsd.log" ||
    fail "pacsd logged no share page request at DEBUG: the log check below would prove nothing"
grep -F -- "$TOKEN" "$WORK/pacsd.log" "$DATA"/audit/*.jsonl >/dev/null 2>&1 &&
    fail "a share token is in pacsd's log or the audit trail"
grep -F -- "${C_LINK##*/}" "$WORK/pacsd.log" "$DATA"/audit/*.jsonl >/dev/null 2>&1 &&
    fail "a share token is in pacsd's log or the audit trail"
pass
