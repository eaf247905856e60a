#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/test_faults_storage.sh with ingest.one_flush=false: the object's flush, then the
# index's own, each of which can fail alone.
FAULTS_TWO_FLUSHES=1
. "$SRC/tests/test_faults_storage.sh"
