-- 0006: passwords are hashed in their NFKC form from now on. Hashes made before
-- (password_normalized = 0) were made from the password as typed; such an account's
-- next successful check re-hashes the normalised form and sets the flag.
ALTER TABLE accounts ADD COLUMN password_normalized BIGINT NOT NULL DEFAULT 0;
