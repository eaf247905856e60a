#!/bin/sh
# SPDX-License-Identifier: MIT
# pydicom's character set samples (ISO 2022 IR 87/13/149, GB18030, the ISO 8859 sets, UTF-8)
# through C-STORE, then C-FIND and QIDO-RS: every PatientName comes back in UTF-8 as pydicom's
# own test suite lists it (pydicom/tests/test_charset.py, FILE_PATIENT_NAMES), and every text
# attribute of the WADO-RS metadata as pydicom decodes the file (an implementation independent
# of ours). A C-FIND identifier written in ISO 2022 IR 87 finds the Japanese names; so does a
# QIDO-RS query in UTF-8. A value that cannot be decoded is stored, logged and answered as its
# bytes.
. "$SRC/tests/lib.sh"
. "$SRC/tests/lib_dicomweb.sh"

PYD=/usr/bin/python3 # Debian's, with python3-pydicom
"$PYD" -c 'import pydicom' 2>/dev/null || fail "python3-pydicom is not installed for $PYD"
PYD_TESTS=$("$PYD" -c 'import os, pydicom; print(os.path.dirname(pydicom.__file__))')/tests
[ -f "$PYD_TESTS/test_charset.py" ] || fail "pydicom's test suite is not at $PYD_TESTS"

# Each sample with new UIDs (two pairs of them share a SOP Instance UID); dcmodify keeps the
# text bytes as they are.
mkdir -p "$WORK/in"
for f in "$SAMPLES"/charset_files/chr*.dcm; do
    case $f in *chrSQEncoding*) continue ;; esac # no SOP Class UID: not storable
    cp "$f" "$WORK/in/"
done
timeout 60 dcmodify -nb -q -gst -gse -gin "$WORK"/in/*.dcm || fail "dcmodify"
n=$(ls "$WORK"/in/*.dcm | wc -l | tr -d ' ')
[ "$n" -ge 15 ] || fail "only $n charset samples under $SAMPLES/charset_files"

# What pydicom says: the expected names of its test suite, and its own decoding of each file.
"$PYD" - "$WORK/in" "$PYD_TESTS/test_charset.py" >"$WORK/expected.json" <<'PY' ||
import ast, glob, json, os, sys
import pydicom
listed = {}
for node in ast.parse(open(sys.argv[2], encoding="utf-8").read()).body:
    if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "FILE_PATIENT_NAMES":
        listed = dict(ast.literal_eval(node.value))
assert len(listed) >= 15, "FILE_PATIENT_NAMES not found"
out = {}
for path in sorted(glob.glob(sys.argv[1] + "/*.dcm")):
    name = os.path.basename(path)[:-4]
    ds = pydicom.dcmread(path)
    ds.decode()
    text = {}
    for el in ds:
        if el.VR in ("PN", "LO", "SH", "LT", "ST", "UT", "UC") and el.tag.group not in (0x0002,) \
                and not el.tag.is_private and el.value not in (None, ""):
            vals = el.value if el.VM > 1 else [el.value]
            text["%08X" % el.tag] = [str(v) for v in vals]
    out[name] = {"sop": ds.SOPInstanceUID, "name": listed[name], "text": text}
json.dump(out, sys.stdout, ensure_ascii=False)
PY
    fail "pydicom could not read the samples"

start_pacsd
send_as_is "$WORK"/in/*.dcm >"$WORK/send.log" 2>&1 || fail "dcmsend: $(tail -5 "$WORK/send.log")"
B="http://127.0.0.1:$HTTP_PORT/dicomweb"

# C-FIND at IMAGE level for all of them at once; the responses are read back by pydicom.
uids=$("$PYD" -c 'import json, sys; print("\\".join(v["sop"] for v in json.load(open(sys.argv[1])).values()))' \
    "$WORK/expected.json")
mkdir -p "$WORK/rsp"
timeout 60 findscu -aec PACS -S -X -od "$WORK/rsp" -k QueryRetrieveLevel=IMAGE \
    -k "SOPInstanceUID=$uids" -k PatientName -k SpecificCharacterSet \
    127.0.0.1 "$DIMSE_PORT" >"$WORK/find.log" 2>&1 || fail "findscu: $(tail -5 "$WORK/find.log")"
# QIDO-RS for the same instances.
assert_eq 200 "$(http_status "$B/instances?SOPInstanceUID=$(printf '%s' "$uids" | tr '\\' ',')&includefield=00100010")" \
    "QIDO-RS of the samples"
cp "$WORK/body" "$WORK/qido.json"

# Names: C-FIND and QIDO against pydicom's list; metadata: every text attribute against
# pydicom's decoding. A PN's trailing empty component groups are not significant.
"$PYD" - "$WORK/expected.json" "$WORK/rsp" "$WORK/qido.json" "$B" <<'PY' || fail "names differ"
import glob, json, sys, urllib.request
import pydicom
exp = json.load(open(sys.argv[1], encoding="utf-8"))
def pn(s):
    return str(s).rstrip("=^ ")
def pn_json(v):
    return pn("=".join(v.get(g, "") for g in ("Alphabetic", "Ideographic", "Phonetic")))
bad = []
found = {}
for f in glob.glob(sys.argv[2] + "/rsp*.dcm"):
    ds = pydicom.dcmread(f)
    assert ds.SpecificCharacterSet == "ISO_IR 192", ds.SpecificCharacterSet
    ds.decode()
    found[ds.SOPInstanceUID] = pn(ds.PatientName)
qido = {r["00080018"]["Value"][0]: pn_json(r["00100010"]["Value"][0])
        for r in json.load(open(sys.argv[3], encoding="utf-8"))}
for name, e in sorted(exp.items()):
    if found.get(e["sop"]) != pn(e["name"]):
        bad.append("C-FIND %s: %r, pydicom's suite lists %r" % (name, found.get(e["sop"]), e["name"]))
    if qido.get(e["sop"]) != pn(e["name"]):
        bad.append("QIDO %s: %r, pydicom's suite lists %r" % (name, qido.get(e["sop"]), e["name"]))
    url = "%s/instances?SOPInstanceUID=%s&includefield=all" % (sys.argv[4], e["sop"])
    st = json.load(urllib.request.urlopen(url, timeout=60))[0]["0020000D"]["Value"][0]
    req = urllib.request.Request("%s/studies/%s/metadata" % (sys.argv[4], st),
                                 headers={"Accept": "application/dicom+json"})
    meta = json.load(urllib.request.urlopen(req, timeout=60))[0]
    for tag, want in e["text"].items():
        got = meta.get(tag, {}).get("Value", [])
        if meta.get(tag, {}).get("vr") == "PN":
            got, want = [pn(pn_json(v)) for v in got], [pn(v) for v in want]
        if [str(g).rstrip() for g in got] != [w.rstrip() for w in want]:
            bad.append("metadata %s %s: %r, pydicom decodes %r" % (name, tag, got, want))
if bad:
    print("\n".join(bad), file=sys.stderr)
    sys.exit(1)
print("%d samples: C-FIND, QIDO-RS and metadata agree with pydicom" % len(exp))
PY

# A C-FIND identifier in ISO 2022 IR 87 (as a Japanese workstation sends it) finds both
# Japanese patients; so does QIDO-RS in UTF-8.
printf '(0008,0005) CS [\\ISO 2022 IR 87]\n(0008,0052) CS [STUDY]\n(0010,0010) PN [*\033$B;3ED\033(B*]\n(0010,0020) LO []\n' \
    >"$WORK/q.dump"
dump2dcm -q "$WORK/q.dump" "$WORK/q.dcm" || fail "dump2dcm"
ids=$(timeout 60 findscu -aec PACS -S 127.0.0.1 "$DIMSE_PORT" "$WORK/q.dcm" 2>&1 | sed -n 's/.*(0010,0020) LO \[\([^] ]*\).*/\1/p' | sort |
    tr '\n' ' ')
