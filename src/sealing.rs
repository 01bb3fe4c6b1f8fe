//! Secrets at rest: AES-256-GCM under a key derived (HKDF-SHA-256) from a setting,
//! each sealed value bound to what it belongs to (the associated data), so a copy of
//! the database alone opens nothing and a value moved onto another row does not open.
//! TOTP secrets and the private halves of the token signing keys are sealed this way.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::hkdf;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// The format tag of sealed values, so the scheme can change without guessing.
const SEALED_PREFIX: &str = "v1.";

#[derive(Debug, thiserror::Error)]
#[error("a sealed value could not be opened (another key, or tampered)")]
pub struct OpenError;

pub struct Sealer(LessSafeKey);

impl Sealer {
    /// The sealing key `info` names under the extracted key `prk`.
    pub fn derive(prk: &hkdf::Prk, info: &[u8]) -> Sealer {
        let info = [info];
        let key = prk
            .expand(&info, &AES_256_GCM)
            .expect("32 bytes is a valid HKDF-SHA-256 output length");
        Sealer(LessSafeKey::new(UnboundKey::from(key)))
    }

    /// `v1.` + base64url(nonce ‖ ciphertext ‖ tag), with a random 96-bit nonce per
    /// seal and `bound_to` as the associated data.
    pub fn seal(&self, bound_to: &[u8], secret: &[u8]) -> String {
        let nonce_bytes: [u8; NONCE_LEN] = crate::random::bytes(NONCE_LEN)
            .try_into()
            .expect("NONCE_LEN random bytes");
        let mut in_out = secret.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(bound_to),
                &mut in_out,
            )
            .expect("AES-GCM seals any input shorter than 64 GiB");
        let mut sealed = nonce_bytes.to_vec();
        sealed.extend_from_slice(&in_out);
        format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(sealed))
    }

    pub fn open(&self, bound_to: &[u8], sealed: &str) -> Result<Vec<u8>, OpenError> {
        let encoded = sealed.strip_prefix(SEALED_PREFIX).ok_or(OpenError)?;
        let mut bytes = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| OpenError)?;
        if bytes.len() < NONCE_LEN {
            return Err(OpenError);
        }
        let mut in_out = bytes.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&bytes).map_err(|_| OpenError)?;
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(bound_to), &mut in_out)
            .map_err(|_| OpenError)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(material: &[u8]) -> Sealer {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"test").extract(material);
        Sealer::derive(&prk, b"unit")
    }

    #[test]
    fn a_sealed_value_opens_only_where_it_belongs_under_its_key() {
        let keys = sealer(b"unit-test-sealing-key-0123456789abcdef");
        let sealed = keys.seal(b"row 7", b"secret bytes");
        assert!(sealed.starts_with("v1.") && !sealed.contains("secret"));
        assert_eq!(keys.open(b"row 7", &sealed).unwrap(), b"secret bytes");
        assert!(keys.open(b"row 8", &sealed).is_err(), "bound to its row");
        let other = sealer(b"another-sealing-key-zyxwvutsrqponmlk");
        assert!(other.open(b"row 7", &sealed).is_err(), "bound to the key");
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(keys.open(b"row 7", &tampered).is_err());
        assert!(keys.open(b"row 7", "v2.anything").is_err());
        assert_ne!(
            keys.seal(b"r", b"same"),
            keys.seal(b"r", b"same"),
            "fresh nonces"
        );
    }
}
