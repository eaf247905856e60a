#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A raw DICOM upper-layer client for tests (Python 3 standard library only).

DCMTK's tools refuse to send a truncated or malformed dataset; this client sends any bytes as
the dataset of a C-STORE, so that a server's answer to bad input can be tested. It speaks just
enough of PS3.8 (A-ASSOCIATE, P-DATA, A-RELEASE) and PS3.7 (C-STORE, C-ECHO).

  dicom_send.py --port P store SPEC...   one association, one C-STORE per SPEC, in order;
                                         prints "STORE <n> 0xSSSS <error comment>" per store
  dicom_send.py --port P echo            prints "ECHO 0xSSSS"
  dicom_send.py --port P raw FILE        writes FILE's bytes to the port as they are and prints
                                         "RAW <what came back>" (PDU type, or "closed")
  dicom_send.py --port P hold SECONDS    asks for an association (use --called to get it
                                         rejected), prints "ACCEPTED" or "REJECTED", then keeps
                                         the connection open for SECONDS without a word

A SPEC is a Part 10 file, optionally followed by ':'-separated changes of what is sent:
  truncate=N   send only the first N bytes of the dataset (a negative N drops the last -N)
  garbage=N    send N bytes of 0xFF... instead of the dataset
  class=UID    the Affected SOP Class UID of the request (default: from the meta header)
  uid=UID      the Affected SOP Instance UID of the request (default: from the meta header)
  ts=UID       the transfer syntax to propose and send under (default: the file's)
Exit status: 0 when the association worked (whatever the statuses), 1 otherwise.
"""
import argparse
import socket
import struct
import sys
import time

APP_CONTEXT = b"1.2.840.10008.3.1.1.1"
VERIFICATION = "1.2.840.10008.1.1"
IMPLICIT_LE = "1.2.840.10008.1.2"


def pad_uid(uid):
    b = uid.encode("ascii")
    return b + b"\0" if len(b) % 2 else b


def item(item_type, payload):
    return struct.pack(">BBH", item_type, 0, len(payload)) + payload


def read_part10(path):
    """Returns (sop_class, sop_uid, ts, dataset_bytes) of a Part 10 file."""
    data = open(path, "rb").read()
    if data[128:132] != b"DICM":
        raise SystemExit(f"{path}: not a Part 10 file")
    pos, meta = 132, {}
    while pos + 8 <= len(data):
        group, elem = struct.unpack_from("<HH", data, pos)
        if group != 2:
            break
        vr = data[pos + 4:pos + 6]
        if vr in (b"OB", b"OW", b"OF", b"SQ", b"UT", b"UN", b"UC", b"UR"):
            length = struct.unpack_from("<I", data, pos + 8)[0]
            value_at = pos + 12
        else:
            length = struct.unpack_from("<H", data, pos + 6)[0]
            value_at = pos + 8
        meta[elem] = data[value_at:value_at + length].rstrip(b"\0 ").decode("ascii", "replace")
        pos = value_at + length
    return meta.get(2, ""), meta.get(3, ""), meta.get(0x10, ""), data[pos:]


def element(group, elem, value):
    """An implicit VR little endian element (for command sets)."""
    if isinstance(value, int):
        value = struct.pack("<H", value)
    elif isinstance(value, str):
        value = pad_uid(value)
    return struct.pack("<HHI", group, elem, len(value)) + value


def command(fields):
    body = b"".join(element(0, e, v) for e, v in fields)
    return element(0, 0, struct.pack("<I", len(body))) + body


def parse_command(data):
    """Returns {element: raw value} of an implicit VR LE command set."""
    out, pos = {}, 0
    while pos + 8 <= len(data):
        group, elem, length = struct.unpack_from("<HHI", data, pos)
        out[elem] = data[pos + 8:pos + 8 + length]
        pos += 8 + length
    return out


class Association:
    def __init__(self, host, port, calling, called, contexts, timeout, keep_if_rejected=False):
        """contexts: list of (abstract syntax, [transfer syntaxes]); ids 1, 3, 5, ..."""
        self.rejected = False
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.max_pdu = 16384
        self.accepted = {}  # pc id -> (abstract syntax, transfer syntax)
        pcs = b""
        self.proposed = {}
        for i, (abstract, syntaxes) in enumerate(contexts):
            pc_id = 2 * i + 1
            self.proposed[pc_id] = abstract
            sub = item(0x30, abstract.encode())
            for ts in syntaxes:
                sub += item(0x40, ts.encode())
            pcs += item(0x20, struct.pack("BBBB", pc_id, 0, 0, 0) + sub)
        user = item(0x50, item(0x51, struct.pack(">I", 65536)) +
                    item(0x52, b"1.2.826.0.1.3680043.10.1347.99") + item(0x55, b"RAWTEST"))
        body = (struct.pack(">HH", 1, 0) + called.ljust(16).encode() + calling.ljust(16).encode() +
                b"\0" * 32 + item(0x10, APP_CONTEXT) + pcs + user)
        self.send_pdu(0x01, body)
        pdu_type, payload = self.recv_pdu()
        if pdu_type == 0x03 and keep_if_rejected:
            self.rejected = True
            return
        if pdu_type != 0x02:
            raise RuntimeError(f"association not accepted (PDU type 0x{pdu_type:02x})")
        pos = 68
        while pos + 4 <= len(payload):
            it, _, length = struct.unpack_from(">BBH", payload, pos)
            value = payload[pos + 4:pos + 4 + length]
            if it == 0x21 and value[2] == 0:
                ts = ""
                sp = 4
                while sp + 4 <= len(value):
                    st, _, sl = struct.unpack_from(">BBH", value, sp)
                    if st == 0x40:
                        ts = value[sp + 4:sp + 4 + sl].decode().rstrip("\0 ")
                    sp += 4 + sl
                self.accepted[value[0]] = (self.proposed[value[0]], ts)
            elif it == 0x50:
                sp = 0
                while sp + 4 <= len(value):
                    st, _, sl = struct.unpack_from(">BBH", value, sp)
                    if st == 0x51 and sl == 4:
                        peer = struct.unpack_from(">I", value, sp + 4)[0]
                        if peer:
                            self.max_pdu = min(peer, 65536)
                    sp += 4 + sl
            pos += 4 + length

    def send_pdu(self, pdu_type, body):
        self.sock.sendall(struct.pack(">BBI", pdu_type, 0, len(body)) + body)

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("connection closed")
            buf += chunk
        return buf

    def recv_pdu(self):
        header = self.recv_exact(6)
        pdu_type, _, length = struct.unpack(">BBI", header)
        return pdu_type, self.recv_exact(length)

    def send_message(self, pc_id, data, is_command):
        room = self.max_pdu - 6  # PDV header: length (4), context id (1), control (1)
        chunks = [data[i:i + room] for i in range(0, len(data), room)] or [b""]
        for i, chunk in enumerate(chunks):
            control = (1 if is_command else 0) | (2 if i == len(chunks) - 1 else 0)
            pdv = struct.pack(">IBB", len(chunk) + 2, pc_id, control) + chunk
            self.send_pdu(0x04, pdv)

    def recv_command(self):
        data = b""
        while True:
            pdu_type, payload = self.recv_pdu()
            if pdu_type != 0x04:
                raise RuntimeError(f"unexpected PDU type 0x{pdu_type:02x}")
            pos = 0
            while pos < len(payload):
                length, _, control = struct.unpack_from(">IBB", payload, pos)
                data += payload[pos + 6:pos + 4 + length]
                pos += 4 + length
                if control & 1 and control & 2:
                    return parse_command(data)

    def pc_for(self, abstract, ts):
        for pc_id, (a, t) in self.accepted.items():
            if a == abstract and (ts is None or t == ts):
                return pc_id
        return None

    def release(self):
        self.send_pdu(0x05, b"\0\0\0\0")
        try:
            self.recv_pdu()
        except (ConnectionError, OSError):
            pass
        self.sock.close()


def status_line(kind, n, rsp):
    status = struct.unpack("<H", rsp.get(0x0900, b"\xff\xff")[:2])[0]
    comment = rsp.get(0x0902, b"").rstrip(b"\0 ").decode("utf-8", "replace")
    return f"{kind} {n} 0x{status:04x} {comment}".rstrip()


def parse_spec(spec):
    parts = spec.split(":")
    sop_class, sop_uid, ts, dataset = read_part10(parts[0])
    for change in parts[1:]:
        key, _, value = change.partition("=")
        if key == "truncate":
            dataset = dataset[:int(value)]
        elif key == "garbage":
            dataset = b"\xff" * int(value)
        elif key == "class":
            sop_class = value
        elif key == "uid":
            sop_uid = value
        elif key == "ts":
            ts = value
        else:
            raise SystemExit(f"unknown change '{change}'")
    return sop_class, sop_uid, ts, dataset


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--aet", default="RAWTEST")
    ap.add_argument("--called", default="PACS")
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("mode", choices=["store", "echo", "raw", "hold"])
    ap.add_argument("args", nargs="*")
    a = ap.parse_args()
    try:
        if a.mode == "raw":
            with socket.create_connection((a.host, a.port), timeout=a.timeout) as s:
                s.sendall(open(a.args[0], "rb").read())
                try:
                    back = s.recv(6)
                except OSError:
                    back = b""
                print(f"RAW PDU 0x{back[0]:02x}" if back else "RAW closed")
            return 0
        if a.mode == "hold":
            assoc = Association(a.host, a.port, a.aet, a.called, [(VERIFICATION, [IMPLICIT_LE])],
                                a.timeout, keep_if_rejected=True)
            print("REJECTED" if assoc.rejected else "ACCEPTED", flush=True)
            time.sleep(float(a.args[0]))
            assoc.sock.close()
            return 0
        if a.mode == "echo":
            assoc = Association(a.host, a.port, a.aet, a.called, [(VERIFICATION, [IMPLICIT_LE])],
                                a.timeout)
            assoc.send_message(1, command([(2, VERIFICATION), (0x100, 0x30), (0x110, 1),
                                           (0x800, 0x0101)]), True)
            print(status_line("ECHO", 1, assoc.recv_command()))
            assoc.release()
            return 0
        specs = [parse_spec(s) for s in a.args]
        contexts, seen = [], set()
        for sop_class, _, ts, _ in specs:
            if (sop_class, ts) not in seen:
                seen.add((sop_class, ts))
                contexts.append((sop_class, [ts]))
        assoc = Association(a.host, a.port, a.aet, a.called, contexts, a.timeout)
        for n, (sop_class, sop_uid, ts, dataset) in enumerate(specs, 1):
            pc_id = assoc.pc_for(sop_class, ts)
            if pc_id is None:
                print(f"STORE {n} refused-context")
                continue
            assoc.send_message(pc_id, command([(2, sop_class), (0x100, 1), (0x110, n),
                                               (0x700, 0), (0x800, 0), (0x1000, sop_uid)]), True)
            assoc.send_message(pc_id, dataset, False)
            print(status_line("STORE", n, assoc.recv_command()), flush=True)
        assoc.release()
        return 0
    except (OSError, RuntimeError, ConnectionError) as e:
        print(f"ERROR {e}", flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
