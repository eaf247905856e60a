#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A STOW-RS client and a byte-for-byte retrieval check for the reliability tests (Python 3
standard library only).

  stow_tool.py stow --url BASE [--per-request K] [--acked FILE] FILES...
      Stores the files K to a request (default 1) on one keep-alive connection, in order.
      Appends the path of every file the server answered as stored (listed in the response's
      ReferencedSOPSequence) to FILE, flushed as each answer arrives, so a server killed
      mid-run leaves an exact list of what was acknowledged. Stops quietly at the first
      connection error. Prints "STOW sent=N stored=M statuses=..." and exits 0.
  stow_tool.py post --url BASE FILES...
      One request with all the files; prints "HTTP <status>", then "STORED <sop>" and
      "FAILED <sop> 0x<reason>" per instance from the response, "WARNING <header>" when the
      answer has a Warning header, and "MESSAGE <text>" for a plain-text error answer. Exits 0
      whatever the status.
  stow_tool.py check --url BASE FILES...
      Retrieves each file's instance with WADO-RS (Accept: application/dicom) on one
      connection and compares its dataset (what follows the meta header) with the file's,
      byte for byte. Prints "MISSING <file> <status>" or "DIFFERENT <file>" per problem and
      "CHECK ok=N bad=M"; exits 1 when any is missing or different.

BASE is the DICOMweb root, e.g. http://127.0.0.1:8080/dicomweb.
"""
import argparse
import http.client
import json
import struct
import sys
import urllib.parse
import uuid


LONG_VRS = (b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT",
            b"UV")
UNDEFINED = 0xFFFFFFFF


def meta_end(data):
    """(offset of the dataset after a Part 10 meta header, its transfer syntax UID)."""
    if data[128:132] != b"DICM":
        return 0, "1.2.840.10008.1.2"
    pos, ts = 132, "1.2.840.10008.1.2.1"
    while pos + 8 <= len(data):
        group, elem = struct.unpack_from("<HH", data, pos)
        if group != 2:
            break
        if data[pos + 4:pos + 6] in LONG_VRS:
            length, at = struct.unpack_from("<I", data, pos + 8)[0], pos + 12
        else:
            length, at = struct.unpack_from("<H", data, pos + 6)[0], pos + 8
        if elem == 0x10:
            ts = data[at:at + length].rstrip(b"\0 ").decode("ascii", "replace")
        pos = at + length
    return pos, ts


def dataset_bytes(data):
    """The bytes after a Part 10 file's meta header."""
    return data[meta_end(data)[0]:]


def walk(data, pos, explicit, want, found, depth=0):
    """Reads elements from pos until the end or an item/sequence delimiter; records the values
    of the top-level tags in `want`. Returns the position after what it read."""
    while pos + 8 <= len(data):
        group, elem = struct.unpack_from("<HH", data, pos)
        if group == 0xFFFE:  # item delimiter or sequence delimiter ends this level
            return pos + 8
        if explicit:
            vr = data[pos + 4:pos + 6]
            if vr in LONG_VRS:
                length, at = struct.unpack_from("<I", data, pos + 8)[0], pos + 12
            else:
                length, at = struct.unpack_from("<H", data, pos + 6)[0], pos + 8
        else:
            length, at = struct.unpack_from("<I", data, pos + 4)[0], pos + 8
            vr = b"SQ" if length == UNDEFINED else b"??"
        if length == UNDEFINED:  # a sequence (or encapsulated data) of undefined length
            pos = at
            while pos + 8 <= len(data):
                ig, ie, il = struct.unpack_from("<HHI", data, pos)
                pos += 8
                if (ig, ie) == (0xFFFE, 0xE0DD):
                    break
                if il == UNDEFINED:
                    pos = walk(data, pos, explicit, want, found, depth + 1)
                else:
                    pos += il
            continue
        if depth == 0 and (group, elem) in want:
            found[(group, elem)] = data[at:at + length].rstrip(b"\0 ").decode("ascii", "replace")
            if len(found) == len(want):
                return len(data)
        pos = at + length
    return pos


def uids(path):
    """(study, series, SOP instance UID) of a Part 10 file in a little endian syntax."""
    with open(path, "rb") as f:
        data = f.read()
    pos, ts = meta_end(data)
    want = {(0x20, 0xD), (0x20, 0xE), (8, 0x18)}
    found = {}
    walk(data, pos, ts != "1.2.840.10008.1.2", want, found)
    return found.get((0x20, 0xD), ""), found.get((0x20, 0xE), ""), found.get((8, 0x18), "")


