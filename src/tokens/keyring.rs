//! The signing keys as this process holds them: which key signs at a given time,
//! which verifies a `kid`, and the JWKS. Loaded from `signing_keys` at start and again
//! every [`RELOAD_SECONDS`], so a rotation made elsewhere (the CLI, another instance)
//! is followed; the switch itself happens at the time the rows say, on every instance.

use std::collections::HashMap;
use std::sync::Arc;

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use serde_json::{json, Value};
use sqlx::AnyPool;

use super::signing_keys::{self, Introduced, SigningKeyRow};
use crate::config::{TokenAlgorithm, Tokens};
use crate::sealing::Sealer;

/// How often the keys are read again from the database (in the app's seconds).
pub const RELOAD_SECONDS: i64 = 10;

/// One key as it signs and verifies.
pub struct Key {
    pub kid: String,
    pub algorithm: Algorithm,
    pub decoding: DecodingKey,
    /// Requires this key's own algorithm, whatever a token's header claims.
    pub validation: Validation,
    /// `None` when the private half is not ours to use (sealed under another secret).
    pub encoding: Option<EncodingKey>,
    pub public_jwk: Option<Value>,
    pub created_at: i64,
    pub signs_from: i64,
    pub signs_until: Option<i64>,
    pub verifies_until: Option<i64>,
    /// Sealed under a random per-run secret (see `signing_keys`).
    pub ephemeral: bool,
}

impl Key {
    /// The HS256 key of access tokens when `access_token_algorithm = "HS256"`: derived
    /// from `secret`, so it is never the refresh tokens' key; never published.
    pub fn symmetric(material: &[u8], tokens: &Tokens) -> Key {
        use jsonwebtoken::jwk::{
            AlgorithmParameters, CommonParameters, OctetKeyParameters, OctetKeyType, ThumbprintHash,
        };
        let derived = aws_lc_rs::hkdf::Salt::new(aws_lc_rs::hkdf::HKDF_SHA256, b"gatehouse tokens")
            .extract(material);
        let mut bytes = [0u8; 32];
        derived
            .expand(&[b"access token hs256 v1"], aws_lc_rs::hkdf::HKDF_SHA256)
            .and_then(|okm| okm.fill(&mut bytes))
            .expect("32 bytes is a valid HKDF-SHA-256 output length");
        use base64::Engine;
        let jwk = Jwk {
            common: CommonParameters::default(),
            algorithm: AlgorithmParameters::OctetKey(OctetKeyParameters {
                key_type: OctetKeyType::Octet,
                value: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
            }),
        };
        let kid = jwk
            .thumbprint(ThumbprintHash::SHA256)
            .expect("an octet key has a thumbprint");
        Key {
            kid,
            algorithm: Algorithm::HS256,
            decoding: DecodingKey::from_secret(&bytes),
            validation: validation(Algorithm::HS256, tokens),
            encoding: Some(EncodingKey::from_secret(&bytes)),
            public_jwk: None,
            created_at: 0,
            signs_from: i64::MIN,
            signs_until: None,
            verifies_until: None,
            ephemeral: false,
        }
    }

    fn from_row(row: &SigningKeyRow, sealer: &Sealer, tokens: &Tokens) -> Option<Key> {
        let algorithm = match row.algorithm.as_str() {
            "EdDSA" => Algorithm::EdDSA,
            "ES256" => Algorithm::ES256,
            other => {
                log::error!(
                    "signing key {} has an unknown algorithm {other}: ignored",
                    row.kid
                );
                return None;
            }
        };
        let jwk: Option<Jwk> = serde_json::from_str(&row.public_jwk).ok();
        // The kid must be the key's own thumbprint: a row naming another key's kid is
        // not trusted to verify anything.
        let Some(jwk) = jwk.filter(|jwk| signing_keys::thumbprint(jwk).as_ref() == Some(&row.kid))
        else {
            log::error!(
                "signing key {}: its public key is unreadable or not the one its kid names; ignored",
                row.kid
            );
            return None;
        };
        let Ok(decoding) = DecodingKey::from_jwk(&jwk) else {
            log::error!(
                "signing key {}: its public key is unusable; ignored",
                row.kid
            );
            return None;
        };
        let encoding = sealer
            .open(row.kid.as_bytes(), &row.sealed_private_key)
            .ok()
            .map(|pkcs8| match algorithm {
                Algorithm::ES256 => EncodingKey::from_ec_der(&pkcs8),
                _ => EncodingKey::from_ed_der(&pkcs8),
            });
        Some(Key {
            kid: row.kid.clone(),
            algorithm,
            decoding,
            validation: validation(algorithm, tokens),
            encoding,
            public_jwk: serde_json::from_str(&row.public_jwk).ok(),
            created_at: row.created_at,
            signs_from: row.signs_from,
            signs_until: row.signs_until,
            verifies_until: row.verifies_until,
            ephemeral: row.ephemeral,
        })
    }

    fn signs_at(&self, now: i64) -> bool {
        self.signs_from <= now && self.signs_until.is_none_or(|until| now < until)
    }

