-- 0009: an unconfirmed 2FA enrolment belongs to the session that started it: only that
-- session may see its secret again or confirm it (and so receive the recovery codes).
ALTER TABLE accounts ADD COLUMN totp_setup_session TEXT;
