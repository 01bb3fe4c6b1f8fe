//! The part's settings, read from the `gatehouse` table under their old names:
//! whether TOTP is offered, what authenticator apps show, whether setup asks for the
//! password again, and the key that seals TOTP secrets. The pending step's keys
//! (`two_factor_pending_ttl`, `two_factor_max_attempts`) are Gatehouse's own.

use serde::{Deserialize, Serialize};

use crate::config::{
    check_key_material, invalid, ConfigError, Profile, ENV_PREFIX, MIN_SECRET_BYTES,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Raw {
    pub two_factor_enabled: bool,
    pub two_factor_issuer: String,
    pub two_factor_key: Option<String>,
    pub two_factor_reauth: bool,
}

impl Raw {
    pub fn defaults(_profile: Profile) -> Raw {
        Raw {
            two_factor_enabled: true,
            two_factor_issuer: crate::config::brand(),
            two_factor_key: None,
            two_factor_reauth: true,
        }
    }
}

impl Default for Raw {
    fn default() -> Self {
        Raw::defaults(Profile::Debug)
    }
}

#[derive(Clone)]
pub struct TwoFactorSettings {
    /// False: no 2FA routes (404) and every login is one step.
    pub two_factor_enabled: bool,
    /// The issuer authenticator apps show next to the account name.
    pub two_factor_issuer: String,
    /// The key material TOTP secrets are sealed with (distinct from the token
    /// secret). Never printed.
    pub two_factor_key: Vec<u8>,
    /// True when no key was configured and a random one was made for this run.
    pub two_factor_key_is_ephemeral: bool,
    /// Whether 2FA setup and disable ask for the password again.
    pub two_factor_reauth: bool,
}

impl std::fmt::Debug for TwoFactorSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The sealing key is never printed.
        f.debug_struct("TwoFactorSettings")
            .field("two_factor_enabled", &self.two_factor_enabled)
            .field("two_factor_issuer", &self.two_factor_issuer)
            .field(
                "two_factor_key_is_ephemeral",
                &self.two_factor_key_is_ephemeral,
            )
            .field("two_factor_reauth", &self.two_factor_reauth)
            .finish_non_exhaustive()
    }
}

impl TwoFactorSettings {
    /// `token_secret` is the signing secret, which the sealing key must differ from.
    pub fn from_raw(
        raw: Raw,
        profile: Profile,
        token_secret: &[u8],
    ) -> Result<TwoFactorSettings, ConfigError> {
        let issuer = raw.two_factor_issuer.trim().to_string();
        if issuer.is_empty() || issuer.contains(':') || issuer.chars().count() > 64 {
            return Err(invalid(
                "two_factor_issuer",
                "must be 1 to 64 characters without ':' (authenticator apps split on it)",
            ));
        }
        let (key, ephemeral) = match raw.two_factor_key.as_deref() {
            Some(text) if !text.trim().is_empty() => {
                let key = check_key_material("two_factor_key", text)?;
                if key == token_secret {
                    return Err(invalid(
                        "two_factor_key",
                        "must differ from `secret`: rotating the token key must not destroy every enrolment",
                    ));
                }
                (key, false)
            }
            _ if profile == Profile::Release && raw.two_factor_enabled => {
                return Err(invalid(
                    "two_factor_key",
                    format!(
                        "the release profile needs a key for the TOTP secrets at rest (or two_factor_enabled = false); \
                         generate one with `openssl rand -base64 48` and set {ENV_PREFIX}TWO_FACTOR_KEY"
                    ),
                ))
            }
            _ => (crate::random::bytes(MIN_SECRET_BYTES), true),
        };
        Ok(TwoFactorSettings {
            two_factor_enabled: raw.two_factor_enabled,
            two_factor_issuer: issuer,
            two_factor_key: key,
            two_factor_key_is_ephemeral: ephemeral,
            two_factor_reauth: raw.two_factor_reauth,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a-test-secret-with-enough-distinct-bytes-1234";

    #[test]
    fn the_sealing_key_is_required_in_release_and_must_differ_from_the_secret() {
        let error =
            TwoFactorSettings::from_raw(Raw::default(), Profile::Release, SECRET).unwrap_err();
        assert!(
            error.to_string().contains("GATEHOUSE_TWO_FACTOR_KEY"),
            "{error}"
        );
        let off = Raw {
            two_factor_enabled: false,
            ..Raw::default()
        };
        assert!(TwoFactorSettings::from_raw(off, Profile::Release, SECRET).is_ok());
        let same = Raw {
            two_factor_key: Some(String::from_utf8(SECRET.to_vec()).unwrap()),
            ..Raw::default()
        };
        let error = TwoFactorSettings::from_raw(same, Profile::Debug, SECRET).unwrap_err();
        assert!(error.to_string().contains("must differ"), "{error}");
    }

    #[test]
    fn the_issuer_cannot_hold_a_colon() {
        let colon = Raw {
            two_factor_issuer: "Acme:Prod".into(),
            ..Raw::default()
        };
        assert!(TwoFactorSettings::from_raw(colon, Profile::Debug, SECRET).is_err());
    }
}
