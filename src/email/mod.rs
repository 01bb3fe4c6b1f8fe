//! The email flows, free of HTTP like [`crate::auth`]: address verification, password
//! reset, change of address and security notices, on the tokens of [`tokens`] and the
//! outbox of [`crate::mail`].
//!
//! Whatever a request may not reveal (whether an address has an account, whether a new
//! address is taken) is decided in the background on a [`Mailroom`], after the request
//! has answered, so neither its answer nor its time depends on it.

pub mod change;
pub mod device;
pub mod notices;
pub mod password_reset;
pub mod tokens;
pub mod verification;

use std::sync::Arc;

use askama::Template;
use lettre::message::Mailbox;
use sqlx::AnyPool;

use crate::accounts::AccountRow;
use crate::app::App;
use crate::clock::Clock;
use crate::config::Settings;
use crate::error::AppError;
use crate::events::{self, EventKind, NewEvent};
use crate::mail::{Letter, Outbox};
use crate::sessions::ClientInfo;
use tokens::Purpose;

/// What the email flows need of the app, owned, so work can go on after the request
/// that started it has answered.
#[derive(Clone)]
pub struct Mailroom {
    pub settings: Arc<Settings>,
    pub pool: AnyPool,
    pub outbox: Outbox,
    pub clock: Arc<dyn Clock>,
}

impl Mailroom {
    pub fn of(app: &App) -> Mailroom {
        Mailroom {
            settings: Arc::clone(&app.settings),
            pool: app.pool().clone(),
            outbox: app.outbox.clone(),
            clock: Arc::clone(&app.clock),
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Records an event about `account_id`, caused by the account itself.
    pub async fn audit(
        &self,
        kind: EventKind,
        account_id: i64,
        detail: Option<String>,
        client: &ClientInfo,
    ) {
        let event = NewEvent {
            kind,
            account_id: Some(account_id),
            actor_id: Some(account_id),
            detail,
            client,
        };
        events::record(&self.pool, event, self.now()).await;
    }

    /// Runs `work` after the request has answered; its failure is logged.
    pub fn in_background<F>(what: &'static str, work: F)
    where
        F: std::future::Future<Output = Result<(), AppError>> + Send + 'static,
    {
        rocket::tokio::spawn(async move {
            if let Err(error) = work.await {
                log::warn!("{what} failed: {}", error.with_causes());
            }
        });
    }
}

/// `address` as a mailbox; `None` (logged) for an address our rules accepted but the
/// mail library cannot write.
fn mailbox(address: &str, account_id: i64) -> Option<Mailbox> {
    // The domain in ASCII (addresses stored before domains were mapped may have it in
    // Unicode), so no relay needs SMTPUTF8 for it.
    let ascii = address
        .rsplit_once('@')
        .and_then(|(local, domain)| {
            let domain = idna::domain_to_ascii(domain).ok()?;
            Some(format!("{local}@{domain}"))
        })
        .unwrap_or_else(|| address.to_string());
    match ascii.parse::<lettre::Address>() {
        Ok(address) => Some(Mailbox::new(None, address)),
        Err(error) => {
            log::warn!("account {account_id} has an address mail cannot reach: {error}");
            None
        }
    }
}

/// "1 hour", "24 hours", "30 minutes": how long a link works, in words.
pub fn in_words(seconds: i64) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if seconds >= 3600 && seconds % 3600 == 0 {
        plural(seconds / 3600, "hour")
    } else {
        plural((seconds / 60).max(1), "minute")
    }
}

/// The link's target: the SPA's `redirect_to` if the settings allow it (the token in
/// its fragment, which no server or Referer ever sees), else our own page under
/// `public_url` (which takes the token out of its address on arrival).
pub fn check_link_target(app: &App, redirect_to: Option<&str>) -> Result<Option<String>, AppError> {
    match redirect_to.filter(|target| !target.is_empty()) {
        None => Ok(None),
        Some(target) => match app.settings.mail.allowed_link_target(target) {
            Some(target) => Ok(Some(target.to_string())),
            None => Err(AppError::field(
                "redirect_to",
                "is not among the link targets this service allows",
            )),
        },
    }
}

#[derive(Template)]
#[template(path = "mail/link.txt")]
struct LinkText<'a> {
    intro: &'a str,
    valid_for: &'a str,
    link: &'a str,
    unasked: &'a str,
}

#[derive(Template)]
#[template(path = "mail/link.html")]
struct LinkHtml<'a> {
    subject: &'a str,
    intro: &'a str,
    action: &'a str,
    valid_for: &'a str,
    link: &'a str,
    unasked: &'a str,
}

