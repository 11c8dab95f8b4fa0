//! Rate limiting (docs/security.md#rate-limits): GCRA per (route, client
//! network), in memory or shared through Redis, checked before
//! authentication for REST, gRPC and the OAuth endpoints alike; and the
//! per-account login throttle.

pub mod gcra;
mod memory;
mod rules;
mod shared;

pub use self::rules::{Rule, Rules};

use std::net::IpAddr;
use std::sync::Arc;

use self::gcra::{Rate, Verdict};
use self::memory::MemoryStore;
use self::shared::RedisStore;
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::client_ip::rate_limit_key;
use crate::error::Error;

const MINUTE_MS: i64 = 60_000;

/// What happens to limits while Redis cannot be reached
/// (`RATELIMIT_REDIS_FALLBACK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisFallback {
    /// Per-process counters (each replica enforces the limit alone).
    Local,
    /// No limits until Redis is back.
    Open,
}

/// Failed logins one client may make for one account before it waits.
const LOGIN_FAILURES: u32 = 5;
/// The period over which those failures are regained.
const LOGIN_FAILURE_PERIOD_MS: i64 = 5 * MINUTE_MS;

/// The limiter: settings and the stores.
#[derive(Debug)]
pub struct Limiter {
    enabled: bool,
    multiplier: u32,
    fallback: RedisFallback,
    memory: MemoryStore,
    redis: Option<RedisStore>,
    clock: Arc<dyn Clock>,
}

impl Limiter {
    /// The limiter `config` describes.
    pub fn new(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let redis = match &config.redis {
            Some(target) if config.ratelimit_enabled => Some(RedisStore::new(target)?),
            _ => None,
        };
        Ok(Self {
            enabled: config.ratelimit_enabled,
            multiplier: config.ratelimit_multiplier,
            fallback: config.ratelimit_redis_fallback,
            memory: MemoryStore::default(),
            redis,
            clock,
        })
    }

    /// The effective limit of a base limit of `n`.
    pub fn effective(&self, n: u32) -> u32 {
        n.saturating_mul(self.multiplier)
    }

    /// Counts one request of `key` against `n` per `period_ms`; `Err` with
    /// the wait in whole seconds when refused.
    async fn count(&self, key: &str, n: u32, period_ms: i64) -> Result<(), u64> {
        if !self.enabled {
            return Ok(());
        }
        let rate = Rate::per(n, period_ms);
        let verdict = match &self.redis {
            Some(redis) => match redis.check(key, rate).await {
                Ok(verdict) => verdict,
                Err(_) if self.fallback == RedisFallback::Open => return Ok(()),
                Err(_) => self.local(key, rate),
            },
            None => self.local(key, rate),
        };
        match verdict {
            Verdict::Allow { .. } => Ok(()),
            Verdict::Deny { retry_after_ms } => {
                let seconds = u64::try_from(retry_after_ms).unwrap_or(0).div_ceil(1000);
                Err(seconds.max(1))
            }
        }
    }

    fn local(&self, key: &str, rate: Rate) -> Verdict {
        let now_ms = self.clock.now().as_datetime().timestamp_millis();
        self.memory.check(key, rate, now_ms)
    }

    /// Counts a request of route `rule` from `ip`: 429 `SYS_004` beyond
    /// the limit.
    pub async fn admit(&self, rule: &Rule, ip: IpAddr) -> Result<(), Error> {
        let key = rule.key(&rate_limit_key(ip));
        self.count(&key, self.effective(rule.per_minute), MINUTE_MS)
            .await
            .map_err(|retry_after| Error::RateLimited {
                message: format!(
                    "Rate limit exceeded: {} per 1 minute",
                    self.effective(rule.per_minute)
                ),
                retry_after,
            })
    }

    /// Counts a login attempt for `email` from `ip` (docs/security.md#login-throttle):
    /// a client gets a few tries per account, regained over minutes; other
    /// clients, the account's owner among them, are not affected. The
    /// multiplier does not apply: it scales the route limits.
    pub async fn admit_login(&self, email: &str, ip: Option<IpAddr>) -> Result<(), Error> {
        let key = login_key(email, ip);
        self.count(&key, LOGIN_FAILURES, LOGIN_FAILURE_PERIOD_MS)
            .await
            .map_err(|retry_after| Error::RateLimited {
                message: "Too many failed login attempts. Please try again later.".to_owned(),
                retry_after,
            })
    }

    /// A successful login clears its client's attempts for the account.
    pub async fn login_succeeded(&self, email: &str, ip: Option<IpAddr>) {
        if !self.enabled {
            return;
        }
        let key = login_key(email, ip);
        self.memory.forget(&key);
        if let Some(redis) = &self.redis {
            redis.forget(&key).await;
        }
    }
}

fn login_key(email: &str, ip: Option<IpAddr>) -> String {
    let client = ip.map_or_else(|| "-".to_owned(), rate_limit_key);
    // The email is hashed: Redis need not hold account names.
    let account = crate::auth::digest::sha256_hex(email.as_bytes());
    format!("lt:{account}:{client}")
}
