-- Synthetic rows for the data-growth benchmark (bench/growth.sh) and the paging tests:
-- {accounts} accounts named seed1, seed2, … (seedN@seed.example) whose password hash
-- matches no password, with the confusable skeletons registration would give them
-- (1 reads as l, 0 as o; without one, start-up would compute each as for an account
-- older than migration 0008), {sessions} sessions spread over them, made at {now} and live
-- for a day, and {events} audit events recorded at {events_at}. Portable between
-- SQLite and PostgreSQL: the caller replaces the braces and runs the statements in
-- order.
INSERT INTO accounts (username, username_key, username_skeleton, email, email_key,
                      password_hash, created_at, updated_at, password_changed_at)
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {accounts})
SELECT 'seed' || i, 'seed' || i, replace(replace('seed' || i, '1', 'l'), '0', 'o'),
       'seed' || i || '@seed.example', 'seed' || i || '@seed.example',
       '!', {now}, {now}, {now}
FROM n WHERE i <= {accounts};

INSERT INTO sessions (id, account_id, created_at, last_used_at, expires_at, rotated_at,
                      user_agent, ip)
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {sessions}),
first AS (SELECT id FROM accounts WHERE username_key = 'seed1')
SELECT 'seed-session-' || i, first.id + (i - 1) % {accounts}, {now}, {now}, {now} + 86400,
       {now}, 'seed', '192.0.2.1'
FROM n, first WHERE i <= {sessions};

INSERT INTO auth_events (account_id, kind, detail, ip, user_agent, created_at)
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {events}),
first AS (SELECT id FROM accounts WHERE username_key = 'seed1')
SELECT first.id + (i - 1) % {accounts}, 'login_succeeded', NULL, '192.0.2.1', 'seed', {events_at}
FROM n, first WHERE i <= {events};
