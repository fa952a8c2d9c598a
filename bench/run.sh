#!/usr/bin/env bash
# Benchmarks: every flow measured against the machine's floors in the same run.
#
#   bench/run.sh            # full: 3 repetitions, 10 s per measurement (about 30–35 min)
#   bench/run.sh --quick    # smoke: 1 repetition, short measurements (about 8–10 min with the build)
#   bench/run.sh --quick --flows "getuser refresh"   # only some flows (and the floors they need)
#
# What it does (all on 127.0.0.1, torn down on exit):
#   1. builds the server (dotnet publish -c Release -p:PublishReadyToRun=true, as scripts/start.sh and the Dockerfile ship it) and the helpers in bench/dotnet into bench/.build;
#   2. starts a throwaway PostgreSQL (scripts/lib/postgres.sh; fsync on, as in production) and the server with
#      production-like settings: bcrypt cost 10 (the default), an explicit pool, rate limits opened wide (no
#      request is refused; without GOTRUE_RATE_LIMIT_HEADER the per-client limits key nothing, as in GoTrue), anonymous sign-ins on, autoconfirm on;
#   3. seeds users/sessions/refresh tokens through the database (bench/seed.sql) and mints access tokens;
#   4. measures the floors (bcrypt hash/verify with threads = cores; pgbench scripts with the flows' SQL;
#      bench/dotnet/FloorHttp = one HS256 check + one indexed SELECT under the same wrk settings),
#      then every flow at 1, cores and 64 connections (wrk, warm-up first, fixed duration, N repetitions),
#      then the floors again. A floor that moved > 15 % between the two marks the run invalid;
#   5. writes bench/results/<stamp>.md (+ .json, .summary.md) and the raw outputs under bench/results/<stamp>/.
#
# Settings (env): BENCH_DURATION, BENCH_WARMUP, BENCH_FLOOR_DURATION (seconds), BENCH_REPS, BENCH_USERS,
# BENCH_POOL (server pool = pgbench clients cap), BENCH_CONNS (default "1 <cores> 64"), BENCH_IDLE_WAIT (s to
# wait for an idle machine), BENCH_OTP_USERS (codes issued before each otp_verify measurement), BENCH_ID_TOKENS
# (ID tokens minted for the idtoken flow), AUTHSERVER_DLL (skip publishing the server), KEEP_BENCH_TMP=1.
# Variants (without them the run is the plain one above):
#   BENCH_POOLER=pgbouncer   the server(s) reach PostgreSQL through PgBouncer in transaction mode
#                            (GOTRUE_DB_TRANSACTION_POOLER=true; BENCH_POOLER_POOL server connections, default
#                            BENCH_POOL); the floors stay direct to PostgreSQL
#   BENCH_REPLICAS=2         two server processes on the one PostgreSQL, one wrk per replica with the connections
#                            split between them (default BENCH_CONNS "<cores> 64")
# Needs: dotnet (SDK 10), PostgreSQL 15 server binaries + pgbench + psql, wrk, curl, jq; node for the idtoken flow.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR/../scripts/lib

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
source "$ROOT/scripts/lib/postgres.sh"
source "$ROOT/scripts/lib/keys.sh"
source "$ROOT/scripts/lib/pgbouncer.sh"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

QUICK=""
ONLY_FLOWS=""
while (($#)); do
    case $1 in
        --quick) QUICK=1 ;;
        --flows) ONLY_FLOWS=$2; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done

CORES=$(nproc)
if [[ -n "$QUICK" ]]; then
    DURATION=${BENCH_DURATION:-4}; WARMUP=${BENCH_WARMUP:-2}; FLOOR_DURATION=${BENCH_FLOOR_DURATION:-3}
    REPS=${BENCH_REPS:-1}; USERS=${BENCH_USERS:-10000}; IDLE_WAIT=${BENCH_IDLE_WAIT:-20}
    OTP_USERS=${BENCH_OTP_USERS:-15000}; ID_TOKENS=${BENCH_ID_TOKENS:-5000}
else
    DURATION=${BENCH_DURATION:-10}; WARMUP=${BENCH_WARMUP:-3}; FLOOR_DURATION=${BENCH_FLOOR_DURATION:-8}
    REPS=${BENCH_REPS:-3}; USERS=${BENCH_USERS:-50000}; IDLE_WAIT=${BENCH_IDLE_WAIT:-120}
    OTP_USERS=${BENCH_OTP_USERS:-30000}; ID_TOKENS=${BENCH_ID_TOKENS:-16000}
fi
POOL=${BENCH_POOL:-16}
POOLER=${BENCH_POOLER:-}
POOLER_POOL=${BENCH_POOLER_POOL:-$POOL}
REPLICAS=${BENCH_REPLICAS:-1}
if ((REPLICAS > 1)); then CONNS=${BENCH_CONNS:-"$CORES 64"}; else CONNS=${BENCH_CONNS:-"1 $CORES 64"}; fi
COST=10
MAX_AUTO_PREPARE=50 # the server's default (src/AuthServer/Data/DatabaseUrl.cs); the HTTP floor uses the same
WRK_THREADS=$CORES

log() { echo "[bench $(date +%H:%M:%S)] $*" >&2; }
die() { echo "[bench] $*" >&2; exit 1; }
[[ -z "$POOLER" || "$POOLER" == pgbouncer ]] || die "BENCH_POOLER: only pgbouncer is supported"
[[ "$REPLICAS" =~ ^[1-9]$ ]] || die "BENCH_REPLICAS: a number from 1 to 9"
((REPLICAS == 1)) || [[ -z "${BENCH_B_DLL:-}" ]] || die "BENCH_REPLICAS and BENCH_B_DLL do not combine"

# --- tools -------------------------------------------------------------------------------------------
need=()
for tool in wrk pgbench psql curl jq dotnet; do command -v "$tool" >/dev/null 2>&1 || need+=("$tool"); done
if ((${#need[@]})); then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1 && [[ " ${need[*]} " != *" dotnet "* ]]; then
        pkgs=()
        for t in "${need[@]}"; do
            case $t in wrk) pkgs+=(wrk) ;; pgbench|psql) pkgs+=(postgresql-client-15 postgresql-contrib-15) ;; *) pkgs+=("$t") ;; esac
        done
        log "installing ${pkgs[*]} with apt-get"
        apt-get install -y "${pkgs[@]}" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "${pkgs[@]}" >/dev/null; }
    else
        die "missing: ${need[*]}. On Debian: apt-get install -y wrk postgresql-15 postgresql-client-15 curl jq (and the .NET 10 SDK)"
    fi
