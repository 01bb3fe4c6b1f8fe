-- The admin's account search without reading every account: trigram indexes
-- (pg_trgm, a trusted extension shipped with PostgreSQL) serve searches of three
-- characters or more anywhere in the username or email key; pattern-ops indexes serve
-- the shorter ones, which are prefixes.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX accounts_username_trgm_idx ON accounts USING gin (username_key gin_trgm_ops);
CREATE INDEX accounts_email_trgm_idx ON accounts USING gin (email_key gin_trgm_ops);
CREATE INDEX accounts_username_prefix_idx ON accounts (username_key text_pattern_ops);
CREATE INDEX accounts_email_prefix_idx ON accounts (email_key text_pattern_ops);
