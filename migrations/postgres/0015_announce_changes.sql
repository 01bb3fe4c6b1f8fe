-- 0015: every change of a session or an account that the guards' session cache holds
-- is announced on the channel `gatehouse_changes`, by triggers, so in the very
-- transaction that makes it, whoever makes it (API, pages, CLI, pruning): each
-- instance listening forgets the affected entries at once. `s:<session id>` names a
-- session, `a:<account id>` an account (and every session of it).
CREATE FUNCTION gatehouse_announce() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('gatehouse_changes',
        CASE TG_TABLE_NAME WHEN 'sessions' THEN 's:' ELSE 'a:' END || OLD.id);
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

-- Uses (last_used_at) and refresh rotations alone are not announced; an expiry that
-- slides is, like revocation, the second factor and a new proof.
CREATE TRIGGER sessions_changed AFTER UPDATE ON sessions FOR EACH ROW
    WHEN ((OLD.revoked_at, OLD.expires_at, OLD.two_factor_pending, OLD.proved_at)
          IS DISTINCT FROM (NEW.revoked_at, NEW.expires_at, NEW.two_factor_pending, NEW.proved_at))
    EXECUTE FUNCTION gatehouse_announce();
CREATE TRIGGER sessions_deleted AFTER DELETE ON sessions FOR EACH ROW
    EXECUTE FUNCTION gatehouse_announce();

-- Failed-login counters are not announced (the guards do not cache them).
CREATE TRIGGER accounts_changed AFTER UPDATE ON accounts FOR EACH ROW
    WHEN ((OLD.username, OLD.email, OLD.display_name, OLD.is_active, OLD.is_staff,
           OLD.is_superuser, OLD.blocked_at, OLD.password_hash, OLD.password_version,
           OLD.email_verified_at, OLD.totp_enabled_at)
          IS DISTINCT FROM
          (NEW.username, NEW.email, NEW.display_name, NEW.is_active, NEW.is_staff,
           NEW.is_superuser, NEW.blocked_at, NEW.password_hash, NEW.password_version,
           NEW.email_verified_at, NEW.totp_enabled_at))
    EXECUTE FUNCTION gatehouse_announce();
CREATE TRIGGER accounts_deleted AFTER DELETE ON accounts FOR EACH ROW
    EXECUTE FUNCTION gatehouse_announce();