assert_eq "H31EXAMPLE H32EXAMPLE " "$ids" "C-FIND for *山田* in ISO 2022 IR 87"
assert_eq 200 "$(http_status "$B/studies?PatientName=*%E5%B1%B1%E7%94%B0%5E%E5%A4%AA%E9%83%8E*")" \
    "QIDO-RS for *山田^太郎*"
json_check "sorted(r['00100020']['Value'][0] for r in d) == ['H31EXAMPLE', 'H32EXAMPLE']" \
    "QIDO-RS finds both Japanese patients"
json_check "all(r['00080005']['Value'] == ['ISO_IR 192'] for r in d)" "QIDO-RS says UTF-8"

# A value that cannot be decoded (an escape sequence DICOM does not define) is stored, logged
# and answered as its bytes; the other values of the same object are decoded.
cp "$SAMPLES/charset_files/chrH31.dcm" "$WORK/bad.dcm"
timeout 60 dcmodify -nb -q -gst -gse -gin -m "(0010,0020)=BADESCAPE" \
    -i "(0010,0010)=$(printf '\033$B;3ED\033(Z')" \
    -i "(0008,1030)=$(printf '\033$B;3\033(B')" "$WORK/bad.dcm" || fail "dcmodify"
send_as_is "$WORK/bad.dcm" >"$WORK/send-bad.log" 2>&1 ||
    fail "an undecodable value must not refuse the object: $(tail -3 "$WORK/send-bad.log")"
grep -q "WARN dicom: sop=.* tag=(0010,0010) charset=.*kept as its bytes" "$WORK/pacsd.log" ||
    fail "the undecodable value was not logged"
grep "kept as its bytes" "$WORK/pacsd.log" | grep -q ";3ED" && fail "the log holds the value"
assert_eq 200 "$(http_status "$B/studies?PatientID=BADESCAPE&includefield=00081030")" "QIDO-RS"
json_check "d[0]['00100010']['Value'][0]['Alphabetic'] == '\x1b\$B;3ED\x1b(Z'" \
    "the undecodable name comes back as its bytes"
json_check "d[0]['00081030']['Value'] == ['山']" "the object's other values are decoded"
find_dimse -S -k QueryRetrieveLevel=STUDY -k PatientID=BADESCAPE -k PatientName |
    grep -q "(0010,0010) PN \[$(printf '\033')\$B;3ED" || fail "C-FIND answers the bytes"
stop_pacsd
pass
