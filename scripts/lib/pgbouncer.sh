#!/usr/bin/env bash
# PgBouncer in transaction mode in front of a local PostgreSQL, as Supavisor or a production PgBouncer
# sits in front of GoTrue: each transaction may run on another server connection.
#
#   source scripts/lib/pgbouncer.sh
#   pgbouncer_start DIR PG_PORT LISTEN_PORT [POOL]   # background; its pid in PGBOUNCER_PID
#
# POOL: server connections per database/user pair (default 4, few enough that transactions change connections).
#
# Needs Debian's pgbouncer (apt-get install pgbouncer); as root it runs as the postgres user (it refuses root).

pgbouncer_start() {
    local dir=${1:?pgbouncer_start: dir required} pg_port=${2:?pg port required} port=${3:?listen port required}
    local pool=${4:-4} bin
    bin=$(command -v pgbouncer || ls /usr/sbin/pgbouncer 2>/dev/null) \
        || { echo "pgbouncer.sh: pgbouncer not found (apt-get install pgbouncer)" >&2; return 1; }
    mkdir -p "$dir"
    printf '"postgres" ""\n' >"$dir/users.txt"
    cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$pg_port
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/users.txt
pool_mode = transaction
default_pool_size = $pool
max_client_conn = 1000
ignore_startup_parameters = extra_float_digits,search_path,options
logfile = $dir/pgbouncer.log
INI
    if [[ "$(id -u)" == 0 ]]; then
        chmod 777 "$dir"
        "$bin" -u postgres "$dir/pgbouncer.ini" >/dev/null 2>&1 &
    else
        "$bin" "$dir/pgbouncer.ini" >/dev/null 2>&1 &
    fi
    PGBOUNCER_PID=$!
    for _ in $(seq 1 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        kill -0 "$PGBOUNCER_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "pgbouncer.sh: pgbouncer did not start; its log:" >&2
    cat "$dir/pgbouncer.log" >&2 2>/dev/null
    return 1
}
