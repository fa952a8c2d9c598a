#!/usr/bin/env bash
# End-to-end tests: the real @supabase/supabase-js against a freshly started AuthServer.
#
#   tests/e2e/run.sh                 # publishes the server (Release) first
#   AUTHSERVER_DLL=path/AuthServer.dll tests/e2e/run.sh   # uses an already published server
#   tests/e2e/run.sh signout.test.mjs                       # only some test files
#
# Self-contained: npm ci if node_modules is missing, a throwaway PostgreSQL on a free port in a temp
# dir, the server on another free port (bcrypt cost 4, mailer autoconfirm on), `node --test`, and
# everything torn down on exit. Exit code = the test run's. KEEP_E2E_TMP=1 keeps the temp dir.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR/../../scripts/lib

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$ROOT/scripts/lib/postgres.sh"
source "$ROOT/scripts/lib/keys.sh"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log() { echo "[e2e] $*"; }

for tool in node npm; do
    command -v "$tool" >/dev/null 2>&1 || { echo "[e2e] $tool not found: install Node.js 20 or later (apt-get install nodejs npm)" >&2; exit 1; }
done
pg_require_binaries

if [[ ! -d "$HERE/node_modules/@supabase/supabase-js" ]]; then
    log "npm ci"
    (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/authserver-e2e.XXXXXX")
chmod 755 "$WORK"
SERVER_PID=""
PG_DATA="$WORK/pg/data"
# shellcheck disable=SC2317 # runs from a trap
cleanup() {
    local code=$?
    # Nothing may cut the clean-up short: a second Ctrl-C, a TERM, or a closed output pipe.
    trap "" INT TERM PIPE
    set +e
    trap - EXIT
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    pg_stop "$PG_DATA"
    if [[ -n "${KEEP_E2E_TMP:-}" ]]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$code"
}
trap cleanup EXIT
trap '' PIPE # a closed output pipe: writes fail, set -e exits, and cleanup still runs
trap 'exit 130' INT
trap 'exit 143' TERM

# 1. Server binary.
if [[ -n "${AUTHSERVER_DLL:-}" ]]; then
    DLL=$(cd "$(dirname "$AUTHSERVER_DLL")" && pwd)/$(basename "$AUTHSERVER_DLL")
    [[ -f "$DLL" ]] || { echo "[e2e] AUTHSERVER_DLL=$AUTHSERVER_DLL does not exist" >&2; exit 1; }
else
    command -v dotnet >/dev/null 2>&1 || { echo "[e2e] dotnet not found: install the .NET 10 SDK" >&2; exit 1; }
    log "publishing AuthServer (Release)"
    dotnet publish "$ROOT/src/AuthServer/AuthServer.csproj" -c Release -o "$WORK/out" --nologo -v quiet
    DLL="$WORK/out/AuthServer.dll"
fi

# 2. Throwaway PostgreSQL.
PG_PORT=$(pg_free_port "")
log "PostgreSQL on 127.0.0.1:$PG_PORT ($WORK/pg)"
pg_start "$PG_DATA" "$PG_PORT" throwaway

# 3. The server, with a clean GoTrue environment (nothing inherited from the caller's shell).
while IFS= read -r name; do
    unset "$name"
done < <(compgen -e | grep -E '^(GOTRUE_|ASPNETCORE_URLS$|ASPNETCORE_HTTP_PORTS$|DOTNET_URLS$|DATABASE_URL$|API_EXTERNAL_URL$|PORT$|DB_NAMESPACE$|REQUEST_ID_HEADER$)' || true)

API_PORT=$(pg_free_port "")
JWT_SECRET=$(new_jwt_secret)
API_URL="http://127.0.0.1:$API_PORT"
SERVER_LOG="$WORK/server.log"
log "AuthServer on $API_URL ($DLL)"
DB_URL=$(pg_url "$PG_PORT")
(
    cd "$WORK" # no stray .env from the caller's directory
    export GOTRUE_JWT_SECRET="$JWT_SECRET" \
        GOTRUE_SITE_URL="http://localhost:3000" \
        API_EXTERNAL_URL="$API_URL" \
        GOTRUE_DB_DRIVER=postgres \
        DATABASE_URL="$DB_URL" \
        GOTRUE_API_HOST=127.0.0.1 \
        PORT="$API_PORT" \
        GOTRUE_JWT_AUD=authenticated \
        GOTRUE_JWT_DEFAULT_GROUP_NAME=authenticated \
        GOTRUE_JWT_ADMIN_ROLES=service_role \
        GOTRUE_MAILER_AUTOCONFIRM=true \
        GOTRUE_PASSWORD_HASH_COST=4 \
        GOTRUE_SECURITY_REFRESH_TOKEN_ROTATION_ENABLED=true \
        GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL=0 \
        GOTRUE_RATE_LIMIT_TOKEN_REFRESH=100000 \
        GOTRUE_RATE_LIMIT_OTP=100000 \
        GOTRUE_RATE_LIMIT_ANONYMOUS_USERS=100000
    exec dotnet "$DLL"
) >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!

healthy=""
deadline=$((SECONDS + 60))
while ((SECONDS < deadline)); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        break
    fi
    if node -e '
fetch(process.argv[1], { signal: AbortSignal.timeout(2000) })
  .then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1));' "$API_URL/health"; then
        healthy=1
        break
    fi
    sleep 0.5
done
if [[ -z "$healthy" ]]; then
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "[e2e] AuthServer did not answer GET $API_URL/health with 200 within 60 s. Server log:" >&2
    else
        echo "[e2e] AuthServer exited before answering GET $API_URL/health. Server log:" >&2
    fi
    cat "$SERVER_LOG" >&2
    exit 1
fi
log "server healthy"

# 4. Tests.
ANON_KEY=$(mint_api_key anon "$JWT_SECRET")
SERVICE_ROLE_KEY=$(mint_api_key service_role "$JWT_SECRET")
set +e
(
    cd "$HERE"
    export SUPABASE_URL="$API_URL" \
        SUPABASE_ANON_KEY="$ANON_KEY" \
        SUPABASE_SERVICE_ROLE_KEY="$SERVICE_ROLE_KEY" \
        SUPABASE_JWT_SECRET="$JWT_SECRET"
    # A hung request fails its test after 60 s instead of hanging the run.
    if (($# > 0)); then
        node --test --test-timeout=60000 "$@"
    else
        node --test --test-timeout=60000
    fi
)
status=$?
set -e

if ((status != 0)); then
    echo "[e2e] tests failed (exit $status); last 100 lines of the server log:" >&2
    tail -n 100 "$SERVER_LOG" >&2
fi
exit "$status"
