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
# Every pacsd a test starts takes a free HL7 port, not 2575, so that tests run side by side.
export PACS_HL7_PORT=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/pacs-test.XXXXXX")
DATA="$WORK/d"
PACSD_PID=""
TEST_NAME=$(basename "$0" .sh)

# The PostgreSQL pass (scripts/test.sh): with PACS_TEST_PG set to a server's URI, each test gets
# a fresh database of its own on it, which pacsd and the pacs tool use (PACS_INDEX), and which
# is dropped at the end.
PG_TEST_DB=""
if [ -n "${PACS_TEST_PG:-}" ]; then
    PG_TEST_DB="t_$(basename "$WORK" | tr -dc 'a-zA-Z0-9' | tr 'A-Z' 'a-z')"
    timeout 60 psql "$PACS_TEST_PG" -qAt -c "CREATE DATABASE $PG_TEST_DB" >/dev/null
    export PACS_INDEX="${PACS_TEST_PG%/*}/$PG_TEST_DB"
fi

cleanup() {
    if [ -n "$PACSD_PID" ] && kill -0 "$PACSD_PID" 2>/dev/null; then
        kill -9 "$PACSD_PID" 2>/dev/null || true
    fi
    if [ -n "$PG_TEST_DB" ] && [ "${KEEP_WORK:-0}" != 1 ]; then
        timeout 60 psql "$PACS_TEST_PG" -qAt -c "DROP DATABASE IF EXISTS $PG_TEST_DB WITH (FORCE)" \
            >/dev/null 2>&1 || true
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
        ${PACS_INDEX:+--set "index=$PACS_INDEX"} "$@" >>"$WORK/pacsd.log" 2>&1 &
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

# ---- Retrieve, storage commitment and forwarding helpers (issue 4) ----

BG_PIDS=""

# Installs an EXIT trap that stops the background helpers (storescp) and then runs cleanup.
trap_background() {
    trap 'for p in $BG_PIDS; do kill -TERM "$p" 2>/dev/null || true; done; cleanup' EXIT
}

# A TCP port that was free a moment ago (for peers that cannot pick port 0 themselves), taken
# at random below the kernel's ephemeral range: a port from that range (what binding port 0
# gives) can be handed to another test's server started on port 0, or become the local port of
# an outgoing connection, before the peer meant for it listens (test_move_errors once talked
# to another test's server that way); and connecting to an ephemeral port where nothing listens
# can connect a socket to itself.
free_port() {
    python3 -c 'import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
while True:
    port = random.randrange(10000, max(low, 10001))
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        break
    except OSError:
        s.close()
print(port)'
}

# Python that succeeds when something accepts TCP connections on 127.0.0.1 port argv[1].
PY_CONNECT='import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)'

# Python that succeeds when the socket listening on TCP port argv[1] belongs to process argv[2]
# or one of its descendants: that the peer a test started, and not some other program, is the
# one listening there.
PY_LISTENS_PID='import glob, os, sys
port, pids = int(sys.argv[1]), [sys.argv[2]]
for pid in pids:
    for f in glob.glob("/proc/%s/task/*/children" % pid):
        pids += open(f).read().split()
owned = set()
for pid in pids:
    for fd in glob.glob("/proc/%s/fd/*" % pid):
        try:
            owned.add(os.readlink(fd))
        except OSError:
            pass
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    for line in open(table).readlines()[1:]:
        f = line.split()
        if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port and "socket:[%s]" % f[9] in owned:
            sys.exit(0)
sys.exit(1)'

# Starts DCMTK's storescp as AE $1 on port $2 writing to folder $3 (more storescp options may
# follow), bounded to 10 minutes; waits (bounded) until it accepts connections. Sets SCP_PID
# (the pid of its `timeout` wrapper, which passes SIGTERM on).
start_storescp() { # aet port dir [options]
    aet=$1 port=$2 dir=$3
    shift 3
    mkdir -p "$dir"
    timeout 600 storescp -aet "$aet" -od "$dir" "$@" "$port" >>"$WORK/storescp-$aet.log" 2>&1 &
    SCP_PID=$!
    BG_PIDS="$BG_PIDS $SCP_PID"
    if ! timeout 20 sh -c 'until python3 -c "$3" "$1" "$2" 2>/dev/null; do
            kill -0 "$2" 2>/dev/null || exit 1; sleep 0.1; done' _ "$port" "$SCP_PID" "$PY_LISTENS_PID"; then
        echo "storescp $aet is not listening on port $port: $(tail -3 "$WORK/storescp-$aet.log")" >&2
        return 1
    fi
}

# Stops a background process started by a helper (by pid), bounded.
stop_pid() {
    kill -TERM "$1" 2>/dev/null || true
    timeout 10 sh -c 'while kill -0 "$1" 2>/dev/null; do sleep 0.05; done' _ "$1" ||
        kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# Number of regular files in a folder (0 when it does not exist).
count_files() {
    [ -d "$1" ] || { echo 0; return; }
    find "$1" -type f | wc -l | tr -d ' '
}

# Waits (at most $3 seconds) until folder $1 holds at least $2 files.
wait_files() { # dir n seconds
    timeout "$3" sh -c 'until [ "$(find "$1" -type f 2>/dev/null | wc -l)" -ge "$2" ]; do
        sleep 0.1; done' _ "$1" "$2"
}

# The dataset of a DICOM file as dcmdump prints it with every value in full, without the meta
# header, the transfer syntax line and how sequences and items are delimited (explicit or
# undefined length is an encoding choice): two files with the same output hold the same dataset.
dump_dataset() {
    dcmdump -q +L +U8 "$1" 2>/dev/null | sed -n '/^# Dicom-Data-Set/,$p' |
        grep -v -e '^# Used TransferSyntax' -e 'DelimitationItem' |
        sed -e 's/with explicit length/with length/' -e 's/with undefined length/with length/' \
            -e 's/# *[0-9u/l]*, *\([0-9]\)/# \1/' -e 's/  */ /g'
}

# True when two files hold the same dataset (any transfer syntax of the same encoding family).
same_dataset() {
    [ "$(dump_dataset "$1" | grep -c '^(')" -gt 5 ] &&
        [ "$(dump_dataset "$1" | cksum)" = "$(dump_dataset "$2" | cksum)" ]
}

# True when the pixel data of two files is byte-for-byte equal (native or encapsulated).
same_pixels() {
    d=$(mktemp -d "$WORK/px.XXXXXX")
    mkdir "$d/a" "$d/b"
    dcmdump -q +W "$d/a" "$1" >/dev/null 2>&1
    dcmdump -q +W "$d/b" "$2" >/dev/null 2>&1
    a=$(cd "$d/a" && find . -type f | sort | xargs cat | cksum)
    b=$(cd "$d/b" && find . -type f | sort | xargs cat | cksum)
    rm -rf "$d"
    [ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" != "$(printf '' | cksum)" ]
}

# The transfer syntax UID of a file.
file_ts() {
    dcmdump -q -Un +P 0002,0010 "$1" 2>/dev/null | sed -n 's/^[^[]*\[\([^]]*\)\].*/\1/p' | head -1
}

# movescu against pacsd with verbose final counts; prints its output. Args: movescu options.
move() {
    timeout 120 movescu -d -aec PACS "$@" 127.0.0.1 "$DIMSE_PORT" 2>&1
}

# getscu against pacsd into folder $1; prints its output. Further args: getscu options.
get_into() { # dir options...
    dir=$1
    shift
    mkdir -p "$dir"
    timeout 120 getscu -d -aec PACS -od "$dir" "$@" 127.0.0.1 "$DIMSE_PORT" 2>&1
}

# From movescu/getscu -d output in file $1: fields of the last C-MOVE/C-GET response.
# final_status prints its status ("0x0000", "0xb000", ...); final_count prints one of its
# counts ($2: Remaining, Completed, Failed or Warning; "none" when absent).
last_rsp() {
    awk '/Message Type *: C-(MOVE|GET) RSP/ { blk = ""; on = 1 }
         on { blk = blk $0 "\n" }
         /END DIMSE MESSAGE/ { if (on) last = blk; on = 0 }
         END { printf "%s", last }' "$1"
}
final_status() {
    last_rsp "$1" | sed -n 's/.*DIMSE Status *: \(0x[0-9a-fA-F]*\).*/\1/p'
}
final_count() { # output-file field
    last_rsp "$1" | sed -n "s/.*$2 Suboperations *: *\([0-9a-z]*\).*/\1/p"
}

# A fresh UID under the 2.25 root (PS3.5 B.2), random.
new_uid() {
    echo "2.25.$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')"
}

# Writes $4 copies of pydicom's CT_small.dcm into folder $1 as study $2, series $3, each with a
# new SOP Instance UID and InstanceNumber 1..$4. Prints nothing; the files are $1/ct-N.dcm.
gen_ct() { # dir study series n
    mkdir -p "$1"
    i=1
    while [ "$i" -le "$4" ]; do
        cp "$SAMPLES/test_files/CT_small.dcm" "$1/ct-$i.dcm"
        dcmodify -nb -gin -m "(0020,000d)=$2" -m "(0020,000e)=$3" -m "(0020,0013)=$i" \
            "$1/ct-$i.dcm" >/dev/null
        i=$((i + 1))
    done
}

# The forwarding queue as `pacs forward list` prints it (tab-separated, with a header line).
fwd_list() { # extra args (--state S)
    timeout 60 "$PACS" --data "$DATA" forward list "$@" 2>/dev/null
}

# Number of queue entries in state $1 for destination $2 with at least $3 attempts.
fwd_count() { # state dest min-attempts
    fwd_list --state "$1" | awk -F '\t' -v d="$2" -v a="$3" 'NR > 1 && $4 == d && $3 >= a' |
        wc -l | tr -d ' '
}

# Waits (at most $5 seconds) until fwd_count $1 $2 $3 is at least $4.
wait_fwd() { # state dest min-attempts n seconds
    end=$(($(date +%s) + $5))
    while [ "$(fwd_count "$1" "$2" "$3")" -lt "$4" ]; do
        [ "$(date +%s)" -lt "$end" ] || return 1
        sleep 0.2
    done
}

# A UID element of a file as digits (dcm_value prints well-known UIDs by name).
uid_value() { # file tag
    dcmdump -q -Un +P "$2" "$1" 2>/dev/null | head -1 | sed -n 's/^[^[]*\[\([^]]*\)\].*$/\1/p'
}

# ---- Archive core helpers (issue 2) ----

# The raw DICOM upper-layer client (sends any bytes as a C-STORE dataset).
DICOM_SEND="python3 $SRC/tests/tools/dicom_send.py"

# Makes N copies of pydicom's CT_small.dcm in DIR with fresh SOP Instance UIDs, all in one new
# study and series ("shared", the default) or each in a study of its own ("own").
make_ct_copies() { # dir n [shared|own]
    _mc_dir=$1 _mc_n=$2 _mc_mode=${3:-shared} _mc_i=1
    mkdir -p "$_mc_dir"
    while [ "$_mc_i" -le "$_mc_n" ]; do
        cp "$SAMPLES/test_files/CT_small.dcm" "$_mc_dir/ct$_mc_i.dcm"
        _mc_i=$((_mc_i + 1))
    done
    if [ "$_mc_mode" = own ]; then
        timeout 120 dcmodify -nb -q -gin -gst -gse "$_mc_dir"/ct*.dcm
    else
        _mc_root="1.2.826.0.1.3680043.10.1347.8.$$.$(date +%s%N | cut -c1-15)"
        timeout 120 dcmodify -nb -q -gin -m "(0020,000d)=$_mc_root.1" \
            -m "(0020,000e)=$_mc_root.1.1" "$_mc_dir"/ct*.dcm
    fi
}

# The SOP Instance UIDs pacsd holds (under one study, or all), sorted, from one C-FIND.
image_uids() { # [study_uid]
    find_dimse -S -k QueryRetrieveLevel=IMAGE -k StudyInstanceUID="${1:-}" -k SOPInstanceUID |
        sed -n 's/.*(0008,0018) UI \[\([0-9.]*\).*/\1/p' | sort
}

# The SOP Instance UIDs of DICOM files (one dcmdump for all), sorted.
file_uids() { # files...
    dcmdump -q -s +P 0008,0018 "$@" 2>/dev/null | sed -n 's/.*(0008,0018) UI \[\([0-9.]*\).*/\1/p' |
        sort
}

# Number of files under DATA/tmp (objects being received, or left behind).
tmp_files() {
    find "$DATA/tmp" -type f 2>/dev/null | wc -l | tr -d ' '
}

# Copies a JPEG 2000 file $1 to $2 with a new SOP Instance UID and its codestream's SIZ marker
# zeroed: a file that stores fine (ingest does not decode pixels) but that no decoder reads.
broken_j2k() { # src dst
    cp "$1" "$2"
    dcmodify -nb -gin "$2" >/dev/null
    python3 -c 'import sys
p = sys.argv[1]
d = bytearray(open(p, "rb").read())
i = d.find(b"\xff\x4f\xff\x51")
assert i > 0, "no JPEG 2000 codestream"
d[i + 4:i + 44] = bytes(40)
open(p, "wb").write(d)' "$2"
}

# Polls (bounded: at most $1 seconds) until the command succeeds.
wait_until() { # seconds command...
    end=$(($(date +%s) + $1))
    shift
    until "$@"; do
        [ "$(date +%s)" -lt "$end" ] || return 1
        sleep 0.2
    done
}

# A member of a JSON file by its path of keys and array indexes, dot-separated ("" when absent).
json_value() { # file path
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."):
    d = d[int(k)] if isinstance(d, list) else d.get(k) if isinstance(d, dict) else None
    if d is None:
        break
print("" if d is None else d)' "$1" "$2"
}

# Succeeds when the command prints the expected value (for wait_until).
is() { # expected command args...
    want=$1
    shift
    [ "$("$@")" = "$want" ]
}

# Installs the Node.js packages of tests/node (package-lock.json, `npm ci`) into $WORK/node with
# the scripts named, or fails the test.
node_setup() { # scripts of tests/node...
    command -v node >/dev/null 2>&1 || fail "node is not installed (scripts/deps.sh installs it)"
    mkdir -p "$WORK/node"
    for f in package.json package-lock.json "$@"; do
        cp "$SRC/tests/node/$f" "$WORK/node/"
    done
    (cd "$WORK/node" && timeout 300 npm ci --no-audit --no-fund --loglevel=error >npm.log 2>&1) ||
        fail "npm ci failed: $(tail -5 "$WORK/node/npm.log")"
}

# A small valid PDF of a few KB (its bytes are bulk data in the metadata once encapsulated).
make_pdf() { # out
    {
        printf '%%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n'
        printf '2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n'
        i=0
        while [ $i -lt 60 ]; do
            printf '%% padding line %02d of the report from the hospital information system\n' $i
            i=$((i + 1))
        done
        printf 'trailer << /Root 1 0 R >>\n%%%%EOF\n'
    } >"$1"
}

# ---- Browser tests (the viewer in headless Chromium) ----

# Checks that Chromium, npm and the built viewer are there, sets ART (this test's screenshot
# folder, emptied of old ones) and installs tests/node's packages and the given scripts of
# tests/node into $WORK/node with `npm ci` (node_setup).
setup_browser_test() { # node scripts...
    [ -x /usr/bin/chromium ] || fail "Debian's chromium is not installed (scripts/deps.sh installs it)"
    command -v npm >/dev/null 2>&1 || fail "npm is not installed (scripts/deps.sh installs it)"
    SITE=$(cd "$(dirname "$PACSD")/.." && pwd)/viewer
    [ -f "$SITE/index.html" ] && [ -f "$SITE/.pacs-viewer" ] ||
        fail "the viewer is not installed in $SITE (the build installs it with npm: scripts/viewer.sh)"
    ART=${ARTIFACT_DIR:-$WORK/artifacts}/$TEST_NAME
    mkdir -p "$ART"
    rm -f "$ART"/*.png
    node_setup "$@"
}

# Makes one CT study of 20 slices with pacs-gen and stores it over C-STORE; sets STUDY (its
# UID) and GIVEN (the given name of its patient, which OHIF's study list shows).
store_gen_study() {
    : "${PACS_GEN:?PACS_GEN must point to pacs-gen}"
    "$PACS_GEN" --out "$WORK/ct" --studies 1 --slices 20 >"$WORK/gen.log" 2>&1 ||
        fail "pacs-gen failed: $(tail -2 "$WORK/gen.log")"
    STUDY=$(awk -F'\t' 'NR == 2 { print $2 }' "$WORK/ct/manifest.tsv")
    NAME=$(awk -F'\t' 'NR == 2 { print $4 }' "$WORK/ct/manifest.tsv")
    GIVEN=${NAME#*^}
    [ -n "$STUDY" ] && [ -n "$GIVEN" ] || fail "pacs-gen's manifest is not as expected"
    f=$(find "$WORK/ct" -name '*.dcm' | head -1)
    store +sd "$(dirname "$f")" >"$WORK/store.log" 2>&1 ||
        fail "storescu failed: $(tail -3 "$WORK/store.log")"
}
