-- 0001: accounts and their sessions (SQLite).
-- Timestamps are unix seconds and flags 0/1 integers, the types both backends decode
-- alike through sqlx's Any driver.

-- username and email keep the form the user typed (trimmed, NFKC); the *_key columns
-- hold the lower-cased form that uniqueness and login look-ups use.
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT NOT NULL,
    username_key TEXT NOT NULL,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    is_active INTEGER NOT NULL DEFAULT 1,
    is_staff INTEGER NOT NULL DEFAULT 0,
    is_superuser INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    password_changed_at BIGINT NOT NULL,
    CONSTRAINT accounts_username_unique UNIQUE (username_key),
    CONSTRAINT accounts_email_unique UNIQUE (email_key)
);

-- One row per login (per device). No token is stored: a refresh token is a signed
-- claim on (id, refresh_generation), so rotation only bumps the generation, and the
-- previous generation stays honoured for the grace interval after rotated_at.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    persistent INTEGER NOT NULL DEFAULT 0,
    refresh_generation BIGINT NOT NULL DEFAULT 0,
    rotated_at BIGINT NOT NULL,
    user_agent TEXT,
    ip TEXT,
    revoked_at BIGINT,
    revoke_reason TEXT
);

CREATE INDEX sessions_account_idx ON sessions (account_id);