class Conn:
    """One keep-alive HTTP connection to BASE, reopened on demand."""

    def __init__(self, base, timeout=60):
        u = urllib.parse.urlsplit(base)
        self.host, self.port, self.path = u.hostname, u.port or 80, u.path.rstrip("/")
        self.timeout = timeout
        self.c = None
        self.headers = None

    def request(self, method, path, body=None, headers=None):
        if self.c is None:
            self.c = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        self.c.request(method, self.path + path, body=body, headers=headers or {})
        r = self.c.getresponse()
        data = r.read()
        if r.getheader("Connection", "").lower() == "close":
            self.c.close()
            self.c = None
        self.headers = r
        return r.status, r.getheader("Content-Type", ""), data


def multipart(paths):
    boundary = uuid.uuid4().hex
    parts = []
    for p in paths:
        with open(p, "rb") as f:
            parts.append(b"--" + boundary.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n" +
                         f.read() + b"\r\n")
    body = b"".join(parts) + b"--" + boundary.encode() + b"--\r\n"
    ctype = f'multipart/related; type="application/dicom"; boundary={boundary}'
    return body, ctype


def post(conn, paths):
    """Returns (status, stored SOP UIDs, [(sop, reason)], text)."""
    body, ctype = multipart(paths)
    status, rtype, data = conn.request("POST", "/studies", body,
                                       {"Content-Type": ctype, "Accept": "application/dicom+json"})
    stored, failed, text = [], [], ""
    if "json" in rtype:
        doc = json.loads(data or b"{}")
        for item in doc.get("00081199", {}).get("Value", []):
            stored.extend(item.get("00081155", {}).get("Value", []))
        for item in doc.get("00081198", {}).get("Value", []):
            sop = (item.get("00081155", {}).get("Value") or ["?"])[0]
            reason = (item.get("00081197", {}).get("Value") or [0])[0]
            failed.append((sop, reason))
    else:
        text = data.decode("utf-8", "replace").strip()
    return status, stored, failed, text


def cmd_stow(args):
    conn = Conn(args.url)
    k = max(1, args.per_request)
    acked = open(args.acked, "a") if args.acked else None
    sent = stored_n = 0
    statuses = {}
    error = ""
    by_sop = {}
    for i in range(0, len(args.files), k):
        batch = args.files[i:i + k]
        for p in batch:
            by_sop.setdefault(uids(p)[2], p)
        try:
            status, stored, _, _ = post(conn, batch)
        except (OSError, http.client.HTTPException) as e:
            error = type(e).__name__
            break
        sent += len(batch)
        statuses[status] = statuses.get(status, 0) + 1
        for sop in stored:
            if sop in by_sop and acked:
                acked.write(by_sop[sop] + "\n")
                acked.flush()
            stored_n += 1
    st = ",".join(f"{s}x{n}" for s, n in sorted(statuses.items()))
    print(f"STOW sent={sent} stored={stored_n} statuses={st or '-'}" +
          (f" error={error}" if error else ""))
    return 0


def cmd_post(args):
    conn = Conn(args.url)
    status, stored, failed, text = post(conn, args.files)
    print(f"HTTP {status}")
    warning = conn.headers.getheader("Warning") if conn.headers else None
    if warning:
        print(f"WARNING {warning}")
    for sop in stored:
        print(f"STORED {sop}")
    for sop, reason in failed:
        print(f"FAILED {sop} 0x{reason:04X}")
    if text:
        print(f"MESSAGE {text}")
    return 0


def cmd_check(args):
    conn = Conn(args.url)
    ok = bad = 0
    for p in args.files:
        st, se, sop = uids(p)
        path = f"/studies/{st}/series/{se}/instances/{sop}"
        try:
            status, _, data = conn.request("GET", path, headers={"Accept": "application/dicom"})
        except (OSError, http.client.HTTPException) as e:
            print(f"MISSING {p} {type(e).__name__}")
            bad += 1
            conn.c = None
            continue
        if status != 200:
            print(f"MISSING {p} {status}")
            bad += 1
            continue
        with open(p, "rb") as f:
            want = dataset_bytes(f.read())
        if dataset_bytes(data) != want:
            print(f"DIFFERENT {p}")
            bad += 1
            continue
        ok += 1
    print(f"CHECK ok={ok} bad={bad}")
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("stow", "post", "check"):
        s = sub.add_parser(name)
        s.add_argument("--url", required=True)
        s.add_argument("files", nargs="+")
        if name == "stow":
            s.add_argument("--per-request", type=int, default=1)
            s.add_argument("--acked")
    args = ap.parse_args()
    return {"stow": cmd_stow, "post": cmd_post, "check": cmd_check}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
