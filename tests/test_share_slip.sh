#!/bin/sh
# SPDX-License-Identifier: MIT
# The printed share slip (issue 18): `pacs share STUDY --slip slip.pdf` writes one A5 page that
# poppler renders (pdftoppm) and reads back (pdftotext): the hospital's name from hospital.name,
# the patient's Vietnamese name, the study, the expiry and the instruction, in an embedded font;
# its QR code decodes (zbarimg) to the printed link. A patient's link's slip says how many
# studies it shows. A slip that cannot be written is an error and leaves no file. Then the same
# PDF, wrapped by DCMTK's pdf2dcm as an Encapsulated PDF in another study, is that study's
# report on its share page, and the page's link to it returns the PDF to the study's token.
. "$SRC/tests/lib.sh"

: "${PACS:?PACS must point to the pacs tool}"
for t in pdftoppm pdftotext pdfinfo pdffonts; do
    command -v $t >/dev/null 2>&1 || fail "$t is not installed (poppler-utils; scripts/deps.sh)"
done
command -v zbarimg >/dev/null 2>&1 || fail "zbarimg is not installed (zbar-tools; scripts/deps.sh)"

A=1.2.826.0.1.3680043.10.1347.93.1
B=1.2.826.0.1.3680043.10.1347.93.2
NAME="Nguyễn^Thị Hương"
DESC="CT sọ não không tiêm thuốc"
HOSPITAL="Bệnh viện Đa khoa tỉnh Quảng Trị"
cp "$SAMPLES/test_files/CT_small.dcm" "$WORK/a.dcm"
dcmodify -nb -gin -i "(0008,0005)=ISO_IR 192" -m "(0010,0010)=$NAME" -m "(0010,0020)=HS4010203040506" \
    -m "(0010,0030)=19580304" -m "(0020,000d)=$A" -i "(0008,1030)=$DESC" -m "(0008,0020)=20240502" \
    "$WORK/a.dcm" >/dev/null 2>&1 || fail "dcmodify failed"
start_pacsd
store "$WORK/a.dcm" >"$WORK/store.log" 2>&1 || fail "storescu: $(cat "$WORK/store.log")"
S="http://127.0.0.1:$HTTP_PORT"

LINK=$("$PACS" --data "$DATA" --set "http.public_url=$S/dicomweb" --set "hospital.name=$HOSPITAL" \
    share "$A" --days 30 --slip "$WORK/slip.pdf" 2>"$WORK/err") || fail "pacs share --slip: $(cat "$WORK/err")"
EXP=$(sed -n 's/.*(expires=\([0-9]*\)).*/\1/p' "$WORK/err")
[ -s "$WORK/slip.pdf" ] || fail "no slip was written: $(cat "$WORK/err")"
grep -q "slip in $WORK/slip.pdf" "$WORK/err" || fail "pacs share does not say where the slip is"

# One A5 page (148 x 210 mm: 419.5 x 595.3 points), fonts embedded.
pdfinfo "$WORK/slip.pdf" >"$WORK/info" 2>&1 || fail "pdfinfo: $(cat "$WORK/info")"
grep -q '^Pages: *1$' "$WORK/info" || fail "the slip is not one page: $(cat "$WORK/info")"
grep -q '^Page size: *419.5[0-9]* x 595.2[0-9]* pts' "$WORK/info" || fail "the slip is not A5: $(grep 'Page size' "$WORK/info")"
pdffonts "$WORK/slip.pdf" | awk 'NR > 2 && $(NF-4) != "yes" { bad = 1 } END { exit bad }' ||
    fail "a font of the slip is not embedded: $(pdffonts "$WORK/slip.pdf")"

# It renders, and the QR code on the rendered page is the link.
timeout 60 pdftoppm -r 200 -png -singlefile "$WORK/slip.pdf" "$WORK/slip" || fail "pdftoppm cannot render the slip"
[ -s "$WORK/slip.png" ] || fail "pdftoppm wrote no image"
assert_eq "$LINK" "$(timeout 30 zbarimg -q --raw "$WORK/slip.png" 2>/dev/null)" "the slip's QR code decodes to the link"

