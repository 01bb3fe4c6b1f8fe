//! Mail: how messages leave (SMTP, `.eml` files, or not at all), who they are from,
//! the public base of every link they carry, and how often one recipient may get a
//! message of one kind.

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError, Profile, Rate};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Raw {
    pub mail_transport: Option<String>,
    pub smtp_url: Option<String>,
    pub mail_from: String,
    pub mail_dir: String,
    pub public_url: Option<String>,
    pub mail_throttle_seconds: u64,
    pub mail_recipient_limit: String,
    pub mail_notice_limit: String,
    pub verify_email_ttl: u64,
    pub email_verification_required: bool,
    pub password_reset_ttl: u64,
    pub email_change_ttl: u64,
    pub link_allowlist: Vec<String>,
    pub smtp_ca_file: Option<String>,
    pub notify_password_changed: bool,
    pub notify_email_changed: bool,
    pub notify_two_factor_disabled: bool,
    pub notify_recovery_codes_regenerated: bool,
    pub notify_new_device: bool,
}

impl Raw {
    pub fn defaults(_profile: Profile) -> Raw {
        Raw {
            // Unset: the file mailer in debug; release refuses to start (see below).
            mail_transport: None,
            smtp_url: None,
            mail_from: format!("{} <noreply@localhost>", super::brand()),
            mail_dir: "mail".into(),
            public_url: None,
            mail_throttle_seconds: 60,
            // Any one inbox hears from us at most this often, whoever asks.
            mail_recipient_limit: "5/hour".into(),
            mail_notice_limit: "3/hour".into(),
            // GoTrue's figure for its links.
            verify_email_ttl: 24 * 60 * 60,
            email_verification_required: false,
            // Devise's and Kratos' figure: a reset link is worth an hour.
            password_reset_ttl: 60 * 60,
            email_change_ttl: 24 * 60 * 60,
            link_allowlist: Vec::new(),
            smtp_ca_file: None,
            notify_password_changed: true,
            notify_email_changed: true,
            notify_two_factor_disabled: true,
            notify_recovery_codes_regenerated: true,
            notify_new_device: true,
        }
    }
}

impl Default for Raw {
    fn default() -> Self {
        Raw::defaults(Profile::Debug)
    }
}

/// Where messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// Through the SMTP server of `smtp_url`.
    Smtp(SmtpUrl),
    /// As `.eml` files in `mail_dir`, their paths logged: development.
    File,
    /// Nowhere: the email features are off.
    None,
}

/// An SMTP URL as given (it may hold a password: never printed).
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl(pub String);

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::db::redact_url(&self.0))
    }
}

#[derive(Debug, Clone)]
pub struct Mail {
    pub mail_transport: Transport,
    pub mail_from: lettre::message::Mailbox,
    pub mail_dir: String,
    /// The base of every link, without a trailing slash; never the request's Host.
    pub public_url: String,
    pub mail_throttle_seconds: u64,
    /// Link mails (and any mail to an address the account has not proved) one
    /// recipient may get, whoever asks for them; past it nothing is sent.
    pub mail_recipient_limit: Rate,
    /// Security notices one verified address gets at once; past it the rest of the
    /// period's notices are folded into one digest at its end, never dropped.
    pub mail_notice_limit: Rate,
    /// Seconds a verification link works.
    pub verify_email_ttl: i64,
    /// Unverified accounts may not log in (403 `email_unverified`).
    pub email_verification_required: bool,
    /// Seconds a password reset link works.
    pub password_reset_ttl: i64,
    /// Seconds the confirmation link of a change of address works.
    pub email_change_ttl: i64,
    /// Absolute URLs an SPA may name as `redirect_to`, the target of the links it
    /// asks for (the token then travels in the URL's fragment).
    pub link_allowlist: Vec<String>,
    /// PEM certificates trusted for SMTP besides the system's roots (a private CA).
    pub smtp_ca_file: Option<String>,
    pub notices: Notices,
}

/// Which security notices go to an account's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notices {
    pub password_changed: bool,
    pub email_changed: bool,
    pub two_factor_disabled: bool,
    pub recovery_codes_regenerated: bool,
    pub new_device: bool,
}

