//! Clients of the social-login providers (docs/social.md): Google and any
//! OpenID provider (authorization code with PKCE and nonce, verified ID
//! token) and GitHub (OAuth 2.0 and its REST API). This module speaks to
//! the providers; `service::social` decides what their answers mean for
//! our accounts.

mod github;
pub mod http;
pub mod id_token;
mod openid;

use secrecy::ExposeSecret as _;

use self::http::Http;
use self::id_token::KeySet;
use crate::config::{ProviderCredentials, SocialConfig};
use crate::domain::types::Timestamp;
use crate::error::Error;

/// "Failed to exchange authorization code".
pub(crate) const EXCHANGE_FAILED: &str = "Failed to exchange authorization code";
/// "Failed to fetch user info".
pub(crate) const USER_INFO_FAILED: &str = "Failed to fetch user info";
/// Longest provider token stored; longer ones are not kept.
const MAX_STORED_TOKEN: usize = 8 * 1024;
/// Longest name kept from a provider.
const MAX_NAME: usize = 100;

/// A social-login provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderId {
    /// Google.
    Google,
    /// GitHub.
    Github,
    /// The configured OpenID provider.
    Oidc,
}

impl ProviderId {
    /// Every provider, in listing order.
    pub const ALL: [ProviderId; 3] = [Self::Google, Self::Github, Self::Oidc];

    /// The provider a path names (exact, lower case).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// Its name in paths and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Google => "google",
            Self::Github => "github",
            Self::Oidc => "oidc",
        }
    }

    fn icon(self) -> &'static str {
        match self {
            Self::Google => "google",
            Self::Github => "github",
            Self::Oidc => "openid",
        }
    }
}

/// A provider as the providers list shows it.
#[derive(Debug, Clone)]
pub struct ProviderInfo {
    /// Path name.
    pub id: ProviderId,
    /// Display name.
    pub name: String,
    /// Icon name.
    pub icon: &'static str,
}

/// The secrets a login state keeps for the callback.
#[derive(Debug, Clone, Default)]
pub struct FlowSecrets {
    /// PKCE verifier (OpenID providers).
    pub code_verifier: Option<String>,
    /// The nonce the ID token must carry (OpenID providers).
    pub nonce: Option<String>,
}

/// Who the provider says the user is.
#[derive(Debug, Clone)]
pub struct ExternalIdentity {
    /// The provider's stable id of the user.
    pub subject: String,
    /// The email as the provider reported it (not normalised).
    pub email: Option<String>,
    /// Whether the provider verified that email.
    pub email_verified: bool,
    /// 1..=100 characters; `User` when the provider gave none.
    pub first_name: String,
    /// At most 100 characters.
    pub last_name: Option<String>,
}

impl ExternalIdentity {
    fn new(
        subject: String,
        email: Option<String>,
        email_verified: bool,
        first: Option<&str>,
        last: Option<&str>,
    ) -> Self {
        let first = first.map(|f| truncate(f.trim())).unwrap_or_default();
        Self {
            subject,
            email: email.filter(|e| !e.trim().is_empty()),
            email_verified,
            first_name: if first.is_empty() {
                "User".to_owned()
            } else {
                first
            },
            last_name: last.map(|l| truncate(l.trim())).filter(|l| !l.is_empty()),
        }
    }
}

fn truncate(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME)
        .collect()
}

/// The provider's own tokens for the user.
#[derive(Debug, Clone, Default)]
pub struct ProviderTokens {
    /// Access token, when short enough to keep.
    pub access_token: Option<String>,
    /// Refresh token, when sent and short enough to keep.
    pub refresh_token: Option<String>,
    /// Access-token lifetime in seconds, when sent.
    pub expires_in: Option<i64>,
}

impl ProviderTokens {
    fn from_response(response: &TokenResponse) -> Self {
        let keep = |t: &Option<String>| {
            t.as_ref()
                .filter(|t| !t.is_empty() && t.len() <= MAX_STORED_TOKEN)
                .cloned()
        };
        Self {
            access_token: keep(&response.access_token),
            refresh_token: keep(&response.refresh_token),
            expires_in: response.expires_in.as_ref().and_then(|v| match v {
                serde_json::Value::Number(n) => n.as_i64(),
                serde_json::Value::String(s) => s.parse().ok(),
                _ => None,
            }),
        }
    }
}

