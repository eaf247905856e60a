#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Grows an index (SQLite file or PostgreSQL URI) to a given number of instances by copying
its rows in SQL, for benchmarks at a million instances and more without generating, sending
and storing a million files (which on 2 cores takes hours).

Every copy k = 1..K of every patient, study, series and instance gets new primary keys and
UIDs (suffix .k), and a PatientID ("Rk-..."), names ("k#...") and dates (year 1800+k) that no
query of pacs-bench matches; the original rows are given copy 0's values the same way. So a
later `pacs-bench --seed N` (a seed other than the one that filled the index) stores its own
studies on top and its queries run against the whole index while their answers stay the
counts its model predicts. Copies share the original rows' object keys and stored metadata
(which still names the original UIDs): they are there to be searched, not retrieved. A copy's
date keeps the original's month and day, so a 29 February may land in a common year: the
columns are text and match as such, but do not parse them as dates.

    tools/bench/index_fill.py INDEX TARGET     # INDEX: path/index.sqlite or postgresql://...

Not for a live archive: run it with pacsd stopped. Single-threaded; needs sqlite3 or psql.
"""
import math
import subprocess
import sys

# Columns given copy k's values; every other column is copied as it is. {c} is the column.
CHANGED = {
    "patients": {
        "pk": "pk + {k} * {off}",
        "patient_id": "'R' || {k} || '-' || patient_id",
        "name": "{k} || '#' || name",
        "name_ci": "{k} || '#' || name_ci",
        "name_fold": "{k} || '#' || name_fold",
    },
    "studies": {
        "pk": "pk + {k} * {off}",
        "patient_pk": "patient_pk + {k} * {off_patients}",
        "study_uid": "study_uid || '.' || {k}",
        "study_date": "CAST(1800 + {k} AS TEXT) || substr(study_date, 5)",
        "accession": "'R' || {k} || accession",
        "patient_id": "'R' || {k} || '-' || patient_id",
        "patient_name": "{k} || '#' || patient_name",
        "patient_name_ci": "{k} || '#' || patient_name_ci",
        "patient_name_fold": "{k} || '#' || patient_name_fold",
    },
    "series": {
        "pk": "pk + {k} * {off}",
        "study_pk": "study_pk + {k} * {off_studies}",
        "series_uid": "series_uid || '.' || {k}",
        "series_date": "CAST(1800 + {k} AS TEXT) || substr(series_date, 5)",
    },
    "instances": {
        "pk": "pk + {k} * {off}",
        "series_pk": "series_pk + {k} * {off_series}",
        "sop_uid": "sop_uid || '.' || {k}",
    },
}
TABLES = ["patients", "studies", "series", "instances"]


def run(index, sql, capture=False):
    if index.startswith("postgres"):
        cmd = ["psql", index, "-qAtX", "-v", "ON_ERROR_STOP=1"]
    else:
        cmd = ["sqlite3", "-batch", "-bail", index]
    r = subprocess.run(cmd, input=sql, text=True, capture_output=True)
    if r.returncode != 0:
        sys.exit("index_fill: %s" % r.stderr.strip())
    return r.stdout


def columns(index, table):
    if index.startswith("postgres"):
        out = run(index, "SELECT column_name FROM information_schema.columns WHERE table_name = "
                  "'%s' ORDER BY ordinal_position;" % table)
    else:
        out = run(index, "SELECT name FROM pragma_table_info('%s');" % table)
    return out.split()


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    index, target = sys.argv[1], int(sys.argv[2])
    pg = index.startswith("postgres")
    n = int(run(index, "SELECT count(*) FROM instances;"))
    if n == 0:
        sys.exit("index_fill: the index is empty")
    copies = max(0, math.ceil(target / n) - 1)
    off = {t: int(run(index, "SELECT coalesce(max(pk), 0) + 1 FROM %s;" % t)) for t in TABLES}
    print("index_fill: %d instance(s), %d cop%s" % (n, copies, "y" if copies == 1 else "ies"),
          file=sys.stderr)
    sql = ["BEGIN;"]
    if pg:
        sql.append("SET LOCAL synchronous_commit = off;")
    for t in TABLES:
        cols = columns(index, t)
        fmt = dict(off=off[t], off_patients=off["patients"], off_studies=off["studies"],
                   off_series=off["series"])
        exprs = [CHANGED[t].get(c, c).format(k="k.n", **fmt) for c in cols]
        sql.append("INSERT INTO %s(%s) WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL "
                   "SELECT n + 1 FROM k WHERE n < %d) SELECT %s FROM %s, k;"
                   % (t, ", ".join(cols), copies, ", ".join(exprs), t)
                   if copies else "")
        # The originals become copy 0 (their primary keys stay).
        sets = ["%s = %s" % (c, e.format(k="0", **fmt)) for c, e in CHANGED[t].items()
                if c in cols and c != "pk" and not c.endswith("_pk")]
        sql.append("UPDATE %s SET %s WHERE pk < %d;" % (t, ", ".join(sets), off[t]))
    if pg:
        for t in TABLES:
            sql.append("SELECT setval(pg_get_serial_sequence('%s', 'pk'), "
                       "(SELECT max(pk) FROM %s));" % (t, t))
    sql.append("COMMIT;")
    # The originals' old row versions would otherwise lie first in the date index.
    sql.append("VACUUM ANALYZE;" if pg else "ANALYZE;")
    run(index, "\n".join(sql))
    print("index_fill: now %s instance(s)" % run(index, "SELECT count(*) FROM instances;").strip(),
          file=sys.stderr)


if __name__ == "__main__":
    main()