impl Mail {
    /// `default_public_url` is where this instance listens, for debug runs that name
    /// no `public_url`.
    pub fn from_raw(
        raw: Raw,
        profile: Profile,
        default_public_url: &str,
    ) -> Result<Mail, ConfigError> {
        let mail_transport = match raw.mail_transport.as_deref().map(str::trim) {
            Some("smtp") => {
                let url = raw.smtp_url.as_deref().map(str::trim).unwrap_or("");
                Transport::Smtp(check_smtp_url(url)?)
            }
            Some("file") => Transport::File,
            Some("none") => Transport::None,
            None | Some("") if profile == Profile::Debug => Transport::File,
            None | Some("") => {
                return Err(invalid(
                    "mail_transport",
                    "the release profile needs it set explicitly: \"smtp\" (with smtp_url), \
                     \"file\" or \"none\" (which turns the email features off)",
                ))
            }
            Some(other) => {
                return Err(invalid(
                    "mail_transport",
                    format!("`{other}` is none of \"smtp\", \"file\" and \"none\""),
                ))
            }
        };
        let mail_from = raw.mail_from.trim().parse().map_err(|_| {
            invalid(
                "mail_from",
                format!(
                    "`{}` is not an address like \"App <noreply@example.com>\"",
                    raw.mail_from
                ),
            )
        })?;
        let public_url = match raw.public_url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => url.trim_end_matches('/').to_string(),
            _ if profile == Profile::Debug || mail_transport == Transport::None => {
                default_public_url.to_string()
            }
            _ => {
                return Err(invalid(
                    "public_url",
                    "the release profile needs the public base of the links mail carries \
                     (https://app.example.com)",
                ))
            }
        };
        if !(public_url.starts_with("https://") || public_url.starts_with("http://")) {
            return Err(invalid(
                "public_url",
                "must start with https:// (or http://)",
            ));
        }
        if raw.mail_throttle_seconds > 24 * 60 * 60 {
            return Err(invalid(
                "mail_throttle_seconds",
                "must be at most one day (0: no throttle)",
            ));
        }
        if !(60..=30 * 24 * 60 * 60).contains(&raw.verify_email_ttl) {
            return Err(invalid(
                "verify_email_ttl",
                "must be between 60 seconds and 30 days",
            ));
        }
        if !(300..=24 * 60 * 60).contains(&raw.password_reset_ttl) {
            return Err(invalid(
                "password_reset_ttl",
                "must be between 5 minutes and one day",
            ));
        }
        if !(300..=30 * 24 * 60 * 60).contains(&raw.email_change_ttl) {
            return Err(invalid(
                "email_change_ttl",
                "must be between 5 minutes and 30 days",
            ));
        }
        let link_allowlist = raw
            .link_allowlist
            .iter()
            .map(|target| check_link_target(target))
            .collect::<Result<Vec<_>, _>>()?;
        let smtp_ca_file = raw
            .smtp_ca_file
            .map(|path| path.trim().to_string())
            .filter(|path| !path.is_empty());
        if raw.email_verification_required && mail_transport == Transport::None {
            return Err(invalid(
                "email_verification_required",
                "needs mail: with mail_transport = \"none\" nobody could verify",
            ));
        }
        // The budgets stay on whatever `rate_limit_enabled` says: they protect other
        // people's inboxes.
        let rate = |key: &'static str, text: &str| {
            Rate::parse(text).map_err(|e| {
                if e.contains("rate_limit_enabled") {
                    invalid(key, "a rate of 0 would send no mail; raise it to loosen it")
                } else {
                    invalid(key, e)
                }
            })
        };
        let mail_recipient_limit = rate("mail_recipient_limit", &raw.mail_recipient_limit)?;
        let mail_notice_limit = rate("mail_notice_limit", &raw.mail_notice_limit)?;
        Ok(Mail {
            mail_recipient_limit,
            mail_notice_limit,
            verify_email_ttl: raw.verify_email_ttl as i64,
            email_verification_required: raw.email_verification_required,
            mail_transport,
            mail_from,
            mail_dir: raw.mail_dir,
            public_url,
            mail_throttle_seconds: raw.mail_throttle_seconds,
            password_reset_ttl: raw.password_reset_ttl as i64,
            email_change_ttl: raw.email_change_ttl as i64,
            link_allowlist,
            smtp_ca_file,
            notices: Notices {
                password_changed: raw.notify_password_changed,
                email_changed: raw.notify_email_changed,
                two_factor_disabled: raw.notify_two_factor_disabled,
                recovery_codes_regenerated: raw.notify_recovery_codes_regenerated,
                new_device: raw.notify_new_device,
            },
        })
    }

    /// `redirect_to` if it is one of `link_allowlist` (exactly), for a link's target.
    pub fn allowed_link_target<'a>(&self, redirect_to: &'a str) -> Option<&'a str> {
        self.link_allowlist
            .iter()
            .any(|allowed| allowed == redirect_to)
            .then_some(redirect_to)
    }

    /// False with `mail_transport = "none"`: the email features are off.
    pub fn enabled(&self) -> bool {
        self.mail_transport != Transport::None
    }
}

