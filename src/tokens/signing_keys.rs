//! The key pairs that sign access tokens, and the SQL of `signing_keys`. A key is
//! published from its creation, signs from `signs_from` to `signs_until` and verifies
//! until `verifies_until`; its private half is sealed under `signing_key_secret`,
//! bound to its kid. Its kid is the RFC 7638 thumbprint of its public JWK.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
    EllipticCurveKeyType, Jwk, KeyAlgorithm, OctetKeyPairParameters, OctetKeyPairType,
    PublicKeyUse, ThumbprintHash,
};
use sqlx::AnyPool;

use crate::config::TokenAlgorithm;
use crate::sealing::Sealer;

crate::table_row! {
    /// A signing key as stored.
    #[derive(Debug, Clone)]
    pub struct SigningKeyRow {
        pub kid: String,
        pub generation: i64,
        pub algorithm: String,
        pub public_jwk: String,
        pub sealed_private_key: String,
        pub created_at: i64,
        pub signs_from: i64,
        pub signs_until: Option<i64>,
        pub verifies_until: Option<i64>,
        pub ephemeral: bool,
    }
}

impl SigningKeyRow {
    /// Whether it may sign a token at `now`.
    pub fn signs_at(&self, now: i64) -> bool {
        self.signs_from <= now && self.signs_until.is_none_or(|until| now < until)
    }

    /// Whether a token it signed still verifies at `now`.
    pub fn verifies_at(&self, now: i64) -> bool {
        self.verifies_until.is_none_or(|until| now < until)
    }

    /// Published to sign after `now`, and not replaced before it began.
    pub fn pending_at(&self, now: i64) -> bool {
        self.signs_from > now && self.signs_until.is_none_or(|until| until > self.signs_from)
    }
}

/// The name a key's algorithm has in the table and in its JWK's `alg`.
pub fn algorithm_name(algorithm: TokenAlgorithm) -> &'static str {
    match algorithm {
        TokenAlgorithm::EdDsa => "EdDSA",
        TokenAlgorithm::Es256 => "ES256",
        TokenAlgorithm::Hs256 => "HS256",
    }
}

/// A key pair just made, its private half (PKCS#8) already sealed.
pub struct NewKey {
    pub kid: String,
    pub algorithm: TokenAlgorithm,
    pub public_jwk: Jwk,
    pub sealed_private_key: String,
    /// Sealed under a random per-run secret.
    pub ephemeral: bool,
}

/// The RFC 7638 thumbprint of a public JWK: its kid.
pub fn thumbprint(jwk: &Jwk) -> Option<String> {
    jwk.thumbprint(ThumbprintHash::SHA256).ok()
}

/// Makes a key pair for `algorithm` (EdDSA or ES256) and seals its private half
/// (`ephemeral`: under a random per-run secret).
pub fn generate(
    algorithm: TokenAlgorithm,
    sealer: &Sealer,
    ephemeral: bool,
) -> Result<NewKey, String> {
    let rng = SystemRandom::new();
    let (pkcs8, parameters) = match algorithm {
        TokenAlgorithm::EdDsa => {
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|e| e.to_string())?;
            let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|e| e.to_string())?;
            let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
            let parameters = AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                key_type: OctetKeyPairType::OctetKeyPair,
                curve: EllipticCurve::Ed25519,
                x,
            });
            (pkcs8.as_ref().to_vec(), parameters)
        }
        TokenAlgorithm::Es256 => {
            let signing = &ECDSA_P256_SHA256_FIXED_SIGNING;
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(signing, &rng).map_err(|e| e.to_string())?;
            let pair =
                EcdsaKeyPair::from_pkcs8(signing, pkcs8.as_ref()).map_err(|e| e.to_string())?;
            // An uncompressed point: 0x04 ‖ x ‖ y, 32 bytes each on P-256.
            let point = pair.public_key().as_ref();
            let parameters = AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                key_type: EllipticCurveKeyType::EC,
                curve: EllipticCurve::P256,
                x: URL_SAFE_NO_PAD.encode(&point[1..33]),
                y: URL_SAFE_NO_PAD.encode(&point[33..65]),
            });
            (pkcs8.as_ref().to_vec(), parameters)
        }
        TokenAlgorithm::Hs256 => {
            return Err(
                "HS256 tokens are signed with a key derived from `secret`, not a key pair".into(),
            )
        }
    };
    let mut public_jwk = Jwk {
        common: CommonParameters::default(),
        algorithm: parameters,
    };
    let kid = thumbprint(&public_jwk).ok_or("a public key without a thumbprint")?;
    public_jwk.common = CommonParameters {
        public_key_use: Some(PublicKeyUse::Signature),
        key_algorithm: Some(match algorithm {
            TokenAlgorithm::Es256 => KeyAlgorithm::ES256,
            _ => KeyAlgorithm::EdDSA,
        }),
        key_id: Some(kid.clone()),
        ..CommonParameters::default()
    };
    let sealed_private_key = sealer.seal(kid.as_bytes(), &pkcs8);
    Ok(NewKey {
        kid,
        algorithm,
        public_jwk,
        sealed_private_key,
        ephemeral,
    })
}

