#!/usr/bin/env bash
# End-to-end tests: the real @supabase/supabase-js against a freshly started AuthServer.
#
#   tests/e2e/run.sh                 # publishes the server (Release) first
#   AUTHSERVER_DLL=path/AuthServer.dll tests/e2e/run.sh   # uses an already published server
#   tests/e2e/run.sh signout.test.mjs                       # only some test files
#   E2E_POOLER=pgbouncer tests/e2e/run.sh                   # the servers reach PostgreSQL through PgBouncer
#                                                           # in transaction mode (GOTRUE_DB_TRANSACTION_POOLER)
#
# Self-contained: npm ci if node_modules is missing, a throwaway PostgreSQL on a free port in a temp
# dir, a mail catcher (scripts/lib/mailcatcher.mjs), the server on another free port (bcrypt cost 4,
# mailer autoconfirm on) and a second instance on the same database with autoconfirm off for the email
# flows (two instances also exercise the shared mail outbox), a third on a second database loaded from
# the GoTrue fixture (tests/e2e/lib/adopt.sh, adopt.test.mjs), `node --test`, and everything torn down
# on exit. Exit code = the test run's. KEEP_E2E_TMP=1 keeps the temp dir.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR/../../scripts/lib

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
source "$ROOT/scripts/lib/postgres.sh"
source "$ROOT/scripts/lib/keys.sh"
source "$ROOT/scripts/lib/pgbouncer.sh"
# shellcheck source=lib/adopt.sh
source "$HERE/lib/adopt.sh"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

log() { echo "[e2e] $*"; }

for tool in node npm; do
    command -v "$tool" >/dev/null 2>&1 || { echo "[e2e] $tool not found: install Node.js 20 or later (apt-get install nodejs npm)" >&2; exit 1; }
done
pg_require_binaries

# npm ci when node_modules is missing or older than the lockfile (npm keeps its own copy in it).
if [[ ! -d "$HERE/node_modules/@supabase/supabase-js" || "$HERE/package-lock.json" -nt "$HERE/node_modules/.package-lock.json" ]]; then
    log "npm ci"
    (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/authserver-e2e.XXXXXX")
chmod 755 "$WORK"
SERVER_PID=""
MAIL_SERVER_PID=""
ADOPT_SERVER_PID=""
ISSUER_PID=""
CATCHER_PID=""
SMS_PID=""
HIBP_PID=""
PGBOUNCER_PID=""
SOCIAL_PID=""
PG_DATA="$WORK/pg/data"
# shellcheck disable=SC2317 # runs from a trap
cleanup() {
    local code=$?
    trap "" INT TERM # a second Ctrl-C must not cut the clean-up short
    trap - EXIT
    for pid in "$SERVER_PID" "$MAIL_SERVER_PID" "$ADOPT_SERVER_PID" "$CATCHER_PID" "$ISSUER_PID" "$SMS_PID" "$HIBP_PID" "$PGBOUNCER_PID" "$SOCIAL_PID"; do
        if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        fi
    done
    pg_stop "$PG_DATA"
    if [[ -n "${KEEP_E2E_TMP:-}" ]]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$code"
}
trap cleanup EXIT
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
MAIL_API_PORT=$(pg_free_port "")
SMTP_PORT=$(pg_free_port "")
INBOX_PORT=$(pg_free_port "")
JWT_SECRET=$(new_jwt_secret)
# The SAML service provider's key (sso.test.mjs): base64 PKCS#1 DER, as GOTRUE_SAML_PRIVATE_KEY wants it.
SAML_PRIVATE_KEY=$(node -e '
const { generateKeyPairSync } = require("node:crypto");
const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
console.log(privateKey.export({ type: "pkcs1", format: "der" }).toString("base64"));')
API_URL="http://127.0.0.1:$API_PORT"
MAIL_API_URL="http://127.0.0.1:$MAIL_API_PORT"
INBOX_URL="http://127.0.0.1:$INBOX_PORT"
SERVER_LOG="$WORK/server.log"
MAIL_SERVER_LOG="$WORK/server-mail.log"
DB_URL=$(pg_url "$PG_PORT")
DIRECT_DB_URL=$DB_URL # tests' own queries go straight to PostgreSQL
POOLER_ENV=()
if [[ "${E2E_POOLER:-}" == pgbouncer ]]; then
    BOUNCER_PORT=$(pg_free_port "")
    pgbouncer_start "$WORK/pgbouncer" "$PG_PORT" "$BOUNCER_PORT" || exit 1
    DB_URL="postgres://postgres@127.0.0.1:$BOUNCER_PORT/postgres"
    POOLER_ENV=(GOTRUE_DB_TRANSACTION_POOLER=true)
    log "PgBouncer (transaction mode) on 127.0.0.1:$BOUNCER_PORT: the servers connect through it"
fi

# start_fake SCRIPT PORT PROBE_URL LOG: starts a node fake of an internet service in the background (its pid in
# FAKE_PID) and waits until PROBE_URL answers 2xx.
start_fake() {
    node "$HERE/lib/$1" "$2" >"$WORK/$4" 2>&1 &
    FAKE_PID=$!
    for _ in $(seq 1 50); do
        node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1));' "$3" && break
        sleep 0.2
    done
}

