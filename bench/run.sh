#!/usr/bin/env bash
# Gatehouse benchmark: one run, on this machine, against a release build on loopback.
# Prints each figure and the ratios the foundation targets:
#   /api/auth/me >= 0.85 x /api/health/live          (revocation check nearly free)
#   logins/s >= 0.95 x raw argon2 rate               (the server adds little to the hash)
#   /api/auth/me p99 < 5 ms during a login storm
#   peak RSS < 150 MiB with 256 logins in flight; idle RSS < 20 MiB; start-up < 1 s
#   server CPU per passwordless passkey sign-in (start + finish) < 2 ms, outside the
#   database's threads
# and, one request at a time, the mean latency of a wrong password against that of an
# unknown login, and of a password reset request for an account's address against one
# for an address nobody has (neither should tell an account exists).
# Usage: bench/run.sh [SECONDS per measurement, default 10]
#        bench/run.sh growth [SECONDS]     the same service before and after 200k
#                                          accounts, 1M sessions and 1M audit events
#                                          (bench/growth.sh)
#        bench/run.sh instances [SECONDS]  two instances on one PostgreSQL database
#                                          (bench/instances.sh)
#        bench/run.sh limits [SECONDS]     logins and refreshes with the rate limits
#                                          off and on in the shared database store
#                                          (bench/limits.sh)
set -euo pipefail
case "${1:-}" in
  growth) shift; exec bash "$(dirname "$0")/growth.sh" "$@" ;;
  instances) shift; exec bash "$(dirname "$0")/instances.sh" "$@" ;;
  limits) shift; exec bash "$(dirname "$0")/limits.sh" "$@" ;;
esac
DURATION=${1:-10}
source "$(dirname "$0")/common.sh"
PORT=${BENCH_PORT:-8099}
BASE="http://127.0.0.1:$PORT"
export DATABASE_URL="sqlite://$work/bench.db"

start_server "$PORT"
sleep 1
idle_kib=$(rss_kib "$server_pid" VmRSS)
token=$(bench_token "$BASE")

wrk -t2 -c64 -d3s "$BASE/api/health/live" >/dev/null # warm-up
# Shared machines drift: figures that are compared are measured in alternating rounds
# and averaged, so a slow spell weighs on both sides of a ratio.
# The server's own CPU time per request is measured beside: on 2 cores wrk competes
# with the server, so throughput moves with the client, and CPU time tells them apart.
half_round=$(( (DURATION + 1) / 2 ))
live=0; me=0; live_ticks=0; me_ticks=0; live_n=0; me_n=0
for _ in 1 2; do
  t0=$(cpu_ticks "$server_pid")
  out=$(wrk -t2 -c64 -d"${half_round}s" "$BASE/api/health/live")
  t1=$(cpu_ticks "$server_pid")
  l=$(echo "$out" | rps); live_n=$(( live_n + $(echo "$out" | requests) ))
  out=$(wrk -t2 -c64 -d"${half_round}s" -H "Authorization: Bearer $token" "$BASE/api/auth/me")
  t2=$(cpu_ticks "$server_pid")
  m=$(echo "$out" | rps); me_n=$(( me_n + $(echo "$out" | requests) ))
  live_ticks=$(( live_ticks + t1 - t0 )); me_ticks=$(( me_ticks + t2 - t1 ))
  live=$(awk -v a="$live" -v b="$l" 'BEGIN { printf "%.2f", a + b / 2 }')
  me=$(awk -v a="$me" -v b="$m" 'BEGIN { printf "%.2f", a + b / 2 }')
done
live_us=$(per_request_us "$live_ticks" "$live_n")
me_us=$(per_request_us "$me_ticks" "$me_n")
# The raw argon2 rate just before and just after the login storm (the server idle).
raw_rate() { ./target/release/examples/argon2_rate "$1" | sed -n 's/.*: \([0-9.]*\) hashes\/s/\1/p'; }
raw_before=$(raw_rate "$half_round")
logins=$(wrk -t2 -c256 -d"${DURATION}s" --timeout 30s -s bench/login.lua "$BASE/api/auth/login" | rps)
sleep 2 # the queued logins drain
raw_after=$(raw_rate "$half_round")
raw_rate=$(awk -v a="$raw_before" -v b="$raw_after" 'BEGIN { printf "%.1f", (a + b) / 2 }')
peak_kib=$(rss_kib "$server_pid" VmHWM)

# /me latency while a login storm keeps the hashing pool full.
wrk -t1 -c64 -d"$((DURATION + 2))s" --timeout 30s -s bench/login.lua "$BASE/api/auth/login" >/dev/null &
storm=$!
sleep 1
me_storm=$(wrk -t1 -c4 -d"${DURATION}s" --latency -H "Authorization: Bearer $token" "$BASE/api/auth/me")
wait "$storm"
me_p99=$(echo "$me_storm" | p99_ms)

# One request at a time: a wrong password for an existing account against an unknown
# login, in alternating rounds so that neither gains from going first. First let the
# storm's queued logins (up to 64 x one hash) drain, or the first round measures them.
sleep 3
round=$(( (DURATION + 3) / 4 ))
wrong_sum=0; unknown_sum=0
for _ in 1 2; do
  w=$(BENCH_PASSWORD="not the password" wrk -t1 -c1 -d"${round}s" -s bench/login.lua "$BASE/api/auth/login" | mean_ms)
  u=$(BENCH_LOGIN="nobody-here" wrk -t1 -c1 -d"${round}s" -s bench/login.lua "$BASE/api/auth/login" | mean_ms)
  wrong_sum=$(awk -v a="$wrong_sum" -v b="$w" 'BEGIN { print a + b }')
  unknown_sum=$(awk -v a="$unknown_sum" -v b="$u" 'BEGIN { print a + b }')
