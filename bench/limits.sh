#!/usr/bin/env bash
# Gatehouse benchmark, shared-limits mode: what counting the rate limits in the
# database costs. Two release instances on one fresh PostgreSQL database
# (BENCH_POSTGRES_URL, default the local server): one with the limits off, one with
# them on in the shared store (rate_limit_store = "database", every limit raised past
# the load, so each request pays the check and none is refused). Logins and refreshes
# are measured on both in alternating rounds; the target is that the limits cost
# under 5 % of either.
# Usage: bench/run.sh limits [SECONDS per measurement, default 10]
DURATION=${1:-10}
source "$(dirname "$0")/common.sh"
SERVER_URL=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PORT_OFF=${BENCH_PORT:-8099}
PORT_ON=$(( PORT_OFF + 1 ))
OFF="http://127.0.0.1:$PORT_OFF"
ON="http://127.0.0.1:$PORT_ON"

fresh_postgres_database "$SERVER_URL" gatehouse_limits "shared-limits mode"

start_server "$PORT_OFF"
raised="1000000/minute"
GATEHOUSE_RATE_LIMIT_ENABLED=true GATEHOUSE_RATE_LIMIT_STORE=database \
  GATEHOUSE_RATE_LIMIT_LOGIN=$raised GATEHOUSE_RATE_LIMIT_LOGIN_ACCOUNT=$raised \
  GATEHOUSE_RATE_LIMIT_REFRESH=$raised GATEHOUSE_RATE_LIMIT_REGISTER=$raised \
  start_server "$PORT_ON"
bench_token "$OFF" >/dev/null

# One session per refreshing connection.
THREADS=4
refresh_tokens() {
  local tokens=() token
  for _ in $(seq "$THREADS"); do
    token=$(curl -sf "$1/api/auth/login" --json "{\"login\":\"bench\",\"password\":\"$BENCH_PASSWORD_GOOD\"}" |
      sed -n 's/.*"refresh_token":"\([^"]*\)".*/\1/p')
    [ -n "$token" ] || { echo "login for a refresh session failed" >&2; exit 1; }
    tokens+=("$token")
  done
  echo "${tokens[*]}"
}
logins_at() { wrk -t2 -c64 -d"${half_round}s" --timeout 30s -s bench/login.lua "$1/api/auth/login" | rps; }
refreshes_at() {
  BENCH_REFRESH_TOKENS=$(refresh_tokens "$1") \
    wrk -t"$THREADS" -c"$THREADS" -d"${half_round}s" -s bench/refresh.lua "$1/api/auth/refresh" | rps
}

wrk -t1 -c8 -d2s -s bench/login.lua "$ON/api/auth/login" >/dev/null # warm-up
half_round=$(( (DURATION + 1) / 2 ))
logins_off=0; logins_on=0; refresh_off=0; refresh_on=0
# Four rounds a side, alternating which goes first: the machine's drift weighs on both.
add_quarter() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a + b / 4 }'; }
for order in off-first on-first off-first on-first; do
  for side in $([ "$order" = off-first ] && echo "off on" || echo "on off"); do
    base=$([ "$side" = off ] && echo "$OFF" || echo "$ON")
    l=$(logins_at "$base"); sleep 1; r=$(refreshes_at "$base")
    if [ "$side" = off ]; then
      logins_off=$(add_quarter "$logins_off" "$l"); refresh_off=$(add_quarter "$refresh_off" "$r")
    else
      logins_on=$(add_quarter "$logins_on" "$l"); refresh_on=$(add_quarter "$refresh_on" "$r")
    fi
  done
done
buckets=$(psql -qtA "$DATABASE_URL" -c "SELECT COUNT(*) FROM rate_limits")

cat <<REPORT
Gatehouse benchmark, shared rate limits ($(nproc) cores, ${DURATION}s per figure, release build, PostgreSQL)
  POST /api/auth/login     limits off $logins_off logins/s, on (database store) $logins_on logins/s
  POST /api/auth/refresh   limits off $refresh_off refreshes/s, on (database store) $refresh_on refreshes/s ($THREADS sessions)
  buckets in rate_limits   $buckets
Targets
  logins on / off     $(ratio "$logins_on" "$logins_off")  (>= 0.95: $(verdict "$(ratio "$logins_on" "$logins_off")" 0.95 ">="))
  refreshes on / off  $(ratio "$refresh_on" "$refresh_off")  (>= 0.95: $(verdict "$(ratio "$refresh_on" "$refresh_off")" 0.95 ">="))
REPORT
