-- 0015: on PostgreSQL, triggers announce changes of sessions and accounts to every
-- instance (LISTEN/NOTIFY). SQLite serves one process, whose own changes forget its
-- cache directly; nothing to do here, but the numbering stays the same on both.
SELECT 1;
