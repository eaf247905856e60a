#!/bin/sh
# SPDX-License-Identifier: MIT
# A throw-away PostgreSQL cluster for tests and benchmarks: initdb into a temporary folder,
# pg_ctl start on 127.0.0.1 at a free port (no Unix socket outside the folder), a database
# "pacs" in UTF-8. Nothing outside the folder is touched; no system service is used.
#
#   scripts/pg_cluster.sh start DIR   # prints the connection URI on stdout
#   scripts/pg_cluster.sh stop DIR    # stops it (the caller removes DIR)
#
# PostgreSQL refuses to run as root: as root, the cluster runs as the "postgres" user (Debian's
# postgresql package creates it), or as "nobody" when that user is missing.
set -eu

cmd=${1:?usage: pg_cluster.sh start|stop DIR}
dir=${2:?usage: pg_cluster.sh start|stop DIR}
bin=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[ -x "$bin/initdb" ] || { echo "pg_cluster.sh: no PostgreSQL server found (apt-get install postgresql)" >&2; exit 1; }

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        user=postgres
        id -u postgres >/dev/null 2>&1 || user=nobody
        runuser -u "$user" -- "$@"
    else
        "$@"
    fi
}

case $cmd in
start)
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        user=postgres
        id -u postgres >/dev/null 2>&1 || user=nobody
        chown "$user" "$dir"
    fi
    as_owner "$bin/initdb" -D "$dir/db" -U pacs --auth=trust -E UTF8 --locale=C.UTF-8 \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # Small and fast for tests: no durability is needed from a throw-away cluster, but fsync
    # stays on so that the measured figures are honest.
    as_owner "$bin/pg_ctl" -D "$dir/db" -l "$dir/server.log" -w -t 60 start \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir \
            -c max_connections=200 -c shared_buffers=256MB" >/dev/null \
        || { cat "$dir/server.log" >&2; exit 1; }
    as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U pacs -E UTF8 pacs
    echo "postgresql://pacs@127.0.0.1:$port/pacs"
    ;;
stop)
    [ -d "$dir/db" ] || exit 0
    as_owner "$bin/pg_ctl" -D "$dir/db" -m fast -w -t 60 stop >/dev/null 2>&1 || true
    ;;
*)
    echo "usage: pg_cluster.sh start|stop DIR" >&2
    exit 2
    ;;
esac
