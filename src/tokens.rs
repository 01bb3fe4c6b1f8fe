//! JSON Web Tokens: HS256 access and refresh tokens bound to a session.
//!
//! An access token is short-lived and carries the session id, which the guards check
//! against the database on every request. A refresh token is a signed claim on one
//! generation of a session: every field of it is derived from the session row, so the
//! server can hand the same current token to several tabs refreshing at once.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::Settings;

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
    pub fn new(settings: &Settings) -> TokenKeys {
        // Only HS256 is accepted: `alg: none`, other algorithms and embedded `jwk`/`jku`
        // headers are refused or ignored, since the key always comes from here.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&settings.tokens.issuer]);
        validation.set_audience(&[&settings.tokens.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // Expiry is checked against the app's clock in `decode`, so tests can move time.
        validation.validate_exp = false;
        validation.leeway = 0;
        TokenKeys {
            encoding: EncodingKey::from_secret(&settings.tokens.secret),
            decoding: DecodingKey::from_secret(&settings.tokens.secret),
            validation,
            issuer: settings.tokens.issuer.clone(),
            audience: settings.tokens.audience.clone(),
            leeway: settings.tokens.leeway,
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
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("HS256 signing of serialisable claims cannot fail")
    }

    /// Verifies signature, issuer, audience, kind and expiry (with the leeway) at `now`.
    pub fn decode(&self, token: &str, kind: TokenKind, now: i64) -> Result<Claims, TokenError> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| TokenError::Invalid)?
            .claims;
        if claims.typ != kind || claims.sub.parse::<i64>().is_err() {
            return Err(TokenError::Invalid);
        }
        if kind == TokenKind::Refresh && claims.gen.is_none() {
            return Err(TokenError::Invalid);
        }
        if now > claims.exp + self.leeway {
            return Err(TokenError::Expired);
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
