#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Peers for tests/test_telereading.sh (Python 3 standard library only).

  tele_tool.py gate LISTEN_PORT TARGET_PORT GATE_DIR
      A TCP relay to 127.0.0.1:TARGET_PORT that passes its Nth connection's request (from 1)
      at once but holds the server's answer until GATE_DIR/N or GATE_DIR/open exists (what the
      server sends before the client has sent 8 KB, the TLS handshake, passes): the test
      decides when each STOW answer may reach the sender, so a sender can be killed after the
      server stored a batch and before it heard so, without timing. Writes GATE_DIR/seen-N when
      connection N arrives.
  tele_tool.py fail500 LISTEN_PORT
      An HTTP server that answers 500 to every request (a central archive that is broken).
  tele_tool.py fetch URL CA KEY OUT
      WADO-RS retrieval of one instance as stored (transfer-syntax=*) over HTTPS with a bearer
      key; writes the first part's body to OUT.
"""
import http.server
import os
import socket
import ssl
import sys
import threading
import time
import urllib.request


def relay(a, b, sent=None, hold=None):
    """Copies a to b until either closes. `sent` (a one-item list) counts the bytes copied;
    `hold(sent)`, when given, is called before each chunk and may wait."""
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            if hold:
                hold()
            b.sendall(data)
            if sent is not None:
                sent[0] += len(data)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def gate(listen_port, target_port, gate_dir):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", int(listen_port)))
    srv.listen(16)
    n = 0
    while True:
        conn, _ = srv.accept()
        n += 1
        open(os.path.join(gate_dir, "seen-%d" % n), "w").close()

        def serve(conn=conn, k=n):
            up = socket.create_connection(("127.0.0.1", int(target_port)))
            sent = [0]

            def hold():
                # Past the handshake (8 KB from the client: the request has begun), the answer
                # waits for the gate; bounded, so a test that forgets it ends anyway.
                for _ in range(6000):
                    if sent[0] < 8192 or os.path.exists(os.path.join(gate_dir, str(k))) or \
                            os.path.exists(os.path.join(gate_dir, "open")):
                        return
                    time.sleep(0.05)

            threading.Thread(target=relay, args=(conn, up, sent), daemon=True).start()
            relay(up, conn, None, hold)

        threading.Thread(target=serve, daemon=True).start()


class Fail500(http.server.BaseHTTPRequestHandler):
    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        while length > 0:
            chunk = self.rfile.read(min(length, 65536))
            if not chunk:
                break
            length -= len(chunk)
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = answer
    do_GET = answer

    def log_message(self, *args):
        pass


def fetch(url, ca, key, out):
    ctx = ssl.create_default_context(cafile=ca)
    req = urllib.request.Request(url, headers={
        "Authorization": "Bearer " + key,
        "Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'})
    with urllib.request.urlopen(req, context=ctx, timeout=60) as r:
        ctype = r.headers["Content-Type"]
        body = r.read()
    boundary = ctype.split("boundary=")[1].split(";")[0].strip('"').encode()
    part = body.split(b"--" + boundary)[1]
    data = part.split(b"\r\n\r\n", 1)[1]
    with open(out, "wb") as f:
        f.write(data[:-2] if data.endswith(b"\r\n") else data)


def main():
    cmd = sys.argv[1]
    if cmd == "gate":
        gate(*sys.argv[2:5])
    elif cmd == "fail500":
        http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), Fail500).serve_forever()
    elif cmd == "fetch":
        fetch(*sys.argv[2:6])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