# Its text, as a reader (or a screen reader) gets it.
pdftotext -layout "$WORK/slip.pdf" "$WORK/slip.txt" || fail "pdftotext cannot read the slip"
for want in "$HOSPITAL" "Nguyễn Thị Hương" "HS4010203040506" "04/03/1958" "02/05/2024" "$DESC" \
    "Hiệu lực đến ngày $(date -d "@$EXP" +%d/%m/%Y)" "quét\|hướng vào mã QR" "$LINK"; do
    grep -q "$want" "$WORK/slip.txt" || fail "the slip's text lacks '$want': $(cat "$WORK/slip.txt")"
done
mkdir -p "${ARTIFACT_DIR:-$WORK/artifacts}/test_share_slip"
cp "$WORK/slip.pdf" "$WORK/slip.png" "${ARTIFACT_DIR:-$WORK/artifacts}/test_share_slip/"

# A patient's link: the slip says how many studies instead of one study's date.
P_LINK=$("$PACS" --data "$DATA" --set "http.public_url=$S/dicomweb" share --patient HS4010203040506 \
    --later --slip "$WORK/patient.pdf" 2>"$WORK/err") || fail "pacs share --patient --slip: $(cat "$WORK/err")"
pdftotext -layout "$WORK/patient.pdf" "$WORK/patient.txt" || fail "pdftotext cannot read the patient's slip"
grep -q "1 lần chụp, và các lần chụp sau này" "$WORK/patient.txt" ||
    fail "the patient's slip does not say what it shows: $(cat "$WORK/patient.txt")"
grep -q "Nguyễn Thị Hương" "$WORK/patient.txt" || fail "the patient's slip does not name the patient"
grep -q "Ngày chụp" "$WORK/patient.txt" && fail "the patient's slip gives one study's date"
timeout 60 pdftoppm -r 200 -png -singlefile "$WORK/patient.pdf" "$WORK/patient" || fail "pdftoppm: patient's slip"
assert_eq "$P_LINK" "$(timeout 30 zbarimg -q --raw "$WORK/patient.png" 2>/dev/null)" "the patient's slip's QR code"

# A slip that cannot be written: an error, and no file.
"$PACS" --data "$DATA" share "$A" --slip "$WORK/no/such/folder/slip.pdf" 2>"$WORK/err2" &&
    fail "a slip in a missing folder was reported written"
grep -q "cannot make the slip" "$WORK/err2" || fail "no reason given: $(cat "$WORK/err2")"
[ -e "$WORK/no/such/folder/slip.pdf" ] && fail "a broken slip was left"

# ---- the same PDF as a study's report ----
cp "$SAMPLES/test_files/CT_small.dcm" "$WORK/b.dcm"
dcmodify -nb -gin -m "(0020,000d)=$B" "$WORK/b.dcm" >/dev/null 2>&1 || fail "dcmodify failed"
pdf2dcm --study-from "$WORK/b.dcm" --title "Kết quả chẩn đoán" "$WORK/slip.pdf" "$WORK/report.dcm" \
    >"$WORK/pdf2dcm.log" 2>&1 || fail "pdf2dcm: $(cat "$WORK/pdf2dcm.log")"
store "$WORK/b.dcm" "$WORK/report.dcm" >"$WORK/store.log" 2>&1 || fail "storescu: $(cat "$WORK/store.log")"
B_LINK=$("$PACS" --data "$DATA" --set "http.public_url=$S/dicomweb" share "$B" 2>/dev/null) || fail "pacs share $B"
curl -s -o "$WORK/page" "$B_LINK" || fail "curl $B_LINK"
URL=$(sed -n 's/.*class="pdf" data-url="\([^"]*\)".*/\1/p' "$WORK/page")
case $URL in
/dicomweb/studies/$B/series/*/instances/*/bulkdata/00420011) ;;
*) fail "the page does not offer the study's PDF report: '$URL'" ;;
esac
curl -s -o "$WORK/got.pdf" -H "Authorization: Bearer ${B_LINK##*/}" -H 'Accept: application/octet-stream' "$S$URL"
# The document as stored: the PDF, and a NUL when its length is odd (DICOM pads values to even).
python3 -c 'import sys
got, pdf = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
sys.exit(0 if got in (pdf, pdf + b"\0") and len(got) % 2 == 0 else 1)' "$WORK/got.pdf" "$WORK/slip.pdf" ||
    fail "the report link does not return the PDF to the study's token"
assert_eq 404 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${LINK##*/}" \
    -H 'Accept: application/octet-stream' "$S$URL")" "another study's token on the report"
pass
