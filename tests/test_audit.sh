#!/bin/sh
# SPDX-License-Identifier: MIT
# The audit trail (storage/audit.h): pacsd start and stop, C-STORE (one line per instance, with
# patient and study), C-FIND (keys, never values), C-MOVE and C-GET (one line per study, with
# the count sent), an unknown move destination, a refused association, DICOMweb QIDO (keys,
# never values), WADO and STOW with who and from, forwarding, `pacs import` (never the file's
# path) and `pacs delete`; every line valid JSON with a UTC time; `pacs audit --patient/--study/
# --since` select the right lines, and the patient's queries and retrieves (which name only the
# study) come with them.
. "$SRC/tests/lib.sh"
trap_background

port=$(free_port)
start_storescp DEST "$port" "$WORK/dest" || fail "storescp did not start"
printf 'ae.DEST = 127.0.0.1:%s\nroute.mr = DEST modality=MR\n' "$port" >"$WORK/pacsd.conf"
start_pacsd --config "$WORK/pacsd.conf" --set dimse.allowed_aets=STORESCU,FINDSCU,MOVESCU,GETSCU

st=$(new_uid)
se=$(new_uid)
gen_ct "$WORK/a" "$st" "$se" 3
pid=$(dcm_value "$WORK/a/ct-1.dcm" 0010,0020)
[ -n "$pid" ] || fail "the sample has no PatientID"
store "$WORK"/a/*.dcm >/dev/null 2>&1 || fail "storescu"
audit() { timeout 60 "$PACS" --data "$DATA" audit "$@" 2>/dev/null; }
# Lines of action $1 in the output on stdin.
n_action() { grep -c "\"action\":\"$1\"" || true; }

# -- store: one line per instance, acknowledged only after it was written --
audit >"$WORK/all"
assert_eq 3 "$(n_action store <"$WORK/all")" "store lines"
line=$(grep '"action":"store"' "$WORK/all" | head -1)
python3 - "$line" "$st" "$pid" <<'PY' || fail "a store line is not what it should be: $line"
import json, re, sys
o = json.loads(sys.argv[1])
assert o["outcome"] == "success" and o["protocol"] == "dimse" and o["who"] == "STORESCU"
assert o["from"] == "127.0.0.1" and o["study"] == sys.argv[2] and o["patient"] == sys.argv[3]
assert o["detail"].startswith("sop=") and o["count"] == 1 and o["atna"] == "110104"
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", o["time"])
PY
grep -q '"action":"start"' "$WORK/all" || fail "no start line"

# -- query: the keys, never a name --
find_dimse -S -k QueryRetrieveLevel=STUDY -k PatientName='Nguyen*' -k StudyInstanceUID="$st" \
    >/dev/null || fail "findscu"
audit >"$WORK/all"
q=$(grep '"action":"query"' "$WORK/all" | tail -1)
[ -n "$q" ] || fail "no query line"
case $q in *Nguyen*) fail "a query line carries a name value: $q" ;; esac
case $q in *00100010*) ;; *) fail "the query line does not name the PatientName key: $q" ;; esac
case $q in *"\"study\":\"$st\""*) ;; *) fail "the query line does not name the study: $q" ;; esac

# -- retrieve: C-MOVE and C-GET, one line per study with the count sent --
move -S -aem DEST -k QueryRetrieveLevel=STUDY -k StudyInstanceUID="$st" >"$WORK/m" ||
    fail "movescu"
assert_eq 0x0000 "$(final_status "$WORK/m")" "move status"
get_into "$WORK/got" -S -k QueryRetrieveLevel=STUDY -k StudyInstanceUID="$st" >"$WORK/g" ||
    fail "getscu"
move -S -aem NOWHERE -k QueryRetrieveLevel=STUDY -k StudyInstanceUID="$st" >"$WORK/m2" || true
audit --study "$st" >"$WORK/study"
grep '"action":"retrieve"' "$WORK/study" | grep -q '"detail":"C-MOVE to=DEST status=0x0000".*"count":3' ||
    fail "no C-MOVE line with count 3: $(grep retrieve "$WORK/study")"
grep '"action":"retrieve"' "$WORK/study" | grep -q '"who":"GETSCU".*C-GET.*"count":3' ||
    fail "no C-GET line with count 3"
audit >"$WORK/all"
grep -q '"action":"retrieve","atna":"110104","outcome":"failure".*NOWHERE' "$WORK/all" ||
    fail "no failure line for the unknown move destination"

# -- DICOMweb: QIDO (keys, never values), WADO, STOW; one line each, before the answer --
B=http://127.0.0.1:$HTTP_PORT/dicomweb
code=$(timeout 30 curl -s -o /dev/null -w '%{http_code}' \
    "$B/studies?PatientName=Nguyen*&PatientID=$pid&includefield=StudyDescription")
assert_eq 200 "$code" "QIDO"
code=$(timeout 30 curl -s -o /dev/null -w '%{http_code}' "$B/studies/$st/metadata")
assert_eq 200 "$code" "WADO metadata"
code=$(timeout 30 curl -s -o /dev/null -w '%{http_code}' "$B/studies/2.25.1/metadata")
assert_eq 404 "$code" "WADO of an unknown study"
{ printf -- '--XYZ\r\nContent-Type: application/dicom\r\n\r\n'; cat "$SAMPLES/test_files/MR_small.dcm"
  printf -- '\r\n--XYZ--\r\n'; } >"$WORK/body"
code=$(timeout 60 curl -s -o /dev/null -w '%{http_code}' --data-binary @"$WORK/body" \
    -H 'Content-Type: multipart/related; type="application/dicom"; boundary=XYZ' "$B/studies")
assert_eq 200 "$code" "STOW"
audit >"$WORK/all"
grep '"protocol":"http"' "$WORK/all" >"$WORK/http" || fail "no DICOMweb lines"
q=$(grep '"action":"query"' "$WORK/http" | tail -1)
case $q in *Nguyen*) fail "a QIDO line carries a name value: $q" ;; esac
case $q in *"keys=PatientName,PatientID,includefield"*) ;; *) fail "QIDO keys missing: $q" ;; esac
case $q in *"\"patient\":\"$pid\""*) ;; *) fail "the QIDO line does not name the patient: $q" ;; esac
case $q in *'"from":"127.0.0.1"'*'"who":"anonymous"'* | *'"who":"anonymous"'*'"from":"127.0.0.1"'*) ;;
    *) fail "who/from of the QIDO line: $q" ;; esac
grep '"action":"retrieve"' "$WORK/http" | grep -q "\"study\":\"$st\".*status=200" ||
    fail "no WADO line for the study"
grep '"action":"retrieve","atna":"110104","outcome":"failure"' "$WORK/http" | grep -q 'status=404' ||
    fail "no failure line for the unknown study"
grep '"action":"store"' "$WORK/http" | grep -q 'status=200' || fail "no STOW line"
# The MR instance goes on to DEST by the forwarding rule: a line names its study.
mr_study=$(dcm_value "$SAMPLES/test_files/MR_small.dcm" 0020,000D)
timeout 60 sh -c 'until "$1" --data "$2" audit --study "$3" 2>/dev/null |
    grep -q "forward rule=mr to=DEST"; do sleep 0.2; done' _ "$PACS" "$DATA" "$mr_study" ||
    fail "no audit line for the forwarded MR instance"

# -- a refused association --
timeout 30 echoscu -aet INTRUDER -aec PACS 127.0.0.1 "$DIMSE_PORT" >/dev/null 2>&1 &&
    fail "an AE outside dimse.allowed_aets was accepted"
audit >"$WORK/all"
grep '"action":"access-denied"' "$WORK/all" | grep -q '"who":"INTRUDER"' ||
    fail "no access-denied line for INTRUDER"

# -- per patient: the store lines name the patient; queries and retrieves come with them --
audit --patient "$pid" >"$WORK/p"
assert_eq 3 "$(n_action store <"$WORK/p")" "store lines for the patient"
[ "$(n_action retrieve <"$WORK/p")" -ge 2 ] || fail "the patient's retrieves are missing"
[ "$(n_action query <"$WORK/p")" -ge 1 ] || fail "the patient's query is missing"
assert_eq 0 "$(audit --patient NOBODY-$$ | wc -l | tr -d ' ')" "lines for an unknown patient"
assert_eq 0 "$(audit --since 2999-01-01 | wc -l | tr -d ' ')" "lines since the future"
today=$(date -u +%Y-%m-%d)
[ "$(audit --since "$today" | wc -l)" -ge 8 ] || fail "--since today misses lines"
timeout 30 "$PACS" --data "$DATA" audit --since yesterday >/dev/null 2>&1 && fail "a bad date was taken"

# -- pacs import: one line per file, who = the OS user, never the file's path --
mkdir -p "$WORK/cd/NGUYEN VAN A"
cp "$SAMPLES/test_files/CT_small.dcm" "$WORK/cd/NGUYEN VAN A/IM1"
printf 'not DICOM\n' >"$WORK/cd/README.TXT"
timeout 120 "$PACS" --data "$DATA" import "$WORK/cd" >/dev/null 2>&1 || fail "pacs import"
audit >"$WORK/all"
grep '"action":"store"' "$WORK/all" | grep '"protocol":"tool"' | grep -q "\"who\":\"$(id -un)\".*import sop=" ||
    fail "no store line for pacs import"
grep -q "NGUYEN" "$WORK/all" && fail "a file path (with a name) reached the trail"

# -- pacs delete, then stop: both recorded --
timeout 60 "$PACS" --data "$DATA" delete --study "$st" >/dev/null || fail "pacs delete"
stop_pacsd
audit --study "$st" >"$WORK/study"
grep '"action":"delete"' "$WORK/study" | grep -q '"protocol":"tool".*"count":3' ||
    fail "no delete line with count 3"
audit >"$WORK/all"
grep -q '"action":"stop"' "$WORK/all" || fail "no stop line"
# Every line is valid JSON, and the files are not readable by others.
python3 -c 'import json, sys; [json.loads(l) for l in open(sys.argv[1])]' "$WORK/all" ||
    fail "a line is not JSON"
f=$(ls "$DATA"/audit/*.jsonl | head -1)
case $(stat -c %a "$f") in *0) ;; *) fail "$f is readable by others" ;; esac
pass
