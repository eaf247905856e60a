#!/bin/sh
# SPDX-License-Identifier: MIT
# Query plans (EXPLAIN ANALYZE) on a PostgreSQL index of the main C-FIND and QIDO-RS queries,
# as storage/index_sql.c compiles them (the SQL text is what pacsd sends, copied from the
# server's log with log_min_duration_statement = 0; the values it binds are written in).
# The values are taken from the index itself, from the newest study dated 2000 or later (not
# one of index_fill.py's copies): its PatientID, the first ten characters of its name, its
# folded family name and the start of its given name as words, a 7-day range from its date.
# Run it twice: the second run shows warm-cache times.
#
#   tools/bench/pg_explain.sh postgresql://USER@HOST:PORT/DB
set -eu
uri=${1:?usage: pg_explain.sh postgresql://...}
psql "$uri" -qX -v ON_ERROR_STOP=1 <<'EOF'
\pset pager off
SELECT count(*) AS instances FROM instances \gset
SELECT count(*) AS studies FROM studies \gset
\echo index: :instances instances, :studies studies
SELECT st.patient_id AS pid, left(st.patient_name_ci, 10) || '%' AS name_prefix,
       st.study_date AS d0,
       to_char(to_date(st.study_date, 'YYYYMMDD') + 6, 'YYYYMMDD') AS d1,
       st.study_uid AS study, se.series_uid AS series,
       '% ' || split_part(st.patient_name_fold, ' ', 1) || '%' AS w1,
       '% ' || left(split_part(st.patient_name_fold, ' ', 2), 3) || '%' AS w2,
       '%' || left(split_part(st.patient_name_fold, ' ', 2), 3) || '%' AS contains
  FROM studies st JOIN series se ON se.study_pk = st.pk
 WHERE st.study_date >= '2000' ORDER BY st.pk DESC LIMIT 1 \gset
\echo values: PatientID=:pid name=:name_prefix dates=:d0-:d1 words=:w1,:w2 contains=:contains

\echo
\echo ==== C-FIND STUDY, exact PatientID
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT 0, st.study_uid, st.patient_id FROM studies st WHERE st.patient_id = :'pid' ORDER BY st.study_date DESC NULLS LAST, st.study_time DESC NULLS LAST, st.pk DESC;
\echo ==== C-FIND STUDY, PatientName prefix (Family^Giv*)
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT 0, st.study_uid, st.patient_name FROM studies st WHERE st.patient_name_ci LIKE :'name_prefix' ORDER BY st.study_date DESC NULLS LAST, st.study_time DESC NULLS LAST, st.pk DESC;
\echo ==== C-FIND STUDY, StudyDate range (7 days)
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT 0, st.study_uid, st.study_date FROM studies st WHERE (st.study_date <> '' AND st.study_date >= :'d0' AND st.study_date <= :'d1') ORDER BY st.study_date DESC NULLS LAST, st.study_time DESC NULLS LAST, st.pk DESC;
\echo ==== C-FIND STUDY, unknown StudyInstanceUID
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT 0, st.study_uid FROM studies st WHERE st.study_uid = '1.2.3.4.5.6.7.8.9' ORDER BY st.study_date DESC NULLS LAST, st.study_time DESC NULLS LAST, st.pk DESC;
\echo ==== C-FIND IMAGE, the instances of one series
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT 0, st.study_uid, se.series_uid, i.sop_uid FROM instances i JOIN series se ON i.series_pk=se.pk JOIN studies st ON se.study_pk=st.pk WHERE st.study_uid = :'study' AND se.series_uid = :'series' ORDER BY st.pk, se.series_number NULLS FIRST, se.pk, i.instance_number NULLS FIRST, i.pk;
\echo ==== QIDO-RS /studies?PatientName=family^giv*&fuzzymatching=true (word prefixes, folded)
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT 0, st.study_uid, st.patient_name, st.study_date, st.study_time, st.accession, st.modalities, st.ref_physician, st.patient_id, st.birth_date, st.sex, st.study_id, st.num_series, st.num_instances, st.attrs FROM studies st WHERE (1=1 AND (' ' || st.patient_name_fold) LIKE :'w1' AND (' ' || st.patient_name_fold) LIKE :'w2') ORDER BY st.study_date DESC NULLS LAST, st.study_time DESC NULLS LAST, st.pk DESC LIMIT 1001;
\echo ==== QIDO-RS /studies?limit=25 (a study list, newest first)
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT 0, st.study_uid, st.study_date, st.study_time, st.accession, st.modalities, st.ref_physician, st.patient_name, st.patient_id, st.birth_date, st.sex, st.study_id, st.num_series, st.num_instances, st.attrs FROM studies st ORDER BY st.study_date DESC NULLS LAST, st.study_time DESC NULLS LAST, st.pk DESC LIMIT 25;
\echo ==== QIDO-RS /studies?PatientName=*giv*&limit=25 (name anywhere)
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT 0, st.study_uid, st.patient_name, st.study_date, st.study_time, st.accession, st.modalities, st.ref_physician, st.patient_id, st.birth_date, st.sex, st.study_id, st.num_series, st.num_instances, st.attrs FROM studies st WHERE st.patient_name_fold LIKE :'contains' ORDER BY st.study_date DESC NULLS LAST, st.study_time DESC NULLS LAST, st.pk DESC LIMIT 25;
\echo ==== QIDO-RS /studies?ModalitiesInStudy=CT&StudyDate=range
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT 0, st.study_uid, st.modalities, st.study_date, st.study_time, st.accession, st.ref_physician, st.patient_name, st.patient_id, st.birth_date, st.sex, st.study_id, st.num_series, st.num_instances, st.attrs FROM studies st WHERE strpos(st.modalities, '\CT\') > 0 AND (st.study_date <> '' AND st.study_date >= :'d0' AND st.study_date <= :'d1') ORDER BY st.study_date DESC NULLS LAST, st.study_time DESC NULLS LAST, st.pk DESC LIMIT 1001;
EOF
