#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A raw MLLP client for the tests' bad input (what a real HL7 client never sends).

usage: mllp.py [--tls CA [CERT KEY]] [--timeout S] PORT ACTION...
Each ACTION runs in order on one connection to 127.0.0.1:PORT:
  msg:TEXT     sends TEXT ("\\r" in it is a CR) framed <VT>TEXT<FS><CR>; prints the answer
  file:PATH    sends the file's bytes framed; prints the answer
  big:N        sends a framed message of N bytes (an MSH, then filler); prints the answer
  raw:TEXT     sends TEXT unframed; prints "closed" when the server then closes
  half:TEXT    sends <VT>TEXT and nothing more
  wait-close   waits until the server closes the connection; prints "closed"
Answers are printed with each segment on its own line, then a line "--".
Exits 1 when an answer does not come within the timeout (default 30 s).
"""
import socket
import ssl
import sys

VT, FS, CR = b"\x0b", b"\x1c", b"\r"


def connect(port, tls, timeout):
    s = socket.create_connection(("127.0.0.1", port), timeout)
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(tls[0])
        if len(tls) == 3:
            ctx.load_cert_chain(tls[1], tls[2])
        s = ctx.wrap_socket(s, server_hostname="127.0.0.1")
    s.settimeout(timeout)
    return s


def read_frame(s, pending):
    while FS + CR not in pending:
        d = s.recv(65536)
        if not d:
            raise EOFError("closed before an answer")
        pending += d
    end = pending.index(FS + CR)
    start = pending.index(VT)
    return pending[start + 1:end], pending[end + 2:]


def main(argv):
    tls, timeout, i = None, 30.0, 1
    while argv[i].startswith("--"):
        if argv[i] == "--tls":
            n = 3 if i + 3 < len(argv) and not argv[i + 2].isdigit() else 1
            tls = argv[i + 1:i + 1 + n]
            i += 1 + n
        elif argv[i] == "--timeout":
            timeout = float(argv[i + 1])
            i += 2
    port = int(argv[i])
    s = connect(port, tls, timeout)
    pending = b""
    for act in argv[i + 1:]:
        kind, _, arg = act.partition(":")
        if kind in ("msg", "file", "big"):
            if kind == "msg":
                body = arg.replace("\\r", "\r").encode("utf-8")
            elif kind == "file":
                body = open(arg, "rb").read()
            else:
                head = b"MSH|^~\\&|T|T|PACS|H|20240101||ORU^R01|BIG1|P|2.5\rNTE|1||"
                body = head + b"x" * (int(arg) - len(head))
            s.sendall(VT + body + FS + CR)
            try:
                frame, pending = read_frame(s, pending)
            except (socket.timeout, EOFError) as e:
                print("no answer: %s" % e)
                return 1
            sys.stdout.write(frame.decode("utf-8", "replace").replace("\r", "\n"))
            print("--")
        elif kind == "raw":
            s.sendall(arg.replace("\\r", "\r").encode())
        elif kind == "half":
            s.sendall(VT + arg.encode())
        elif kind == "wait-close":
            try:
                while s.recv(65536):
                    pass
                print("closed")
            except socket.timeout:
                print("still open")
                return 1
            except (ConnectionResetError, ssl.SSLError):
                print("closed")
        sys.stdout.flush()
    s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
