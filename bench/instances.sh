#!/usr/bin/env bash
# Gatehouse benchmark, two-instance mode: two release instances on one fresh
# PostgreSQL database (BENCH_POSTGRES_URL, default the local server), the load split
# between them: /me throughput and p99, logins per second against both hashing pools,
# and how long a logout on one instance takes to be refused by the other (target:
# under 50 ms; the instances hold sessions in their caches for session_cache_ms and
# forget them on PostgreSQL's announcement).
# Usage: bench/run.sh instances [SECONDS per measurement, default 10]
DURATION=${1:-10}
source "$(dirname "$0")/common.sh"
SERVER_URL=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PORT_A=${BENCH_PORT:-8099}
PORT_B=$(( PORT_A + 1 ))
A="http://127.0.0.1:$PORT_A"
B="http://127.0.0.1:$PORT_B"

fresh_postgres_database "$SERVER_URL" gatehouse_instances "two-instance mode"

start_server "$PORT_A"
start_server "$PORT_B"
token=$(bench_token "$A")

# Both instances at once, half the connections each: the sum of the rates and the
# worse of the two p99s.
both() {
  local path=$1 connections=$2 out_a out_b
  shift 2
  out_a=$(mktemp -p "$work"); out_b=$(mktemp -p "$work")
  wrk -t1 -c"$connections" -d"${DURATION}s" --latency --timeout 30s "$@" "$A$path" >"$out_a" &
  local first=$!
  wrk -t1 -c"$connections" -d"${DURATION}s" --latency --timeout 30s "$@" "$B$path" >"$out_b"
  wait "$first"
  both_rps=$(sum "$(rps <"$out_a")" "$(rps <"$out_b")")
  both_p99=$(max "$(p99_ms <"$out_a")" "$(p99_ms <"$out_b")")
}

wrk -t1 -c16 -d2s -H "Authorization: Bearer $token" "$A/api/auth/me" >/dev/null # warm-up
both /api/auth/me 32 -H "Authorization: Bearer $token"
me_rps=$both_rps; me_p99=$both_p99
both /api/auth/login 128 -s bench/login.lua
logins=$both_rps
sleep 2 # the queued logins drain
raw=$(./target/release/examples/argon2_rate "$(( (DURATION + 1) / 2 ))" | sed -n 's/.*: \([0-9.]*\) hashes\/s/\1/p')
revocation=$(python3 bench/revocation.py "$PORT_A" "$PORT_B" 50 bench "$BENCH_PASSWORD_GOOD")
revocation_p99=$(echo "$revocation" | sed -n 's/^p99_ms //p')

cat <<REPORT
Gatehouse benchmark, two instances ($(nproc) cores, ${DURATION}s per figure, release build, PostgreSQL)
  GET  /api/auth/me, both instances      $me_rps req/s, p99 $me_p99 ms
  POST /api/auth/login, both instances   $logins logins/s (one hashing thread each; raw argon2 $raw hashes/s per thread)
  $(echo "$revocation" | head -1)
Targets
  revocation p99   $revocation_p99 ms  (< 50: $(verdict "$revocation_p99" 50 "<"))
REPORT
