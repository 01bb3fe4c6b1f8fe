-- 0018: a pending (two-factor) session keeps the password version its password step
-- checked, so its second step completes only while that password is still current
-- (a reset landing between the two steps ends the login). A reset link no longer
-- voids the account's other live links of its purpose (at most three live, the
-- oldest voided beyond that): an anonymous request must not kill a victim's link.
ALTER TABLE sessions ADD COLUMN password_version BIGINT;
DROP INDEX email_tokens_one_live_idx;
-- The order of an account's links of one purpose, for voiding the oldest (several
-- may be made within one second).
ALTER TABLE email_tokens ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
-- Attempts whose secret is being checked, apart from the failures verified: a burst
-- of right passwords never reads as failures (nor locks). The count lapses at
-- attempts_in_flight_until, so a crash cannot leave one reserved for ever.
ALTER TABLE accounts ADD COLUMN attempts_in_flight BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN attempts_in_flight_until BIGINT;
-- Rate-limit buckets every instance shares (rate_limit_store = "database"): one GCRA
-- arrival time per digest of a limit and its key. UNLOGGED: a crash may forget the
-- buckets, which only gives everyone a fresh allowance, and no WAL is written per check.
-- tat: the theoretical arrival time of the next request, in unix microseconds.
CREATE UNLOGGED TABLE rate_limits (
    key TEXT PRIMARY KEY,
    tat BIGINT NOT NULL
);
