#!/bin/sh
# SPDX-License-Identifier: MIT
# Metrics and health (issue 21): /metrics in the Prometheus text format, /healthz and /readyz.
# Debian's prometheus, started here with a scrape job at pacsd's HTTP port, scrapes pacsd; a
# PromQL query through Prometheus's HTTP API must return the number of instances this test
# stored (over C-STORE and STOW-RS), and the associations of its calling AE. promtool checks
# the exposition format. With http.auth = required, /metrics needs a credential with the
# metrics scope (401 without, 403 with a read-only key) unless http.ops_auth = false; a second
# scrape job scrapes that pacsd with its key.
. "$SRC/tests/lib.sh"
. "$SRC/tests/lib_dicomweb.sh"

command -v prometheus >/dev/null || fail "prometheus is not installed (scripts/deps.sh)"
PROM_PID=""
trap 'if [ -n "$PROM_PID" ]; then kill "$PROM_PID" 2>/dev/null || true; wait "$PROM_PID" 2>/dev/null || true; fi
      if [ -n "${AUTH_PID:-}" ]; then kill -9 "$AUTH_PID" 2>/dev/null || true; fi
      cleanup' EXIT

N=5
make_ct_copies "$WORK/ct" $((N - 1))
make_ct_copies "$WORK/stow" 1
start_pacsd
base="http://127.0.0.1:$HTTP_PORT"

# Health first: alive and ready on an empty archive.
assert_eq 200 "$(http_status "$base/healthz")" "/healthz"
assert_eq 200 "$(http_status "$base/readyz")" "/readyz"
grep -q '^ready$' "$WORK/body" || fail "/readyz body: $(cat "$WORK/body")"
assert_eq 405 "$(http_status -X POST "$base/metrics")" "POST /metrics"

