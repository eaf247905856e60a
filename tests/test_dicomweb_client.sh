#!/bin/sh
# SPDX-License-Identifier: MIT
# A real DICOMweb client against the real pacsd: the dicomweb-client npm package (what OHIF
# uses), run by Node, lists studies, reads metadata, a frame, an instance and bulk data
# (tests/node/client_test.js). The packages come from package-lock.json with `npm ci`.
. "$SRC/tests/lib.sh"
. "$SRC/tests/lib_dicomweb.sh"

command -v node >/dev/null 2>&1 || fail "node is not installed (scripts/deps.sh installs it)"
command -v npm >/dev/null 2>&1 || fail "npm is not installed (scripts/deps.sh installs it)"
mkdir -p "$WORK/node"
cp "$SRC/tests/node/package.json" "$SRC/tests/node/package-lock.json" \
    "$SRC/tests/node/client_test.js" "$WORK/node/"
(cd "$WORK/node" && timeout 300 npm ci --no-audit --no-fund --loglevel=error >npm.log 2>&1) ||
    fail "npm ci failed: $(tail -5 "$WORK/node/npm.log")"

start_pacsd
T="$SAMPLES/test_files"
store "$T/CT_small.dcm" "$T/MR_small.dcm" >"$WORK/store.log" 2>&1 ||
    fail "storescu failed: $(tail -3 "$WORK/store.log")"
timeout 120 node "$WORK/node/client_test.js" "http://127.0.0.1:$HTTP_PORT/dicomweb" \
    "$(dcm_value "$T/CT_small.dcm" 0020,000d)" "$(dcm_value "$T/CT_small.dcm" 0020,000e)" \
    "$(dcm_value "$T/CT_small.dcm" 0008,0018)" 128 128 2 || fail "dicomweb-client checks failed"
pass
