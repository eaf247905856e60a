#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks the Conformance Statement (docs/conformance-statement.md) against a running pacsd
(Python 3 standard library, DCMTK's findscu and echoscu, tests/tools/assocprobe).

  conformance.py STATEMENT

Every table preceded by a line `<!-- check: NAME -->` is checked row by row; a table named in
CHECKS but missing from the statement is a failure too. The environment gives the server and
the tools: HOST, DIMSE_PORT, HTTP_PORT, PREFIX, PACSD, ASSOCPROBE, SAMPLES, WORK. Prints one
line per failed row and a summary; exits 1 when any row failed.
"""
import http.client
import json
import os
import re
import struct
import subprocess
import sys
import urllib.parse

ENV = os.environ
HOST, DIMSE, HTTP = ENV.get("HOST", "127.0.0.1"), ENV["DIMSE_PORT"], int(ENV["HTTP_PORT"])
PREFIX = ENV.get("PREFIX", "/dicomweb")
PROBE, PACSD, SAMPLES, WORK = ENV["ASSOCPROBE"], ENV["PACSD"], ENV["SAMPLES"], ENV["WORK"]
EXPLICIT_LE, IMPLICIT_LE = "1.2.840.10008.1.2.1", "1.2.840.10008.1.2"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
STORAGE_ROOT = "1.2.840.10008.5.1.4.1.1."

failures = []
counts = {}


def fail(table, row, why):
    failures.append("%s: %s: %s" % (table, " | ".join(row), why))


def tables(text):
    """{name: [row cells...]} for each table after a `<!-- check: name -->` line."""
    out = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"<!-- check: ([a-z-]+) -->\s*$", line)
        if not m:
            continue
        rows, j = [], i + 1
        while j < len(lines) and lines[j].startswith("|"):
            cells = [c.strip() for c in lines[j].strip().strip("|").split("|")]
            rows.append(cells)
            j += 1
        if len(rows) < 3 or not set(rows[1][0]) <= set("-: "):
            sys.exit("table %s: no markdown table after its marker" % m.group(1))
        out[m.group(1)] = [r for r in rows[2:]]
    return out


def yes(cell):
    if cell not in ("Yes", "No"):
        raise ValueError("expected Yes or No, got %r" % cell)
    return cell == "Yes"


# ---- DIMSE ----

def probe(specs, role=None):
    """Proposes the contexts "CLASS=TS,TS"; returns the accepted syntax (or None) per spec."""
    cmd = [PROBE] + (["--role", role] if role else []) + [HOST, DIMSE] + specs
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError("assocprobe: " + r.stderr.strip())
    out = []
    for line in r.stdout.splitlines():
        words = line.split()
        out.append(words[2] if words[0] == "accepted" else None)
    if len(out) != len(specs):
        raise RuntimeError("assocprobe answered %d contexts of %d" % (len(out), len(specs)))
    return out


def code_table(flag):
    r = subprocess.run([PROBE, flag], capture_output=True, text=True, timeout=60, check=True)
    return [line.split("\t")[0] for line in r.stdout.splitlines() if line]


def check_sop_classes(rows):
    got = probe(["%s=%s,%s" % (r[1], EXPLICIT_LE, IMPLICIT_LE) for r in rows])
    for r, ts in zip(rows, got):
        if (ts is not None) != yes(r[3]):
            fail("sop-classes", r, "the server %s it" % ("accepts" if ts else "rejects"))


def check_storage_classes(rows):
    listed = [r[1] for r in rows]
    code = code_table("--storage-classes")
    for uid in sorted(set(code) - set(listed)):
        fail("storage-classes", [uid], "accepted by the server's table, not listed")
    for uid in sorted(set(listed) - set(code)):
        fail("storage-classes", [uid], "listed, not in the server's table")
    if len(listed) != len(set(listed)):
        fail("storage-classes", ["(all)"], "a UID is listed twice")
    got = probe(["%s=%s" % (uid, EXPLICIT_LE) for uid in listed])
    for r, ts in zip(rows, got):
        if not (yes(r[3]) and yes(r[2])):
            fail("storage-classes", r, "every row must say Yes (the table lists what is taken)")
        if ts is None:
            fail("storage-classes", r, "the server rejects it")


def check_storage_rules(rows):
    code = set(code_table("--storage-classes"))
    uids = []
    for r in rows:
        uid = r[0]
        if uid.endswith("{any other}"):
            uid = STORAGE_ROOT + "987654.3.2.1"
            if uid in code:
                fail("storage-rules", r, "the made-up UID is in the table")
        uids.append(uid)
    got = probe(["%s=%s" % (uid, EXPLICIT_LE) for uid in uids])
    for r, ts in zip(rows, got):
        if (ts is not None) != yes(r[1]):
            fail("storage-rules", r, "the server %s it" % ("accepts" if ts else "rejects"))


def check_storage_ts(rows):
    code = code_table("--transfer-syntaxes")
    listed_yes = [r[1] for r in rows if yes(r[2])]
    for uid in sorted(set(code) - set(listed_yes)):
        fail("storage-transfer-syntaxes", [uid], "in the server's table, not listed as accepted")
    for uid in sorted(set(listed_yes) - set(code)):
        fail("storage-transfer-syntaxes", [uid], "listed as accepted, not in the server's table")
    got = probe(["%s=%s" % (CT_IMAGE, r[1]) for r in rows])
    for r, ts in zip(rows, got):
        if yes(r[2]) and ts != r[1]:
            fail("storage-transfer-syntaxes", r, "accepted: %s" % ts)
        if not yes(r[2]) and ts is not None:
            fail("storage-transfer-syntaxes", r, "the server accepts it")


def check_ts_selection(rows):
    specs = ["%s=%s" % (r[0], ",".join(t.strip() for t in r[1].split(","))) for r in rows]
    for r, ts in zip(rows, probe(specs)):
        want = None if r[2] == "-" else r[2]
        if ts != want:
            fail("transfer-syntax-selection", r, "accepted: %s" % (ts or "-"))


def check_implementation(rows):
    r = subprocess.run(["echoscu", "-d", "-aec", "PACS", HOST, DIMSE], capture_output=True,
                       text=True, timeout=60)
    assoc = {}
    for line in (r.stdout + r.stderr).splitlines():
        m = re.match(r"D: Their Implementation (Class UID|Version Name):\s*(\S*)", line)
        if m and m.group(2):
            assoc[m.group(1)] = m.group(2)
    meta = read_meta(http_get(stored["ct"]["path"], {"Accept": "application/dicom"})[2])
    for row in rows:
        item, want = row
        where = assoc if "association" in item else meta
        key = "Class UID" if "Class UID" in item else "Version Name"
        if where.get(key) != want:
            fail("implementation", row, "the server says %r" % where.get(key))


def find_count(keys):
    cmd = ["findscu", "-aec", "PACS", "-S", "-k", "QueryRetrieveLevel=STUDY"]
    for k in keys:
        cmd += ["-k", k]
    r = subprocess.run(cmd + [HOST, DIMSE], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("findscu: " + (r.stdout + r.stderr)[-300:])
    return len(re.findall(r"Find Response: \d+ \(Pending\)", r.stdout + r.stderr))


def check_cfind(rows):
    for r in rows:
        keys = [k.rstrip("=") if k.endswith("=") else k for k in r[1].split()]
        if not any(k.startswith("StudyInstanceUID") for k in keys):
            keys.append("StudyInstanceUID")  # the unique key, returned
        n = find_count(keys)
        if n != int(r[2]):
            fail("cfind-matching", r, "found %d" % n)


def check_configuration(rows):
    r = subprocess.run([PACSD, "--help-config"], capture_output=True, text=True, timeout=60,
                       check=True)
    defaults = {}
    for line in r.stdout.splitlines():
        m = re.match(r"(\S+)\s+= (\S*)\s", line)
        if m:
            defaults[m.group(1)] = m.group(2)
    for row in rows:
        if row[0] not in defaults:
            fail("configuration", row, "pacsd has no such setting")
        elif defaults[row[0]] != row[1]:
            fail("configuration", row, "pacsd's default is %r" % defaults[row[0]])


# ---- DICOMweb ----

def http_req(method, path, headers=None, body=None):
    c = http.client.HTTPConnection(HOST, HTTP, timeout=120)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, r.headers, data


def http_get(path, headers=None):
    return http_req("GET", path, headers)


def read_meta(data):
    """Meta header elements of a Part 10 file: {"Class UID": ..., "Version Name": ...}."""
    out, off = {}, 132
    while off + 8 <= len(data) and data[off:off + 2] == b"\x02\x00":
        elem, vr = struct.unpack("<H", data[off + 2:off + 4])[0], data[off + 4:off + 6]
        if vr in (b"OB", b"OW", b"UN", b"SQ", b"UT"):
            n, head = struct.unpack("<I", data[off + 8:off + 12])[0], 12
        else:
            n, head = struct.unpack("<H", data[off + 6:off + 8])[0], 8
        value = data[off + head:off + head + n].rstrip(b"\0 ").decode("latin-1")
        if elem == 0x0012:
            out["Class UID"] = value
        elif elem == 0x0013:
            out["Version Name"] = value
        off += head + n
    return out


def multipart(files, boundary="CONFORMANCE"):
    body = b""
    for data in files:
        body += b"--%s\r\nContent-Type: application/dicom\r\n\r\n" % boundary.encode() + data + b"\r\n"
    return body + b"--%s--\r\n" % boundary.encode()


def stow(files, path="/studies"):
    ctype = 'multipart/related; type="application/dicom"; boundary=CONFORMANCE'
    return http_req("POST", PREFIX + path, {"Content-Type": ctype,
                                            "Accept": "application/dicom+json"}, multipart(files))


stored = {}


def store_samples():
    """Stores CT_small and JPEG2000 and remembers their UIDs and WADO-RS paths."""
    for key, name in (("ct", "CT_small.dcm"), ("j2k", "JPEG2000.dcm")):
        data = open(os.path.join(SAMPLES, "test_files", name), "rb").read()
        status, _, body = stow([data])
        if status != 200:
            sys.exit("storing %s: HTTP %d %s" % (name, status, body[:300]))
        ref = json.loads(body)["00081199"]["Value"][0]["00081190"]["Value"][0]
        path = urllib.parse.urlparse(ref).path
        st, se, sop = re.search(r"/studies/([^/]+)/series/([^/]+)/instances/([^/]+)$", path).groups()
        stored[key] = {"data": data, "study": st, "series": se, "instance": sop, "path": path}


def check_resources(rows):
    ct, j2k = stored["ct"], stored["j2k"]
    subst = {"{study}": ct["study"], "{series}": ct["series"], "{instance}": ct["instance"],
             "{j2kstudy}": j2k["study"], "{j2kseries}": j2k["series"],
             "{j2kinstance}": j2k["instance"]}
    for r in rows:
        method, resource, header, status, rtype = r
        path = resource
        for k, v in subst.items():
            path = path.replace(k, v)
        headers, body = {}, None
        if header:
            name, _, value = header.partition(":")
            value = value.strip()
            if value.endswith("(CT_small.dcm)"):
                value = value[:-len("(CT_small.dcm)")].strip()
                body = multipart([ct["data"]]) if value.startswith("multipart/") else ct["data"]
            elif method == "POST":
                body = b"--CONFORMANCE--\r\n"
            if method == "POST" and value.startswith("multipart/"):
                value += "; boundary=CONFORMANCE"
            headers[name.strip()] = value
        if method == "POST" and body is None:
            body = b""
        got, h, _ = http_req(method, PREFIX + path, headers, body)
        if got != int(status):
            fail("dicomweb-resources", r, "HTTP %d" % got)
        elif rtype and not (h.get("Content-Type") or "").startswith(rtype):
            fail("dicomweb-resources", r, "Content-Type %r" % h.get("Content-Type"))


def check_qido(rows):
    for r in rows:
        status, h, body = http_get(PREFIX + "/studies?" + r[0])
        warning = h.get("Warning") or ""
        if status != int(r[1]):
            fail("qido-parameters", r, "HTTP %d %s" % (status, body[:200]))
        elif yes(r[2]) != ("not supported" in warning):
            fail("qido-parameters", r, "Warning: %r" % warning)


def element(tag, vr, value):
    if len(value) % 2:
        value += b"\0" if vr == b"UI" else b" "
    return struct.pack("<HH", tag >> 16, tag & 0xFFFF) + vr + struct.pack("<H", len(value)) + value


def part10(n, charset, name):
    """A Secondary Capture instance with Specific Character Set `charset` and Patient's Name
    `name` (bytes), Patient ID CHARSET-n, explicit VR little endian."""
    root = "2.25.%d%05d" % (int.from_bytes(os.urandom(8), "big"), n)
    sop, cls = root + ".3", "1.2.840.10008.5.1.4.1.1.7"
    ds = b""
    if charset is not None:
        ds += element(0x00080005, b"CS", charset.encode())
    ds += element(0x00080016, b"UI", cls.encode()) + element(0x00080018, b"UI", sop.encode())
    ds += element(0x00100010, b"PN", name) + element(0x00100020, b"LO", b"CHARSET-%d" % n)
    ds += element(0x0020000D, b"UI", (root + ".1").encode())
    ds += element(0x0020000E, b"UI", (root + ".2").encode())
    meta = (struct.pack("<HH", 2, 1) + b"OB\0\0" + struct.pack("<I", 2) + b"\0\1"
            + element(0x00020002, b"UI", cls.encode()) + element(0x00020003, b"UI", sop.encode())
            + element(0x00020010, b"UI", EXPLICIT_LE.encode()))
    meta = element(0x00020000, b"UL", struct.pack("<I", len(meta))) + meta
    return b"\0" * 128 + b"DICM" + meta + ds


def check_charsets(rows):
    files = []
    for n, r in enumerate(rows):
        term = None if r[1] == "(none)" else r[1]
        files.append(part10(n, term, bytes.fromhex(r[3].replace(" ", ""))))
    status, _, body = stow(files)
    if status not in (200, 202):
        fail("character-sets", ["(all)"], "STOW-RS HTTP %d %s" % (status, body[:300]))
        return
    for n, r in enumerate(rows):
        status, _, body = http_get(PREFIX + "/studies?PatientID=CHARSET-%d" % n)
        found = json.loads(body) if status == 200 else []
        if len(found) != 1:
            fail("character-sets", r, "QIDO-RS found %d studies (HTTP %d)" % (len(found), status))
            continue
        v = found[0].get("00100010", {}).get("Value", [{}])[0]
        text = "=".join(v.get(g, "") for g in ("Alphabetic", "Ideographic", "Phonetic")).rstrip("=")
        if text != r[4]:
            fail("character-sets", r, "answered %r" % text)


CHECKS = [
    ("sop-classes", check_sop_classes),
    ("storage-classes", check_storage_classes),
    ("storage-rules", check_storage_rules),
    ("storage-transfer-syntaxes", check_storage_ts),
    ("transfer-syntax-selection", check_ts_selection),
    ("implementation", check_implementation),
    ("cfind-matching", check_cfind),
    ("configuration", check_configuration),
    ("dicomweb-resources", check_resources),
    ("qido-parameters", check_qido),
    ("character-sets", check_charsets),
]


def main():
    found = tables(open(sys.argv[1], encoding="utf-8").read())
    store_samples()
    for name, check in CHECKS:
        if name not in found:
            failures.append("%s: the statement has no such table" % name)
            continue
        before = len(failures)
        check(found[name])
        counts[name] = (len(found[name]), len(failures) - before)
    for name in found:
        if name not in dict(CHECKS):
            failures.append("%s: a table marked for checking that no check reads" % name)
    for name, (rows, bad) in counts.items():
        print("%-27s %3d rows, %d failed" % (name, rows, bad))
    for f in failures:
        print("FAILED " + f, file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
