-- 0003: optional TOTP two-factor authentication (SQLite).

-- totp_secret is the TOTP key sealed with AES-256-GCM under `two_factor_key` (never
-- the plain key); with totp_enabled_at NULL it is a setup awaiting its first code.
-- totp_last_step is the last time step whose code was accepted: codes of that step
-- or earlier are refused, so a code works once.
ALTER TABLE accounts ADD COLUMN totp_secret TEXT;
ALTER TABLE accounts ADD COLUMN totp_enabled_at BIGINT;
ALTER TABLE accounts ADD COLUMN totp_last_step BIGINT;

-- A session opened by the password alone, for an account with 2FA on, is pending:
-- its token only reaches /api/auth/2fa/verify and logout. otp_failures counts the
-- wrong codes sent on it.
ALTER TABLE sessions ADD COLUMN two_factor_pending INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN otp_failures BIGINT NOT NULL DEFAULT 0;

-- Single-use recovery codes, stored only as keyed hashes (HMAC-SHA-256).
CREATE TABLE recovery_codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE INDEX recovery_codes_account_idx ON recovery_codes (account_id);
