# SPDX-License-Identifier: MIT
# Helpers for the tests of several pacsd nodes sharing one PostgreSQL index and one object
# folder. Sourced after tests/lib.sh, not executed.
#
#   pg_database                 # sets PG_URI to a fresh, empty database
#   start_node A [pacsd args]   # node A: its own data folder and ports, the shared index and
#                               # objects; sets A_DIMSE, A_HTTP, A_PID
#   kill9_node A / stop_node A
#   node_pacs A COMMAND...      # the pacs tool with node A's settings
#
# The PostgreSQL server: PACS_PG_SERVER or PACS_TEST_PG (scripts/test.sh starts one), else a
# throw-away cluster of this test's own (scripts/pg_cluster.sh), stopped at the end.

PG_URI=""
PG_OWN=""
PG_DB=""
NODES=""
SHARED_OBJECTS="$WORK/objects"

multinode_cleanup() {
    for n in $NODES; do
        eval "p=\${${n}_PID:-}"
        if [ -n "$p" ]; then
            kill -9 "$p" 2>/dev/null || true
        fi
    done
    for p in $BG_PIDS; do
        kill -TERM "$p" 2>/dev/null || true
    done
    if [ -n "$PG_DB" ] && [ -z "$PG_OWN" ] && [ "${KEEP_WORK:-0}" != 1 ]; then
        timeout 60 psql "${PG_URI%/*}/postgres" -qAt -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" \
            >/dev/null 2>&1 || true
    fi
    if [ -n "$PG_OWN" ]; then
        timeout 90 "$SRC/scripts/pg_cluster.sh" stop "$PG_OWN" || true
    fi
    cleanup
}
trap multinode_cleanup EXIT

pg_database() {
    server=${PACS_PG_SERVER:-${PACS_TEST_PG:-}}
    if [ -z "$server" ]; then
        chmod 711 "$WORK"
        PG_OWN="$WORK/pg"
        server=$(timeout 120 "$SRC/scripts/pg_cluster.sh" start "$PG_OWN") ||
            fail "no PostgreSQL server (set PACS_PG_SERVER or install postgresql)"
    fi
    PG_DB="mn_$(basename "$WORK" | tr -dc 'a-zA-Z0-9' | tr 'A-Z' 'a-z')"
    timeout 60 psql "$server" -qAt -c "CREATE DATABASE $PG_DB" >/dev/null ||
        fail "cannot create database $PG_DB"
    PG_URI="${server%/*}/$PG_DB"
}

start_node() { # name [pacsd args]
    n=$1
    shift
    mkdir -p "$WORK/$n"
    rm -f "$WORK/$n/ready"
    "$PACSD" --data "$WORK/$n/d" --set dimse.port=0 --set http.port=0 \
        --ready-file "$WORK/$n/ready" --set "index=$PG_URI" --set "storage.objects=$SHARED_OBJECTS" \
        --set "node.name=$n" --set dimse.bind=127.0.0.1 --set http.bind=127.0.0.1 "$@" \
        >>"$WORK/$n.log" 2>&1 &
    eval "${n}_PID=$!"
    case " $NODES " in *" $n "*) ;; *) NODES="$NODES $n" ;; esac
    if ! timeout 60 sh -c 'until [ -s "$1" ]; do sleep 0.05; done' _ "$WORK/$n/ready"; then
        tail -n 20 "$WORK/$n.log" >&2
        fail "node $n did not become ready"
    fi
    . "$WORK/$n/ready"
    eval "${n}_DIMSE=$DIMSE_PORT ${n}_HTTP=$HTTP_PORT"
}

kill9_node() { # name
    eval "p=\${${1}_PID:-}"
    [ -n "$p" ] || return 0
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    eval "${1}_PID="
}

stop_node() { # name
    eval "p=\${${1}_PID:-}"
    [ -n "$p" ] || return 0
    kill -TERM "$p" 2>/dev/null || true
    timeout 30 sh -c 'while kill -0 "$1" 2>/dev/null; do sleep 0.05; done' _ "$p" ||
        fail "node $1 did not stop within 30 s"
    wait "$p" 2>/dev/null || true
    eval "${1}_PID="
}

node_pacs() { # name command...
    n=$1
    shift
    timeout 300 "$PACS" --data "$WORK/$n/d" --set "index=$PG_URI" \
        --set "storage.objects=$SHARED_OBJECTS" --set "node.name=$n" "$@"
}

# C-FIND through a node: number of matches. Usage: node_count A -S -k ... (findscu keys)
node_count() { # name root keys...
    eval "port=\$${1}_DIMSE"
    shift
    root=$1
    shift
    timeout 60 findscu -aec PACS "$root" "$@" 127.0.0.1 "$port" 2>&1 |
        grep -ac "Find Response.*(Pending)" || true
}
