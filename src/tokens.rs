//! JSON Web Tokens: HS256 access and refresh tokens bound to a session.
//!
//! An access token is short-lived and carries the session id, which the guards check
//! against the database on every request. A refresh token is a signed claim on one
//! generation of a session: every field of it is derived from the session row, so the
//! server can hand the same current token to several tabs refreshing at once.

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::Tokens;

/// What a token may be used for; a token of one kind is refused where another is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    Access,
    Refresh,
}

/// The claims of every Gatehouse token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The account id.
    pub sub: String,
    /// The session id.
    pub sid: String,
    pub typ: TokenKind,
    pub iat: i64,
    pub exp: i64,
    /// The session's refresh generation (refresh tokens only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gen: Option<i64>,
}

/// Claims an app's own (see `features::claims`) may not set: the registered ones of
/// RFC 7519, Gatehouse's, and those RFC 9470 and OpenID give meaning to.
pub const RESERVED_CLAIMS: [&str; 21] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "sid",
    "typ",
    "gen",
    "auth_time",
    "amr",
    "acr",
    "azp",
    "active",
    "token_type",
    "username",
    "scope",
    "client_id",
    "cnf",
    "nonce",
];

/// The most bytes an app's own claims may take in a token (as JSON).
pub const MAX_CUSTOM_CLAIMS_BYTES: usize = 1024;

/// An app's own claims, cleaned: reserved names dropped, and none at all beyond
/// [`MAX_CUSTOM_CLAIMS_BYTES`] (logged for the account `account_id`).
pub fn custom_claims(mut claims: Map<String, Value>, account_id: i64) -> Map<String, Value> {
    claims.retain(|name, _| !RESERVED_CLAIMS.contains(&name.as_str()));
    let size = serde_json::to_vec(&claims).map_or(usize::MAX, |json| json.len());
    if size > MAX_CUSTOM_CLAIMS_BYTES {
        log::error!(
            "the custom claims of account {account_id} take {size} bytes, over the cap of \
             {MAX_CUSTOM_CLAIMS_BYTES}: left out of its token"
        );
        return Map::new();
    }
    claims
}

/// A token and the app's claims it carries beside Gatehouse's.
#[derive(Serialize)]
struct WithCustom<'a> {
    #[serde(flatten)]
    claims: &'a Claims,
    #[serde(flatten)]
    custom: &'a Map<String, Value>,
}

/// The app's own claims of a token that was verified: the payload's claims but the
/// reserved ones. Parsed only when a route asks, so the guards' hot path stays lean.
pub fn custom_claims_of(verified_token: &str) -> Map<String, Value> {
    let payload = verified_token.split('.').nth(1).unwrap_or("");
    let mut claims: Map<String, Value> = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .unwrap_or_default();
    claims.retain(|name, _| !RESERVED_CLAIMS.contains(&name.as_str()));
    claims
}

/// An access token whose signature and session checked out, kept so a route can read
/// the app's own claims of it; never printed.
#[derive(Clone)]
pub struct VerifiedToken(std::sync::Arc<str>);

impl VerifiedToken {
    pub fn new(token: &str) -> VerifiedToken {
        VerifiedToken(token.into())
    }

    /// The app's own claims (see `features::claims`).
    pub fn custom_claims(&self) -> Map<String, Value> {
        custom_claims_of(&self.0)
    }
}

impl std::fmt::Debug for VerifiedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VerifiedToken(…)")
    }
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed, forged, or not valid here")]
    Invalid,
    #[error("the token has expired")]
    Expired,
}

/// Signing and verification keys plus the validation rules, built once.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    leeway: i64,
}

