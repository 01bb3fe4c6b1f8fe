//! Mail delivery: the configured transport (SMTP through lettre, `.eml` files, or
//! none), messages built from askama templates as plain text with an HTML
//! alternative, and sending in the background, so no request waits for SMTP and
//! neither its time nor its failure tells anything about an address. A failed send is
//! logged and audited.
//!
//! Nobody can bomb an inbox through the forms: one message per recipient and purpose
//! per `mail_throttle_seconds`; link mails count against the recipient's budget
//! (`mail_recipient_limit`) whoever asks; security notices, which go only to
//! addresses their account proved, are never dropped but past `mail_notice_limit`
//! are folded into one digest (see [`Outbox::send_notice`]).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use askama::Template;
use governor::{DefaultKeyedRateLimiter, Quota};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sqlx::AnyPool;

use crate::clock::Clock;
use crate::config::mail::{SmtpUrl, Transport};
use crate::config::{Mail, Rate};
use crate::events::{self, EventKind, NewEvent};
use crate::rate_limit::{Bucket, Store};
use crate::sessions::ClientInfo;

/// A message ready to go: its two bodies rendered, its purpose named (for throttling
/// and the audit trail).
pub struct Letter {
    pub to: Mailbox,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// `verify_email`, `password_reset`, `test`, …
    pub purpose: &'static str,
    /// The account it is about, for the audit trail.
    pub account_id: Option<i64>,
}

impl Letter {
    /// Renders `text` and `html` (the same data, two templates) into a letter.
    pub fn render(
        to: Mailbox,
        subject: String,
        purpose: &'static str,
        account_id: Option<i64>,
        text: &impl Template,
        html: &impl Template,
    ) -> Result<Letter, askama::Error> {
        Ok(Letter {
            to,
            subject,
            text: text.render()?,
            html: html.render()?,
            purpose,
            account_id,
        })
    }
}

/// The test message of `gatehouse mail test`.
#[derive(Template)]
#[template(path = "mail/test.txt")]
pub struct TestText<'a> {
    pub app: &'a str,
    pub public_url: &'a str,
}

#[derive(Template)]
#[template(path = "mail/test.html")]
pub struct TestHtml<'a> {
    pub app: &'a str,
    pub public_url: &'a str,
}

#[derive(Clone)]
enum Delivery {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(AsyncFileTransport<Tokio1Executor>, String),
    None,
}

/// Where a letter went, for the CLI and the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    Smtp,
    File(String),
}

#[derive(Clone)]
pub struct Outbox {
    delivery: Delivery,
    from: Mailbox,
    throttle: Option<Arc<DefaultKeyedRateLimiter<String>>>,
    last_sweep: Arc<std::sync::atomic::AtomicU64>,
    /// Link mails per recipient (`mail_recipient_limit`), keyed by a digest, in the
    /// rate limits' store (shared by the instances on PostgreSQL).
    budget: Arc<Bucket>,
    notices: Arc<NoticeWindows>,
    pool: AnyPool,
    clock: Arc<dyn Clock>,
}

/// The notices each verified address got in its current period, and those folded
/// into the digest due at the period's end.
struct NoticeWindows {
    limit: Rate,
    windows: Mutex<HashMap<String, NoticeWindow>>,
}

struct NoticeWindow {
    started: Instant,
    sent: u32,
    /// The kinds (purposes) sent at once this period: the first of each kind always
    /// goes at once, so decoys of one kind cannot fold away a change of another.
    kinds: Vec<&'static str>,
    folded: Vec<String>,
    /// Notices folded past [`MAX_FOLDED_LINES`], counted only.
    more: usize,
}

/// Lines one digest lists; the rest are counted.
const MAX_FOLDED_LINES: usize = 20;

/// Builds the digest of the summaries folded in one period (the notices' own text).
pub type DigestOf = Box<dyn FnOnce(Vec<String>) -> Option<Letter> + Send>;

