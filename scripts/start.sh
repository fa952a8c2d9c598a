#!/usr/bin/env bash
# Run AuthServer locally, like `supabase start` for the auth part.
#
#   scripts/start.sh
#
# Builds (Release) into .local/out, and unless DATABASE_URL / GOTRUE_DB_DATABASE_URL is set, runs a
# PostgreSQL cluster kept in .local/pg (port 54329 unless taken). A JWT secret is generated once into
# .local/jwt-secret unless GOTRUE_JWT_SECRET is set. Every GoTrue env var you set yourself wins over
# the defaults below. Unless GOTRUE_SMTP_HOST is set, a local mail catcher with a web inbox
# (scripts/lib/mailcatcher.mjs, needs node) receives every email: SMTP on 54325, inbox on
# http://localhost:54324 (next free ports if taken), and mailer autoconfirm defaults to off so sign-up
# confirmations land there. Prints the API URL, DB URL, JWT secret, the anon / service_role keys, the
# inbox URL and the admin console's URL, then runs the server in the foreground: Ctrl-C (or SIGTERM) stops it, the mail catcher and
# the PostgreSQL this script started (never one it found already running).
#
# Options (env): AUTHSERVER_DLL=path/AuthServer.dll skips the build and runs that dll.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR/lib

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCAL="$ROOT/.local"
source "$ROOT/scripts/lib/postgres.sh"
source "$ROOT/scripts/lib/keys.sh"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

if ! command -v dotnet >/dev/null 2>&1; then
    echo "dotnet not found: install the .NET 10 SDK (apt-get install dotnet-sdk-10.0, or see global.json for the exact SDK band)" >&2
    exit 1
fi

mkdir -p "$LOCAL"

PORT=${GOTRUE_API_PORT:-${PORT:-9999}}
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    echo "Port $PORT is already in use: stop what listens there or choose another with PORT=..." >&2
    exit 1
fi

# 1. Build.
if [[ -n "${AUTHSERVER_DLL:-}" ]]; then
    DLL=$AUTHSERVER_DLL
    [[ -f "$DLL" ]] || { echo "AUTHSERVER_DLL=$DLL does not exist" >&2; exit 1; }
else
    echo "==> Building AuthServer (Release) into .local/out"
    # ReadyToRun: precompiled, a third less CPU to start (bench/RESULTS.md §7); still run as `dotnet AuthServer.dll`.
    dotnet publish "$ROOT/src/AuthServer/AuthServer.csproj" -c Release -p:PublishReadyToRun=true -o "$LOCAL/out" --nologo -v quiet
    DLL="$LOCAL/out/AuthServer.dll"
fi

# 2. Database.
PG_DATA="$LOCAL/pg/data"
STARTED_PG=""
SERVER_PID=""
CATCHER_PID=""
# shellcheck disable=SC2317 # runs from a trap
cleanup() {
    # Nothing may cut the clean-up short: a second Ctrl-C, a TERM, or a closed output pipe.
    trap "" INT TERM PIPE
    set +e
    trap - EXIT
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "==> Stopping AuthServer"
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ -n "$CATCHER_PID" ]] && kill -0 "$CATCHER_PID" 2>/dev/null; then
        echo "==> Stopping the mail catcher"
        kill -TERM "$CATCHER_PID" 2>/dev/null || true
        wait "$CATCHER_PID" 2>/dev/null || true
    fi
    if [[ -n "$STARTED_PG" ]]; then
        echo "==> Stopping PostgreSQL (.local/pg)"
        pg_stop "$PG_DATA"
    fi
}
trap cleanup EXIT
trap '' PIPE # a closed output pipe: writes fail, set -e exits, and cleanup still runs
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ -z "${DATABASE_URL:-}" && -z "${GOTRUE_DB_DATABASE_URL:-}" ]]; then
    if pg_port=$(pg_running_port "$PG_DATA"); then
        echo "==> PostgreSQL in .local/pg already running on port $pg_port (left running on exit)"
    else
        pg_port=$(pg_free_port 54329)
        echo "==> Starting PostgreSQL in .local/pg on 127.0.0.1:$pg_port"
        STARTED_PG=1
        pg_start "$PG_DATA" "$pg_port"
    fi
    export DATABASE_URL
    DATABASE_URL=$(pg_url "$pg_port")
fi
DB_URL=${GOTRUE_DB_DATABASE_URL:-$DATABASE_URL}

# 3. Configuration: defaults for whatever is not set already.
if [[ -z "${GOTRUE_JWT_SECRET:-}" ]]; then
    if [[ ! -s "$LOCAL/jwt-secret" ]]; then
        (umask 077 && new_jwt_secret >"$LOCAL/jwt-secret")
    fi
    GOTRUE_JWT_SECRET=$(<"$LOCAL/jwt-secret")
