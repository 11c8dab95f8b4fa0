//! Configuration: one typed struct read once from the environment (names and
//! defaults in docs/configuration.md), validated before anything is served.
//! Tests build it in code with [`Config::from_lookup`] and never read `.env`.

mod provider;
mod reader;
mod social;

pub use self::provider::{ProviderConfig, ProviderUi, Registration, is_resource_uri};
pub use self::social::{GithubConfig, GoogleConfig, OidcConfig, ProviderCredentials, SocialConfig};

pub use self::reader::parse_bool;

use std::net::SocketAddr;
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};

use self::reader::{Reader, first_of, invalid};
use crate::db::DatabaseUrl;
use crate::domain::client_ip::TrustedProxies;

/// The built-in development secret; refused when `ENVIRONMENT=production`.
pub const DEV_SECRET_KEY: &str = "dev_only_insecure_key_change_in_production_32chars_min";
const DEFAULT_SUPERUSER_EMAIL: &str = "admin@example.com";
const DEFAULT_SUPERUSER_PASSWORD: &str = "AdminPassword123!";
const DEMO_SUPERUSER_PASSWORD: &str = "AdminPass1234!";
const WEAK_BOOTSTRAP_PASSWORDS: [&str; 4] = [
    "AdminPassword123!",
    "AdminPass1234!",
    "Admin123!",
    "Demo123!",
];

/// HMAC algorithm of first-party JWTs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtAlgorithm {
    /// HMAC-SHA256.
    Hs256,
    /// HMAC-SHA384.
    Hs384,
    /// HMAC-SHA512.
    Hs512,
}

/// Where emails go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailBackend {
    /// Logged, not delivered.
    Console,
    /// Delivered over SMTP.
    Smtp,
}

/// SMTP settings for `EMAIL_BACKEND=smtp`.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// Server host.
    pub host: Option<String>,
    /// Server port.
    pub port: u16,
    /// Login name.
    pub username: Option<String>,
    /// Login password.
    pub password: Option<SecretString>,
    /// Upgrade with STARTTLS (true) or connect in plain text (false).
    pub starttls: bool,
}

/// What the listener lets one connection do (see `server`).
#[derive(Debug, Clone)]
pub struct ServerLimits {
    /// `HTTP_HEADER_READ_TIMEOUT` (seconds): from the first byte of a request
    /// head to its end.
    pub header_read_timeout: Duration,
    /// `HTTP_BODY_READ_TIMEOUT` (seconds): for the whole request body.
    pub body_read_timeout: Duration,
    /// `HTTP_WRITE_TIMEOUT` (seconds): how long an answer may wait for the
    /// client to read it.
    pub write_timeout: Duration,
    /// `HTTP_IDLE_TIMEOUT` (seconds): a connection without a request in flight.
    pub idle_timeout: Duration,
    /// `MAX_CONNECTIONS`: open connections in all; more wait to be accepted.
    pub max_connections: usize,
    /// `MAX_CONNECTIONS_PER_IP`: open connections from one client address
    /// (IPv6: one /64); trusted proxies are exempt; 0 turns the cap off.
    pub max_connections_per_ip: usize,
    /// `HTTP2_MAX_CONCURRENT_STREAMS`: requests in flight on one HTTP/2 connection.
    pub http2_max_streams: u32,
    /// `SHUTDOWN_GRACE_SECONDS`: how long in-flight requests get after a
    /// shutdown signal.
    pub shutdown_grace: Duration,
}