impl Outbox {
    pub fn new(
        settings: &Mail,
        pool: AnyPool,
        clock: Arc<dyn Clock>,
        store: Store,
    ) -> Result<Outbox, String> {
        let delivery = match &settings.mail_transport {
            Transport::Smtp(url) => {
                Delivery::Smtp(smtp_transport(url, settings.smtp_ca_file.as_deref())?)
            }
            Transport::File => {
                std::fs::create_dir_all(&settings.mail_dir)
                    .map_err(|e| format!("cannot create mail_dir `{}`: {e}", settings.mail_dir))?;
                Delivery::File(
                    AsyncFileTransport::new(&settings.mail_dir),
                    settings.mail_dir.clone(),
                )
            }
            Transport::None => Delivery::None,
        };
        let throttle = NonZeroU32::new(1)
            .filter(|_| settings.mail_throttle_seconds > 0)
            .and_then(|one| {
                Quota::with_period(Duration::from_secs(settings.mail_throttle_seconds))
                    .map(|quota| Arc::new(DefaultKeyedRateLimiter::keyed(quota.allow_burst(one))))
            });
        Ok(Outbox {
            delivery,
            from: settings.mail_from.clone(),
            throttle,
            last_sweep: Arc::default(),
            budget: Arc::new(Bucket::new(
                "mail_recipient",
                settings.mail_recipient_limit,
                store,
            )),
            notices: Arc::new(NoticeWindows {
                limit: settings.mail_notice_limit,
                windows: Mutex::default(),
            }),
            pool,
            clock,
        })
    }

    /// Takes one message of `recipient`'s link budget (`mail_recipient_limit`): false
    /// when it is spent, whoever asked for the messages and whatever they were. An
    /// address its account proved (`proved_by`) has a budget of that account's own, so
    /// mails for other accounts at spellings of the same inbox (which nobody proved)
    /// cannot spend the owner's.
    pub async fn within_budget(
        &self,
        recipient: &str,
        proved_by: Option<i64>,
    ) -> Result<bool, sqlx::Error> {
        let owner = match proved_by {
            Some(account_id) => format!("account {account_id}"),
            None => inbox_of(recipient),
        };
        let key = crate::rate_limit::short_digest(&owner);
        let admitted = self.budget.take(&key).await?.is_ok();
        if !admitted {
            log::info!("mail budget spent: a message to one recipient not sent");
        }
        Ok(admitted)
    }

    /// Sends a security notice to an address its account proved. The first
    /// `mail_notice_limit` of a period go at once, and the first of each kind
    /// (purpose) whatever came before; the rest are folded, by their `summary`, into
    /// one digest sent when the period ends. So a flood of decoys can neither bomb the
    /// inbox nor delay the first notice of another kind of change.
    pub fn send_notice(&self, letter: Letter, summary: String, digest_of: DigestOf) {
        let key = crate::rate_limit::short_digest(&letter.to.email.to_string().to_lowercase());
        let limit = self.notices.limit;
        let mut windows = self
            .notices
            .windows
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        windows.retain(|_, w| w.started.elapsed() < limit.period || !w.folded.is_empty());
        let window = windows.entry(key.clone()).or_insert_with(|| NoticeWindow {
            started: Instant::now(),
            sent: 0,
            kinds: Vec::new(),
            folded: Vec::new(),
            more: 0,
        });
        let new_kind = !window.kinds.contains(&letter.purpose);
        if window.sent < limit.count.get() || new_kind {
            window.sent += 1;
            if new_kind {
                window.kinds.push(letter.purpose);
            }
            drop(windows);
            self.send_admitted(letter);
            return;
        }
        let first_folded = window.folded.is_empty() && window.more == 0;
        if window.folded.len() < MAX_FOLDED_LINES {
            window.folded.push(summary);
        } else {
            window.more += 1;
        }
        if !first_folded {
            // The digest of this period is due already and will carry it.
            return;
        }
        let due = window.started + limit.period;
        let outbox = self.clone();
        rocket::tokio::spawn(async move {
            rocket::tokio::time::sleep_until(due.into()).await;
            let folded = {
                let mut windows = outbox
                    .notices
                    .windows
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                let Some(window) = windows.get_mut(&key) else {
                    return;
                };
                // The digest opens the next period and counts in it.
                window.started = Instant::now();
                window.sent = 1;
                window.kinds.clear();
                let mut folded = std::mem::take(&mut window.folded);
                let more = std::mem::take(&mut window.more);
                if more > 0 {
                    folded.push(format!("and {more} more"));
                }
                folded
            };
            if let Some(digest) = digest_of(folded) {
                outbox.send_admitted(digest);
            }
        });
    }

