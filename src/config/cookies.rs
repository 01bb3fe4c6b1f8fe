//! Cookies: the names of the token, CSRF and feedback cookies, their path and their
//! attributes. In release they are Secure by default, and their names then carry the
//! `__Host-` prefix, with or without Rocket.toml.

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError, Profile};

/// The SameSite attribute of the auth cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SameSite {
    Strict,
    Lax,
    None,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Raw {
    pub access_cookie: String,
    pub refresh_cookie: String,
    pub csrf_cookie: String,
    pub cookie_path: String,
    pub cookie_secure: bool,
    pub cookie_same_site: SameSite,
}

impl Raw {
    pub fn defaults(profile: Profile) -> Raw {
        Raw {
            access_cookie: format!("{}_access", super::app_name()),
            refresh_cookie: format!("{}_refresh", super::app_name()),
            csrf_cookie: format!("{}_csrf", super::app_name()),
            cookie_path: "/".into(),
            // Served over HTTPS in production: Secure unless said otherwise.
            cookie_secure: profile == Profile::Release,
            cookie_same_site: SameSite::Lax,
        }
    }
}

impl Default for Raw {
    fn default() -> Self {
        Raw::defaults(Profile::Debug)
    }
}

#[derive(Debug, Clone)]
pub struct Cookies {
    /// The names as sent: with the `__Host-` prefix when Secure on path `/`.
    pub access_cookie: String,
    pub refresh_cookie: String,
    pub csrf_cookie: String,
    /// The pages' one-view feedback cookie (not configurable; prefixed like the others).
    pub feedback_cookie: String,
    /// The stem of the cookies that hold a link page's form token, one per purpose
    /// (`<stem>_password_reset`; not configurable; prefixed like the others).
    pub link_cookie: String,
    pub cookie_path: String,
    pub cookie_secure: bool,
    pub cookie_same_site: SameSite,
}

impl Cookies {
    pub fn from_raw(raw: Raw) -> Result<Cookies, ConfigError> {
        for (name, value) in [
            ("access_cookie", &raw.access_cookie),
            ("refresh_cookie", &raw.refresh_cookie),
            ("csrf_cookie", &raw.csrf_cookie),
        ] {
            let valid = !value.is_empty()
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            if !valid {
                return Err(invalid(
                    name,
                    "must be a non-empty cookie name of letters, digits, '-', '_' or '.'",
                ));
            }
        }
        if raw.access_cookie == raw.refresh_cookie
            || raw.csrf_cookie == raw.access_cookie
            || raw.csrf_cookie == raw.refresh_cookie
        {
            return Err(invalid(
                "refresh_cookie",
                "access_cookie, refresh_cookie and csrf_cookie must all differ",
            ));
        }
        if !raw.cookie_path.starts_with('/') {
            return Err(invalid("cookie_path", "must start with '/'"));
        }
        if raw.cookie_same_site == SameSite::None && !raw.cookie_secure {
            return Err(invalid(
                "cookie_same_site",
                "\"none\" requires cookie_secure = true",
            ));
        }
        // Browsers only accept `__Host-` cookies that are Secure, on path `/`, with no
        // domain: then no subdomain or plain-HTTP page can plant or overwrite them.
        let prefix = if raw.cookie_secure && raw.cookie_path == "/" {
            "__Host-"
        } else {
            ""
        };
        Ok(Cookies {
            access_cookie: format!("{prefix}{}", raw.access_cookie),
            refresh_cookie: format!("{prefix}{}", raw.refresh_cookie),
            csrf_cookie: format!("{prefix}{}", raw.csrf_cookie),
            feedback_cookie: format!("{prefix}{}_feedback", super::app_name()),
            link_cookie: format!("{prefix}{}_link", super::app_name()),
            cookie_path: raw.cookie_path,
            cookie_secure: raw.cookie_secure,
            cookie_same_site: raw.cookie_same_site,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_cookies_are_secure_and_host_prefixed_by_default() {
        let release = Cookies::from_raw(Raw::defaults(Profile::Release)).unwrap();
        assert!(release.cookie_secure);
        let app = crate::config::app_name();
        assert_eq!(release.access_cookie, format!("__Host-{app}_access"));
        assert_eq!(release.feedback_cookie, format!("__Host-{app}_feedback"));
        let debug = Cookies::from_raw(Raw::defaults(Profile::Debug)).unwrap();
        assert!(!debug.cookie_secure);
        assert_eq!(debug.csrf_cookie, format!("{app}_csrf"));
    }

    #[test]
    fn bad_cookie_settings_are_named() {
        let same = Raw {
            csrf_cookie: Raw::default().access_cookie,
            ..Raw::default()
        };
        assert!(Cookies::from_raw(same).is_err());
        let spaced = Raw {
            access_cookie: "a b".into(),
            ..Raw::default()
        };
        assert!(Cookies::from_raw(spaced)
            .unwrap_err()
            .to_string()
            .contains("access_cookie"));
        let insecure_none = Raw {
            cookie_same_site: SameSite::None,
            ..Raw::default()
        };
        assert!(Cookies::from_raw(insecure_none).is_err());
    }
}
