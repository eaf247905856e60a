#!/bin/sh
# SPDX-License-Identifier: MIT
# C-MOVE throughput of pacsd: generates N CT instances (pydicom's CT_small.dcm with new UIDs,
# made with dcmodify; nothing is kept), stores them, then moves the study R times to a DCMTK
# storescp and prints instances/s and MB/s for each run and the median. The data lives in a
# temporary folder that is removed at the end.
#
#   scripts/bench_move.sh [BUILD_DIR] [N] [RUNS] [storescp options, e.g. --ignore]
#
# With MATRIX=512 (say) the instances are N slices of one synthetic 512x512 CT series from
# BUILD_DIR/bin/pacs-gen instead.
set -eu
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}
N=${2:-300}
RUNS=${3:-5}
shift $(($# < 3 ? $# : 3))
PACSD=$BUILD_DIR/bin/pacsd
CT=/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm
export TCP_NODELAY=1
[ -x "$PACSD" ] || { echo "bench_move: build pacsd first ($PACSD)" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pacs-bench-move.XXXXXX")
PIDS=""
trap 'for p in $PIDS; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$WORK/dest" "$WORK/gen"
timeout 3600 storescp -aet BENCH -od "$WORK/dest" "$@" "$port" >"$WORK/storescp.log" 2>&1 &
PIDS="$PIDS $!"
"$PACSD" --data "$WORK/d" --set dimse.port=0 --set http.port=0 --set hl7.port=-1 \
    --set "ae.BENCH=127.0.0.1:$port" \
    --ready-file "$WORK/ready" >"$WORK/pacsd.log" 2>&1 &
pacsd_pid=$!
PIDS="$PIDS $pacsd_pid"
# pacsd's CPU time so far, in clock ticks (user + system): a figure the machine's load distorts
# less than wall time.
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$pacsd_pid/stat"
}
HZ=$(getconf CLK_TCK)
timeout 30 sh -c 'until [ -s "$1" ]; do sleep 0.05; done' _ "$WORK/ready"
. "$WORK/ready"

if [ -n "${MATRIX:-}" ]; then
    timeout 600 "$BUILD_DIR/bin/pacs-gen" --out "$WORK/gen" --studies 1 --slices "$N" \
        --matrix "$MATRIX" >/dev/null
    first=$(find "$WORK/gen" -type f -name "*.dcm" | head -1)
    study=$(dcmdump -q +P 0020,000d "$first" | sed -n 's/^[^[]*\[\([^]]*\)\].*/\1/p')
    what="synthetic ${MATRIX}x${MATRIX} CT"
else
    study="2.25.$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')"
    series="2.25.$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')"
    i=1
    while [ "$i" -le "$N" ]; do
        cp "$CT" "$WORK/gen/ct-$i.dcm"
        i=$((i + 1))
    done
    timeout 600 dcmodify -nb -gin -m "(0020,000d)=$study" -m "(0020,000e)=$series" \
        "$WORK"/gen/*.dcm >/dev/null
    what="pydicom CT_small.dcm ($(stat -c %s "$CT") bytes) with new UIDs"
fi
find "$WORK/gen" -type f -name '*.dcm' >"$WORK/list"
timeout 600 xargs storescu -aec PACS 127.0.0.1 "$DIMSE_PORT" <"$WORK/list" >/dev/null 2>&1
bytes=$(find "$WORK/d/objects" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
echo "pacsd C-MOVE: $N instances of $what, $bytes bytes stored; destination: storescp $*"

rates=""
r=1
while [ "$r" -le "$RUNS" ]; do
    rm -f "$WORK"/dest/*
    c0=$(cpu_ticks)
    t0=$(date +%s.%N)
    timeout 600 movescu -S -aec PACS -aem BENCH -k QueryRetrieveLevel=STUDY \
        -k StudyInstanceUID="$study" 127.0.0.1 "$DIMSE_PORT" >/dev/null 2>&1
    t1=$(date +%s.%N)
    c1=$(cpu_ticks)
    rate=$(echo "$t0 $t1 $N $bytes $c0 $c1 $HZ" | awk '{ d = $2 - $1
        printf "%.1f %.1f %.3f %.3f", $3 / d, $4 / d / 1e6, d, ($6 - $5) * 1000 / $7 / $3 }')
    echo "run $r: $(echo "$rate" | awk '{ printf "%s instances/s, %s MB/s (%s s); pacsd CPU %s ms/instance", $1, $2, $3, $4 }')"
    rates="$rates
$rate"
    r=$((r + 1))
done
echo "$rates" | awk 'NF { print }' | sort -n | awk '{ a[NR] = $1; b[NR] = $2 }
    END { m = int((NR + 1) / 2); printf "median: %s instances/s, %s MB/s\n", a[m], b[m] }'
uptime