fi
pg_require_binaries
if [[ "$POOLER" == pgbouncer ]] && ! command -v pgbouncer >/dev/null && [[ ! -x /usr/sbin/pgbouncer ]]; then
    [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1 || die "BENCH_POOLER=pgbouncer needs pgbouncer (apt-get install pgbouncer)"
    log "installing pgbouncer with apt-get"
    apt-get install -y pgbouncer >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y pgbouncer >/dev/null; }
fi

# --- flows ---------------------------------------------------------------------------------------------
declare -A F_DESC F_FLOOR F_TARGET F_ALSO F_PENDING F_MIX F_CONNS F_ENV F_STORM F_LINES
declare -A F_REQS # name -> newline-separated request specs
ALL_FLOWS=()
load_flow() { # file
    local file=$1 name
    name=$(basename "$file" .flow)
    FLOW_DESC="" FLOW_FLOOR="" FLOW_TARGET=0 FLOW_ALSO="" FLOW_PENDING="" FLOW_MIX="" FLOW_CONNS_ONLY="" FLOW_STORM=""
    FLOW_REQS=() FLOW_ENV=() FLOW_LINES=""
    # shellcheck disable=SC1090
    source "$file"
    F_DESC[$name]=$FLOW_DESC; F_FLOOR[$name]=$FLOW_FLOOR; F_TARGET[$name]=$FLOW_TARGET; F_ALSO[$name]=$FLOW_ALSO
    F_PENDING[$name]=$FLOW_PENDING; F_MIX[$name]=$FLOW_MIX; F_CONNS[$name]=${FLOW_CONNS_ONLY:-$CONNS}
    F_STORM[$name]=$FLOW_STORM; F_LINES[$name]=$FLOW_LINES
    F_ENV[$name]="${FLOW_ENV[*]:-}"
    F_REQS[$name]=$(printf '%s\n' "${FLOW_REQS[@]:-}")
    ALL_FLOWS+=("$name")
}
# Measured flows first in a fixed order (the mix needs the solo results), pending ones at the end.
for name in signin signup refresh getuser anonymous mixed storm; do
    [[ -f "$HERE/flows/$name.flow" ]] && load_flow "$HERE/flows/$name.flow"
