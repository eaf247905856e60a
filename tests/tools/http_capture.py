#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Records how an HTTP client sends one request (Python 3 standard library only).

  http_capture.py PORTFILE OUT
      Listens on a free loopback port (written to PORTFILE once listening), accepts one
      connection, reads one request (its body by Content-Length or chunked transfer coding),
      answers 200 with an empty DICOM JSON object, and writes to OUT, one per line:
      "METHOD <method>", "PATH <path>", "HEADER <name>: <value>" for each header, "CHUNKED 1"
      when the body was chunked, "BODY <bytes>" and "BOUNDARY <length>" (the multipart
      boundary named in Content-Type, when there is one). Gives up after 120 seconds.
"""
import re
import socket
import sys


def main():
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(120)
    with open(sys.argv[1], "w") as f:
        f.write("%d\n" % srv.getsockname()[1])
    conn, _ = srv.accept()
    conn.settimeout(60)
    data = b""
    while b"\r\n\r\n" not in data:
        more = conn.recv(65536)
        if not more:
            break
        data += more
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:] if ":" in line]
    h = {k.lower(): v for k, v in headers}

    def need(n):
        nonlocal rest
        while len(rest) < n:
            more = conn.recv(65536)
            if not more:
                raise EOFError("connection closed in the body")
            rest += more

    body = b""
    chunked = "chunked" in h.get("transfer-encoding", "").lower()
    if chunked:
        while True:
            while b"\r\n" not in rest:
                need(len(rest) + 1)
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            need(size + 2)
            body += rest[:size]
            rest = rest[size + 2:]
            if size == 0:
                break
    else:
        n = int(h.get("content-length", "0"))
        need(n)
        body = rest[:n]
    answer = b"{}"
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/dicom+json\r\n"
                 b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(answer), answer))
    conn.close()
    with open(sys.argv[2], "w") as out:
        out.write("METHOD %s\nPATH %s\n" % (method, path))
        for k, v in headers:
            out.write("HEADER %s: %s\n" % (k, v))
        out.write("CHUNKED %d\nBODY %d\n" % (chunked, len(body)))
        m = re.search(r'boundary="?([^";]+)"?', h.get("content-type", ""))
        if m:
            out.write("BOUNDARY %d\n" % len(m.group(1)))


if __name__ == "__main__":
    main()
