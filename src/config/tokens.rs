//! Tokens: the signing secret, the algorithm of access tokens and the secret sealing
//! their keys, lifetimes and clock leeway, where clients present their access token,
//! and the issuer and audience every token is checked against.

use serde::{Deserialize, Serialize};

use super::{check_key_material, invalid, ConfigError, Profile, ENV_PREFIX, MIN_SECRET_BYTES};

/// Where clients may present their access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenLocation {
    Header,
    Cookie,
}

/// How access tokens are signed. EdDSA and ES256 use key pairs kept in the database
/// (their public halves published as a JWKS); HS256 uses a key derived from `secret`,
/// which only this app can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenAlgorithm {
    #[serde(
        rename = "EdDSA",
        alias = "eddsa",
        alias = "Ed25519",
        alias = "ed25519"
    )]
    EdDsa,
    #[serde(rename = "ES256", alias = "es256")]
    Es256,
    #[serde(rename = "HS256", alias = "hs256")]
    Hs256,
}

impl TokenAlgorithm {
    /// Whether tokens of this algorithm are signed by a key pair from the database.
    pub fn is_asymmetric(self) -> bool {
        !matches!(self, TokenAlgorithm::Hs256)
    }
}

/// The keys of this section as they are written in Rocket.toml.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Raw {
    pub secret: Option<String>,
    pub access_ttl: u64,
    pub refresh_ttl: u64,
    pub remember_ttl: u64,
    pub refresh_grace: u64,
    pub leeway: u64,
    pub token_locations: Vec<TokenLocation>,
    pub issuer: String,
    pub audience: String,
    pub introspection_secret: Option<String>,
    pub access_token_algorithm: TokenAlgorithm,
    pub signing_key_secret: Option<String>,
    pub jwks_max_age: u64,
}

impl Raw {
    pub fn defaults(_profile: Profile) -> Raw {
        Raw {
            secret: None,
            access_ttl: 15 * 60,
            refresh_ttl: 24 * 60 * 60,
            remember_ttl: 30 * 24 * 60 * 60,
            refresh_grace: 10,
            leeway: 30,
            token_locations: vec![TokenLocation::Header, TokenLocation::Cookie],
            issuer: super::app_name(),
            audience: super::app_name(),
            introspection_secret: None,
            access_token_algorithm: TokenAlgorithm::EdDsa,
            signing_key_secret: None,
            jwks_max_age: 600,
        }
    }
}

impl Default for Raw {
    fn default() -> Self {
        Raw::defaults(Profile::Debug)
    }
}

#[derive(Clone)]
pub struct Tokens {
    /// The HMAC key of every token. Never printed (`Settings`' `Debug` leaves it out).
    pub secret: Vec<u8>,
    /// True when no secret was configured and a random one was made for this run.
    pub secret_is_ephemeral: bool,
    pub access_ttl: i64,
    pub refresh_ttl: i64,
    pub remember_ttl: i64,
    pub refresh_grace: i64,
    pub leeway: i64,
    pub token_locations: Vec<TokenLocation>,
    pub issuer: String,
    pub audience: String,
    /// The bearer credential of services allowed to ask `POST /api/auth/introspect`;
    /// `None`: the route answers 404. Never printed.
    pub introspection_secret: Option<Vec<u8>>,
    pub access_token_algorithm: TokenAlgorithm,
    /// Seals the private halves of the signing keys in the database. Never printed.
    pub signing_key_secret: Vec<u8>,
    /// True when no `signing_key_secret` was configured and a random one was made for
    /// this run (debug only): keys sealed by an earlier run are then retired.
    pub signing_key_secret_is_ephemeral: bool,
    /// How long services may cache the JWKS; a rotated-in key signs only after it.
    pub jwks_max_age: i64,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret is never printed.
        f.debug_struct("Tokens")
            .field("secret_is_ephemeral", &self.secret_is_ephemeral)
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .field("remember_ttl", &self.remember_ttl)
            .field("token_locations", &self.token_locations)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("access_token_algorithm", &self.access_token_algorithm)
            .field(
                "signing_key_secret_is_ephemeral",
                &self.signing_key_secret_is_ephemeral,
            )
            .field("jwks_max_age", &self.jwks_max_age)
            .finish_non_exhaustive()
    }
}

