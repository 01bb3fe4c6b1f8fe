//! Security notices: a message to the account's address when something that guards
//! it changes, so its owner hears of a change they did not make. Each kind can be
//! switched off in the settings (`notify_*`); all go out in the background, and only
//! to an address the account proved (an unverified one may be anybody's). None is
//! dropped: past `mail_notice_limit` they are folded into one digest (see
//! [`crate::mail::Outbox::send_notice`]). They carry no text a client chose: no
//! name, no new address, the device from a closed vocabulary.

use askama::Template;

use crate::accounts::AccountRow;
use crate::error::AppError;
use crate::mail::Letter;
use crate::sessions::ClientInfo;

use super::{mailbox, Mailroom};

/// What happened to the account.
#[derive(Debug, Clone)]
pub enum Notice {
    PasswordChanged,
    /// A change of address was asked for; the old address hears of it at once (not
    /// of the new address, which the requester chose).
    EmailChangeRequested,
    /// The address changed; sent to the old one.
    EmailChanged,
    TwoFactorDisabled,
    RecoveryCodesRegenerated,
    /// A complete sign-in from a browser or device none of the account's sessions used.
    NewDevice,
    /// A part's or feature's own notice (a passkey added); its owner checks its own
    /// `notify_*` setting before sending. The texts are its own, never a client's.
    Part {
        purpose: &'static str,
        subject: String,
        headline: String,
    },
}

impl Notice {
    /// The throttle's and the audit trail's name for it.
    fn purpose(&self) -> &'static str {
        match self {
            Notice::PasswordChanged => "notice_password_changed",
            Notice::EmailChangeRequested => "notice_email_change_requested",
            Notice::EmailChanged => "notice_email_changed",
            Notice::TwoFactorDisabled => "notice_two_factor_disabled",
            Notice::RecoveryCodesRegenerated => "notice_recovery_codes_regenerated",
            Notice::NewDevice => "notice_new_device",
            Notice::Part { purpose, .. } => purpose,
        }
    }

    fn switched_on(&self, room: &Mailroom) -> bool {
        let on = room.settings.mail.notices;
        room.settings.mail.enabled()
            && match self {
                Notice::PasswordChanged => on.password_changed,
                Notice::EmailChangeRequested | Notice::EmailChanged => on.email_changed,
                Notice::TwoFactorDisabled => on.two_factor_disabled,
                Notice::RecoveryCodesRegenerated => on.recovery_codes_regenerated,
                Notice::NewDevice => on.new_device,
                Notice::Part { .. } => true,
            }
    }

    fn subject_and_headline(&self, brand: &str) -> (String, String) {
        match self {
            Notice::PasswordChanged => (
                format!("Your {brand} password was changed"),
                format!("The password of your {brand} account was changed."),
            ),
            Notice::EmailChangeRequested => (
                format!("A new address was asked for your {brand} account"),
                format!(
                    "Someone signed in to your {brand} account asked to change its address. \
                     Nothing changes unless the new address confirms."
                ),
            ),
            Notice::EmailChanged => (
                format!("Your {brand} address was changed"),
                format!(
                    "The address of your {brand} account was changed. \
                     This address no longer signs in or receives its messages."
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
            Notice::Part {
                subject, headline, ..
            } => (subject.clone(), headline.clone()),
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
    if !notice.switched_on(room) || row.email_verified_at.is_none() {
        return Ok(());
    }
    let Some(to) = mailbox(&row.email, row.id) else {
        return Ok(());
    };
    // Sign-ins, which anyone with the password can repeat, are also throttled by kind.
    if matches!(notice, Notice::NewDevice) && !room.outbox.admits(notice.purpose(), &row.email) {
        return Ok(());
    }
    let brand = crate::config::brand();
    let (subject, headline) = notice.subject_and_headline(&brand);
    let when = format!("{} UTC", crate::clock::utc_minute(room.now()));
    let mut details = vec![format!("When: {when}")];
    if let Some(ip) = &client.ip {
        details.push(format!("From the address: {ip}"));
    }
    let device = super::device::described(client.user_agent.as_deref());
    details.push(format!("Browser or device: {device}"));
    let public_url = room.settings.mail.public_url.clone();
    let letter = render(
        to.clone(),
        &subject,
        notice.purpose(),
        row.id,
        &headline,
        &details,
        &public_url,
    )?;
    let summary = format!("{when}: {headline} ({device})");
    let account_id = row.id;
    let digest_of: crate::mail::DigestOf = Box::new(move |folded: Vec<String>| {
        let subject = format!("More security notices for your {brand} account");
        let headline =
            format!("More changes were made to your {brand} account since our last message:");
        render(
            to,
            &subject,
            "notice_digest",
            account_id,
            &headline,
            &folded,
            &public_url,
        )
        .inspect_err(|error| log::warn!("no notice digest: {}", error.with_causes()))
        .ok()
    });
    room.outbox.send_notice(letter, summary, digest_of);
    Ok(())
}

/// A notice's letter: its headline, the lines that detail it, the advice.
fn render(
    to: lettre::message::Mailbox,
    subject: &str,
    purpose: &'static str,
    account_id: i64,
    headline: &str,
    details: &[String],
    public_url: &str,
) -> Result<Letter, AppError> {
    let brand = crate::config::brand();
    let advice = "If this was you, there is nothing to do. If it was not, reset your \
                  password at once and review your sessions on the account page.";
    Letter::render(
        to,
        subject.to_string(),
        purpose,
        Some(account_id),
        &NoticeText {
            app: &brand,
            public_url,
            headline,
            details,
            advice,
        },
        &NoticeHtml {
            subject,
            app: &brand,
            public_url,
            headline,
            details,
            advice,
        },
    )
    .map_err(|e| AppError::internal("rendering a notice", e.to_string()))
}
