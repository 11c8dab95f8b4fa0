//! Password-reset tokens (docs/security.md#password-reset): `<payload>.<signature>`,
//! the signature an HMAC over the payload and the user's CURRENT password
//! hash. Changing the password by any path therefore kills every outstanding
//! token, and a token works once. Nothing is stored.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac as _};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::domain::types::{Id, Timestamp};

type HmacSha256 = Hmac<Sha256>;

const PURPOSE: &str = "password_reset";

/// k_reset = HMAC-SHA256(SECRET_KEY, "password-reset-v1").
#[derive(Clone)]
pub struct ResetKey([u8; 32]);

impl std::fmt::Debug for ResetKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResetKey(..)")
    }
}

#[derive(Serialize, Deserialize)]
struct Payload {
    sub: String,
    exp: i64,
    nonce: String,
    purpose: String,
}

impl ResetKey {
    /// Derives the reset key from `SECRET_KEY`.
    pub fn derive(secret: &SecretString) -> Self {
        Self(hmac_sha256(
            secret.expose_secret().as_bytes(),
            b"password-reset-v1",
        ))
    }

    /// A token for `user_id` bound to `password_hash`, valid until `expires`.
    pub fn issue(&self, user_id: Id, password_hash: Option<&str>, expires: Timestamp) -> String {
        let payload = Payload {
            sub: user_id.to_string(),
            exp: expires.unix_seconds(),
            nonce: format!("{:032x}", rand::random::<u128>()),
            purpose: PURPOSE.to_owned(),
        };
        // Serialising a struct of strings and an integer cannot fail.
        let json = serde_json::to_vec(&payload).unwrap_or_default();
        let p = URL_SAFE_NO_PAD.encode(json);
        let s = URL_SAFE_NO_PAD.encode(self.sign(&p, password_hash));
        format!("{p}.{s}")
    }

    /// The user a token claims, if it parses, has the right purpose and has
    /// not expired. The signature is checked by [`ResetKey::verify`] once the
    /// user's current hash is known.
    pub fn claimed_user(&self, token: &str, now: Timestamp) -> Option<Id> {
        let (p, _) = token.split_once('.')?;
        let payload: Payload = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()?;
        if payload.purpose != PURPOSE || payload.exp <= now.unix_seconds() {
            return None;
        }
        uuid::Uuid::parse_str(&payload.sub).ok().map(Id)
    }

    /// Constant-time check of the signature against the current hash.
    pub fn verify(&self, token: &str, password_hash: Option<&str>) -> bool {
        let Some((p, s)) = token.split_once('.') else {
            return false;
        };
        let Ok(given) = URL_SAFE_NO_PAD.decode(s) else {
            return false;
        };
        let mut mac = self.mac(p, password_hash);
        mac.update(b"");
        mac.verify_slice(&given).is_ok()
    }

    fn mac(&self, payload: &str, password_hash: Option<&str>) -> HmacSha256 {
        let mut mac = new_mac(&self.0);
        mac.update(payload.as_bytes());
        mac.update(b".");
        mac.update(password_hash.unwrap_or("").as_bytes());
        mac
    }

    fn sign(&self, payload: &str, password_hash: Option<&str>) -> Vec<u8> {
        self.mac(payload, password_hash)
            .finalize()
            .into_bytes()
            .to_vec()
    }
}

fn new_mac(key: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length; the error branch is unreachable.
    <HmacSha256 as hmac::digest::KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default()))
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = new_mac(key);
    mac.update(message);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn key() -> ResetKey {
        ResetKey::derive(&"s".repeat(40).into())
    }

    #[test]
    fn token_is_bound_to_the_current_hash_and_expiry() {
        let now = Timestamp::from_datetime(chrono::DateTime::UNIX_EPOCH) + Duration::days(20_000);
        let user = Id::new_random();
        let token = key().issue(user, Some("$2b$old"), now + Duration::minutes(60));
        assert_eq!(key().claimed_user(&token, now), Some(user));
        assert!(key().verify(&token, Some("$2b$old")));
        assert!(!key().verify(&token, Some("$2b$new")));
        assert!(!key().verify(&token, None));
        assert_eq!(
            key().claimed_user(&token, now + Duration::minutes(61)),
            None
        );
        let other = ResetKey::derive(&"t".repeat(40).into());
        assert!(!other.verify(&token, Some("$2b$old")));
        assert_eq!(key().claimed_user("garbage", now), None);
    }

    #[test]
    fn social_only_users_can_use_a_token_once() {
        let now = Timestamp::from_datetime(chrono::DateTime::UNIX_EPOCH) + Duration::days(20_000);
        let token = key().issue(Id::new_random(), None, now + Duration::minutes(5));
        assert!(key().verify(&token, None));
        assert!(!key().verify(&token, Some("$2b$after")));
    }
}
