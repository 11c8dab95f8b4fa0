//! The provider's signing keys (docs/oauth.md#signing-keys): the configured
//! PEM file, or keys stored in the database with their private parts sealed
//! under a key derived from `SECRET_KEY`, rotated automatically.
//!
//! Rotation, run by every replica once a minute under a lock:
//! - a new key is stored [`PUBLISH_AHEAD`] before it signs, so relying
//!   parties that cache the JWK Set see it before any token it signs;
//! - a key stops being published [`RETAIN`] after its successor started
//!   signing, when every token it signed has expired;
//! - a key signs for `OAUTH_KEY_ROTATION_DAYS`, or until the deployment's
//!   algorithm changes; `identityd keys rotate` starts the next one by hand.

use std::sync::Arc;

use chrono::Duration;
use scoped_futures::ScopedFutureExt as _;
use secrecy::ExposeSecret as _;

use crate::auth::digest::derive_key;
use crate::auth::provider_keys::{Algorithm, KeyPair, KeyRing, ProviderKeys, ScheduledKey};
use crate::auth::sealed::SealingKey;
use crate::db::DbConn;
use crate::db::oauth::keys::{self, KeyRow};
use crate::domain::types::Timestamp;
use crate::error::Error;
use crate::service::connection;
use crate::state::AppState;

/// How long a new key is published before it signs: longer than any cache
/// of the JWK Set (five minutes) plus the reload interval of every replica.
pub const PUBLISH_AHEAD: Duration = Duration::hours(24);
/// How long a key stays published after it stopped signing: the longest
/// token it can have signed (access and ID tokens live one hour), and
/// clock skew.
pub const RETAIN: Duration = Duration::minutes(65);
/// How often every replica reloads the keys and runs the rotation.
pub const RELOAD_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// The sealing key of stored private keys.
fn sealing_key(state: &AppState) -> SealingKey {
    SealingKey::new(&derive_key(
        state.config.secret_key.expose_secret().as_bytes(),
        "oauth-signing-keys-v1",
    ))
}

/// The keys to sign and verify with, after a rotation pass.
pub async fn load(state: &AppState) -> anyhow::Result<Arc<KeyRing>> {
    if let Some(path) = &state.config.provider.signing_key_file {
        let pem = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("OAUTH_PROVIDER_SIGNING_KEY_FILE: {e}"))?;
        return Ok(Arc::new(KeyRing::new(ProviderKeys::single(
            KeyPair::from_pem(&pem)?,
        ))));
    }
    let rows = maintain(state)
        .await
        .map_err(|e| anyhow::anyhow!("loading signing keys: {e:?}"))?;
    Ok(Arc::new(KeyRing::new(open_all(state, &rows)?)))
}

/// Runs the rotation and publishes the result in `ring` (a configured key
/// file never rotates).
pub async fn reload(state: &AppState, ring: &KeyRing) -> Result<(), Error> {
    if state.config.provider.signing_key_file.is_some() {
        return Ok(());
    }
    let rows = maintain(state).await?;
    ring.replace(open_all(state, &rows).map_err(Error::internal)?);
    Ok(())
}

/// Reloads every [`RELOAD_EVERY`] until the task is aborted.
pub async fn schedule(state: AppState, ring: Arc<KeyRing>) {
    let mut ticks = tokio::time::interval(RELOAD_EVERY);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        if let Err(err) = reload(&state, &ring).await {
            tracing::warn!(error = ?err, "reloading signing keys failed; keeping the current set");
        }
    }
}

fn open_all(state: &AppState, rows: &[KeyRow]) -> anyhow::Result<ProviderKeys> {
    let sealing = sealing_key(state);
    let mut keys = Vec::with_capacity(rows.len());
    for row in rows {
        let algorithm = Algorithm::parse(&row.algorithm)
            .ok_or_else(|| anyhow::anyhow!("signing key {}: unknown algorithm", row.kid))?;
        let pair =
            KeyPair::open(algorithm, &row.private_key_encrypted, &sealing).ok_or_else(|| {
                anyhow::anyhow!(
                    "signing key {} cannot be opened: was SECRET_KEY changed?",
                    row.kid
                )
            })?;
        keys.push(ScheduledKey {
            pair,
            active_from: row.active_from,
        });
    }
    if keys.is_empty() {
        anyhow::bail!("no signing key");
    }
    Ok(ProviderKeys::new(keys))
}