impl TokenKeys {
    pub fn new(tokens: &Tokens) -> TokenKeys {
        // Only HS256 is accepted: `alg: none`, other algorithms and embedded `jwk`/`jku`
        // headers are refused or ignored, since the key always comes from here.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&tokens.issuer]);
        validation.set_audience(&[&tokens.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Expiry is checked against the app's clock in `decode`, so tests can move time.
        validation.validate_exp = false;
        validation.leeway = 0;
        TokenKeys {
            encoding: EncodingKey::from_secret(&tokens.secret),
            decoding: DecodingKey::from_secret(&tokens.secret),
            validation,
            issuer: tokens.issuer.clone(),
            audience: tokens.audience.clone(),
            leeway: tokens.leeway,
        }
    }

    /// Claims for a new token; the caller fills the times and the generation.
    pub fn claims(
        &self,
        kind: TokenKind,
        account_id: i64,
        session_id: &str,
        iat: i64,
        exp: i64,
    ) -> Claims {
        Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: account_id.to_string(),
            sid: session_id.to_owned(),
            typ: kind,
            iat,
            exp,
            gen: None,
        }
    }

    pub fn encode(&self, claims: &Claims) -> String {
        self.encode_with(claims, &Map::new())
    }

    /// Signs `claims` with the app's own `custom` ones beside them; a reserved name
    /// among those is dropped here too, so no payload ever holds a claim twice.
    pub fn encode_with(&self, claims: &Claims, custom: &Map<String, Value>) -> String {
        let mut custom = custom.clone();
        custom.retain(|name, _| !RESERVED_CLAIMS.contains(&name.as_str()));
        let token = WithCustom {
            claims,
            custom: &custom,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &token, &self.encoding)
            .expect("HS256 signing of serialisable claims cannot fail")
    }

    /// Verifies signature, issuer, audience, kind and expiry (with the leeway) at `now`.
    pub fn decode(&self, token: &str, kind: TokenKind, now: i64) -> Result<Claims, TokenError> {
        let claims = self.decode_ignoring_expiry(token, kind)?;
        if now > claims.exp + self.leeway {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// Verifies all but the expiry: for naming the session a token belongs to (its
    /// CSRF token, a logout), never for granting access.
    pub fn decode_ignoring_expiry(
        &self,
        token: &str,
        kind: TokenKind,
    ) -> Result<Claims, TokenError> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| TokenError::Invalid)?
            .claims;
        if claims.typ != kind || claims.sub.parse::<i64>().is_err() {
            return Err(TokenError::Invalid);
        }
        if kind == TokenKind::Refresh && claims.gen.is_none() {
            return Err(TokenError::Invalid);
        }
        Ok(claims)
    }
}

impl Claims {
    /// The account id; `decode` has already checked that `sub` is a number.
    pub fn account_id(&self) -> i64 {
        self.sub.parse().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn an_apps_claims_never_override_ours_and_are_capped() {
        let mut claims = serde_json::Map::new();
        claims.insert("tenant".into(), serde_json::json!("acme"));
        claims.insert("sub".into(), serde_json::json!("someone else"));
        claims.insert("exp".into(), serde_json::json!(i64::MAX));
        let kept = super::custom_claims(claims, 1);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept["tenant"], "acme");
        let mut big = serde_json::Map::new();
        big.insert("blob".into(), serde_json::json!("x".repeat(2000)));
        assert!(super::custom_claims(big, 1).is_empty());
    }

    use super::*;
    use crate::config::tokens::Raw;
    use crate::config::Profile;

    fn keys(secret: &str) -> TokenKeys {
        let raw = Raw {
            secret: Some(secret.into()),
            ..Raw::default()
        };
        TokenKeys::new(&Tokens::from_raw(raw, Profile::Debug).unwrap())
    }

    const SECRET: &str = "unit-test-secret-0123456789abcdefghijklmnop";

    #[test]
    fn a_token_decodes_only_as_its_own_kind_and_until_it_expires() {
        let keys = keys(SECRET);
        let claims = keys.claims(TokenKind::Access, 7, "session", 1000, 1900);
        let token = keys.encode(&claims);
        let decoded = keys.decode(&token, TokenKind::Access, 1500).unwrap();
        assert_eq!((decoded.account_id(), decoded.sid.as_str()), (7, "session"));
        assert_eq!(
            keys.decode(&token, TokenKind::Refresh, 1500).unwrap_err(),
            TokenError::Invalid
        );
        // The leeway (30 s by default) is honoured, then the token has expired.
        assert!(keys.decode(&token, TokenKind::Access, 1930).is_ok());
        assert_eq!(
            keys.decode(&token, TokenKind::Access, 1931).unwrap_err(),
            TokenError::Expired
        );
    }

    #[test]
    fn forged_tampered_and_generationless_tokens_are_invalid() {
        let keys = keys(SECRET);
        let token = keys.encode(&keys.claims(TokenKind::Access, 7, "s", 1000, 1900));
        let other = self::keys("another-unit-test-secret-zyxwvutsrqponmlkjih");
        assert_eq!(
            other.decode(&token, TokenKind::Access, 1000).unwrap_err(),
            TokenError::Invalid
        );
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        parts[1] = parts[1].chars().rev().collect();
        assert!(keys
            .decode(&parts.join("."), TokenKind::Access, 1000)
            .is_err());
        assert!(keys.decode("not.a.token", TokenKind::Access, 1000).is_err());
        // A refresh token must name its generation.
        let refresh = keys.encode(&keys.claims(TokenKind::Refresh, 7, "s", 1000, 1900));
        assert_eq!(
            keys.decode(&refresh, TokenKind::Refresh, 1000).unwrap_err(),
            TokenError::Invalid
        );
    }
}
