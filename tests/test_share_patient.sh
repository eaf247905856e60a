#!/bin/sh
# SPDX-License-Identifier: MIT
# A patient's whole record behind one link (issue 18), with DICOMweb closed to anyone without
# credentials (http.auth = required). pacs-gen's world gives patient X two studies and patient
# Y one; a third study of X arrives after the links are made, and a study of someone else who
# carries X's PatientID under another issuer is stored too. `pacs share --patient X` (the
# studies stored now) and `--later` (those stored later too), and the same over HTTP
# (POST {prefix}/shares): each link's page lists exactly its studies; its token, as a Bearer
# token, a query parameter or the cookie, finds exactly those over QIDO at every level, reads
# each one's metadata, thumbnail, rendered image and instances (WADO-RS), and is
# refused on every other study's QIDO, metadata, WADO-RS, frames, rendered, thumbnails and
# WADO-URI with the answer a study that does not exist gets; it cannot store, delete or make
# shares. An ID used by two issuers needs the issuer named. In headless Chromium on a phone,
# the --later link's page shows the three studies and opens a slice of the last.
. "$SRC/tests/lib.sh"

: "${PACS:?PACS must point to the pacs tool}"
: "${PACS_GEN:?PACS_GEN must point to pacs-gen}"
[ -x /usr/bin/chromium ] || fail "Debian's chromium is not installed (scripts/deps.sh installs it)"
command -v npm >/dev/null 2>&1 || fail "npm is not installed (scripts/deps.sh installs it)"
if ! "$PACSD" --help-config 2>/dev/null | grep -q '^http\.auth '; then
    echo "SKIP [$TEST_NAME]: this pacsd has no http.auth (DICOMweb authentication)"
    exit 77
