#!/bin/sh
# SPDX-License-Identifier: MIT
# The newcomer's path: start pacsd, C-ECHO, store a CT with storescu, find it with findscu.
. "$SRC/tests/lib.sh"

start_pacsd
timeout 30 echoscu -aec PACS 127.0.0.1 "$DIMSE_PORT" || fail "C-ECHO failed"
store "$SAMPLES/test_files/CT_small.dcm" || fail "storescu of CT_small.dcm failed"

uid=$(dcm_value "$SAMPLES/test_files/CT_small.dcm" 0020,000d)
out=$(find_dimse -S -k QueryRetrieveLevel=STUDY -k StudyInstanceUID -k PatientID=1CT1 \
    -k ModalitiesInStudy -k NumberOfStudyRelatedInstances)
echo "$out" | grep -q "$uid" || fail "C-FIND by PatientID did not return the study"
echo "$out" | grep -q "ModalitiesInStudy" || fail "ModalitiesInStudy missing"
n=$(echo "$out" | grep -a "NumberOfStudyRelatedInstances" | sed 's/.*\[\([0-9]*\).*/\1/')
assert_eq 1 "$n" "NumberOfStudyRelatedInstances"

stop_pacsd
pass
