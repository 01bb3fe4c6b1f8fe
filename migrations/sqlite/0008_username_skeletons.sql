-- 0008: the UTS #39 confusable skeleton of each username ("rооt" with Cyrillic o's
-- and "root" share one), unique, so two look-alikes can never both be registered,
-- even at the same moment. Existing rows are filled in by the application at start-up
-- (SQL cannot compute skeletons), oldest account first; a later account whose
-- skeleton is already taken keeps NULL (it works as before, and is logged for an admin).
ALTER TABLE accounts ADD COLUMN username_skeleton TEXT;
CREATE UNIQUE INDEX accounts_username_skeleton_idx ON accounts (username_skeleton);
