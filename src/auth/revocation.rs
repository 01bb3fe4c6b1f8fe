//! Ending sessions: logout, one of one's own, or all the others.

use super::*;

/// Revokes one session and forgets its cached state, so it stops working at once.
/// `actor_id` is who asked (`None` when the system did, as on token reuse).
pub async fn revoke_session(
    app: &App,
    account_id: i64,
    session_id: &str,
    reason: &str,
    actor_id: Option<i64>,
    client: &ClientInfo,
) -> Result<bool, AppError> {
    let revoked = sessions::revoke_session(app.pool(), session_id, reason, app.now()).await?;
    app.session_cache.forget_session(session_id);
    if revoked {
        let detail = Some(reason.to_string());
        audit(
            app,
            EventKind::SessionRevoked,
            account_id,
            actor_id,
            detail,
            client,
        )
        .await;
    }
    Ok(revoked)
}

/// Ends the session a token names: an access or a refresh token, even expired, so a
/// client whose access token lapsed (an SPA idle for a while) can still log out with
/// its refresh token. A token of an ended session changes nothing and is no error.
pub async fn logout(app: &App, token: &str, client: &ClientInfo) -> Result<(), AppError> {
    let claims = app
        .keys
        .decode_ignoring_expiry(token, TokenKind::Access, app.now())
        .or_else(|_| {
            app.keys
                .decode_ignoring_expiry(token, TokenKind::Refresh, app.now())
        })?;
    let account_id = claims.account_id();
    match sessions::find_session(app.pool(), &claims.sid).await? {
        Some(session) if session.account_id == account_id => {
            revoke_session(
                app,
                account_id,
                &session.id,
                "logout",
                Some(account_id),
                client,
            )
            .await?;
            Ok(())
        }
        Some(_) => Err(AppError::InvalidToken),
        None => Ok(()),
    }
}

/// Revokes one of the account's own sessions; false when it has no such live session.
pub async fn revoke_own_session(
    app: &App,
    account_id: i64,
    session_id: &str,
    client: &ClientInfo,
) -> Result<bool, AppError> {
    let reason = "revoked_by_owner";
    let revoked =
        sessions::revoke_own_session(app.pool(), account_id, session_id, reason, app.now()).await?;
    app.session_cache.forget_session(session_id);
    if revoked {
        let detail = Some(reason.to_string());
        audit_own(app, EventKind::SessionRevoked, account_id, detail, client).await;
    }
    Ok(revoked)
}

/// Revokes every session of the account but `keep`, forgetting their cached state.
pub async fn revoke_other_sessions(
    app: &App,
    account_id: i64,
    keep: Option<&str>,
    reason: &str,
    actor_id: Option<i64>,
    client: &ClientInfo,
) -> Result<u64, AppError> {
    let count =
        sessions::revoke_other_sessions(app.pool(), account_id, keep, reason, app.now()).await?;
    app.session_cache.forget_account(account_id);
    if count > 0 {
        let detail = Some(format!("{reason} ({count})"));
        audit(
            app,
            EventKind::SessionsRevoked,
            account_id,
            actor_id,
            detail,
            client,
        )
        .await;
    }
    Ok(count)
}