/// A new key of `algorithm` (generated off the async workers), sealed.
async fn new_row(
    state: &AppState,
    algorithm: Algorithm,
    now: Timestamp,
    active_from: Timestamp,
) -> Result<KeyRow, Error> {
    let pair = tokio::task::spawn_blocking(move || KeyPair::generate(algorithm))
        .await
        .map_err(|e| Error::internal(anyhow::anyhow!("key generation: {e}")))?
        .map_err(Error::internal)?;
    Ok(KeyRow {
        kid: pair.kid.clone(),
        algorithm: algorithm.name().to_owned(),
        public_jwk: pair.public_jwk().to_string(),
        private_key_encrypted: pair.seal(&sealing_key(state)).map_err(Error::internal)?,
        created_at: now,
        active_from,
        retire_after: None,
    })
}

/// What one rotation pass decides, from the stored keys.
#[derive(Debug, Default, PartialEq, Eq)]
struct Plan {
    /// Store a new key signing from this instant.
    create_from: Option<Timestamp>,
    /// Keys whose successor signs: published until the given instant.
    retire: Vec<(String, Timestamp)>,
}

/// The rotation rules (module docs) over the live keys, oldest first.
fn plan(
    live: &[KeyRow],
    algorithm: Algorithm,
    rotate_after: Option<Duration>,
    now: Timestamp,
) -> Plan {
    let mut plan = Plan::default();
    let Some(current) = live.iter().rev().find(|k| k.active_from <= now) else {
        if live.is_empty() {
            plan.create_from = Some(now);
        }
        return plan;
    };
    let pending = live.iter().any(|k| k.active_from > now);
    let expired =
        rotate_after.is_some_and(|after| current.active_from + after - PUBLISH_AHEAD <= now);
    if !pending && (expired || current.algorithm != algorithm.name()) {
        plan.create_from = Some(now + PUBLISH_AHEAD);
    }
    for pair in live.windows(2) {
        let (key, successor) = (&pair[0], &pair[1]);
        if key.retire_after.is_none() && successor.active_from <= now {
            plan.retire
                .push((key.kid.clone(), successor.active_from + RETAIN));
        }
    }
    plan
}

/// One rotation pass under the creation lock; returns the keys to publish.
pub async fn maintain(state: &AppState) -> Result<Vec<KeyRow>, Error> {
    let now = state.clock.now();
    let provider = &state.config.provider;
    let algorithm = provider.signing_algorithm;
    let rotate_after =
        (provider.key_rotation_days > 0).then(|| Duration::days(provider.key_rotation_days));
    // Generated before the transaction: an RSA key takes a moment, and the
    // lock is held only to decide and store.
    let mut conn = connection(state).await?;
    let live = keys::list_keys(&mut conn, now).await?;
    let spare = match plan(&live, algorithm, rotate_after, now).create_from {
        Some(from) => Some(new_row(state, algorithm, now, from).await?),
        None => None,
    };
    conn.transaction(|c| {
        async move {
            keys::lock_key_creation(c).await?;
            keys::delete_retired(c, now).await?;
            let live = keys::list_keys(c, now).await?;
            let plan = plan(&live, algorithm, rotate_after, now);
            for (kid, until) in &plan.retire {
                keys::set_retire_after(c, kid, *until).await?;
            }
            if let (Some(from), Some(mut row)) = (plan.create_from, spare) {
                row.active_from = from;
                keys::insert_key(c, &row).await?;
                tracing::info!(kid = %row.kid, alg = %row.algorithm, active_from = %from.to_fixed_text(), "stored a new signing key");
            }
            Ok::<_, Error>(keys::list_keys(c, now).await?)
        }
        .scope_boxed()
    })
    .await
}

/// What `identityd keys rotate` did.
#[derive(Debug, Clone)]
pub struct Rotated {
    /// The new key.
    pub kid: String,
    /// When it signs.
    pub active_from: Timestamp,
}

