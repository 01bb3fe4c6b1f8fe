-- 0005: attempts are counted before their secret is checked, and attempts refused
-- while an account is locked or blocked share one audit row per period.

-- A refused attempt adds to the row of its period (period_key names the account and
-- the start of its lock or block) instead of writing a row of its own: a flood of
-- guesses at a locked account costs one row, with the count in repeats and the time
-- of the latest in last_at. period_key is NULL for every other event, and NULLs never
-- collide in a unique index.
ALTER TABLE auth_events ADD COLUMN period_key TEXT;
ALTER TABLE auth_events ADD COLUMN repeats BIGINT NOT NULL DEFAULT 1;
ALTER TABLE auth_events ADD COLUMN last_at BIGINT;
CREATE UNIQUE INDEX auth_events_period_idx ON auth_events (period_key);

-- failed_logins now counts attempts begun since the last success (an attempt whose
-- secret proves right is given back); the attempt that spends the budget sets the
-- lock at once, so later ones are refused before they are checked.
