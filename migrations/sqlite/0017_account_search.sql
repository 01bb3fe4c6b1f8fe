-- The admin's account search without reading every account: a trigram full-text
-- index (FTS5) of the username and email keys, kept by triggers, serves searches of
-- three characters or more anywhere in either key.
CREATE VIRTUAL TABLE accounts_search USING fts5(
    username_key, email_key, content = 'accounts', content_rowid = 'id', tokenize = 'trigram'
);
INSERT INTO accounts_search (accounts_search) VALUES ('rebuild');

CREATE TRIGGER accounts_search_insert AFTER INSERT ON accounts BEGIN
    INSERT INTO accounts_search (rowid, username_key, email_key)
    VALUES (new.id, new.username_key, new.email_key);
END;

CREATE TRIGGER accounts_search_delete AFTER DELETE ON accounts BEGIN
    INSERT INTO accounts_search (accounts_search, rowid, username_key, email_key)
    VALUES ('delete', old.id, old.username_key, old.email_key);
END;

CREATE TRIGGER accounts_search_update AFTER UPDATE OF username_key, email_key ON accounts BEGIN
    INSERT INTO accounts_search (accounts_search, rowid, username_key, email_key)
    VALUES ('delete', old.id, old.username_key, old.email_key);
    INSERT INTO accounts_search (rowid, username_key, email_key)
    VALUES (new.id, new.username_key, new.email_key);
END;
