//! ID tokens of OpenID providers: the signature against the provider's
//! JWKS (cached for its `max-age`, refetched at most once a minute for an
//! unknown `kid`), then the claims, with 60 seconds of clock skew allowed.

use std::collections::HashMap;
use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::http::Http;
use crate::domain::types::Timestamp;

/// How long a JWKS is kept when its answer says nothing.
const DEFAULT_JWKS_AGE: Duration = Duration::from_secs(3600);
/// Longest a JWKS is kept whatever its answer says.
const MAX_JWKS_AGE: Duration = Duration::from_secs(24 * 3600);
/// Shortest: a `max-age=0` answer must not cost a fetch per login.
const MIN_JWKS_AGE: Duration = Duration::from_secs(60);
/// After a failed fetch, the next attempt waits this long (the last good
/// keys, if any, keep being used meanwhile).
const FAILED_FETCH_RETRY: Duration = Duration::from_secs(10);
/// At most one refetch for an unknown `kid` per this interval.
const FORCED_REFETCH_INTERVAL: Duration = Duration::from_secs(60);
/// Clock skew allowed on `exp` and `iat`.
const SKEW_SECONDS: i64 = 60;
/// Largest ID token read.
const MAX_ID_TOKEN: usize = 16 * 1024;

/// Why an ID token was refused; logged, never shown to clients.
#[derive(Debug, thiserror::Error)]
pub enum IdTokenError {
    /// Unreadable header, disallowed `alg`, missing `kid`.
    #[error("header: {0}")]
    Header(&'static str),
    /// The `kid` is not in the provider's key set, even after a refetch.
    #[error("unknown key id")]
    UnknownKey,
    /// The key set could not be fetched.
    #[error("key set unavailable: {0}")]
    KeySet(String),
    /// Signature or payload decoding failed.
    #[error("signature: {0}")]
    Signature(jsonwebtoken::errors::Error),
    /// A claim check failed.
    #[error("claim {0}")]
    Claim(&'static str),
}

struct CachedKey {
    key: DecodingKey,
    /// The key's own `alg`, when it names one.
    alg: Option<Algorithm>,
}

#[derive(Default)]
struct Cache {
    url: String,
    keys: HashMap<String, CachedKey>,
    fresh_until: Option<Instant>,
    last_forced: Option<Instant>,
}

/// One provider's signing keys. The lock is held across a fetch, so
/// concurrent callbacks wait for one fetch rather than each starting one.
#[derive(Default)]
pub struct KeySet {
    cache: Mutex<Cache>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeySet(..)")
    }
}

#[derive(Deserialize)]
struct JwksDocument {
    keys: Vec<Value>,
}

impl KeySet {
    /// The verification key `kid` of the set at `url`, with the key's `alg`.
    async fn key(
        &self,
        http: &Http,
        url: &str,
        kid: &str,
    ) -> Result<(DecodingKey, Option<Algorithm>), IdTokenError> {
        let mut cache = self.cache.lock().await;
        let now = Instant::now();
        let stale = cache.url != url || cache.fresh_until.is_none_or(|t| t <= now);
        if stale {
            Self::refresh(&mut cache, http, url).await?;
        }
        if let Some(found) = cache.keys.get(kid) {
            return Ok((found.key.clone(), found.alg));
        }
        // A key the cache does not know: the provider may have rotated.
        let may_refetch = !stale
            && cache
                .last_forced
                .is_none_or(|t| now.duration_since(t) >= FORCED_REFETCH_INTERVAL);
        if !may_refetch {
            return Err(IdTokenError::UnknownKey);
        }
        cache.last_forced = Some(now);
        Self::refresh(&mut cache, http, url).await?;
        cache
            .keys
            .get(kid)
            .map(|found| (found.key.clone(), found.alg))
            .ok_or(IdTokenError::UnknownKey)
    }

    /// Fetches the set; on failure keeps the last good keys of this URL
    /// (retried after a short pause) and fails only without any.
    async fn refresh(cache: &mut Cache, http: &Http, url: &str) -> Result<(), IdTokenError> {
        match Self::fetch(cache, http, url).await {
            Ok(()) => Ok(()),
            Err(err) => {
                tracing::warn!(%url, error = %err, "JWKS fetch failed");
                let usable = cache.url == url && !cache.keys.is_empty();
                if !usable {
                    cache.url = url.to_owned();
                    cache.keys.clear();
                }
                cache.fresh_until = Some(Instant::now() + FAILED_FETCH_RETRY);
                if usable { Ok(()) } else { Err(err) }
            }
        }
    }

