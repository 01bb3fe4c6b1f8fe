-- 0011: the short-lived form tokens a link page hands out for a mail link's token, so
-- the link's own token leaves the address bar (and every log and Referer) at once.
-- Each stands for one email token and dies with it; like the tokens themselves, only
-- its SHA-256 is stored. Several may stand for one token (a mail scanner opened the
-- link before its owner did), and spending through any of them spends the token.
CREATE TABLE link_forms (
    form_hash TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL REFERENCES email_tokens (token_hash) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL
);
CREATE INDEX link_forms_token_idx ON link_forms (token_hash);
CREATE INDEX email_tokens_expiry_idx ON email_tokens (expires_at);
-- One live token per account and purpose, whatever races: of two requests issuing one
-- at once (several instances), the second fails rather than leaving two valid links.
CREATE UNIQUE INDEX email_tokens_one_live_idx ON email_tokens (account_id, purpose) WHERE used_at IS NULL;
