//! OpenID Connect providers: Google with its fixed endpoints, and one
//! provider found by discovery. Authorization code with PKCE S256 and a
//! nonce; the ID token is required and verified; user info completes a
//! missing name or email.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::http::Http;
use super::id_token::{self, Expected, IdClaims, KeySet};
use super::{
    EXCHANGE_FAILED, ExternalIdentity, FlowSecrets, ProviderId, ProviderTokens, TokenResponse,
    USER_INFO_FAILED, failed,
};
use crate::config::GoogleConfig;
use crate::domain::oauth::{s256_challenge, with_query};
use crate::domain::types::Timestamp;
use crate::error::Error;

/// The scopes asked of OpenID providers.
const SCOPES: &str = "openid email profile";
/// Signature algorithms accepted from a discovered provider.
const ASYMMETRIC: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];
/// Longest stored subject (`provider_user_id`).
const MAX_SUBJECT: usize = 255;
/// How long a discovery document is kept.
const DISCOVERY_AGE: Duration = Duration::from_secs(3600);
/// After a failed discovery, the next attempt waits this long.
const DISCOVERY_RETRY: Duration = Duration::from_secs(10);

/// Where an OpenID provider lives and what its tokens look like.
#[derive(Debug)]
pub struct Endpoints {
    authorize: String,
    token: String,
    userinfo: Option<String>,
    jwks: String,
    issuers: Vec<String>,
    algorithms: Vec<Algorithm>,
    /// Client authentication at the token endpoint by HTTP Basic (the
    /// OpenID default) rather than in the form.
    basic_auth: bool,
}

impl Endpoints {
    /// Google's (RS256 only; `iss` with or without its scheme).
    pub fn google(config: &GoogleConfig) -> Self {
        let bare = config
            .issuer
            .strip_prefix("https://")
            .unwrap_or(&config.issuer)
            .to_owned();
        Self {
            authorize: config.authorize_url.clone(),
            token: config.token_url.clone(),
            userinfo: Some(config.userinfo_url.clone()),
            jwks: config.jwks_url.clone(),
            issuers: vec![config.issuer.clone(), bare],
            algorithms: vec![Algorithm::RS256],
            basic_auth: false,
        }
    }
}

/// The authorization URL: code flow with PKCE S256 and a nonce.
pub fn authorization_url(
    endpoints: &Endpoints,
    client_id: &str,
    redirect_uri: &str,
    state: &str,
    secrets: &FlowSecrets,
) -> String {
    let challenge = secrets
        .code_verifier
        .as_deref()
        .map(s256_challenge)
        .unwrap_or_default();
    with_query(
        &endpoints.authorize,
        &[
            ("client_id", client_id),
            ("redirect_uri", redirect_uri),
            ("response_type", "code"),
            ("scope", SCOPES),
            ("state", state),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("nonce", secrets.nonce.as_deref().unwrap_or_default()),
        ],
    )
}

/// One code exchange with an OpenID provider.
pub struct Client<'a> {
    pub http: &'a Http,
    pub keys: &'a KeySet,
    pub endpoints: &'a Endpoints,
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub provider: ProviderId,
}

#[derive(Debug, Deserialize)]
struct UserInfo {
    sub: Option<String>,
    email: Option<String>,
    email_verified: Option<Value>,
    given_name: Option<String>,
    family_name: Option<String>,
    name: Option<String>,
}

