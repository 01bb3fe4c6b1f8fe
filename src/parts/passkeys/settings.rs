//! The part's settings, in the `gatehouse` table: whether passkeys are offered, the
//! relying party (the domain passkeys are bound to, and the page origin browsers
//! report), and how many passkeys one account may keep. Unset in release, the relying
//! party comes from `public_url`; in debug it is `localhost` on the listening port.

use serde::{Deserialize, Serialize};
use url::Url;
use webauthn_rs::{Webauthn, WebauthnBuilder};

use crate::config::{invalid, ConfigError, Profile, ENV_PREFIX};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Raw {
    pub passkeys_enabled: bool,
    pub webauthn_rp_id: Option<String>,
    pub webauthn_origin: Option<String>,
    pub max_passkeys_per_account: u32,
    pub notify_passkey_changes: bool,
}

impl Raw {
    pub fn defaults(_profile: Profile) -> Raw {
        Raw {
            passkeys_enabled: true,
            webauthn_rp_id: None,
            webauthn_origin: None,
            // Kanidm's and Keycloak's order of magnitude: enough for every device.
            max_passkeys_per_account: 20,
            notify_passkey_changes: true,
        }
    }
}

impl Default for Raw {
    fn default() -> Self {
        Raw::defaults(Profile::Debug)
    }
}

/// What the part runs with.
#[derive(Debug, Clone)]
pub struct PasskeySettings {
    /// False when switched off, or when release has no origin to bind passkeys to.
    pub enabled: bool,
    pub rp_id: String,
    pub origin: String,
    pub max_per_account: u32,
    /// Whether adding or removing one sends a security notice.
    pub notify_changes: bool,
    /// Why passkeys are off although `passkeys_enabled` is on (logged at start-up).
    pub off_because: Option<String>,
}

/// Where the relying party comes from when the settings name none.
pub struct Fallback<'a> {
    /// `public_url` as configured (not the debug default).
    pub public_url: Option<&'a str>,
    /// The port this instance listens on.
    pub port: u16,
}

impl PasskeySettings {
    pub fn from_raw(
        raw: Raw,
        profile: Profile,
        fallback: Fallback<'_>,
    ) -> Result<PasskeySettings, ConfigError> {
        if !(1..=100).contains(&raw.max_passkeys_per_account) {
            return Err(invalid("max_passkeys_per_account", "must be from 1 to 100"));
        }
        let max_per_account = raw.max_passkeys_per_account;
        let derived = non_empty(&raw.webauthn_origin).is_none();
        let origin = match non_empty(&raw.webauthn_origin) {
            Some(origin) => Some(origin.trim_end_matches('/').to_string()),
            None => match (profile, fallback.public_url) {
                (_, Some(url)) if !url.trim().is_empty() => {
                    Some(origin_of(url.trim()).ok_or_else(|| {
                        invalid("public_url", "is not a URL a browser page could come from")
                    })?)
                }
                (Profile::Debug, _) => Some(format!("http://localhost:{}", fallback.port)),
                (Profile::Release, _) => None,
            },
        };
        let off = |reason: String| PasskeySettings {
            enabled: false,
            rp_id: String::new(),
            origin: String::new(),
            max_per_account,
            notify_changes: raw.notify_passkey_changes,
            off_because: raw.passkeys_enabled.then_some(reason),
        };
        let Some(origin) = origin else {
            return Ok(off(format!(
                "passkeys are off: the release profile needs public_url (or \
                 {ENV_PREFIX}WEBAUTHN_ORIGIN) to bind them to"
            )));
        };
        match Self::bound_to(&raw, origin, max_per_account) {
            // A public_url that suits mail but not passkeys (http, an IP address)
            // keeps an existing deployment starting, with passkeys off.
            Err(_) if derived => Ok(off(format!(
                "passkeys are off: public_url ({}) cannot be their origin, which must be \
                 https:// with a domain name (http:// only on localhost); set \
                 {ENV_PREFIX}WEBAUTHN_ORIGIN to the pages' origin",
                fallback.public_url.unwrap_or_default().trim()
            ))),
            other => other,
        }
    }

