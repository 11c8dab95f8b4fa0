//! The authorization server's signing keys and the JWTs they sign: access
//! tokens (RFC 9068, `typ: at+jwt`) and OpenID Connect ID tokens
//! (`typ: JWT`). Ed25519 (`EdDSA`) by default; P-256 (`ES256`) and RSA 2048
//! (`RS256`) for relying parties that need them. Kept apart from the
//! first-party HMAC key, private parts sealed at rest, public parts
//! published as a JWK Set. A key signs from its `active_from` on; keys are
//! published before that and for as long as tokens they signed may live.
//! Verification checks shape, algorithm and signature only; the service
//! checks time, issuer, audience and revocation.

use std::sync::{Arc, PoisonError, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use rsa::signature::SignatureEncoding as _;
use rsa::traits::PublicKeyParts as _;
use serde_json::{Map, Value as Json, json};
use sha2::{Digest as _, Sha256, Sha512};

use super::sealed::SealingKey;
use crate::domain::types::Timestamp;

/// JWS `typ` of provider access tokens (RFC 9068).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";
/// JWS `typ` of ID tokens.
pub const ID_TOKEN_TYPE: &str = "JWT";

/// Whether a token's header says it is a provider access token (nothing
/// is verified: this only picks the validation path).
pub fn is_access_token(token: &str) -> bool {
    let Some(header) = token.split('.').next() else {
        return false;
    };
    if header.len() > 1024 {
        return false;
    }
    URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Map<String, Json>>(&bytes).ok())
        .is_some_and(|h| h.get("typ").and_then(Json::as_str) == Some(ACCESS_TOKEN_TYPE))
}

/// A JWS algorithm the provider signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// Ed25519 (RFC 8037).
    EdDsa,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys.
    Rs256,
}

impl Algorithm {
    /// Every algorithm, for the discovery document.
    pub const ALL: [Self; 3] = [Self::EdDsa, Self::Es256, Self::Rs256];

    /// The JWS `alg` name.
    pub fn name(self) -> &'static str {
        match self {
            Self::EdDsa => "EdDSA",
            Self::Es256 => "ES256",
            Self::Rs256 => "RS256",
        }
    }

    /// The algorithm of a JWS `alg` name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// `at_hash` and `c_hash` (OpenID Connect Core §3.1.3.6): the left half
    /// of the hash the algorithm uses, SHA-512 for Ed25519.
    pub fn half_hash(self, value: &str) -> String {
        let digest = match self {
            Self::EdDsa => Sha512::digest(value.as_bytes()).to_vec(),
            Self::Es256 | Self::Rs256 => Sha256::digest(value.as_bytes()).to_vec(),
        };
        URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
    }
}

enum Secret {
    Ed25519(ed25519_dalek::SigningKey),
    P256(p256::ecdsa::SigningKey),
    Rsa(
        Box<rsa::pkcs1v15::SigningKey<Sha256>>,
        Box<rsa::RsaPrivateKey>,
    ),
}

/// A key pair of the provider, named by its `kid`.
#[derive(Clone)]
pub struct KeyPair {
    /// RFC 7638 thumbprint of the public key.
    pub kid: String,
    secret: Arc<Secret>,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("kid", &self.kid)
            .field("alg", &self.algorithm().name())
            .finish()
    }
}

/// 32 random bytes.
fn random_32() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    bytes
}

