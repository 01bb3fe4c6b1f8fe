-- The passkeys part's tables (SQLite). Numbered by timestamp like a feature's.

-- Each account's WebAuthn user handle: a random UUID, never the account id, so a
-- passkey names no account number. `passkeys` counts its passkeys: the limit is one
-- guarded update of this row, exact under concurrent registrations.
CREATE TABLE passkey_users (
    account_id BIGINT PRIMARY KEY NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_handle TEXT NOT NULL UNIQUE,
    passkeys BIGINT NOT NULL DEFAULT 0
);

-- One row per passkey. `credential` is webauthn-rs's serialised passkey (public key,
-- counter, backup flags); `sign_count` and `backed_up` repeat what it says, so the
-- counter check is a guarded update and the list needs no decoding.
CREATE TABLE passkeys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    credential TEXT NOT NULL,
    sign_count BIGINT NOT NULL DEFAULT 0,
    backed_up INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);

CREATE INDEX passkeys_account_idx ON passkeys (account_id);

-- A ceremony in progress: the webauthn-rs state between start and finish. Taken
-- (deleted) by the finish that uses it, so it works once; bound to the session or
-- pending session that started it, if any.
CREATE TABLE passkey_ceremonies (
    id TEXT PRIMARY KEY NOT NULL,
    purpose TEXT NOT NULL,
    account_id BIGINT REFERENCES accounts (id) ON DELETE CASCADE,
    session_id TEXT,
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX passkey_ceremonies_expiry_idx ON passkey_ceremonies (expires_at);