/// A message carrying a link with a new token.
pub struct LinkMail<'a> {
    pub purpose: Purpose,
    pub row: &'a AccountRow,
    /// Where it goes (the account's address, or the new one for a change).
    pub to: &'a str,
    pub subject: String,
    pub intro: String,
    /// The link's words in the HTML part.
    pub action: &'static str,
    /// What to do if the reader did not ask for it.
    pub unasked: String,
    /// Our page for the link, under `public_url`.
    pub page: &'static str,
    pub ttl: i64,
    /// An allowed SPA target instead of our page.
    pub redirect_to: Option<&'a str>,
    /// The password version the request was checked at, when it proved the password:
    /// a change or reset that lands meanwhile voids the link before it goes.
    pub password_version: Option<i64>,
}

/// Issues a token for `mail.purpose` and sends its link in the background. False,
/// with nothing issued, when this recipient had such a message within the throttle
/// interval or has spent its budget (`mail_recipient_limit`): the links sent before
/// keep working.
pub async fn send_link(room: &Mailroom, mail: LinkMail<'_>) -> Result<bool, AppError> {
    let Some(to) = mailbox(mail.to, mail.row.id) else {
        return Ok(false);
    };
    let proved = mail.row.email_verified_at.is_some() && mail.to == mail.row.email;
    let proved_by = proved.then_some(mail.row.id);
    if !room.outbox.admits(mail.purpose.as_str(), mail.to)
        || !room.outbox.within_budget(mail.to, proved_by).await?
    {
        return Ok(false);
    }
    let token = tokens::issue(
        &room.pool,
        mail.row.id,
        mail.purpose,
        mail.to,
        mail.ttl,
        room.now(),
    )
    .await?;
    // A password change voids every link it sees; one issued just after it, for a
    // request that proved the old password, is voided here.
    if let Some(version) = mail.password_version {
        if crate::accounts::password_version(&room.pool, mail.row.id).await? != Some(version) {
            tokens::void_all(&room.pool, mail.row.id).await?;
            return Ok(false);
        }
    }
    let link = match mail.redirect_to {
        Some(target) => format!("{target}#token={token}&type={}", mail.purpose.as_str()),
        None => format!(
            "{}{}?token={token}",
            room.settings.mail.public_url, mail.page
        ),
    };
    let valid_for = in_words(mail.ttl);
    let letter = Letter::render(
        to,
        mail.subject.clone(),
        mail.purpose.as_str(),
        Some(mail.row.id),
        &LinkText {
            intro: &mail.intro,
            valid_for: &valid_for,
            link: &link,
            unasked: &mail.unasked,
        },
        &LinkHtml {
            subject: &mail.subject,
            intro: &mail.intro,
            action: mail.action,
            valid_for: &valid_for,
            link: &link,
            unasked: &mail.unasked,
        },
    )
    .map_err(|e| AppError::internal("rendering a link message", e.to_string()))?;
    room.outbox.send_admitted(letter);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::in_words;

    #[test]
    fn link_lifetimes_read_as_words() {
        assert_eq!(in_words(3600), "1 hour");
        assert_eq!(in_words(86400), "24 hours");
        assert_eq!(in_words(1800), "30 minutes");
        assert_eq!(in_words(60), "1 minute");
    }
}
