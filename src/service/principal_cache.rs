//! An optional, short-lived cache of bearer lookups (docs/operations.md#principal-cache):
//! session id -> (session row, user row), so that a burst of reads by one
//! session costs one database query instead of one per request.
//!
//! Off by default (`AUTH_CACHE_TTL_MS=0`). When on, correctness rests on two
//! rules:
//!
//! - **This process**: every request that may write (any method not in
//!   [`READ_ONLY_METHODS`], every OAuth or page request, a cleanup run)
//!   bumps an epoch when it ends, however it ends ([`WriteGuard`]). A lookup
//!   records the epoch *before* it reads the database, and an entry is only
//!   served while the epoch is unchanged: a write that commits after a
//!   read began always bumps after it, so no stale row survives a local write.
//! - **Other processes** (replicas, `identityd cleanup`): their writes are
//!   not seen; an entry lives at most the TTL. A revoked session or a
//!   deactivated user keeps working on *another replica* for at most that
//!   long. That bound is the price of the cache, and why it is opt-in.
//!
//! Every check of bearer validation (session owner, liveness at the current
//! time, user usable) still runs on a cached row; only the query is saved.
//! Entries are only created for valid tokens of live sessions, so an
//! anonymous client cannot fill it, and it holds at most `capacity` entries.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::db::sessions::SessionRow;
use crate::db::users::UserRow;
use crate::domain::types::Id;

/// gRPC methods that never write: requests to them leave the cache valid.
/// A method missing here only costs cache hits, never correctness.
pub const READ_ONLY_METHODS: &[&str] = &[
    "/identity.v1.UserService/GetMe",
    "/identity.v1.UserService/GetUser",
    "/identity.v1.UserService/ListUsers",
    "/identity.v1.SessionService/ListMySessions",
    "/identity.v1.AdminService/ListUsers",
    "/identity.v1.AdminService/GetUser",
    "/identity.v1.AdminService/GetStats",
    "/identity.v1.AdminService/ListSessions",
    "/identity.v1.OrganizationService/ListMyOrganizations",
    "/identity.v1.OrganizationService/GetOrganization",
    "/identity.v1.OrganizationService/ListMembers",
];

struct Entry {
    session: SessionRow,
    user: UserRow,
    epoch: u64,
    stored: Instant,
}

/// See the module documentation.
pub struct PrincipalCache {
    ttl: Duration,
    capacity: usize,
    epoch: AtomicU64,
    entries: Mutex<HashMap<Id, Entry>>,
}

impl std::fmt::Debug for PrincipalCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrincipalCache")
            .field("ttl", &self.ttl)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl PrincipalCache {
    /// A cache keeping entries for `ttl` (zero: off), at most `capacity`.
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity,
            epoch: AtomicU64::new(0),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Whether lookups are cached at all.
    pub fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// The epoch to pass to [`put`](Self::put); read it before the query.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// The rows of session `id`, if cached, fresh and no local write
    /// happened since they were read.
    pub fn get(&self, id: Id) -> Option<(SessionRow, UserRow)> {
        if !self.enabled() {
            return None;
        }
        let epoch = self.epoch();
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.get(&id)?;
        (entry.epoch == epoch && entry.stored.elapsed() < self.ttl)
            .then(|| (entry.session.clone(), entry.user.clone()))
    }

    /// Stores rows read after [`epoch`](Self::epoch) returned `epoch`.
    pub fn put(&self, id: Id, session: &SessionRow, user: &UserRow, epoch: u64) {
        if !self.enabled() || epoch != self.epoch() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity {
            let ttl = self.ttl;
            entries.retain(|_, e| e.epoch == epoch && e.stored.elapsed() < ttl);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(
            id,
            Entry {
                session: session.clone(),
                user: user.clone(),
                epoch,
                stored: Instant::now(),
            },
        );
    }

    /// Makes every entry stale (a local write may have changed any row).
    pub fn invalidate(&self) {
        if self.enabled() {
            self.epoch.fetch_add(1, Ordering::AcqRel);
        }
    }
}

/// Invalidates the cache when dropped: held across a request that may
/// write, so that even a request cancelled after its commit invalidates.
#[derive(Debug)]
pub struct WriteGuard(Option<Arc<PrincipalCache>>);

impl WriteGuard {
    /// A guard over `cache` (a no-op when the cache is off).
    pub fn new(cache: &Arc<PrincipalCache>) -> Self {
        Self(cache.enabled().then(|| cache.clone()))
    }

    /// For a request that turned out not to write.
    pub fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for WriteGuard {
    fn drop(&mut self) {
        if let Some(cache) = &self.0 {
            cache.invalidate();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::types::Timestamp;

    fn rows() -> (SessionRow, UserRow) {
        let now = Timestamp::from_datetime(
            chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default(),
        );
        let user = UserRow {
            id: Id::new_random(),
            email: "a@example.com".to_owned(),
            password_hash: None,
            first_name: "A".to_owned(),
            last_name: None,
            phone_number: None,
            is_active: true,
            is_superuser: false,
            preferences: None,
            locale: None,
            deleted_at: None,
            created_at: now,
            updated_at: now,
        };
        let session = SessionRow {
            id: Id::new_random(),
            user_id: user.id,
            refresh_token_jti: "jti".to_owned(),
            device_name: None,
            device_id: None,
            ip_address: None,
            user_agent: None,
            last_used_at: now,
            expires_at: now,
            is_active: true,
            location_city: None,
            location_country: None,
            created_at: now,
            updated_at: now,
        };
        (session, user)
    }

    #[test]
    fn off_by_default_caches_nothing() {
        let cache = PrincipalCache::new(Duration::ZERO, 10);
        let (s, u) = rows();
        cache.put(s.id, &s, &u, cache.epoch());
        assert!(cache.get(s.id).is_none());
    }

    #[test]
    fn a_write_after_the_read_began_discards_the_rows() {
        let cache = Arc::new(PrincipalCache::new(Duration::from_secs(60), 10));
        let (s, u) = rows();
        let epoch = cache.epoch();
        // A write commits while the lookup's query runs.
        drop(WriteGuard::new(&cache));
        cache.put(s.id, &s, &u, epoch);
        assert!(cache.get(s.id).is_none());
        // The next lookup stores, and a later write makes it stale.
        cache.put(s.id, &s, &u, cache.epoch());
        assert!(cache.get(s.id).is_some());
        WriteGuard::new(&cache).disarm();
        assert!(
            cache.get(s.id).is_some(),
            "a disarmed guard keeps the cache"
        );
        drop(WriteGuard::new(&cache));
        assert!(cache.get(s.id).is_none());
    }

    #[test]
    fn entries_expire_and_the_map_stays_bounded() {
        let cache = PrincipalCache::new(Duration::from_millis(30), 3);
        let (s, u) = rows();
        cache.put(s.id, &s, &u, cache.epoch());
        std::thread::sleep(Duration::from_millis(40));
        assert!(cache.get(s.id).is_none());
        for _ in 0..10 {
            let (s, u) = rows();
            cache.put(s.id, &s, &u, cache.epoch());
        }
        let len = cache.entries.lock().map(|e| e.len()).unwrap_or_default();
        assert!(len <= 3, "{len} entries");
    }
}
