#!/bin/sh
# SPDX-License-Identifier: MIT
# How storage/metadata_dict/metadata.zdict was made (once; see README.md beside it):
#   storage/metadata_dict/make.sh build/bin/pacs OUT
# The sample files of Debian's python3-pydicom are imported into a new archive; the JSON stored
# for each instance (zstd-compressed in the index) is decompressed, and zstd trains a 32 KiB
# dictionary on those texts under the ID the index gives it. Needs pacs, sqlite3 and zstd.
set -eu
PACS=${1:?usage: make.sh PACS OUT}
OUT=${2:?usage: make.sh PACS OUT}
DICT_ID=1346454355 # "PACS": the ID every stored blob compressed with it names (index_fields.c)
SAMPLES=/usr/lib/python3/dist-packages/pydicom/data
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$PACS" --data "$T/a" import "$SAMPLES" >"$T/import.log" 2>&1 || true
mkdir "$T/z" "$T/j"
sqlite3 "$T/a/index.sqlite" "SELECT writefile('$T/z/' || pk, metadata) FROM instances" >/dev/null
for f in "$T"/z/*; do
    zstd -q -d "$f" -o "$T/j/$(basename "$f").json"
done
echo "make.sh: $(ls "$T/j" | wc -l) instances' JSON, $(cat "$T"/j/*.json | wc -c) bytes"
zstd -q --train "$T"/j/*.json --maxdict=32768 --dictID="$DICT_ID" -o "$OUT"
