#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""HTTP load for the load test (tests/test_load.sh): CLIENTS threads, each with its own
keep-alive connection, query and retrieve through DICOMweb until the file STOP exists or
SECONDS have passed (Python 3 standard library only).

  load_http.py --url BASE --clients N --stop FILE --seconds S [--ready FILE] [--study UID]...

Each request is one of: QIDO-RS studies (a page), series of a study, instances of a series,
a study's /metadata, a whole instance (Accept: application/dicom), its first frame. The
studies, series and instances come from the answers themselves, starting from the studies
given with --study. Every answer must be 200 (204 for an empty search) with a body of the
announced length; anything else, a connection error or a timeout is a failure. The file
given with --ready is created once every client has made its first request. Prints
"LOAD requests=N failures=F seconds=T rate=R/s" and one line per kind with its count and
median and 99th-percentile time, then up to 10 failures; exits 1 when any request failed.
"""
import argparse
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.parse


class Shared:
    def __init__(self, studies):
        self.lock = threading.Lock()
        self.studies = list(studies)
        self.series = []     # (study, series)
        self.instances = []  # (study, series, sop)
        self.times = {}
        self.failures = []
        self.count = 0
        self.clients_started = set()

    def note(self, kind, seconds, failure=None):
        with self.lock:
            self.clients_started.add(threading.get_ident())
            self.count += 1
            self.times.setdefault(kind, []).append(seconds)
            if failure:
                self.failures.append(f"{kind}: {failure}")

    def pick(self, what):
        with self.lock:
            v = getattr(self, what)
            return random.choice(v) if v else None

    def add(self, what, items):
        with self.lock:
            v = getattr(self, what)
            known = set(v)
            for i in items:
                if i not in known and len(v) < 5000:
                    v.append(i)
                    known.add(i)


def tag(obj, t):
    v = obj.get(t, {}).get("Value")
    return v[0] if v else None


def client(base, shared, deadline, stop):
    u = urllib.parse.urlsplit(base)
    prefix = u.path.rstrip("/")
    conn = None
    while time.monotonic() < deadline and not os.path.exists(stop):
        if conn is None:
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        roll = random.random()
        st, se, sop = shared.pick("studies"), shared.pick("series"), shared.pick("instances")
        if roll < 0.25 or not st:
            kind, path, accept = "qido-studies", "/studies?limit=50&includefield=00081030", \
                "application/dicom+json"
        elif roll < 0.40:
            kind, path, accept = "qido-series", f"/studies/{st}/series", "application/dicom+json"
        elif roll < 0.55 and se:
            kind, path, accept = "qido-instances", f"/studies/{se[0]}/series/{se[1]}/instances", \
                "application/dicom+json"
        elif roll < 0.65:
            kind, path, accept = "metadata", f"/studies/{st}/metadata", "application/dicom+json"
        elif roll < 0.85 and sop:
            kind = "instance"
            path = f"/studies/{sop[0]}/series/{sop[1]}/instances/{sop[2]}"
            accept = 'multipart/related; type="application/dicom"; transfer-syntax=*'
        elif sop:
            kind = "frame"
            path = f"/studies/{sop[0]}/series/{sop[1]}/instances/{sop[2]}/frames/1"
            accept = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'
        else:
            kind, path, accept = "qido-series", f"/studies/{st}/series", "application/dicom+json"
        t0 = time.monotonic()
        try:
            conn.request("GET", prefix + path, headers={"Accept": accept})
            r = conn.getresponse()
            body = r.read()
            status = r.status
            length = r.getheader("Content-Length")
        except Exception as e:  # a failed request, whatever the cause
            shared.note(kind, time.monotonic() - t0, f"{path}: {type(e).__name__}: {e}")
            conn.close()
            conn = None
            continue
        took = time.monotonic() - t0
        if status not in (200, 204) or (status == 204 and not kind.startswith("qido")):
            shared.note(kind, took, f"{path}: HTTP {status} {body[:200]!r}")
            continue
        if length is not None and int(length) != len(body):
            shared.note(kind, took, f"{path}: {len(body)} bytes of {length}")
            continue
        shared.note(kind, took)
        if kind.startswith("qido") and status == 200:
            found = json.loads(body)
            if kind == "qido-studies":
                shared.add("studies", [s for s in (tag(o, "0020000D") for o in found) if s])
            elif kind == "qido-series":
                shared.add("series", [(st, s) for s in (tag(o, "0020000E") for o in found) if s])
            else:
                shared.add("instances", [(se[0], se[1], s)
                                         for s in (tag(o, "00080018") for o in found) if s])
    if conn is not None:
        conn.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--stop", required=True)
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--ready")
    ap.add_argument("--study", action="append", default=[])
    a = ap.parse_args()
    shared = Shared(a.study)
    start = time.monotonic()
    deadline = start + a.seconds
    threads = [threading.Thread(target=client, args=(a.url, shared, deadline, a.stop))
               for _ in range(a.clients)]
    for t in threads:
        t.start()
    while a.ready and time.monotonic() < deadline and any(t.is_alive() for t in threads):
        with shared.lock:
            if len(shared.clients_started) >= a.clients:
                open(a.ready, "w").close()
                break
        time.sleep(0.05)
    for t in threads:
        t.join()
    took = time.monotonic() - start
    print(f"LOAD requests={shared.count} failures={len(shared.failures)} seconds={took:.1f} "
          f"rate={shared.count / took:.1f}/s")
    for kind in sorted(shared.times):
        v = sorted(shared.times[kind])
        print(f"KIND {kind} n={len(v)} p50={v[len(v) // 2] * 1000:.0f}ms "
              f"p99={v[min(len(v) - 1, int(len(v) * 0.99))] * 1000:.0f}ms")
    for f in shared.failures[:10]:
        print(f"FAILED {f}")
    return 1 if shared.failures else 0


if __name__ == "__main__":
    sys.exit(main())