/// Every key a token may still be verified with at `now`, newest first.
pub async fn still_verifying(pool: &AnyPool, now: i64) -> Result<Vec<SigningKeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {} FROM signing_keys WHERE verifies_until IS NULL OR verifies_until > $1 \
         ORDER BY generation DESC",
        SigningKeyRow::select_list("")
    ))
    .bind(now)
    .fetch_all(pool)
    .await
}

/// Every key ever made, newest first (for `gatehouse keys list`).
pub async fn all(pool: &AnyPool) -> Result<Vec<SigningKeyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {} FROM signing_keys ORDER BY generation DESC",
        SigningKeyRow::select_list("")
    ))
    .fetch_all(pool)
    .await
}

/// How [`introduce`] went.
#[derive(Debug, PartialEq, Eq)]
pub enum Introduced {
    Added,
    /// Another instance (or a CLI) added a key of the same generation at that moment.
    LostRace,
}

/// The newest generation (0 when there is no key yet): what the caller saw before
/// deciding to add a key, passed on to [`introduce`].
pub async fn latest_generation(pool: &AnyPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COALESCE(MAX(generation), 0) FROM signing_keys")
        .fetch_one(pool)
        .await
}

/// Adds `key` as the generation after `seen` (see [`latest_generation`]), signing
/// from `signs_from`. Every other key that would sign then stops at `signs_from` and
/// verifies `token_lifetime` seconds longer, the life of the last token it may sign.
/// The generation is unique: when another key was added since the caller looked, or
/// is being added at this moment, this one is refused ([`Introduced::LostRace`]).
pub async fn introduce(
    pool: &AnyPool,
    key: &NewKey,
    seen: i64,
    signs_from: i64,
    token_lifetime: i64,
    now: i64,
) -> Result<Introduced, sqlx::Error> {
    let public_jwk = serde_json::to_string(&key.public_jwk).expect("a JWK serialises");
    let mut tx = pool.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO signing_keys \
         (kid, generation, algorithm, public_jwk, sealed_private_key, created_at, signs_from, \
          ephemeral) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&key.kid)
    .bind(seen + 1)
    .bind(algorithm_name(key.algorithm))
    .bind(public_jwk)
    .bind(&key.sealed_private_key)
    .bind(now)
    .bind(signs_from)
    .bind(i64::from(key.ephemeral))
    .execute(&mut *tx)
    .await;
    match inserted {
        Ok(_) => {}
        Err(error) if crate::db::unique_violation(&error).is_some() => {
            return Ok(Introduced::LostRace)
        }
        Err(error) => return Err(error),
    }
    sqlx::query(
        "UPDATE signing_keys SET signs_until = $1, verifies_until = $2 \
         WHERE kid <> $3 AND (signs_until IS NULL OR signs_until > $1) \
         AND (verifies_until IS NULL OR verifies_until > $2)",
    )
    .bind(signs_from)
    .bind(signs_from + token_lifetime)
    .bind(&key.kid)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Introduced::Added)
}

/// Stops every key pair that signs or would sign after `now` (access tokens became
/// HS256): they verify `token_lifetime` seconds longer, the tokens they signed.
pub async fn stop_signing(
    pool: &AnyPool,
    token_lifetime: i64,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let stopped = sqlx::query(
        "UPDATE signing_keys SET signs_until = $1, verifies_until = $2 \
         WHERE (signs_until IS NULL OR signs_until > $1) \
         AND (verifies_until IS NULL OR verifies_until > $2)",
    )
    .bind(now)
    .bind(now + token_lifetime)
    .execute(pool)
    .await?;
    Ok(stopped.rows_affected())
}

/// Ends `kid` at once: it signs nothing more and its tokens stop verifying. False
/// when there is no such key still verifying.
pub async fn retire(pool: &AnyPool, kid: &str, now: i64) -> Result<bool, sqlx::Error> {
    let retired = sqlx::query(
        "UPDATE signing_keys SET verifies_until = $2, \
         signs_until = CASE WHEN signs_until IS NULL OR signs_until > $2 THEN $2 ELSE signs_until END \
         WHERE kid = $1 AND (verifies_until IS NULL OR verifies_until > $2)",
    )
    .bind(kid)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(retired.rows_affected() == 1)
}

/// Brings forward a published key that was to sign later, when no key signs now (the
/// one signing was retired before the switch).
pub async fn start_signing(pool: &AnyPool, kid: &str, now: i64) -> Result<bool, sqlx::Error> {
    let started = sqlx::query(
        "UPDATE signing_keys SET signs_from = $2 \
         WHERE kid = $1 AND signs_from > $2 AND (signs_until IS NULL OR signs_until > $2) \
         AND (verifies_until IS NULL OR verifies_until > $2)",
    )
    .bind(kid)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(started.rows_affected() == 1)
}
