//! Secrets encrypted at rest: AES-256-GCM with a random 96-bit nonce per
//! value, stored as base64url(nonce ‖ ciphertext ‖ tag). A value sealed
//! under one key (or tampered with) does not open under another.

use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;

/// A key that seals and opens values.
#[derive(Clone)]
pub struct SealingKey(Aes256Gcm);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(..)")
    }
}

impl SealingKey {
    /// A key from 32 bytes.
    pub fn new(key: &[u8; 32]) -> Self {
        Self(Aes256Gcm::new(key.into()))
    }

    /// Encrypts `plaintext`.
    pub fn seal(&self, plaintext: &[u8]) -> String {
        self.seal_bound(plaintext, b"")
    }

    /// Decrypts a sealed value; `None` when it was sealed under another key,
    /// altered, or is not a sealed value.
    pub fn open(&self, sealed: &str) -> Option<Vec<u8>> {
        self.open_bound(sealed, b"")
    }

    /// Encrypts `plaintext` bound to `context` (associated data): it opens
    /// only with the same context, so a value copied to another row or
    /// column does not decrypt there.
    pub fn seal_bound(&self, plaintext: &[u8], context: &[u8]) -> String {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext,
            aad: context,
        };
        // Encryption with a valid key and nonce cannot fail.
        let ciphertext = self
            .0
            .encrypt(&Nonce::from(nonce), payload)
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// Decrypts a value sealed with [`Self::seal_bound`] under `context`.
    pub fn open_bound(&self, sealed: &str, context: &[u8]) -> Option<Vec<u8>> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if bytes.len() < 12 + 16 {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        let payload = Payload {
            msg: ciphertext,
            aad: context,
        };
        self.0.decrypt(&Nonce::from(nonce), payload).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_opens_and_refuses_tampering() {
        let key = SealingKey::new(&[7u8; 32]);
        let sealed = key.seal(b"private key bytes");
        assert_eq!(key.open(&sealed).unwrap(), b"private key bytes");
        assert_ne!(key.seal(b"x"), key.seal(b"x"), "nonces differ");
        assert!(SealingKey::new(&[8u8; 32]).open(&sealed).is_none());
        let mut tampered = sealed.into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert!(key.open(&String::from_utf8(tampered).unwrap()).is_none());
        assert!(key.open("short").is_none());
    }

    #[test]
    fn bound_values_open_only_in_their_context() {
        let key = SealingKey::new(&[7u8; 32]);
        let sealed = key.seal_bound(b"token", b"oauth_accounts:1:access_token_encrypted");
        assert_eq!(
            key.open_bound(&sealed, b"oauth_accounts:1:access_token_encrypted")
                .unwrap(),
            b"token"
        );
        assert!(
            key.open_bound(&sealed, b"oauth_accounts:2:access_token_encrypted")
                .is_none()
        );
        assert!(key.open(&sealed).is_none());
    }
}
