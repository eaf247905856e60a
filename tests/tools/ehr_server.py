#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A stand-in for the province's EHR FHIR server, for tests/test_ehr_push.sh (Python 3 standard
library only).

  ehr_server.py PORT KEYFILE DIR

Serves PUT and GET of resources at /fhir/{type}/{id} on 127.0.0.1:PORT. Every request needs
"Authorization: Bearer KEY" (KEYFILE's first line), else 401. A PUT keeps the last body per
type and id as DIR/{type}-{id}.json and answers 201 (new) or 200 (replaced) with the body; a GET
answers it, or 404. While DIR/fail500 exists every request is answered 500 (the server down
for a while). Every body received, whatever the answer, is kept as DIR/bodies/N.json, and each
request is a line of DIR/log: "METHOD TYPE ID STATUS". DIR/ready is written once it listens.
"""
import http.server
import json
import os
import re
import sys
import threading

LOCK = threading.Lock()
PATH = re.compile(r"^/fhir/([A-Za-z]+)/([A-Za-z0-9.\-]{1,64})$")


class Ehr(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, status, body=b""):
        self.send_response(status)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_one(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        m = PATH.match(self.path)
        rtype, rid = (m.group(1), m.group(2)) if m else ("-", "-")
        with LOCK:
            if body:
                n = len(os.listdir(os.path.join(DIR, "bodies"))) + 1
                with open(os.path.join(DIR, "bodies", "%d.json" % n), "wb") as f:
                    f.write(body)
            if self.headers.get("Authorization") != "Bearer " + KEY:
                status = 401
            elif os.path.exists(os.path.join(DIR, "fail500")):
                status = 500
            elif not m:
                status = 404
            else:
                path = os.path.join(DIR, "%s-%s.json" % (rtype, rid))
                if method == "GET":
                    status = 200 if os.path.exists(path) else 404
                    body = open(path, "rb").read() if status == 200 else b""
                else:
                    try:
                        res = json.loads(body)
                        ok = res.get("resourceType") == rtype and res.get("id") == rid
                    except ValueError:
                        ok = False
                    if not ok:
                        status = 400
                    else:
                        status = 200 if os.path.exists(path) else 201
                        with open(path + ".tmp", "wb") as f:
                            f.write(body)
                        os.rename(path + ".tmp", path)
            with open(os.path.join(DIR, "log"), "a") as f:
                f.write("%s %s %s %d\n" % (method, rtype, rid, status))
        self.answer(status, body if status in (200, 201) else b"")

    def do_PUT(self):
        self.handle_one("PUT")

    def do_GET(self):
        self.handle_one("GET")

    def log_message(self, *args):
        pass


def main():
    global KEY, DIR
    port, keyfile, DIR = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    KEY = open(keyfile).readline().strip()
    os.makedirs(os.path.join(DIR, "bodies"), exist_ok=True)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Ehr)
    with open(os.path.join(DIR, "ready.tmp"), "w") as f:
        f.write("%d\n" % port)
    os.rename(os.path.join(DIR, "ready.tmp"), os.path.join(DIR, "ready"))
    srv.serve_forever()


if __name__ == "__main__":
    main()