/// A token endpoint's answer (RFC 6749 section 5.1, plus `id_token`).
#[derive(Debug, serde::Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    refresh_token: Option<String>,
    expires_in: Option<serde_json::Value>,
    id_token: Option<String>,
    error: Option<String>,
}

/// Logs an upstream failure of `provider` and answers AUTH_008 with `message`.
fn failed(provider: ProviderId, message: &str, cause: impl std::fmt::Display) -> Error {
    tracing::warn!(provider = provider.as_str(), error = %cause, "{message}");
    Error::ExternalAuthFailed(message.to_owned())
}

/// Every provider's settings, the outbound client and the cached key sets
/// and discovery document.
#[derive(Debug)]
pub struct SocialProviders {
    config: SocialConfig,
    production: bool,
    http: Http,
    google_keys: KeySet,
    oidc: openid::Discovery,
    /// When expired states were last purged (Unix ms).
    last_purge_ms: std::sync::atomic::AtomicI64,
}

impl SocialProviders {
    /// Clients for `config`; nothing is fetched yet.
    pub fn new(config: &SocialConfig, production: bool) -> anyhow::Result<Self> {
        Ok(Self {
            config: config.clone(),
            production,
            http: Http::new()?,
            google_keys: KeySet::default(),
            oidc: openid::Discovery::default(),
            last_purge_ms: std::sync::atomic::AtomicI64::new(0),
        })
    }

    /// `OAUTH_ENABLED`.
    pub fn enabled(&self) -> bool {
        self.config.enabled
    }

    /// `OAUTH_AUTO_LINK_BY_EMAIL`.
    pub fn auto_link_by_email(&self) -> bool {
        self.config.auto_link_by_email
    }

    /// `OAUTH_STATE_EXPIRE_MINUTES`.
    pub fn state_minutes(&self) -> i64 {
        self.config.state_minutes
    }

