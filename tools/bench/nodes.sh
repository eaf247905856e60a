#!/bin/sh
# SPDX-License-Identifier: MIT
# Ingest and query figures for several pacsd nodes on one PostgreSQL index and one object
# folder (issue 10), beside the same load on one node. pacs-bench drives one server; this
# script spreads the same kind of load over N nodes on this machine:
#   ingest: 3 storescu associations at once, each sending its own new 100-slice 512x512 CT study
#           (pacs-gen, explicit little endian, ~525 KB a slice), association i to node i mod N;
#           RUNS runs, wall clock from the first association to the last response;
#   QIDO-RS: 3 keep-alive clients at once, client i on node i mod N, cycling for SECONDS through
#           five study queries (exact PatientID, name prefix, folded name, 7-day date range,
#           unknown StudyInstanceUID), and the median latency of each query from one client.
#
#   tools/bench/nodes.sh PG_URI N WORK [SEED]
#
# PG_URI: an existing index (e.g. filled by pacs-bench and tools/bench/index_fill.py); its
# objects need not be there. WORK keeps the generated studies (reused), the nodes' folders and
# logs. SEED picks the generated studies (default 77; use another one for each measurement on
# the same index, so that no study is already stored). Environment: PACSD, PACS_GEN (default:
# this build's), RUNS (3), SECONDS (20). Prints one Markdown table row per figure.
set -eu
uri=${1:?usage: nodes.sh PG_URI N WORK [SEED]}
n=${2:?usage: nodes.sh PG_URI N WORK [SEED]}
work=${3:?usage: nodes.sh PG_URI N WORK [SEED]}
seed=${4:-77}
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD_DIR:-$here/../../build}
PACSD=${PACSD:-$build/bin/pacsd}
PACS_GEN=${PACS_GEN:-$build/bin/pacs-gen}
RUNS=${RUNS:-3}
SECONDS_Q=${SECONDS:-20}
export TCP_NODELAY=1
mkdir -p "$work"

data="$work/studies-s$seed"
if [ ! -d "$data" ]; then
    "$PACS_GEN" --out "$data.tmp" --seed "$seed" --studies 1000 --count $((RUNS * 3)) \
        --slices 100 --kind ct >/dev/null
    mv "$data.tmp" "$data"
fi
set -- $(find "$data" -mindepth 1 -maxdepth 1 -type d | sort)
[ "$#" -ge $((RUNS * 3)) ] || { echo "nodes.sh: expected $((RUNS * 3)) studies in $data" >&2; exit 1; }

pids=""
stop_all() {
    for p in $pids; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in $pids; do
        timeout 30 sh -c 'while kill -0 "$1" 2>/dev/null; do sleep 0.1; done' _ "$p" || true
    done
}
trap stop_all EXIT
ports=""
http=""
i=0
while [ "$i" -lt "$n" ]; do
    d="$work/node$i"
    rm -rf "$d"
    mkdir -p "$d"
    "$PACSD" --data "$d/data" --set "index=$uri" --set "storage.objects=$work/objects" \
        --set "node.name=bench$i" --set dimse.port=0 --set http.port=0 --set dimse.bind=127.0.0.1 \
        --set http.bind=127.0.0.1 --set hl7.port=-1 --ready-file "$d/ready" >"$d/pacsd.log" 2>&1 &
    pids="$pids $!"
    timeout 60 sh -c 'until [ -s "$1" ]; do sleep 0.05; done' _ "$d/ready"
    sleep 0.1
    ports="$ports $(sed -n 's/^DIMSE_PORT=//p' "$d/ready")"
    http="$http $(sed -n 's/^HTTP_PORT=//p' "$d/ready")"
    i=$((i + 1))
done
port_of() { # index list...
    k=$(($1 % n + 1))
    shift
    echo "$@" | awk -v k="$k" '{print $k}'
}

