//! The caller's consents (docs/oauth.md#consents): what each client may do
//! on their behalf, and withdrawing it (which also revokes that client's
//! tokens).

use scoped_futures::ScopedFutureExt as _;

use crate::db::oauth::{consents, grants, tokens};
use crate::domain::types::Timestamp;
use crate::error::Error;
use crate::service::connection;
use crate::service::principal::Principal;
use crate::state::AppState;

/// A consent as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// The client.
    pub client_id: String,
    /// Its name.
    pub client_name: String,
    /// Its description.
    pub client_description: Option<String>,
    /// Exactly what was approved.
    pub granted_scopes: Vec<String>,
    /// When the current grant was made.
    pub granted_at: Timestamp,
}

/// The caller's consents, newest grant first.
pub async fn list_consents(state: &AppState, caller: &Principal) -> Result<Vec<Consent>, Error> {
    let mut conn = connection(state).await?;
    let rows = consents::list_consents(&mut conn, caller.user_id()).await?;
    Ok(rows
        .into_iter()
        .map(|(consent, client)| Consent {
            client_id: client.client_id,
            client_name: client.client_name,
            client_description: client.client_description,
            granted_scopes: super::scope_tokens(&consent.granted_scopes),
            granted_at: consent.updated_at,
        })
        .collect())
}

/// Revokes the caller's tokens of a client (even without a consent), then
/// deletes the consent; 404 when there was none.
pub async fn revoke_consent(
    state: &AppState,
    caller: &Principal,
    client_id: &str,
) -> Result<(), Error> {
    let (user_id, now) = (caller.user_id(), state.clock.now());
    let client_id = client_id.to_owned();
    let mut conn = connection(state).await?;
    let existed = conn
        .transaction(|c| {
            async move {
                tokens::revoke_user_tokens(c, user_id, Some(&client_id), now).await?;
                grants::end_user_grants(c, user_id, Some(&client_id), now).await?;
                Ok::<_, Error>(consents::delete_consent(c, user_id, &client_id).await?)
            }
            .scope_boxed()
        })
        .await?;
    if existed {
        Ok(())
    } else {
        Err(Error::NotFound("No consent found for this client"))
    }
}
