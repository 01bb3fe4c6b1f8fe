#!/usr/bin/env bash
# The API against its own OpenAPI document: schemathesis (pinned, in a virtual
# environment) sends generated requests to the debug binary, signed in as a
# superuser with a bearer token, and fails on any 5xx or any answer the document does
# not describe (status, content type, body schema). A bounded number of examples per
# operation and a fixed seed keep it short and repeatable.
#
#   bash tests/contract/run.sh            # builds the debug binary if needed
#   EXAMPLES=50 bash tests/contract/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

SCHEMATHESIS_VERSION=4.32.5
EXAMPLES=${EXAMPLES:-15}
SEED=${SEED:-20261127}
venv=${SCHEMATHESIS_VENV:-target/schemathesis-venv}

if [ ! -x "$venv/bin/st" ] || ! "$venv/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  echo "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build --quiet --bin gatehouse
binary=target/debug/gatehouse
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

export ROCKET_PROFILE=debug ROCKET_ADDRESS=127.0.0.1 ROCKET_PORT=$port ROCKET_LOG_LEVEL=${ROCKET_LOG_LEVEL:-critical}
export DATABASE_URL="sqlite://$work/contract.db"
export GATEHOUSE_MAIL_TRANSPORT=file GATEHOUSE_MAIL_DIR="$work/mail"
export GATEHOUSE_RATE_LIMIT_ENABLED=false GATEHOUSE_LOCKOUT_MAX_ATTEMPTS=0
export GATEHOUSE_ARGON2_MEMORY_KIB=512 GATEHOUSE_ARGON2_ITERATIONS=1
export GATEHOUSE_INTROSPECTION_SECRET="contract-introspection-credential-5e1f9a7c3b2d"

password="contract test passphrase"
echo "$password" | "$binary" create-superuser --username root --email root@example.com \
  --password-stdin >/dev/null
"$binary" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/api/health/live" >/dev/null 2>&1 && break
  sleep 0.1
done
sign_in() {
  curl -fs -H 'Content-Type: application/json' \
    -d "{\"login\": \"root\", \"password\": \"$password\"}" \
    "http://127.0.0.1:$port/api/auth/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
token=$(sign_in)
st_run() {
  "$venv/bin/st" run "http://127.0.0.1:$port/api/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples "$EXAMPLES" --seed "$SEED" --workers 1 --request-timeout 10 "$@"
}

# Operations that end the session they are sent with run last, on a session of their
# own, so every other operation is exercised signed in.
ending='^/api/auth/(logout|password|sessions.*|2fa/(disable|enable|verify))$'
status=0
st_run --header "Authorization: Bearer $token" --exclude-path-regex "$ending" || status=$?
st_run --header "Authorization: Bearer $(sign_in)" --include-path-regex "$ending" || status=$?
echo "after the run, the test's session answers /api/auth/me with" \
  "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/auth/me")"
if grep -q "panicked" "$work/server.log"; then
  echo "the server panicked:" >&2
  grep -n -A3 "panicked" "$work/server.log" >&2
  status=1
fi
exit "$status"