fi
export GOTRUE_JWT_SECRET PORT
: "${API_EXTERNAL_URL:=${GOTRUE_API_API_EXTERNAL_URL:-http://localhost:$PORT}}"
: "${GOTRUE_SITE_URL:=http://localhost:3000}"
: "${GOTRUE_DB_DRIVER:=postgres}"
: "${GOTRUE_JWT_AUD:=authenticated}"
: "${GOTRUE_JWT_DEFAULT_GROUP_NAME:=authenticated}"
INBOX_URL=""
if [[ -z "${GOTRUE_SMTP_HOST:-}" ]]; then
    if command -v node >/dev/null 2>&1; then
        smtp_port=$(pg_free_port 54325)
        inbox_port=$(pg_free_port 54324)
        echo "==> Starting the mail catcher (SMTP 127.0.0.1:$smtp_port, inbox http://localhost:$inbox_port)"
        node "$ROOT/scripts/lib/mailcatcher.mjs" --smtp-port "$smtp_port" --http-port "$inbox_port" >"$LOCAL/mailcatcher.log" 2>&1 &
        CATCHER_PID=$!
        GOTRUE_SMTP_HOST=127.0.0.1
        GOTRUE_SMTP_PORT=$smtp_port
        : "${GOTRUE_SMTP_ADMIN_EMAIL:=admin@localhost}"
        : "${GOTRUE_SMTP_SENDER_NAME:=AuthServer}"
        export GOTRUE_SMTP_HOST GOTRUE_SMTP_PORT GOTRUE_SMTP_ADMIN_EMAIL GOTRUE_SMTP_SENDER_NAME
        INBOX_URL="http://localhost:$inbox_port"
    else
        echo "warning: node not found, so no local inbox: emails are dropped" >&2
    fi
fi
# Like `supabase start` (enable_confirmations = false): sign-ups are confirmed at once; magic links,
# recovery and email-change mails still go to the local inbox. GOTRUE_MAILER_AUTOCONFIRM=false to try
# the confirmation flow.
: "${GOTRUE_MAILER_AUTOCONFIRM:=true}"
# Human-readable log lines in a terminal (ours; the published server keeps GoTrue's JSON lines).
: "${GOTRUE_LOG_FORMAT:=text}"
# Off by default in the server (review L-2), on here so a developer sees them: /openapi.json on the API
# port, and Prometheus /metrics on a listener of its own (next free port from 9100; docs/observability.md).
: "${GOTRUE_OPENAPI_ENABLED:=true}"
: "${GOTRUE_METRICS_ENABLED:=true}"
# The admin console (docs/console.md), off by default in the server; sign in there with the service_role key.
: "${GOTRUE_ADMIN_CONSOLE_ENABLED:=true}"
CONSOLE_URL=""
if [[ "$GOTRUE_ADMIN_CONSOLE_ENABLED" == "true" ]]; then CONSOLE_URL="http://localhost:$PORT/admin/console"; fi
METRICS_URL=""
if [[ "$GOTRUE_METRICS_ENABLED" == "true" ]]; then
    : "${GOTRUE_METRICS_PROMETHEUS_LISTEN_PORT:=$(pg_free_port 9100)}"
    export GOTRUE_METRICS_PROMETHEUS_LISTEN_PORT
    METRICS_URL="http://localhost:$GOTRUE_METRICS_PROMETHEUS_LISTEN_PORT/metrics"
fi
export API_EXTERNAL_URL GOTRUE_SITE_URL GOTRUE_DB_DRIVER GOTRUE_JWT_AUD GOTRUE_JWT_DEFAULT_GROUP_NAME \
    GOTRUE_MAILER_AUTOCONFIRM GOTRUE_OPENAPI_ENABLED GOTRUE_METRICS_ENABLED GOTRUE_LOG_FORMAT GOTRUE_ADMIN_CONSOLE_ENABLED

ANON_KEY=$(mint_api_key anon "$GOTRUE_JWT_SECRET")
SERVICE_ROLE_KEY=$(mint_api_key service_role "$GOTRUE_JWT_SECRET")

# 4. Run: in the background so this shell can stop it (and PostgreSQL) on Ctrl-C / SIGTERM.
echo "==> Starting AuthServer on port $PORT"
dotnet "$DLL" &
SERVER_PID=$!

health_url="http://127.0.0.1:$PORT/health"
healthy=""
for _ in $(seq 1 120); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        break
    fi
    if command -v curl >/dev/null 2>&1; then
        curl -fsS -o /dev/null --max-time 2 "$health_url" 2>/dev/null && { healthy=1; break; }
    elif (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        healthy=1
        break
    fi
    sleep 0.5
done
if [[ -z "$healthy" ]]; then
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        set +e
        wait "$SERVER_PID"
        code=$?
        set -e
        SERVER_PID=""
        echo "AuthServer exited with code $code before answering $health_url" >&2
        exit "$code"
    fi
    echo "warning: $health_url did not answer within 60 s; the server keeps running" >&2
fi

cat <<EOF

AuthServer is running.

         API URL: http://localhost:$PORT
          DB URL: $DB_URL
      JWT secret: $GOTRUE_JWT_SECRET
        anon key: $ANON_KEY
service_role key: $SERVICE_ROLE_KEY
           inbox: ${INBOX_URL:-"(GOTRUE_SMTP_HOST=${GOTRUE_SMTP_HOST:-none})"}
         metrics: ${METRICS_URL:-"(GOTRUE_METRICS_ENABLED=$GOTRUE_METRICS_ENABLED)"}
   admin console: ${CONSOLE_URL:-"(GOTRUE_ADMIN_CONSOLE_ENABLED=$GOTRUE_ADMIN_CONSOLE_ENABLED)"}

  createClient('http://localhost:$PORT', '<anon key>')  — routes answer at / and under /auth/v1.
  Ctrl-C to stop.

EOF

set +e
wait "$SERVER_PID"
code=$?
set -e
SERVER_PID=""
exit "$code"
