//! Per-process GCRA state: a sharded map from key to TAT. Keys whose TAT
//! has passed are worthless (an unknown key starts full) and are dropped
//! when a shard fills, so memory stays bounded under a flood of keys.

use std::collections::HashMap;
use std::hash::{BuildHasher as _, RandomState};
use std::sync::Mutex;

use super::gcra::{Rate, Verdict, decide};

const SHARDS: usize = 16;
/// Keys per shard (about 260,000 in all).
const SHARD_CAPACITY: usize = 16_384;

/// The in-memory store.
#[derive(Debug)]
pub struct MemoryStore {
    hasher: RandomState,
    shards: Vec<Mutex<HashMap<String, i64>>>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self {
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }
}

impl MemoryStore {
    fn shard(&self, key: &str) -> &Mutex<HashMap<String, i64>> {
        let index = self.hasher.hash_one(key) as usize % SHARDS;
        &self.shards[index]
    }

    /// Decides one request of `key` at `now_ms`.
    pub fn check(&self, key: &str, rate: Rate, now_ms: i64) -> Verdict {
        let mut map = self
            .shard(key)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let verdict = decide(map.get(key).copied(), now_ms, rate);
        if let Verdict::Allow { tat, .. } = verdict {
            if map.len() >= SHARD_CAPACITY && !map.contains_key(key) {
                map.retain(|_, t| *t > now_ms);
            }
            // Full of live keys: the request is admitted untracked rather
            // than refused, and the overflow is visible in the log.
            if map.len() >= SHARD_CAPACITY && !map.contains_key(key) {
                tracing::warn!("rate-limit table full; a key goes untracked");
                return verdict;
            }
            map.insert(key.to_owned(), tat);
        }
        verdict
    }

    /// Forgets `key`.
    pub fn forget(&self, key: &str) {
        self.shard(key)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_independent_and_forgettable() {
        let store = MemoryStore::default();
        let rate = Rate::per(1, 60_000);
        assert!(matches!(store.check("a", rate, 0), Verdict::Allow { .. }));
        assert!(matches!(store.check("a", rate, 0), Verdict::Deny { .. }));
        assert!(matches!(store.check("b", rate, 0), Verdict::Allow { .. }));
        store.forget("a");
        assert!(matches!(store.check("a", rate, 0), Verdict::Allow { .. }));
    }

    #[test]
    fn a_flood_of_keys_stays_bounded() {
        let store = MemoryStore::default();
        let rate = Rate::per(10, 1_000);
        for i in 0..(SHARDS * SHARD_CAPACITY * 2) {
            store.check(&format!("k{i}"), rate, (i / 1000) as i64 * 1_000);
        }
        let total: usize = store.shards.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(total <= SHARDS * SHARD_CAPACITY);
    }
}