# A local OIDC issuer standing in for Google and Apple (tests sign ID tokens through it).
ISSUER_PORT=$(pg_free_port "")
ISSUER_URL="http://127.0.0.1:$ISSUER_PORT"
start_fake oidc-issuer.mjs "$ISSUER_PORT" "$ISSUER_URL/.well-known/openid-configuration" issuer.log
ISSUER_PID=$FAKE_PID
log "OIDC issuer on $ISSUER_URL"

# A Twilio-shaped SMS provider; the servers reach it through GOTRUE_SMS_PROVIDER_API_URL.
SMS_PORT=$(pg_free_port "")
SMS_URL="http://127.0.0.1:$SMS_PORT"
start_fake sms-provider.mjs "$SMS_PORT" "$SMS_URL/api/messages" sms-provider.log
SMS_PID=$FAKE_PID
log "SMS provider on $SMS_URL"

# A Pwned Passwords range API; the servers reach it through GOTRUE_PASSWORD_HIBP_API_URL (pwned.test.mjs).
HIBP_PORT=$(pg_free_port "")
HIBP_URL="http://127.0.0.1:$HIBP_PORT"
start_fake pwned-passwords.mjs "$HIBP_PORT" "$HIBP_URL/api/requests" pwned-passwords.log
HIBP_PID=$FAKE_PID
log "Pwned Passwords API on $HIBP_URL"

# GitHub and Discord (OAuth + user APIs); the servers reach them through GOTRUE_EXTERNAL_<P>_URL (providers.test.mjs).
SOCIAL_PORT=$(pg_free_port "")
SOCIAL_URL="http://127.0.0.1:$SOCIAL_PORT"
start_fake social-providers.mjs "$SOCIAL_PORT" "$SOCIAL_URL/_test/health" social-providers.log
SOCIAL_PID=$FAKE_PID
log "GitHub / Discord fakes on $SOCIAL_URL"

log "mail catcher: SMTP 127.0.0.1:$SMTP_PORT, inbox $INBOX_URL"
node "$ROOT/scripts/lib/mailcatcher.mjs" --smtp-port "$SMTP_PORT" --http-port "$INBOX_PORT" >"$WORK/mailcatcher.log" 2>&1 &
CATCHER_PID=$!

# Templates that also print the OTP, as Supabase projects' templates do, so tests can type the code.
mkdir -p "$WORK/templates"
for kind in CONFIRMATION INVITE RECOVERY MAGIC_LINK EMAIL_CHANGE; do
    printf '<p>%s</p><p>code: {{ .Token }}</p><a href="{{ .ConfirmationURL }}">link</a>\n' "$kind" >"$WORK/templates/$kind.html"
done

# A GOTRUE_SMS_TEST_OTP number (fixed code, no SMS); outside the 1555XXXXXXX range the tests draw from.
SMS_TEST_PHONE=15550009999
SMS_TEST_OTP=123456

