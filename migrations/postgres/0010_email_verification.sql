-- 0010: verified email addresses, and the single-use tokens mail links carry. A token
-- is stored only as its SHA-256 (it is 256 random bits, so no salt is needed), bound
-- to its purpose, its account and the address it was sent to; a newer one of the same
-- purpose voids the older. Accounts that exist before this are unverified.
ALTER TABLE accounts ADD COLUMN email_verified_at BIGINT;
CREATE TABLE email_tokens (
    token_hash TEXT PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    email TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX email_tokens_account_idx ON email_tokens (account_id, purpose);
