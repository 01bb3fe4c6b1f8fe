//! A software passkey for the tests: a P-256 key pair held in memory that answers
//! WebAuthn ceremonies as a browser and its authenticator would (the JSON of
//! `navigator.credentials.create()` and `.get()`), with every field under the test's
//! control: the origin and RP id it claims, its signature counter, its flags and the
//! user handle it returns. webauthn-authenticator-rs's `SoftPasskey` cross-checks it
//! in `a_second_implementation_registers_and_proves_the_holder`; it cannot play the
//! passwordless sign-in (no discoverable credentials, no user handle).

use aws_lc_rs::digest::{digest, SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{json, Value};

const USER_PRESENT: u8 = 0x01;
const USER_VERIFIED: u8 = 0x04;
const BACKUP_ELIGIBLE: u8 = 0x08;
const BACKED_UP: u8 = 0x10;
const ATTESTED_DATA: u8 = 0x40;

/// One passkey on one authenticator.
pub struct SoftKey {
    key: SigningKey,
    pub credential_id: Vec<u8>,
    /// The user handle the site gave at registration (what a discoverable
    /// credential returns at sign-in).
    pub user_handle: Vec<u8>,
    /// The counter the next assertion carries; `None` keeps it at 0 forever, as
    /// synced passkeys do.
    pub counter: Option<u32>,
    /// The origin the "browser" reports in its client data.
    pub origin: String,
    /// The RP id whose hash the authenticator signs; `None`: the one the site asked.
    pub rp_id: Option<String>,
    /// Whether it verified the user (PIN, biometrics).
    pub verifies_user: bool,
    /// A synced passkey: backup eligible and backed up.
    pub synced: bool,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .expect("base64url from the site")
}

impl SoftKey {
    pub fn new(origin: &str) -> SoftKey {
        let secret: [u8; 32] = random(32).try_into().unwrap();
        SoftKey {
            key: SigningKey::from_bytes(&secret.into()).expect("a P-256 key"),
            credential_id: random(32),
            user_handle: Vec::new(),
            counter: Some(1),
            origin: origin.to_string(),
            rp_id: None,
            verifies_user: true,
            synced: false,
        }
    }

    /// A passkey that syncs (counter always 0, backed up).
    pub fn synced(origin: &str) -> SoftKey {
        SoftKey {
            counter: None,
            synced: true,
            ..SoftKey::new(origin)
        }
    }

    fn flags(&self) -> u8 {
        let mut flags = USER_PRESENT;
        if self.verifies_user {
            flags |= USER_VERIFIED;
        }
        if self.synced {
            flags |= BACKUP_ELIGIBLE | BACKED_UP;
        }
        flags
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        json!({
            "type": kind,
            "challenge": challenge,
            "origin": self.origin,
            "crossOrigin": false,
        })
        .to_string()
        .into_bytes()
    }

    fn signed(&self, auth_data: &[u8], client_data: &[u8]) -> Vec<u8> {
        let mut message = auth_data.to_vec();
        message.extend_from_slice(digest(&SHA256, client_data).as_ref());
        let signature: Signature = self.key.sign(&message);
        signature.to_der().as_bytes().to_vec()
    }

    /// Answers `navigator.credentials.create()` with the options' `publicKey`.
    pub fn register(&mut self, options: &Value) -> Value {
        let rp_id = self
            .rp_id
            .clone()
            .unwrap_or_else(|| options["rp"]["id"].as_str().unwrap().to_string());
        self.user_handle = unb64(options["user"]["id"].as_str().expect("a user id"));
        let challenge = options["challenge"].as_str().expect("a challenge");
        let point = self.key.verifying_key().to_encoded_point(false);
        // COSE_Key: EC2 (1: 2), ES256 (3: -7), P-256 (-1: 1), x (-2), y (-3).
        let cose = cbor_map(&[
            (cbor_int(1), cbor_int(2)),
            (cbor_int(3), cbor_int(-7)),
            (cbor_int(-1), cbor_int(1)),
            (cbor_int(-2), cbor_bytes(point.x().unwrap())),
            (cbor_int(-3), cbor_bytes(point.y().unwrap())),
        ]);
        let mut auth_data = digest(&SHA256, rp_id.as_bytes()).as_ref().to_vec();
        auth_data.push(self.flags() | ATTESTED_DATA);
        auth_data.extend_from_slice(&0u32.to_be_bytes());
        auth_data.extend_from_slice(&[0u8; 16]);
        auth_data.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend_from_slice(&cose);
        let attestation = cbor_map(&[
            (cbor_text("fmt"), cbor_text("none")),
            (cbor_text("attStmt"), cbor_map(&[])),
            (cbor_text("authData"), cbor_bytes(&auth_data)),
        ]);
        let client_data = self.client_data("webauthn.create", challenge);
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "attestationObject": b64(&attestation),
                "clientDataJSON": b64(&client_data),
            },
            "clientExtensionResults": {},
        })
    }

    /// Answers `navigator.credentials.get()` with the options' `publicKey`, returning
    /// the user handle as a discoverable credential does.
    pub fn assert(&mut self, options: &Value) -> Value {
        let rp_id = self
            .rp_id
            .clone()
            .unwrap_or_else(|| options["rpId"].as_str().unwrap().to_string());
        let challenge = options["challenge"].as_str().expect("a challenge");
        let counter = match self.counter.as_mut() {
            Some(counter) => {
                let now = *counter;
                *counter += 1;
                now
            }
            None => 0,
        };
        let mut auth_data = digest(&SHA256, rp_id.as_bytes()).as_ref().to_vec();
        auth_data.push(self.flags());
        auth_data.extend_from_slice(&counter.to_be_bytes());
        let client_data = self.client_data("webauthn.get", challenge);
        let signature = self.signed(&auth_data, &client_data);
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth_data),
                "clientDataJSON": b64(&client_data),
                "signature": b64(&signature),
                "userHandle": b64(&self.user_handle),
            },
            "clientExtensionResults": {},
        })
    }
}

fn random(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).unwrap();
    bytes
}

// Just enough CBOR (RFC 8949) for an attestation object and a COSE key.

fn cbor_head(major: u8, value: u64) -> Vec<u8> {
    let major = major << 5;
    match value {
        0..=23 => vec![major | value as u8],
        24..=0xff => vec![major | 24, value as u8],
        0x100..=0xffff => {
            let mut head = vec![major | 25];
            head.extend_from_slice(&(value as u16).to_be_bytes());
            head
        }
        _ => {
            let mut head = vec![major | 26];
            head.extend_from_slice(&(value as u32).to_be_bytes());
            head
        }
    }
}

fn cbor_int(value: i64) -> Vec<u8> {
    if value >= 0 {
        cbor_head(0, value as u64)
    } else {
        cbor_head(1, (-1 - value) as u64)
    }
}

fn cbor_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut out = cbor_head(2, bytes.len() as u64);
    out.extend_from_slice(bytes);
    out
}

fn cbor_text(text: &str) -> Vec<u8> {
    let mut out = cbor_head(3, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
    out
}

fn cbor_map(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut out = cbor_head(5, entries.len() as u64);
    for (key, value) in entries {
        out.extend_from_slice(key);
        out.extend_from_slice(value);
    }
    out
}
