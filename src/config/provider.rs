//! Settings of the OAuth 2.1 authorization server (`OAUTH_PROVIDER_*`,
//! `OAUTH_ISSUER`).

use std::path::PathBuf;

use secrecy::SecretString;

use super::ConfigError;
use super::reader::{Reader, invalid};
use crate::auth::provider_keys::Algorithm;

/// Where the browser goes to log in and consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderUi {
    /// identityd's own login and consent pages.
    Builtin,
    /// Redirects to `FRONTEND_URL` (`/login`, `/auth/consent`).
    Frontend,
}

/// Who may register clients at the RFC 7591 endpoint.
#[derive(Debug, Clone)]
pub enum Registration {
    /// The endpoint answers 404 (`off`).
    Off,
    /// Anyone (`open`): public or confidential clients of the code flow
    /// (not client_credentials), with no MCP server; every grant still
    /// needs a user's consent.
    Open,
    /// Requests carrying `OAUTH_REGISTRATION_INITIAL_TOKEN` as a bearer
    /// token (`token`, RFC 7591 §3 initial access token).
    Token(SecretString),
}

impl Registration {
    /// Whether the registration endpoint is served.
    pub fn enabled(&self) -> bool {
        !matches!(self, Self::Off)
    }
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
    /// `OAUTH_SIGNING_ALG`: `EdDSA` (default), `ES256` or `RS256`.
    pub signing_algorithm: Algorithm,
    /// `OAUTH_KEY_ROTATION_DAYS`: a new key signs after this many days
    /// (0: only `identityd keys rotate`).
    pub key_rotation_days: i64,
    /// `OAUTH_RESOURCES`: resource servers besides identityd's own API that
    /// clients may ask tokens for (RFC 8707), absolute URIs.
    pub resources: Vec<String>,
    /// `OAUTH_REGISTRATION` (`off`, `open`, `token`) and
    /// `OAUTH_REGISTRATION_INITIAL_TOKEN`.
    pub registration: Registration,
    /// `OAUTH_CLIENT_METADATA_DOCUMENTS`: a `client_id` that is an https
    /// URL is resolved by fetching its metadata document.
    pub metadata_documents: bool,
    /// `OAUTH_CIMD_ALLOW_PRIVATE_ADDRESSES`: documents may be fetched from
    /// loopback, private and link-local addresses (tests only; refused in
    /// production).
    pub cimd_allow_private: bool,
    /// `OAUTH_CIMD_CA_FILE`: a PEM certificate trusted for document fetches
    /// besides the public roots (a private PKI, or a test server).
    pub cimd_ca_file: Option<PathBuf>,
    /// `OAUTH_CIMD_TIMEOUT_SECONDS`: the whole budget of one document fetch.
    pub cimd_timeout: std::time::Duration,
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
        let signing_algorithm = Algorithm::parse(&r.string("OAUTH_SIGNING_ALG", "EdDSA"))
            .ok_or_else(|| invalid("OAUTH_SIGNING_ALG", "must be EdDSA, ES256 or RS256"))?;
        let resources = r.list("OAUTH_RESOURCES", &[])?;
        if let Some(bad) = resources.iter().find(|uri| !is_resource_uri(uri)) {
            return Err(invalid(
                "OAUTH_RESOURCES",
                format!("{bad:?} is not an absolute http(s) URI without a fragment"),
            ));
        }
        let registration = match r.string("OAUTH_REGISTRATION", "off").as_str() {
            "off" => Registration::Off,
            "open" => Registration::Open,
            "token" => {
                let token = r
                    .raw("OAUTH_REGISTRATION_INITIAL_TOKEN")
                    .filter(|t| t.len() >= 32)
                    .ok_or_else(|| {
                        invalid(
                            "OAUTH_REGISTRATION_INITIAL_TOKEN",
                            "must be at least 32 characters when OAUTH_REGISTRATION=token",
                        )
                    })?;
                Registration::Token(token.into())
            }
            _ => {
                return Err(invalid("OAUTH_REGISTRATION", "must be off, open or token"));
            }
        };
        let cimd_allow_private = r.bool("OAUTH_CIMD_ALLOW_PRIVATE_ADDRESSES", false)?;
        if production && cimd_allow_private {
            return Err(invalid(
                "OAUTH_CIMD_ALLOW_PRIVATE_ADDRESSES",
                "must be false in production",
            ));
        }
        let cimd_ca_file = r.raw("OAUTH_CIMD_CA_FILE").map(PathBuf::from);
        if let Some(path) = &cimd_ca_file
            && !path.is_file()
        {
            return Err(invalid(
                "OAUTH_CIMD_CA_FILE",
                format!("{} is not a readable file", path.display()),
            ));
        }
        Ok(Self {
            enabled,
            issuer,
            signing_key_file,
            ui,
            session_minutes: r.int("OAUTH_PROVIDER_SESSION_MINUTES", 60, 1, 1440)?,
            signing_algorithm,
            key_rotation_days: r.int("OAUTH_KEY_ROTATION_DAYS", 30, 0, 365)?,
            resources,
            registration,
            metadata_documents: r.bool("OAUTH_CLIENT_METADATA_DOCUMENTS", true)?,
            cimd_allow_private,
            cimd_ca_file,
            cimd_timeout: r.seconds("OAUTH_CIMD_TIMEOUT_SECONDS", 5.0, 0.1, 30.0)?,
        })
    }

    /// The resource identifier of identityd's own API (RFC 8707, RFC 9728):
    /// the issuer and the API prefix.
    pub fn api_resource(&self, api_prefix: &str) -> String {
        format!("{}{api_prefix}", self.issuer)
    }

    /// Whether cookies of the browser endpoints get `Secure`.
    pub fn secure_cookies(&self) -> bool {
        self.issuer.starts_with("https://")
    }
}

/// An absolute http(s) URI without a fragment (RFC 8707 §2).
pub fn is_resource_uri(uri: &str) -> bool {
    url::Url::parse(uri).is_ok_and(|u| {
        matches!(u.scheme(), "https" | "http") && u.fragment().is_none() && u.host().is_some()
    }) && uri.len() <= 2048
}
