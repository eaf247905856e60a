# SPDX-License-Identifier: MIT
# Orthanc (Debian's `orthanc` with `orthanc-dicomweb`) as an independent peer of pacsd in the
# integration tests: sourced after tests/lib.sh. Orthanc cannot listen on port 0, so its two
# ports are found free with Python and the start is retried with new ones when another program
# took them in between. Every wait is bounded; Orthanc is stopped by the EXIT trap.
#
#   start_orthanc              # sets ORTHANC (its REST root), ORTHANC_DIMSE_PORT, ORTHANC_PID
#   orthanc_peer_pacsd         # tells it where pacsd is: modality "pacs", DICOMweb server "pacs"
#   ocurl METHOD PATH [JSON]   # a REST call; the body on stdout, fails the test unless 2xx
#   orthanc_upload FILES...    # and orthanc_sops, orthanc_clear, $OTOOL (orthanc_tool.py)

ORTHANC_BIN=$(command -v Orthanc || true)
ORTHANC_PLUGIN=/usr/share/orthanc/plugins/libOrthancDicomWeb.so
[ -n "$ORTHANC_BIN" ] || fail "Orthanc is not installed (scripts/deps.sh installs orthanc)"
[ -f "$ORTHANC_PLUGIN" ] ||
    fail "Orthanc's DICOMweb plugin is not installed (scripts/deps.sh installs orthanc-dicomweb)"
ORTHANC_PID=""

# Stops Orthanc (bounded: stop_pid sends SIGKILL after 10 s).
stop_orthanc() {
    [ -n "$ORTHANC_PID" ] || return 0
    stop_pid "$ORTHANC_PID"
    ORTHANC_PID=""
}
trap 'stop_orthanc; for p in $BG_PIDS; do kill -TERM "$p" 2>/dev/null || true; done; cleanup' EXIT

# Two TCP ports that were free a moment ago, different from each other.
two_free_ports() {
    python3 -c 'import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])'
}

start_orthanc() {
    mkdir -p "$WORK/orthanc"
    _try=1
    while [ "$_try" -le 5 ]; do
        set -- $(two_free_ports)
        _http=$1 _dimse=$2
        # Fsync and no compression, as pacsd; jobs not kept; a short association close delay;
        # UTF-8 as its own encoding (with its default, Latin-1, Orthanc converts C-FIND answers
        # to Latin-1 and drops what Latin-1 cannot hold, a Japanese name for one).
        cat >"$WORK/orthanc/orthanc.json" <<EOF
{
  "Name": "pacs-test-orthanc",
  "StorageDirectory": "$WORK/orthanc/db",
  "IndexDirectory": "$WORK/orthanc/db",
  "StorageCompression": false,
  "SyncStorageArea": true,
  "SaveJobs": false,
  "HttpPort": $_http,
  "DicomPort": $_dimse,
  "DicomAet": "ORTHANC",
  "DefaultEncoding": "Utf8",
  "RemoteAccessAllowed": false,
  "AuthenticationEnabled": false,
  "DicomAssociationCloseDelay": 0,
  "TcpNoDelay": true,
  "Plugins": ["$ORTHANC_PLUGIN"],
  "DicomWeb": {"Enable": true, "Root": "/dicom-web/"}
}
EOF
        TCP_NODELAY=1 timeout 900 "$ORTHANC_BIN" "$WORK/orthanc/orthanc.json" \
            >"$WORK/orthanc/orthanc-$_try.log" 2>&1 &
        ORTHANC_PID=$!
        ORTHANC="http://127.0.0.1:$_http"
        ORTHANC_DIMSE_PORT=$_dimse
        # Ready when its REST API answers and its DICOM port accepts; given up if it exits.
        if timeout 60 sh -c 'until curl -sf --max-time 2 -o /dev/null "$1/system" &&
                python3 -c "$3" "$4" 2>/dev/null; do
                kill -0 "$2" 2>/dev/null || exit 1; sleep 0.2; done' \
            _ "$ORTHANC" "$ORTHANC_PID" "$PY_CONNECT" "$_dimse"; then
            return 0
        fi
        kill -TERM "$ORTHANC_PID" 2>/dev/null || true
        wait "$ORTHANC_PID" 2>/dev/null || true
        ORTHANC_PID=""
        echo "Orthanc did not start on ports $_http/$_dimse (try $_try): $(tail -3 \
            "$WORK/orthanc/orthanc-$_try.log")" >&2
        _try=$((_try + 1))
    done
    fail "Orthanc did not start"
}

# A REST call to Orthanc. Usage: ocurl METHOD PATH [JSON-BODY]
ocurl() {
    _code=$(curl -sS --max-time 300 -o "$WORK/orthanc/rest" -w '%{http_code}' -X "$1" \
        ${3:+--data-binary "$3"} "$ORTHANC$2") || fail "Orthanc REST $1 $2: curl failed"
    case $_code in
    2*) cat "$WORK/orthanc/rest" ;;
    *) fail "Orthanc REST $1 $2 answered $_code: $(head -c 600 "$WORK/orthanc/rest")" ;;
    esac
}

# The HTTP status and body of a REST call that may fail (body in $WORK/orthanc/rest).
ocurl_status() {
    curl -sS --max-time 300 -o "$WORK/orthanc/rest" -w '%{http_code}' -X "$1" \
        ${3:+--data-binary "$3"} "$ORTHANC$2"
}

# Registers the running pacsd with Orthanc: DICOM modality "pacs" (AE PACS) and DICOMweb
# server "pacs".
orthanc_peer_pacsd() {
    ocurl PUT /modalities/pacs \
        "{\"AET\": \"PACS\", \"Host\": \"127.0.0.1\", \"Port\": $DIMSE_PORT}" >/dev/null
    ocurl PUT /dicom-web/servers/pacs \
        "{\"Url\": \"http://127.0.0.1:$HTTP_PORT/dicomweb/\"}" >/dev/null
}

# Orthanc's REST API and byte-for-byte checks (tests/tools/orthanc_tool.py): each step one
# Python process.
OTOOL="python3 $SRC/tests/tools/orthanc_tool.py"

# Uploads Part 10 files to Orthanc; prints the Orthanc IDs of their studies (one per line).
orthanc_upload() {
    $OTOOL upload "$ORTHANC" "$@" || fail "uploading to Orthanc"
}

# The SOP Instance UIDs Orthanc holds, sorted (one per line).
orthanc_sops() {
    $OTOOL sops "$ORTHANC" || fail "listing Orthanc's instances"
}

# Deletes everything Orthanc holds.
orthanc_clear() {
    $OTOOL clear "$ORTHANC" || fail "emptying Orthanc"
}