impl Client<'_> {
    /// Exchanges the code, verifies the ID token, completes from user info.
    pub async fn identify(
        &self,
        code: &str,
        redirect_uri: &str,
        secrets: &FlowSecrets,
        now: Timestamp,
    ) -> Result<(ExternalIdentity, ProviderTokens), Error> {
        let (Some(nonce), Some(_)) = (secrets.nonce.as_deref(), secrets.code_verifier.as_deref())
        else {
            // Every OpenID flow stores both; a state without them is not one.
            return Err(failed(
                self.provider,
                EXCHANGE_FAILED,
                "flow without nonce or verifier",
            ));
        };
        let response = self.exchange(code, redirect_uri, secrets).await?;
        let Some(id_token) = response.id_token.as_deref() else {
            return Err(failed(self.provider, "ID token missing", "no id_token"));
        };
        let expected = Expected {
            issuers: &self
                .endpoints
                .issuers
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            client_id: self.client_id,
            nonce,
            algorithms: &self.endpoints.algorithms,
            now,
        };
        let mut claims = id_token::verify(
            self.http,
            self.keys,
            &self.endpoints.jwks,
            id_token,
            &expected,
        )
        .await
        .map_err(|e| failed(self.provider, "Invalid ID token", e))?;
        let tokens = ProviderTokens::from_response(&response);
        let incomplete =
            claims.email.is_none() || (claims.given_name.is_none() && claims.name.is_none());
        if let (true, Some(access)) = (incomplete, response.access_token.as_deref()) {
            self.complete(&mut claims, access).await?;
        }
        let first = claims.given_name.as_deref().or(claims.name.as_deref());
        // Google's subjects are Google's; a configured provider's are bound
        // to its issuer, so pointing OAUTH_OIDC_ISSUER at another provider
        // (or tenant) cannot log anyone in through an old link.
        let subject = match self.provider {
            ProviderId::Oidc => format!("{}|{}", self.endpoints.issuers[0], claims.subject),
            _ => claims.subject,
        };
        if subject.len() > MAX_SUBJECT {
            return Err(failed(
                self.provider,
                "Invalid ID token",
                "subject too long",
            ));
        }
        let identity = ExternalIdentity::new(
            subject,
            claims.email,
            claims.email_verified,
            first,
            claims.family_name.as_deref(),
        );
        Ok((identity, tokens))
    }

    async fn exchange(
        &self,
        code: &str,
        redirect_uri: &str,
        secrets: &FlowSecrets,
    ) -> Result<TokenResponse, Error> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
        ];
        if let Some(verifier) = secrets.code_verifier.as_deref() {
            form.push(("code_verifier", verifier));
        }
        let basic = if self.endpoints.basic_auth {
            Some((self.client_id, self.client_secret))
        } else {
            form.push(("client_id", self.client_id));
            form.push(("client_secret", self.client_secret));
            None
        };
        let response: TokenResponse = self
            .http
            .post_form(&self.endpoints.token, &form, basic)
            .await
            .map_err(|e| failed(self.provider, EXCHANGE_FAILED, e))?;
        if let Some(error) = &response.error {
            return Err(failed(self.provider, EXCHANGE_FAILED, error));
        }
        if response.access_token.is_none() && response.id_token.is_none() {
            return Err(failed(
                self.provider,
                EXCHANGE_FAILED,
                "no token in the answer",
            ));
        }
        Ok(response)
    }

    /// Fills a missing email or name from the user-info endpoint, whose
    /// `sub` must be the ID token's.
    async fn complete(&self, claims: &mut IdClaims, access_token: &str) -> Result<(), Error> {
        let Some(url) = self.endpoints.userinfo.as_deref() else {
            return Ok(());
        };
        let info: UserInfo = self
            .http
            .get_json(url, Some(access_token))
            .await
            .map_err(|e| failed(self.provider, USER_INFO_FAILED, e))?
            .value;
        if info.sub.as_deref() != Some(claims.subject.as_str()) {
            return Err(failed(
                self.provider,
                USER_INFO_FAILED,
                "sub differs from the ID token's",
            ));
        }
        if claims.email.is_none() {
            claims.email = info.email;
            claims.email_verified = id_token::is_true(info.email_verified.as_ref());
        }
        if claims.given_name.is_none() && claims.name.is_none() {
            claims.given_name = info.given_name;
            claims.name = info.name;
            if claims.family_name.is_none() {
                claims.family_name = info.family_name;
            }
        }
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
struct DiscoveryDocument {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    userinfo_endpoint: Option<String>,
    jwks_uri: String,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Vec<String>,
    #[serde(default)]
    id_token_signing_alg_values_supported: Vec<String>,
}

#[derive(Default)]
struct DiscoveryCache {
    endpoints: Option<Arc<Endpoints>>,
    valid_until: Option<Instant>,
}

/// The configured OpenID provider's endpoints, read from
/// `{issuer}/.well-known/openid-configuration` and kept for an hour.
#[derive(Default)]
pub struct Discovery {
    cache: Mutex<DiscoveryCache>,
    keys: KeySet,
}

impl std::fmt::Debug for Discovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Discovery(..)")
    }
}

