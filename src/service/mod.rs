//! Use cases, shared by every transport. Takes validated domain input and
//! returns domain values or an [`Error`](crate::error::Error). Never imports
//! tonic, axum or prost.

pub mod admin;
pub mod auth;
pub mod authz;
pub mod organizations;
pub mod principal;
pub mod sessions;
pub mod users;
pub mod views;

use crate::error::Error;
use crate::state::AppState;

/// A pooled connection, or 503 when none is free in time.
pub(crate) async fn connection(state: &AppState) -> Result<crate::db::DbConn, Error> {
    Ok(state.db.get().await?)
}