/// Every setting of the service.
#[derive(Debug, Clone)]
pub struct Config {
    /// Service name (`PROJECT_NAME`).
    pub project_name: String,
    /// Reported version (`VERSION`).
    pub version: String,
    /// API prefix (`API_V1_STR`), e.g. `/api/v1`.
    pub api_prefix: String,
    /// `ENVIRONMENT`; `production` turns on HSTS and strict start-up checks.
    pub environment: String,
    /// Listen address (`BIND_ADDRESS`).
    pub bind_address: SocketAddr,
    /// Log filter (`LOG_LEVEL`).
    pub log_level: String,
    /// `LOG_FORMAT`: `text` (default) or `json` (one JSON object per line).
    pub log_json: bool,
    /// `DEMO_MODE`.
    pub demo_mode: bool,
    /// `API_DOCS_ENABLED`: serve the OpenAPI document and the `/docs` page.
    pub api_docs_enabled: bool,
    /// The database (`DATABASE_URL` or `POSTGRES_*`).
    pub database_url: DatabaseUrl,
    /// Apply pending migrations at start-up (`MIGRATE_ON_START`).
    pub migrate_on_start: bool,
    /// Connections kept (`DB_POOL_SIZE`).
    pub db_pool_size: usize,
    /// Extra connections allowed (`DB_MAX_OVERFLOW`).
    pub db_max_overflow: usize,
    /// Wait for a connection before 503 (`DB_POOL_TIMEOUT`, seconds).
    pub db_pool_timeout: Duration,
    /// Connections older than this are replaced (`DB_POOL_RECYCLE`, seconds).
    pub db_pool_recycle: Duration,
    /// HMAC key of first-party tokens and root of derived keys (`SECRET_KEY`).
    pub secret_key: SecretString,
    /// `ALGORITHM`.
    pub algorithm: JwtAlgorithm,
    /// `ACCESS_TOKEN_EXPIRE_MINUTES`.
    pub access_token_expire_minutes: i64,
    /// `REFRESH_TOKEN_EXPIRE_DAYS`: sliding session lifetime.
    pub refresh_token_expire_days: i64,
    /// `SESSION_ABSOLUTE_LIFETIME_DAYS`: maximum age of a session.
    pub session_absolute_lifetime_days: i64,
    /// `BCRYPT_COST` (4..=31).
    pub bcrypt_cost: u32,
    /// `PASSWORD_HASH_QUEUE`: most password hashes waiting for a core;
    /// more are refused with 429 / `RESOURCE_EXHAUSTED`.
    pub password_hash_queue: usize,
    /// `PASSWORD_RESET_EXPIRE_MINUTES`.
    pub password_reset_expire_minutes: i64,
    /// `FRONTEND_URL`: base of reset links.
    pub frontend_url: String,
    /// `BACKEND_CORS_ORIGINS`: exact origins allowed by CORS.
    pub cors_origins: Vec<String>,
    /// `TRUSTED_PROXIES`: peers whose forwarding headers are believed.
    pub trusted_proxies: TrustedProxies,
    /// `MAX_REQUEST_BODY_BYTES`: the largest body any route accepts (routes
    /// declare smaller limits in the proto).
    pub max_request_body_bytes: usize,
    /// Connection timeouts and caps.
    pub server: ServerLimits,
    /// The OAuth 2.1 authorization server.
    pub provider: ProviderConfig,
    /// Social login.
    pub social: SocialConfig,
    /// `METRICS_TOKEN`: when set, `/metrics` needs it as a bearer token.
    pub metrics_token: Option<SecretString>,
    /// `CLEANUP_ENABLED`.
    pub cleanup_enabled: bool,
    /// `CLEANUP_TIME_UTC`, minutes after midnight UTC.
    pub cleanup_minute_of_day: u32,
    /// `SESSION_RETENTION_DAYS`: expired sessions older than this are purged.
    pub session_retention_days: i64,
    /// `AUTH_CACHE_TTL_MS`: how long a bearer lookup may be reused (zero:
    /// never). Bounds how long a revocation on another replica takes.
    pub auth_cache_ttl: Duration,
    /// `RATELIMIT_ENABLED`.
    pub ratelimit_enabled: bool,
    /// `RATELIMIT_MULTIPLIER` (>= 1).
    pub ratelimit_multiplier: u32,
    /// `RATELIMIT_REDIS_FALLBACK`: limits while Redis is unreachable.
    pub ratelimit_redis_fallback: crate::ratelimit::RedisFallback,
    /// `REDIS_URL`: shared rate-limit counters; checked by `/health`.
    pub redis: Option<crate::redis::RedisTarget>,
    /// `EMAIL_BACKEND`.
    pub email_backend: EmailBackend,
    /// `EMAIL_FROM`.
    pub email_from: String,
    /// `SMTP_*`.
    pub smtp: SmtpConfig,
    /// `FIRST_SUPERUSER_EMAIL` (development default `admin@example.com`).
    pub first_superuser_email: String,
    /// `FIRST_SUPERUSER_PASSWORD` (development default provided).
    pub first_superuser_password: SecretString,
}

