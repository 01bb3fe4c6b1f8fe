//! Email verification: a link sent at registration (and on request) proves the
//! address belongs to the account's owner.

use crate::accounts::{self, Account, AccountRow};
use crate::app::App;
use crate::audit::audit_own;
use crate::error::AppError;
use crate::events::EventKind;
use crate::sessions::ClientInfo;

use super::tokens::{self, Presented, Purpose};
use super::{send_link, LinkMail, Mailroom};

/// Sends a verification link to the account's address, in the background; an earlier
/// link stops working. Nothing happens with mail off or the address verified.
pub async fn send(app: &App, row: &AccountRow, redirect_to: Option<&str>) -> Result<(), AppError> {
    let mail = &app.settings.mail;
    if !mail.enabled() || row.email_verified_at.is_some() {
        return Ok(());
    }
    let brand = crate::config::brand();
    let letter = LinkMail {
        purpose: Purpose::VerifyEmail,
        row,
        to: &row.email,
        subject: format!("Confirm your address for {brand}"),
        intro: format!("Please confirm that this address belongs to your {brand} account."),
        action: "Confirm my address",
        unasked: format!(
            "If you did not create an account at {brand}, you can ignore this message."
        ),
        page: "/verify-email",
        ttl: mail.verify_email_ttl,
        redirect_to,
        password_version: None,
    };
    send_link(&Mailroom::of(app), letter).await?;
    Ok(())
}

/// A new link for a signed-in account (409 when its address is verified already).
pub async fn resend(app: &App, account_id: i64, redirect_to: Option<&str>) -> Result<(), AppError> {
    let target = super::check_link_target(app, redirect_to)?;
    let row = accounts::find_by_id(app.pool(), account_id)
        .await?
        .ok_or(AppError::SessionRevoked)?;
    if row.email_verified_at.is_some() {
        return Err(AppError::Conflict("this address is verified already"));
    }
    send(app, &row, target.as_deref()).await
}

/// Spends a verification token and marks the address it was sent to verified, if the
/// account still has it. Every failure is the same `invalid_link`.
pub async fn verify(
    app: &App,
    presented: Presented<'_>,
    client: &ClientInfo,
) -> Result<Account, AppError> {
    let now = app.now();
    let redeemed = tokens::spend(app.pool(), presented, Purpose::VerifyEmail, now)
        .await?
        .ok_or(AppError::InvalidLink)?;
    let account_id = redeemed.account_id;
    if !accounts::mark_email_verified(app.pool(), account_id, &redeemed.email, now).await? {
        return Err(AppError::InvalidLink);
    }
    app.session_cache.forget_account(account_id);
    audit_own(app, EventKind::EmailVerified, account_id, None, client).await;
    let row = accounts::find_by_id(app.pool(), account_id)
        .await?
        .ok_or(AppError::InvalidLink)?;
    Ok(row.into())
}

/// Verifies an account's address by hand (the CLI). False when it was verified.
pub async fn verify_by_hand(
    app: &App,
    row: &AccountRow,
    client: &ClientInfo,
) -> Result<bool, AppError> {
    if !accounts::mark_email_verified(app.pool(), row.id, &row.email, app.now()).await? {
        return Ok(false);
    }
    app.session_cache.forget_account(row.id);
    crate::audit::audit(
        app,
        EventKind::EmailVerified,
        row.id,
        None,
        Some("by hand".into()),
        client,
    )
    .await;
    Ok(true)
}
