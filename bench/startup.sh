#!/usr/bin/env bash
# Start-up time: wall and CPU time from `dotnet AuthServer.dll` to the first 200 from GET /health.
#
#   bench/startup.sh                 # publishes the server (Release, ReadyToRun as scripts/start.sh does), 7 runs
#   bench/startup.sh --runs 11
#   STARTUP_B_DLL=/other/AuthServer.dll bench/startup.sh    # A/B: both builds in every run, alternating order
#   STARTUP_B_DLL=same.dll STARTUP_B_ENV="DOTNET_TieredPGO=0" bench/startup.sh   # A/B of a runtime setting
#
# Each run starts every build twice on a database of its own: (a) fresh (all migrations applied at boot), then
# (b) the same database again, already migrated (the usual restart). The health check is a bash /dev/tcp probe
# every 10 ms (no curl fork competing for the CPU); at the first 200 the script reads the server's CPU time
# (utime + stime, /proc/<pid>/stat). CPU time is the steadier figure on a shared machine: wall time also counts
# waiting for cores that other work holds. One uncounted start per build first warms the page cache.
# Prints the medians (markdown) and writes them to bench/results/<stamp>-startup.md.
#
# The server's environment is ../shared/reference-env/client-test-infra-autoconfirm.env (the reference server's
# in the JS client test infrastructure: an HS256 secret plus HS256 and RSA keys in GOTRUE_JWT_KEYS) when it is
# beside the repository, else a minimal one (JWT secret, site URL); in both, the database, host, port and SMTP are
# ours and the log level is the default (info). Settings (env): STARTUP_ENV_FILE, AUTHSERVER_DLL (skip publishing),
# STARTUP_A_LABEL / STARTUP_B_LABEL, STARTUP_A_ENV / STARTUP_B_ENV (extra KEY=VALUE words for that build's
# process), STARTUP_PUBLISH_ARGS (`dotnet publish` arguments; default "-p:PublishReadyToRun=true"), KEEP_BENCH_TMP=1.
# Needs: dotnet (SDK 10), PostgreSQL 15 server binaries and psql.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR/../scripts/lib

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
source "$ROOT/scripts/lib/postgres.sh"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

