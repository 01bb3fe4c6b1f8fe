//! Password reset by email: a link to the account's address sets a new password
//! without the old one. Asking for it reveals nothing (the answer and its time are
//! the same for every address: the lookup happens in the background); using it signs
//! the account out everywhere, clears its lockout and marks the address verified (the
//! link reached it), and bypasses nothing else: a
//! blocked or deactivated account stays so, and the next login still asks for the
//! second factor.

use crate::accounts;
use crate::app::App;
use crate::audit::audit_own;
use crate::auth::{self, objection_to_password};
use crate::error::AppError;
use crate::events::EventKind;
use crate::rate_limit::Limit;
use crate::sessions::ClientInfo;

use super::notices::{self, Notice};
use super::tokens::{self, Presented, Purpose};
use super::{check_link_target, send_link, LinkMail, Mailroom};

/// Sends a reset link to `email` if an account has that address; answers the same at
/// once either way. Only a malformed `redirect_to` or the rate limit is an error.
pub async fn request(
    app: &App,
    email: &str,
    redirect_to: Option<&str>,
    client: &ClientInfo,
) -> Result<(), AppError> {
    let target = check_link_target(app, redirect_to)?;
    app.rate_limits.by_address(Limit::Password, client).await?;
    if email.len() > 1024 {
        return Ok(());
    }
    let (room, email, client) = (Mailroom::of(app), email.to_owned(), client.clone());
    Mailroom::in_background("a password reset request", async move {
        send_reset_link(&room, &email, target.as_deref(), &client).await
    });
    Ok(())
}

async fn send_reset_link(
    room: &Mailroom,
    email: &str,
    redirect_to: Option<&str>,
    client: &ClientInfo,
) -> Result<(), AppError> {
    // Throttled by the address as typed, before anything is looked up: a burst of
    // requests for one address costs the same nothing whether it has an account.
    if !room
        .outbox
        .admits("password_reset_request", &accounts::email_lookup_key(email))
    {
        return Ok(());
    }
    let Some(row) = accounts::find_by_email(&room.pool, email).await? else {
        return Ok(());
    };
    let brand = crate::config::brand();
    let letter = LinkMail {
        purpose: Purpose::PasswordReset,
        row: &row,
        to: &row.email,
        subject: format!("Reset your {brand} password"),
        intro: format!(
            "Someone (we hope you) asked to set a new password for your {brand} account."
        ),
        action: "Choose a new password",
        unasked: "If you did not ask for this, ignore this message: your password stays \
                  as it is."
            .into(),
        page: "/reset-password",
        ttl: room.settings.mail.password_reset_ttl,
        redirect_to,
        password_version: None,
    };
    if send_link(room, letter).await? {
        room.audit(EventKind::PasswordResetRequested, row.id, None, client)
            .await;
    }
    Ok(())
}

/// Sets `new_password` for the account a reset token stands for, under the password
/// policy; the token works once. Every session ends and the lockout counter clears.
/// A password the policy refuses leaves the token unspent, for another try.
pub async fn reset(
    app: &App,
    presented: Presented<'_>,
    new_password: &str,
    client: &ClientInfo,
) -> Result<(), AppError> {
    app.rate_limits.by_address(Limit::Password, client).await?;
    let pool = app.pool();
    let redeemed = tokens::peek(pool, presented, Purpose::PasswordReset, app.now())
        .await?
        .ok_or(AppError::InvalidLink)?;
    let row = accounts::find_by_id(pool, redeemed.account_id)
        .await?
        .ok_or(AppError::InvalidLink)?;
    if let Some(objection) = objection_to_password(app, new_password, &row.owner()).await? {
        return Err(AppError::field("new_password", objection));
    }
    let hash = app.hasher.hash(new_password).await?;
    // The guarded spend decides: of two requests with one token, one sets a password.
    let spent = tokens::spend(pool, presented, Purpose::PasswordReset, app.now())
        .await?
        .ok_or(AppError::InvalidLink)?;
    if spent.account_id != row.id {
        return Err(AppError::InvalidLink);
    }
    accounts::update_password_hash(pool, row.id, &hash, app.now()).await?;
    // The link reached the address: it is the owner's, proved like a verification.
    let mut row = row;
    if accounts::mark_email_verified(pool, row.id, &spent.email, app.now()).await? {
        row.email_verified_at = Some(app.now());
        app.session_cache.forget_account(row.id);
    }
    tokens::void_all(pool, row.id).await?;
    accounts::clear_failed_logins_after_reset(pool, row.id).await?;
    audit_own(
        app,
        EventKind::PasswordReset,
        row.id,
        Some("by link".into()),
        client,
    )
    .await;
    auth::revoke_other_sessions(app, row.id, None, "password_reset", Some(row.id), client).await?;
    notices::send(&Mailroom::of(app), &row, Notice::PasswordChanged, client);
    Ok(())
}
