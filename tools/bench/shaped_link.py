#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A slow provincial link between two programs on one machine, for benchmarks: a TCP proxy
that delivers each direction's bytes at RATE bits per second after DELAY milliseconds, as a
serialising link with propagation delay would (what `tc qdisc ... netem delay 50ms rate
10mbit` does, for kernels built without sch_netem, such as the machines CI runs on). Bytes
queue behind each other: a chunk leaves when the link has sent the ones before it, and arrives
DELAY later. Counts the bytes it carried each way and prints them when stopped (SIGTERM).

usage: shaped_link.py LISTEN_PORT TARGET_HOST TARGET_PORT [--rate-mbit 10] [--delay-ms 50]
       [--ready-file PATH]
"""
import argparse
import asyncio
import signal
import sys
import time

CHUNK = 16384


class Direction:
    """One way of the link: a serialising queue shared by every connection on it."""

    def __init__(self, rate_bps, delay_s):
        self.rate = rate_bps / 8.0  # bytes per second
        self.delay = delay_s
        self.free_at = 0.0  # when the link has sent what it was given
        self.bytes = 0

    def arrival(self, n):
        now = time.monotonic()
        start = max(now, self.free_at)
        self.free_at = start + n / self.rate
        self.bytes += n
        return self.free_at + self.delay


async def pump(reader, writer, way):
    pending = asyncio.Queue()

    async def deliver():
        while True:
            item = await pending.get()
            if item is None:
                break
            at, data = item
            wait = at - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        writer.close()

    task = asyncio.create_task(deliver())
    try:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            await pending.put((way.arrival(len(data)), data))
            # Back-pressure: read no further ahead than a second of the link.
            while pending.qsize() * CHUNK > way.rate:
                await asyncio.sleep(0.01)
    except ConnectionError:
        pass
    await pending.put(None)
    try:
        await task
    except ConnectionError:
        pass


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("listen_port", type=int)
    ap.add_argument("target_host")
    ap.add_argument("target_port", type=int)
    ap.add_argument("--rate-mbit", type=float, default=10.0)
    ap.add_argument("--delay-ms", type=float, default=50.0)
    ap.add_argument("--ready-file")
    a = ap.parse_args()
    up = Direction(a.rate_mbit * 1e6, a.delay_ms / 1000.0)
    down = Direction(a.rate_mbit * 1e6, a.delay_ms / 1000.0)

    async def handle(client_r, client_w):
        try:
            server_r, server_w = await asyncio.open_connection(a.target_host, a.target_port)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(pump(client_r, server_w, up), pump(server_r, client_w, down))

    server = await asyncio.start_server(handle, "127.0.0.1", a.listen_port)
    if a.ready_file:
        with open(a.ready_file, "w") as f:
            f.write("ready\n")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    async with server:
        await stop.wait()
    print("shaped_link: %d bytes up, %d bytes down" % (up.bytes, down.bytes), file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