/// Stores the next key by hand: it signs after [`PUBLISH_AHEAD`], or at
/// once with `immediately` (a compromised key), in which case every other
/// key stops being published now and the tokens they signed stop verifying.
pub async fn rotate(state: &AppState, immediately: bool) -> anyhow::Result<Rotated> {
    let fail = |e: Error| anyhow::anyhow!("{e:?}");
    let now = state.clock.now();
    let from = if immediately {
        now
    } else {
        now + PUBLISH_AHEAD
    };
    let row = new_row(state, state.config.provider.signing_algorithm, now, from)
        .await
        .map_err(fail)?;
    let mut conn = connection(state).await.map_err(fail)?;
    let rotated = Rotated {
        kid: row.kid.clone(),
        active_from: from,
    };
    let refused = conn
        .transaction(|c| {
            async move {
                keys::lock_key_creation(c).await?;
                let live = keys::list_keys(c, now).await?;
                if !immediately && let Some(pending) = live.iter().find(|k| k.active_from > now) {
                    return Ok::<_, Error>(Some(format!(
                        "key {} already waits to sign from {}",
                        pending.kid,
                        pending.active_from.to_fixed_text()
                    )));
                }
                if immediately {
                    for key in &live {
                        keys::set_retire_after(c, &key.kid, now).await?;
                    }
                }
                keys::insert_key(c, &row).await?;
                Ok(None)
            }
            .scope_boxed()
        })
        .await
        .map_err(fail)?;
    match refused {
        Some(message) => Err(anyhow::anyhow!(message)),
        None => Ok(rotated),
    }
}

/// Every stored key, oldest first, for `identityd keys list`.
pub async fn list(state: &AppState) -> Result<Vec<KeyRow>, Error> {
    let mut conn: DbConn = connection(state).await?;
    Ok(keys::list_keys(&mut conn, state.clock.now()).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hours: i64) -> Timestamp {
        Timestamp::from_datetime(chrono::DateTime::UNIX_EPOCH) + Duration::hours(hours)
    }

    fn key(kid: &str, alg: &str, from: i64, retire: Option<i64>) -> KeyRow {
        KeyRow {
            kid: kid.to_owned(),
            algorithm: alg.to_owned(),
            public_jwk: String::new(),
            private_key_encrypted: String::new(),
            created_at: at(from),
            active_from: at(from),
            retire_after: retire.map(at),
        }
    }

    #[test]
    fn rotation_publishes_ahead_and_retires_after_the_longest_token() {
        let days = Some(Duration::days(30));
        let ed = Algorithm::EdDsa;
        // Nothing stored: a key that signs now.
        assert_eq!(plan(&[], ed, days, at(0)).create_from, Some(at(0)));
        // A young key: nothing to do.
        let one = key("a", "EdDSA", 0, None);
        assert_eq!(
            plan(std::slice::from_ref(&one), ed, days, at(24)),
            Plan::default()
        );
        // A day before the key is 30 days old, its successor is published.
        let due = at(29 * 24);
        assert_eq!(
            plan(std::slice::from_ref(&one), ed, days, due).create_from,
            Some(due + PUBLISH_AHEAD)
        );
        // While the successor waits, nothing more.
        let next = key("b", "EdDSA", 30 * 24, None);
        let both = [one.clone(), next.clone()];
        assert_eq!(plan(&both, ed, days, at(29 * 24 + 1)), Plan::default());
        // Once it signs, the old key is kept for the longest token.
        let after = plan(&both, ed, days, at(30 * 24));
        assert_eq!(after.retire, vec![("a".to_owned(), at(30 * 24) + RETAIN)]);
        assert_eq!(after.create_from, None);
        // Rotation by hand only: an old key stays.
        assert_eq!(
            plan(std::slice::from_ref(&one), ed, None, at(1000 * 24)),
            Plan::default()
        );
        // A new algorithm is rolled out like a rotation.
        assert_eq!(
            plan(&[one], Algorithm::Rs256, None, at(1)).create_from,
            Some(at(1) + PUBLISH_AHEAD)
        );
    }
}