    pub fn verifies_at(&self, now: i64) -> bool {
        self.verifies_until.is_none_or(|until| now < until)
    }
}

/// What every token must satisfy under a key of `algorithm`. `alg: none`, other
/// algorithms and embedded `jwk`/`jku` headers are refused or ignored: the key always
/// comes from the ring, by `kid`.
fn validation(algorithm: Algorithm, tokens: &Tokens) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&[&tokens.issuer]);
    validation.set_audience(&[&tokens.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    // Expiry is checked against the app's clock by the caller, so tests can move time.
    validation.validate_exp = false;
    validation.leeway = 0;
    validation
}

/// The keys loaded at one time, newest generation first.
#[derive(Default)]
pub struct Ring {
    keys: Vec<Arc<Key>>,
    by_kid: HashMap<String, Arc<Key>>,
}

impl Ring {
    fn new(keys: Vec<Key>) -> Ring {
        let keys: Vec<Arc<Key>> = keys.into_iter().map(Arc::new).collect();
        let by_kid = keys
            .iter()
            .map(|key| (key.kid.clone(), Arc::clone(key)))
            .collect();
        Ring { keys, by_kid }
    }

    /// The key of `algorithm` that signs at `now`: the newest in its signing window.
    pub fn signer(&self, algorithm: Algorithm, now: i64) -> Option<&Arc<Key>> {
        self.keys
            .iter()
            .find(|key| key.algorithm == algorithm && key.signs_at(now))
    }

    /// The key named `kid`, if tokens it signed still verify at `now`.
    pub fn verifier(&self, kid: &str, now: i64) -> Option<&Arc<Key>> {
        self.by_kid.get(kid).filter(|key| key.verifies_at(now))
    }

    /// The public keys published at `now` (RFC 7517): those signing, about to, or still
    /// verifying. Never a symmetric key: HS256 keys are not in the ring.
    pub fn jwks(&self, now: i64) -> Value {
        let keys: Vec<&Value> = self
            .keys
            .iter()
            .filter(|key| key.verifies_at(now))
            .filter_map(|key| key.public_jwk.as_ref())
            .collect();
        json!({ "keys": keys })
    }

    /// The kids and verification ends, to tell whether a reload changed what verifies.
    fn verification_view(&self) -> Vec<(String, Option<i64>)> {
        self.keys
            .iter()
            .map(|key| (key.kid.clone(), key.verifies_until))
            .collect()
    }

    pub fn same_verification_as(&self, other: &Ring) -> bool {
        self.verification_view() == other.verification_view()
    }
}

/// The keys read at one time, and why none of them can sign, if so.
pub struct Loaded {
    pub ring: Ring,
    /// Set when no key can sign: a key sealed under another configured secret.
    pub problem: Option<String>,
}

/// Reads the keys still verifying at `now` and makes sure one of the configured
/// algorithm signs: the first key is made here (by one guarded insert, so instances
/// starting together agree on it). A signing key whose private half does not open is
/// replaced only when it was sealed under a random per-run secret; otherwise the
/// keys are still loaded for verification (retirements always apply) and `problem`
/// says why nothing signs. With HS256, key pairs stop signing when the instance is
/// `starting` (not at every reload: an instance still on a key pair during a switch
/// would otherwise keep making new keys). `Err` only when the database cannot be read
/// or written.
pub async fn load(
    pool: &AnyPool,
    tokens: &Tokens,
    sealer: &Sealer,
    now: i64,
    starting: bool,
) -> Result<Loaded, String> {
    let algorithm = tokens.access_token_algorithm;
    let wanted = match algorithm {
        TokenAlgorithm::EdDsa => Algorithm::EdDSA,
        TokenAlgorithm::Es256 => Algorithm::ES256,
        TokenAlgorithm::Hs256 => Algorithm::HS256,
    };
    let token_lifetime = tokens.access_ttl + tokens.leeway;
    let unreadable = |e: sqlx::Error| format!("cannot read the signing keys: {e}");
    for _ in 0..4 {
        let seen = signing_keys::latest_generation(pool)
            .await
            .map_err(unreadable)?;
        let rows = signing_keys::still_verifying(pool, now)
            .await
            .map_err(unreadable)?;
        let ring = Ring::new(
            rows.iter()
                .filter_map(|row| Key::from_row(row, sealer, tokens))
                .collect(),
        );
        if !algorithm.is_asymmetric() {
            let still_signing = ring
                .keys
                .iter()
                .any(|key| key.signs_until.is_none_or(|until| until > now));
            if starting && still_signing {
                signing_keys::stop_signing(pool, token_lifetime, now)
                    .await
                    .map_err(unreadable)?;
                continue;
            }
            return Ok(Loaded {
                ring,
                problem: None,
            });
        }
        let signer = ring.signer(wanted, now).cloned();
        match signer {
            Some(key) if key.encoding.is_some() => {
                return Ok(Loaded {
                    ring,
                    problem: None,
                })
            }
            Some(key) if !key.ephemeral => {
                let problem = format!(
                    "the signing key {kid} was sealed under a signing_key_secret this instance does \
                     not have; give every instance the secret it was sealed with, or retire it \
                     (`gatehouse keys retire {kid}`) to have a new key made",
                    kid = key.kid
                );
                return Ok(Loaded {
                    ring,
                    problem: Some(problem),
                });
            }
            Some(key) => {
                log::warn!(
                    "the signing key {} was sealed under an earlier run's random signing_key_secret: \
                     retiring it (its tokens keep verifying until they expire) and making a new one",
                    key.kid
                );
            }
            None => {
                // A key published to sign later (and not replaced since) takes over now.
                let pending = rows.iter().find(|row| {
                    row.algorithm == signing_keys::algorithm_name(algorithm)
                        && row.pending_at(now)
                        && ring
                            .by_kid
                            .get(&row.kid)
                            .is_some_and(|key| key.encoding.is_some())
                });
                if let Some(row) = pending {
                    signing_keys::start_signing(pool, &row.kid, now)
                        .await
                        .map_err(|e| format!("cannot start the signing key {}: {e}", row.kid))?;
                    continue;
                }
            }
        }
        let ephemeral = tokens.signing_key_secret_is_ephemeral;
        let key = signing_keys::generate(algorithm, sealer, ephemeral)?;
        match signing_keys::introduce(pool, &key, seen, now, token_lifetime, now).await {
            Ok(Introduced::Added) => log::info!(
                "made the signing key {} ({})",
                key.kid,
                signing_keys::algorithm_name(algorithm)
            ),
            // Another instance made one at the same moment: read it on the next pass.
            Ok(Introduced::LostRace) => {}
            Err(error) => return Err(format!("cannot store a new signing key: {error}")),
        }
    }
    Err(
        "no signing key could be settled on (instances keep replacing each other's keys: \
         do they share signing_key_secret?)"
            .into(),
    )
}

/// The keys that may still sign (signing now or published to sign later) whose
/// private half does not open under `sealer`, leaving out those sealed under a random
/// per-run secret (the server replaces them itself): what `doctor` reports.
pub async fn unsealable(
    pool: &AnyPool,
    sealer: &Sealer,
    now: i64,
) -> Result<Vec<SigningKeyRow>, sqlx::Error> {
    Ok(signing_keys::still_verifying(pool, now)
        .await?
        .into_iter()
        .filter(|row| !row.ephemeral && row.signs_until.is_none_or(|until| until > now))
        .filter(|row| {
            sealer
                .open(row.kid.as_bytes(), &row.sealed_private_key)
                .is_err()
        })
        .collect())
}

/// What `gatehouse keys rotate` did.
pub struct Rotation {
    pub kid: String,
    pub signs_from: i64,
    /// When the keys it replaces stop verifying.
    pub old_keys_verify_until: i64,
    /// Keys published by an earlier rotation that had not begun to sign: replaced.
    pub superseded: Vec<String>,
}

/// Publishes a new key of `access_token_algorithm` now and has it sign once services
/// caching the JWKS (for `jwks_max_age`) have seen it; the keys it replaces keep
/// verifying until the last token they may sign has expired.
pub async fn rotate(
    pool: &AnyPool,
    tokens: &Tokens,
    sealer: &Sealer,
    now: i64,
) -> Result<Rotation, String> {
    if !tokens.access_token_algorithm.is_asymmetric() {
        return Err("access tokens are HS256, signed with a key derived from `secret`: there is \
                    no key pair to rotate (changing `secret` rotates that key and signs everyone out)"
            .into());
    }
    let unreadable = |e: sqlx::Error| format!("cannot read the signing keys: {e}");
    let seen = signing_keys::latest_generation(pool)
        .await
        .map_err(unreadable)?;
    let rows = signing_keys::still_verifying(pool, now)
        .await
        .map_err(unreadable)?;
    // A key sealed under another secret would be one no instance can sign with.
    if let Some(current) = rows.iter().find(|row| row.signs_at(now) && !row.ephemeral) {
        if sealer
            .open(current.kid.as_bytes(), &current.sealed_private_key)
            .is_err()
        {
            return Err(format!(
                "the configured signing_key_secret does not open the current key {}: rotating \
                 with it would make a key the servers cannot use; run this with the servers' secret",
                current.kid
            ));
        }
    }
    let superseded = rows
        .iter()
        .filter(|row| row.pending_at(now))
        .map(|row| row.kid.clone())
        .collect();
    let key = signing_keys::generate(tokens.access_token_algorithm, sealer, false)?;
    let signs_from = now + tokens.jwks_max_age;
    let token_lifetime = tokens.access_ttl + tokens.leeway;
    match signing_keys::introduce(pool, &key, seen, signs_from, token_lifetime, now).await {
        Ok(Introduced::Added) => Ok(Rotation {
            kid: key.kid,
            signs_from,
            old_keys_verify_until: signs_from + token_lifetime,
            superseded,
        }),
        Ok(Introduced::LostRace) => {
            Err("another key was added at the same moment; see `keys list` and try again".into())
        }
        Err(error) => Err(format!("cannot store the new key: {error}")),
    }
}
