-- 0007: indexes for pruning, which deletes sessions some time after they ended and
-- audit events past their retention, so neither table grows for ever.
CREATE INDEX sessions_expires_idx ON sessions (expires_at);
CREATE INDEX sessions_revoked_idx ON sessions (revoked_at);
CREATE INDEX auth_events_created_idx ON auth_events (created_at);
