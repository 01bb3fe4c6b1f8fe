#!/usr/bin/env bash
# Gatehouse benchmark, data-growth mode: the same figures on an empty database and
# after seeding 200k accounts, 1M live sessions and 1M audit events (bench/seed.sql),
# one release instance on SQLite (or on a fresh PostgreSQL database when
# BENCH_POSTGRES_URL names a server, e.g. postgres://postgres@127.0.0.1:5432/postgres).
# What should not grow with the data: /me throughput, a login, the admin's list, its
# searches and a deep page; and the retention task's deletes of a million events should
# not hold up logins (login p99 with and without `gatehouse prune` running).
# Usage: bench/run.sh growth [SECONDS per measurement, default 10]
DURATION=${1:-10}
source "$(dirname "$0")/common.sh"
PORT=${BENCH_PORT:-8099}
BASE="http://127.0.0.1:$PORT"
# Pruning only by the measured `gatehouse prune` run (the server would prune at start).
export GATEHOUSE_PRUNE_INTERVAL=0
ACCOUNTS=${BENCH_ACCOUNTS:-200000}
SESSIONS=${BENCH_SESSIONS:-1000000}
EVENTS=${BENCH_EVENTS:-1000000}

if [ -n "${BENCH_POSTGRES_URL:-}" ]; then
  backend=PostgreSQL
  database="gatehouse_growth_$$"
  psql -q "$BENCH_POSTGRES_URL" -c "CREATE DATABASE $database"
  cleanup_extra="psql -q '$BENCH_POSTGRES_URL' -c 'DROP DATABASE IF EXISTS $database WITH (FORCE)'"
  export DATABASE_URL="${BENCH_POSTGRES_URL%/*}/$database"
else
  backend=SQLite
  export DATABASE_URL="sqlite://$work/bench.db"
fi

# bench/seed.sql with its braces filled in, run by the backend's own client.
seed() {
  local now events_at script
  now=$(date +%s)
  # Older than audit_retention (365 days): the prune run has all of them to delete.
  events_at=$(( now - 400 * 86400 ))
  script=$(sed -e "s/{accounts}/$ACCOUNTS/g" -e "s/{sessions}/$SESSIONS/g" \
    -e "s/{events}/$EVENTS/g" -e "s/{now}/$now/g" -e "s/{events_at}/$events_at/g" bench/seed.sql)
  if [ "$backend" = PostgreSQL ]; then
    echo "$script" | psql -q -v ON_ERROR_STOP=1 "$DATABASE_URL"
    # As autovacuum would have by the time a database grew so: the statistics, and
    # the trigram indexes' pending lists (GIN's fast update) merged after a bulk load.
    psql -q "$DATABASE_URL" -c "VACUUM ANALYZE"
  else
    python3 -c 'import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); db.executescript(sys.stdin.read()); db.execute("ANALYZE"); db.commit()' \
      "$work/bench.db" <<<"$script"
  fi
}

admin_password="admin harbour lantern"
# One request at a time, the mean latency of GET $1 with the admin's token.
admin_ms() { wrk -t1 -c1 -d"${round}s" -H "Authorization: Bearer $admin" "$BASE$1" | mean_ms; }

measure() {
  local phase=$1
  round=$(( (DURATION + 3) / 4 ))
  wrk -t2 -c64 -d2s "$BASE/api/health/live" >/dev/null # warm-up
  me[$phase]=$(wrk -t2 -c64 -d"${DURATION}s" -H "Authorization: Bearer $token" "$BASE/api/auth/me" | rps)
  login[$phase]=$(wrk -t1 -c1 -d"${round}s" -s bench/login.lua "$BASE/api/auth/login" | mean_ms)
  list[$phase]=$(admin_ms "/api/admin/accounts")
  rare[$phase]=$(admin_ms "/api/admin/accounts?q=seed199999")
  common[$phase]=$(admin_ms "/api/admin/accounts?q=seed")
  short[$phase]=$(admin_ms "/api/admin/accounts?q=se")
  deep[$phase]=$(admin_ms "/api/admin/accounts?after=$(( ACCOUNTS * 3 / 4 ))")
  numbered[$phase]=$(admin_ms "/api/admin/accounts?page=100&per_page=100")
}

declare -A me login list rare common short deep numbered
start_server "$PORT"
printf '%s\n' "$admin_password" | ./target/release/gatehouse create-superuser \
  --username boss --email boss@example.com --password-stdin >/dev/null
admin=$(login_token "$BASE" boss "$admin_password")
token=$(bench_token "$BASE")
measure empty

stop_server "$server_pid"
seed_start=$(date +%s)
seed
seed_s=$(( $(date +%s) - seed_start ))
start_server "$PORT"
startup_grown_ms=$startup_ms
admin=$(login_token "$BASE" boss "$admin_password")
token=$(login_token "$BASE" bench "$BENCH_PASSWORD_GOOD")
measure grown

# Logins (each one writes a session) with and without the retention task deleting the
# million old events.
login_p99() { wrk -t1 -c2 -d"$1s" --latency --timeout 30s -s bench/login.lua "$BASE/api/auth/login" | p99_ms; }
quiet_p99=$(login_p99 "$DURATION")
(
  prune_start=$(date +%s%N)
  ./target/release/gatehouse prune >"$work/prune.log" 2>&1
  echo $(( ($(date +%s%N) - prune_start) / 1000000 )) >"$work/prune.ms"
) &
prune_pid=$!
pruning_p99=$(login_p99 "$DURATION")
wait "$prune_pid"
prune_ms=$(cat "$work/prune.ms")
pruned=$(cat "$work/prune.log")

row() { printf '  %-34s %12s %12s\n' "$1" "$2" "$3"; }
cat <<REPORT
Gatehouse benchmark, data growth ($(nproc) cores, ${DURATION}s per figure, release build, $backend)
  seeded $ACCOUNTS accounts, $SESSIONS sessions, $EVENTS audit events in ${seed_s} s
$(row "" "empty" "grown")
$(row "GET /api/auth/me (req/s)" "${me[empty]}" "${me[grown]}")
$(row "login, one at a time (ms)" "${login[empty]}" "${login[grown]}")
$(row "admin list, first page (ms)" "${list[empty]}" "${list[grown]}")
$(row "admin search q=seed199999 (ms)" "${rare[empty]}" "${rare[grown]}")
$(row "admin search q=seed (ms)" "${common[empty]}" "${common[grown]}")
$(row "admin search q=se (ms)" "${short[empty]}" "${short[grown]}")
$(row "admin page after=$(( ACCOUNTS * 3 / 4 )) (ms)" "${deep[empty]}" "${deep[grown]}")
$(row "admin page 100 of 100 (ms)" "${numbered[empty]}" "${numbered[grown]}")
  start-up on the grown database    $startup_grown_ms ms
  login p99, 2 at a time            $quiet_p99 ms
  login p99 during the prune run    $pruning_p99 ms
  prune run                         $prune_ms ms: $pruned
Ratios (grown / empty; near 1.00 means the cost does not follow the data)
  me        $(ratio "${me[grown]}" "${me[empty]}")
  login     $(ratio "${login[grown]}" "${login[empty]}")
  list      $(ratio "${list[grown]}" "${list[empty]}")
  search    $(ratio "${rare[grown]}" "${rare[empty]}")
REPORT
