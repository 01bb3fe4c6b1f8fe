//! Cross-origin calls to `/api` from single-page apps served by other origins: the
//! exact origins allowed, none by default. A wildcard is refused: the answers carry
//! `Access-Control-Allow-Credentials`, so every origin must be named.

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError, Profile};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Raw {
    pub cors_allowed_origins: Vec<String>,
}

impl Raw {
    pub fn defaults(_profile: Profile) -> Raw {
        Raw {
            cors_allowed_origins: Vec::new(),
        }
    }
}

impl Default for Raw {
    fn default() -> Self {
        Raw::defaults(Profile::Debug)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Cors {
    /// Origins as browsers send them (`https://app.example.com`, a port when it is
    /// not the scheme's own), compared exactly.
    pub cors_allowed_origins: Vec<String>,
}

impl Cors {
    pub fn from_raw(raw: Raw) -> Result<Cors, ConfigError> {
        let origins = raw
            .cors_allowed_origins
            .iter()
            .map(|text| origin(text).map_err(|reason| invalid("cors_allowed_origins", reason)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Cors {
            cors_allowed_origins: origins,
        })
    }
}

impl Cors {
    /// With secure cookies (release), an origin must be `https://`, but on loopback:
    /// anyone on the network could put a script into a plain-HTTP page, and that
    /// script would call the API with the user's cookies and read the answers.
    pub fn refuse_plain_http(&self) -> Result<(), ConfigError> {
        let plain = self.cors_allowed_origins.iter().find(|origin| {
            let host = url::Url::parse(origin)
                .ok()
                .and_then(|url| url.host_str().map(str::to_string));
            origin.starts_with("http://")
                && !matches!(host.as_deref(), Some("localhost" | "127.0.0.1" | "[::1]"))
        });
        match plain {
            Some(origin) => Err(invalid(
                "cors_allowed_origins",
                format!(
                    "`{origin}` is plain HTTP, refused with secure cookies: a script injected \
                     on the network could call the API as the user; use https://"
                ),
            )),
            None => Ok(()),
        }
    }
}

/// One origin, checked and written as a browser's `Origin` header writes it.
fn origin(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.contains('*') {
        return Err(format!(
            "`{text}`: wildcards are refused; list each origin (https://app.example.com)"
        ));
    }
    let url = url::Url::parse(text).map_err(|_| {
        format!(
            "`{text}` is not an origin; write scheme://host[:port], e.g. https://app.example.com"
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("`{text}`: an origin is http:// or https://"));
    }
    let bare = url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none()
        && !text.ends_with('/');
    if !bare {
        return Err(format!(
            "`{text}` is not an origin: no path, query or user (write https://app.example.com)"
        ));
    }
    Ok(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_origins_are_refused_with_secure_cookies_but_on_loopback() {
        let cors = |origin: &str| {
            Cors::from_raw(Raw {
                cors_allowed_origins: vec![origin.to_string()],
            })
            .unwrap()
        };
        assert!(cors("http://app.example.com").refuse_plain_http().is_err());
        for fine in [
            "https://app.example.com",
            "http://localhost:5173",
            "http://127.0.0.1:8080",
            "http://[::1]:3000",
        ] {
            assert!(cors(fine).refuse_plain_http().is_ok(), "{fine}");
        }
    }

    #[test]
    fn origins_are_exact_and_wildcards_are_refused() {
        assert_eq!(
            origin(" https://App.Example.com ").unwrap(),
            "https://app.example.com"
        );
        assert_eq!(
            origin("http://localhost:5173").unwrap(),
            "http://localhost:5173"
        );
        assert_eq!(
            origin("https://example.com:443").unwrap(),
            "https://example.com"
        );
        for bad in [
            "*",
            "https://*.example.com",
            "null",
            "example.com",
            "https://example.com/",
            "https://example.com/app",
            "https://example.com?x=1",
            "https://user@example.com",
            "ftp://example.com",
        ] {
            assert!(origin(bad).is_err(), "{bad}");
        }
    }
}
