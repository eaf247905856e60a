#!/bin/sh
# SPDX-License-Identifier: MIT
# One ingest figure, for A/B runs of pacsd settings: starts a fresh pacsd in a temporary data
# folder with the given settings, stores one file (warm-up), then times storescu sending every
# other *.dcm of FOLDER on ASSOCS associations at once (round-robin split), and prints
# "instances/s". Alternate the variants several times and compare medians; not a test.
#
#   tools/bench/ingest_ab.sh FOLDER 1 --set ingest.one_flush=true
#   tools/bench/ingest_ab.sh FOLDER 4 --set ingest.one_flush=false
set -eu
here=$(cd "$(dirname "$0")" && pwd)
PACSD=${PACSD:-$here/../../build/bin/pacsd}
folder=$1 assocs=$2
shift 2
work=$(mktemp -d "${TMPDIR:-/tmp}/ingest-ab.XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid"; rm -rf "$work"' EXIT INT TERM
"$PACSD" --data "$work/d" --set dimse.port=0 --set http.port=0 --set hl7.port=-1 \
    --ready-file "$work/ready" "$@" >"$work/pacsd.log" 2>&1 &
pid=$!
timeout 60 sh -c 'until [ -s "$1" ]; do sleep 0.1; done' _ "$work/ready"
. "$work/ready"
export TCP_NODELAY=1
ls "$folder"/*.dcm >"$work/all"
first=$(head -1 "$work/all")
storescu -aec PACS 127.0.0.1 "$DIMSE_PORT" "$first"
tail -n +2 "$work/all" >"$work/rest"
n=$(wc -l <"$work/rest")
split -n r/"$assocs" "$work/rest" "$work/part."
t0=$(date +%s.%N)
pids=""
for p in "$work"/part.*; do
    # shellcheck disable=SC2046
    storescu -aec PACS 127.0.0.1 "$DIMSE_PORT" $(cat "$p") &
    pids="$pids $!"
done
for p in $pids; do
    wait "$p"
done
t1=$(date +%s.%N)
echo "$n $t0 $t1" | awk '{ printf "%.1f instances/s\n", $1 / ($3 - $2) }'
