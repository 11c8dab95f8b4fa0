//! First-party JWTs (docs/endpoints.md#tokens-and-sessions): HMAC-signed access and refresh
//! tokens, both bound to a session (`sid`). Expiry is checked here against
//! the injected clock, with no leeway; signature and shape by jsonwebtoken.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

use crate::config::JwtAlgorithm;
use crate::domain::types::{Id, Timestamp};

/// `type` claim of access tokens.
pub const ACCESS: &str = "access";
/// `type` claim of refresh tokens.
pub const REFRESH: &str = "refresh";

/// Signs and verifies first-party tokens.
#[derive(Clone)]
pub struct TokenKeys {
    algorithm: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("algorithm", &self.algorithm)
            .finish()
    }
}

/// What an access token says about its holder.
#[derive(Debug, Clone, Serialize)]
pub struct AccessClaims<'a> {
    /// User id.
    pub sub: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Issue time, Unix seconds.
    pub iat: i64,
    /// Random UUIDv4.
    pub jti: String,
    /// Always `access`.
    #[serde(rename = "type")]
    pub token_type: &'a str,
    /// Session id.
    pub sid: String,
    /// Informational.
    pub is_superuser: bool,
    /// Informational.
    pub email: &'a str,
    /// Informational.
    pub first_name: &'a str,
}

/// A refresh token's claims.
#[derive(Debug, Clone, Serialize)]
pub struct RefreshClaims<'a> {
    /// User id.
    pub sub: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Issue time, Unix seconds.
    pub iat: i64,
    /// Random UUIDv4, recorded on the session.
    pub jti: String,
    /// Always `refresh`.
    #[serde(rename = "type")]
    pub token_type: &'a str,
    /// Session id.
    pub sid: String,
}

/// The verified claims of any first-party token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// User id.
    pub user_id: Id,
    /// Session id.
    pub session_id: Id,
    /// Token id.
    pub jti: String,
    /// `access` or `refresh` (or anything else a forger with the key wrote).
    pub token_type: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// The later of `iat` and `nbf`, Unix seconds: not valid before it.
    pub not_before: i64,
}

/// How far ahead of this server's clock a token's `iat` or `nbf` may be
/// (another replica's clock may run a little fast).
pub const CLOCK_SKEW_SECONDS: i64 = 60;

impl Verified {
    /// `exp` is in the past (no leeway).
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.exp <= now.unix_seconds()
    }

    /// The token claims to be issued, or valid only, in the future (beyond
    /// [`CLOCK_SKEW_SECONDS`]): this server never signs such a token.
    pub fn is_premature(&self, now: Timestamp) -> bool {
        self.not_before > now.unix_seconds().saturating_add(CLOCK_SKEW_SECONDS)
    }
}

#[derive(Deserialize)]
struct RawClaims {
    sub: String,
    exp: serde_json::Number,
    iat: serde_json::Number,
    jti: String,
    #[serde(rename = "type")]
    token_type: String,
    sid: String,
    #[serde(default)]
    nbf: Option<serde_json::Number>,
    #[serde(default)]
    aud: Option<serde_json::Value>,
}

/// The token cannot be verified at all (bad signature, shape or algorithm).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("token could not be verified")]
pub struct Unverifiable;

impl TokenKeys {
    /// Keys from `SECRET_KEY` (its UTF-8 bytes) and `ALGORITHM`.
    pub fn new(secret: &SecretString, algorithm: JwtAlgorithm) -> Self {
        let key = secret.expose_secret().as_bytes();
        Self {
            algorithm: match algorithm {
                JwtAlgorithm::Hs256 => Algorithm::HS256,
                JwtAlgorithm::Hs384 => Algorithm::HS384,
                JwtAlgorithm::Hs512 => Algorithm::HS512,
            },
            encoding: EncodingKey::from_secret(key),
            decoding: DecodingKey::from_secret(key),
        }
    }

    /// Signs claims (header `{"alg": ALGORITHM, "typ": "JWT"}`, no `kid`).
    pub fn sign<C: Serialize>(&self, claims: &C) -> anyhow::Result<String> {
        Ok(jsonwebtoken::encode(
            &Header::new(self.algorithm),
            claims,
            &self.encoding,
        )?)
    }

    /// Verifies signature, algorithm and claim shape; `exp` is NOT checked here.
    pub fn verify(&self, token: &str) -> Result<Verified, Unverifiable> {
        let mut validation = Validation::new(self.algorithm);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<RawClaims>(token, &self.decoding, &validation)
            .map_err(|_| Unverifiable)?;
        // We never issue critical header extensions, so none is understood
        // (RFC 7515, section 4.1.11: such a token must be refused).
        if data.header.crit.is_some() {
            return Err(Unverifiable);
        }
        let claims = data.claims;
        if claims.aud.is_some() {
            return Err(Unverifiable);
        }
        let iat = claims.iat.as_f64().ok_or(Unverifiable)?;
        let nbf = match &claims.nbf {
            Some(nbf) => nbf.as_f64().ok_or(Unverifiable)?,
            None => iat,
        };
        let exp = claims.exp.as_f64().ok_or(Unverifiable)?;
        let user_id = canonical_uuid(&claims.sub)?;
        let session_id = canonical_uuid(&claims.sid)?;
        #[expect(
            clippy::cast_possible_truncation,
            reason = "Unix times in seconds; `as` saturates absurd ones"
        )]
        let (exp, not_before) = (exp.floor() as i64, iat.max(nbf).ceil() as i64);
        Ok(Verified {
            user_id: Id(user_id),
            session_id: Id(session_id),
            jti: claims.jti,
            token_type: claims.token_type,
            exp,
            not_before,
        })
    }
}

