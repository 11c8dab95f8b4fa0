//! Password hashing with bcrypt on a bounded blocking pool.
//!
//! Hashing is slow on purpose, so it never runs on the async threads, and at
//! most one hash per core runs at once: a login flood queues here instead of
//! starving every other request. Verification of an unknown or password-less
//! account runs against a dummy hash, so every login costs the same.

use std::sync::Arc;

use anyhow::Context as _;
use secrecy::{ExposeSecret as _, SecretString};
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OnceCell, Semaphore};

use crate::metrics::Histogram;

/// Hashes and verifies passwords.
#[derive(Clone)]
pub struct PasswordHasher {
    cost: u32,
    permits: Arc<Semaphore>,
    /// Computed in the background from start-up (a cost-12 hash takes a
    /// quarter of a second), so serving starts at once; the first
    /// verification that needs it waits for it.
    dummy_hash: Arc<OnceCell<Arc<str>>>,
    /// Hashes waiting for a slot, and running.
    waiting: Arc<AtomicUsize>,
    running: Arc<AtomicUsize>,
    /// How long hashes waited for a slot.
    wait: Arc<Histogram>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("cost", &self.cost)
            .finish()
    }
}

impl PasswordHasher {
    /// A hasher of the given bcrypt cost; starts computing its dummy hash.
    pub fn new(cost: u32) -> Self {
        let slots = std::thread::available_parallelism().map_or(2, usize::from);
        let hasher = Self {
            cost,
            permits: Arc::new(Semaphore::new(slots)),
            dummy_hash: Arc::new(OnceCell::new()),
            waiting: Arc::default(),
            running: Arc::default(),
            wait: Arc::default(),
        };
        let background = hasher.clone();
        tokio::spawn(async move {
            if let Err(err) = background.dummy_hash().await {
                tracing::error!(error = ?err, "computing the dummy password hash failed");
            }
        });
        hasher
    }

    /// The hash unknown accounts are verified against (same cost as real ones).
    async fn dummy_hash(&self) -> anyhow::Result<Arc<str>> {
        let cost = self.cost;
        let hash = self
            .dummy_hash
            .get_or_try_init(|| async {
                let hash = self
                    .run_blocking(move || {
                        bcrypt::hash("identityd-dummy-password-for-timing", cost)
                            .context("dummy hash")
                    })
                    .await?;
                anyhow::Ok(Arc::<str>::from(hash))
            })
            .await?;
        Ok(hash.clone())
    }

    /// A new bcrypt (`$2b$`) hash of `password`.
    pub async fn hash(&self, password: SecretString) -> anyhow::Result<String> {
        let cost = self.cost;
        self.run_blocking(move || {
            bcrypt::hash(password.expose_secret(), cost).context("bcrypt hash")
        })
        .await
    }

    /// Whether `password` matches `hash`. With no hash, a dummy verification
    /// runs anyway and the answer is false.
    pub async fn verify(&self, password: SecretString, hash: Option<&str>) -> anyhow::Result<bool> {
        let (hash, real) = match hash {
            Some(h) => (Arc::<str>::from(h), true),
            None => (self.dummy_hash().await?, false),
        };
        let matched = self
            .run_blocking(move || {
                // A malformed stored hash is a mismatch, not a server error.
                Ok(bcrypt::verify(password.expose_secret(), &hash).unwrap_or(false))
            })
            .await?;
        Ok(real && matched)
    }
}

impl PasswordHasher {
    /// Runs `work` on the blocking pool once one of the bounded slots is
    /// free, keeping count of waiters and of the wait.
    async fn run_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let started = std::time::Instant::now();
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let permit = self.permits.acquire().await;
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        let _permit = permit.context("hasher pool closed")?;
        self.wait.observe(started.elapsed());
        self.running.fetch_add(1, Ordering::Relaxed);
        let outcome = tokio::task::spawn_blocking(work).await;
        self.running.fetch_sub(1, Ordering::Relaxed);
        outcome.context("hasher task")?
    }

    /// (waiting, running) hashes.
    pub fn load(&self) -> (usize, usize) {
        (
            self.waiting.load(Ordering::Relaxed),
            self.running.load(Ordering::Relaxed),
        )
    }

    /// How long hashes waited for a slot.
    pub fn wait_histogram(&self) -> &Histogram {
        &self.wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_missing_hash_never_matches() {
        let hasher = PasswordHasher::new(4);
        let hash = hasher
            .hash("Secret-Pass-123".to_owned().into())
            .await
            .unwrap();
        assert!(hash.starts_with("$2b$04$"));
        assert!(
            hasher
                .verify("Secret-Pass-123".to_owned().into(), Some(&hash))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify("wrong".to_owned().into(), Some(&hash))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify(
                    "identityd-dummy-password-for-timing".to_owned().into(),
                    None
                )
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify("x".to_owned().into(), Some("not-a-hash"))
                .await
                .unwrap()
        );
    }
}