impl Discovery {
    /// The provider's key set.
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// The endpoints, fetched when not cached. A failure is 503 and is
    /// remembered for a few seconds, so a down provider is not hammered.
    pub async fn endpoints(
        &self,
        http: &Http,
        issuer: &str,
        production: bool,
    ) -> Result<Arc<Endpoints>, Error> {
        let mut cache = self.cache.lock().await;
        let now = Instant::now();
        if cache.valid_until.is_some_and(|t| t > now) {
            return cache
                .endpoints
                .clone()
                .ok_or(Error::UpstreamUnavailable(DISCOVERY_FAILED));
        }
        let url = format!("{issuer}/.well-known/openid-configuration");
        let fetched = http
            .get_json::<DiscoveryDocument>(&url, None)
            .await
            .map_err(|e| e.to_string())
            .and_then(|f| discovered(f.value, issuer, production));
        match fetched {
            Ok(endpoints) => {
                let endpoints = Arc::new(endpoints);
                *cache = DiscoveryCache {
                    endpoints: Some(endpoints.clone()),
                    valid_until: Some(now + DISCOVERY_AGE),
                };
                Ok(endpoints)
            }
            Err(cause) => {
                tracing::warn!(%issuer, error = %cause, "OpenID discovery failed");
                *cache = DiscoveryCache {
                    endpoints: None,
                    valid_until: Some(now + DISCOVERY_RETRY),
                };
                Err(Error::UpstreamUnavailable(DISCOVERY_FAILED))
            }
        }
    }
}

const DISCOVERY_FAILED: &str = "The OpenID provider cannot be reached. Please try again later.";

/// Checks a discovery document: its issuer is ours exactly, its endpoints
/// are absolute http(s) URLs (https in production).
fn discovered(doc: DiscoveryDocument, issuer: &str, production: bool) -> Result<Endpoints, String> {
    if doc.issuer.trim_end_matches('/') != issuer {
        return Err(format!("issuer {} is not {issuer}", doc.issuer));
    }
    let url_ok = |u: &str| u.starts_with("https://") || (!production && u.starts_with("http://"));
    let urls = [
        Some(&doc.authorization_endpoint),
        Some(&doc.token_endpoint),
        Some(&doc.jwks_uri),
        doc.userinfo_endpoint.as_ref(),
    ];
    if let Some(bad) = urls.into_iter().flatten().find(|u| !url_ok(u)) {
        return Err(format!("endpoint {bad} is not an allowed URL"));
    }
    let algorithms: Vec<Algorithm> = if doc.id_token_signing_alg_values_supported.is_empty() {
        vec![Algorithm::RS256]
    } else {
        ASYMMETRIC
            .iter()
            .copied()
            .filter(|a| {
                doc.id_token_signing_alg_values_supported
                    .iter()
                    .any(|s| s == &format!("{a:?}"))
            })
            .collect()
    };
    if algorithms.is_empty() {
        return Err("no supported ID-token signature algorithm".to_owned());
    }
    let methods = &doc.token_endpoint_auth_methods_supported;
    let basic_auth = !methods.iter().any(|m| m == "client_secret_post");
    Ok(Endpoints {
        authorize: doc.authorization_endpoint,
        token: doc.token_endpoint,
        userinfo: doc.userinfo_endpoint,
        jwks: doc.jwks_uri,
        issuers: vec![doc.issuer],
        algorithms,
        basic_auth,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(issuer: &str) -> DiscoveryDocument {
        DiscoveryDocument {
            issuer: issuer.to_owned(),
            authorization_endpoint: "https://idp.example/auth".to_owned(),
            token_endpoint: "https://idp.example/token".to_owned(),
            userinfo_endpoint: None,
            jwks_uri: "https://idp.example/jwks".to_owned(),
            token_endpoint_auth_methods_supported: vec![],
            id_token_signing_alg_values_supported: vec!["ES256".to_owned(), "HS256".to_owned()],
        }
    }

    #[test]
    fn discovery_checks_issuer_urls_and_algorithms() {
        let ok = discovered(doc("https://idp.example"), "https://idp.example", true).unwrap();
        assert_eq!(
            ok.algorithms,
            vec![Algorithm::ES256],
            "HS256 is never accepted"
        );
        assert!(ok.basic_auth, "Basic is the default client authentication");
        assert!(discovered(doc("https://evil.example"), "https://idp.example", true).is_err());
        let mut plain = doc("https://idp.example");
        plain.token_endpoint = "http://idp.example/token".to_owned();
        assert!(discovered(plain, "https://idp.example", true).is_err());
        let mut symmetric = doc("https://idp.example");
        symmetric.id_token_signing_alg_values_supported = vec!["HS256".to_owned()];
        assert!(discovered(symmetric, "https://idp.example", false).is_err());
    }
}
