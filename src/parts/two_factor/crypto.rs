//! The keys of two-factor authentication, both derived (HKDF-SHA-256) from the
//! `two_factor_key` setting, never from the token secret: AES-256-GCM seals each TOTP
//! secret at rest, bound to its account, and HMAC-SHA-256 hashes recovery codes, so a
//! copy of the database alone yields neither.

use aws_lc_rs::{hkdf, hmac};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

pub use crate::sealing::OpenError;
use crate::sealing::Sealer;

pub struct TwoFactorKeys {
    sealing: Sealer,
    recovery: hmac::Key,
}

impl TwoFactorKeys {
    pub fn derive(material: &[u8]) -> TwoFactorKeys {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"gatehouse two-factor").extract(material);
        let sealing = Sealer::derive(&prk, b"totp secret sealing v1");
        let recovery = prk
            .expand(&[b"recovery code hashing v1"], hmac::HMAC_SHA256)
            .expect("32 bytes is a valid HKDF-SHA-256 output length");
        TwoFactorKeys {
            sealing,
            recovery: hmac::Key::from(recovery),
        }
    }

    /// Seals `secret` for `account_id` (see [`Sealer::seal`]): a sealed secret copied
    /// onto another account does not open.
    pub fn seal(&self, account_id: i64, secret: &[u8]) -> String {
        self.sealing.seal(&account_id.to_be_bytes(), secret)
    }

    pub fn open(&self, account_id: i64, sealed: &str) -> Result<Vec<u8>, OpenError> {
        self.sealing.open(&account_id.to_be_bytes(), sealed)
    }

    /// The stored form of a normalised recovery code.
    pub fn recovery_hash(&self, code: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.recovery, code.as_bytes()).as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"unit-test-two-factor-key-0123456789abcdef";

    #[test]
    fn a_sealed_secret_opens_only_for_its_account_under_its_key() {
        let keys = TwoFactorKeys::derive(KEY);
        let sealed = keys.seal(7, b"totp secret bytes");
        assert!(sealed.starts_with("v1."));
        assert!(!sealed.contains("totp"));
        assert_eq!(keys.open(7, &sealed).unwrap(), b"totp secret bytes");
        assert!(keys.open(8, &sealed).is_err(), "bound to the account");
        let other = TwoFactorKeys::derive(b"another-two-factor-key-zyxwvutsrqponmlk");
        assert!(other.open(7, &sealed).is_err(), "bound to the key");
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(keys.open(7, &tampered).is_err());
        assert!(keys.open(7, "v2.anything").is_err());
        assert_ne!(
            keys.seal(7, b"same"),
            keys.seal(7, b"same"),
            "a fresh nonce each time"
        );
    }

    #[test]
    fn recovery_hashes_are_keyed_and_stable() {
        let keys = TwoFactorKeys::derive(KEY);
        let other = TwoFactorKeys::derive(b"another-two-factor-key-zyxwvutsrqponmlk");
        assert_eq!(keys.recovery_hash("abcd"), keys.recovery_hash("abcd"));
        assert_ne!(keys.recovery_hash("abcd"), keys.recovery_hash("abce"));
        assert_ne!(keys.recovery_hash("abcd"), other.recovery_hash("abcd"));
    }
}
