-- 0013: when and how a session's holder last proved themselves (password, totp,
-- recovery_code), for routes that want a recent proof (the Fresh guard). A login is a
-- proof; a refresh is not. Sessions from before count from their login.
ALTER TABLE sessions ADD COLUMN proved_at BIGINT;
ALTER TABLE sessions ADD COLUMN proved_by TEXT;
UPDATE sessions SET proved_at = created_at, proved_by = 'password' WHERE two_factor_pending = 0;
