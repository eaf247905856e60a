#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Orthanc's REST API and byte-for-byte checks for the Orthanc interoperability tests, one
process per step (Python 3 standard library only).

  orthanc_tool.py upload ORTHANC FILES...   uploads Part 10 files; prints their studies'
                                            Orthanc IDs, sorted, one per line
  orthanc_tool.py sops ORTHANC              the SOP Instance UIDs Orthanc holds, sorted
  orthanc_tool.py clear ORTHANC             deletes every study Orthanc holds
  orthanc_tool.py same ORTHANC FILES...     each file's dataset equals the one Orthanc holds
                                            under its SOP Instance UID (exit 1 naming those
                                            that do not)
  orthanc_tool.py wado-same BASE FILES...   each file's dataset equals the one pacsd serves
                                            with WADO-RS as stored (transfer-syntax=*), found
                                            by QIDO-RS from the meta header's SOP Instance UID
  orthanc_tool.py wait-commit ORTHANC UID   waits (up to 60 s) for storage commitment
                                            transaction UID's report; prints it as JSON

ORTHANC is Orthanc's REST root (http://127.0.0.1:PORT); BASE is pacsd's DICOMweb root.
"""
import json
import re
import struct
import sys
import time
import urllib.error
import urllib.request


def call(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=120) as r:
        return r.read(), r.headers


def jcall(method, url, obj=None):
    body = None if obj is None else (obj if isinstance(obj, bytes) else json.dumps(obj).encode())
    data, _ = call(method, url, body)
    return json.loads(data) if data else None


def dataset(data):
    """What follows the preamble and the meta header of a Part 10 file."""
    if data[128:132] != b"DICM":
        raise ValueError("not a Part 10 file")
    off = 132
    while off + 8 <= len(data) and data[off:off + 2] == b"\x02\x00":
        vr = data[off + 4:off + 6]
        if vr in (b"OB", b"OW", b"UN", b"SQ", b"UT"):
            off += 12 + struct.unpack("<I", data[off + 8:off + 12])[0]
        else:
            off += 8 + struct.unpack("<H", data[off + 6:off + 8])[0]
    return data[off:]


def same(got, want):
    """Dataset bytes equal; DCMTK's senders drop a trailing (FFFC,FFFC) padding element."""
    a, b = dataset(got), dataset(want)
    return a == b or (b.startswith(a) and b[len(a):len(a) + 4] == b"\xfc\xff\xfc\xff")


def meta_sop(data):
    """The Media Storage SOP Instance UID (0002,0003) of a Part 10 file's meta header."""
    off = 132
    while off + 8 <= len(data) and data[off:off + 2] == b"\x02\x00":
        elem, vr = struct.unpack("<H", data[off + 2:off + 4])[0], data[off + 4:off + 6]
        if vr in (b"OB", b"OW", b"UN", b"SQ", b"UT"):
            n, head = struct.unpack("<I", data[off + 8:off + 12])[0], 12
        else:
            n, head = struct.unpack("<H", data[off + 6:off + 8])[0], 8
        if elem == 0x0003:
            return data[off + head:off + head + n].rstrip(b"\0 ").decode()
        off += head + n
    raise ValueError("no Media Storage SOP Instance UID")


def upload(root, files):
    studies = set()
    for p in files:
        r = jcall("POST", root + "/instances", open(p, "rb").read())
        if "ParentStudy" not in r:
            sys.exit("Orthanc refused %s: %s" % (p, r))
        studies.add(r["ParentStudy"])
    print("\n".join(sorted(studies)))


def sops(root):
    return sorted(i["MainDicomTags"]["SOPInstanceUID"] for i in jcall("GET", root + "/instances?expand"))


def cmd_same(root, files):
    bad = []
    for p in files:
        want = open(p, "rb").read()
        sop = meta_sop(want)
        ids = [r["ID"] for r in jcall("POST", root + "/tools/lookup", sop.encode())
               if r["Type"] == "Instance"]
        if not ids:
            bad.append("%s: not in Orthanc" % p)
            continue
        got, _ = call("GET", "%s/instances/%s/file" % (root, ids[0]))
        if not same(got, want):
            bad.append("%s: Orthanc holds another dataset" % p)
    return bad


def parts(body, ctype):
    m = re.search(r'boundary="?([^";\s]+)', ctype)
    delim = b"--" + m.group(1).encode()
    out = []
    for piece in body.split(delim)[1:-1]:
        out.append(piece[2:-2].partition(b"\r\n\r\n")[2])
    return out


def cmd_wado_same(base, files):
    bad = []
    accept = 'multipart/related; type="application/dicom"; transfer-syntax=*'
    for p in files:
        want = open(p, "rb").read()
        sop = meta_sop(want)
        found = jcall("GET", "%s/instances?SOPInstanceUID=%s" % (base, sop))
        if len(found) != 1:
            bad.append("%s: QIDO-RS finds %d instances" % (p, len(found)))
            continue
        path = found[0]["00081190"]["Value"][0]
        try:
            body, headers = call("GET", path, headers={"Accept": accept})
        except urllib.error.HTTPError as e:
            bad.append("%s: WADO-RS %d" % (p, e.code))
            continue
        got = parts(body, headers["Content-Type"])
        if len(got) != 1 or not same(got[0], want):
            bad.append("%s: pacsd serves another dataset" % p)
    return bad


def wait_commit(root, txuid):
    end = time.time() + 60
    while True:
        try:
            r = jcall("GET", "%s/storage-commitment/%s" % (root, txuid))
        except urllib.error.HTTPError:
            r = {"Status": "Unknown"}
        if r.get("Status") not in ("Pending", "Unknown") or time.time() > end:
            print(json.dumps(r))
            return
        time.sleep(0.2)


def main():
    cmd, target, rest = sys.argv[1], sys.argv[2].rstrip("/"), sys.argv[3:]
    if cmd == "upload":
        upload(target, rest)
    elif cmd == "sops":
        print("\n".join(sops(target)))
    elif cmd == "clear":
        for s in jcall("GET", target + "/studies"):
            call("DELETE", "%s/studies/%s" % (target, s))
        if sops(target):
            sys.exit("Orthanc still holds instances")
    elif cmd in ("same", "wado-same"):
        bad = cmd_same(target, rest) if cmd == "same" else cmd_wado_same(target, rest)
        if bad:
            sys.exit("\n".join(bad))
    elif cmd == "wait-commit":
        wait_commit(target, rest[0])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