/// A setting that cannot be used; names the variable.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {variable}: {message}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl Config {
    /// Reads the process environment (after loading `.env` when present).
    pub fn from_env() -> Result<Self, ConfigError> {
        // A missing .env is the normal case; the environment wins over it.
        let _ = dotenvy::dotenv();
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (tests pass a map) and validates them.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let r = Reader { lookup };
        let environment = r.string("ENVIRONMENT", "development");
        let production = environment == "production";

        let secret = r.string("SECRET_KEY", DEV_SECRET_KEY);
        if secret.chars().count() < 32 {
            return Err(invalid("SECRET_KEY", "must be at least 32 characters"));
        }
        if production && (secret == DEV_SECRET_KEY || secret.starts_with("your_secret_key_here")) {
            return Err(invalid(
                "SECRET_KEY",
                "the built-in development key cannot be used in production",
            ));
        }
        let algorithm = match r.string("ALGORITHM", "HS256").as_str() {
            "HS256" => JwtAlgorithm::Hs256,
            "HS384" => JwtAlgorithm::Hs384,
            "HS512" => JwtAlgorithm::Hs512,
            _ => return Err(invalid("ALGORITHM", "must be HS256, HS384 or HS512")),
        };

        let database_url = database_url(&r)?;
        let bind = r.string("BIND_ADDRESS", "127.0.0.1:8000");
        let bind_address = bind
            .parse()
            .map_err(|_| invalid("BIND_ADDRESS", "expected host:port, e.g. 127.0.0.1:8000"))?;

        let api_prefix = r.string("API_V1_STR", "/api/v1");
        if !api_prefix.starts_with('/') || api_prefix.ends_with('/') {
            return Err(invalid(
                "API_V1_STR",
                "must start with '/' and not end with '/'",
            ));
        }

        let trusted_proxies = TrustedProxies::parse(r.list("TRUSTED_PROXIES", &[])?)
            .map_err(|e| invalid("TRUSTED_PROXIES", e))?;

        let email_backend = match r.string("EMAIL_BACKEND", "console").as_str() {
            "console" => EmailBackend::Console,
            "smtp" => EmailBackend::Smtp,
            _ => return Err(invalid("EMAIL_BACKEND", "must be console or smtp")),
        };
        let smtp = SmtpConfig {
            host: r.raw("SMTP_HOST"),
            port: r.int("SMTP_PORT", 587, 1, u16::MAX)?,
            username: r.raw("SMTP_USERNAME"),
            password: r.raw("SMTP_PASSWORD").map(SecretString::from),
            starttls: r.bool("SMTP_STARTTLS", true)?,
        };
        if email_backend == EmailBackend::Smtp && smtp.host.is_none() {
            return Err(invalid("SMTP_HOST", "required when EMAIL_BACKEND=smtp"));
        }

        let demo_mode = r.bool("DEMO_MODE", false)?;
        let (first_superuser_email, first_superuser_password) =
            bootstrap_credentials(&r, production, demo_mode)?;
        if production && email_backend == EmailBackend::Console {
            // The console backend writes live password-reset links to the log.
            return Err(invalid(
                "EMAIL_BACKEND",
                "console writes reset links to the log; use smtp in production",
            ));
        }

        let pool_timeout: u64 = first_of(&r, "DB_POOL_TIMEOUT", "db_pool_timeout", 30, 1, 3600)?;
        let pool_recycle: u64 =
            first_of(&r, "DB_POOL_RECYCLE", "db_pool_recycle", 3600, 1, 604_800)?;
        let server = ServerLimits {
            header_read_timeout: r.seconds("HTTP_HEADER_READ_TIMEOUT", 10.0, 0.1, 3600.0)?,
            body_read_timeout: r.seconds("HTTP_BODY_READ_TIMEOUT", 30.0, 0.1, 3600.0)?,
            write_timeout: r.seconds("HTTP_WRITE_TIMEOUT", 30.0, 0.1, 3600.0)?,
            idle_timeout: r.seconds("HTTP_IDLE_TIMEOUT", 75.0, 0.1, 86_400.0)?,
            max_connections: r.int("MAX_CONNECTIONS", 4096, 1, 1_000_000)?,
            max_connections_per_ip: r.int("MAX_CONNECTIONS_PER_IP", 256, 0, 1_000_000)?,
            http2_max_streams: r.int("HTTP2_MAX_CONCURRENT_STREAMS", 100, 1, 10_000)?,
            shutdown_grace: r.seconds("SHUTDOWN_GRACE_SECONDS", 30.0, 0.0, 3600.0)?,
        };
        Ok(Self {
            project_name: r.string("PROJECT_NAME", "identityd"),
            version: r.string("VERSION", "1.0.0"),
            api_prefix,
            environment,
            bind_address,
            log_level: r.string("LOG_LEVEL", "info"),
            log_json: match r.string("LOG_FORMAT", "text").as_str() {
                "text" => false,
                "json" => true,
                _ => return Err(invalid("LOG_FORMAT", "must be text or json")),
            },
            demo_mode,
            api_docs_enabled: r.bool("API_DOCS_ENABLED", true)?,
            database_url,
            migrate_on_start: r.bool("MIGRATE_ON_START", true)?,
            db_pool_size: first_of(&r, "DB_POOL_SIZE", "db_pool_size", 20, 1, 1000)?,
            db_max_overflow: first_of(&r, "DB_MAX_OVERFLOW", "db_max_overflow", 50, 0, 1000)?,
            db_pool_timeout: Duration::from_secs(pool_timeout),
            db_pool_recycle: Duration::from_secs(pool_recycle),
            secret_key: SecretString::from(secret),
            algorithm,
            access_token_expire_minutes: r.int("ACCESS_TOKEN_EXPIRE_MINUTES", 15, 1, 1440)?,
            refresh_token_expire_days: r.int("REFRESH_TOKEN_EXPIRE_DAYS", 7, 1, 365)?,
            session_absolute_lifetime_days: r.int("SESSION_ABSOLUTE_LIFETIME_DAYS", 30, 1, 3650)?,
            bcrypt_cost: r.int("BCRYPT_COST", 12, 4, 31)?,
            password_hash_queue: r.int("PASSWORD_HASH_QUEUE", 16, 1, 100_000)?,
            password_reset_expire_minutes: r.int("PASSWORD_RESET_EXPIRE_MINUTES", 60, 1, 10080)?,
            frontend_url: r
                .string("FRONTEND_URL", "http://localhost:3000")
                .trim_end_matches('/')
                .to_owned(),
            cors_origins: r.list("BACKEND_CORS_ORIGINS", &["http://localhost:3000"])?,
            trusted_proxies,
            max_request_body_bytes: r.int("MAX_REQUEST_BODY_BYTES", 10_485_760, 1024, 1 << 30)?,
            server,
            provider: ProviderConfig::read(&r, production)?,
            social: SocialConfig::read(&r, production)?,
            metrics_token: r.raw("METRICS_TOKEN").map(SecretString::from),
            cleanup_enabled: r.bool("CLEANUP_ENABLED", true)?,
            cleanup_minute_of_day: parse_time_of_day(&r.string("CLEANUP_TIME_UTC", "02:00"))
                .ok_or_else(|| invalid("CLEANUP_TIME_UTC", "must be HH:MM (UTC)"))?,
            session_retention_days: r.int("SESSION_RETENTION_DAYS", 30, 0, 3650)?,
            auth_cache_ttl: Duration::from_millis(r.int("AUTH_CACHE_TTL_MS", 0, 0, 10_000)?),
            ratelimit_enabled: r.bool("RATELIMIT_ENABLED", true)?,
            ratelimit_multiplier: r.int("RATELIMIT_MULTIPLIER", 1, 1, 1_000_000)?,
            ratelimit_redis_fallback: match r.string("RATELIMIT_REDIS_FALLBACK", "local").trim() {
                "local" => crate::ratelimit::RedisFallback::Local,
                "open" => crate::ratelimit::RedisFallback::Open,
                _ => return Err(invalid("RATELIMIT_REDIS_FALLBACK", "must be local or open")),
            },
            redis: r
                .raw("REDIS_URL")
                .map(|url| crate::redis::RedisTarget::parse(url.trim()))
                .transpose()
                .map_err(|e| invalid("REDIS_URL", e))?,
            email_backend,
            email_from: r.string("EMAIL_FROM", "noreply@localhost"),
            smtp,
            first_superuser_email,
            first_superuser_password,
        })
    }

    /// `ENVIRONMENT=production`.
    pub fn is_production(&self) -> bool {
        self.environment == "production"
    }

    /// Warnings worth logging loudly at start-up (development defaults in use).
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.secret_key.expose_secret() == DEV_SECRET_KEY {
            warnings.push(
                "SECRET_KEY is the built-in development key: tokens can be forged. \
                 Set SECRET_KEY before exposing this service."
                    .to_owned(),
            );
        }
        if self.first_superuser_email == DEFAULT_SUPERUSER_EMAIL {
            warnings.push(format!(
                "FIRST_SUPERUSER_EMAIL/PASSWORD not set: bootstrap superuser is \
                 {DEFAULT_SUPERUSER_EMAIL} with the documented default password"
            ));
        }
        warnings
    }
}