fi
ART=${ARTIFACT_DIR:-$WORK/artifacts}/test_share_patient
mkdir -p "$ART" "$WORK/node"
rm -f "$ART"/*.png
cp "$SRC/tests/node/package.json" "$SRC/tests/node/package-lock.json" \
    "$SRC/tests/node/phone_test.js" "$WORK/node/"
(cd "$WORK/node" && timeout 300 npm ci --no-audit --no-fund --loglevel=error >npm.log 2>&1) ||
    fail "npm ci failed: $(tail -5 "$WORK/node/npm.log")"

# Studies 0 and 1 of this world belong to one patient (X), study 2 to another (Y).
"$PACS_GEN" --out "$WORK/g" --seed 5 --studies 3 --slices 6 --matrix 256 >"$WORK/gen.log" 2>&1 ||
    fail "pacs-gen failed: $(tail -2 "$WORK/gen.log")"
row() { awk -F'\t' -v r="$1" -v c="$2" 'NR == r + 2 { print $c }' "$WORK/g/manifest.tsv"; }
A0=$(row 0 2)
A1=$(row 1 2)
B=$(row 2 2)
X=$(row 0 3)
[ "$X" = "$(row 1 3)" ] && [ "$X" != "$(row 2 3)" ] || fail "pacs-gen's world changed: $(cat "$WORK/g/manifest.tsv")"
A_FILE=$(find "$WORK/g/0000000" -name '*.dcm' | sort | head -1)
B_FILE=$(find "$WORK/g/0000002" -name '*.dcm' | sort | head -1)
B_SERIES=$(dcm_value "$B_FILE" 0020,000e)
B_SOP=$(dcm_value "$B_FILE" 0008,0018)
# X's third study, stored after the links are made; Z, someone else with X's ID under another
# issuer.
A3=1.2.826.0.1.3680043.10.1347.94.3
Z=1.2.826.0.1.3680043.10.1347.94.9
cp "$SAMPLES/test_files/CT_small.dcm" "$WORK/a3.dcm"
cp "$SAMPLES/test_files/CT_small.dcm" "$WORK/z.dcm"
dcmodify -nb -gin -m "(0010,0020)=$X" -i "(0010,0021)=$(dcm_value "$A_FILE" 0010,0021)" \
    -m "(0020,000d)=$A3" -m "(0020,000e)=$A3.1" -m "(0008,0018)=$A3.1.1" "$WORK/a3.dcm" >/dev/null 2>&1 &&
    dcmodify -nb -gin -m "(0010,0020)=$X" -i "(0010,0021)=BV-KHAC" -m "(0010,0010)=Khác^Người" \
        -m "(0020,000d)=$Z" -m "(0020,000e)=$Z.1" -m "(0008,0018)=$Z.1.1" "$WORK/z.dcm" >/dev/null 2>&1 ||
    fail "dcmodify failed"
Z_SERIES=$Z.1
Z_SOP=$Z.1.1

KEY=admin-secret-for-this-test
KEY_HASH=$(printf %s "$KEY" | sha256sum | cut -d' ' -f1)
start_pacsd --set http.auth=required --set "auth.key.admin=sha256:$KEY_HASH read share"
S="http://127.0.0.1:$HTTP_PORT"
D="$S/dicomweb"
for s in 0000000 0000001 0000002; do
    store +sd "$WORK/g/$s" >>"$WORK/store.log" 2>&1 || fail "storing failed: $(tail -3 "$WORK/store.log")"
done
share() {
    "$PACS" --data "$DATA" --set "http.public_url=$D" share "$@" 2>"$WORK/share.err" ||
        fail "pacs share $*: $(cat "$WORK/share.err")"
}
NOW=$(share --patient "$X" --days 3)
grep -q "of patient $X: 2 studies now" "$WORK/share.err" || fail "pacs share --patient: $(cat "$WORK/share.err")"
LATER=$(share --patient "$X" --later --days 3)
HTTP=$(curl -s -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
    -d "{\"patient\": \"$X\", \"later\": true, \"days\": 2}" "$D/shares")
HTTP=$(echo "$HTTP" | python3 -c 'import json, sys; d = json.load(sys.stdin); assert d["later"] is True and d["studies"] == 2, d; print(d["url"])') ||
    fail "POST /shares for a patient: $HTTP"
store "$WORK/a3.dcm" "$WORK/z.dcm" >>"$WORK/store.log" 2>&1 || fail "storing failed: $(tail -3 "$WORK/store.log")"

# Two issuers now use X's ID: the issuer must be named; unknown and pattern IDs are refused.
"$PACS" --data "$DATA" share --patient "$X" 2>"$WORK/err" && fail "a share of an ID two issuers use"
grep -q "several issuers" "$WORK/err" || fail "no reason given: $(cat "$WORK/err")"
"$PACS" --data "$DATA" share --patient NO-SUCH-ID 2>/dev/null && fail "a share of an unknown patient"
"$PACS" --data "$DATA" share --patient "$X*" 2>/dev/null && fail "a share of a patient ID pattern"
code() { curl -s -o "$WORK/body" -w '%{http_code}' "$@"; }
post() { code -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' -d "$1" "$D/shares"; }
assert_eq 400 "$(post "{\"patient\": \"$X\"}")" "POST /shares for an ID two issuers use"
assert_eq 404 "$(post '{"patient": "NO-SUCH-ID"}')" "POST /shares for an unknown patient"
assert_eq 400 "$(post "{\"patient\": \"$X*\"}")" "POST /shares for a pattern"
assert_eq 400 "$(post "{\"patient\": \"$X\", \"study\": \"$B\"}")" "POST /shares for a patient and a study"
assert_eq 201 "$(post "{\"patient\": \"$X\", \"issuer\": \"BV-KHAC\"}")" "POST /shares naming the other issuer"
Z_LINK=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["url"])' "$WORK/body")

# ---- what each link sees ----
studies_of() { # token: the StudyInstanceUIDs QIDO finds, sorted, on one line
    curl -s -H "Authorization: Bearer $1" "$D/studies?limit=100" | python3 -c '
import json, sys
t = sys.stdin.read()
print(" ".join(sorted(s["0020000D"]["Value"][0] for s in (json.loads(t) if t.strip() else []))))'
}
sorted() { echo "$@" | tr ' ' '\n' | sort | tr '\n' ' ' | sed 's/ $//'; }
check_link() { # link what allowed... -- denied...
    link=$1 what=$2
    shift 2
    allowed=""
    while [ "$1" != -- ]; do allowed="$allowed $1"; shift; done
    shift
    t=${link##*/}
    assert_eq "$(sorted $allowed)" "$(studies_of "$t")" "$what: QIDO finds exactly its studies"
    curl -s -o "$WORK/page" "$link" || fail "curl $link"
    shown=$(grep -o 'data-study="[0-9.]*"' "$WORK/page" | sed 's/data-study="\(.*\)"/\1/' | sort -u | tr '\n' ' ' | sed 's/ $//')
    assert_eq "$(sorted $allowed)" "$shown" "$what: the page lists exactly its studies"
    for how in bearer query cookie; do
        case $how in
        bearer) set -- -H "Authorization: Bearer $t"; q="" ;;
        query) set --; q="token=$t&" ;;
        cookie) set -- -H "Cookie: pacs_share=$t"; q="" ;;
        esac
        for st in $allowed; do
            assert_eq 200 "$(code "$@" "$D/studies/$st/metadata?${q}")" "$what/$how: metadata of its study $st"
            grep -q "$st" "$WORK/body" || fail "$what/$how: the metadata of $st does not name it"
            assert_eq 200 "$(code "$@" -H 'Accept: image/jpeg' "$D/studies/$st/thumbnail?${q}")" \
                "$what/$how: the thumbnail of its study $st"
            head -c 2 "$WORK/body" | od -An -tx1 | grep -q 'ff d8' || fail "$what/$how: $st's thumbnail is no JPEG"
            assert_eq 200 "$(code "$@" -H 'Accept: image/jpeg' "$D/studies/$st/rendered?${q}")" \
                "$what/$how: its study $st rendered"
            grep -aq JFIF "$WORK/body" || fail "$what/$how: $st rendered holds no JPEG"
            assert_eq 200 "$(code "$@" -H 'Accept: multipart/related; type="application/dicom"' "$D/studies/$st?${q}")" \
                "$what/$how: WADO-RS of its study $st"
            grep -aq "$st" "$WORK/body" || fail "$what/$how: WADO-RS of $st does not carry its instances"
        done
        for st in $DENIED; do
            for u in "studies?${q}StudyInstanceUID=$st" "studies/$st/series?${q}" "studies/$st/instances?${q}" \
                "series?${q}StudyInstanceUID=$st" "instances?${q}StudyInstanceUID=$st"; do
                c=$(code "$@" "$D/$u")
                grep -q "$st" "$WORK/body" && fail "$what/$how: QIDO $u showed study $st ($c)"
            done
            c=$(code "$@" "$D/studies?${q}00100020=$X&limit=100")
            grep -q "$st" "$WORK/body" && fail "$what/$how: QIDO by PatientID showed study $st ($c)"
            for u in "studies/$st/metadata" "studies/$st" "studies/$st/thumbnail" "studies/$st/rendered"; do
                c=$(code "$@" -H 'Accept: */*' "$D/$u?${q}")
                assert_eq 404 "$c" "$what/$how: $u of a study it does not grant"
            done
        done
        for st in $DENIED; do
            case $st in
            "$B") se=$B_SERIES sop=$B_SOP ;;
            "$Z") se=$Z_SERIES sop=$Z_SOP ;;
            *) continue ;;
            esac
            for u in "studies/$st/series/$se/metadata" "studies/$st/series/$se/instances/$sop/frames/1" \
                "studies/$st/series/$se/instances/$sop/rendered" "studies/$st/series/$se/thumbnail" \
                "studies/$st/series/$se/instances/$sop/thumbnail" "studies/$st/series/$se/instances/$sop"; do
                assert_eq 404 "$(code "$@" -H 'Accept: */*' "$D/$u?${q}")" "$what/$how: $u"
            done
            assert_eq 404 "$(code "$@" -H 'Accept: */*' "$D/wado?${q}requestType=WADO&studyUID=$st&seriesUID=$se&objectUID=$sop")" \
                "$what/$how: WADO-URI of an instance it does not grant"
            c=$(code "$@" "$D/series?${q}limit=100")
            grep -q "$se" "$WORK/body" && fail "$what/$how: QIDO of all series shows $se ($c)"
            c=$(code "$@" "$D/instances?${q}limit=1000")
            grep -q "$sop" "$WORK/body" && fail "$what/$how: QIDO of all instances shows $sop ($c)"
        done
        assert_eq 400 "$(code "$@" "$D/studies?${q}includefield=00201200")" "$what/$how: the patient's counts"
    done
    assert_eq 403 "$(code -H "Authorization: Bearer $t" -X DELETE "$D/studies/$A0")" "$what: DELETE"
    assert_eq 403 "$(code -H "Authorization: Bearer $t" -H 'Content-Type: application/dicom' \
        --data-binary @"$WORK/a3.dcm" "$D/studies")" "$what: STOW"
    assert_eq 403 "$(code -H "Authorization: Bearer $t" "$D/shares")" "$what: the shares API"
    echo "$what: exactly $(echo $allowed | wc -w) studies, nothing else"
}
DENIED="$B $A3 $Z" check_link "$NOW" "the link to X's studies now" "$A0" "$A1" --
DENIED="$B $Z" check_link "$LATER" "the link to X's studies and later ones" "$A0" "$A1" "$A3" --
DENIED="$B $Z" check_link "$HTTP" "the HTTP link with later ones" "$A0" "$A1" "$A3" --
DENIED="$A0 $A1 $A3 $B" check_link "$Z_LINK" "the other issuer's link" "$Z" --

# A revoked patient link is refused like any other.
ID=$("$PACS" --data "$DATA" share --list | awk -v x="patient=$X(2)" '$5 == x { print $1; exit }')
[ -n "$ID" ] || fail "pacs share --list does not show the patient's share: $("$PACS" --data "$DATA" share --list)"
"$PACS" --data "$DATA" share --revoke "$ID" 2>/dev/null || fail "revoke $ID"
assert_eq 401 "$(code -H "Authorization: Bearer ${NOW##*/}" "$D/studies")" "a revoked patient link"
assert_eq 404 "$(code "$NOW")" "a revoked patient link's page"

# ---- on a phone ----
(cd "$WORK/node" && timeout 300 node phone_test.js studies "$LATER" "$ART" "$A0" "$A1" "$A3" -- "$B" "$Z") \
    >"$WORK/phone.log" 2>&1 || fail "the patient's page on a phone: $(tail -15 "$WORK/phone.log")"
cat "$WORK/phone.log"
pass
