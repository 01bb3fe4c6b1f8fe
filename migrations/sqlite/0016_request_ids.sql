-- The request that caused each audit event (its X-Request-Id), so an event can be
-- found in the logs and a log line in the audit trail.
ALTER TABLE auth_events ADD COLUMN request_id TEXT;