impl Tokens {
    pub fn from_raw(raw: Raw, profile: Profile) -> Result<Tokens, ConfigError> {
        let (secret, secret_is_ephemeral) = match raw.secret.as_deref() {
            Some(text) if !text.trim().is_empty() => (check_key_material("secret", text)?, false),
            _ if profile == Profile::Release => {
                return Err(invalid(
                    "secret",
                    format!(
                        "the release profile needs a signing secret of at least {MIN_SECRET_BYTES} random bytes; \
                         generate one with `openssl rand -base64 48` and set {ENV_PREFIX}SECRET"
                    ),
                ))
            }
            _ => (crate::random::bytes(MIN_SECRET_BYTES), true),
        };
        let positive = |name: &'static str, value: u64| -> Result<i64, ConfigError> {
            if value == 0 {
                return Err(invalid(name, "must be greater than zero"));
            }
            i64::try_from(value).map_err(|_| invalid(name, "is too large"))
        };
        let access_ttl = positive("access_ttl", raw.access_ttl)?;
        let refresh_ttl = positive("refresh_ttl", raw.refresh_ttl)?;
        let remember_ttl = positive("remember_ttl", raw.remember_ttl)?;
        if access_ttl > refresh_ttl {
            return Err(invalid("access_ttl", "must not be longer than refresh_ttl"));
        }
        if refresh_ttl > remember_ttl {
            return Err(invalid(
                "remember_ttl",
                "must not be shorter than refresh_ttl",
            ));
        }
        if raw.refresh_grace > 300 {
            return Err(invalid("refresh_grace", "must be at most 300 seconds"));
        }
        if raw.leeway > 60 {
            return Err(invalid("leeway", "must be at most 60 seconds"));
        }
        if raw.token_locations.is_empty() {
            return Err(invalid(
                "token_locations",
                "needs at least one of \"header\" and \"cookie\"",
            ));
        }
        if raw.issuer.trim().is_empty() {
            return Err(invalid("issuer", "must not be empty"));
        }
        if raw.audience.trim().is_empty() {
            return Err(invalid("audience", "must not be empty"));
        }
        let introspection_secret = match raw.introspection_secret.as_deref() {
            Some(text) if !text.trim().is_empty() => {
                let key = check_key_material("introspection_secret", text)?;
                if key == secret {
                    return Err(invalid(
                        "introspection_secret",
                        "must differ from the signing secret",
                    ));
                }
                Some(key)
            }
            _ => None,
        };
        let (signing_key_secret, signing_key_secret_is_ephemeral) = match raw
            .signing_key_secret
            .as_deref()
        {
            Some(text) if !text.trim().is_empty() => {
                let key = check_key_material("signing_key_secret", text)?;
                if key == secret {
                    return Err(invalid(
                        "signing_key_secret",
                        "must differ from the signing secret",
                    ));
                }
                (key, false)
            }
            _ if profile == Profile::Release && raw.access_token_algorithm.is_asymmetric() => {
                return Err(invalid(
                    "signing_key_secret",
                    format!(
                        "the release profile needs a secret of at least {MIN_SECRET_BYTES} random bytes to seal \
                         the access-token signing keys stored in the database (the same on every instance); \
                         generate one with `openssl rand -base64 48` and set {ENV_PREFIX}SIGNING_KEY_SECRET"
                    ),
                ))
            }
            _ => (crate::random::bytes(MIN_SECRET_BYTES), true),
        };
        if raw.jwks_max_age > 24 * 60 * 60 {
            return Err(invalid(
                "jwks_max_age",
                "must be at most 86400 seconds (a day)",
            ));
        }
        Ok(Tokens {
            signing_key_secret,
            signing_key_secret_is_ephemeral,
            access_token_algorithm: raw.access_token_algorithm,
            jwks_max_age: raw.jwks_max_age as i64,
            introspection_secret,
            secret,
            secret_is_ephemeral,
            access_ttl,
            refresh_ttl,
            remember_ttl,
            refresh_grace: raw.refresh_grace as i64,
            leeway: raw.leeway as i64,
            token_locations: raw.token_locations,
            issuer: raw.issuer,
            audience: raw.audience,
        })
    }

    pub fn accepts(&self, location: TokenLocation) -> bool {
        self.token_locations.contains(&location)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> Raw {
        Raw {
            secret: Some("a-test-secret-with-enough-distinct-bytes-1234".into()),
            signing_key_secret: Some("a-sealing-secret-with-enough-distinct-bytes-5678".into()),
            ..Raw::default()
        }
    }

    #[test]
    fn release_needs_a_sealing_secret_for_key_pairs_only() {
        let without = || Raw {
            signing_key_secret: None,
            ..raw()
        };
        let error = Tokens::from_raw(without(), Profile::Release).unwrap_err();
        assert!(
            error.to_string().contains("GATEHOUSE_SIGNING_KEY_SECRET"),
            "{error}"
        );
        let hs256 = Raw {
            access_token_algorithm: TokenAlgorithm::Hs256,
            ..without()
        };
        assert!(Tokens::from_raw(hs256, Profile::Release).is_ok());
        let debug = Tokens::from_raw(without(), Profile::Debug).unwrap();
        assert!(debug.signing_key_secret_is_ephemeral);
        let same = Raw {
            signing_key_secret: raw().secret,
            ..raw()
        };
        assert!(Tokens::from_raw(same, Profile::Debug).is_err());
    }

    #[test]
    fn the_defaults_are_valid_and_release_needs_a_secret() {
        assert!(Tokens::from_raw(raw(), Profile::Release).is_ok());
        let ephemeral = Tokens::from_raw(Raw::default(), Profile::Debug).unwrap();
        assert!(ephemeral.secret_is_ephemeral && ephemeral.secret.len() >= MIN_SECRET_BYTES);
        let error = Tokens::from_raw(Raw::default(), Profile::Release).unwrap_err();
        assert!(error.to_string().contains("GATEHOUSE_SECRET"), "{error}");
    }

    #[test]
    fn lifetimes_must_nest() {
        let error = Tokens::from_raw(
            Raw {
                access_ttl: 100_000,
                ..raw()
            },
            Profile::Debug,
        )
        .unwrap_err();
        assert!(error.to_string().contains("refresh_ttl"), "{error}");
        assert!(Tokens::from_raw(
            Raw {
                leeway: 61,
                ..raw()
            },
            Profile::Debug
        )
        .is_err());
        assert!(Tokens::from_raw(
            Raw {
                token_locations: vec![],
                ..raw()
            },
            Profile::Debug
        )
        .is_err());
    }
}
