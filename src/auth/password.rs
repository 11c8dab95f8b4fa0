//! Password hashing with bcrypt on a bounded pool of its own threads.
//!
//! Hashing is slow on purpose, so it never runs on the async threads: one
//! hashing thread per core, at a lower scheduling priority (nice 10), so that
//! a login flood takes the CPU only when the requests that do not hash leave
//! it idle, and at most one hash per core runs at once. The queue is bounded too: when
//! `PASSWORD_HASH_QUEUE` hashes already wait, another is refused at once
//! ([`PasswordError::Busy`], 429 / `RESOURCE_EXHAUSTED` with a retry delay)
//! instead of waiting for seconds. Verification of an unknown or
//! password-less account runs against a dummy hash, so every login costs the
//! same, and a refusal does not depend on the account either.

use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context as _;
use secrecy::{ExposeSecret as _, SecretString};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use tokio::sync::{OnceCell, Semaphore};

use crate::metrics::Histogram;

/// Hashes and verifies passwords.
#[derive(Clone)]
pub struct PasswordHasher {
    cost: u32,
    slots: usize,
    /// Most hashes waiting for a slot; more are refused.
    max_waiting: usize,
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
    /// How long the last hash ran, in microseconds (for the retry delay).
    last_run_micros: Arc<AtomicU64>,
    /// The hashing threads' work queue (never more jobs than slots: a job
    /// holds a permit until it ends).
    jobs: SyncSender<Job>,
}

type Job = Box<dyn FnOnce() + Send>;

/// How much lower than the service's other threads hashing runs (a nice
/// value: 10 gives a runnable request thread about ten times its share).
const HASHING_NICENESS: i32 = 10;

/// Starts `count` hashing threads fed by the returned queue; they end when
/// every sender is gone.
fn start_hashing_threads(count: usize) -> SyncSender<Job> {
    let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(count);
    let queue = Arc::new(Mutex::new(queue));
    for i in 0..count {
        let queue = queue.clone();
        let started = std::thread::Builder::new()
            .name(format!("bcrypt-{i}"))
            .spawn(move || hashing_thread(&queue));
        if let Err(err) = started {
            tracing::error!(error = %err, "starting a password hashing thread failed");
        }
    }
    jobs
}

fn hashing_thread(queue: &Mutex<Receiver<Job>>) {
    // Raising one's own nice value needs no privilege; if it fails anyway,
    // hashing still works, at normal priority.
    let tid = rustix::thread::gettid();
    if let Err(err) = rustix::process::setpriority_process(Some(tid), HASHING_NICENESS) {
        tracing::warn!(error = %err, "could not lower the priority of a hashing thread");
    }
    loop {
        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

/// Why a hash or verification did not run.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The queue is full: try again after `retry_after` seconds.
    #[error("too many password checks in progress")]
    Busy {
        /// Whole seconds until the queue has likely drained (at least 1).
        retry_after: u64,
    },
    /// bcrypt or the blocking pool failed.
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("cost", &self.cost)
            .finish()
    }
}

impl PasswordHasher {
    /// A hasher of the given bcrypt cost that lets at most `max_waiting`
    /// hashes queue; starts computing its dummy hash.
    pub fn new(cost: u32, max_waiting: usize) -> Self {
        let slots = std::thread::available_parallelism().map_or(2, usize::from);
        let hasher = Self {
            cost,
            slots,
            max_waiting,
            permits: Arc::new(Semaphore::new(slots)),
            dummy_hash: Arc::new(OnceCell::new()),
            waiting: Arc::default(),
            running: Arc::default(),
            wait: Arc::default(),
            last_run_micros: Arc::default(),
            jobs: start_hashing_threads(slots),
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
    async fn dummy_hash(&self) -> Result<Arc<str>, PasswordError> {
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
                Ok::<_, PasswordError>(Arc::<str>::from(hash))
            })
            .await?;
        Ok(hash.clone())
    }

    /// A new bcrypt (`$2b$`) hash of `password`.
    pub async fn hash(&self, password: SecretString) -> Result<String, PasswordError> {
        let cost = self.cost;
        self.run_blocking(move || {
            bcrypt::hash(password.expose_secret(), cost).context("bcrypt hash")
        })
        .await
    }

    /// Whether `password` matches `hash`. With no hash, a dummy verification
    /// runs anyway and the answer is false.
    pub async fn verify(
        &self,
        password: SecretString,
        hash: Option<&str>,
    ) -> Result<bool, PasswordError> {
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
    /// free, keeping count of waiters and of the wait; refuses at once when
    /// the queue is full.
    async fn run_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, PasswordError> {
        let started = Instant::now();
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                // Reserve a place in the queue, or refuse.
                let admitted =
                    self.waiting
                        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                            (n < self.max_waiting).then_some(n + 1)
                        });
                if admitted.is_err() {
                    return Err(PasswordError::Busy {
                        retry_after: self.retry_after(self.max_waiting),
                    });
                }
                // Leaves the queue even if this future is dropped.
                let _place = QueuePlace(&self.waiting);
                self.permits
                    .clone()
                    .acquire_owned()
                    .await
                    .context("hasher pool closed")?
            }
        };
        self.wait.observe(started.elapsed());
        // The slot is held until the hash ends, even if the request that
        // asked for it is gone: the core is busy until then.
        let (running, last_run) = (self.running.clone(), self.last_run_micros.clone());
        let (answer, outcome) = tokio::sync::oneshot::channel();
        running.fetch_add(1, Ordering::Relaxed);
        let job: Job = Box::new(move || {
            let ran = Instant::now();
            let result = work();
            let micros = u64::try_from(ran.elapsed().as_micros()).unwrap_or(u64::MAX);
            last_run.store(micros, Ordering::Relaxed);
            running.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
            // The asker may be gone; the work is done either way.
            let _ = answer.send(result);
        });
        match self.jobs.try_send(job) {
            Ok(()) => {}
            // A job holds a permit, so the queue (as deep as the permits)
            // cannot be full; a disconnected queue means no hashing thread.
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.running.fetch_sub(1, Ordering::Relaxed);
                return Err(anyhow::anyhow!("no password hashing thread").into());
            }
        }
        Ok(outcome.await.context("hashing thread")??)
    }

    /// Seconds until `queued` hashes have likely run, at least one.
    fn retry_after(&self, queued: usize) -> u64 {
        let micros = self.last_run_micros.load(Ordering::Relaxed);
        let rounds = u64::try_from(queued.div_ceil(self.slots.max(1))).unwrap_or(u64::MAX);
        micros.saturating_mul(rounds).div_ceil(1_000_000).max(1)
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

/// A place in the hashing queue, given up when dropped.
struct QueuePlace<'a>(&'a AtomicUsize);

impl Drop for QueuePlace<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_missing_hash_never_matches() {
        let hasher = PasswordHasher::new(4, 16);
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
