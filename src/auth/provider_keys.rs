//! The authorization server's signing keys and the access tokens they sign:
//! Ed25519 (JWS `EdDSA`), kept apart from the first-party HMAC key, private
//! parts sealed at rest, public parts published as a JWK Set. Tokens are
//! compact JWS with header `{"alg": "EdDSA", "typ": "at+jwt", "kid": …}`
//! (RFC 9068). Verification checks shape and signature only; the service
//! checks time, issuer and revocation.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::DecodePrivateKey as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use rand::RngCore as _;
use serde_json::{Map, Value as Json, json};

use super::digest::sha256_hex;
use super::sealed::SealingKey;

/// JWS `typ` of provider access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// A key pair of the provider, named by its `kid`.
#[derive(Clone)]
pub struct KeyPair {
    /// RFC 7638 thumbprint of the public key.
    pub kid: String,
    key: SigningKey,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair").field("kid", &self.kid).finish()
    }
}

impl KeyPair {
    /// A new random key.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        rand::rng().fill_bytes(&mut seed);
        Self::from_signing_key(SigningKey::from_bytes(&seed))
    }

    /// The key of a PEM (PKCS#8) Ed25519 private key.
    pub fn from_pem(pem: &str) -> anyhow::Result<Self> {
        let key = SigningKey::from_pkcs8_pem(pem)
            .map_err(|e| anyhow::anyhow!("not an Ed25519 PKCS#8 private key: {e}"))?;
        Ok(Self::from_signing_key(key))
    }

    fn from_signing_key(key: SigningKey) -> Self {
        Self {
            kid: thumbprint(&key.verifying_key()),
            key,
        }
    }

    /// The private key sealed for storage.
    pub fn seal(&self, sealing: &SealingKey) -> String {
        sealing.seal(self.key.as_bytes())
    }

    /// A stored key; `None` when it does not open under `sealing`.
    pub fn open(sealed: &str, sealing: &SealingKey) -> Option<Self> {
        let bytes: [u8; 32] = sealing.open(sealed)?.try_into().ok()?;
        Some(Self::from_signing_key(SigningKey::from_bytes(&bytes)))
    }

    /// The public JWK.
    pub fn public_jwk(&self) -> Json {
        jwk(&self.kid, &self.key.verifying_key())
    }
}

/// A published public key.
#[derive(Debug, Clone)]
struct PublicKey {
    kid: String,
    key: VerifyingKey,
}

/// The signing key in use and every published key (it included).
#[derive(Debug, Clone)]
pub struct ProviderKeys {
    signing: Arc<KeyPair>,
    published: Arc<Vec<PublicKey>>,
}

impl ProviderKeys {
    /// Signs with `signing`; verifies under it and every key of `others`
    /// (older keys still published).
    pub fn new(signing: KeyPair, others: &[KeyPair]) -> Self {
        let mut published = vec![PublicKey {
            kid: signing.kid.clone(),
            key: signing.key.verifying_key(),
        }];
        for key in others.iter().filter(|k| k.kid != signing.kid) {
            published.push(PublicKey {
                kid: key.kid.clone(),
                key: key.key.verifying_key(),
            });
        }
        Self {
            signing: Arc::new(signing),
            published: Arc::new(published),
        }
    }

    /// The `kid` of the signing key.
    pub fn signing_kid(&self) -> &str {
        &self.signing.kid
    }

