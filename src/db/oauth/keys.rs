//! Queries on `oauth_signing_keys`: the provider's keys, private parts
//! sealed.

use diesel::{
    ExpressionMethods as _, Insertable, QueryDsl as _, Queryable, Selectable, SelectableHelper as _,
};
use diesel_async::RunQueryDsl as _;

use crate::db::schema::oauth_signing_keys as k;
use crate::db::types::Timestamp;
use crate::db::{Backend, DbConn, DbResult, map_err};
use crate::with_backend;

/// An `oauth_signing_keys` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = k)]
pub struct KeyRow {
    /// RFC 7638 thumbprint.
    pub kid: String,
    /// JWS algorithm (`EdDSA`).
    pub algorithm: String,
    /// The public JWK (JSON).
    pub public_jwk: String,
    /// The private key, sealed.
    pub private_key_encrypted: String,
    /// Generated.
    pub created_at: Timestamp,
    /// Signs from this instant.
    pub active_from: Timestamp,
    /// No longer published after this instant.
    pub retire_after: Option<Timestamp>,
}

/// Every key still published at `now`, oldest first.
pub async fn list_keys(conn: &mut DbConn, now: Timestamp) -> DbResult<Vec<KeyRow>> {
    let rows: Vec<KeyRow> = map_err(with_backend!(conn, c => {
        k::table
            .order((k::active_from.asc(), k::kid.asc()))
            .select(KeyRow::as_select())
            .load(c)
            .await
    }))?;
    Ok(rows
        .into_iter()
        .filter(|r| r.retire_after.is_none_or(|at| at > now))
        .collect())
}

/// Inserts a key.
pub async fn insert_key(conn: &mut DbConn, row: &KeyRow) -> DbResult<()> {
    map_err(with_backend!(conn, c => {
        diesel::insert_into(k::table).values(row).execute(c).await
    }))
    .map(drop)
}

/// Serialises key creation across replicas for the rest of the transaction
/// (PostgreSQL advisory lock; SQLite's `BEGIN IMMEDIATE` already does).
pub async fn lock_key_creation(conn: &mut DbConn) -> DbResult<()> {
    use diesel_async::SimpleAsyncConnection as _;
    match conn.backend() {
        Backend::Pg(c) => map_err(
            c.batch_execute("SELECT pg_advisory_xact_lock(7460314)")
                .await,
        ),
        Backend::Sqlite(_) => Ok(()),
    }
}

/// Removes the keys no longer published at `now`.
pub async fn delete_retired(conn: &mut DbConn, now: Timestamp) -> DbResult<usize> {
    map_err(with_backend!(conn, c => {
        diesel::delete(k::table.filter(k::retire_after.le(now)))
            .execute(c)
            .await
    }))
}

/// Sets until when a key is published.
pub async fn set_retire_after(conn: &mut DbConn, kid: &str, until: Timestamp) -> DbResult<()> {
    map_err(with_backend!(conn, c => {
        diesel::update(k::table.filter(k::kid.eq(kid)))
            .set(k::retire_after.eq(Some(until)))
            .execute(c)
            .await
    }))
    .map(drop)
}