    /// Whether this process should purge expired states now: at most once a
    /// minute, so starting flows costs one write, not two.
    pub fn purge_due(&self, now: Timestamp) -> bool {
        use std::sync::atomic::Ordering;
        let now_ms = now.as_datetime().timestamp_millis();
        let last = self.last_purge_ms.load(Ordering::Relaxed);
        now_ms - last >= 60_000
            && self
                .last_purge_ms
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// `OAUTH_TOKEN_ENCRYPTION_KEY`.
    pub fn token_key(&self) -> Option<&[u8; 32]> {
        self.config.token_key.as_ref()
    }

    fn credentials(&self, id: ProviderId) -> Option<&ProviderCredentials> {
        match id {
            ProviderId::Google => self.config.google.credentials.as_ref(),
            ProviderId::Github => self.config.github.credentials.as_ref(),
            ProviderId::Oidc => self.config.oidc.credentials.as_ref(),
        }
    }

    /// Whether `id` has its client id and secret.
    pub fn is_configured(&self, id: ProviderId) -> bool {
        self.credentials(id).is_some()
    }

    /// The name users see (`Google`, `GitHub`, `OAUTH_OIDC_NAME`).
    pub fn display_name(&self, id: ProviderId) -> &str {
        match id {
            ProviderId::Google => "Google",
            ProviderId::Github => "GitHub",
            ProviderId::Oidc => &self.config.oidc.name,
        }
    }

    /// The configured providers, in listing order.
    pub fn configured(&self) -> Vec<ProviderInfo> {
        ProviderId::ALL
            .into_iter()
            .filter(|p| self.is_configured(*p))
            .map(|id| ProviderInfo {
                id,
                name: self.display_name(id).to_owned(),
                icon: id.icon(),
            })
            .collect()
    }

    /// Whether the provider is an OpenID provider (PKCE, nonce, ID token).
    pub fn uses_openid(id: ProviderId) -> bool {
        !matches!(id, ProviderId::Github)
    }

    fn configured_credentials(&self, id: ProviderId) -> Result<&ProviderCredentials, Error> {
        self.credentials(id)
            .ok_or(Error::ProviderNotConfigured(id.as_str()))
    }

    /// The URL that sends the browser to the provider.
    pub async fn authorization_url(
        &self,
        id: ProviderId,
        redirect_uri: &str,
        state: &str,
        secrets: &FlowSecrets,
    ) -> Result<String, Error> {
        let credentials = self.configured_credentials(id)?;
        let client_id = credentials.client_id.as_str();
        match id {
            ProviderId::Github => Ok(crate::domain::oauth::with_query(
                &self.config.github.authorize_url,
                &[
                    ("client_id", client_id),
                    ("redirect_uri", redirect_uri),
                    ("response_type", "code"),
                    ("scope", github::SCOPES),
                    ("state", state),
                ],
            )),
            ProviderId::Google | ProviderId::Oidc => {
                let endpoints = self.openid_endpoints(id).await?;
                Ok(openid::authorization_url(
                    &endpoints,
                    client_id,
                    redirect_uri,
                    state,
                    secrets,
                ))
            }
        }
    }

    /// Exchanges `code` and establishes who the user is (steps 6 and 7 of
    /// the callback). Every failure is AUTH_008 with the step's reason.
    pub async fn identify(
        &self,
        id: ProviderId,
        code: &str,
        redirect_uri: &str,
        secrets: &FlowSecrets,
        now: Timestamp,
    ) -> Result<(ExternalIdentity, ProviderTokens), Error> {
        let credentials = self.configured_credentials(id)?;
        match id {
            ProviderId::Github => {
                github::identify(
                    &self.http,
                    &self.config.github,
                    credentials,
                    code,
                    redirect_uri,
                )
                .await
            }
            ProviderId::Google | ProviderId::Oidc => {
                // At the callback every provider failure is AUTH_008 (the
                // state is spent): discovery included.
                let endpoints = self
                    .openid_endpoints(id)
                    .await
                    .map_err(|e| failed(id, EXCHANGE_FAILED, e))?;
                let keys = match id {
                    ProviderId::Google => &self.google_keys,
                    _ => self.oidc.keys(),
                };
                let client = openid::Client {
                    http: &self.http,
                    keys,
                    endpoints: &endpoints,
                    client_id: &credentials.client_id,
                    client_secret: credentials.client_secret.expose_secret(),
                    provider: id,
                };
                client.identify(code, redirect_uri, secrets, now).await
            }
        }
    }

    async fn openid_endpoints(
        &self,
        id: ProviderId,
    ) -> Result<std::sync::Arc<openid::Endpoints>, Error> {
        if id == ProviderId::Google {
            return Ok(std::sync::Arc::new(openid::Endpoints::google(
                &self.config.google,
            )));
        }
        self.oidc
            .endpoints(&self.http, &self.config.oidc.issuer, self.production)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_truncated_and_defaulted() {
        let long = "é".repeat(150);
        let id = ExternalIdentity::new("1".into(), Some(" ".into()), true, Some(&long), Some("  "));
        assert_eq!(id.first_name.chars().count(), 100);
        assert_eq!(id.last_name, None);
        assert_eq!(id.email, None);
        let id = ExternalIdentity::new("1".into(), None, false, Some("   "), Some(" Doe "));
        assert_eq!(id.first_name, "User");
        assert_eq!(id.last_name.as_deref(), Some("Doe"));
    }

    #[test]
    fn provider_names_parse_exactly() {
        assert_eq!(ProviderId::parse("github"), Some(ProviderId::Github));
        assert_eq!(ProviderId::parse("GitHub"), None);
        assert_eq!(ProviderId::parse("facebook"), None);
    }

    #[test]
    fn token_lifetime_may_be_a_string() {
        let response: TokenResponse =
            serde_json::from_str(r#"{"access_token":"a","expires_in":"3599"}"#).unwrap();
        let tokens = ProviderTokens::from_response(&response);
        assert_eq!(tokens.expires_in, Some(3599));
        assert_eq!(tokens.access_token.as_deref(), Some("a"));
        assert_eq!(tokens.refresh_token, None);
    }
}
