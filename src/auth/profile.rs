//! Changing one's own account: the display name, the password, and a password reset.

use super::*;

/// Sets (or, with an empty name, clears) the account's display name and returns the
/// account as it is now.
pub async fn update_display_name(
    app: &App,
    account_id: i64,
    display_name: &str,
) -> Result<Account, AppError> {
    let name = DisplayName::parse(display_name).map_err(|e| AppError::field("display_name", e))?;
    if !accounts::update_display_name(app.pool(), account_id, name.as_ref(), app.now()).await? {
        return Err(AppError::SessionRevoked);
    }
    // Guards hand out the cached account: it must show the new name at once.
    app.session_cache.forget_account(account_id);
    let row = accounts::find_by_id(app.pool(), account_id)
        .await?
        .ok_or(AppError::SessionRevoked)?;
    Ok(row.into())
}

/// Changes the password after checking the current one, then revokes the account's
/// other sessions: whoever else knew the old password is signed out.
pub async fn change_password(
    app: &App,
    account_id: i64,
    current_session: &str,
    current_password: &str,
    new_password: &str,
    client: &ClientInfo,
) -> Result<(), AppError> {
    app.rate_limits.by_address(Limit::Password, client).await?;
    let row = accounts::find_by_id(app.pool(), account_id)
        .await?
        .ok_or(AppError::SessionRevoked)?;
    if let Some(objection) = objection_to_password(app, new_password, &row.owner()).await? {
        return Err(AppError::field("new_password", objection));
    }
    recheck_password(app, &row, current_password, "current_password", client).await?;
    let hash = app.hasher.hash(new_password).await?;
    let version = row.password_version;
    if !accounts::change_password_hash(app.pool(), account_id, version, &hash, app.now()).await? {
        return Err(AppError::Conflict(
            "the password was changed meanwhile (a reset?); log in again",
        ));
    }
    link_tokens::void_all(app.pool(), account_id).await?;
    audit_own(app, EventKind::PasswordChanged, account_id, None, client).await;
    notices::send(&Mailroom::of(app), &row, Notice::PasswordChanged, client);
    revoke_other_sessions(
        app,
        account_id,
        Some(current_session),
        "password_changed",
        Some(account_id),
        client,
    )
    .await?;
    Ok(())
}

/// Sets a new password without the old one (an admin's reset, the CLI) and signs the
/// account out everywhere.
pub async fn reset_password(
    app: &App,
    account_id: i64,
    new_password: &str,
    actor_id: Option<i64>,
    client: &ClientInfo,
) -> Result<(), AppError> {
    let row = accounts::find_by_id(app.pool(), account_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if let Some(objection) = objection_to_password(app, new_password, &row.owner()).await? {
        return Err(AppError::field("password", objection));
    }
    let hash = app.hasher.hash(new_password).await?;
    accounts::update_password_hash(app.pool(), account_id, &hash, app.now()).await?;
    link_tokens::void_all(app.pool(), account_id).await?;
    notices::send(&Mailroom::of(app), &row, Notice::PasswordChanged, client);
    audit(
        app,
        EventKind::PasswordReset,
        account_id,
        actor_id,
        None,
        client,
    )
    .await;
    revoke_other_sessions(app, account_id, None, "password_reset", actor_id, client).await?;
    Ok(())
}

/// Everything Gatehouse and its parts and features hold about an account, for its
/// owner (GDPR's right of access): the account, and each part's data under its name.
/// Secrets (password hash, TOTP secret, recovery codes) are never in it.
pub async fn export(app: &App, account_id: i64, client: &ClientInfo) -> Result<Value, AppError> {
    // Each export reads every part's rows: a burst of them waits its turn.
    app.rate_limits.by_address(Limit::Password, client).await?;
    let row = accounts::find_by_id(app.pool(), account_id)
        .await?
        .ok_or(AppError::SessionRevoked)?;
    let parts = crate::feature::hooks::export(app, &row).await?;
    Ok(serde_json::json!({
        "exported_at": app.now(),
        "account": Account::from(row),
        "parts": parts,
    }))
}
