//! Settings of social login (`OAUTH_ENABLED`, `OAUTH_GOOGLE_*`,
//! `OAUTH_GITHUB_*`, `OAUTH_OIDC_*`): which providers are configured, and
//! where their endpoints are.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use secrecy::SecretString;

use super::ConfigError;
use super::reader::{Reader, invalid};

/// One provider's credentials.
#[derive(Debug, Clone)]
pub struct ProviderCredentials {
    /// `…_CLIENT_ID`.
    pub client_id: String,
    /// `…_CLIENT_SECRET`.
    pub client_secret: SecretString,
}

/// Google (an OpenID provider).
#[derive(Debug, Clone)]
pub struct GoogleConfig {
    /// Credentials; `None` when not configured.
    pub credentials: Option<ProviderCredentials>,
    /// `OAUTH_GOOGLE_AUTHORIZE_URL`.
    pub authorize_url: String,
    /// `OAUTH_GOOGLE_TOKEN_URL`.
    pub token_url: String,
    /// `OAUTH_GOOGLE_USERINFO_URL`.
    pub userinfo_url: String,
    /// `OAUTH_GOOGLE_JWKS_URL`.
    pub jwks_url: String,
    /// `OAUTH_GOOGLE_ISSUER`: the `iss` of its ID tokens (also accepted
    /// without its scheme, as Google sends both).
    pub issuer: String,
}

/// GitHub (OAuth 2.0, no ID token).
#[derive(Debug, Clone)]
pub struct GithubConfig {
    /// Credentials; `None` when not configured.
    pub credentials: Option<ProviderCredentials>,
    /// `OAUTH_GITHUB_AUTHORIZE_URL`.
    pub authorize_url: String,
    /// `OAUTH_GITHUB_TOKEN_URL`.
    pub token_url: String,
    /// `OAUTH_GITHUB_API_URL`: base of `/user` and `/user/emails`.
    pub api_url: String,
}

/// Any OpenID provider found by discovery (Keycloak, Entra ID, Okta…).
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// Credentials; `None` when not configured.
    pub credentials: Option<ProviderCredentials>,
    /// `OAUTH_OIDC_ISSUER`: discovery reads `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    /// `OAUTH_OIDC_NAME`: shown to users.
    pub name: String,
}

/// Social login.
#[derive(Debug, Clone)]
pub struct SocialConfig {
    /// `OAUTH_ENABLED`.
    pub enabled: bool,
    /// `OAUTH_AUTO_LINK_BY_EMAIL`: a verified email links to the user holding it.
    pub auto_link_by_email: bool,
    /// `OAUTH_STATE_EXPIRE_MINUTES`.
    pub state_minutes: i64,
    /// `OAUTH_TOKEN_ENCRYPTION_KEY`, decoded: provider tokens are stored
    /// sealed under it; without it they are not stored.
    pub token_key: Option<[u8; 32]>,
    /// Google.
    pub google: GoogleConfig,
    /// GitHub.
    pub github: GithubConfig,
    /// The generic OpenID provider.
    pub oidc: OidcConfig,
}

fn credentials(r: &Reader<'_>, prefix: &str) -> Option<ProviderCredentials> {
    let id = r.raw(&format!("{prefix}_CLIENT_ID"))?;
    let secret = r.raw(&format!("{prefix}_CLIENT_SECRET"))?;
    Some(ProviderCredentials {
        client_id: id.trim().to_owned(),
        client_secret: SecretString::from(secret),
    })
}

fn url(
    r: &Reader<'_>,
    name: &'static str,
    default: &str,
    production: bool,
) -> Result<String, ConfigError> {
    let value = r
        .string(name, default)
        .trim()
        .trim_end_matches('/')
        .to_owned();
    let https = value.starts_with("https://");
    if !(https || value.starts_with("http://")) {
        return Err(invalid(name, "must be an absolute http(s) URL"));
    }
    if production && !https {
        return Err(invalid(name, "must use https in production"));
    }
    Ok(value)
}

fn token_key(r: &Reader<'_>) -> Result<Option<[u8; 32]>, ConfigError> {
    let Some(raw) = r.raw("OAUTH_TOKEN_ENCRYPTION_KEY") else {
        return Ok(None);
    };
    let raw = raw.trim();
    let decoded = URL_SAFE_NO_PAD
        .decode(raw.trim_end_matches('='))
        .or_else(|_| STANDARD.decode(raw))
        .or_else(|_| URL_SAFE.decode(raw))
        .map_err(|_| invalid("OAUTH_TOKEN_ENCRYPTION_KEY", "must be base64 or base64url"))?;
    decoded.try_into().map(Some).map_err(|_| {
        invalid(
            "OAUTH_TOKEN_ENCRYPTION_KEY",
            "must decode to exactly 32 bytes",
        )
    })
}

impl SocialConfig {
    /// Reads and checks the settings; production requires https endpoints.
    pub(super) fn read(r: &Reader<'_>, production: bool) -> Result<Self, ConfigError> {
        Ok(Self {
            enabled: r.bool("OAUTH_ENABLED", false)?,
            auto_link_by_email: r.bool("OAUTH_AUTO_LINK_BY_EMAIL", true)?,
            state_minutes: r.int("OAUTH_STATE_EXPIRE_MINUTES", 10, 1, 60)?,
            token_key: token_key(r)?,
            google: GoogleConfig {
                credentials: credentials(r, "OAUTH_GOOGLE"),
                authorize_url: url(
                    r,
                    "OAUTH_GOOGLE_AUTHORIZE_URL",
                    "https://accounts.google.com/o/oauth2/v2/auth",
                    production,
                )?,
                token_url: url(
                    r,
                    "OAUTH_GOOGLE_TOKEN_URL",
                    "https://oauth2.googleapis.com/token",
                    production,
                )?,
                userinfo_url: url(
                    r,
                    "OAUTH_GOOGLE_USERINFO_URL",
                    "https://openidconnect.googleapis.com/v1/userinfo",
                    production,
                )?,
                jwks_url: url(
                    r,
                    "OAUTH_GOOGLE_JWKS_URL",
                    "https://www.googleapis.com/oauth2/v3/certs",
                    production,
                )?,
                issuer: url(
                    r,
                    "OAUTH_GOOGLE_ISSUER",
                    "https://accounts.google.com",
                    production,
                )?,
            },
            github: GithubConfig {
                credentials: credentials(r, "OAUTH_GITHUB"),
                authorize_url: url(
                    r,
                    "OAUTH_GITHUB_AUTHORIZE_URL",
                    "https://github.com/login/oauth/authorize",
                    production,
                )?,
                token_url: url(
                    r,
                    "OAUTH_GITHUB_TOKEN_URL",
                    "https://github.com/login/oauth/access_token",
                    production,
                )?,
                api_url: url(
                    r,
                    "OAUTH_GITHUB_API_URL",
                    "https://api.github.com",
                    production,
                )?,
            },
            oidc: OidcConfig {
                credentials: credentials(r, "OAUTH_OIDC")
                    .filter(|_| r.raw("OAUTH_OIDC_ISSUER").is_some()),
                issuer: url(r, "OAUTH_OIDC_ISSUER", "https://oidc.invalid", production)?,
                name: r.string("OAUTH_OIDC_NAME", "Single sign-on"),
            },
        })
    }
}
