//! Randomness for secrets and identifiers, straight from the operating system.

use base64::Engine;

/// `len` random bytes.
pub fn bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    // Without an OS random source nothing here can be secure: stopping is the only answer.
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes
}

/// An unguessable identifier of `len` random bytes, as URL-safe base64 without padding.
pub fn token(len: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes(len))
}
