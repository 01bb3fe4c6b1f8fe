//! Email verification: a link sent at registration (and on request) proves the
//! address belongs to the account's owner. Free of HTTP, like [`crate::auth`].

use askama::Template;

use crate::accounts::{self, Account, AccountRow};
use crate::app::App;
use crate::audit::audit_own;
use crate::email_tokens::{self, Purpose};
use crate::error::AppError;
use crate::events::EventKind;
use crate::mail::Letter;
use crate::sessions::ClientInfo;

#[derive(Template)]
#[template(path = "mail/verify_email.txt")]
struct VerifyText<'a> {
    app: &'a str,
    username: &'a str,
    link: &'a str,
    hours: i64,
}

#[derive(Template)]
#[template(path = "mail/verify_email.html")]
struct VerifyHtml<'a> {
    app: &'a str,
    username: &'a str,
    link: &'a str,
    hours: i64,
}

/// Sends a verification link to the account's address, in the background; an earlier
/// link stops working. Nothing happens with mail off or the address verified.
pub async fn send_link(app: &App, row: &AccountRow) -> Result<(), AppError> {
    let mail = &app.settings.mail;
    if !mail.enabled() || row.email_verified_at.is_some() {
        return Ok(());
    }
    // Throttled: nothing is issued, so the link sent last keeps working.
    if !app.outbox.admits(Purpose::VerifyEmail.as_str(), &row.email) {
        return Ok(());
    }
    let token = email_tokens::issue(
        app.pool(),
        row.id,
        Purpose::VerifyEmail,
        &row.email,
        mail.verify_email_ttl,
        app.now(),
    )
    .await?;
    let link = format!("{}/verify-email?token={token}", mail.public_url);
    let brand = crate::config::brand();
    let hours = mail.verify_email_ttl / 3600;
    let to = match row.email.parse() {
        Ok(to) => to,
        // An address the mail library cannot write (it passed our own rules): log it.
        Err(error) => {
            log::warn!(
                "account {} has an address mail cannot reach: {error}",
                row.id
            );
            return Ok(());
        }
    };
    let letter = Letter::render(
        to,
        format!("Confirm your address for {brand}"),
        Purpose::VerifyEmail.as_str(),
        Some(row.id),
        &VerifyText {
            app: &brand,
            username: &row.username,
            link: &link,
            hours,
        },
        &VerifyHtml {
            app: &brand,
            username: &row.username,
            link: &link,
            hours,
        },
    )
    .map_err(|e| AppError::internal("rendering the verification message", e.to_string()))?;
    app.outbox.send_admitted(letter);
    Ok(())
}

/// A new link for a signed-in account (409 when its address is verified already).
pub async fn resend(app: &App, account_id: i64) -> Result<(), AppError> {
    let row = accounts::find_by_id(app.pool(), account_id)
        .await?
        .ok_or(AppError::SessionRevoked)?;
    if row.email_verified_at.is_some() {
        return Err(AppError::Conflict("this address is verified already"));
    }
    send_link(app, &row).await
}

/// Spends a verification token and marks the address it was sent to verified, if the
/// account still has it. Every failure is the same `invalid_link`.
pub async fn verify(app: &App, token: &str, client: &ClientInfo) -> Result<Account, AppError> {
    let now = app.now();
    let (account_id, email) = email_tokens::spend(app.pool(), token, Purpose::VerifyEmail, now)
        .await?
        .ok_or(AppError::InvalidLink)?;
    if !accounts::mark_email_verified(app.pool(), account_id, &email, now).await? {
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