impl KeyPair {
    /// A new random key. RSA generation takes a fraction of a second of
    /// CPU: call it off the async workers.
    pub fn generate(algorithm: Algorithm) -> anyhow::Result<Self> {
        let secret = match algorithm {
            Algorithm::EdDsa => {
                Secret::Ed25519(ed25519_dalek::SigningKey::from_bytes(&random_32()))
            }
            Algorithm::Es256 => {
                // A random scalar is out of range with negligible probability.
                let key = (0..8)
                    .find_map(|_| p256::ecdsa::SigningKey::from_bytes(&random_32().into()).ok())
                    .ok_or_else(|| anyhow::anyhow!("no valid P-256 scalar drawn"))?;
                Secret::P256(key)
            }
            Algorithm::Rs256 => {
                let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)?;
                rsa_secret(key)
            }
        };
        Ok(Self::from_secret(secret))
    }

    /// The key of a PEM (PKCS#8) private key: Ed25519, P-256 or RSA.
    pub fn from_pem(pem: &str) -> anyhow::Result<Self> {
        use ed25519_dalek::pkcs8::DecodePrivateKey as _;
        let secret = if let Ok(key) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
            Secret::Ed25519(key)
        } else if let Ok(key) = p256::ecdsa::SigningKey::from_pkcs8_pem(pem) {
            Secret::P256(key)
        } else if let Ok(key) = rsa::RsaPrivateKey::from_pkcs8_pem(pem) {
            if key.size() < 256 {
                anyhow::bail!("RSA signing keys must have at least 2048 bits");
            }
            rsa_secret(key)
        } else {
            anyhow::bail!("not a PKCS#8 Ed25519, P-256 or RSA private key");
        };
        Ok(Self::from_secret(secret))
    }

    fn from_secret(secret: Secret) -> Self {
        Self {
            kid: thumbprint(&public_members(&secret)),
            secret: Arc::new(secret),
        }
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        match *self.secret {
            Secret::Ed25519(_) => Algorithm::EdDsa,
            Secret::P256(_) => Algorithm::Es256,
            Secret::Rsa(..) => Algorithm::Rs256,
        }
    }

    /// The private key sealed for storage: the Ed25519 seed, the P-256
    /// scalar, or the RSA key as PKCS#8 DER.
    pub fn seal(&self, sealing: &SealingKey) -> anyhow::Result<String> {
        Ok(match &*self.secret {
            Secret::Ed25519(key) => sealing.seal(key.as_bytes()),
            Secret::P256(key) => sealing.seal(&key.to_bytes()),
            Secret::Rsa(_, key) => sealing.seal(key.to_pkcs8_der()?.as_bytes()),
        })
    }

    /// A stored key of `algorithm`; `None` when it does not open under
    /// `sealing`.
    pub fn open(algorithm: Algorithm, sealed: &str, sealing: &SealingKey) -> Option<Self> {
        let bytes = sealing.open(sealed)?;
        let secret = match algorithm {
            Algorithm::EdDsa => Secret::Ed25519(ed25519_dalek::SigningKey::from_bytes(
                &bytes.try_into().ok()?,
            )),
            Algorithm::Es256 => {
                let scalar: [u8; 32] = bytes.try_into().ok()?;
                Secret::P256(p256::ecdsa::SigningKey::from_bytes(&scalar.into()).ok()?)
            }
            Algorithm::Rs256 => rsa_secret(rsa::RsaPrivateKey::from_pkcs8_der(&bytes).ok()?),
        };
        Some(Self::from_secret(secret))
    }

    /// The public JWK.
    pub fn public_jwk(&self) -> Json {
        let mut jwk = public_members(&self.secret);
        jwk.insert("kid".to_owned(), Json::from(self.kid.clone()));
        jwk.insert("alg".to_owned(), Json::from(self.algorithm().name()));
        jwk.insert("use".to_owned(), Json::from("sig"));
        Json::Object(jwk)
    }

    fn sign_bytes(&self, input: &[u8]) -> Vec<u8> {
        match &*self.secret {
            Secret::Ed25519(key) => ed25519_dalek::Signer::sign(key, input).to_bytes().to_vec(),
            Secret::P256(key) => {
                let signature: p256::ecdsa::Signature = key.sign(input);
                signature.to_bytes().to_vec()
            }
            Secret::Rsa(key, _) => key.sign(input).to_vec(),
        }
    }

    fn verify_bytes(&self, input: &[u8], signature: &[u8]) -> bool {
        match &*self.secret {
            Secret::Ed25519(key) => {
                let Ok(bytes) = <[u8; 64]>::try_from(signature) else {
                    return false;
                };
                key.verifying_key()
                    .verify_strict(input, &ed25519_dalek::Signature::from_bytes(&bytes))
                    .is_ok()
            }
            Secret::P256(key) => p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|s| key.verifying_key().verify(input, &s).is_ok()),
            Secret::Rsa(_, key) => {
                let verifying = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key.to_public_key());
                rsa::pkcs1v15::Signature::try_from(signature)
                    .is_ok_and(|s| rsa::signature::Verifier::verify(&verifying, input, &s).is_ok())
            }
        }
    }
}

fn rsa_secret(key: rsa::RsaPrivateKey) -> Secret {
    Secret::Rsa(
        Box::new(rsa::pkcs1v15::SigningKey::<Sha256>::new(key.clone())),
        Box::new(key),
    )
}

/// The public members of a key's JWK, exactly those of its thumbprint.
fn public_members(secret: &Secret) -> Map<String, Json> {
    let b64 = |bytes: &[u8]| Json::from(URL_SAFE_NO_PAD.encode(bytes));
    let members = match secret {
        Secret::Ed25519(key) => json!({
            "crv": "Ed25519", "kty": "OKP", "x": b64(key.verifying_key().as_bytes()),
        }),
        Secret::P256(key) => {
            let point = key.verifying_key().to_encoded_point(false);
            json!({
                "crv": "P-256",
                "kty": "EC",
                "x": b64(point.x().map(|x| &x[..]).unwrap_or_default()),
                "y": b64(point.y().map(|y| &y[..]).unwrap_or_default()),
            })
        }
        Secret::Rsa(_, key) => json!({
            "e": b64(&key.e().to_bytes_be()), "kty": "RSA", "n": b64(&key.n().to_bytes_be()),
        }),
    };
    members.as_object().cloned().unwrap_or_default()
}