    /// A compact JWS of `claims`.
    pub fn sign(&self, claims: &Map<String, Json>) -> String {
        let header = json!({"alg": "EdDSA", "typ": ACCESS_TOKEN_TYPE, "kid": self.signing.kid});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(Json::Object(claims.clone()).to_string())
        );
        let signature = self.signing.key.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }

    /// The claims of a token this provider signed (any published key), or
    /// `None`: wrong shape, header, `kid` or signature. Time and revocation
    /// are not checked here.
    pub fn verify(&self, token: &str) -> Option<Map<String, Json>> {
        let mut parts = token.split('.');
        let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: Map<String, Json> =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
        if header.get("alg")?.as_str()? != "EdDSA"
            || header.get("typ")?.as_str()? != ACCESS_TOKEN_TYPE
            || header.contains_key("crit")
        {
            return None;
        }
        let kid = header.get("kid")?.as_str()?;
        let key = self.published.iter().find(|k| k.kid == kid)?;
        let signature: [u8; 64] = URL_SAFE_NO_PAD.decode(signature).ok()?.try_into().ok()?;
        let input = &token[..token.rfind('.')?];
        key.key
            .verify_strict(input.as_bytes(), &Signature::from_bytes(&signature))
            .ok()?;
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
    }

    /// The JWK Set of every published key.
    pub fn jwks(&self) -> Json {
        let keys: Vec<Json> = self.published.iter().map(|k| jwk(&k.kid, &k.key)).collect();
        json!({ "keys": keys })
    }
}

fn jwk(kid: &str, key: &VerifyingKey) -> Json {
    json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "x": URL_SAFE_NO_PAD.encode(key.as_bytes()),
        "kid": kid,
        "alg": "EdDSA",
        "use": "sig",
    })
}

/// RFC 7638 thumbprint: SHA-256 of the canonical JWK members, base64url.
fn thumbprint(key: &VerifyingKey) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(key.as_bytes())
    );
    let hex = sha256_hex(canonical.as_bytes());
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect();
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Map<String, Json> {
        json!({"sub": "u", "iss": "http://x"})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn signs_verifies_and_publishes() {
        let pair = KeyPair::generate();
        let keys = ProviderKeys::new(pair.clone(), &[]);
        let token = keys.sign(&claims());
        assert_eq!(keys.verify(&token).unwrap()["sub"], "u");
        let jwks = keys.jwks();
        assert_eq!(jwks["keys"][0]["kid"], pair.kid);
        assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
        assert_eq!(pair.kid.len(), 43);
        // Another key's token, a tampered token, and garbage are refused.
        let other = ProviderKeys::new(KeyPair::generate(), &[]);
        assert!(keys.verify(&other.sign(&claims())).is_none());
        let mut tampered = token.clone();
        tampered.insert(token.find('.').unwrap() + 3, 'x');
        assert!(keys.verify(&tampered).is_none());
        assert!(keys.verify("a.b.c").is_none());
        // An older key still published verifies; it does not sign.
        let old = KeyPair::generate();
        let rotated = ProviderKeys::new(KeyPair::generate(), std::slice::from_ref(&old));
        let by_old = ProviderKeys::new(old, &[]).sign(&claims());
        assert!(rotated.verify(&by_old).is_some());
        assert_eq!(rotated.jwks()["keys"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn headers_other_than_ours_are_refused() {
        let pair = KeyPair::generate();
        let keys = ProviderKeys::new(pair.clone(), &[]);
        let forge = |header: Json| {
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode(Json::Object(claims()).to_string())
            );
            let signature = pair.key.sign(input.as_bytes());
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
        };
        let kid = pair.kid.clone();
        assert!(
            keys.verify(&forge(json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid})))
                .is_some()
        );
        for header in [
            json!({"alg": "none", "typ": "at+jwt", "kid": kid}),
            json!({"alg": "EdDSA", "typ": "JWT", "kid": kid}),
            json!({"alg": "EdDSA", "typ": "at+jwt"}),
            json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid, "crit": ["exp"]}),
        ] {
            assert!(keys.verify(&forge(header.clone())).is_none(), "{header}");
        }
    }

    #[test]
    fn sealed_keys_and_pem() {
        let sealing = SealingKey::new(&[1u8; 32]);
        let pair = KeyPair::generate();
        let reopened = KeyPair::open(&pair.seal(&sealing), &sealing).unwrap();
        assert_eq!(reopened.kid, pair.kid);
        assert!(KeyPair::open(&pair.seal(&sealing), &SealingKey::new(&[2u8; 32])).is_none());
        use ed25519_dalek::pkcs8::EncodePrivateKey as _;
        let pem = pair
            .key
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .unwrap();
        assert_eq!(KeyPair::from_pem(&pem).unwrap().kid, pair.kid);
        assert!(KeyPair::from_pem("not a key").is_err());
    }
}
