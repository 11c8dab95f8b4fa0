//! The one application state, built in one place and shared by every transport.

use std::sync::Arc;

use crate::auth::password::PasswordHasher;
use crate::auth::reset::ResetKey;
use crate::auth::tokens::TokenKeys;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::Pool;
use crate::mail::Mailer;

/// Everything a request may need. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    /// Settings.
    pub config: Arc<Config>,
    /// Database pool.
    pub db: Pool,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// bcrypt on a bounded blocking pool.
    pub passwords: PasswordHasher,
    /// First-party JWT keys.
    pub tokens: Arc<TokenKeys>,
    /// Password-reset token key.
    pub reset_key: ResetKey,
    /// Outgoing email.
    pub mailer: Arc<dyn Mailer>,
    /// The authorization server's signing keys; loaded at start-up when
    /// `OAUTH_PROVIDER_ENABLED`.
    pub provider_keys: Option<Arc<crate::auth::provider_keys::KeyRing>>,
    /// Prometheus counters and histograms.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Rate limits and the login throttle.
    pub limiter: Arc<crate::ratelimit::Limiter>,
    /// Social-login providers: settings, outbound client, cached keys.
    pub social: Arc<crate::social::SocialProviders>,
    /// The fetcher of client ID metadata documents (with the authorization
    /// server and `OAUTH_CLIENT_METADATA_DOCUMENTS`).
    pub metadata_documents: Option<crate::service::oauth::metadata_document::Fetcher>,
    /// Bearer lookups cached for `AUTH_CACHE_TTL_MS` (off by default).
    pub principals: Arc<crate::service::principal_cache::PrincipalCache>,
}

/// Most sessions whose lookups are cached at once (about 1 KiB each).
const AUTH_CACHE_CAPACITY: usize = 50_000;

impl AppState {
    /// Builds the state: keys derived from the config, the pool (no connection
    /// opened yet) and the password hasher.
    pub async fn new(
        config: Config,
        clock: Arc<dyn Clock>,
        mailer: Arc<dyn Mailer>,
    ) -> anyhow::Result<Self> {
        let pool = Pool::new(
            &config.database_url,
            crate::db::PoolOptions {
                max_size: config.db_pool_size + config.db_max_overflow,
                wait_timeout: config.db_pool_timeout,
                max_lifetime: config.db_pool_recycle,
            },
        )?;
        let provider = &config.provider;
        let metadata_documents = if provider.enabled && provider.metadata_documents {
            let extra_root = match &provider.cimd_ca_file {
                Some(path) => Some(std::fs::read(path)?),
                None => None,
            };
            Some(crate::service::oauth::metadata_document::Fetcher::new(
                provider.cimd_timeout,
                provider.cimd_allow_private,
                extra_root.as_deref(),
                config.is_production(),
            )?)
        } else {
            None
        };
        Ok(Self {
            metadata_documents,
            passwords: PasswordHasher::new(config.bcrypt_cost, config.password_hash_queue),
            tokens: Arc::new(TokenKeys::new(&config.secret_key, config.algorithm)),
            reset_key: ResetKey::derive(&config.secret_key),
            db: pool,
            clock: clock.clone(),
            mailer,
            provider_keys: None,
            metrics: Arc::new(crate::metrics::Metrics::default()),
            limiter: Arc::new(crate::ratelimit::Limiter::new(&config, clock.clone())?),
            social: Arc::new(crate::social::SocialProviders::new(
                &config.social,
                config.is_production(),
            )?),
            principals: Arc::new(crate::service::principal_cache::PrincipalCache::new(
                config.auth_cache_ttl,
                AUTH_CACHE_CAPACITY,
            )),
            config: Arc::new(config),
        })
    }
}
