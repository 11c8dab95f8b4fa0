//! Time as an input. Everything that needs "now" asks a [`Clock`], so tests can
//! move time (token expiry, session lifetimes) without sleeping. This is the
//! only module allowed to read the wall clock.

use std::sync::Mutex;

use chrono::{DateTime, Utc};

use crate::domain::types::Timestamp;

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The wall clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "the one place that reads the wall clock"
    )]
    fn now(&self) -> Timestamp {
        Timestamp::from_datetime(Utc::now())
    }
}

/// A clock that tests move by hand; starts at the wall-clock time.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self {
            now: Mutex::new(SystemClock.now().as_datetime()),
        }
    }
}

impl ManualClock {
    /// Moves the clock forward.
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        let now = self
            .now
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Timestamp::from_datetime(*now)
    }
}
