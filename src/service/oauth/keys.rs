//! Loading the provider's signing keys at start-up: the configured PEM file,
//! or the keys stored in the database (the first start generates one, under
//! a lock so that replicas starting together agree on it). Private parts are
//! stored sealed under a key derived from `SECRET_KEY`.

use scoped_futures::ScopedFutureExt as _;
use secrecy::ExposeSecret as _;

use crate::auth::digest::derive_key;
use crate::auth::provider_keys::{KeyPair, ProviderKeys};
use crate::auth::sealed::SealingKey;
use crate::db::oauth::keys::{self, KeyRow};
use crate::error::Error;
use crate::state::AppState;

/// The sealing key of stored private keys.
fn sealing_key(state: &AppState) -> SealingKey {
    SealingKey::new(&derive_key(
        state.config.secret_key.expose_secret().as_bytes(),
        "oauth-signing-keys-v1",
    ))
}

/// The keys to sign and verify with.
pub async fn load(state: &AppState) -> anyhow::Result<ProviderKeys> {
    if let Some(path) = &state.config.provider.signing_key_file {
        let pem = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("OAUTH_PROVIDER_SIGNING_KEY_FILE: {e}"))?;
        return Ok(ProviderKeys::new(KeyPair::from_pem(&pem)?, &[]));
    }
    let sealing = sealing_key(state);
    let now = state.clock.now();
    let mut conn = state.db.get().await?;
    let rows = conn
        .transaction(|c| {
            let sealing = sealing.clone();
            async move {
                keys::lock_key_creation(c).await?;
                let existing = keys::list_keys(c, now).await?;
                if !existing.is_empty() {
                    return Ok::<_, Error>(existing);
                }
                let pair = KeyPair::generate();
                keys::insert_key(
                    c,
                    &KeyRow {
                        kid: pair.kid.clone(),
                        algorithm: "EdDSA".to_owned(),
                        public_jwk: pair.public_jwk().to_string(),
                        private_key_encrypted: pair.seal(&sealing),
                        created_at: now,
                        active_from: now,
                        retire_after: None,
                    },
                )
                .await?;
                tracing::info!(kid = %pair.kid, "generated the authorization server's signing key");
                Ok(keys::list_keys(c, now).await?)
            }
            .scope_boxed()
        })
        .await
        .map_err(|e| anyhow::anyhow!("loading signing keys: {e:?}"))?;
    let mut pairs = Vec::new();
    for row in &rows {
        let pair = KeyPair::open(&row.private_key_encrypted, &sealing).ok_or_else(|| {
            anyhow::anyhow!(
                "signing key {} cannot be opened: was SECRET_KEY changed?",
                row.kid
            )
        })?;
        pairs.push((row.active_from, pair));
    }
    // The newest key already active signs; every loaded key is published.
    let signing = pairs
        .iter()
        .filter(|(from, _)| *from <= now)
        .max_by_key(|(from, _)| *from)
        .or_else(|| pairs.first())
        .map(|(_, pair)| pair.clone())
        .ok_or_else(|| anyhow::anyhow!("no signing key"))?;
    let all: Vec<KeyPair> = pairs.into_iter().map(|(_, pair)| pair).collect();
    Ok(ProviderKeys::new(signing, &all))
}