start_server() { # start_server PORT AUTOCONFIRM LOG — prints the pid
    (
        cd "$WORK" # no stray .env from the caller's directory
        export GOTRUE_JWT_SECRET="$JWT_SECRET" \
            GOTRUE_SITE_URL="http://localhost:3000" \
            API_EXTERNAL_URL="http://127.0.0.1:$1" \
            GOTRUE_DB_DRIVER=postgres \
            DATABASE_URL="$DB_URL" \
            GOTRUE_API_HOST=127.0.0.1 \
            PORT="$1" \
            GOTRUE_JWT_AUD=authenticated \
            GOTRUE_JWT_DEFAULT_GROUP_NAME=authenticated \
            GOTRUE_JWT_ADMIN_ROLES=service_role \
            GOTRUE_MAILER_AUTOCONFIRM="$2" \
            GOTRUE_PASSWORD_HASH_COST=4 \
            GOTRUE_SECURITY_REFRESH_TOKEN_ROTATION_ENABLED=true \
            GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL=0 \
            GOTRUE_RATE_LIMIT_TOKEN_REFRESH=100000 \
            GOTRUE_RATE_LIMIT_OTP=100000 \
            GOTRUE_RATE_LIMIT_VERIFY=100000 \
            GOTRUE_RATE_LIMIT_ANONYMOUS_USERS=100000 \
            GOTRUE_RATE_LIMIT_EMAIL_SENT=100000 \
            GOTRUE_MFA_RATE_LIMIT_CHALLENGE_AND_VERIFY=100000 \
            GOTRUE_EXTERNAL_ANONYMOUS_USERS_ENABLED=true \
            GOTRUE_SECURITY_MANUAL_LINKING_ENABLED=true \
            GOTRUE_EXTERNAL_GOOGLE_ENABLED=true \
            GOTRUE_EXTERNAL_GOOGLE_CLIENT_ID=oauth-client,google-ios-client \
            GOTRUE_EXTERNAL_GOOGLE_SECRET=oauth-secret \
            GOTRUE_EXTERNAL_GOOGLE_ISSUER="$ISSUER_URL" \
            GOTRUE_EXTERNAL_APPLE_ENABLED=true \
            GOTRUE_EXTERNAL_APPLE_CLIENT_ID=com.example.web \
            GOTRUE_EXTERNAL_APPLE_SECRET=apple-secret \
            GOTRUE_EXTERNAL_APPLE_ISSUER="$ISSUER_URL" \
            GOTRUE_EXTERNAL_IOS_BUNDLE_ID=com.example.ios \
            GOTRUE_EXTERNAL_WEB3_SOLANA_ENABLED=true \
            GOTRUE_EXTERNAL_WEB3_ETHEREUM_ENABLED=true \
            GOTRUE_RATE_LIMIT_WEB3=100000 \
            GOTRUE_SMTP_HOST=127.0.0.1 \
            GOTRUE_SMTP_PORT="$SMTP_PORT" \
            GOTRUE_SMTP_ADMIN_EMAIL=admin@example.com \
            GOTRUE_SMTP_SENDER_NAME=AuthServer \
            GOTRUE_SMTP_MAX_FREQUENCY=1s \
            GOTRUE_EXTERNAL_PHONE_ENABLED=true \
            GOTRUE_SMS_MAX_FREQUENCY=1s \
            GOTRUE_SMS_PROVIDER=twilio \
            GOTRUE_SMS_TWILIO_ACCOUNT_SID=ACe2e \
            GOTRUE_SMS_TWILIO_AUTH_TOKEN=e2e-token \
            GOTRUE_SMS_TWILIO_MESSAGE_SERVICE_SID=MGe2e \
            GOTRUE_SMS_PROVIDER_API_URL="$SMS_URL" \
            GOTRUE_PASSWORD_HIBP_ENABLED=true \
            GOTRUE_PASSWORD_HIBP_API_URL="$HIBP_URL" \
            GOTRUE_EXTERNAL_GITHUB_ENABLED=true \
            GOTRUE_EXTERNAL_GITHUB_CLIENT_ID=social-client \
            GOTRUE_EXTERNAL_GITHUB_SECRET=social-secret \
            GOTRUE_EXTERNAL_GITHUB_URL="$SOCIAL_URL/github" \
            GOTRUE_EXTERNAL_DISCORD_ENABLED=true \
            GOTRUE_EXTERNAL_DISCORD_CLIENT_ID=social-client \
            GOTRUE_EXTERNAL_DISCORD_SECRET=social-secret \
            GOTRUE_EXTERNAL_DISCORD_URL="$SOCIAL_URL/discord" \
            GOTRUE_SMS_TEST_OTP="$SMS_TEST_PHONE:$SMS_TEST_OTP" \
            GOTRUE_RATE_LIMIT_SMS_SENT=100000 \
            GOTRUE_MFA_PHONE_ENROLL_ENABLED=true \
            GOTRUE_MFA_PHONE_VERIFY_ENABLED=true \
            GOTRUE_MFA_PHONE_MAX_FREQUENCY=30s \
            GOTRUE_SAML_ENABLED=true \
            GOTRUE_SAML_PRIVATE_KEY="$SAML_PRIVATE_KEY" \
            GOTRUE_MAILER_TEMPLATES_CONFIRMATION="$WORK/templates/CONFIRMATION.html" \
            GOTRUE_MAILER_TEMPLATES_INVITE="$WORK/templates/INVITE.html" \
            GOTRUE_MAILER_TEMPLATES_RECOVERY="$WORK/templates/RECOVERY.html" \
            GOTRUE_MAILER_TEMPLATES_MAGIC_LINK="$WORK/templates/MAGIC_LINK.html" \
            GOTRUE_MAILER_TEMPLATES_EMAIL_CHANGE="$WORK/templates/EMAIL_CHANGE.html"
        exec env "${POOLER_ENV[@]}" dotnet "$DLL"
    ) >"$3" 2>&1 &
    echo $!
}

