//! Security notices: a message to the account's address when something that guards
//! it changes, so its owner hears of a change they did not make. Each kind can be
//! switched off in the settings (`notify_*`); all go out in the background. Only the
//! new-device notice is throttled (see [`try_send`]).

use askama::Template;

use crate::accounts::AccountRow;
use crate::error::AppError;
use crate::mail::Letter;
use crate::sessions::ClientInfo;

use super::{greeting_name, mailbox, Mailroom};

/// What happened to the account.
#[derive(Debug, Clone)]
pub enum Notice {
    PasswordChanged,
    /// A change to `new_email` was asked for; the old address hears of it at once.
    EmailChangeRequested {
        new_email: String,
    },
    /// The address changed to `new_email`; sent to the old one.
    EmailChanged {
        new_email: String,
    },
    TwoFactorDisabled,
    RecoveryCodesRegenerated,
    /// A complete sign-in from a browser or device none of the account's sessions used.
    NewDevice,
}

impl Notice {
    /// The throttle's and the audit trail's name for it.
    fn purpose(&self) -> &'static str {
        match self {
            Notice::PasswordChanged => "notice_password_changed",
            Notice::EmailChangeRequested { .. } => "notice_email_change_requested",
            Notice::EmailChanged { .. } => "notice_email_changed",
            Notice::TwoFactorDisabled => "notice_two_factor_disabled",
            Notice::RecoveryCodesRegenerated => "notice_recovery_codes_regenerated",
            Notice::NewDevice => "notice_new_device",
        }
    }

    fn switched_on(&self, room: &Mailroom) -> bool {
        let on = room.settings.mail.notices;
        room.settings.mail.enabled()
            && match self {
                Notice::PasswordChanged => on.password_changed,
                Notice::EmailChangeRequested { .. } | Notice::EmailChanged { .. } => {
                    on.email_changed
                }
                Notice::TwoFactorDisabled => on.two_factor_disabled,
                Notice::RecoveryCodesRegenerated => on.recovery_codes_regenerated,
                Notice::NewDevice => on.new_device,
            }
    }

    fn subject_and_headline(&self, brand: &str) -> (String, String) {
        match self {
            Notice::PasswordChanged => (
                format!("Your {brand} password was changed"),
                format!("The password of your {brand} account was changed."),
            ),
            Notice::EmailChangeRequested { new_email } => (
                format!("A new address was asked for your {brand} account"),
                format!(
                    "Someone signed in to your {brand} account asked to change its address \
                     to {new_email}. Nothing changes unless that address confirms."
                ),
            ),
            Notice::EmailChanged { new_email } => (
                format!("Your {brand} address was changed"),
                format!(
                    "The address of your {brand} account is now {new_email}; \
                     this address no longer signs in or receives its messages."
                ),
            ),
            Notice::TwoFactorDisabled => (
                format!("Two-factor authentication was turned off at {brand}"),
                format!(
                    "Two-factor authentication was turned off for your {brand} account: \
                     your password alone now signs in."
                ),
            ),
            Notice::RecoveryCodesRegenerated => (
                format!("New recovery codes for your {brand} account"),
                format!(
                    "New recovery codes were made for your {brand} account; \
                     the earlier ones no longer work."
                ),
            ),
            Notice::NewDevice => (
                format!("A new sign-in to your {brand} account"),
                format!(
                    "Your {brand} account was signed in to from a device it had not used before."
                ),
            ),
        }
    }
}

#[derive(Template)]
#[template(path = "mail/notice.txt")]
struct NoticeText<'a> {
    app: &'a str,
    public_url: &'a str,
    name: &'a str,
    headline: &'a str,
    details: &'a [String],
    advice: &'a str,
}

#[derive(Template)]
#[template(path = "mail/notice.html")]
struct NoticeHtml<'a> {
    subject: &'a str,
    app: &'a str,
    public_url: &'a str,
    name: &'a str,
    headline: &'a str,
    details: &'a [String],
    advice: &'a str,
}

/// Sends `notice` about `row` to `row`'s address (its address before a change), with
/// when and from where, in the background; nothing when that notice is switched off.
pub fn send(room: &Mailroom, row: &AccountRow, notice: Notice, client: &ClientInfo) {
    if let Err(error) = try_send(room, row, &notice, client) {
        log::warn!("no {} notice: {}", notice.purpose(), error.with_causes());
    }
}

fn try_send(
    room: &Mailroom,
    row: &AccountRow,
    notice: &Notice,
    client: &ClientInfo,
) -> Result<(), AppError> {
    if !notice.switched_on(room) {
        return Ok(());
    }
    let Some(to) = mailbox(&row.email, row.id) else {
        return Ok(());
    };
    let brand = crate::config::brand();
    let (subject, headline) = notice.subject_and_headline(&brand);
    let mut details = vec![format!(
        "When: {} UTC",
        crate::clock::utc_minute(room.now())
    )];
    if let Some(ip) = &client.ip {
        details.push(format!("From the address: {ip}"));
    }
    if let Some(agent) = &client.user_agent {
        details.push(format!(
            "Browser or device: {}",
            crate::text::printable(agent, 200)
        ));
    }
    let advice = "If this was you, there is nothing to do. If it was not, reset your \
                  password at once and review your sessions on the account page.";
    let public_url = &room.settings.mail.public_url;
    let name = greeting_name(row);
    let letter = Letter::render(
        to,
        subject.clone(),
        notice.purpose(),
        Some(row.id),
        &NoticeText {
            app: &brand,
            public_url,
            name,
            headline: &headline,
            details: &details,
            advice,
        },
        &NoticeHtml {
            subject: &subject,
            app: &brand,
            public_url,
            name,
            headline: &headline,
            details: &details,
            advice,
        },
    )
    .map_err(|e| AppError::internal("rendering a notice", e.to_string()))?;
    // A throttled notice could be used to hide one change behind a decoy a moment
    // before; only sign-ins, which anyone with the password can repeat, are throttled.
    if matches!(notice, Notice::NewDevice) {
        room.outbox.send_in_background(letter);
    } else {
        room.outbox.send_admitted(letter);
    }
    Ok(())
}
