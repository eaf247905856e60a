#!/bin/sh
# SPDX-License-Identifier: MIT
# The QIDO-RS query table at scale: fills (or reuses) a data folder of N studies made by
# pacs-gen (one small DX image each, Vietnamese names at their real frequencies), starts pacsd
# on it (on its SQLite index, or with --pg on a PostgreSQL index the folder's index is copied
# into once), and times each kind of query the issue names: a PatientID, a common family name
# (Nguyễn, ~38% of studies), a rare one (Quách, ~0.1%), a fuzzy name, a 7-day date range, the
# newest 25; each RUNS times (default 20), every run a new curl process (connection set-up
# included, as a viewer's first request), and prints a Markdown table of medians.
#
#   tools/bench/query_bench.sh --data /tmp/q200 --studies 200000            # SQLite
#   tools/bench/query_bench.sh --data /tmp/q1m --studies 333334 --images 3  # 1,000,002 instances
#   tools/bench/query_bench.sh --data /tmp/q200 --pg postgresql://u@h:p/db  # PostgreSQL
#
# Filling 200,000 studies takes ~15 min on 2 cores (pacs-gen 1 min, pacs import the rest);
# a later run with the same --data reuses them. The values queried are taken from the newest
# study: its PatientID and a 7-day range ending on its date. Medians drift with the machine's
# load: compare figures from one run, not across runs. Not part of the test suite.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin=${BIN:-$here/../../build/bin}
PACSD=${PACSD:-$bin/pacsd}
data="" studies=200000 images=1 pg="" runs=20 limit=25
while [ $# -gt 0 ]; do
    case $1 in
    --data) data=$2; shift 2 ;;
    --studies) studies=$2; shift 2 ;;
    --images) images=$2; shift 2 ;;
    --pg) pg=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --limit) limit=$2; shift 2 ;;
    *) echo "usage: query_bench.sh --data DIR [--studies N] [--images N] [--pg URI] [--runs N] [--limit N]" >&2
       exit 2 ;;
    esac
done
[ -n "$data" ] || { echo "query_bench: --data DIR is required" >&2; exit 2; }
mkdir -p "$data"

if [ ! -s "$data/data/index.sqlite" ]; then
    echo "query_bench: filling $data with $studies studies" >&2
    "$bin/pacs-gen" --out "$data/gen" --studies "$studies" --kind dx --images "$images" \
        --dx-matrix 8x8 -j 2 >&2
    "$bin/pacs" --data "$data/data" import "$data/gen" >&2 || true
    rm -rf "$data/gen"
fi
index_opt=""
if [ -n "$pg" ]; then
    if [ "$(psql "$pg" -qAtX -c "SELECT to_regclass('studies') IS NOT NULL" 2>/dev/null)" != t ] ||
        [ "$(psql "$pg" -qAtX -c "SELECT count(*) FROM studies")" = 0 ]; then
        echo "query_bench: copying the index into $pg" >&2
        "$bin/pacs" --data "$data/data" migrate --to "$pg" >&2
        psql "$pg" -qAtX -c "ANALYZE" >&2
    fi
    index_opt="index=$pg"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/query-bench.XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid"; rm -rf "$work"' EXIT INT TERM
"$PACSD" --data "$data/data" --set dimse.port=0 --set http.port=0 --set hl7.port=0 \
    ${index_opt:+--set "$index_opt"} --ready-file "$work/ready" >"$work/pacsd.log" 2>&1 &
pid=$!
timeout 60 sh -c 'until [ -s "$1" ]; do sleep 0.1; done' _ "$work/ready" ||
    { cat "$work/pacsd.log" >&2; exit 1; }
. "$work/ready"
base="http://127.0.0.1:$HTTP_PORT/dicomweb/studies"

# The newest study's PatientID and date.
curl -sf "$base?limit=1&includefield=00100020,00080020" >"$work/newest.json"
eval "$(python3 - "$work/newest.json" <<'EOF'
import datetime, json, sys
s = json.load(open(sys.argv[1]))[0]
patient = s["00100020"]["Value"][0]
d = datetime.datetime.strptime(s["00080020"]["Value"][0], "%Y%m%d")
print("patient='%s' d0=%s d1=%s" % (patient, (d - datetime.timedelta(days=6)).strftime("%Y%m%d"),
                                d.strftime("%Y%m%d")))
EOF
)"
"$bin/pacs" --data "$data/data" ${index_opt:+--set "$index_opt"} stats >"$work/stats" 2>/dev/null
total=$(sed -n 's/^studies[^0-9]*\([0-9]*\).*/\1/p' "$work/stats")
instances=$(sed -n 's/^instances[^0-9]*\([0-9]*\).*/\1/p' "$work/stats")
# The index's bytes: the SQLite files, or the PostgreSQL database (tables, indexes, TOAST).
if [ -n "$pg" ]; then
    index_bytes=$(psql "$pg" -qAtX -c "SELECT pg_database_size(current_database())")
else
    index_bytes=$(cat "$data/data"/index.sqlite* | wc -c)
fi

# NAME|QUERY pairs; QUERY is the URL's query string, percent-encoded.
cat >"$work/queries" <<EOF
PatientID (one patient)|00100020=$patient&limit=$limit
PatientName=Nguyễn* (common, ~38%)|PatientName=Nguy%E1%BB%85n*&limit=$limit
PatientName=Quách* (rare, ~0.1%)|PatientName=Qu%C3%A1ch*&limit=$limit
PatientName=*quach* (rare, anywhere in the name)|PatientName=*quach*&limit=$limit
fuzzy PatientName=nguyen van|PatientName=nguyen%20van&fuzzymatching=true&limit=$limit
StudyDate 7 days ($d0-$d1)|StudyDate=$d0-$d1&limit=$limit
newest $limit|limit=$limit
PatientName=Nguyễn*, offset 500|PatientName=Nguy%E1%BB%85n*&limit=$limit&offset=500
PatientName=Nguyễn*, limit 100|PatientName=Nguy%E1%BB%85n*&limit=100
newest 1000|limit=1000
EOF

backend=SQLite
[ -z "$pg" ] || backend=PostgreSQL
echo "index: $backend, ${total:-?} studies, ${instances:-?} instances;" \
    "$index_bytes bytes, $((index_bytes / (instances > 0 ? instances : 1))) per instance;" \
    "$runs runs per query, each a new curl"
echo
echo "| query | studies answered | median ms | min ms | us per study answered |"
echo "| --- | ---: | ---: | ---: | ---: |"
while IFS='|' read -r name query; do
    answered=$(curl -sf "$base?$query" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
    i=0
    : >"$work/t"
    while [ $i -lt "$runs" ]; do
        curl -sf -o /dev/null -w '%{time_total}\n' "$base?$query" >>"$work/t"
        i=$((i + 1))
    done
    sort -g "$work/t" | awk -v name="$name" -v n="$answered" '
        { t[NR] = $1 * 1000 }
        END {
            m = NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
            printf "| %s | %d | %.2f | %.2f | %.0f |\n", name, n, m, t[1], n ? m * 1000 / n : 0
        }'
done <"$work/queries"
