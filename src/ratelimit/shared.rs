//! GCRA state in Redis, shared by every replica: one Lua script reads and
//! updates a key atomically, on Redis's own clock, so replicas agree on
//! time too. Calls are bounded (250 ms); after a failure Redis is left
//! alone for a few seconds and the caller falls back.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::gcra::{Rate, Verdict};
use crate::redis::{self, Reply};

/// The script: `KEYS[1]` the key, `ARGV` interval and burst in ms; returns
/// `{1, ttl}` when admitted, `{0, retry_after}` when not.
const SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local ahead = new_tat - now
if ahead > burst then
  return {0, ahead - burst}
end
redis.call('SET', KEYS[1], new_tat, 'PX', ahead)
return {1, ahead}
";

/// Budget of one Redis call.
const CALL_TIMEOUT: Duration = Duration::from_millis(250);
/// How long Redis is bypassed after a failure.
const BACKOFF: Duration = Duration::from_secs(5);

/// The Redis store.
#[derive(Debug)]
pub struct RedisStore {
    pool: redis::Pool,
    down_until: Mutex<Option<Instant>>,
}

/// Why Redis did not decide.
#[derive(Debug)]
pub enum Unavailable {
    /// Bypassed after a recent failure.
    Backoff,
    /// This call failed.
    Failed,
}

impl RedisStore {
    /// A store on `target` (nothing is connected yet).
    pub fn new(target: &redis::RedisTarget) -> anyhow::Result<Self> {
        let manager = redis::Manager::new(target.clone(), CALL_TIMEOUT);
        let pool = redis::Pool::builder(manager)
            .max_size(16)
            .wait_timeout(Some(CALL_TIMEOUT))
            .create_timeout(Some(CALL_TIMEOUT))
            .runtime(deadpool::Runtime::Tokio1)
            .build()?;
        Ok(Self {
            pool,
            down_until: Mutex::new(None),
        })
    }

    fn backing_off(&self) -> bool {
        let guard = self
            .down_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.is_some_and(|t| Instant::now() < t)
    }

    fn mark(&self, failed: bool) {
        let mut guard = self
            .down_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match (failed, guard.is_some()) {
            (true, false) => {
                tracing::warn!(
                    "Redis unreachable: rate limits fall back for at least {}s",
                    BACKOFF.as_secs()
                );
                *guard = Some(Instant::now() + BACKOFF);
            }
            (true, true) => *guard = Some(Instant::now() + BACKOFF),
            (false, true) => {
                tracing::info!("Redis reachable again: rate limits shared");
                *guard = None;
            }
            (false, false) => {}
        }
    }

    /// Decides one request of `key` on Redis.
    pub async fn check(&self, key: &str, rate: Rate) -> Result<Verdict, Unavailable> {
        if self.backing_off() {
            return Err(Unavailable::Backoff);
        }
        let outcome = tokio::time::timeout(CALL_TIMEOUT, self.run(key, rate)).await;
        match outcome {
            Ok(Ok(verdict)) => {
                self.mark(false);
                Ok(verdict)
            }
            Ok(Err(err)) => {
                tracing::debug!(error = %err, "rate-limit script failed");
                self.mark(true);
                Err(Unavailable::Failed)
            }
            Err(_) => {
                self.mark(true);
                Err(Unavailable::Failed)
            }
        }
    }

    /// Deletes `key` (best effort).
    pub async fn forget(&self, key: &str) {
        if self.backing_off() {
            return;
        }
        let call = async {
            let mut conn = self.pool.get().await.map_err(std::io::Error::other)?;
            let result = conn.command(&[b"DEL", key.as_bytes()]).await;
            if result.is_err() {
                drop(deadpool::managed::Object::take(conn));
            }
            result
        };
        if !matches!(tokio::time::timeout(CALL_TIMEOUT, call).await, Ok(Ok(_))) {
            self.mark(true);
        }
    }

    async fn run(&self, key: &str, rate: Rate) -> std::io::Result<Verdict> {
        let mut conn = self.pool.get().await.map_err(std::io::Error::other)?;
        let interval = rate.interval_ms.to_string();
        let burst = rate.burst_ms.to_string();
        // EVAL rather than EVALSHA: the script is a few hundred bytes and
        // Redis caches its compiled form, so there is no state to manage.
        let args: [&[u8]; 6] = [
            b"EVAL",
            SCRIPT.as_bytes(),
            b"1",
            key.as_bytes(),
            interval.as_bytes(),
            burst.as_bytes(),
        ];
        let reply = conn.command(&args).await;
        let reply = match reply {
            Ok(reply) => reply,
            Err(err) => {
                // Never reuse a connection that failed mid-exchange.
                drop(deadpool::managed::Object::take(conn));
                return Err(err);
            }
        };
        match reply {
            Reply::Array(Some(items)) => match items.as_slice() {
                [Reply::Integer(1), Reply::Integer(ttl)] => Ok(Verdict::Allow {
                    tat: 0,
                    ttl_ms: *ttl,
                }),
                [Reply::Integer(0), Reply::Integer(wait)] => Ok(Verdict::Deny {
                    retry_after_ms: *wait,
                }),
                _ => Err(std::io::Error::other("unexpected script reply")),
            },
            _ => Err(std::io::Error::other("unexpected script reply")),
        }
    }
}