done
wrong_ms=$(awk -v s="$wrong_sum" 'BEGIN { printf "%.2f", s / 2 }')
unknown_ms=$(awk -v s="$unknown_sum" 'BEGIN { printf "%.2f", s / 2 }')

# The same for password reset requests: an account's address against nobody's.
# Sub-millisecond means drift with whatever ran just before: the order alternates.
forgot_mean() {
  BENCH_EMAIL="$1" wrk -t1 -c1 -d"${round}s" -s bench/forgot.lua "$BASE/api/auth/password/forgot" | mean_ms
}
known_sum=0; nobody_sum=0
for order in known-first nobody-first known-first nobody-first; do
  if [ "$order" = known-first ]; then
    k=$(forgot_mean bench@example.com); n=$(forgot_mean nobody@example.com)
  else
    n=$(forgot_mean nobody@example.com); k=$(forgot_mean bench@example.com)
  fi
  known_sum=$(awk -v a="$known_sum" -v b="$k" 'BEGIN { print a + b }')
  nobody_sum=$(awk -v a="$nobody_sum" -v b="$n" 'BEGIN { print a + b }')
done
known_ms=$(awk -v s="$known_sum" 'BEGIN { printf "%.3f", s / 4 }')
nobody_ms=$(awk -v s="$nobody_sum" 'BEGIN { printf "%.3f", s / 4 }')

# Passwordless sign-ins (start, a software passkey's answer, finish) from 4 clients:
# the server's CPU time per ceremony, its SQLite work included (in its process).
passkey_token=$(login_token "$BASE" bench "$BENCH_PASSWORD_GOOD")
t0=$(cpu_ticks "$server_pid"); d0=$(db_ticks "$server_pid")
out=$(./target/release/examples/passkey_ceremonies "$BASE" "http://localhost:$PORT" \
  "$passkey_token" "$DURATION" 4)
t1=$(cpu_ticks "$server_pid"); d1=$(db_ticks "$server_pid")
ceremonies=$(echo "$out" | awk '/^ceremonies:/ {print $2}')
ceremony_rate=$(echo "$out" | sed -n 's/.*(\([0-9.]*\)\/s)/\1/p')
ceremony_us=$(per_request_us $(( t1 - t0 )) "$ceremonies")
ceremony_db_us=$(per_request_us $(( d1 - d0 )) "$ceremonies")
ceremony_own_us=$(per_request_us $(( t1 - t0 - d1 + d0 )) "$ceremonies")

stop_server "$server_pid"
raw=$(./target/release/examples/argon2_rate 1 | sed 's/: [0-9.]* hashes\/s//')

cat <<REPORT
Gatehouse benchmark ($(nproc) cores, ${DURATION}s per figure, release build, SQLite)
  GET  /api/health/live             $live req/s
  GET  /api/auth/me                 $me req/s
  server CPU per live request       $live_us µs
  server CPU per me request         $me_us µs
  POST /api/auth/login              $logins logins/s
  raw argon2                        $raw_rate hashes/s ($raw; before $raw_before, after $raw_after)
  /api/auth/me p99 during logins    $me_p99 ms
  passkey sign-ins (start + finish) $ceremony_rate ceremonies/s
  server CPU per passkey sign-in    $ceremony_us µs ($ceremony_db_us in SQLite's threads)
  login, wrong password (mean)      $wrong_ms ms
  login, unknown login (mean)       $unknown_ms ms
  reset request, known (mean)       $known_ms ms
  reset request, nobody's (mean)    $nobody_ms ms
  start-up to first answer          $startup_ms ms
  RSS idle                          $(mib "$idle_kib") MiB
  RSS peak (256 logins in flight)   $(mib "$peak_kib") MiB
Ratios and targets
  me / live        $(ratio "$me" "$live")  (>= 0.85: $(verdict "$(ratio "$me" "$live")" 0.85 ">="))
  live / me CPU    $(ratio "$live_us" "$me_us")  (the same ratio from the server's CPU time alone)
  logins / argon2  $(ratio "$logins" "$raw_rate")  (>= 0.95: $(verdict "$(ratio "$logins" "$raw_rate")" 0.95 ">="))
  me p99           $me_p99 ms  (< 5: $(verdict "$me_p99" 5 "<"))
  passkey CPU      $ceremony_own_us µs per sign-in outside the database  (< 2000: $(verdict "$ceremony_own_us" 2000 "<"))
  wrong / unknown  $(ratio "$wrong_ms" "$unknown_ms")  (the closer to 1.00, the less a login's timing tells)
  reset known / nobody's  $(ratio "$known_ms" "$nobody_ms")  (the closer to 1.00, the less a reset request's timing tells)
  peak RSS         $(mib "$peak_kib") MiB  (< 150: $(verdict "$(mib "$peak_kib")" 150 "<"))
  idle RSS         $(mib "$idle_kib") MiB  (< 20: $(verdict "$(mib "$idle_kib")" 20 "<"))
  start-up         $startup_ms ms  (< 1000: $(verdict "$startup_ms" 1000 "<"))
REPORT