    /// Sends `letter` in the background, unless this recipient had one of this purpose
    /// within the throttle interval (then it is dropped: the caller's answer does not
    /// change). A failure is logged and audited.
    pub fn send_in_background(&self, letter: Letter) {
        if !self.admits(letter.purpose, letter.to.email.as_ref()) {
            log::info!("mail throttled: {} to one recipient", letter.purpose);
            return;
        }
        self.send_admitted(letter);
    }

    /// Sends a letter [`Outbox::admits`] let through, in the background.
    pub fn send_admitted(&self, letter: Letter) {
        let outbox = self.clone();
        rocket::tokio::spawn(async move {
            let (purpose, account_id) = (letter.purpose, letter.account_id);
            let sent = outbox.send_now(letter).await;
            if sent.is_ok() {
                tracing::debug!(purpose, account_id, "mail sent");
            }
            if let Err(error) = sent {
                log::warn!("sending the {purpose} message failed: {error}");
                let event = NewEvent {
                    kind: EventKind::MailFailed,
                    account_id,
                    actor_id: None,
                    detail: Some(format!("{purpose}: {error}")),
                    client: &ClientInfo::default(),
                };
                events::record(&outbox.pool, event, outbox.clock.now()).await;
            }
        });
    }

    /// Takes this recipient's allowance for `purpose`: false when a message of that
    /// purpose went to them within `mail_throttle_seconds`. A flow asks before it
    /// does anything the message stands for (a new link would void the last one).
    pub fn admits(&self, purpose: &str, recipient: &str) -> bool {
        match &self.throttle {
            Some(limiter) => {
                crate::rate_limit::sweep(limiter, &self.last_sweep);
                let key = format!("{purpose}:{}", recipient.to_lowercase());
                limiter.check_key(&key).is_ok()
            }
            None => true,
        }
    }

    /// Sends `letter` now and says where it went (the CLI's test; the background task).
    pub async fn send_now(&self, letter: Letter) -> Result<Delivered, String> {
        let message = Message::builder()
            .from(self.from.clone())
            .to(letter.to)
            .subject(letter.subject)
            .multipart(MultiPart::alternative_plain_html(letter.text, letter.html))
            .map_err(|e| format!("the message could not be built: {e}"))?;
        match &self.delivery {
            Delivery::Smtp(smtp) => {
                smtp.send(message).await.map_err(|e| e.to_string())?;
                Ok(Delivered::Smtp)
            }
            Delivery::File(files, dir) => {
                let id = files.send(message).await.map_err(|e| e.to_string())?;
                let path = format!("{dir}/{id}.eml");
                log::info!("mail written to {path}");
                Ok(Delivered::File(path))
            }
            Delivery::None => Err("mail_transport is \"none\": nothing is sent".into()),
        }
    }
}

/// One inbox however its address is spelled, for the recipient budget: lower case,
/// the domain in ASCII, without a `+tag`; at Gmail without dots (`googlemail.com` is
/// `gmail.com`); at Proton without dots, hyphens and underscores, on one domain; at
/// Fastmail, `anything@user.fastmail.com` is `user@fastmail.com`. Merging two inboxes
/// only makes the budget stricter; splitting one would let a sender bomb it through
/// its spellings.
pub fn inbox_of(address: &str) -> String {
    let address = address.to_lowercase();
    let Some((local, domain)) = address.rsplit_once('@') else {
        return address;
    };
    let domain = idna::domain_to_ascii(domain).unwrap_or_else(|_| domain.to_string());
    let local = local.split('+').next().unwrap_or(local);
    let without = |drop: &[char]| {
        local
            .chars()
            .filter(|c| !drop.contains(c))
            .collect::<String>()
    };
    match domain.as_str() {
        "gmail.com" | "googlemail.com" => format!("{}@gmail.com", without(&['.'])),
        "proton.me" | "protonmail.com" | "protonmail.ch" | "pm.me" => {
            format!("{}@proton.me", without(&['.', '-', '_']))
        }
        _ => match domain.strip_suffix(".fastmail.com") {
            Some(user) if !user.contains('.') => format!("{user}@fastmail.com"),
            _ => format!("{local}@{domain}"),
        },
    }
}

