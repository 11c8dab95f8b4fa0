//! Settings of the OAuth 2.1 authorization server (`OAUTH_PROVIDER_*`,
//! `OAUTH_ISSUER`).

use std::path::PathBuf;

use super::ConfigError;
use super::reader::{Reader, invalid};

/// Where the browser goes to log in and consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderUi {
    /// identityd's own login and consent pages.
    Builtin,
    /// Redirects to `FRONTEND_URL` (`/login`, `/auth/consent`).
    Frontend,
}

/// The authorization server's settings.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// `OAUTH_PROVIDER_ENABLED`: the whole area is served (else 404).
    pub enabled: bool,
    /// `OAUTH_ISSUER` without a trailing `/`: `iss` of every token and the
    /// base of every endpoint in the metadata.
    pub issuer: String,
    /// `OAUTH_PROVIDER_SIGNING_KEY_FILE`: a PEM (PKCS#8) Ed25519 private key;
    /// unset, the service generates one and stores it encrypted.
    pub signing_key_file: Option<PathBuf>,
    /// `OAUTH_PROVIDER_UI`.
    pub ui: ProviderUi,
    /// `OAUTH_PROVIDER_SESSION_MINUTES`: lifetime of the login cookie and
    /// its session.
    pub session_minutes: i64,
}

impl ProviderConfig {
    /// Reads and checks the settings; production requires an https issuer.
    pub(super) fn read(r: &Reader<'_>, production: bool) -> Result<Self, ConfigError> {
        let issuer = r
            .string("OAUTH_ISSUER", "http://localhost:8000")
            .trim()
            .trim_end_matches('/')
            .to_owned();
        let scheme_ok = issuer.starts_with("https://") || issuer.starts_with("http://");
        if !scheme_ok || issuer.contains(['?', '#', ' ']) || issuer.ends_with("//") {
            return Err(invalid(
                "OAUTH_ISSUER",
                "must be an absolute http(s) URL without query or fragment",
            ));
        }
        // The metadata and key set are served at the root of the host
        // (RFC 8414's path insertion is not supported), so the issuer is
        // an origin.
        if issuer
            .split_once("://")
            .is_some_and(|(_, rest)| rest.contains('/') || rest.is_empty())
        {
            return Err(invalid(
                "OAUTH_ISSUER",
                "must be an origin (scheme, host and port) without a path",
            ));
        }
        let enabled = r.bool("OAUTH_PROVIDER_ENABLED", false)?;
        if production && enabled && !issuer.starts_with("https://") {
            return Err(invalid("OAUTH_ISSUER", "must use https in production"));
        }
        let signing_key_file = r.raw("OAUTH_PROVIDER_SIGNING_KEY_FILE").map(PathBuf::from);
        if let Some(path) = &signing_key_file
            && !path.is_file()
        {
            return Err(invalid(
                "OAUTH_PROVIDER_SIGNING_KEY_FILE",
                format!("{} is not a readable file", path.display()),
            ));
        }
        let ui = match r.string("OAUTH_PROVIDER_UI", "builtin").as_str() {
            "builtin" => ProviderUi::Builtin,
            "frontend" => ProviderUi::Frontend,
            _ => return Err(invalid("OAUTH_PROVIDER_UI", "must be builtin or frontend")),
        };
        Ok(Self {
            enabled,
            issuer,
            signing_key_file,
            ui,
            session_minutes: r.int("OAUTH_PROVIDER_SESSION_MINUTES", 60, 1, 1440)?,
        })
    }

    /// Whether cookies of the browser endpoints get `Secure`.
    pub fn secure_cookies(&self) -> bool {
        self.issuer.starts_with("https://")
    }
}
