#!/bin/sh
# SPDX-License-Identifier: MIT
# Tele-reading over a slow provincial link: a "district" pacsd forwards a CT study by STOW-RS
# (web.CENTRAL, docs/tele-reading.md) to a "central" pacsd through a shaped link
# (tools/bench/shaped_link.py: RATE Mbit/s each way, DELAY ms one way, as `tc netem` would give
# on a kernel that has it), once per transfer syntax the central side is said to accept:
# `explicit` (the images as stored), `jpegls` and `htj2k` (lossless, made by the district's
# sender). For each: seconds from the first C-STORE at the district until the central index
# has every instance, the bytes on the link, MB/s of images delivered (as stored) and on the
# wire, and studies of this size per hour. Plain HTTP with an API key between the two: TLS
# costs nothing measurable at 10 Mbit/s. Idle machine, please: a busy one measures itself.
#
# usage: tools/bench/telereading_bench.sh BUILD_DIR [SLICES (100)] [RATE_MBIT (10)] [DELAY_MS (50)]
set -eu
build=$(cd "${1:?usage: telereading_bench.sh BUILD_DIR [SLICES] [RATE_MBIT] [DELAY_MS]}" && pwd)
slices=${2:-100} rate=${3:-10} delay=${4:-50}
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/tele-bench.XXXXXX")
pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null || true; done; sleep 0.5; rm -rf "$work"' EXIT
export TCP_NODELAY=1 PACS_HL7_PORT=0

# A free port below the kernel's ephemeral range (as tests/lib.sh's free_port).
port() {
    python3 -c 'import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
while True:
    p = random.randrange(10000, low)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        break
    except OSError:
        s.close()
print(p)'
}
wait_file() { timeout 30 sh -c 'until [ -s "$1" ]; do sleep 0.05; done' _ "$1"; }
now() { date +%s.%N; }

"$build/bin/pacs-gen" --out "$work/ct" --studies 3 --slices "$slices" --matrix 512 >/dev/null
key=$(openssl rand -hex 24)
printf '%s\n' "$key" >"$work/key"
c_port=$(port)
"$build/bin/pacsd" --data "$work/central" --set dimse.port=0 --set "http.port=$c_port" \
    --set http.auth=required \
    --set "auth.key.district=sha256:$(printf %s "$key" | sha256sum | cut -d' ' -f1) read write" \
    --ready-file "$work/central.ready" >"$work/central.log" 2>&1 &
pids="$pids $!"
wait_file "$work/central.ready"

printf '%-9s %9s %9s %8s %14s %12s %13s\n' accept stored_MB wire_MB seconds "MB/s(stored)" \
    "MB/s(wire)" studies/hour
i=0
for accept in explicit jpegls htj2k; do
    dir="$work/ct/000000$i"
    study=$(awk -F '\t' -v n="$i" '$1 == n { print $2 }' "$work/ct/manifest.tsv")
    stored=$(du -sb "$dir" | cut -f1)
    l_port=$(port)
    python3 "$src/tools/bench/shaped_link.py" "$l_port" 127.0.0.1 "$c_port" --rate-mbit "$rate" \
        --delay-ms "$delay" --ready-file "$work/link-$accept.ready" 2>"$work/link-$accept.log" &
    link=$!
    pids="$pids $link"
    wait_file "$work/link-$accept.ready"
    "$build/bin/pacsd" --data "$work/district-$accept" --set dimse.port=0 --set http.port=0 \
        --set "web.CENTRAL=http://127.0.0.1:$l_port/dicomweb key=@$work/key accept=$accept" \
        --set "route.tele=CENTRAL modality=CT" --ready-file "$work/district-$accept.ready" \
        >"$work/district-$accept.log" 2>&1 &
    district=$!
    pids="$pids $district"
    wait_file "$work/district-$accept.ready"
    d_dimse=$(sed -n 's/^DIMSE_PORT=//p' "$work/district-$accept.ready")
    t0=$(now)
    storescu -aet MODALITY -aec PACS +sd +r 127.0.0.1 "$d_dimse" "$dir" >/dev/null 2>&1
    url="http://127.0.0.1:$c_port/dicomweb/studies?StudyInstanceUID=$study&includefield=00201208"
    until [ "$(curl -s -H "Authorization: Bearer $key" "$url" | python3 -c 'import json, sys
t = sys.stdin.read()
d = json.loads(t) if t.strip() else []
print(d[0]["00201208"]["Value"][0] if d else 0)')" -ge "$slices" ]; do
        sleep 0.2
    done
    t1=$(now)
    kill "$district" "$link"
    wait "$link" 2>/dev/null || true
    wire=$(sed -n 's/^shaped_link: \([0-9]*\) bytes up.*/\1/p' "$work/link-$accept.log")
    python3 -c 'import sys
acc, stored, wire = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
t = float(sys.argv[5]) - float(sys.argv[4])
print("%-9s %9.1f %9.1f %8.1f %14.2f %12.2f %13.0f" % (acc, stored / 1e6, wire / 1e6, t,
      stored / 1e6 / t, wire / 1e6 / t, 3600 / t))' "$accept" "$stored" "${wire:-0}" "$t0" "$t1"
    i=$((i + 1))
done
echo "($slices slices of 512x512 16-bit CT per study; link $rate Mbit/s each way, $delay ms one way)"
