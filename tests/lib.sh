# SPDX-License-Identifier: MIT
# Shared helpers for the integration tests: start the real pacsd on port 0 in a temporary
# folder, drive it with DCMTK's tools, and bound every wait. Sourced, not executed.
#
#   . "$SRC/tests/lib.sh"
#   start_pacsd [extra pacsd args]     # sets DIMSE_PORT (and HTTP_PORT), PACSD_PID, DATA
#   ... test ...
#   pass                                # prints PASS, cleans up
set -eu

: "${PACSD:?PACSD must point to the pacsd binary}"
: "${SRC:?SRC must point to the source tree}"
PACS=${PACS:-}
SAMPLES=${SAMPLES:-/usr/lib/python3/dist-packages/pydicom/data}
export TCP_NODELAY=1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pacs-test.XXXXXX")
DATA="$WORK/d"
PACSD_PID=""
TEST_NAME=$(basename "$0" .sh)

cleanup() {
    if [ -n "$PACSD_PID" ] && kill -0 "$PACSD_PID" 2>/dev/null; then
        kill -9 "$PACSD_PID" 2>/dev/null || true
    fi
    if [ "${KEEP_WORK:-0}" = 1 ]; then
        echo "work folder kept: $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

fail() {
    echo "FAIL [$TEST_NAME]: $*" >&2
    if [ -f "$WORK/pacsd.log" ]; then
        echo "---- last lines of pacsd.log ----" >&2
        tail -n 30 "$WORK/pacsd.log" >&2
    fi
    exit 1
}

pass() {
    echo "PASS [$TEST_NAME]"
    exit 0
}

assert_eq() { # expected actual message
    [ "$1" = "$2" ] || fail "$3: expected '$1', got '$2'"
}

# Starts pacsd with a fresh ready file and waits (bounded) until it listens.
start_pacsd() {
    rm -f "$WORK/ready"
    "$PACSD" --data "$DATA" --set dimse.port=0 --set http.port=0 --ready-file "$WORK/ready" \
        "$@" >>"$WORK/pacsd.log" 2>&1 &
    PACSD_PID=$!
    if ! timeout 30 sh -c 'until [ -s "$1" ]; do sleep 0.05; done' _ "$WORK/ready"; then
        fail "pacsd did not become ready"
    fi
    . "$WORK/ready"
}

# Stops pacsd with SIGTERM and waits for it to exit (bounded).
stop_pacsd() {
    [ -n "$PACSD_PID" ] || return 0
    kill -TERM "$PACSD_PID" 2>/dev/null || true
    if ! timeout 30 sh -c 'while kill -0 "$1" 2>/dev/null; do sleep 0.05; done' _ "$PACSD_PID"; then
        fail "pacsd did not stop within 30 s of SIGTERM"
    fi
    wait "$PACSD_PID" 2>/dev/null || true
    PACSD_PID=""
}

# Kills pacsd without warning, as a crash would.
kill9_pacsd() {
    [ -n "$PACSD_PID" ] || return 0
    kill -9 "$PACSD_PID" 2>/dev/null || true
    wait "$PACSD_PID" 2>/dev/null || true
    PACSD_PID=""
}

# Sends files with storescu (uncompressed files). Extra options before the files.
store() {
    timeout 120 storescu -aec PACS 127.0.0.1 "$DIMSE_PORT" "$@"
}

# Sends any Part 10 file in its own transfer syntax (compressed ones included).
send_as_is() {
    timeout 120 dcmsend --decompress-never -aec PACS 127.0.0.1 "$DIMSE_PORT" "$@"
}

# C-FIND with findscu; prints the response datasets. Usage: find_study -k Key=Value ...
find_dimse() { # root (-S or -P) keys...
    root=$1
    shift
    timeout 60 findscu -aec PACS "$root" "$@" 127.0.0.1 "$DIMSE_PORT" 2>&1
}

# Number of pending C-FIND responses.
count_matches() {
    find_dimse "$@" | grep -ac "Find Response.*(Pending)" || true
}

# The value of an element in a file, as dcmdump prints it (without brackets).
dcm_value() { # file tag
    dcmdump +P "$2" "$1" 2>/dev/null | head -1 | sed -n 's/^[^[]*\[\(.*\)\].*$/\1/p'
}
