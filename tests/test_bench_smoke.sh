#!/bin/sh
# SPDX-License-Identifier: MIT
# Smoke run of the benchmark (issue 6): `pacs-bench --size smoke` generates a tiny data set,
# measures the machine's limits, starts the real pacsd (and Orthanc when it is installed; it
# is never installed from here) and must finish with a well-formed report: every figure row
# present in report.json, the DIMSE and `pacs import` figures measured for pacsd (and the
# import's limit), the same rows in report.md.
# pacs-bench-his runs a tiny HL7 and worklist round. Speed is never asserted here: timings
# belong to the benchmark itself.
. "$SRC/tests/lib.sh"
: "${PACS_BENCH:?PACS_BENCH must point to the pacs-bench binary}"

if ! timeout 170 "$PACS_BENCH" --size smoke --work "$WORK/bench" --pacsd "$PACSD" \
    --orthanc auto >"$WORK/bench.out" 2>&1; then
    tail -n 40 "$WORK/bench.out" >&2
    fail "pacs-bench --size smoke did not complete"
fi
[ -s "$WORK/bench/report.json" ] || fail "no report.json"
[ -s "$WORK/bench/report.md" ] || fail "no report.md"

python3 - "$WORK/bench/report.json" "$WORK/bench/report.md" <<'EOF' || fail "malformed report"
import json, sys

rep = json.load(open(sys.argv[1]))
md = open(sys.argv[2], encoding="utf-8").read()
rows = {r["id"]: r for r in rep["rows"]}
want = ["bulk_load", "cstore_ct_1", "cstore_ct_1_mb", "cstore_ct_4", "cstore_dx_1", "stow",
        "import_small", "cecho", "cfind_id", "cfind_name_utf8", "cfind_name_folded", "cfind_date", "cfind_uid",
        "qido_id", "qido_name_utf8", "qido_name_folded", "qido_date", "qido_uid", "qido_tput",
        "wado_study", "metadata_first", "metadata", "frames_cold", "frames_cached",
        "rendered_cold", "rendered_cached", "rss", "rss_anon", "disk_objects", "disk_index"]
missing = [w for w in want if w not in rows]
assert not missing, "rows missing: %s" % missing
# Figures that only need DIMSE, the data folder and the pacs tool must be measured for pacsd
# (import_small: every run's `pacs import` exited 0 and stored every file as new).
for rid in ["bulk_load", "cstore_ct_1", "cstore_ct_4", "cstore_dx_1", "import_small", "cecho",
            "cfind_id", "cfind_date", "cfind_uid", "rss", "rss_anon", "disk_objects",
            "disk_index"]:
    p = rows[rid]["pacsd"]
    assert p["n"] > 0 and p["median"] > 0, "%s not measured for pacsd: %s" % (rid, p)
# When Orthanc ran, its import (one POST /instances per file) must have succeeded too.
if rows["cstore_ct_1"]["orthanc"]["n"] > 0:
    o = rows["import_small"]["orthanc"]
    assert o["n"] > 0 and o["median"] > 0, "import_small not measured for Orthanc: %s" % o
for r in rep["rows"]:
    for server in ("pacsd", "orthanc"):
        s = r[server]
        assert isinstance(s["n"], int) and s["n"] >= 0
        if s["n"]:
            assert s["min"] <= s["median"] <= s["max"], (r["id"], server, s)
            assert len(s["samples"]) == s["n"]
    assert r["met"] in (True, False, None)
    assert r["label"] in md, "row %s not in report.md" % r["id"]
limits = {l["id"]: l for l in rep["limits"]}
for lid in ["ceiling_ct_1", "ceiling_ct_4", "fsync_files", "copy_small", "tcp_1", "tcp_4",
            "sha256"]:
    assert lid in limits and limits[lid]["n"] > 0, "limit %s not measured" % lid
assert rows["cstore_ct_1"]["limit"]["value"] > 0
assert rows["import_small"]["limit"]["value"] > 0
assert rows["import_small"]["pacsd_over_limit"] > 0
assert "| figure |" in md and "Machine limits" in md
for key in ("command", "machine", "data", "pacsd"):
    assert rep["meta"].get(key), "meta %s missing" % key
print("report ok: %d rows, %d limits" % (len(rows), len(limits)))
EOF

# The hospital side (pacs-bench-his): HL7 orders over MLLP, then worklist C-FINDs whose item
# counts it checks against its model (it exits non-zero on a wrong count).
: "${PACS_BENCH_HIS:?PACS_BENCH_HIS must point to the pacs-bench-his binary}"
if ! timeout 120 "$PACS_BENCH_HIS" --pacsd "$PACSD" --work "$WORK/his" --orders 40 --reps 2 \
    >"$WORK/his.out" 2>&1; then
    cat "$WORK/his.out" >&2
    fail "pacs-bench-his did not complete with the model's counts"
fi
grep -q '^| HL7 ORM^O01 (place an order), one connection | [0-9]* messages/s |$' "$WORK/his.out" ||
    fail "no HL7 figure: $(cat "$WORK/his.out")"
[ "$(grep -c '^| MWL C-FIND .* items | [0-9.]* ms' "$WORK/his.out")" = 5 ] ||
    fail "not 5 worklist figures: $(cat "$WORK/his.out")"
pass