wait_healthy() { # wait_healthy PID URL LOG
    local deadline=$((SECONDS + 60))
    while ((SECONDS < deadline)); do
        kill -0 "$1" 2>/dev/null || break
        if node -e '
fetch(process.argv[1], { signal: AbortSignal.timeout(2000) })
  .then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1));' "$2/health"; then
            return 0
        fi
        sleep 0.5
    done
    if kill -0 "$1" 2>/dev/null; then
        echo "[e2e] AuthServer did not answer GET $2/health with 200 within 60 s. Server log:" >&2
    else
        echo "[e2e] AuthServer exited before answering GET $2/health. Server log:" >&2
    fi
    cat "$3" >&2
    return 1
}

log "AuthServer on $API_URL ($DLL)"
SERVER_PID=$(start_server "$API_PORT" true "$SERVER_LOG")
wait_healthy "$SERVER_PID" "$API_URL" "$SERVER_LOG" || exit 1
# Started after the first one has migrated the database.
log "AuthServer (mailer autoconfirm off) on $MAIL_API_URL"
MAIL_SERVER_PID=$(start_server "$MAIL_API_PORT" false "$MAIL_SERVER_LOG")
wait_healthy "$MAIL_SERVER_PID" "$MAIL_API_URL" "$MAIL_SERVER_LOG" || exit 1
# A database GoTrue created and used, adopted by one more instance with that project's JWT secret and
# column encryption key.
ADOPT_API_PORT=$(pg_free_port "")
ADOPT_API_URL="http://127.0.0.1:$ADOPT_API_PORT"
ADOPT_SERVER_LOG="$WORK/server-adopt.log"
ADOPT_DB_URL=$(adopt_create_database "$PG_PORT" gotrue)
[[ -n "${BOUNCER_PORT:-}" ]] && ADOPT_DB_URL="postgres://postgres@127.0.0.1:$BOUNCER_PORT/gotrue"
log "AuthServer on the GoTrue database on $ADOPT_API_URL"
ADOPT_SERVER_PID=$(
    export GOTRUE_SECURITY_DB_ENCRYPTION_DECRYPTION_KEYS="$ADOPT_DECRYPTION_KEYS"
    DB_URL="$ADOPT_DB_URL" JWT_SECRET="$ADOPT_JWT_SECRET" start_server "$ADOPT_API_PORT" true "$ADOPT_SERVER_LOG"
)
wait_healthy "$ADOPT_SERVER_PID" "$ADOPT_API_URL" "$ADOPT_SERVER_LOG" || exit 1
log "servers healthy"

# 4. Tests.
ANON_KEY=$(mint_api_key anon "$JWT_SECRET")
SERVICE_ROLE_KEY=$(mint_api_key service_role "$JWT_SECRET")
ADOPT_ANON_KEY=$(mint_api_key anon "$ADOPT_JWT_SECRET")
set +e
(
    cd "$HERE"
    export SUPABASE_URL="$API_URL" \
        SUPABASE_ANON_KEY="$ANON_KEY" \
        SUPABASE_SERVICE_ROLE_KEY="$SERVICE_ROLE_KEY" \
        SUPABASE_JWT_SECRET="$JWT_SECRET" \
        SUPABASE_MAIL_URL="$MAIL_API_URL" \
        SUPABASE_ADOPT_URL="$ADOPT_API_URL" \
        SUPABASE_ADOPT_ANON_KEY="$ADOPT_ANON_KEY" \
        SUPABASE_ADOPT_JWT_SECRET="$ADOPT_JWT_SECRET" \
        MAILCATCHER_URL="$INBOX_URL" \
        MAILCATCHER_SMTP_PORT="$SMTP_PORT" \
        SMS_PROVIDER_URL="$SMS_URL" \
        PWNED_PASSWORDS_URL="$HIBP_URL" \
        SMS_TEST_PHONE="$SMS_TEST_PHONE" \
        SMS_TEST_OTP="$SMS_TEST_OTP" \
        OIDC_ISSUER_URL="$ISSUER_URL" \
        SOCIAL_PROVIDERS_URL="$SOCIAL_URL" \
        E2E_AUTHSERVER_DLL="$DLL" \
        E2E_DATABASE_URL="$DIRECT_DB_URL"
    # A hung request fails its test after 180 s instead of hanging the run. The limit also applies to each
    # file as a whole, and console-browser.test.mjs (server, 10,000 users, Chromium, every page) needs more than
    # a minute on a busy machine.
    if (($# > 0)); then
        node --test --test-timeout=180000 "$@"
    else
        node --test --test-timeout=180000
    fi
)
status=$?
set -e

if ((status != 0)); then
    echo "[e2e] tests failed (exit $status); last 100 lines of the server logs:" >&2
    tail -n 100 "$SERVER_LOG" >&2
    tail -n 100 "$MAIL_SERVER_LOG" >&2
    tail -n 100 "$ADOPT_SERVER_LOG" >&2
fi
exit "$status"
