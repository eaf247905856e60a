#!/bin/sh
# SPDX-License-Identifier: MIT
# The Conformance Statement (docs/conformance-statement.md) stays true: every table marked for
# checking is asked of the real pacsd, row by row (tests/tools/conformance.py): SOP classes and
# transfer syntaxes by association negotiation (tests/tools/assocprobe, which also prints the
# tables the server negotiates from, so that a class or syntax accepted but not listed fails),
# the implementation identity with DCMTK's echoscu, C-FIND matching with findscu, defaults with
# `pacsd --help-config`, DICOMweb resources, media types, QIDO-RS parameters and character
# sets over HTTP. Any row the server does not honour fails the test.
. "$SRC/tests/lib.sh"

: "${ASSOCPROBE:?ASSOCPROBE must point to tests/tools/assocprobe}"
start_pacsd
HOST=127.0.0.1 DIMSE_PORT=$DIMSE_PORT HTTP_PORT=$HTTP_PORT PACSD=$PACSD ASSOCPROBE=$ASSOCPROBE \
    SAMPLES=$SAMPLES WORK=$WORK timeout 300 python3 "$SRC/tests/tools/conformance.py" \
    "$SRC/docs/conformance-statement.md" || fail "the Conformance Statement is not what pacsd does"
stop_pacsd
pass
