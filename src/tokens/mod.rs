//! JSON Web Tokens bound to a session: access tokens signed by the key of
//! `access_token_algorithm` (see [`keyring`]: EdDSA by default, its public keys in the
//! JWKS), and HS256 refresh tokens under `secret`, which only this app reads.
//!
//! An access token is short-lived and carries the session id, which the guards check
//! against the session's state on every request. A refresh token is a signed claim on
//! one generation of a session: every field of it is derived from the session row, so
//! the server can hand the same current token to several tabs refreshing at once.

pub mod keyring;
pub mod signing_keys;
mod verified;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::AnyPool;

use self::keyring::{Key, Ring};
use crate::config::{TokenAlgorithm, Tokens};
use crate::sealing::Sealer;

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

/// Claims an app's own (see `Feature::claims`) may not set: the registered ones of
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

/// One part's or feature's claims (`source`), cleaned: reserved names dropped, and none at all beyond
/// [`MAX_CUSTOM_CLAIMS_BYTES`] (logged for the account `account_id`).
pub fn custom_claims(
    mut claims: Map<String, Value>,
    account_id: i64,
    source: &str,
) -> Map<String, Value> {
    claims.retain(|name, _| !RESERVED_CLAIMS.contains(&name.as_str()));
    let size = serde_json::to_vec(&claims).map_or(usize::MAX, |json| json.len());
    if size > MAX_CUSTOM_CLAIMS_BYTES {
        log::error!(
            "the claims `{source}` adds for account {account_id} take {size} bytes, over the \
             cap of {MAX_CUSTOM_CLAIMS_BYTES}: left out of its token"
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

    /// The app's own claims (see `Feature::claims`).
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

/// No key could sign an access token (the signing keys could not be read or made).
#[derive(Debug, thiserror::Error)]
#[error("no signing key is available for access tokens")]
pub struct NoSigningKey;

/// The keys of every token: the refresh tokens' HS256 key, the ring of access-token
/// signing keys (reloaded now and then) and the cache of access tokens already verified.
pub struct TokenKeys {
    refresh_encoding: EncodingKey,
    refresh_decoding: DecodingKey,
    refresh_validation: Validation,
    algorithm: Algorithm,
    /// The access tokens' key when they are HS256; `None` for key pairs.
    symmetric: Option<Arc<Key>>,
    ring: RwLock<Arc<Ring>>,
    /// When the ring was last loaded (app seconds); `i64::MIN` before the first load.
    loaded_at: AtomicI64,
    reloading: rocket::tokio::sync::Mutex<()>,
    sealer: Sealer,
    settings: Tokens,
    verified: verified::VerifiedTokens,
}

impl TokenKeys {
    pub fn new(tokens: &Tokens) -> TokenKeys {
        let mut refresh_validation = Validation::new(Algorithm::HS256);
        refresh_validation.set_issuer(&[&tokens.issuer]);
        refresh_validation.set_audience(&[&tokens.audience]);
        refresh_validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        refresh_validation.validate_exp = false;
        refresh_validation.leeway = 0;
        let prk =
            aws_lc_rs::hkdf::Salt::new(aws_lc_rs::hkdf::HKDF_SHA256, b"gatehouse signing keys")
                .extract(&tokens.signing_key_secret);
        let algorithm = match tokens.access_token_algorithm {
            TokenAlgorithm::EdDsa => Algorithm::EdDSA,
            TokenAlgorithm::Es256 => Algorithm::ES256,
            TokenAlgorithm::Hs256 => Algorithm::HS256,
        };
        TokenKeys {
            refresh_encoding: EncodingKey::from_secret(&tokens.secret),
            refresh_decoding: DecodingKey::from_secret(&tokens.secret),
            refresh_validation,
            algorithm,
            symmetric: (algorithm == Algorithm::HS256)
                .then(|| Arc::new(Key::symmetric(&tokens.secret, tokens))),
            ring: RwLock::new(Arc::new(Ring::default())),
            loaded_at: AtomicI64::new(i64::MIN),
            reloading: rocket::tokio::sync::Mutex::new(()),
            sealer: Sealer::derive(&prk, b"access token signing keys v1"),
            settings: tokens.clone(),
            verified: verified::VerifiedTokens::new(),
        }
    }

    /// The sealer of the private halves (for `gatehouse keys rotate`).
    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    pub fn ring(&self) -> Arc<Ring> {
        Arc::clone(&self.ring.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Loads the signing keys (making the first one if needed); at start, where a
    /// failure stops the app.
    pub async fn load(&self, pool: &AnyPool, now: i64) -> Result<(), String> {
        let loaded = keyring::load(pool, &self.settings, &self.sealer, now, true).await?;
        if let Some(problem) = loaded.problem {
            return Err(problem);
        }
        self.install(loaded.ring, now);
        Ok(())
    }

    /// Reloads the keys if the last load is [`keyring::RELOAD_SECONDS`] old; one
    /// request reloads while the others go on with the keys they have. What verifies
    /// always follows the database (a retirement applies even when no key can sign
    /// here, which is logged); only when the database cannot be read do the keys in
    /// hand stay, until the next try.
    pub async fn keep_fresh(&self, pool: &AnyPool, now: i64) {
        // Without a key that signs (the schema was migrated after this instance
        // started, say), logins fail until the next load: try again every second.
        let interval = if self.can_sign(now) {
            keyring::RELOAD_SECONDS
        } else {
            1
        };
        if now
            < self
                .loaded_at
                .load(Ordering::Relaxed)
                .saturating_add(interval)
        {
            return;
        }
        let Ok(_reloading) = self.reloading.try_lock() else {
            return;
        };
        match keyring::load(pool, &self.settings, &self.sealer, now, false).await {
            Ok(loaded) => {
                if let Some(problem) = &loaded.problem {
                    log::error!("{problem}; no access token can be signed here until then");
                }
                self.install(loaded.ring, now);
            }
            Err(error) => {
                log::error!("{error}; keeping the keys loaded before");
                self.loaded_at.store(now, Ordering::Relaxed);
            }
        }
    }

    fn can_sign(&self, now: i64) -> bool {
        self.symmetric.is_some() || self.ring().signer(self.algorithm, now).is_some()
    }

    fn install(&self, ring: Ring, now: i64) {
        let mut current = self.ring.write().unwrap_or_else(|p| p.into_inner());
        if !current.same_verification_as(&ring) {
            // A key retired early must not live on in remembered verifications; a
            // verification under way with the old keys will not be remembered either.
            self.verified.clear();
        }
        *current = Arc::new(ring);
        self.loaded_at.store(now, Ordering::Relaxed);
    }

    /// The JWKS at `now` (`GET /.well-known/jwks.json`).
    pub fn jwks(&self, now: i64) -> Value {
        self.ring().jwks(now)
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
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
            sub: account_id.to_string(),
            sid: session_id.to_owned(),
            typ: kind,
            iat,
            exp,
            gen: None,
        }
    }

    /// Signs a refresh token (HS256 under `secret`).
    pub fn encode_refresh(&self, claims: &Claims) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &self.refresh_encoding,
        )
        .expect("HS256 signing of serialisable claims cannot fail")
    }

    /// Signs an access token: `claims` with the app's own `custom` ones beside them (a
    /// reserved name among those is dropped here too, so no payload ever holds a claim
    /// twice), by the key that signs at the token's `iat`, its kid in the header.
    pub fn encode_access(
        &self,
        claims: &Claims,
        custom: &Map<String, Value>,
    ) -> Result<String, NoSigningKey> {
        let mut custom = custom.clone();
        custom.retain(|name, _| !RESERVED_CLAIMS.contains(&name.as_str()));
        let token = WithCustom {
            claims,
            custom: &custom,
        };
        self.sign(&token, claims.iat)
    }

    /// Signs any payload as an access token of `now` would be (a test forging a token
    /// with the real key, say); the guards still check every claim.
    pub fn sign<T: Serialize>(&self, payload: &T, now: i64) -> Result<String, NoSigningKey> {
        let ring;
        let key = match &self.symmetric {
            Some(key) => key,
            None => {
                ring = self.ring();
                ring.signer(self.algorithm, now).ok_or(NoSigningKey)?
            }
        };
        let encoding = key.encoding.as_ref().ok_or(NoSigningKey)?;
        let mut header = Header::new(key.algorithm);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, payload, encoding).map_err(|error| {
            log::error!("signing an access token with {} failed: {error}", key.kid);
            NoSigningKey
        })
    }

    /// Verifies signature, issuer, audience, kind and expiry (with the leeway) at `now`.
    pub fn decode(&self, token: &str, kind: TokenKind, now: i64) -> Result<Claims, TokenError> {
        let claims = match kind {
            TokenKind::Access => self.verify_access(token, now)?,
            TokenKind::Refresh => self.decode_refresh(token)?,
        };
        if now > claims.exp.saturating_add(self.settings.leeway) {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    /// Verifies all but the expiry: for naming the session a token belongs to (its
    /// CSRF token, a logout), never for granting access. `now` decides which keys
    /// still verify.
    pub fn decode_ignoring_expiry(
        &self,
        token: &str,
        kind: TokenKind,
        now: i64,
    ) -> Result<Claims, TokenError> {
        match kind {
            TokenKind::Access => self.verify_access(token, now),
            TokenKind::Refresh => self.decode_refresh(token),
        }
    }

    fn decode_refresh(&self, token: &str) -> Result<Claims, TokenError> {
        let claims =
            jsonwebtoken::decode::<Claims>(token, &self.refresh_decoding, &self.refresh_validation)
                .map_err(|_| TokenError::Invalid)?
                .claims;
        if claims.typ != TokenKind::Refresh
            || claims.sub.parse::<i64>().is_err()
            || claims.gen.is_none()
        {
            return Err(TokenError::Invalid);
        }
        Ok(claims)
    }

    /// An access token's claims, its signature checked by the key its `kid` names with
    /// that key's own algorithm, or remembered from an earlier check of the same token
    /// (keyed by its SHA-256, for no longer than it and its key are valid).
    fn verify_access(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        let fingerprint = verified::fingerprint(token);
        if let Some(claims) = self.verified.get(&fingerprint, now) {
            return Ok(claims);
        }
        // Noted before the keys are taken: a retirement landing meanwhile clears the
        // memory, and this verification, made with the old keys, is then not kept.
        let read_at = self.verified.generation();
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        let kid = header.kid.ok_or(TokenError::Invalid)?;
        let ring;
        let key = match &self.symmetric {
            Some(key) if key.kid == kid => key,
            _ => {
                ring = self.ring();
                ring.verifier(&kid, now).ok_or(TokenError::Invalid)?
            }
        };
        let claims = jsonwebtoken::decode::<Claims>(token, &key.decoding, &key.validation)
            .map_err(|_| TokenError::Invalid)?
            .claims;
        if claims.typ != TokenKind::Access || claims.sub.parse::<i64>().is_err() {
            return Err(TokenError::Invalid);
        }
        // No key signs for longer than access_ttl, nor ahead of time: a token that
        // claims otherwise was not minted here (a stolen key's forgery, say).
        // Any i64 may come in: compared so that nothing overflows.
        let leeway = self.settings.leeway;
        let lifetime = claims.exp.checked_sub(claims.iat);
        if claims.iat < 0
            || lifetime.is_none_or(|life| life < 0 || life > self.settings.access_ttl)
            || claims.iat > now.saturating_add(leeway)
        {
            return Err(TokenError::Invalid);
        }
        let until = claims
            .exp
            .saturating_add(leeway)
            .min(key.verifies_until.unwrap_or(i64::MAX));
        self.verified.put(fingerprint, &claims, until, now, read_at);
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
        let kept = super::custom_claims(claims, 1, "test");
        assert_eq!(kept.len(), 1);
        assert_eq!(kept["tenant"], "acme");
        let mut big = serde_json::Map::new();
        big.insert("blob".into(), serde_json::json!("x".repeat(2000)));
        assert!(super::custom_claims(big, 1, "test").is_empty());
    }

    use super::*;
    use crate::config::tokens::Raw;
    use crate::config::Profile;

    fn keys(secret: &str) -> TokenKeys {
        let raw = Raw {
            secret: Some(secret.into()),
            access_token_algorithm: TokenAlgorithm::Hs256,
            ..Raw::default()
        };
        TokenKeys::new(&Tokens::from_raw(raw, Profile::Debug).unwrap())
    }

    const SECRET: &str = "unit-test-secret-0123456789abcdefghijklmnop";

    #[test]
    fn a_token_decodes_only_as_its_own_kind_and_until_it_expires() {
        let keys = keys(SECRET);
        let claims = keys.claims(TokenKind::Access, 7, "session", 1000, 1900);
        let token = keys.encode_access(&claims, &Map::new()).unwrap();
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
        let claims = keys.claims(TokenKind::Access, 7, "s", 1000, 1900);
        let token = keys.encode_access(&claims, &Map::new()).unwrap();
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
        let refresh = keys.encode_refresh(&keys.claims(TokenKind::Refresh, 7, "s", 1000, 1900));
        assert_eq!(
            keys.decode(&refresh, TokenKind::Refresh, 1000).unwrap_err(),
            TokenError::Invalid
        );
    }
}