    async fn fetch(cache: &mut Cache, http: &Http, url: &str) -> Result<(), IdTokenError> {
        let fetched = http
            .get_json::<JwksDocument>(url, None)
            .await
            .map_err(|e| IdTokenError::KeySet(e.to_string()))?;
        let age = fetched
            .max_age
            .map_or(DEFAULT_JWKS_AGE, Duration::from_secs)
            .clamp(MIN_JWKS_AGE, MAX_JWKS_AGE);
        // Keys of a kind we cannot use (or malformed ones) are skipped,
        // not fatal: the set may carry keys for other purposes.
        let keys = fetched
            .value
            .keys
            .into_iter()
            .filter_map(|raw| serde_json::from_value::<Jwk>(raw).ok())
            .filter_map(usable_key)
            .collect();
        *cache = Cache {
            url: url.to_owned(),
            keys,
            fresh_until: Some(Instant::now() + age),
            last_forced: cache.last_forced,
        };
        Ok(())
    }
}

/// An asymmetric signing key with a `kid`; symmetric keys never verify
/// an ID token here.
fn usable_key(jwk: Jwk) -> Option<(String, CachedKey)> {
    if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
        return None;
    }
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != jsonwebtoken::jwk::PublicKeyUse::Signature)
    {
        return None;
    }
    let kid = jwk.common.key_id.clone()?;
    let alg = match jwk.common.key_algorithm {
        Some(a) => Some(a.to_string().parse::<Algorithm>().ok()?),
        None => None,
    };
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    Some((kid, CachedKey { key, alg }))
}

/// What the token must say.
#[derive(Debug)]
pub struct Expected<'a> {
    /// Accepted `iss` values.
    pub issuers: &'a [&'a str],
    /// Our client id: `aud` (and `azp` when `aud` lists several).
    pub client_id: &'a str,
    /// The nonce stored with the login state.
    pub nonce: &'a str,
    /// Accepted signature algorithms.
    pub algorithms: &'a [Algorithm],
    /// The current time.
    pub now: Timestamp,
}

/// The identity claims of a verified ID token.
#[derive(Debug, Clone, Default)]
pub struct IdClaims {
    /// `sub`.
    pub subject: String,
    /// `email`.
    pub email: Option<String>,
    /// `email_verified` is `true` (or `"true"`).
    pub email_verified: bool,
    /// `given_name`.
    pub given_name: Option<String>,
    /// `family_name`.
    pub family_name: Option<String>,
    /// `name`.
    pub name: Option<String>,
}

/// Verifies `token`'s signature with the key set at `jwks_url`, then its claims.
pub async fn verify(
    http: &Http,
    keys: &KeySet,
    jwks_url: &str,
    token: &str,
    expected: &Expected<'_>,
) -> Result<IdClaims, IdTokenError> {
    if token.len() > MAX_ID_TOKEN {
        return Err(IdTokenError::Header("token too large"));
    }
    let header =
        jsonwebtoken::decode_header(token).map_err(|_| IdTokenError::Header("unreadable"))?;
    if !expected.algorithms.contains(&header.alg) {
        return Err(IdTokenError::Header("algorithm not allowed"));
    }
    if header.crit.is_some() {
        return Err(IdTokenError::Header("crit not supported"));
    }
    let kid = header
        .kid
        .as_deref()
        .ok_or(IdTokenError::Header("no kid"))?;
    let (key, key_alg) = keys.key(http, jwks_url, kid).await?;
    if key_alg.is_some_and(|a| a != header.alg) {
        return Err(IdTokenError::Header("algorithm differs from the key's"));
    }
    let mut validation = Validation::new(header.alg);
    // The claims are checked below, against the injected clock.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<serde_json::Map<String, Value>>(token, &key, &validation)
        .map_err(IdTokenError::Signature)?;
    check_claims(&data.claims, expected)
}

fn string<'a>(claims: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

