-- The admin's account search without reading every account: trigram indexes
-- (pg_trgm, a trusted extension shipped with PostgreSQL) serve searches anywhere in
-- the username or email key; pattern-ops indexes serve the searches pg_trgm cannot
-- (no three letters or digits in a row), which match the start of the keys.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX accounts_username_trgm_idx ON accounts USING gin (username_key gin_trgm_ops);
CREATE INDEX accounts_email_trgm_idx ON accounts USING gin (email_key gin_trgm_ops);
CREATE INDEX accounts_username_prefix_idx ON accounts (username_key text_pattern_ops);
CREATE INDEX accounts_email_prefix_idx ON accounts (email_key text_pattern_ops);