# ---- ingest ----
rates=""
r=0
while [ "$r" -lt "$RUNS" ]; do
    bytes=0
    files=0
    t0=$(date +%s.%N)
    j=0
    spids=""
    for s in "$1" "$2" "$3"; do
        # shellcheck disable=SC2086
        timeout 600 storescu -aec PACS 127.0.0.1 "$(port_of "$j" $ports)" +sd "$s" \
            >"$work/scu-$r-$j.log" 2>&1 &
        spids="$spids $!"
        files=$((files + $(find "$s" -type f | wc -l)))
        bytes=$((bytes + $(du -sb "$s" | cut -f1)))
        j=$((j + 1))
    done
    for p in $spids; do
        wait "$p" || { echo "nodes.sh: storescu failed (see $work/scu-$r-*.log)" >&2; exit 1; }
    done
    t1=$(date +%s.%N)
    rate=$(echo "$files $bytes $t0 $t1" | awk '{printf "%.1f %.1f", $1 / ($4 - $3), $2 / 1e6 / ($4 - $3)}')
    rates="$rates
$rate"
    shift 3
    r=$((r + 1))
done
echo "$rates" | awk NF | sort -n | awk -v n="$n" '{ a[NR] = $1; b[NR] = $2 }
    END { m = int((NR + 1) / 2);
          printf "| C-STORE ingest, 3 associations over %d node(s) | %.1f instances/s | %.1f MB/s | median of %d runs (%.1f-%.1f) |\n", n, a[m], b[m], NR, a[1], a[NR] }'

# ---- QIDO-RS ----
# The values: from a study pacs-bench stored (dated 2000 or later), the same for every run.
vals=$(psql "$uri" -qAtX -F '|' -c "SELECT patient_id, left(patient_name, 10) || '*',
    replace(left(patient_name_fold, position(' ' IN patient_name_fold) + 2), ' ', '^') || '*',
    study_date || '-' || to_char(to_date(study_date, 'YYYYMMDD') + 6, 'YYYYMMDD')
    FROM studies WHERE study_date >= '2000' AND patient_name_fold LIKE '% %'
    ORDER BY pk OFFSET 100 LIMIT 1")
echo "| (query values: $vals) | | | |"
# shellcheck disable=SC2086
python3 - "$n" "$SECONDS_Q" "$vals" $http <<'EOF'
import http.client, statistics, sys, threading, time, urllib.parse
n, secs, ports = int(sys.argv[1]), float(sys.argv[2]), [int(p) for p in sys.argv[4:]]
pid, name, folded, dates = sys.argv[3].split("|")
q = urllib.parse.quote
queries = [("exact PatientID", "PatientID=" + q(pid)),
           ("PatientName prefix", "PatientName=" + q(name)),
           ("PatientName prefix, folded", "PatientName=" + q(folded) + "&fuzzymatching=true"),
           ("StudyDate range (7 days)", "StudyDate=" + dates),
           ("unknown StudyInstanceUID", "StudyInstanceUID=1.2.3.4.5.6.7.8.9")]
def get(c, q):
    c.request("GET", "/dicomweb/studies?" + q)
    r = c.getresponse()
    r.read()
    if r.status not in (200, 204):
        raise SystemExit("QIDO %s: %d" % (q, r.status))
c = http.client.HTTPConnection("127.0.0.1", ports[0])
for name, q in queries:
    get(c, q)
    t = []
    for _ in range(20):
        t0 = time.perf_counter(); get(c, q); t.append((time.perf_counter() - t0) * 1000)
    print("| QIDO-RS %s, 1 client | %.2f ms | | median of 20 |" % (name, statistics.median(t)))
count = [0, 0, 0]
stop = time.perf_counter() + secs
def worker(i):
    c = http.client.HTTPConnection("127.0.0.1", ports[i % n])
    k = 0
    while time.perf_counter() < stop:
        get(c, queries[k % len(queries)][1]); k += 1
    count[i] = k
th = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
t0 = time.perf_counter()
[t.start() for t in th]; [t.join() for t in th]
el = time.perf_counter() - t0
print("| QIDO-RS, 3 clients over %d node(s) | %.1f queries/s | | %d queries in %.1f s |" % (n, sum(count) / el, sum(count), el))
EOF