# N-1 instances over C-STORE from one calling AE, one over STOW-RS, one QIDO.
timeout 120 storescu -aec PACS -aet METRICS-CT 127.0.0.1 "$DIMSE_PORT" "$WORK"/ct/*.dcm ||
    fail "storescu"
stow_body PACSTEST "$WORK/stow.body" "$WORK"/stow/*.dcm
assert_eq 200 "$(stow_post "$base/dicomweb/studies" "$WORK/stow.body")" "STOW-RS"
assert_eq 200 "$(http_status "$base/dicomweb/studies")" "QIDO-RS"

# The exposition itself: promtool's checks, and the values this test caused.
http_get "$base/metrics" >"$WORK/metrics.txt" || fail "GET /metrics"
promtool check metrics <"$WORK/metrics.txt" >"$WORK/promtool.log" 2>&1 ||
    fail "promtool check metrics: $(cat "$WORK/promtool.log")"
metric() { # name{labels} as written
    awk -v k="$1" '$1 == k { print $2 }' "$WORK/metrics.txt"
}
assert_eq $((N - 1)) "$(metric 'pacs_instances_stored_total{protocol="dimse"}')" "stored over DIMSE"
assert_eq 1 "$(metric 'pacs_instances_stored_total{protocol="stow"}')" "stored over STOW-RS"
assert_eq 1 "$(metric 'pacs_dimse_associations_total{calling_ae="METRICS-CT"}')" "associations"
assert_eq $((N - 1)) "$(metric 'pacs_store_duration_seconds_count{protocol="dimse"}')" \
    "store latency observations"
assert_eq "$N" "$(metric pacs_archive_instances)" "instances in the index"
assert_eq 1 "$(metric 'pacs_http_requests_total{route="qido",code="200"}')" "QIDO requests"
assert_eq 1 "$(metric 'pacs_http_requests_total{route="stow",code="200"}')" "STOW requests"
grep -q '^pacs_disk_free_bytes{path=".*"} [1-9]' "$WORK/metrics.txt" || fail "no free space"
if [ -z "${PACS_INDEX:-}" ]; then
    grep -q '^pacs_index_size_bytes [1-9]' "$WORK/metrics.txt" || fail "no index size"
elif grep -q '^pacs_index_size_bytes' "$WORK/metrics.txt"; then
    # A PostgreSQL index's size is its server's to report (pg_database_size), not pacsd's.
    fail "an index size for a PostgreSQL index"
fi

# A second pacsd that needs credentials, for the scrape with a key and the refusals.
METRICS_KEY=metrics-key-for-prometheus
READ_KEY=read-only-key
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
"$PACSD" --data "$WORK/auth" --set dimse.port=0 --set http.port=0 --set http.bind=127.0.0.1 \
    --set http.auth=required --set "auth.key.prom=sha256:$(sha "$METRICS_KEY") metrics" \
    --set "auth.key.viewer=sha256:$(sha "$READ_KEY") read" \
    --set index= --ready-file "$WORK/ready-auth" >>"$WORK/pacsd-auth.log" 2>&1 &
AUTH_PID=$!
timeout 30 sh -c 'until [ -s "$1" ]; do sleep 0.05; done' _ "$WORK/ready-auth" ||
    fail "the second pacsd did not start: $(tail -5 "$WORK/pacsd-auth.log")"
AUTH_HTTP=$(sed -n 's/^HTTP_PORT=//p' "$WORK/ready-auth")
auth_base="http://127.0.0.1:$AUTH_HTTP"
assert_eq 401 "$(http_status "$auth_base/metrics")" "/metrics without a credential"
assert_eq 401 "$(http_status "$auth_base/readyz")" "/readyz without a credential"
assert_eq 403 "$(http_status -H "Authorization: Bearer $READ_KEY" "$auth_base/metrics")" \
    "/metrics with a read-only key"
assert_eq 200 "$(http_status -H "Authorization: Bearer $METRICS_KEY" "$auth_base/metrics")" \
    "/metrics with the metrics key"

# Prometheus scrapes both, every second, on a port of its own.
PROM_PORT=$(free_port)
cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: pacsd
    static_configs:
      - targets: ['127.0.0.1:$HTTP_PORT']
  - job_name: pacsd-auth
    authorization:
      credentials: '$METRICS_KEY'
    static_configs:
      - targets: ['127.0.0.1:$AUTH_HTTP']
EOF
timeout 300 prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
    --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >"$WORK/prometheus.log" 2>&1 &
PROM_PID=$!
prom="http://127.0.0.1:$PROM_PORT"
timeout 60 sh -c 'until curl -sf --max-time 2 "$1/-/ready" >/dev/null; do
    kill -0 "$2" 2>/dev/null || exit 1; sleep 0.2; done' _ "$prom" "$PROM_PID" ||
    fail "prometheus did not become ready: $(tail -5 "$WORK/prometheus.log")"

# The value of an instant PromQL query (the first sample's), or "" while there is none.
promql() {
    curl -sS --max-time 10 -G "$prom/api/v1/query" --data-urlencode "query=$1" 2>/dev/null |
        python3 -c 'import json, sys
r = json.load(sys.stdin)
assert r["status"] == "success", r
v = r["data"]["result"]
print(v[0]["value"][1] if v else "")' 2>/dev/null || true
}
# Waits (at most 60 s) until query $1 returns $2; then asserts it.
wait_promql() { # query expected message
    end=$(($(date +%s) + 60))
    while [ "$(promql "$1")" != "$2" ] && [ "$(date +%s)" -lt "$end" ]; do
        sleep 0.5
    done
    assert_eq "$2" "$(promql "$1")" "$3"
}
wait_promql 'up{job="pacsd"}' 1 "Prometheus scraping pacsd"
wait_promql 'up{job="pacsd-auth"}' 1 "Prometheus scraping pacsd with its key"
wait_promql 'sum(pacs_instances_stored_total{job="pacsd"})' "$N" "instances stored, from PromQL"
wait_promql 'pacs_archive_instances{job="pacsd"}' "$N" "instances in the index, from PromQL"
wait_promql 'pacs_dimse_associations_total{calling_ae="METRICS-CT"}' 1 \
    "associations of the calling AE, from PromQL"

# http.ops_auth = false: the endpoints answer without a credential, DICOMweb still needs one.
kill -TERM "$AUTH_PID"
wait "$AUTH_PID" 2>/dev/null || true
rm -f "$WORK/ready-auth"
"$PACSD" --data "$WORK/auth" --set dimse.port=0 --set http.port=0 --set http.bind=127.0.0.1 \
    --set http.auth=required --set "auth.key.viewer=sha256:$(sha "$READ_KEY") read" \
    --set http.ops_auth=false --set index= --ready-file "$WORK/ready-auth" \
    >>"$WORK/pacsd-auth.log" 2>&1 &
AUTH_PID=$!
timeout 30 sh -c 'until [ -s "$1" ]; do sleep 0.05; done' _ "$WORK/ready-auth" ||
    fail "the third pacsd did not start: $(tail -5 "$WORK/pacsd-auth.log")"
auth_base="http://127.0.0.1:$(sed -n 's/^HTTP_PORT=//p' "$WORK/ready-auth")"
assert_eq 200 "$(http_status "$auth_base/metrics")" "/metrics with http.ops_auth = false"
assert_eq 200 "$(http_status "$auth_base/healthz")" "/healthz with http.ops_auth = false"
assert_eq 401 "$(http_status "$auth_base/dicomweb/studies")" "QIDO still needs a credential"
pass
