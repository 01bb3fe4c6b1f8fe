#!/usr/bin/env bash
# The fault tests on both backends: kill -9 under load (crash), PostgreSQL cut and
# restored behind a TCP proxy (outage), SIGTERM during slow logins (lifecycle), the
# server's and the CLI's writes on one SQLite file (sqlite_writers) and revocation
# across instances with the listener's connection killed (instances).
# Usage: tests/faults/run.sh [postgres://… of a server the tests may create databases on]
# Without a URL (or TEST_DATABASE_URL) the PostgreSQL half is skipped, and says so.
set -euo pipefail
cd "$(dirname "$0")/../.."
FAULTS=(crash:: outage:: lifecycle:: sqlite_writers:: instances::)
echo "== SQLite"
cargo test --test api -- "${FAULTS[@]}"
url=${1:-${TEST_DATABASE_URL:-}}
if [ -z "$url" ]; then
  echo "== PostgreSQL skipped: give a postgres:// URL (or set TEST_DATABASE_URL)"
  exit 0
fi
echo "== PostgreSQL"
TEST_DATABASE_URL=$url cargo test --test api -- "${FAULTS[@]}"
