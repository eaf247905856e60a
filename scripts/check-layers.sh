#!/bin/sh
# SPDX-License-Identifier: MIT
# Checks that the tree's floors hold: a file includes headers of its own module or of modules
# on a lower floor, never of a higher floor or of a sibling on its own floor. The floors (see
# CMakeLists.txt):
#   0 pacs/base   1 pacs/dicom   2 pacs/image   3 storage   4 http   5 dimse | dicomweb | hl7 | fhir
#   6 tools/pacsd | tools/cli | tools/bench     7 fuzz | tests
# A module's tests/ folder belongs to its module. Prints each wrong #include and exits 1.
set -eu
cd "$(dirname "$0")/.."
git ls-files '*.c' '*.cc' '*.h' | awk '
function module(path,   m) {
    if (path ~ /^pacs\/(base|dicom|image)\//) { split(path, m, "/"); return m[1] "/" m[2] }
    if (path ~ /^tools\/(pacsd|cli|bench)\//) { split(path, m, "/"); return m[1] "/" m[2] }
    split(path, m, "/"); return m[1]
}
BEGIN {
    floor["pacs/base"] = 0; floor["pacs/dicom"] = 1; floor["pacs/image"] = 2
    floor["storage"] = 3; floor["http"] = 4
    floor["dimse"] = 5; floor["dicomweb"] = 5; floor["hl7"] = 5; floor["fhir"] = 5
    floor["tools/pacsd"] = 6; floor["tools/cli"] = 6; floor["tools/bench"] = 6
    floor["fuzz"] = 7; floor["tests"] = 7
    bad = 0
}
{
    file = $0; from = module(file)
    if (!(from in floor)) { printf "check-layers: %s is in no floor\n", file; bad = 1; next }
    n = 0
    while ((getline line < file) > 0) {
        n++
        if (line !~ /^#include "/) continue
        inc = line; sub(/^#include "/, "", inc); sub(/".*/, "", inc)
        if (inc !~ /\//) continue
        to = module(inc)
        if (!(to in floor)) continue
        if (to == from) continue
        if (floor[to] < floor[from]) continue
        printf "%s:%d: %s (floor %d) includes %s (floor %d)\n", file, n, from, floor[from], inc, floor[to]
        bad = 1
    }
    close(file)
}
END { exit bad }'