/// A UUID in the only form we write (lower-case, hyphenated): any other
/// spelling of the same id is a token we did not issue.
fn canonical_uuid(text: &str) -> Result<uuid::Uuid, Unverifiable> {
    let id = uuid::Uuid::parse_str(text).map_err(|_| Unverifiable)?;
    let mut buf = uuid::Uuid::encode_buffer();
    if id.hyphenated().encode_lower(&mut buf) == text {
        Ok(id)
    } else {
        Err(Unverifiable)
    }
}

/// A new random token id.
pub fn new_jti() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new(&"k".repeat(32).into(), JwtAlgorithm::Hs256)
    }

    fn refresh(sid: Id) -> RefreshClaims<'static> {
        RefreshClaims {
            sub: Id::new_random().to_string(),
            exp: 2_000_000_000,
            iat: 1_000,
            jti: new_jti(),
            token_type: REFRESH,
            sid: sid.to_string(),
        }
    }

    #[test]
    fn sign_then_verify_round_trips() {
        let sid = Id::new_random();
        let token = keys().sign(&refresh(sid)).unwrap();
        let v = keys().verify(&token).unwrap();
        assert_eq!(v.session_id, sid);
        assert_eq!(v.token_type, "refresh");
        assert_eq!(v.exp, 2_000_000_000);
    }

    #[test]
    fn not_before_is_the_later_of_iat_and_nbf() {
        let sign = |extra: serde_json::Value| {
            let mut claims = serde_json::json!({"sub": Id::new_random().to_string(), "exp": 2e9,
                "iat": 1_000, "jti": "j", "type": "access", "sid": Id::new_random().to_string()});
            if let (Some(claims), Some(extra)) = (claims.as_object_mut(), extra.as_object()) {
                claims.extend(extra.clone());
            }
            keys().sign(&claims).unwrap()
        };
        let at =
            |secs| Timestamp::from_datetime(chrono::DateTime::from_timestamp(secs, 0).unwrap());
        let plain = keys().verify(&sign(serde_json::json!({}))).unwrap();
        assert_eq!(plain.not_before, 1_000);
        let later = keys()
            .verify(&sign(serde_json::json!({"nbf": 5_000.5})))
            .unwrap();
        assert_eq!(later.not_before, 5_001);
        assert!(later.is_premature(at(5_001 - CLOCK_SKEW_SECONDS - 1)));
        assert!(!later.is_premature(at(5_001 - CLOCK_SKEW_SECONDS)));
        let earlier = keys()
            .verify(&sign(serde_json::json!({"nbf": 10})))
            .unwrap();
        assert_eq!(earlier.not_before, 1_000);
        let text = sign(serde_json::json!({"nbf": "5000"}));
        assert_eq!(keys().verify(&text), Err(Unverifiable));
    }

    #[test]
    fn tampered_other_key_other_alg_and_aud_are_unverifiable() {
        let token = keys().sign(&refresh(Id::new_random())).unwrap();
        let mut tampered = token.clone();
        tampered.push('x');
        assert_eq!(keys().verify(&tampered), Err(Unverifiable));
        let other = TokenKeys::new(&"o".repeat(32).into(), JwtAlgorithm::Hs256);
        assert_eq!(other.verify(&token), Err(Unverifiable));
        let hs512 = TokenKeys::new(&"k".repeat(32).into(), JwtAlgorithm::Hs512);
        assert_eq!(hs512.verify(&token), Err(Unverifiable));
        let with_aud = serde_json::json!({"sub": Id::new_random().to_string(), "exp": 2e9, "iat": 1,
            "jti": "j", "type": "access", "sid": Id::new_random().to_string(), "aud": "x"});
        assert_eq!(
            keys().verify(&keys().sign(&with_aud).unwrap()),
            Err(Unverifiable)
        );
        assert_eq!(keys().verify("not.a.jwt"), Err(Unverifiable));
    }

    #[test]
    fn critical_headers_and_non_canonical_ids_are_unverifiable() {
        let k = keys();
        let claims = refresh(Id::new_random());
        let mut header = Header::new(Algorithm::HS256);
        header.crit = Some(vec!["exp".to_owned()]);
        let with_crit = jsonwebtoken::encode(&header, &claims, &k.encoding).unwrap();
        assert_eq!(k.verify(&with_crit), Err(Unverifiable));
        let sid = Id::new_random().to_string();
        for spelling in [
            sid.to_uppercase(),
            sid.replace('-', ""),
            format!("{{{sid}}}"),
            format!("urn:uuid:{sid}"),
        ] {
            let mut claims = refresh(Id::new_random());
            claims.sid = spelling.clone();
            assert_eq!(
                k.verify(&k.sign(&claims).unwrap()),
                Err(Unverifiable),
                "{spelling}"
            );
        }
        let mut claims = refresh(Id::new_random());
        claims.sid = sid;
        assert!(k.verify(&k.sign(&claims).unwrap()).is_ok());
    }
}
