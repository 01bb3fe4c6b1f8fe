//! Changing an account's address: the signed-in owner asks with their password, a
//! link goes to the new address and a notice to the old one, and the address changes
//! only when the new one confirms. Whether the new address is free is decided in the
//! background, so the answer (202) says nothing about it; a link whose address was
//! taken meanwhile is "no longer valid", like any other spent link.

use crate::accounts::{self, Account, Email};
use crate::app::App;
use crate::audit::audit_own;
use crate::error::AppError;
use crate::events::EventKind;
use crate::lockout::recheck_password;
use crate::rate_limit::Limit;
use crate::sessions::ClientInfo;

use super::notices::{self, Notice};
use super::tokens::{self, Presented, Purpose};
use super::{check_link_target, send_link, LinkMail, Mailroom};

/// Asks to change the signed-in account's address to `new_email`, after checking its
/// password (an attempt the lockout counts).
pub async fn request(
    app: &App,
    account_id: i64,
    new_email: &str,
    password: &str,
    redirect_to: Option<&str>,
    client: &ClientInfo,
) -> Result<(), AppError> {
    app.rate_limits.by_address(Limit::Password, client).await?;
    let target = check_link_target(app, redirect_to)?;
    let row = accounts::find_by_id(app.pool(), account_id)
        .await?
        .ok_or(AppError::SessionRevoked)?;
    let email = Email::parse(new_email).map_err(|e| AppError::field("new_email", e))?;
    if email.key == accounts::login_key(&row.email) {
        return Err(AppError::field(
            "new_email",
            "is the account's address already",
        ));
    }
    recheck_password(app, &row, password, "password", client).await?;
    // Each request mails two inboxes: its owner may ask a few times an hour.
    app.rate_limits
        .by_account(Limit::EmailChangeAccount, row.id)
        .await?;
    let new_email = email.display.clone();
    audit_own(
        app,
        EventKind::EmailChangeRequested,
        row.id,
        Some(new_email.clone()),
        client,
    )
    .await;
    let (room, client) = (Mailroom::of(app), client.clone());
    Mailroom::in_background("an email change request", async move {
        if !accounts::email_taken(&room.pool, &email).await? {
            let brand = crate::config::brand();
            let letter = LinkMail {
                purpose: Purpose::ChangeEmail,
                row: &row,
                to: &new_email,
                subject: format!("Confirm your new address for {brand}"),
                intro: format!(
                    "Please confirm that this address should become the address of your \
                     {brand} account."
                ),
                action: "Confirm my new address",
                unasked: format!(
                    "If you did not ask for this, ignore this message: no {brand} account \
                     will use this address."
                ),
                page: "/confirm-email",
                ttl: room.settings.mail.email_change_ttl,
                redirect_to: target.as_deref(),
                password_version: Some(row.password_version),
            };
            send_link(&room, letter).await?;
        }
        notices::send(&room, &row, Notice::EmailChangeRequested, &client);
        Ok(())
    });
    Ok(())
}

/// Spends a change link's token and gives the account the new address, verified (its
/// link proved it). Every failure, the address taken meanwhile included, is
/// `invalid_link`. The old address is told.
pub async fn confirm(
    app: &App,
    presented: Presented<'_>,
    client: &ClientInfo,
) -> Result<Account, AppError> {
    let now = app.now();
    let redeemed = tokens::spend(app.pool(), presented, Purpose::ChangeEmail, now)
        .await?
        .ok_or(AppError::InvalidLink)?;
    let old = accounts::find_by_id(app.pool(), redeemed.account_id)
        .await?
        .ok_or(AppError::InvalidLink)?;
    let email = Email::parse(&redeemed.email).map_err(|_| AppError::InvalidLink)?;
    if !accounts::change_email(app.pool(), old.id, &email, now).await? {
        return Err(AppError::InvalidLink);
    }
    app.session_cache.forget_account(old.id);
    // Links sent to the old address (or to other new ones) end for good: they must not
    // come back to life if the account returns to that address.
    tokens::void_all(app.pool(), old.id).await?;
    audit_own(
        app,
        EventKind::EmailChanged,
        old.id,
        Some(format!("from {}", old.email)),
        client,
    )
    .await;
    notices::send(&Mailroom::of(app), &old, Notice::EmailChanged, client);
    let row = accounts::find_by_id(app.pool(), old.id)
        .await?
        .ok_or(AppError::InvalidLink)?;
    Ok(row.into())
}
