-- 0004: an optional display name, shown instead of the username where set (NFC, at
-- most 100 characters, no control characters; checked by the application).
ALTER TABLE accounts ADD COLUMN display_name TEXT;