fn check_claims(
    claims: &serde_json::Map<String, Value>,
    expected: &Expected<'_>,
) -> Result<IdClaims, IdTokenError> {
    let iss = string(claims, "iss").ok_or(IdTokenError::Claim("iss missing"))?;
    if !expected.issuers.contains(&iss) {
        return Err(IdTokenError::Claim("iss"));
    }
    // An `azp`, when present, must be us (OpenID Connect Core 3.1.3.7).
    if string(claims, "azp").is_some_and(|azp| azp != expected.client_id) {
        return Err(IdTokenError::Claim("azp"));
    }
    match claims.get("aud") {
        Some(Value::String(aud)) if aud == expected.client_id => {}
        Some(Value::Array(auds)) => {
            let listed = auds.iter().any(|a| a.as_str() == Some(expected.client_id));
            if !listed || string(claims, "azp") != Some(expected.client_id) {
                return Err(IdTokenError::Claim("aud/azp"));
            }
        }
        _ => return Err(IdTokenError::Claim("aud")),
    }
    let now = expected.now.unix_seconds();
    let exp = claims
        .get("exp")
        .and_then(Value::as_f64)
        .ok_or(IdTokenError::Claim("exp missing"))?;
    if exp <= (now - SKEW_SECONDS) as f64 {
        return Err(IdTokenError::Claim("exp"));
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_f64)
        .ok_or(IdTokenError::Claim("iat missing"))?;
    if iat > (now + SKEW_SECONDS) as f64 {
        return Err(IdTokenError::Claim("iat"));
    }
    let nonce = string(claims, "nonce").ok_or(IdTokenError::Claim("nonce missing"))?;
    if !crate::auth::digest::constant_time_eq(nonce.as_bytes(), expected.nonce.as_bytes()) {
        return Err(IdTokenError::Claim("nonce"));
    }
    let subject = string(claims, "sub")
        .filter(|s| !s.is_empty())
        .ok_or(IdTokenError::Claim("sub"))?;
    Ok(IdClaims {
        subject: subject.to_owned(),
        email: string(claims, "email").map(str::to_owned),
        email_verified: is_true(claims.get("email_verified")),
        given_name: string(claims, "given_name").map(str::to_owned),
        family_name: string(claims, "family_name").map(str::to_owned),
        name: string(claims, "name").map(str::to_owned),
    })
}

/// `true` or `"true"`.
pub fn is_true(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> serde_json::Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn expected(now: i64) -> Expected<'static> {
        Expected {
            issuers: &["https://accounts.google.com", "accounts.google.com"],
            client_id: "client",
            nonce: "n0nce",
            algorithms: &[Algorithm::RS256],
            now: Timestamp::from_datetime(chrono::DateTime::from_timestamp(now, 0).unwrap()),
        }
    }

    fn good() -> Value {
        json!({"iss": "accounts.google.com", "aud": "client", "exp": 1_000_100, "iat": 1_000_000,
               "nonce": "n0nce", "sub": "42", "email": "a@b.c", "email_verified": "true"})
    }

    #[test]
    fn accepts_good_claims_and_string_true() {
        let c = check_claims(&claims(good()), &expected(1_000_000)).unwrap();
        assert_eq!(c.subject, "42");
        assert!(c.email_verified);
    }

    #[test]
    fn refuses_each_bad_claim() {
        let cases = [
            ("iss", json!("https://evil.example")),
            ("aud", json!("other")),
            ("aud", json!(["client", "other"])),
            ("nonce", json!("other")),
            ("sub", json!("")),
            ("exp", json!(999_939)),
            ("iat", json!(1_000_061)),
            ("azp", json!("someone-else")),
        ];
        for (name, value) in cases {
            let mut c = good();
            c[name] = value.clone();
            assert!(
                check_claims(&claims(c), &expected(1_000_000)).is_err(),
                "{name} = {value}"
            );
        }
        for name in ["iss", "aud", "exp", "iat", "nonce", "sub"] {
            let mut c = good();
            c.as_object_mut().unwrap().remove(name);
            assert!(
                check_claims(&claims(c), &expected(1_000_000)).is_err(),
                "{name} missing"
            );
        }
    }

    #[test]
    fn skew_of_sixty_seconds_is_allowed() {
        let mut c = good();
        c["exp"] = json!(999_941);
        c["iat"] = json!(1_000_060);
        assert!(check_claims(&claims(c), &expected(1_000_000)).is_ok());
    }

    #[test]
    fn audience_list_needs_azp() {
        let mut c = good();
        c["aud"] = json!(["client", "other"]);
        c["azp"] = json!("client");
        assert!(check_claims(&claims(c), &expected(1_000_000)).is_ok());
    }

    #[test]
    fn email_verified_must_be_true() {
        for (value, verified) in [
            (json!(true), true),
            (json!("true"), true),
            (json!(false), false),
            (json!("yes"), false),
            (json!(1), false),
        ] {
            assert_eq!(is_true(Some(&value)), verified, "{value}");
        }
        assert!(!is_true(None));
    }
}
