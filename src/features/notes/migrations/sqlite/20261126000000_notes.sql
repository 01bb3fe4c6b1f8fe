-- The notes feature's tables (SQLite). Feature migrations are numbered by
-- timestamp, above Gatehouse's own (0001-9999), so later Gatehouse migrations never
-- clash with them.

-- Each account's private notes; they go with the account.
CREATE TABLE notes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX notes_account_idx ON notes (account_id, id);

-- How many notes each account holds: the per-account limit is one guarded update of
-- this row (never a count read before an insert), exact under concurrent requests.
CREATE TABLE note_counts (
    account_id BIGINT PRIMARY KEY NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    notes BIGINT NOT NULL
);
