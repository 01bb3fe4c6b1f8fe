#!/usr/bin/env bash
# The API against its own OpenAPI document. First openapi-spec-validator (pinned)
# checks the document itself. Then schemathesis (pinned, same virtual environment)
# sends generated requests to the debug binary and fails on any 5xx or any answer the
# document does not describe (status, content type, body schema). Every operation
# that needs a credential gets one: a superuser's bearer token, a fresh session for
# each operation that ends or changes its session, a refresh token for refresh, the
# pending session of a login waiting for its second factor, and the introspection
# secret. tests/contract/hooks.py puts in what generated data cannot guess: the
# account's password, the current TOTP code and ids of accounts that exist. A bounded number of
# examples per operation and a fixed seed keep it short and repeatable.
#
#   bash tests/contract/run.sh            # builds the debug binary if needed
#   EXAMPLES=50 bash tests/contract/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

SCHEMATHESIS_VERSION=4.32.5
SPEC_VALIDATOR_VERSION=0.9.0
EXAMPLES=${EXAMPLES:-15}
SEED=${SEED:-20261127}
venv=${SCHEMATHESIS_VENV:-target/schemathesis-venv}

installed() { "$venv/bin/pip" show "$1" 2>/dev/null | grep -qx "Version: $2"; }
if [ ! -x "$venv/bin/pip" ] || ! installed schemathesis "$SCHEMATHESIS_VERSION" \
  || ! installed openapi-spec-validator "$SPEC_VALIDATOR_VERSION"; then
  echo "installing schemathesis $SCHEMATHESIS_VERSION and openapi-spec-validator $SPEC_VALIDATOR_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION" \
    "openapi-spec-validator==$SPEC_VALIDATOR_VERSION"
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
base="http://127.0.0.1:$port"
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }
post() { curl -fs -H 'Content-Type: application/json' "$@"; }
sign_in() { # login password → an access token
  post -d "{\"login\": \"$1\", \"password\": \"$2\"}" "$base/api/auth/login" | json_field access_token
}
totp() { # base32 secret → the code of now
  python3 - "$1" <<'PY'
import base64, hashlib, hmac, struct, sys, time
secret = sys.argv[1].upper()
key = base64.b32decode(secret + "=" * (-len(secret) % 8))
digest = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
offset = digest[-1] & 15
print("%06d" % ((struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1000000))
PY
}

echo "== the document: openapi-spec-validator $SPEC_VALIDATOR_VERSION =="
curl -fs "$base/api/openapi.json" >"$work/openapi.json"
"$venv/bin/openapi-spec-validator" "$work/openapi.json"

# A second account with TOTP on: its password login waits for the second factor, and
# that pending session's token is what /2fa/verify takes.
second_password="plum orbit lantern quietly"
post -d "{\"username\": \"second\", \"email\": \"second@example.com\", \"password\": \"$second_password\"}" \
  "$base/api/auth/register" >/dev/null
second=$(sign_in second "$second_password")
secret=$(post -H "Authorization: Bearer $second" -d "{\"password\": \"$second_password\"}" \
  "$base/api/auth/2fa/setup" | json_field secret)
recovery_code=$(post -H "Authorization: Bearer $second" -d "{\"code\": \"$(totp "$secret")\"}" \
  "$base/api/auth/2fa/enable" | python3 -c 'import json,sys; print(json.load(sys.stdin)["recovery_codes"][0])')
pending=$(sign_in second "$second_password")
# Accounts for the admin routes to act on (see hooks.py).
member_ids=""
for name in member1 member2 member3; do
  id=$(post -d "{\"username\": \"$name\", \"email\": \"$name@example.com\", \"password\": \"$second_password\"}" \
    "$base/api/auth/register" | python3 -c 'import json,sys; print(json.load(sys.stdin)["account"]["id"])')
  member_ids="$member_ids $id"
done
export CONTRACT_PASSWORD="$password" CONTRACT_RECOVERY_CODE="$recovery_code" CONTRACT_MEMBER_IDS="$member_ids"
export SCHEMATHESIS_HOOKS="$PWD/tests/contract/hooks.py"

st_run() {
  "$venv/bin/st" run "$base/api/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples "$EXAMPLES" --seed "$SEED" --workers 1 --request-timeout 10 "$@"
}

# Operations that end or change the session they are sent with run alone, each on a
# session of its own, so every other operation is exercised signed in. The WebSocket
# is documented but not HTTP: tests/api/sockets.rs covers it.
# The password change goes last: the known password may change with it.
alone=(
  '^/api/auth/logout$'
  '^/api/auth/sessions/\{id\}$'
  '^/api/auth/2fa/enable$'
  '^/api/auth/2fa/disable$'
  '^/api/auth/password$'
)
apart='^/api/(auth/(logout|password|refresh|sessions/\{id\}|2fa/(enable|disable|verify)|introspect)|ws)$'
status=0
token=$(sign_in root "$password")
echo "== signed in as a superuser =="
st_run --header "Authorization: Bearer $token" --exclude-path-regex "$apart" || status=$?
echo "== /api/auth/refresh, with a refresh token =="
refresh_token=$(post -d "{\"login\": \"root\", \"password\": \"$password\"}" "$base/api/auth/login" | json_field refresh_token)
st_run --header "Authorization: Bearer $refresh_token" --include-path-regex '^/api/auth/refresh$' || status=$?
for path in "${alone[@]}"; do
  echo "== $path, on a session of its own =="
  st_run --header "Authorization: Bearer $(sign_in root "$password")" --include-path-regex "$path" || status=$?
done
echo "== /api/auth/2fa/verify, with a login's pending session =="
# Generated cases only: the hook's recovery code must come before three wrong codes
# end the pending session, and the coverage phase's cases do not pass through hooks.
st_run --header "Authorization: Bearer $pending" --include-path-regex '^/api/auth/2fa/verify$' \
  --phases fuzzing || status=$?
echo "== /api/auth/introspect, with the introspection secret =="
st_run --header "Authorization: Bearer $GATEHOUSE_INTROSPECTION_SECRET" \
  --include-path-regex '^/api/auth/introspect$' || status=$?
echo "after the run, the test's session answers /api/auth/me with" \
  "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$base/api/auth/me")"
if grep -q "panicked" "$work/server.log"; then
  echo "the server panicked:" >&2
  grep -n -A3 "panicked" "$work/server.log" >&2
  status=1
fi
exit "$status"
