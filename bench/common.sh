# Shared by the benchmark's modes (sourced by bench/run.sh, bench/growth.sh and
# bench/instances.sh): the release build, a scratch folder, the servers' settings and
# wrk's figures.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION=${DURATION:-10}

if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package)" >&2
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi

cargo build --release --quiet --bin gatehouse --example argon2_rate --example passkey_ceremonies

work=$(mktemp -d)
server_pids=()
cleanup() {
  for pid in "${server_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${server_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "${cleanup_extra:-}" ] && eval "$cleanup_extra"
  rm -rf "$work"
}
trap cleanup EXIT

random_secret() { echo "bench-$(head -c 48 /dev/urandom | base64 | tr -d '\n')"; }
export ROCKET_PROFILE=release ROCKET_LOG_LEVEL=off
export GATEHOUSE_SECRET=$(random_secret)
export GATEHOUSE_TWO_FACTOR_KEY=$(random_secret)
export GATEHOUSE_SIGNING_KEY_SECRET=$(random_secret)
export GATEHOUSE_TOKEN_LOCATIONS='["header"]'
# The wrong-password figure sends thousands of them; lockout would stop it at five.
export GATEHOUSE_LOCKOUT_MAX_ATTEMPTS=0
# The figures measure the service, not its brakes: rate limits off, and a hashing queue
# long enough that the 256 concurrent logins all wait their turn (the peak memory of a
# full queue) instead of being answered 503 server_busy.
export GATEHOUSE_RATE_LIMIT_ENABLED=false
export GATEHOUSE_HASH_QUEUE_MAX=1024
# Release needs an explicit mail transport: .eml files, so the reset requests do all
# their work; no new-device notice for each of the thousands of logins.
export GATEHOUSE_MAIL_TRANSPORT=file GATEHOUSE_MAIL_DIR="$work/mail"
export GATEHOUSE_NOTIFY_NEW_DEVICE=false
export GATEHOUSE_PUBLIC_URL="http://127.0.0.1:${BENCH_PORT:-8099}"

# Starts an instance on port $1 (with the exported settings) and waits for it to
# answer; its pid is in $server_pid and its start-up time, in ms, in $startup_ms.
start_server() {
  local port=$1 start
  start=$(date +%s%N)
  # Passkeys need a name, not an address: the ceremonies' origin is localhost.
  ROCKET_PORT=$port GATEHOUSE_PUBLIC_URL="http://127.0.0.1:$port" \
    GATEHOUSE_WEBAUTHN_ORIGIN="http://localhost:$port" \
    ./target/release/gatehouse serve >"$work/server-$port.log" 2>&1 &
  server_pid=$!
  server_pids+=("$server_pid")
  until curl -sf "http://127.0.0.1:$port/api/health/live" >/dev/null; do
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server-$port.log"; exit 1; }
    sleep 0.005
  done
  startup_ms=$(( ($(date +%s%N) - start) / 1000000 ))
}

stop_server() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

BENCH_PASSWORD_GOOD="quiet harbour lantern"
# Registers the benchmark account on the instance at $1 and prints an access token.
bench_token() {
  curl -s "$1/api/auth/register" \
    --json "{\"username\":\"bench\",\"email\":\"bench@example.com\",\"password\":\"$BENCH_PASSWORD_GOOD\"}" >/dev/null
  login_token "$1" bench "$BENCH_PASSWORD_GOOD"
}

# Logs $2 in with password $3 at $1 and prints the access token.
login_token() {
  local token
  token=$(curl -sf "$1/api/auth/login" --json "{\"login\":\"$2\",\"password\":\"$3\"}" |
    sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
  [ -n "$token" ] || { echo "login of $2 failed" >&2; exit 1; }
  echo "$token"
}

rss_kib() { awk -v key="$2" '$1 == key":" {print $2}' "/proc/$1/status"; }
rps() { awk '/^Requests\/sec:/ {print $2}'; }
# wrk's count of completed requests.
requests() { awk '/requests in/ {print $1}'; }
# The CPU time (user + system, in clock ticks) process $1 has used.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# The same for the database's own threads only (sqlx runs each SQLite connection on
# a thread of its own, named sqlx-sqlite-worker-N).
db_ticks() { cat /proc/"$1"/task/*/stat 2>/dev/null | awk '$2 ~ /^\(sqlx-sqlite/ {t += $14 + $15} END {print t + 0}'; }
# Microseconds of CPU per request: $1 ticks over $2 requests.
per_request_us() { awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t * 1000000 / hz / n }'; }
# wrk's latency column ($2 of the line whose $1 is given) in milliseconds.
latency_ms() {
  awk -v key="$1" '$1 == key { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } print v }'
}
p99_ms() { latency_ms "99%"; }
mean_ms() { latency_ms "Latency"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
verdict() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN { ok = (op == ">=") ? v >= t : v < t; print ok ? "ok" : "MISSED" }'; }
sum() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a + b }'; }
max() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b) ? a : b }'; }

# A fresh PostgreSQL database on the server at $1 named after $2, dropped on exit, as
# DATABASE_URL; $3 names the mode for the sentence when the server does not answer.
fresh_postgres_database() {
  local server=$1 name=$2 mode=$3
  psql -q "$server" -c "SELECT 1" >/dev/null 2>&1 ||
    { echo "$mode needs PostgreSQL: set BENCH_POSTGRES_URL (now $server)" >&2; exit 1; }
  database="${name}_$$"
  psql -q "$server" -c "CREATE DATABASE $database"
  cleanup_extra="psql -q '$server' -c 'DROP DATABASE IF EXISTS $database WITH (FORCE)'"
  export DATABASE_URL="${server%/*}/$database"
}