done
for file in "$HERE"/flows/*.flow; do
    name=$(basename "$file" .flow)
    [[ -n "${F_DESC[$name]+x}" ]] || load_flow "$file"
done
FLOWS=()
for name in "${ALL_FLOWS[@]}"; do
    if [[ -n "$ONLY_FLOWS" && " $ONLY_FLOWS " != *" $name "* ]]; then continue; fi
    FLOWS+=("$name")
done
# A mix's requests are its members' requests, re-weighted.
for name in "${FLOWS[@]}"; do
    [[ -n "${F_MIX[$name]}" ]] || continue
    reqs=""
    for part in ${F_MIX[$name]}; do
        member=${part%%:*} weight=${part##*:}
        [[ -n "${F_REQS[$member]+x}" ]] || die "flow $name mixes unknown flow $member"
        while IFS= read -r spec; do
            [[ -n "$spec" ]] && reqs+="$weight|${spec#*|}"$'\n'
        done <<<"${F_REQS[$member]}"
    done
    F_REQS[$name]=$reqs
done
# Floors needed by the chosen flows.
FLOORS=()
for name in "${FLOWS[@]}"; do
    [[ -z "${F_PENDING[$name]}" ]] || continue
    for f in ${F_FLOOR[$name]} ${F_ALSO[$name]}; do
        [[ "$f" == solo || " ${FLOORS[*]:-} " == *" $f "* ]] || FLOORS+=("$f")
    done
done

# Single-use values ({line}) some flows need: OTP codes seeded in the database, ID tokens from a local issuer.
NEED_OTP="" NEED_OIDC=""
for name in "${FLOWS[@]}"; do
    [[ -z "${F_PENDING[$name]}" ]] || continue
    case ${F_LINES[$name]} in otp_codes) NEED_OTP=1 ;; id_tokens) NEED_OIDC=1 ;; esac
done
if [[ -n "$NEED_OIDC" ]]; then command -v node >/dev/null 2>&1 || die "the idtoken flow needs node (the local OIDC issuer)"; fi

# --- work dir, clean-up ------------------------------------------------------------------------------
VARIANT=${POOLER:+-$POOLER}$( ((REPLICAS == 1)) || echo "-${REPLICAS}replicas") # labels the result files
STAMP=$(date -u +%Y-%m-%d-%H%M)${QUICK:+-quick}$VARIANT
[[ -e "$HERE/results/$STAMP" ]] && STAMP=$(date -u +%Y-%m-%d-%H%M%S)${QUICK:+-quick}$VARIANT
RESULTS="$HERE/results"
RAW="$RESULTS/$STAMP"
mkdir -p "$RAW"
JSONL="$RAW/results.jsonl"
: >"$JSONL"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/authserver-bench.XXXXXX")
chmod 755 "$WORK"
PG_DATA="$WORK/pg/data"
SERVER_PID="" FLOOR_PID="" B_PID="" ISSUER_PID="" PGBOUNCER_PID=""
R_PIDS=() R_URLS=() # the replicas under load: the server alone, or BENCH_REPLICAS of them
stop_pid() {
    local pid=$1
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
# shellcheck disable=SC2317 # runs from a trap
cleanup() {
    local code=$?
    trap "" INT TERM PIPE
    set +e
    trap - EXIT
    stop_pid "$SERVER_PID"
    for pid in "${R_PIDS[@]:1}"; do stop_pid "$pid"; done
    stop_pid "$FLOOR_PID"
    stop_pid "$B_PID"
    stop_pid "$ISSUER_PID"
    stop_pid "$PGBOUNCER_PID"
    pg_stop "$PG_DATA"
    [[ -n "${KEEP_BENCH_TMP:-}" ]] && log "kept $WORK" || rm -rf "$WORK"
    exit "$code"
}
trap cleanup EXIT
trap '' PIPE
trap 'exit 130' INT
trap 'exit 143' TERM

record() { jq -c -n "$@" >>"$JSONL"; } # jq args building one JSON object

# --- build -------------------------------------------------------------------------------------------
BUILD="$HERE/.build"
if [[ -n "${AUTHSERVER_DLL:-}" ]]; then
    DLL=$(cd "$(dirname "$AUTHSERVER_DLL")" && pwd)/$(basename "$AUTHSERVER_DLL")
else
    log "publishing AuthServer (Release)"
    dotnet publish "$ROOT/src/AuthServer/AuthServer.csproj" -c Release -p:PublishReadyToRun=true -o "$BUILD/server" --nologo -v quiet >"$WORK/build.log" 2>&1 \
        || { cat "$WORK/build.log" >&2; die "server build failed"; }
    DLL="$BUILD/server/AuthServer.dll"
fi
log "building bench helpers (Release)"
for p in BenchTools FloorHttp; do
    # Skip when nothing changed since the last build (a no-op dotnet build still costs ~15 s of CPU).
    if [[ -f "$BUILD/$p/$p.dll" && -z "$(find "$HERE/dotnet/$p" -newer "$BUILD/$p/$p.dll" -type f -not -path '*/obj/*' -not -path '*/bin/*')" ]]; then
        continue
    fi
    dotnet build "$HERE/dotnet/$p/$p.csproj" -c Release -o "$BUILD/$p" --nologo -v quiet >"$WORK/build-$p.log" 2>&1 \
        || { cat "$WORK/build-$p.log" >&2; die "$p build failed"; }
done
tools() { dotnet "$BUILD/BenchTools/BenchTools.dll" "$@"; }
# GoTrue's bcrypt (Go x/crypto) as one more floor, when Debian's Go and x/crypto packages are installed.
GO_FLOOR=""
if command -v go >/dev/null && [[ -d /usr/share/gocode/src/golang.org/x/crypto/bcrypt ]]; then
    GO_FLOOR="$BUILD/bcrypt_floor"
    [[ -x "$GO_FLOOR" && "$GO_FLOOR" -nt "$HERE/go/bcrypt_floor.go" ]] \
        || (cd "$HERE/go" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$WORK/gocache" go build -o "$GO_FLOOR" bcrypt_floor.go) \
        || { log "Go bcrypt floor did not build; skipped"; GO_FLOOR=""; }
else
    log "no Go bcrypt floor (apt-get install golang-go golang-golang-x-crypto-dev to measure what GoTrue's bcrypt costs here)"
fi

# --- quiet machine -----------------------------------------------------------------------------------
cpu_idle() { # idle % over 3 s
    local a b c d e f g s1 i1 s2 i2
    read -r _ a b c d e f g _ </proc/stat; s1=$((a + b + c + d + e + f + g)); i1=$((d + e)); sleep 3
    read -r _ a b c d e f g _ </proc/stat; s2=$((a + b + c + d + e + f + g)); i2=$((d + e))
    echo $((100 * (i2 - i1) / (s2 - s1)))
}
wait_quiet() { # prints the idle % seen; waits up to IDLE_WAIT s for >= 85 % idle
    local t0=$SECONDS idle
    while :; do
        idle=$(cpu_idle)
        if ((idle >= 85 || SECONDS - t0 >= IDLE_WAIT)); then echo "$idle"; return; fi
    done
}

# --- PostgreSQL + server -------------------------------------------------------------------------------
PG_PORT=$(pg_free_port "")
log "PostgreSQL on 127.0.0.1:$PG_PORT"
pg_start "$PG_DATA" "$PG_PORT"
export PGHOST=127.0.0.1 PGPORT=$PG_PORT PGUSER=postgres
psql -qAt -d postgres -c "alter system set shared_buffers = '256MB'" -c "alter system set max_connections = 300" >/dev/null
pg_stop "$PG_DATA"
pg_start "$PG_DATA" "$PG_PORT"
psql -qAt -d postgres -c "create database authbench" >/dev/null
export PGDATABASE=authbench
PG_MASTER=$(head -1 "$PG_DATA/postmaster.pid")

# BENCH_POOLER=pgbouncer: the server(s) connect through PgBouncer in transaction mode; everything else
# (seeding, pgbench and HTTP floors) stays direct, so the floors are the same as in a plain run.
SERVER_DB_PORT=$PG_PORT VARIANT_DESC="" # VARIANT_DESC: the report's "variant" row
if [[ "$POOLER" == pgbouncer ]]; then
    SERVER_DB_PORT=$(pg_free_port "")
    pgbouncer_start "$WORK/pgbouncer" "$PG_PORT" "$SERVER_DB_PORT" "$POOLER_POOL" || die "pgbouncer did not start"
    VARIANT_DESC+="server(s) through $("$(command -v pgbouncer || echo /usr/sbin/pgbouncer)" --version | head -1) in transaction mode ($POOLER_POOL server connections) with GOTRUE_DB_TRANSACTION_POOLER=true (no prepared statements); floors direct to PostgreSQL; pooler CPU per request in its own column. "
    log "PgBouncer (transaction mode, pool $POOLER_POOL) on 127.0.0.1:$SERVER_DB_PORT: the server(s) connect through it"
fi
SECRET=$(new_jwt_secret)
API_PORT=$(pg_free_port "")
API="http://127.0.0.1:$API_PORT"
SERVER_ENV=(
    GOTRUE_JWT_SECRET="$SECRET" GOTRUE_SITE_URL=http://localhost:3000
    GOTRUE_DB_DRIVER=postgres DATABASE_URL="postgres://postgres@127.0.0.1:$SERVER_DB_PORT/authbench"
    GOTRUE_DB_MAX_POOL_SIZE="$POOL" GOTRUE_API_HOST=127.0.0.1
    GOTRUE_JWT_AUD=authenticated GOTRUE_JWT_DEFAULT_GROUP_NAME=authenticated GOTRUE_JWT_ADMIN_ROLES=service_role
    GOTRUE_MAILER_AUTOCONFIRM=true GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED=true
    # The limits, opened wide: nothing is refused (a benchmark must not measure 429s), the bucket updates still run.
    GOTRUE_RATE_LIMIT_TOKEN_REFRESH=1000000000 GOTRUE_RATE_LIMIT_ANONYMOUS_USERS=1000000000
    GOTRUE_RATE_LIMIT_OTP=1000000000 GOTRUE_RATE_LIMIT_VERIFY=1000000000 GOTRUE_RATE_LIMIT_SIGN_UPS=1000000000
    GOTRUE_RATE_LIMIT_EMAIL_SENT=1000000000
)
[[ -z "$POOLER" ]] || SERVER_ENV+=(GOTRUE_DB_TRANSACTION_POOLER=true)
# The idtoken flow's local OIDC issuer (the e2e suite's), started before the server, which reads its URL.
OIDC_URL=""
if [[ -n "$NEED_OIDC" ]]; then
    OIDC_PORT=$(pg_free_port "")
    OIDC_URL="http://127.0.0.1:$OIDC_PORT"
    node "$ROOT/tests/e2e/lib/oidc-issuer.mjs" "$OIDC_PORT" >"$RAW/oidc-issuer.log" 2>&1 &
    ISSUER_PID=$!
    until curl -fsS -o /dev/null "$OIDC_URL/.well-known/openid-configuration" 2>/dev/null; do
        kill -0 "$ISSUER_PID" 2>/dev/null || { cat "$RAW/oidc-issuer.log" >&2; die "the OIDC issuer exited at start-up"; }
        sleep 0.1
    done
    log "OIDC issuer on $OIDC_URL"
fi
for name in "${FLOWS[@]}"; do
    [[ -z "${F_PENDING[$name]}" ]] || continue
    for kv in ${F_ENV[$name]}; do SERVER_ENV+=("${kv//\{oidc_issuer\}/$OIDC_URL}"); done
done
# Each build runs from a private copy whose main assembly is renamed: on a shared machine other people's
# clean-up scripts kill processes by the name AuthServer.dll (seen twice mid-run), which would end ours.
stage_server() { # dll label → prints the staged dll
    local src dir
    src=$(cd "$(dirname "$1")" && pwd)
    dir="$WORK/server-$2"
    mkdir -p "$dir"
    cp -r "$src/." "$dir/"
    mv "$dir/AuthServer.dll" "$dir/benchsrv.dll"
    mv "$dir/AuthServer.runtimeconfig.json" "$dir/benchsrv.runtimeconfig.json"
    sed 's/"AuthServer\.dll"/"benchsrv.dll"/' "$dir/AuthServer.deps.json" >"$dir/benchsrv.deps.json"
    rm -f "$dir/AuthServer.deps.json" "$dir/AuthServer"
    echo "$dir/benchsrv.dll"
}
start_server() { # dll port log → sets STARTED_PID and STARTUP_MS
    local dll=$1 port=$2 logfile=$3 start_ns
    start_ns=$(date +%s%N)
    (
        cd "$WORK"
        while IFS= read -r name; do unset "$name"; done < <(compgen -e | grep -E '^(GOTRUE_|ASPNETCORE_URLS$|DATABASE_URL$|API_EXTERNAL_URL$|PORT$)' || true)
        exec env "${SERVER_ENV[@]}" PORT="$port" API_EXTERNAL_URL="http://127.0.0.1:$port" dotnet "$dll"
    ) >"$logfile" 2>&1 &
    STARTED_PID=$!
    until curl -fsS -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null; do
        kill -0 "$STARTED_PID" 2>/dev/null || { cat "$logfile" >&2; die "AuthServer ($dll) exited at start-up"; }
        (( $(date +%s%N) - start_ns < 60000000000 )) || die "AuthServer ($dll) not healthy after 60 s"
        sleep 0.05
    done
    STARTUP_MS=$(( ($(date +%s%N) - start_ns) / 1000000 ))
}
log "AuthServer on $API (pool $POOL, bcrypt cost $COST)"
A_DLL=$(stage_server "$DLL" a)
start_server "$A_DLL" "$API_PORT" "$RAW/server.log"
SERVER_PID=$STARTED_PID
log "server ready in ${STARTUP_MS} ms (migrations applied, first /health answered)"
R_PIDS=("$SERVER_PID") R_URLS=("$API")
# BENCH_REPLICAS: more processes of the same build on the same database, each with its own pool.
for i in $(seq 2 "$REPLICAS"); do
    port=$(pg_free_port "")
    start_server "$A_DLL" "$port" "$RAW/server-r$i.log"
    R_PIDS+=("$STARTED_PID") R_URLS+=("http://127.0.0.1:$port")
    log "replica $i on http://127.0.0.1:$port, ready in ${STARTUP_MS} ms"
done
if ((REPLICAS > 1)); then
    VARIANT_DESC+="$REPLICAS server processes (replicas) on the one PostgreSQL, pool $POOL each; one wrk per replica with its share of the connections and of the wrk threads, started together (wrk's Lua sends to one host, and a round-robin proxy would be a bottleneck of its own); rps summed; server CPU = all replicas' ÷ all requests (each replica's own CPU ÷ its own requests in the flow@rN rows); p50/p90/p99 the slowest replica's; RSS summed."
fi
# A/B mode: a second build of the server (BENCH_B_DLL) on the same database, measured right after A in
# every flow, concurrency and repetition, so a change is compared with its baseline under the same load.
B_PID="" B_API=""
if [[ -n "${BENCH_B_DLL:-}" ]]; then
    B_PORT=$(pg_free_port "")
    B_API="http://127.0.0.1:$B_PORT"
    start_server "$(stage_server "$BENCH_B_DLL" b)" "$B_PORT" "$RAW/server-b.log"
    B_PID=$STARTED_PID
    log "server B (${BENCH_B_LABEL:-B}) on $B_API, ready in ${STARTUP_MS} ms"
fi

# --- seed ----------------------------------------------------------------------------------------------
log "seeding $USERS users, sessions and refresh tokens"
HASH=$(tools hash "$COST" bench-password-1)
psql -qAt -v users="$USERS" -v hash="$HASH" -f "$HERE/seed.sql" >/dev/null
ACCESS="$WORK/access.txt"
tools mint "$SECRET" 1 "$((USERS < 2000 ? USERS : 2000))" 86400 >"$ACCESS"
REFRESH="$WORK/refresh.txt"
refresh_tokens() { # the live token of every flow-owned session (1..users/2), fresh before each run
    psql -qAt -c "select distinct on (rt.session_id) rt.token from generate_series(1, $((USERS / 2))) n
                  join auth.refresh_tokens rt on rt.session_id = md5('s' || n)::uuid and not rt.revoked
                  order by rt.session_id, rt.id desc" | shuf >"$REFRESH"
}

LINES="$WORK/lines.txt"
: >"$LINES"
if [[ -n "$NEED_OTP" ]]; then
    log "seeding $OTP_USERS OTP users"
    psql -qAt -v otp_users="$OTP_USERS" -f "$HERE/seed-otp.sql" >/dev/null
fi
ID_TOKENS_FILE="$WORK/id-tokens.txt"
if [[ -n "$NEED_OIDC" ]]; then
    log "minting $ID_TOKENS ID tokens at the local issuer"
    # Valid for the whole run (a full run takes about half an hour).
    node "$HERE/oidc-mint.mjs" "$OIDC_URL" "$ID_TOKENS" 7200 >"$ID_TOKENS_FILE"
fi
# prepare_lines <flow>: fresh single-use values in $LINES before each wrk run of a flow that uses {line}.
prepare_lines() {
    case ${F_LINES[$1]} in
        otp_codes) # a new code for every OTP user; wrk sends each address once
            psql -qAt -v otp_users="$OTP_USERS" -f "$HERE/otp-codes.sql" >/dev/null
            seq 1 "$OTP_USERS" | sed 's/^/otp/; s/$/@bench.local/' | shuf >"$LINES" ;;
        id_tokens) # the server takes each token once: forget the ones used so far
            psql -qAt -c "truncate authserver.used_id_tokens" >/dev/null
            shuf "$ID_TOKENS_FILE" >"$LINES" ;;
        *) : ;;
    esac
}

FLOOR_PORT=$(pg_free_port "")
FLOOR_URL="http://127.0.0.1:$FLOOR_PORT"
FLOOR_PG="Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=authbench;Maximum Pool Size=$POOL;Max Auto Prepare=$MAX_AUTO_PREPARE;Timezone=UTC"
FLOOR_PG=$FLOOR_PG FLOOR_JWT_SECRET=$SECRET dotnet "$BUILD/FloorHttp/FloorHttp.dll" --urls "$FLOOR_URL" >"$RAW/floorhttp.log" 2>&1 &
FLOOR_PID=$!
until curl -fsS -o /dev/null "$FLOOR_URL/plaintext" 2>/dev/null; do
    kill -0 "$FLOOR_PID" 2>/dev/null || { cat "$RAW/floorhttp.log" >&2; die "FloorHttp exited at start-up"; }
    sleep 0.1
done

# --- measurement primitives ----------------------------------------------------------------------------
TCK=$(getconf CLK_TCK)
proc_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_ticks() { # the cluster: postmaster (with its reaped children) + live backends
    local t p
    t=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$PG_MASTER/stat")
    for p in $(pgrep -P "$PG_MASTER"); do t=$((t + $(proc_ticks "$p"))); done
    echo "$t"
}
status_kb() { grep -oP "^$2:\s+\K\d+" "/proc/$1/status" 2>/dev/null || echo 0; }

# Variant runs also record the WAL PostgreSQL writes per request (for the paper model in RESULTS.md §9): exact from
# the WAL position, read outside the CPU windows. A plain run does not query it.
wal_pos() { if [[ -n "$VARIANT" ]]; then psql -qAt -c "select pg_current_wal_lsn() - '0/0'"; else echo 0; fi; }
pooler_ticks() { if [[ -n "$PGBOUNCER_PID" ]]; then proc_ticks "$PGBOUNCER_PID"; else echo 0; fi; }

# wrk_exec <url> <conns> <threads> <seconds> <refresh file> <lines file> <request specs…>: runs wrk (lua/flow.lua).
wrk_exec() {
    local url=$1 conns=$2 threads=$3 secs=$4 refresh=$5 lines=$6 i=0 spec; shift 6
    local -a env=(BENCH_THREADS="$threads" BENCH_USERS="$USERS" BENCH_ACCESS="$ACCESS" BENCH_REFRESH="$refresh"
        BENCH_RUNID="$(date +%s%N)" BENCH_REQS=$# BENCH_LINES="$lines")
    for spec in "$@"; do i=$((i + 1)); env+=("BENCH_REQ_$i=$spec"); done
    env "${env[@]}" wrk -t"$threads" -c"$conns" -d"${secs}s" --timeout 30s --latency -s "$HERE/lua/flow.lua" "$url"
}
# per_request <BENCH_JSON> <server ticks> <PostgreSQL ticks> <pooler ticks> <server pid> <WAL bytes>: the result
# object with rps, CPU µs per request (server, PostgreSQL, the pooler when there is one), the server's RSS and,
# in a variant run, WAL bytes per request.
per_request() {
    jq -c --argjson sc "$2" --argjson pc "$3" --argjson bc "$4" --arg pooler "$POOLER" --argjson tck "$TCK" \
        --argjson rss "$(status_kb "$5" VmRSS)" --argjson hwm "$(status_kb "$5" VmHWM)" --argjson wal "$6" --arg variant "$VARIANT" '
        (.duration_us / 1e6) as $s | (.requests | if . == 0 then 1 else . end) as $n |
        . + {rps: (.requests / $s), server_us: ($sc * 1e6 / $tck / $n), pg_us: ($pc * 1e6 / $tck / $n),
             rss_mb: ($rss / 1024), hwm_mb: ($hwm / 1024)}
          + (if $pooler == "" then {} else {pooler_us: ($bc * 1e6 / $tck / $n)} end)
          + (if $variant == "" then {} else {wal_bytes: ($wal / $n)} end) | del(.duration_us)' <<<"$1"
}

# wrk_run <pid> <url> <conns> <seconds> <raw file> <request specs…>: prints the BENCH_JSON object with rps,
# CPU µs per request (server pid, postgres) and RSS added.
wrk_run() {
    local pid=$1 url=$2 conns=$3 secs=$4 raw=$5; shift 5
    local threads=$((conns < WRK_THREADS ? conns : WRK_THREADS))
    local c0 p0 b0 w0 c1 p1 b1 w1 out j
    w0=$(wal_pos)
    c0=$(proc_ticks "$pid"); p0=$(pg_ticks); b0=$(pooler_ticks)
    out=$(wrk_exec "$url" "$conns" "$threads" "$secs" "$REFRESH" "$LINES" "$@")
    c1=$(proc_ticks "$pid"); p1=$(pg_ticks); b1=$(pooler_ticks)
    w1=$(wal_pos)
    [[ -n "$raw" ]] && printf '%s\n' "$out" >"$raw"
    j=$(grep -oP '^BENCH_JSON \K.*' <<<"$out") || die "no result from wrk ($raw): $out"
    per_request "$j" $((c1 - c0)) $((p1 - p0)) $((b1 - b0)) "$pid" $((w1 - w0))
}

# wrk_replicas <conns> <seconds> <raw file> <request specs…>: the same load spread over the replicas: one wrk per
# replica with its share of the connections and of the wrk threads, all started together (wrk's Lua sends to one
# host; a round-robin proxy in between would be a bottleneck of its own). Refresh tokens and {line} values are
# dealt out too, so that no single-use value goes to two replicas. Prints the aggregate (rps summed, every
# replica's CPU ÷ all requests, the slowest replica's percentiles, RSS summed) with each replica's own result
# (its CPU ÷ its requests) in .replicas.
wrk_replicas() {
    local conns=$1 secs=$2 raw=$3; shift 3
    local n=${#R_PIDS[@]} threads=$((WRK_THREADS / ${#R_PIDS[@]} > 0 ? WRK_THREADS / ${#R_PIDS[@]} : 1))
    local i c f p0 p1 b0 b1 w0 w1 sc=0 j tag="$WORK/wrk-$BASHPID" # per call: a storm runs beside the measurement
    local -a c0=() wrk_pids=() share=() results=()
    for i in "${!R_PIDS[@]}"; do
        share[i]=$((conns / n + (i < conns % n ? 1 : 0)))
        for f in refresh lines; do
            local src=$REFRESH; [[ $f == lines ]] && src=$LINES
            if [[ -s "$src" ]]; then awk -v n="$n" -v i="$i" '(NR - 1) % n == i' "$src" >"$tag-$f.r$i"; else : >"$tag-$f.r$i"; fi
        done
    done
    w0=$(wal_pos)
    for i in "${!R_PIDS[@]}"; do c0[i]=$(proc_ticks "${R_PIDS[i]}"); done
    p0=$(pg_ticks); b0=$(pooler_ticks)
    for i in "${!R_PIDS[@]}"; do
        c=${share[i]}
        ((c > 0)) || continue # fewer connections than replicas
        wrk_exec "${R_URLS[i]}" "$c" "$((c < threads ? c : threads))" "$secs" "$tag-refresh.r$i" "$tag-lines.r$i" "$@" >"$tag.r$i.out" &
        wrk_pids+=($!)
    done
    wait "${wrk_pids[@]}"
    p1=$(pg_ticks); b1=$(pooler_ticks)
    local -a c1=()
    for i in "${!R_PIDS[@]}"; do c1[i]=$(proc_ticks "${R_PIDS[i]}"); done
    w1=$(wal_pos)
    [[ -z "$raw" ]] || : >"$raw"
    for i in "${!R_PIDS[@]}"; do
        ((share[i] > 0)) || continue
        c=$((c1[i] - c0[i]))
        sc=$((sc + c))
        [[ -z "$raw" ]] || { echo "### replica $((i + 1)), ${share[i]} connections"; cat "$tag.r$i.out"; } >>"$raw"
        j=$(grep -oP '^BENCH_JSON \K.*' "$tag.r$i.out") || die "no result from wrk (replica $((i + 1))): $(cat "$tag.r$i.out")"
        results+=("$(per_request "$j" "$c" 0 0 "${R_PIDS[i]}" 0 | jq -c --argjson r $((i + 1)) --argjson c "${share[i]}" \
            '. + {replica: $r, conns: $c, pg_us: null} | del(.pooler_us, .wal_bytes)')")
    done
    rm -f "$tag"*
    printf '%s\n' "${results[@]}" | jq -s -c --argjson sc "$sc" --argjson pc $((p1 - p0)) --argjson bc $((b1 - b0)) \
        --arg pooler "$POOLER" --argjson tck "$TCK" --argjson wal $((w1 - w0)) '
        (map(.requests) | add) as $total | ([$total, 1] | max) as $n |
        {requests: $total, rps: (map(.rps) | add), p50: (map(.p50) | max), p90: (map(.p90) | max), p99: (map(.p99) | max),
         max: (map(.max) | max), socket_errors: (map(.socket_errors) | add),
         statuses: ([.[].statuses | to_entries[]] | group_by(.key) | map({key: .[0].key, value: (map(.value) | add)}) | from_entries),
         server_us: ($sc * 1e6 / $tck / $n), pg_us: ($pc * 1e6 / $tck / $n),
         rss_mb: (map(.rss_mb) | add), hwm_mb: (map(.hwm_mb) | add), wal_bytes: ($wal / $n), replicas: .}
        + (if $pooler == "" then {} else {pooler_us: ($bc * 1e6 / $tck / $n)} end)'
}
uses_refresh() { grep -q '{refresh}' <<<"$*"; }

measure_flow() { # name conns rep [B]
    local name=$1 conns=$2 rep=$3 variant=${4:-} specs=() pid=$SERVER_PID url=$API label=$1 p
    if [[ -n "$variant" ]]; then pid=$B_PID url=$B_API label="$name@B"; fi
    local run=(wrk_run "$pid" "$url") # the load: one wrk on one server, or one per replica
    ((REPLICAS == 1)) || run=(wrk_replicas)
    while IFS= read -r s; do [[ -n "$s" ]] && specs+=("$s"); done <<<"${F_REQS[$name]}"
    uses_refresh "${specs[@]}" && refresh_tokens
    prepare_lines "$name"
    "${run[@]}" "$conns" "$WARMUP" "" "${specs[@]}" >/dev/null
    uses_refresh "${specs[@]}" && refresh_tokens
    prepare_lines "$name"
    for p in "$pid" "${R_PIDS[@]:1}"; do echo 5 >"/proc/$p/clear_refs" 2>/dev/null || true; done # VmHWM from here on
    local r storm_pid=""
    if [[ -n "${F_STORM[$name]}" ]]; then
        # A second wrk, in the background for the whole measurement: e.g. a sign-in storm under GET /user.
        local storm_flow=${F_STORM[$name]%% *} storm_conns=${F_STORM[$name]##* } sspecs=()
        while IFS= read -r s; do [[ -n "$s" ]] && sspecs+=("$s"); done <<<"${F_REQS[$storm_flow]}"
        ("${run[@]}" "$storm_conns" "$((DURATION + 2))" "$RAW/storm-$label-c$conns-r$rep.txt" "${sspecs[@]}" >/dev/null) &
        storm_pid=$!
        sleep 1
    fi
    r=$("${run[@]}" "$conns" "$DURATION" "$RAW/flow-$label-c$conns-r$rep.txt" "${specs[@]}")
    [[ -z "$storm_pid" ]] || wait "$storm_pid" || true
    # One record for the flow; with replicas, one more per replica as flow@rN (its own share and CPU).
    jq -c --arg name "$label" --argjson conns "$conns" --argjson rep "$rep" '{kind: "flow", name: $name, conns: $conns, rep: $rep} as $h |
        ($h + del(.replicas)), (.replicas // [] | .[] | $h + {name: "\($name)@r\(.replica)", replica_conns: .conns} + del(.conns, .replica))' <<<"$r" >>"$JSONL"
    log "  $label c=$conns rep $rep: $(jq -r '"\(.rps | floor) rps, p50 \(.p50) ms, p99 \(.p99) ms, server \(.server_us | floor) µs/req, pg \(.pg_us | floor) µs/req" +
        (if .pooler_us then ", pgbouncer \(.pooler_us | floor) µs/req" else "" end) +
        (if .wal_bytes then ", WAL \(.wal_bytes | floor) B/req" else "" end) + ", statuses \(.statuses)" +
        (if .replicas then " — " + ([.replicas[] | "replica \(.replica): \(.rps | floor) rps, server \(.server_us | floor) µs/req"] | join("; ")) else "" end)' <<<"$r")"
}

measure_floor() { # key conns phase
    local key=$1 conns=$2 phase=$3 r
    case $key in
        http_getuser)
            wrk_run "$FLOOR_PID" "$FLOOR_URL" "$conns" "$WARMUP" "" "1|GET|/db/getuser|access|" >/dev/null
            r=$(wrk_run "$FLOOR_PID" "$FLOOR_URL" "$conns" "$FLOOR_DURATION" "$RAW/floor-$key-c$conns-$phase.txt" "1|GET|/db/getuser|access|")
            ;;
        pg_*)
            local script="$HERE/pgbench/${key#pg_}.sql" clients=$((conns < POOL ? conns : POOL)) p0 p1 out tx
            [[ -f "$script" ]] || die "floor $key: no $script"
            local jobs=$((clients < CORES ? clients : CORES))
            p0=$(pg_ticks)
            out=$(pgbench -n -T "$FLOOR_DURATION" -c "$clients" -j "$jobs" -D users="$USERS" -f "$script" 2>&1) \
                || die "pgbench $key failed: $out"
            sleep 0.3 # let the postmaster reap pgbench's backends, so their CPU time is counted
            p1=$(pg_ticks)
            printf '%s\n' "$out" >"$RAW/floor-$key-c$conns-$phase.txt"
            tx=$(grep -oP 'number of transactions actually processed: \K\d+' <<<"$out")
            r=$(jq -c -n --argjson tps "$(grep -oP 'tps = \K[0-9.]+' <<<"$out" | head -1)" \
                --argjson lat "$(grep -oP 'latency average = \K[0-9.]+' <<<"$out" | head -1)" \
                --argjson pc $((p1 - p0)) --argjson tck "$TCK" --argjson tx "${tx:-1}" \
                '{rps: $tps, p50: $lat, pg_us: ($pc * 1e6 / $tck / ([$tx, 1] | max))}')
            ;;
        *) die "unknown floor $key" ;;
    esac
    jq -c --arg name "$key" --argjson conns "$conns" --arg phase "$phase" '{kind: "floor", name: $name, conns: $conns, phase: $phase} + .' <<<"$r" >>"$JSONL"
    log "  floor $key c=$conns ($phase): $(jq -r '.rps | floor' <<<"$r")/s"
}

measure_floors() { # phase
    local phase=$1 key conns
    log "floors ($phase)"
    if [[ " ${FLOORS[*]:-} " == *" bcrypt_"* ]]; then
        local b
        b=$(tools bcrypt "$COST" "$CORES" "$FLOOR_DURATION")
        printf '%s\n' "$b" >"$RAW/floor-bcrypt-$phase.txt"
        jq -c --arg phase "$phase" '{kind: "floor", name: "bcrypt_hash", conns: 0, phase: $phase, rps: .hash_per_s, server_us: .hash_cpu_us}' <<<"$b" >>"$JSONL"
        jq -c --arg phase "$phase" '{kind: "floor", name: "bcrypt_verify", conns: 0, phase: $phase, rps: .verify_per_s, server_us: .verify_cpu_us}' <<<"$b" >>"$JSONL"
        if jq -e '.verify_native_per_s' <<<"$b" >/dev/null; then
            jq -c --arg phase "$phase" '{kind: "floor", name: "bcrypt_hash_native", conns: 0, phase: $phase, rps: .hash_native_per_s, server_us: .hash_native_cpu_us}' <<<"$b" >>"$JSONL"
            jq -c --arg phase "$phase" '{kind: "floor", name: "bcrypt_verify_native", conns: 0, phase: $phase, rps: .verify_native_per_s, server_us: .verify_native_cpu_us}' <<<"$b" >>"$JSONL"
        fi
        if [[ -n "$GO_FLOOR" ]]; then
            local g
            g=$("$GO_FLOOR" "$COST" "$CORES" "$FLOOR_DURATION")
            printf '%s\n' "$g" >"$RAW/floor-bcrypt-go-$phase.txt"
            jq -c --arg phase "$phase" '{kind: "floor", name: "bcrypt_hash_go", conns: 0, phase: $phase, rps: .hash_per_s, server_us: .hash_cpu_us}' <<<"$g" >>"$JSONL"
            jq -c --arg phase "$phase" '{kind: "floor", name: "bcrypt_verify_go", conns: 0, phase: $phase, rps: .verify_per_s, server_us: .verify_cpu_us}' <<<"$g" >>"$JSONL"
            log "  floor bcrypt Go x/crypto ($phase): $(jq -r '"hash \(.hash_per_s)/s, verify \(.verify_per_s)/s"' <<<"$g")"
        fi
        log "  floor bcrypt ($phase): $(jq -r '"managed hash \(.hash_per_s)/s, verify \(.verify_per_s)/s; libxcrypt hash \(.hash_native_per_s // "-")/s, verify \(.verify_native_per_s // "-")/s"' <<<"$b")"
    fi
    for key in "${FLOORS[@]:-}"; do
        [[ -z "$key" || "$key" == bcrypt_* ]] && continue
        for conns in $CONNS; do measure_floor "$key" "$conns" "$phase"; done
    done
}

# --- the run -------------------------------------------------------------------------------------------
IDLE=$(wait_quiet)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
GIT_SHA=$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src 2>/dev/null || echo "+dirty")
record --arg date "$(date -u '+%Y-%m-%d %H:%M UTC')" --arg mode "$([[ -n "$QUICK" ]] && echo "quick (--quick)" || echo full)" \
    --arg sha "$GIT_SHA" --arg dotnet "$(dotnet --version) (SDK)" \
    --arg pg "$(psql -qAt -c 'show server_version')" --arg cpu "$CORES × $(grep -m1 -oP 'model name\s+:\s+\K.*' /proc/cpuinfo)" \
    --arg wrk "$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)" \
    --arg settings "pool $POOL, Max Auto Prepare $MAX_AUTO_PREPARE, bcrypt cost $COST, HS256, fsync on, logging default (info)" \
    --arg load "wrk -t$WRK_THREADS (-t1 at 1 conn), warm-up ${WARMUP}s, ${DURATION}s × $REPS reps per flow and conns; floors ${FLOOR_DURATION}s before and after" \
    --arg ab "${BENCH_B_DLL:+A = ${BENCH_A_LABEL:-$DLL}, B = ${BENCH_B_LABEL:-$BENCH_B_DLL}}" \
    --arg variant "${VARIANT_DESC% }" \
    --arg users "$USERS" --arg startup "$STARTUP_MS ms to the first healthy /health (migrations included)" \
    --arg quiet "idle ${IDLE}% before the run (waited ≤ ${IDLE_WAIT}s for ≥ 85%); loadavg $LOAD_START" \
    '{kind: "meta", date: $date, mode: $mode, "git SHA": $sha, ".NET": $dotnet, PostgreSQL: $pg, CPU: $cpu, wrk: $wrk,
      settings: $settings, load: $load, "A/B": $ab, variant: $variant, "seeded users": $users, "start-up": $startup, machine: $quiet}'
for name in "${ALL_FLOWS[@]}"; do
    [[ " ${FLOWS[*]} " == *" $name "* ]] || continue
    record --arg name "$name" --arg desc "${F_DESC[$name]}" --arg floor "${F_FLOOR[$name]}" --argjson target "${F_TARGET[$name]}" \
        --arg also "${F_ALSO[$name]}" --arg pending "${F_PENDING[$name]}" --arg mix "${F_MIX[$name]}" \
        '{kind: "flowdef", name: $name, desc: $desc, floor: $floor, target: $target, also: $also, pending: $pending, mix: $mix}'
    if [[ -n "$B_PID" && -z "${F_PENDING[$name]}" ]]; then
        bmix=""
        for part in ${F_MIX[$name]}; do bmix+="${part%%:*}@B:${part##*:} "; done
        record --arg name "$name@B" --arg desc "${F_DESC[$name]} — server B (${BENCH_B_LABEL:-B})" --arg floor "${F_FLOOR[$name]}" \
            --argjson target "${F_TARGET[$name]}" --arg also "${F_ALSO[$name]}" --arg mix "$bmix" \
            '{kind: "flowdef", name: $name, desc: $desc, floor: $floor, target: $target, also: $also, pending: "", mix: $mix}'
    fi
    if ((REPLICAS > 1)) && [[ -z "${F_PENDING[$name]}" ]]; then
        for i in $(seq 1 "$REPLICAS"); do
            record --arg name "$name@r$i" --arg desc "${F_DESC[$name]} — replica $i's share: its own wrk, its own CPU per request of its own requests (PostgreSQL's is in the flow's row); conns = the whole run's" \
                '{kind: "flowdef", name: $name, desc: $desc, floor: "", target: 0, also: "", pending: "", mix: ""}'
        done
    fi
done
IDLE_RSS_KB=$(status_kb "$SERVER_PID" VmRSS)

# JIT and pools: one warm-up of each HTTP target before anything is measured.
log "warming up"
wrk_run "$FLOOR_PID" "$FLOOR_URL" 64 "$((WARMUP * 2))" "" "1|GET|/db/getuser|access|" >/dev/null
for i in "${!R_PIDS[@]}"; do wrk_run "${R_PIDS[i]}" "${R_URLS[i]}" 64 "$((WARMUP * 2))" "" "1|GET|/user|access|" >/dev/null; done
[[ -z "$B_PID" ]] || wrk_run "$B_PID" "$B_API" 64 "$((WARMUP * 2))" "" "1|GET|/user|access|" >/dev/null

measure_floors before
for rep in $(seq 1 "$REPS"); do
    log "flows, repetition $rep/$REPS"
    for name in "${FLOWS[@]}"; do
        [[ -z "${F_PENDING[$name]}" ]] || continue
        for conns in ${F_CONNS[$name]}; do
            if [[ -z "$B_PID" ]]; then
                measure_flow "$name" "$conns" "$rep"
            elif ((rep % 2)); then # alternate which server goes first
                measure_flow "$name" "$conns" "$rep"; measure_flow "$name" "$conns" "$rep" B
            else
                measure_flow "$name" "$conns" "$rep" B; measure_flow "$name" "$conns" "$rep"
            fi
        done
    done
done
measure_floors after

record --arg idle "$(( IDLE_RSS_KB / 1024 )) MB after start-up and seeding; peak per flow in the tables" \
    --arg after "loadavg $(cut -d' ' -f1-3 /proc/loadavg) after the run" '{kind: "meta", "server RSS": $idle, "machine after": $after}'
rows=$(psql -qAt -c "select string_agg(relname || ' ' || n_live_tup, ', ' order by relname) from pg_stat_user_tables where schemaname = 'auth' and n_live_tup > 0")
record --arg rows "$rows" '{kind: "meta", "auth rows after": $rows}'

tools report "$JSONL" "$RESULTS/$STAMP.md" "$RESULTS/$STAMP.json"
cp "$RAW/server.log" "$RAW/server.log.tmp" && tail -n 200 "$RAW/server.log.tmp" >"$RAW/server.log" && rm -f "$RAW/server.log.tmp"
log "report: bench/results/$STAMP.md"
cat "$RESULTS/$STAMP.summary.md"
grep -q 'Run INVALID' "$RESULTS/$STAMP.md" && log "the run is INVALID (floors drifted > 15 %): see the report"
exit 0
