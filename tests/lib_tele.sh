# SPDX-License-Identifier: MIT
# Helpers for the tele-reading tests (test_telereading.sh, test_telereading_origin.sh): several
# separate pacsd on loopback, each with its own data folder and, on the PostgreSQL pass, its
# own database, with http.auth=required; on HTTPS when TELE_CA names the CA that signed
# $PKI/server.crt (tests/lib_tls.sh), on plain HTTP when it is empty. Sourced after
# tests/lib.sh, not executed.
#
#   tele_db SUFFIX VAR                   # VAR: the index of a fresh database ("" on SQLite)
#   start_node NAME DATA INDEX PORT [--set ...]   # sets NAME_PID and NAME_DIMSE
#   node_pacs DATA INDEX args...         # the pacs tool on that node's data and index
#   by_dest DATA INDEX DEST COLUMN       # a column of `pacs forward list --by-dest`
#   entries DATA INDEX STATE DEST MIN_ATTEMPTS
#   qido_count BASE KEY PATH             # the number of results of a QIDO request
#   at_least command n                   # the command prints at least n
# (wait_until and is are tests/lib.sh's.)
#
# TELE_MAIN names the node whose log is $WORK/pacsd.log (the one fail() shows); the others log
# to $WORK/NAME.log, whose last lines a failing test shows too.

TELE_CA=${TELE_CA:-}
TELE_MAIN=${TELE_MAIN:-}
TELE_NODES=""
TELE_DBS=""
BG_PIDS=""

tele_cleanup() {
    for n in $TELE_NODES; do
        eval "p=\${${n}_PID:-}"
        [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true
    done
    for p in $BG_PIDS; do
        kill -9 "$p" 2>/dev/null || true
    done
    for db in $TELE_DBS; do
        timeout 60 psql "$PACS_TEST_PG" -qAt -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" \
            >/dev/null 2>&1 || true
    done
    if [ "${PASSED:-0}" = 0 ]; then
        for n in $TELE_NODES; do
            [ "$n" != "$TELE_MAIN" ] && [ -f "$WORK/$n.log" ] &&
                { echo "---- $n ----"; tail -n 15 "$WORK/$n.log"; } >&2
        done
    fi
    cleanup
}
trap tele_cleanup EXIT

tele_db() {
    eval "$2=''"
    [ -n "$PG_TEST_DB" ] || return 0
    timeout 60 psql "$PACS_TEST_PG" -qAt -c "CREATE DATABASE ${PG_TEST_DB}_$1" >/dev/null ||
        fail "cannot create database ${PG_TEST_DB}_$1"
    TELE_DBS="$TELE_DBS ${PG_TEST_DB}_$1"
    eval "$2=\${PACS_TEST_PG%/*}/${PG_TEST_DB}_$1"
}

start_node() {
    name=$1 data=$2 index=$3 port=$4
    shift 4
    case " $TELE_NODES " in *" $name "*) ;; *) TELE_NODES="$TELE_NODES $name" ;; esac
    rm -f "$WORK/$name.ready"
    log=$WORK/$name.log
    [ "$name" = "$TELE_MAIN" ] && log=$WORK/pacsd.log
    "$PACSD" --data "$data" --set dimse.port=0 --set "http.port=$port" \
        --ready-file "$WORK/$name.ready" ${index:+--set "index=$index"} \
        ${TELE_CA:+--set http.tls=true --set "http.tls.cert=$PKI/server.crt"} \
        ${TELE_CA:+--set "http.tls.key=$PKI/server.key"} --set http.auth=required \
        --set forward.retry_min=1 --set forward.retry_max=2 "$@" >>"$log" 2>&1 &
    eval "${name}_PID=$!"
    timeout 30 sh -c 'until [ -s "$1" ]; do sleep 0.05; done' _ "$WORK/$name.ready" ||
        { cat "$log" >&2; fail "$name did not become ready"; }
    eval "${name}_DIMSE=$(sed -n 's/^DIMSE_PORT=//p' "$WORK/$name.ready")"
}

node_pacs() {
    data=$1 index=$2
    shift 2
    timeout 60 "$PACS" --data "$data" ${index:+--set "index=$index"} "$@"
}
# COLUMN: 2 pending, 3 done, 4 failed, 5 bytes sent.
by_dest() {
    node_pacs "$1" "$2" forward list --by-dest 2>/dev/null |
        awk -F '\t' -v d="$3" -v c="$4" '$1 == d { print $c }'
}
entries() {
    node_pacs "$1" "$2" forward list --state "$3" 2>/dev/null |
        awk -F '\t' -v d="$4" -v a="$5" 'NR > 1 && $4 == d && $3 >= a' | wc -l | tr -d ' '
}
qido_count() {
    curl -sS --max-time 30 ${TELE_CA:+--cacert "$TELE_CA"} -H "Authorization: Bearer $2" "$1$3" |
        python3 -c 'import json, sys; t = sys.stdin.read(); print(len(json.loads(t)) if t.strip() else 0)'
}
at_least() { [ "$($1)" -ge "$2" ]; }
