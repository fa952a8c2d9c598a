#!/usr/bin/env bash
# Run every test: the xunit suite (dotnet test, Release), then the supabase-js end-to-end suite
# against the server published from that same build. Fails if either fails.
#
#   scripts/test.sh
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# The reference configurations live in `shared/` beside the checkout (CI's layout). A clone made elsewhere (e.g. in
# a temporary directory) finds them beside the repository it was cloned from, when that is a local path.
if [[ -z "${AUTHSERVER_SHARED_DIR:-}" ]]; then
    AUTHSERVER_SHARED_DIR="$ROOT/../shared"
    origin=$(git -C "$ROOT" remote get-url origin 2>/dev/null || true)
    if [[ ! -d "$AUTHSERVER_SHARED_DIR/reference-env" && -n "$origin" && -d "$origin/../shared/reference-env" ]]; then
        AUTHSERVER_SHARED_DIR="$origin/../shared"
    fi
fi
AUTHSERVER_SHARED_DIR=$(cd "$AUTHSERVER_SHARED_DIR" 2>/dev/null && pwd || echo "$AUTHSERVER_SHARED_DIR")
export AUTHSERVER_SHARED_DIR
export E2E_REFERENCE_ENV="${E2E_REFERENCE_ENV:-$AUTHSERVER_SHARED_DIR/reference-env/local-cli-stack.env}"

if ! command -v dotnet >/dev/null 2>&1; then
    echo "dotnet not found: install the .NET 10 SDK (apt-get install dotnet-sdk-10.0, or see global.json)" >&2
    exit 1
fi

LOGS=$(mktemp -d "${TMPDIR:-/tmp}/authserver-test.XXXXXX")
trap 'rm -rf "$LOGS"' EXIT

# 0. Formatting, as STYLE.md asks of CI (whitespace and style only; fails the run, does not change files).
echo "==> dotnet format --verify-no-changes"
format_status=0
dotnet format AuthServer.sln --verify-no-changes || { format_status=1; echo "dotnet format found unformatted files: run 'dotnet format AuthServer.sln'" >&2; }

# Real parts from Debian's packages, installed when missing and we may (root with apt-get); otherwise the
# tests that need them fail saying what to install. PgBouncer: the transaction-pooler tests (xunit
# TransactionPoolerTests and the e2e pass below). Chromium: the e2e browser tests (never a downloaded browser).
install_if_missing() { # install_if_missing COMMAND PACKAGE
    command -v "$1" >/dev/null 2>&1 || [[ -x "/usr/sbin/$1" ]] && return 0
    [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1 || return 0
    echo "==> apt-get install -y $2"
    if ! { apt-get install -y "$2" || { apt-get update && apt-get install -y "$2"; }; } >"$LOGS/$2.log" 2>&1; then
        tail -n 20 "$LOGS/$2.log" >&2
        echo "could not install $2: the tests that need it will fail" >&2
    fi
}
install_if_missing pgbouncer pgbouncer
install_if_missing chromium chromium

# 1. xunit (it provisions its own PostgreSQL).
echo "==> dotnet restore"
dotnet_status=0
if dotnet restore AuthServer.sln --nologo; then
    echo "==> dotnet test AuthServer.sln -c Release"
    dotnet test AuthServer.sln -c Release --no-restore --nologo 2>&1 | tee "$LOGS/dotnet.log"
    dotnet_status=${PIPESTATUS[0]}
else
    dotnet_status=1
fi

# 2. End to end, with the server dll from the same Release build.
e2e_status=0
PUBLISH_DIR="$ROOT/.local/test-publish"
echo "==> dotnet publish src/AuthServer (Release, from the build above)"
rm -rf "$PUBLISH_DIR"
if dotnet publish src/AuthServer/AuthServer.csproj -c Release --no-restore --no-build -o "$PUBLISH_DIR" --nologo -v quiet \
    || dotnet publish src/AuthServer/AuthServer.csproj -c Release --no-restore -o "$PUBLISH_DIR" --nologo -v quiet; then
    echo "==> tests/e2e/run.sh"
    AUTHSERVER_DLL="$PUBLISH_DIR/AuthServer.dll" tests/e2e/run.sh 2>&1 | tee "$LOGS/e2e.log"
    e2e_status=${PIPESTATUS[0]}
    # Again with the servers behind PgBouncer in transaction mode, as behind Supavisor (issue 21 item 5).
    echo "==> E2E_POOLER=pgbouncer tests/e2e/run.sh"
    E2E_POOLER=pgbouncer AUTHSERVER_DLL="$PUBLISH_DIR/AuthServer.dll" tests/e2e/run.sh 2>&1 | tee -a "$LOGS/e2e.log"
    pooler_status=${PIPESTATUS[0]}
    ((e2e_status != 0)) || e2e_status=$pooler_status
else
    echo "[e2e] could not publish the server: end-to-end tests not run" >&2
    e2e_status=1
fi

# 3. Summary. Counts are read off each runner's own closing lines.
count() { # count FILE REGEX — sum of the first number captured by REGEX over all matching lines
    [[ -f "$1" ]] || { echo 0; return; }
    grep -Eo "$2" "$1" | grep -Eo '[0-9]+' | awk '{s += $1} END {print s + 0}'
}
strip() { sed -E 's/\x1b\[[0-9;]*m//g' "$1" 2>/dev/null; }
strip "$LOGS/dotnet.log" >"$LOGS/dotnet.txt"
strip "$LOGS/e2e.log" >"$LOGS/e2e.txt"
# VSTest prints one line per test project: "Passed!  - Failed:     0, Passed:    12, Skipped: ..."
grep -E '^ *(Passed|Failed)! +- ' "$LOGS/dotnet.txt" >"$LOGS/dotnet-summary.txt" 2>/dev/null || true
dn_pass=$(count "$LOGS/dotnet-summary.txt" 'Passed: +[0-9]+')
dn_fail=$(count "$LOGS/dotnet-summary.txt" 'Failed: +[0-9]+')
e2e_pass=$(count "$LOGS/e2e.txt" '^(# |ℹ )pass [0-9]+')
e2e_fail=$(count "$LOGS/e2e.txt" '^(# |ℹ )fail [0-9]+')

verdict() { if (($1 == 0)); then echo ok; else echo "FAILED (exit $1)"; fi; }
echo
echo "== summary =="
echo "dotnet format:         $(verdict "$format_status")"
echo "xunit (dotnet test):   $(verdict "$dotnet_status")  passed $dn_pass, failed $dn_fail"
echo "e2e (supabase-js):     $(verdict "$e2e_status")  passed $e2e_pass, failed $e2e_fail"
echo "total: $((dn_pass + e2e_pass)) passed, $((dn_fail + e2e_fail)) failed"

if ((format_status != 0 || dotnet_status != 0 || e2e_status != 0)); then
    exit 1
fi
exit 0