    fn bound_to(
        raw: &Raw,
        origin: String,
        max_per_account: u32,
    ) -> Result<PasskeySettings, ConfigError> {
        let url = Url::parse(&origin).map_err(|_| {
            invalid(
                "webauthn_origin",
                format!("`{origin}` is not an origin such as https://app.example.com"),
            )
        })?;
        let host = url.host_str().unwrap_or_default().to_string();
        let secure = url.scheme() == "https" || (url.scheme() == "http" && host == "localhost");
        if !secure || url.path() != "/" || url.query().is_some() {
            return Err(invalid(
                "webauthn_origin",
                format!(
                    "`{origin}` must be an https:// origin without a path (http:// only on \
                     localhost): browsers offer passkeys nowhere else"
                ),
            ));
        }
        let rp_id = match non_empty(&raw.webauthn_rp_id) {
            Some(id) => id.to_ascii_lowercase(),
            None => host.clone(),
        };
        if url.domain().is_none() {
            return Err(invalid(
                "webauthn_origin",
                format!(
                    "`{origin}` has an IP address: a passkey needs a domain name (open \
                     http://localhost:<port> in development)"
                ),
            ));
        }
        let settings = PasskeySettings {
            enabled: raw.passkeys_enabled,
            rp_id,
            origin: url.origin().ascii_serialization(),
            max_per_account,
            notify_changes: raw.notify_passkey_changes,
            off_because: None,
        };
        // The builder refuses an RP id that is not the origin's host or a parent of it.
        settings.relying_party()?;
        Ok(settings)
    }

    /// The webauthn-rs relying party these settings describe.
    pub fn relying_party(&self) -> Result<Webauthn, ConfigError> {
        let refused = || {
            invalid(
                "webauthn_rp_id",
                format!(
                    "`{}` must be the host of webauthn_origin ({}) or a domain it is under",
                    self.rp_id, self.origin
                ),
            )
        };
        let origin = Url::parse(&self.origin).map_err(|_| refused())?;
        WebauthnBuilder::new(&self.rp_id, &origin)
            .and_then(|builder| builder.rp_name(&crate::config::brand()).build())
            .map_err(|_| refused())
    }
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// `https://app.example.com` of `https://app.example.com/base/`.
fn origin_of(url: &str) -> Option<String> {
    let url = Url::parse(url).ok()?;
    url.host_str()?;
    Some(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(raw: Raw, profile: Profile, public_url: Option<&str>) -> PasskeySettings {
        let fallback = Fallback {
            public_url,
            port: 8000,
        };
        PasskeySettings::from_raw(raw, profile, fallback).unwrap()
    }

    #[test]
    fn debug_binds_passkeys_to_localhost_on_the_listening_port() {
        let debug = settings(Raw::default(), Profile::Debug, None);
        assert!(debug.enabled);
        assert_eq!(debug.rp_id, "localhost");
        assert_eq!(debug.origin, "http://localhost:8000");
    }

    #[test]
    fn release_takes_public_url_or_switches_passkeys_off() {
        let release = settings(
            Raw::default(),
            Profile::Release,
            Some("https://App.Example.com/base/"),
        );
        assert_eq!(release.rp_id, "app.example.com");
        assert_eq!(release.origin, "https://app.example.com");
        let off = settings(Raw::default(), Profile::Release, None);
        assert!(!off.enabled);
        assert!(off.off_because.unwrap().contains("public_url"));
    }

    #[test]
    fn a_public_url_unfit_for_passkeys_switches_them_off_rather_than_stopping_start_up() {
        for url in ["http://app.example.com", "https://10.0.0.1"] {
            let off = settings(Raw::default(), Profile::Release, Some(url));
            assert!(!off.enabled, "{url}");
            assert!(
                off.off_because.unwrap().contains("WEBAUTHN_ORIGIN"),
                "{url}"
            );
        }
    }

    #[test]
    fn a_parent_domain_is_a_valid_rp_id_and_an_unrelated_one_is_not() {
        let raw = Raw {
            webauthn_rp_id: Some("example.com".into()),
            webauthn_origin: Some("https://login.example.com".into()),
            ..Raw::default()
        };
        assert_eq!(settings(raw, Profile::Release, None).rp_id, "example.com");
        let unrelated = Raw {
            webauthn_rp_id: Some("other.org".into()),
            webauthn_origin: Some("https://login.example.com".into()),
            ..Raw::default()
        };
        let fallback = Fallback {
            public_url: None,
            port: 8000,
        };
        let error = PasskeySettings::from_raw(unrelated, Profile::Release, fallback).unwrap_err();
        assert!(error.to_string().contains("webauthn_rp_id"), "{error}");
    }

    #[test]
    fn ip_addresses_and_plain_http_are_refused() {
        for origin in [
            "http://127.0.0.1:8000",
            "http://app.example.com",
            "https://[::1]",
        ] {
            let raw = Raw {
                webauthn_origin: Some(origin.into()),
                ..Raw::default()
            };
            let fallback = Fallback {
                public_url: None,
                port: 8000,
            };
            let error = PasskeySettings::from_raw(raw, Profile::Debug, fallback).unwrap_err();
            assert!(
                error.to_string().contains("webauthn_origin"),
                "{origin}: {error}"
            );
        }
    }
}