/// An allowed link target: an absolute http(s) URL without a fragment (the token
/// goes there) and without spaces or control characters.
fn check_link_target(target: &str) -> Result<String, ConfigError> {
    let target = target.trim();
    let host = target
        .strip_prefix("https://")
        .or_else(|| target.strip_prefix("http://"))
        .and_then(|rest| rest.split(['/', '?']).next())
        .unwrap_or("");
    if host.is_empty()
        || target.contains('#')
        || target.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid(
            "link_allowlist",
            format!("`{target}` is not an absolute http(s) URL without a fragment"),
        ));
    }
    Ok(target.to_string())
}

/// `smtp://user:pass@host:587` (STARTTLS), `smtps://user:pass@host:465` (implicit
/// TLS), or `smtp://host:port` without TLS to a loopback address only.
fn check_smtp_url(url: &str) -> Result<SmtpUrl, ConfigError> {
    let shape = || {
        invalid(
            "smtp_url",
            "must be smtp://user:pass@host:587 (STARTTLS), smtps://user:pass@host:465 \
             (implicit TLS), or smtp://127.0.0.1:port without TLS on this machine",
        )
    };
    let (scheme, rest) = url.split_once("://").ok_or_else(shape)?;
    if !matches!(scheme, "smtp" | "smtps") {
        return Err(shape());
    }
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    if host_port.is_empty() {
        return Err(shape());
    }
    Ok(SmtpUrl(url.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(raw: Raw, profile: Profile) -> Result<Mail, ConfigError> {
        Mail::from_raw(raw, profile, "http://127.0.0.1:8000")
    }

    #[test]
    fn a_mail_budget_of_zero_is_refused_with_its_own_sentence() {
        for key in ["mail_recipient_limit", "mail_notice_limit"] {
            let mut raw = Raw::default();
            match key {
                "mail_recipient_limit" => raw.mail_recipient_limit = "0/hour".into(),
                _ => raw.mail_notice_limit = "0/hour".into(),
            }
            let error = mail(raw, Profile::Debug).unwrap_err().to_string();
            assert!(error.contains(key) && error.contains("no mail"), "{error}");
        }
    }

    #[test]
    fn debug_writes_files_and_release_must_choose() {
        let debug = mail(Raw::default(), Profile::Debug).unwrap();
        assert_eq!(debug.mail_transport, Transport::File);
        assert_eq!(debug.public_url, "http://127.0.0.1:8000");
        let error = mail(Raw::default(), Profile::Release)
            .unwrap_err()
            .to_string();
        assert!(error.contains("mail_transport"), "{error}");
        let no_url = Raw {
            mail_transport: Some("file".into()),
            ..Raw::default()
        };
        assert!(mail(no_url, Profile::Release)
            .unwrap_err()
            .to_string()
            .contains("public_url"));
        let off = Raw {
            mail_transport: Some("none".into()),
            ..Raw::default()
        };
        assert!(!mail(off, Profile::Release).unwrap().enabled());
    }

    #[test]
    fn smtp_needs_a_url_of_the_documented_shapes_and_hides_its_password() {
        let smtp = |url: &str| {
            mail(
                Raw {
                    mail_transport: Some("smtp".into()),
                    smtp_url: Some(url.into()),
                    ..Raw::default()
                },
                Profile::Debug,
            )
        };
        let ok = smtp("smtp://user:secret@mail.example.com:587").unwrap();
        assert!(!format!("{ok:?}").contains("secret"));
        assert!(smtp("smtps://mail.example.com").is_ok());
        for bad in [
            "",
            "http://mail.example.com",
            "smtp://",
            "mail.example.com:25",
        ] {
            assert!(smtp(bad).is_err(), "{bad}");
        }
        let targets = Raw {
            link_allowlist: vec!["https://spa.example.com/auth/callback".into()],
            ..Raw::default()
        };
        let allowed = mail(targets, Profile::Debug).unwrap();
        let target = "https://spa.example.com/auth/callback";
        assert_eq!(allowed.allowed_link_target(target), Some(target));
        assert_eq!(allowed.allowed_link_target(&format!("{target}/x")), None);
        for bad in [
            "/relative",
            "https://",
            "ftp://x.example",
            "https://x.example/#f",
        ] {
            let raw = Raw {
                link_allowlist: vec![bad.into()],
                ..Raw::default()
            };
            assert!(mail(raw, Profile::Debug).is_err(), "{bad}");
        }
        let from = Raw {
            mail_from: "not an address".into(),
            ..Raw::default()
        };
        assert!(mail(from, Profile::Debug).is_err());
    }
}
