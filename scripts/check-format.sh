#!/bin/sh
# SPDX-License-Identifier: MIT
# Checks that every C, C++ and header file the repository tracks is formatted as .clang-format
# says (clang-format 14, Debian 12's). Prints the files that are not and exits 1; `--fix`
# formats them in place instead. Run by scripts/test.sh, so CI fails on an unformatted file.
set -eu
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null 2>&1; then
    echo "check-format: clang-format is not installed (apt-get install clang-format)" >&2
    exit 1
fi
bad=0
for f in $(git ls-files '*.c' '*.cc' '*.h'); do
    [ -f "$f" ] || continue
    if [ "${1:-}" = --fix ]; then
        clang-format -i "$f"
    elif ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
        echo "not formatted: $f (scripts/check-format.sh --fix)" >&2
        bad=1
    fi
done
exit "$bad"