RUNS=7
while (($#)); do
    case $1 in
        --runs) RUNS=$2; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done
log() { echo "[startup $(date +%H:%M:%S)] $*" >&2; }
die() { echo "[startup] $*" >&2; exit 1; }
command -v psql >/dev/null || die "psql not found: apt-get install postgresql-client-15"
pg_require_binaries

WORK=$(mktemp -d "${TMPDIR:-/tmp}/authserver-startup.XXXXXX")
chmod 755 "$WORK"
PG_DATA="$WORK/pg/data"
SERVER_PID=""
stop_server() {
    [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null || { SERVER_PID=""; return 0; }
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}
# shellcheck disable=SC2317 # runs from a trap
cleanup() {
    local code=$?
    trap "" INT TERM PIPE
    set +e
    trap - EXIT
    stop_server
    pg_stop "$PG_DATA"
    [[ -n "${KEEP_BENCH_TMP:-}" ]] && log "kept $WORK" || rm -rf "$WORK"
    exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- builds --------------------------------------------------------------------------------------------
if [[ -n "${AUTHSERVER_DLL:-}" ]]; then
    A_DLL=$AUTHSERVER_DLL
else
    log "publishing AuthServer (Release)"
    # shellcheck disable=SC2086 # words
    dotnet publish "$ROOT/src/AuthServer/AuthServer.csproj" -c Release -o "$HERE/.build/startup-server" --nologo -v quiet ${STARTUP_PUBLISH_ARGS--p:PublishReadyToRun=true} \
        >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; die "server build failed"; }
    A_DLL="$HERE/.build/startup-server/AuthServer.dll"
fi
LABELS=("${STARTUP_A_LABEL:-A}")
DLLS=("$A_DLL")
EXTRA_ENV=("${STARTUP_A_ENV:-}")
if [[ -n "${STARTUP_B_DLL:-}" ]]; then
    LABELS+=("${STARTUP_B_LABEL:-B}")
    DLLS+=("$STARTUP_B_DLL")
    EXTRA_ENV+=("${STARTUP_B_ENV:-}")
fi
SOURCES=("${DLLS[@]}")
# Each build runs from a private copy whose main assembly is renamed (as bench/run.sh does): other people's
# clean-up on a shared machine kills processes by the name AuthServer.dll.
for i in "${!DLLS[@]}"; do
    [[ -f "${DLLS[$i]}" ]] || die "${DLLS[$i]} does not exist"
    src=$(cd "$(dirname "${DLLS[$i]}")" && pwd)
    dir="$WORK/server-$i"
    mkdir -p "$dir"
    cp -r "$src/." "$dir/"
    mv "$dir/AuthServer.dll" "$dir/startsrv.dll"
    mv "$dir/AuthServer.runtimeconfig.json" "$dir/startsrv.runtimeconfig.json"
    sed 's/"AuthServer\.dll"/"startsrv.dll"/' "$dir/AuthServer.deps.json" >"$dir/startsrv.deps.json"
    rm -f "$dir/AuthServer.deps.json" "$dir/AuthServer"
    DLLS[i]="$dir/startsrv.dll"
done

# --- PostgreSQL and the server's environment -----------------------------------------------------------
PG_PORT=$(pg_free_port "")
pg_start "$PG_DATA" "$PG_PORT"
export PGHOST=127.0.0.1 PGPORT=$PG_PORT PGUSER=postgres PGDATABASE=postgres
log "PostgreSQL on 127.0.0.1:$PG_PORT"

ENV_FILE=${STARTUP_ENV_FILE:-$ROOT/../shared/reference-env/client-test-infra-autoconfirm.env}
SERVER_ENV=()
if [[ -f "$ENV_FILE" ]]; then
    # KEY="value" (with \" and \\ escapes), KEY='value' or KEY=value; comments skipped.
    while IFS= read -r line; do
        [[ "$line" =~ ^[A-Z_][A-Z0-9_]*= ]] || continue
        key=${line%%=*} value=${line#*=}
        if [[ $value == \"*\" ]]; then
            value=${value:1:${#value}-2}
            value=${value//\\\"/\"}
            value=${value//\\\\/\\}
        elif [[ $value == \'*\' ]]; then
            value=${value:1:${#value}-2}
        fi
        SERVER_ENV+=("$key=$value")
    done <"$ENV_FILE"
    log "environment: $ENV_FILE"
else
    SERVER_ENV+=(GOTRUE_JWT_SECRET="$(head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n')"
        GOTRUE_SITE_URL=http://localhost:3000 GOTRUE_DB_DRIVER=postgres GOTRUE_MAILER_AUTOCONFIRM=true)
    log "environment: minimal (no $ENV_FILE)"
fi
API_PORT=$(pg_free_port "")
SMTP_PORT=$(pg_free_port "") # nothing listens there; nothing is mailed at boot
SERVER_ENV+=(GOTRUE_DB_DATABASE_URL= GOTRUE_API_PORT= GOTRUE_LOG_LEVEL=info GOTRUE_API_HOST=127.0.0.1
    PORT="$API_PORT" API_EXTERNAL_URL="http://127.0.0.1:$API_PORT" GOTRUE_SMTP_HOST=127.0.0.1 GOTRUE_SMTP_PORT="$SMTP_PORT")

# --- one start -----------------------------------------------------------------------------------------
exec {SLEEP_FD}<> <(:) # `read -t` on a pipe nobody writes to: a 10 ms sleep without forking
CLK_TCK=$(getconf CLK_TCK)
health_ok() { # true when GET /health on the server's port answers 200
    local fd line
    { exec {fd}<>"/dev/tcp/127.0.0.1/$API_PORT"; } 2>/dev/null || return 1
    printf 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&"$fd" 2>/dev/null || true
    read -r -t 5 line <&"$fd" || line=""
    exec {fd}>&-
    [[ $line == "HTTP/1.1 200"* ]]
}
cpu_ms() { # utime + stime of a process, in ms
    local stat fields
    stat=$(<"/proc/$1/stat")
    read -ra fields <<<"${stat##*) }" # fields after the command name: state is [0], utime [11], stime [12]
    echo $(((fields[11] + fields[12]) * 1000 / CLK_TCK))
}
start_once() { # dll database logfile extra-env → prints "wall_ms cpu_ms"
    local dll=$1 db=$2 logfile=$3 extra=$4 t0 cpu
    t0=$(date +%s%N)
    (
        cd "$WORK"
        while IFS= read -r name; do unset "$name"; done < <(compgen -e | grep -E '^(GOTRUE_|DATABASE_URL$|API_EXTERNAL_URL$|PORT$|ASPNETCORE_|DOTNET_)' || true)
        # shellcheck disable=SC2086 # KEY=VALUE words
        exec env "${SERVER_ENV[@]}" DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/$db" \
            DOTNET_CLI_TELEMETRY_OPTOUT=1 $extra dotnet "$dll"
    ) >"$logfile" 2>&1 &
    SERVER_PID=$!
    until health_ok; do
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$logfile" >&2; die "the server ($dll) exited at start-up"; }
        (($(date +%s%N) - t0 < 60000000000)) || die "the server ($dll) not healthy after 60 s"
        read -r -t 0.01 -u "$SLEEP_FD" _ || true
    done
    cpu=$(cpu_ms "$SERVER_PID")
    echo "$((($(date +%s%N) - t0) / 1000000)) $cpu"
    stop_server
}

# --- runs ----------------------------------------------------------------------------------------------
declare -A WALL CPU # "label/case" -> space-separated values
for i in "${!DLLS[@]}"; do
    psql -qAt -c "create database warmup_$i" >/dev/null
    start_once "${DLLS[$i]}" "warmup_$i" "$WORK/warmup-$i.log" "${EXTRA_ENV[$i]}" >/dev/null
done
for run in $(seq 1 "$RUNS"); do
    order=("${!DLLS[@]}")
    ((run % 2 == 0)) && order=($(printf '%s\n' "${order[@]}" | tac)) # alternate A,B / B,A against drift
    for i in "${order[@]}"; do
        db="run_${run}_$i"
        psql -qAt -c "create database $db" >/dev/null
        for case in fresh migrated; do
            read -r wall cpu < <(start_once "${DLLS[$i]}" "$db" "$WORK/$db-$case.log" "${EXTRA_ENV[$i]}")
            WALL["${LABELS[$i]}/$case"]+="$wall "
            CPU["${LABELS[$i]}/$case"]+="$cpu "
            log "run $run ${LABELS[$i]} $case: wall ${wall} ms, CPU ${cpu} ms (load $(cut -d' ' -f1 /proc/loadavg))"
        done
        psql -qAt -c "drop database $db" >/dev/null
    done
done

# --- summary -------------------------------------------------------------------------------------------
stats() { # values… → "median (min–max)"
    local sorted
    mapfile -t sorted < <(printf '%s\n' "$@" | sort -n)
    local n=${#sorted[@]} median
    if ((n % 2)); then median=${sorted[n / 2]}; else median=$(((sorted[n / 2 - 1] + sorted[n / 2]) / 2)); fi
    echo "$median (${sorted[0]}–${sorted[n - 1]})"
}
STAMP=$(date -u +%Y-%m-%d-%H%M)
OUT="$HERE/results/$STAMP-startup.md"
mkdir -p "$HERE/results"
{
    echo "# Start-up $STAMP"
    echo
    echo "$RUNS runs on $(nproc) cores, load average at the end $(cut -d' ' -f1-3 /proc/loadavg); environment $(basename "$ENV_FILE")."
    echo "Time from \`dotnet AuthServer.dll\` to the first 200 from GET /health; CPU = the server's utime + stime then."
    echo
    echo "| build | database | wall ms, median (min–max) | CPU ms, median (min–max) |"
    echo "|---|---|---:|---:|"
    for label in "${LABELS[@]}"; do
        for case in fresh migrated; do
            # shellcheck disable=SC2086 # space-separated numbers
            echo "| $label | $case | $(stats ${WALL[$label/$case]}) | $(stats ${CPU[$label/$case]}) |"
        done
    done
    if ((${#DLLS[@]} > 1)); then
        echo
        for i in "${!DLLS[@]}"; do echo "- ${LABELS[$i]}: ${SOURCES[$i]} ${EXTRA_ENV[$i]}"; done
    fi
} | tee "$OUT"
log "wrote ${OUT#"$ROOT/"}"
