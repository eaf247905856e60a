#!/bin/sh
# SPDX-License-Identifier: MIT
# Vietnamese names in UTF-8 (ISO_IR 192) round-trip through C-STORE and C-FIND, and are found
# by exact, wildcard, case-different and ASCII-folded queries; names in other character sets
# come back in UTF-8.
. "$SRC/tests/lib.sh"

HUONG='Nguyễn^Thị Hương'
DUC='Đặng^Văn Đức'
AN='Nguyen^Van An' # the same family name typed without diacritics

# One study per patient, made from CT_small with new UIDs.
i=0
for name in "$HUONG" "$DUC" "$AN"; do
    i=$((i + 1))
    make_ct_copies "$WORK/p$i" 1 own
    timeout 60 dcmodify -nb -q -m "(0008,0005)=ISO_IR 192" -m "(0010,0010)=$name" \
        -m "(0010,0020)=VN-$i" "$WORK/p$i/ct1.dcm" || fail "dcmodify"
done

start_pacsd
store "$WORK/p1/ct1.dcm" "$WORK/p2/ct1.dcm" "$WORK/p3/ct1.dcm" \
    "$SAMPLES/charset_files/chrGerm.dcm" || fail "storescu failed"

# Patient IDs of the studies a PatientName query finds (findscu prints raw UTF-8).
find_names() { # query
    find_dimse -S -k 'SpecificCharacterSet=ISO_IR 192' -k QueryRetrieveLevel=STUDY \
        -k "PatientName=$1" -k PatientID -k StudyInstanceUID |
        sed -n 's/.*(0010,0020) LO \[\([^] ]*\).*/\1/p' | sort | tr '\n' ' ' | sed 's/ $//'
}

check() { # query expected-ids why
    got=$(find_names "$1")
    [ "$got" = "$2" ] || fail "PatientName='$1' ($3): expected '$2', got '$got'"
}

check "$HUONG" "VN-1" "exact"
check 'NGUYỄN^THỊ HƯƠNG' "VN-1" "case differs"
check 'nguyễn^thị hương' "VN-1" "lower case"
check 'Nguyễn*' "VN-1" "wildcard with diacritics: they must match as typed"
check '*Hương' "VN-1" "leading wildcard"
check 'Nguy?n^Thị H??ng' "VN-1" "? is one character (ễ, ư, ơ), not one byte"
check 'nguyen*' "VN-1 VN-3" "ASCII-folded wildcard finds both spellings"
check 'NGUYEN^THI HUONG' "VN-1" "ASCII-folded, case differs"
check '*huong*' "VN-1" "ASCII-folded inside the name"
check 'dang*' "VN-2" "đ folds to d"
check 'Đặng*' "VN-2" "Đ as typed"
check '*duc' "VN-2" "Đ inside the name folds too"
check 'Nguyến*' "" "another tone typed is another name"
# PS3.4 single-value matching compares the whole name: a bare word does not match (QIDO's
# fuzzymatching=true is the word search).
check 'huong' "" "single value: the whole name"

# The name comes back byte for byte, with the character set that says so.
out=$(find_dimse -S -k QueryRetrieveLevel=STUDY -k PatientID=VN-1 -k PatientName \
    -k SpecificCharacterSet)
echo "$out" | grep -q "(0010,0010) PN \[$HUONG *\]" || fail "name did not round-trip: $out"
echo "$out" | grep -q "(0008,0005) CS \[ISO_IR 192\]" || fail "no ISO_IR 192 in the response"
# IMAGE level returns it too (from the study row the instance belongs to).
out=$(find_dimse -S -k QueryRetrieveLevel=IMAGE -k PatientID=VN-2 -k PatientName)
echo "$out" | grep -q "(0010,0010) PN \[$DUC *\]" || fail "name at IMAGE level: $out"
# A Latin-1 (ISO_IR 100) name is converted to UTF-8 at ingest.
out=$(find_dimse -S -k QueryRetrieveLevel=STUDY -k PatientID=SCSGERM -k PatientName)
echo "$out" | grep -q "(0010,0010) PN \[Äneas^Rüdiger *\]" || fail "Latin-1 name: $out"
check 'aneas*' "SCSGERM" "Latin-1 name, ASCII-folded"
stop_pacsd
pass