/// RFC 7638 thumbprint: SHA-256 of the required members in lexicographic
/// order, without whitespace (serde_json's map keeps keys sorted).
fn thumbprint(members: &Map<String, Json>) -> String {
    let canonical = Json::Object(members.clone()).to_string();
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// A key and the instant it signs from.
#[derive(Debug, Clone)]
pub struct ScheduledKey {
    /// The key.
    pub pair: KeyPair,
    /// Signs from this instant on (published before).
    pub active_from: Timestamp,
}

/// Every published key. The newest already active signs.
#[derive(Debug, Clone)]
pub struct ProviderKeys {
    keys: Vec<ScheduledKey>,
}

impl ProviderKeys {
    /// The set of `keys` (at least one).
    pub fn new(mut keys: Vec<ScheduledKey>) -> Self {
        keys.sort_by_key(|k| k.active_from);
        Self { keys }
    }

    /// One key that always signs (a configured key file).
    pub fn single(pair: KeyPair) -> Self {
        let since = Timestamp::from_datetime(chrono::DateTime::UNIX_EPOCH);
        Self::new(vec![ScheduledKey {
            pair,
            active_from: since,
        }])
    }

    /// The key that signs at `now`: the newest already active (the oldest
    /// when none is active yet).
    pub fn signing_key(&self, now: Timestamp) -> Option<&KeyPair> {
        self.keys
            .iter()
            .rev()
            .find(|k| k.active_from <= now)
            .or_else(|| self.keys.first())
            .map(|k| &k.pair)
    }

    /// A compact JWS of `claims` with header `typ`, signed by the key of
    /// `now`. `None` only when there is no key at all.
    pub fn sign(&self, typ: &str, claims: &Map<String, Json>, now: Timestamp) -> Option<String> {
        let key = self.signing_key(now)?;
        let header = json!({"alg": key.algorithm().name(), "typ": typ, "kid": key.kid});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(Json::Object(claims.clone()).to_string())
        );
        let signature = key.sign_bytes(input.as_bytes());
        Some(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    /// The claims of a token of type `typ` this provider signed with any
    /// published key, or `None`: wrong shape, header, `kid`, algorithm or
    /// signature. Time and revocation are not checked here.
    pub fn verify(&self, token: &str, typ: &str) -> Option<Map<String, Json>> {
        let mut parts = token.split('.');
        let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: Map<String, Json> =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
        if header.get("typ")?.as_str()? != typ || header.contains_key("crit") {
            return None;
        }
        let kid = header.get("kid")?.as_str()?;
        let key = &self.keys.iter().find(|k| k.pair.kid == kid)?.pair;
        // The algorithm is the key's; the header must name it.
        if header.get("alg")?.as_str()? != key.algorithm().name() {
            return None;
        }
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        let input = &token[..token.rfind('.')?];
        if !key.verify_bytes(input.as_bytes(), &signature) {
            return None;
        }
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
    }

    /// The JWK Set of every published key.
    pub fn jwks(&self) -> Json {
        let keys: Vec<Json> = self.keys.iter().map(|k| k.pair.public_jwk()).collect();
        json!({ "keys": keys })
    }

    /// The `kid` of every published key, in signing order.
    pub fn kids(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.pair.kid.clone()).collect()
    }
}

/// The published keys, replaced as rotation adds and retires keys. Readers
/// take a snapshot.
#[derive(Debug)]
pub struct KeyRing {
    current: RwLock<Arc<ProviderKeys>>,
}

impl KeyRing {
    /// A ring holding `keys`.
    pub fn new(keys: ProviderKeys) -> Self {
        Self {
            current: RwLock::new(Arc::new(keys)),
        }
    }

    /// The keys now.
    pub fn get(&self) -> Arc<ProviderKeys> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Publishes a new set.
    pub fn replace(&self, keys: ProviderKeys) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn claims() -> Map<String, Json> {
        json!({"sub": "u", "iss": "http://x"})
            .as_object()
            .unwrap()
            .clone()
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_datetime(chrono::DateTime::UNIX_EPOCH) + Duration::seconds(seconds)
    }

    #[test]
    fn every_algorithm_signs_verifies_and_publishes() {
        for alg in Algorithm::ALL {
            let pair = KeyPair::generate(alg).unwrap();
            let keys = ProviderKeys::single(pair.clone());
            let token = keys.sign(ACCESS_TOKEN_TYPE, &claims(), at(0)).unwrap();
            assert_eq!(keys.verify(&token, ACCESS_TOKEN_TYPE).unwrap()["sub"], "u");
            // The type is part of what is checked.
            assert!(keys.verify(&token, ID_TOKEN_TYPE).is_none());
            let jwk = &keys.jwks()["keys"][0];
            assert_eq!(jwk["kid"], pair.kid);
            assert_eq!(jwk["alg"], alg.name());
            assert_eq!(pair.kid.len(), 43);
            // Another key's token, a tampered token and garbage are refused.
            let other = ProviderKeys::single(KeyPair::generate(alg).unwrap());
            let foreign = other.sign(ACCESS_TOKEN_TYPE, &claims(), at(0)).unwrap();
            assert!(keys.verify(&foreign, ACCESS_TOKEN_TYPE).is_none());
            let mut tampered = token.clone();
            tampered.insert(token.find('.').unwrap() + 3, 'x');
            assert!(keys.verify(&tampered, ACCESS_TOKEN_TYPE).is_none());
            assert!(keys.verify("a.b.c", ACCESS_TOKEN_TYPE).is_none());
            // Sealed and opened again, under the right key only.
            let sealing = SealingKey::new(&[1u8; 32]);
            let sealed = pair.seal(&sealing).unwrap();
            assert_eq!(KeyPair::open(alg, &sealed, &sealing).unwrap().kid, pair.kid);
            assert!(KeyPair::open(alg, &sealed, &SealingKey::new(&[2u8; 32])).is_none());
        }
    }

    #[test]
    fn the_newest_active_key_signs_and_all_verify() {
        let old = KeyPair::generate(Algorithm::EdDsa).unwrap();
        let new = KeyPair::generate(Algorithm::Es256).unwrap();
        let keys = ProviderKeys::new(vec![
            ScheduledKey {
                pair: new.clone(),
                active_from: at(100),
            },
            ScheduledKey {
                pair: old.clone(),
                active_from: at(0),
            },
        ]);
        assert_eq!(keys.signing_key(at(99)).unwrap().kid, old.kid);
        assert_eq!(keys.signing_key(at(100)).unwrap().kid, new.kid);
        let before = keys.sign(ID_TOKEN_TYPE, &claims(), at(50)).unwrap();
        let after = keys.sign(ID_TOKEN_TYPE, &claims(), at(150)).unwrap();
        assert!(keys.verify(&before, ID_TOKEN_TYPE).is_some());
        assert!(keys.verify(&after, ID_TOKEN_TYPE).is_some());
        assert_eq!(keys.kids(), vec![old.kid.clone(), new.kid.clone()]);
        assert_eq!(keys.jwks()["keys"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn headers_other_than_ours_are_refused() {
        let pair = KeyPair::generate(Algorithm::EdDsa).unwrap();
        let keys = ProviderKeys::single(pair.clone());
        let forge = |header: Json| {
            let input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode(Json::Object(claims()).to_string())
            );
            let signature = pair.sign_bytes(input.as_bytes());
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
        };
        let kid = pair.kid.clone();
        assert!(
            keys.verify(
                &forge(json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid})),
                ACCESS_TOKEN_TYPE
            )
            .is_some()
        );
        for header in [
            json!({"alg": "none", "typ": "at+jwt", "kid": kid}),
            json!({"alg": "ES256", "typ": "at+jwt", "kid": kid}),
            json!({"alg": "EdDSA", "typ": "JWT", "kid": kid}),
            json!({"alg": "EdDSA", "typ": "at+jwt"}),
            json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid, "crit": ["exp"]}),
        ] {
            assert!(
                keys.verify(&forge(header.clone()), ACCESS_TOKEN_TYPE)
                    .is_none(),
                "{header}"
            );
        }
    }

    #[test]
    fn pem_keys_of_each_kind() {
        use ed25519_dalek::pkcs8::EncodePrivateKey as _;
        let ed = ed25519_dalek::SigningKey::from_bytes(&random_32());
        let pem = ed
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .unwrap();
        assert_eq!(
            KeyPair::from_pem(&pem).unwrap().algorithm(),
            Algorithm::EdDsa
        );
        let ec = p256::ecdsa::SigningKey::from_bytes(&random_32().into()).unwrap();
        let pem = p256::pkcs8::EncodePrivateKey::to_pkcs8_pem(&ec, Default::default()).unwrap();
        assert_eq!(
            KeyPair::from_pem(&pem).unwrap().algorithm(),
            Algorithm::Es256
        );
        assert!(KeyPair::from_pem("not a key").is_err());
    }

    #[test]
    fn token_hashes_follow_the_algorithm() {
        // OpenID Connect Core §3.1.3.6's example value and SHA-256.
        let token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        assert_eq!(Algorithm::Rs256.half_hash(token), "77QmUPtjPfzWtF2AnpK9RQ");
        assert_eq!(Algorithm::EdDsa.half_hash(token).len(), 43);
    }
}
