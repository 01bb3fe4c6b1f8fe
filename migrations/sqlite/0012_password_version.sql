-- 0012: a counter every password change raises. A flow that checked the password at
-- one version acts only while it is still current (a change racing a reset loses; a
-- login or a change of address that checked the old password ends), exactly, where the
-- change time (seconds) could not tell two changes within one second apart.
ALTER TABLE accounts ADD COLUMN password_version BIGINT NOT NULL DEFAULT 0;
