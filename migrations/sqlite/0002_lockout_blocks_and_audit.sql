-- 0002: login lockout counters, blocked accounts and the audit trail (SQLite).

-- failed_logins counts wrong passwords since the last successful login (or unlock).
-- locked_at is set when it reaches the configured maximum; locked_until is when the
-- lock lapses, NULL while locked_at is set meaning "until an admin unlocks".
ALTER TABLE accounts ADD COLUMN failed_logins BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN locked_at BIGINT;
ALTER TABLE accounts ADD COLUMN locked_until BIGINT;

-- A block is an admin's decision and lasts until an admin lifts it; blocked_by is
-- the admin's account (NULL when the CLI blocked, or that admin was deleted since).
ALTER TABLE accounts ADD COLUMN blocked_at BIGINT;
ALTER TABLE accounts ADD COLUMN block_reason TEXT;
ALTER TABLE accounts ADD COLUMN blocked_by BIGINT REFERENCES accounts (id) ON DELETE SET NULL;

-- One row per security event. account_id has no foreign key on purpose: the history
-- of a deleted account stays readable. actor_id is whoever acted (the account itself
-- for its own logins, an admin for admin actions, NULL for the CLI or an unknown login).
CREATE TABLE auth_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT,
    actor_id BIGINT,
    kind TEXT NOT NULL,
    detail TEXT,
    ip TEXT,
    user_agent TEXT,
    created_at BIGINT NOT NULL
);

CREATE INDEX auth_events_account_idx ON auth_events (account_id, id);
