//! The caller's sessions (docs/endpoints.md#sessions).

use crate::db::sessions;
use crate::domain::types::Id;
use crate::error::Error;
use crate::service::connection;
use crate::service::principal::Principal;
use crate::service::views::Session;
use crate::state::AppState;

/// The caller's active sessions, most recently used first.
pub async fn list_my_sessions(state: &AppState, caller: &Principal) -> Result<Vec<Session>, Error> {
    let mut conn = connection(state).await?;
    let rows = sessions::list_live_sessions(&mut conn, caller.user.id, state.clock.now()).await?;
    Ok(rows.into_iter().map(Session::from).collect())
}

/// Ends one of the caller's sessions; returns it (for its device name).
pub async fn revoke_session(
    state: &AppState,
    caller: &Principal,
    id: Id,
) -> Result<Session, Error> {
    let mut conn = connection(state).await?;
    let session = sessions::find_session(&mut conn, id)
        .await?
        .ok_or(Error::NotFound("Session not found"))?;
    if session.user_id != caller.user.id {
        return Err(Error::forbidden("You can only revoke your own sessions"));
    }
    sessions::end_session(&mut conn, id, state.clock.now()).await?;
    Ok(session.into())
}

/// Deletes the caller's expired sessions; returns how many.
pub async fn delete_expired_sessions(state: &AppState, caller: &Principal) -> Result<usize, Error> {
    let mut conn = connection(state).await?;
    Ok(sessions::delete_expired_sessions(&mut conn, caller.user.id, state.clock.now()).await?)
}
