//! Queries on `oauth_provider_refresh_tokens`: refresh tokens (hashed), each
//! paired with the `jti` of the access token issued with it, grouped in
//! families (everything rotated from one authorization code).

use diesel::{
    ExpressionMethods as _, Insertable, OptionalExtension as _, QueryDsl as _, Queryable,
    Selectable, SelectableHelper as _,
};
use diesel_async::RunQueryDsl as _;

use crate::db::schema::oauth_provider_refresh_tokens as t;
use crate::db::types::{Id, Timestamp};
use crate::db::{DbConn, DbResult, map_err};
use crate::with_backend;

/// An `oauth_provider_refresh_tokens` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = t)]
pub struct RefreshRow {
    /// Row id.
    pub id: Id,
    /// SHA-256 hex of the token.
    pub token_hash: String,
    /// `jti` of the paired access token.
    pub jti: String,
    /// The authorization code's id, shared by every rotation.
    pub family_id: Id,
    /// The client.
    pub client_id: String,
    /// The user.
    pub user_id: Id,
    /// Granted scope, sorted.
    pub scope: String,
    /// The authorization request's nonce, kept for later ID tokens.
    pub nonce: Option<String>,
    /// End of life.
    pub expires_at: Timestamp,
    /// Revoked (rotated, logged out, reused).
    pub revoked: bool,
    /// When revoked.
    pub revoked_at: Option<Timestamp>,
    /// Last rotation.
    pub last_used_at: Option<Timestamp>,
    /// User-Agent at issuance (at most 500 characters).
    pub device_info: Option<String>,
    /// Client IP at issuance.
    pub ip_address: Option<String>,
    /// Issued.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// RFC 8707 resource indicators, space-separated.
    pub resource: Option<String>,
    /// When the user logged in (the ID token's `auth_time`).
    pub auth_time: Option<Timestamp>,
    /// The login session (the ID token's `sid`).
    pub sid: Option<String>,
}

impl RefreshRow {
    /// Not revoked and not expired.
    pub fn is_live(&self, now: Timestamp) -> bool {
        !self.revoked && self.expires_at > now
    }
}

/// Inserts a refresh token.
pub async fn insert_refresh(conn: &mut DbConn, row: &RefreshRow) -> DbResult<()> {
    map_err(with_backend!(conn, c => {
        diesel::insert_into(t::table).values(row).execute(c).await
    }))
    .map(drop)
}

/// A refresh token by its hash.
pub async fn find_by_hash(conn: &mut DbConn, token_hash: &str) -> DbResult<Option<RefreshRow>> {
    map_err(with_backend!(conn, c => {
        t::table
            .filter(t::token_hash.eq(token_hash))
            .select(RefreshRow::as_select())
            .first(c)
            .await
            .optional()
    }))
}

/// The refresh token paired with an access token.
pub async fn find_by_jti(conn: &mut DbConn, jti: &str) -> DbResult<Option<RefreshRow>> {
    map_err(with_backend!(conn, c => {
        t::table
            .filter(t::jti.eq(jti))
            .select(RefreshRow::as_select())
            .first(c)
            .await
            .optional()
    }))
}

/// Revokes one token if it is still unrevoked (rotation, revocation);
/// returns whether this call revoked it.
pub async fn revoke(conn: &mut DbConn, id: Id, now: Timestamp) -> DbResult<bool> {
    map_err(with_backend!(conn, c => {
        diesel::update(t::table.find(id).filter(t::revoked.eq(false)))
            .set((
                t::revoked.eq(true),
                t::revoked_at.eq(now),
                t::last_used_at.eq(now),
                t::updated_at.eq(now),
            ))
            .execute(c)
            .await
    }))
    .map(|n| n > 0)
}

/// Revokes every live token of a family; returns how many. Run it in a
/// transaction: on PostgreSQL it first locks the family's rows, so a
/// rotation in flight commits before the update, whose fresh snapshot then
/// sees (and revokes) the token that rotation issued; a later rotation
/// waits, then finds its token revoked. (SQLite's `BEGIN IMMEDIATE`
/// already serialises.)
pub async fn revoke_family(conn: &mut DbConn, family_id: Id, now: Timestamp) -> DbResult<usize> {
    if let crate::db::Backend::Pg(c) = conn.backend() {
        map_err(
            t::table
                .filter(t::family_id.eq(family_id))
                .select(t::id)
                .for_update()
                .load::<Id>(c)
                .await,
        )?;
    }
    map_err(with_backend!(conn, c => {
        diesel::update(
            t::table
                .filter(t::family_id.eq(family_id))
                .filter(t::revoked.eq(false)),
        )
        .set((t::revoked.eq(true), t::revoked_at.eq(now), t::updated_at.eq(now)))
        .execute(c)
        .await
    }))
}

/// Revokes every live token of a user, for one client or all; returns how many.
pub async fn revoke_user_tokens(
    conn: &mut DbConn,
    user_id: Id,
    client_id: Option<&str>,
    now: Timestamp,
) -> DbResult<usize> {
    map_err(with_backend!(conn, c => {
        let mut query = diesel::update(t::table)
            .filter(t::user_id.eq(user_id))
            .filter(t::revoked.eq(false))
            .into_boxed();
        if let Some(client_id) = client_id {
            query = query.filter(t::client_id.eq(client_id));
        }
        query
            .set((t::revoked.eq(true), t::revoked_at.eq(now), t::updated_at.eq(now)))
            .execute(c)
            .await
    }))
}