/// The SMTP transport of `url`: `smtps://` wraps the connection in TLS; `smtp://`
/// requires STARTTLS, except to a loopback address, where plain SMTP is allowed (a
/// local relay or a test sink). Certificates are checked against the system's roots
/// and those of `ca_file`.
fn smtp_transport(
    url: &SmtpUrl,
    ca_file: Option<&str>,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    let text = &url.0;
    let host = text
        .split_once("://")
        .map(|(_, rest)| rest.split(['/', '?']).next().unwrap_or(""))
        .and_then(|authority| authority.rsplit('@').next())
        .unwrap_or("");
    let host = host
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(host, |(host, _)| host)
        .trim_start_matches('[')
        .trim_end_matches(']');
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    // Off loopback, `smtp://` always requires STARTTLS, whatever its query says (a
    // `tls=` inside a password is no query parameter).
    let url = if text.starts_with("smtp://") && !loopback {
        let (base, query) = text.split_once('?').unwrap_or((text, ""));
        let mut parameters: Vec<&str> = query
            .split('&')
            .filter(|p| !p.is_empty() && !p.starts_with("tls="))
            .collect();
        parameters.push("tls=required");
        format!("{base}?{}", parameters.join("&"))
    } else {
        text.clone()
    };
    let query = url.split_once('?').map_or("", |(_, query)| query);
    let tls_mode = |mode: &str| query.split('&').any(|p| p == format!("tls={mode}"));
    let unusable = |e: lettre::transport::smtp::Error| {
        format!(
            "smtp_url {url:?} cannot be used: {e}",
            url = crate::db::redact_url(&url)
        )
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url).map_err(unusable)?;
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| format!("smtp_ca_file `{path}` cannot be read: {e}"))?;
        // A PEM without a certificate parses as none at all: say so now, not at the
        // first send.
        if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
            return Err(format!("smtp_ca_file `{path}` holds no PEM certificate"));
        }
        let roots = Certificate::from_pem(&pem)
            .map_err(|e| format!("smtp_ca_file `{path}` holds no usable certificate: {e}"))?;
        let parameters = TlsParameters::builder(host.to_string())
            .add_root_certificate(roots)
            .build_rustls()
            .map_err(unusable)?;
        // The same mode the URL chose, with the extra roots.
        let tls = if url.starts_with("smtps://") {
            Tls::Wrapper(parameters)
        } else if tls_mode("required") {
            Tls::Required(parameters)
        } else if tls_mode("opportunistic") {
            Tls::Opportunistic(parameters)
        } else {
            Tls::None
        };
        builder = builder.tls(tls);
    }
    Ok(builder.timeout(Some(Duration::from_secs(10))).build())
}

#[cfg(test)]
mod tests {
    use super::inbox_of;

    #[test]
    fn the_spellings_of_one_inbox_share_its_budget() {
        for spelling in [
            "Victim@Gmail.com",
            "victim+1@gmail.com",
            "v.i.c.tim+x@googlemail.com",
        ] {
            assert_eq!(inbox_of(spelling), "victim@gmail.com", "{spelling}");
        }
        assert_eq!(inbox_of("a.b+c@Example.org"), "a.b@example.org");
        for spelling in [
            "vic.tim@proton.me",
            "vic-tim@pm.me",
            "v_ictim+x@protonmail.ch",
        ] {
            assert_eq!(inbox_of(spelling), "victim@proton.me", "{spelling}");
        }
        assert_eq!(inbox_of("shop@victim.fastmail.com"), "victim@fastmail.com");
        assert_ne!(inbox_of("a.b@example.org"), inbox_of("ab@example.org"));
    }
}
