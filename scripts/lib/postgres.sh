# shellcheck shell=bash
# Local PostgreSQL for development and tests, run from the machine's own server binaries.
#
#   source scripts/lib/postgres.sh
#   port=$(pg_free_port 54329)            # 54329 if free, else any free loopback port
#   pg_start "$dir/data" "$port" [throwaway] # initdb if needed, start, wait for pg_isready
#   pg_url "$port"                        # postgres://postgres@127.0.0.1:$port/postgres
#   pg_stop "$dir/data"
#
# The cluster listens on 127.0.0.1 only, with trust auth (loopback, local use only), superuser
# `postgres`, and its unix socket in the data dir's parent (which must be a dir of its own).
# `throwaway` turns fsync off: for disposable test clusters only.
# initdb and postgres refuse to run as root: as root they run as the `postgres` OS user
# (created if missing) and the data dir's parent is handed to it.

_pg_die() { echo "postgres.sh: $*" >&2; return 1; }

# Resolve initdb/pg_ctl/postgres (PATH first, then Debian's versioned dirs); sets PG_BINDIR.
pg_require_binaries() {
    if [[ -n "${PG_BINDIR:-}" && -x "$PG_BINDIR/pg_ctl" ]]; then return 0; fi
    local initdb_path
    initdb_path=$(command -v initdb 2>/dev/null || true)
    if [[ -n "$initdb_path" ]] && command -v pg_ctl >/dev/null 2>&1 && command -v postgres >/dev/null 2>&1; then
        # Symlinks in /usr/local/bin point into the versioned dir; keep the PATH entries themselves.
        PG_BINDIR=$(dirname "$initdb_path")
        return 0
    fi
    local d
    for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
        if [[ -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/postgres" ]]; then
            PG_BINDIR=$d
            return 0
        fi
    done
    echo "PostgreSQL 15 server binaries not found: apt-get install postgresql-15 (or put initdb/pg_ctl on PATH)" >&2
    exit 1
}

# Run a PostgreSQL binary as the cluster owner: `postgres` when we are root, else ourselves.
_pg_as_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

_pg_ensure_os_user() {
    [[ "$(id -u)" == 0 ]] || return 0
    if ! id -u postgres >/dev/null 2>&1; then
        useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres \
            || _pg_die "could not create the postgres OS user" || return 1
    fi
}

# A free TCP port on 127.0.0.1: $1 if given and free, else one the kernel picks.
pg_free_port() {
    local want=${1:-}
    if [[ -n "$want" ]] && ! _pg_port_in_use "$want"; then
        echo "$want"
        return 0
    fi
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
        return 0
    fi
    local p _
    for _ in $(seq 1 200); do
        p=$((20000 + RANDOM % 40000))
        if ! _pg_port_in_use "$p"; then
            echo "$p"
            return 0
        fi
    done
    _pg_die "no free port found"
}

# True if something accepts connections on 127.0.0.1:$1.
_pg_port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pg_url() { echo "postgres://postgres@127.0.0.1:$1/postgres"; }

# pg_start DATA_DIR PORT [throwaway]
pg_start() {
    local data=${1:?pg_start: data dir required} port=${2:?pg_start: port required} mode=${3:-}
    pg_require_binaries
    _pg_ensure_os_user || return 1

    mkdir -p "$(dirname "$data")"
    local parent
    parent=$(cd "$(dirname "$data")" && pwd)
    data="$parent/$(basename "$data")"
    if [[ "$(id -u)" == 0 ]]; then
        chown postgres: "$parent"
        chmod 700 "$parent"
        [[ -d "$data" ]] && chown -R postgres: "$data"
        runuser -u postgres -- test -w "$parent" \
            || _pg_die "the postgres OS user cannot write $parent (is a parent dir closed to others?)" || return 1
    fi

    if [[ ! -s "$data/PG_VERSION" ]]; then
        local -a extra=()
        [[ "$mode" == throwaway ]] && extra+=(--no-sync)
        _pg_as_owner "$PG_BINDIR/initdb" -D "$data" -U postgres -E UTF8 --locale=C \
            --auth-local=trust --auth-host=trust "${extra[@]}" >"$parent/initdb.log" 2>&1 \
            || { cat "$parent/initdb.log" >&2; _pg_die "initdb failed in $data"; return 1; }
        local sock=${parent//\'/\'\'}
        # Unix socket paths are limited to 107 bytes: past that, TCP only.
        (( ${#parent} + 16 > 107 )) && sock=""
        {
            echo ""
            echo "# Added by scripts/lib/postgres.sh: local use only."
            echo "listen_addresses = '127.0.0.1'"
            echo "unix_socket_directories = '$sock'"
            echo "max_connections = 200"
            if [[ "$mode" == throwaway ]]; then
                echo "fsync = off"
                echo "synchronous_commit = off"
                echo "full_page_writes = off"
            fi
        } | _pg_as_owner tee -a "$data/postgresql.conf" >/dev/null
    fi

    if _pg_as_owner "$PG_BINDIR/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        _pg_die "a server is already running on $data" || return 1
    fi
    # Port on the command line: it can differ from one start to the next.
    _pg_as_owner "$PG_BINDIR/pg_ctl" -D "$data" -l "$parent/postgres.log" -o "-p $port" -w -t 60 start >/dev/null \
        || { tail -n 30 "$parent/postgres.log" >&2 2>/dev/null; _pg_die "pg_ctl start failed (log: $parent/postgres.log)"; return 1; }
    _pg_wait_ready "$port" || { tail -n 30 "$parent/postgres.log" >&2; return 1; }
}

_pg_wait_ready() {
    local port=$1 _
    for _ in $(seq 1 120); do
        if command -v pg_isready >/dev/null 2>&1; then
            pg_isready -q -h 127.0.0.1 -p "$port" -d postgres -U postgres && return 0
        elif _pg_port_in_use "$port"; then
            return 0
        fi
        sleep 0.5
    done
    _pg_die "PostgreSQL on 127.0.0.1:$port not ready after 60 s"
}

# Port of the running cluster in DATA_DIR (line 4 of postmaster.pid), or nothing.
pg_running_port() {
    local data=$1
    pg_require_binaries
    [[ -f "$data/postmaster.pid" ]] || return 1
    _pg_as_owner "$PG_BINDIR/pg_ctl" -D "$data" status >/dev/null 2>&1 || return 1
    sed -n 4p "$data/postmaster.pid"
}

# pg_stop DATA_DIR — fast shutdown; a no-op if it is not running.
pg_stop() {
    local data=${1:?pg_stop: data dir required}
    pg_require_binaries
    [[ -f "$data/postmaster.pid" ]] || return 0
    _pg_as_owner "$PG_BINDIR/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1 \
        || _pg_as_owner "$PG_BINDIR/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
}
