# shellcheck shell=bash
# The "moved from Supabase" server of the e2e run (issue 8): a second database in run.sh's cluster,
# loaded from the xunit GoTrue fixture (migrations/0001's DDL + gotrue_database.sql: GoTrue's
# schema_migrations and rows as GoTrue wrote them), served by one more AuthServer instance started
# with the GoTrue project's settings that dump needs: its JWT secret and its column encryption key.
#
#   source tests/e2e/lib/adopt.sh     # after scripts/lib/postgres.sh, from run.sh
#   url=$(adopt_create_database "$PG_PORT" gotrue)
#
# Tests: tests/e2e/adopt.test.mjs (SUPABASE_ADOPT_URL, SUPABASE_ADOPT_ANON_KEY, SUPABASE_ADOPT_JWT_SECRET).

# shellcheck disable=SC2034 # used by run.sh
# The GoTrue project's JWT secret (the Supabase CLI's default), as documented in gotrue_database.sql.
ADOPT_JWT_SECRET="super-secret-jwt-token-with-at-least-32-characters-long"
# shellcheck disable=SC2034 # used by run.sh
# GOTRUE_SECURITY_DB_ENCRYPTION_DECRYPTION_KEYS of that project (gotrue_database.sql's fixture-key-1).
ADOPT_DECRYPTION_KEYS="fixture-key-1:X3RphuIuCIdjfBpXtowPS2aUHJg2hrEyQBFaHejKBW8"

_adopt_psql() {
    local bin=psql
    [[ -n "${PG_BINDIR:-}" && -x "$PG_BINDIR/psql" ]] && bin="$PG_BINDIR/psql"
    "$bin" -X -q -v ON_ERROR_STOP=1 "$@"
}

# adopt_create_database PG_PORT NAME — creates NAME as GoTrue left it; prints its postgres:// URL.
adopt_create_database() {
    local port=${1:?adopt_create_database: port required} name=${2:?adopt_create_database: name required}
    local root fixture
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
    fixture="$root/tests/AuthServer.Tests/Infrastructure/GoTrue/gotrue_database.sql"
    _adopt_psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "create database \"$name\"" >/dev/null
    _adopt_psql --single-transaction -h 127.0.0.1 -p "$port" -U postgres -d "$name" \
        -f "$root/migrations/0001_create_auth_schema.sql" -f "$fixture" >/dev/null
    echo "postgres://postgres@127.0.0.1:$port/$name"
}