fn database_url(r: &Reader<'_>) -> Result<DatabaseUrl, ConfigError> {
    if let Some(url) = r.raw("DATABASE_URL") {
        return DatabaseUrl::parse(url.trim()).map_err(|e| invalid("DATABASE_URL", e));
    }
    let pg_names = [
        "POSTGRES_USER",
        "POSTGRES_PASSWORD",
        "POSTGRES_HOST",
        "POSTGRES_PORT",
        "POSTGRES_DB",
    ];
    if pg_names.iter().any(|n| r.raw(n).is_some()) {
        let url = format!(
            "postgres://{}:{}@{}:{}/{}",
            percent(&r.string("POSTGRES_USER", "postgres")),
            percent(&r.string("POSTGRES_PASSWORD", "postgres")),
            r.string("POSTGRES_HOST", "localhost"),
            r.int::<u16>("POSTGRES_PORT", 5432, 1, u16::MAX)?,
            r.string("POSTGRES_DB", "app"),
        );
        return Ok(DatabaseUrl::Postgres(url));
    }
    Ok(DatabaseUrl::Sqlite("./data/identityd.db".to_owned()))
}

fn percent(raw: &str) -> String {
    percent_encoding::utf8_percent_encode(raw, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn bootstrap_credentials(
    r: &Reader<'_>,
    production: bool,
    demo_mode: bool,
) -> Result<(String, SecretString), ConfigError> {
    let email = r.raw("FIRST_SUPERUSER_EMAIL");
    let password = r.raw("FIRST_SUPERUSER_PASSWORD");
    if production {
        let email =
            email.ok_or_else(|| invalid("FIRST_SUPERUSER_EMAIL", "required in production"))?;
        if crate::domain::email::normalize_email(&email) == DEFAULT_SUPERUSER_EMAIL {
            return Err(invalid(
                "FIRST_SUPERUSER_EMAIL",
                "the default admin@example.com cannot be used in production",
            ));
        }
        let password = password
            .ok_or_else(|| invalid("FIRST_SUPERUSER_PASSWORD", "required in production"))?;
        if WEAK_BOOTSTRAP_PASSWORDS.contains(&password.as_str()) {
            return Err(invalid(
                "FIRST_SUPERUSER_PASSWORD",
                "a published default password",
            ));
        }
        crate::domain::password::check_new_password(&password, true)
            .map_err(|e| invalid("FIRST_SUPERUSER_PASSWORD", e))?;
        return Ok((email, SecretString::from(password)));
    }
    Ok((
        email.unwrap_or_else(|| DEFAULT_SUPERUSER_EMAIL.to_owned()),
        SecretString::from(password.unwrap_or_else(|| {
            let default = if demo_mode {
                DEMO_SUPERUSER_PASSWORD
            } else {
                DEFAULT_SUPERUSER_PASSWORD
            };
            default.to_owned()
        })),
    ))
}

/// `HH:MM` as minutes after midnight.
fn parse_time_of_day(text: &str) -> Option<u32> {
    let (h, m) = text.trim().split_once(':')?;
    let digits = |s: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    if !(digits(h, 1..=2) && digits(m, 2..=2)) {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(&move |name| map.get(name).cloned())
    }

    #[test]
    fn defaults_start_for_development_with_warnings() {
        let c = config(&[]).unwrap();
        assert_eq!(
            c.database_url,
            DatabaseUrl::Sqlite("./data/identityd.db".into())
        );
        assert_eq!(c.api_prefix, "/api/v1");
        assert_eq!(c.bcrypt_cost, 12);
        assert_eq!(c.max_request_body_bytes, 10 * 1024 * 1024);
        assert_eq!(c.warnings().len(), 2);
    }

    #[test]
    fn production_refuses_unsafe_defaults() {
        let err = config(&[("ENVIRONMENT", "production")]).unwrap_err();
        assert_eq!(err.variable, "SECRET_KEY");
        let strong = [
            ("ENVIRONMENT", "production"),
            ("SECRET_KEY", "a-real-secret-that-is-long-enough-1234567"),
        ];
        let err = config(&strong).unwrap_err();
        assert_eq!(err.variable, "FIRST_SUPERUSER_EMAIL");
        let mut with_default_email = strong.to_vec();
        with_default_email.push(("FIRST_SUPERUSER_EMAIL", " Admin@Example.com "));
        assert_eq!(
            config(&with_default_email).unwrap_err().variable,
            "FIRST_SUPERUSER_EMAIL"
        );
        let mut weak = strong.to_vec();
        weak.push(("FIRST_SUPERUSER_EMAIL", "root@corp.test"));
        weak.push(("FIRST_SUPERUSER_PASSWORD", "AdminPassword123!"));
        assert_eq!(
            config(&weak).unwrap_err().variable,
            "FIRST_SUPERUSER_PASSWORD"
        );
        let mut good = strong.to_vec();
        good.push(("FIRST_SUPERUSER_EMAIL", "root@corp.test"));
        good.push(("FIRST_SUPERUSER_PASSWORD", "Corr3ct-Horse-Battery!"));
        // The console mailer would log live reset links.
        assert_eq!(config(&good).unwrap_err().variable, "EMAIL_BACKEND");
        good.push(("EMAIL_BACKEND", "smtp"));
        good.push(("SMTP_HOST", "mail.corp.test"));
        assert!(config(&good).is_ok());
    }

    #[test]
    fn cleanup_time_is_hh_mm() {
        assert_eq!(parse_time_of_day("02:00"), Some(120));
        assert_eq!(parse_time_of_day("23:59"), Some(1439));
        for bad in ["24:00", "12:60", "noon", "12", "-1:00"] {
            assert_eq!(parse_time_of_day(bad), None, "{bad}");
        }
        let err = config(&[("CLEANUP_TIME_UTC", "25:00")]).unwrap_err();
        assert_eq!(err.variable, "CLEANUP_TIME_UTC");
    }

    #[test]
    fn issuer_is_an_origin_and_social_urls_are_checked() {
        for bad in ["https://id.example/auth", "ftp://id.example", "https://"] {
            let err = config(&[("OAUTH_ISSUER", bad)]).unwrap_err();
            assert_eq!(err.variable, "OAUTH_ISSUER", "{bad}");
        }
        let ok = config(&[("OAUTH_ISSUER", "https://id.example:8443/")]).unwrap();
        assert_eq!(ok.provider.issuer, "https://id.example:8443");
        let err = config(&[("OAUTH_GITHUB_API_URL", "github.example")]).unwrap_err();
        assert_eq!(err.variable, "OAUTH_GITHUB_API_URL");
        let err = config(&[("OAUTH_TOKEN_ENCRYPTION_KEY", "c2hvcnQ")]).unwrap_err();
        assert_eq!(err.variable, "OAUTH_TOKEN_ENCRYPTION_KEY");
        let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let ok = config(&[("OAUTH_TOKEN_ENCRYPTION_KEY", key)]).unwrap();
        assert_eq!(ok.social.token_key.unwrap()[31], 31);
        // A provider is configured only with both credentials.
        let half = config(&[("OAUTH_GOOGLE_CLIENT_ID", "id")]).unwrap();
        assert!(half.social.google.credentials.is_none());
    }

    #[test]
    fn short_secret_and_bad_values_are_refused() {
        assert_eq!(
            config(&[("SECRET_KEY", "short")]).unwrap_err().variable,
            "SECRET_KEY"
        );
        assert_eq!(
            config(&[("BCRYPT_COST", "3")]).unwrap_err().variable,
            "BCRYPT_COST"
        );
        assert_eq!(
            config(&[("ALGORITHM", "RS256")]).unwrap_err().variable,
            "ALGORITHM"
        );
        for (name, bad) in [
            ("AUTH_CACHE_TTL_MS", "10001"),
            ("AUTH_CACHE_TTL_MS", "-1"),
            ("PASSWORD_HASH_QUEUE", "0"),
        ] {
            assert_eq!(config(&[(name, bad)]).unwrap_err().variable, name);
        }
        assert_eq!(
            config(&[("AUTH_CACHE_TTL_MS", "1000")])
                .unwrap()
                .auth_cache_ttl,
            std::time::Duration::from_secs(1)
        );
        assert_eq!(
            config(&[("RATELIMIT_ENABLED", "maybe")])
                .unwrap_err()
                .variable,
            "RATELIMIT_ENABLED"
        );
        assert_eq!(
            config(&[("TRUSTED_PROXIES", "not-an-ip")])
                .unwrap_err()
                .variable,
            "TRUSTED_PROXIES"
        );
    }

    #[test]
    fn lists_accept_json_and_commas_and_postgres_parts_build_a_url() {
        let c = config(&[
            (
                "BACKEND_CORS_ORIGINS",
                "[\"https://a.test\",\"https://b.test\"]",
            ),
            ("TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1"),
            ("POSTGRES_HOST", "db"),
        ])
        .unwrap();
        assert_eq!(c.cors_origins, vec!["https://a.test", "https://b.test"]);
        assert_eq!(
            c.database_url,
            DatabaseUrl::Postgres("postgres://postgres:postgres@db:5432/app".into())
        );
        let c = config(&[
            ("db_pool_size", "7"),
            ("db_pool_recycle", "60"),
            ("RATELIMIT_ENABLED", "off"),
            ("HTTP_IDLE_TIMEOUT", "0.5"),
        ])
        .unwrap();
        assert_eq!(c.db_pool_size, 7);
        assert_eq!(c.db_pool_recycle, Duration::from_secs(60));
        assert_eq!(c.server.idle_timeout, Duration::from_millis(500));
        assert_eq!(
            config(&[("HTTP_BODY_READ_TIMEOUT", "0")])
                .unwrap_err()
                .variable,
            "HTTP_BODY_READ_TIMEOUT"
        );
        assert!(!c.ratelimit_enabled);
    }
}
