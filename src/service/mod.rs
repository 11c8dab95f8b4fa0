//! Use cases, shared by every transport. Takes validated domain input and
//! returns domain values or an [`Error`](crate::error::Error). Never imports
//! tonic, axum or prost.

pub mod admin;
pub mod auth;
pub mod authz;
pub mod cleanup;
pub mod demo;
pub mod oauth;
pub mod organizations;
pub mod principal;
pub mod principal_cache;
pub mod sessions;
pub mod social;
pub mod users;
pub mod views;

use crate::db::DbConn;
use crate::domain::types::{Id, Timestamp};
use crate::error::Error;
use crate::state::AppState;

/// A pooled connection, or 503 when none is free in time.
pub(crate) async fn connection(state: &AppState) -> Result<crate::db::DbConn, Error> {
    Ok(state.db.get().await?)
}

/// Ends a user's access everywhere, inside the caller's transaction: every
/// first-party session but `keep` (the login cookie of the authorization
/// server included), every refresh token the authorization server issued
/// (so their access tokens stop being active too), its unused codes and
/// pending authorization requests, and the social-login flows the user
/// started. Returns how many
/// sessions were active. Password change and reset, logout everywhere,
/// deactivation and deletion all go through here.
pub(crate) async fn end_access(
    conn: &mut DbConn,
    user_id: Id,
    keep: Option<Id>,
    now: Timestamp,
) -> Result<usize, Error> {
    let ended = crate::db::sessions::end_user_sessions(conn, user_id, keep, now).await?;
    crate::db::oauth::tokens::revoke_user_tokens(conn, user_id, None, now).await?;
    crate::db::oauth::grants::end_user_grants(conn, user_id, None, now).await?;
    crate::db::social::delete_user_states(conn, user_id).await?;
    Ok(ended)
}
