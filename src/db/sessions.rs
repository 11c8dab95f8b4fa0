//! Queries on `user_sessions`: one row per login on one device.

use diesel::{
    BoolExpressionMethods as _, ExpressionMethods as _, Insertable, OptionalExtension as _,
    QueryDsl as _, Queryable, Selectable, SelectableHelper as _,
};
use diesel_async::RunQueryDsl as _;

use super::schema::{user_sessions, users};
use super::types::{Id, Timestamp};
use super::users::UserRow;
use super::{Backend, DbConn, DbResult, map_err};
use crate::with_backend;

/// A `user_sessions` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = user_sessions)]
pub struct SessionRow {
    /// The `sid` of the session's tokens.
    pub id: Id,
    /// Owner.
    pub user_id: Id,
    /// `jti` of the only refresh token that may still be used.
    pub refresh_token_jti: String,
    /// Derived from the User-Agent.
    pub device_name: Option<String>,
    /// `X-Device-Id` as sent.
    pub device_id: Option<String>,
    /// Client IP (trusted-proxy aware).
    pub ip_address: Option<String>,
    /// Raw User-Agent, stored but never returned.
    pub user_agent: Option<String>,
    /// Last refresh.
    pub last_used_at: Timestamp,
    /// Sliding expiry (the current refresh token's `exp`).
    pub expires_at: Timestamp,
    /// False once ended; never re-opened.
    pub is_active: bool,
    /// Always `None` (no geolocation).
    pub location_city: Option<String>,
    /// Always `None` (no geolocation).
    pub location_country: Option<String>,
    /// Login time; starts the absolute lifetime.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

impl SessionRow {
    /// Active: not ended and not expired.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.is_active && self.expires_at > now
    }
}

/// Inserts a session.
pub async fn insert_session(conn: &mut DbConn, row: &SessionRow) -> DbResult<()> {
    map_err(with_backend!(conn, c => {
        diesel::insert_into(user_sessions::table).values(row).execute(c).await
    }))
    .map(drop)
}

/// A session and its owner: what bearer validation needs, in one query.
pub async fn find_session_with_user(
    conn: &mut DbConn,
    id: Id,
) -> DbResult<Option<(SessionRow, UserRow)>> {
    map_err(with_backend!(conn, c => {
        user_sessions::table
            .inner_join(users::table)
            .filter(user_sessions::id.eq(id))
            .select((SessionRow::as_select(), UserRow::as_select()))
            .first(c)
            .await
            .optional()
    }))
}

/// A session, read for update: the row is locked until the transaction ends
/// (`FOR UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE` already serialises).
pub async fn lock_session(conn: &mut DbConn, id: Id) -> DbResult<Option<SessionRow>> {
    map_err(match conn.backend() {
        Backend::Pg(c) => user_sessions::table
            .find(id)
            .select(SessionRow::as_select())
            .for_update()
            .first(c)
            .await
            .optional(),
        Backend::Sqlite(c) => user_sessions::table
            .find(id)
            .select(SessionRow::as_select())
            .first(c)
            .await
            .optional(),
    })
}

/// A session by id.
pub async fn find_session(conn: &mut DbConn, id: Id) -> DbResult<Option<SessionRow>> {
    map_err(with_backend!(conn, c => {
        user_sessions::table
            .find(id)
            .select(SessionRow::as_select())
            .first(c)
            .await
            .optional()
    }))
}

/// Rotates the refresh token of a live session only if its current token id
/// is still `current`; false when another request changed it first.
pub async fn swap_refresh_token(
    conn: &mut DbConn,
    id: Id,
    current: &str,
    refresh_token_jti: &str,
    expires_at: Timestamp,
    now: Timestamp,
) -> DbResult<bool> {
    map_err(with_backend!(conn, c => {
        diesel::update(
            user_sessions::table
                .find(id)
                .filter(user_sessions::refresh_token_jti.eq(current))
                .filter(user_sessions::is_active.eq(true)),
        )
        .set((
            user_sessions::refresh_token_jti.eq(refresh_token_jti),
            user_sessions::expires_at.eq(expires_at),
            user_sessions::last_used_at.eq(now),
            user_sessions::updated_at.eq(now),
        ))
        .execute(c)
        .await
    }))
    .map(|changed| changed == 1)
}

/// Ends one session (no-op when already ended).
pub async fn end_session(conn: &mut DbConn, id: Id, now: Timestamp) -> DbResult<()> {
    map_err(with_backend!(conn, c => {
        diesel::update(
            user_sessions::table
                .find(id)
                .filter(user_sessions::is_active.eq(true)),
        )
        .set((user_sessions::is_active.eq(false), user_sessions::updated_at.eq(now)))
        .execute(c)
        .await
    }))
    .map(drop)
}

/// Ends every session of `user_id` except `keep`; returns how many of them
/// were active (not ended and not expired) before.
pub async fn end_user_sessions(
    conn: &mut DbConn,
    user_id: Id,
    keep: Option<Id>,
    now: Timestamp,
) -> DbResult<usize> {
    // The sentinel never matches a real session: ids are random v4 UUIDs.
    let keep = keep.unwrap_or(Id(uuid::Uuid::nil()));
    let live: i64 = map_err(with_backend!(conn, c => {
        user_sessions::table
            .filter(user_sessions::user_id.eq(user_id))
            .filter(user_sessions::id.ne(keep))
            .filter(user_sessions::is_active.eq(true))
            .filter(user_sessions::expires_at.gt(now))
            .count()
            .get_result(c)
            .await
    }))?;
    map_err(with_backend!(conn, c => {
        diesel::update(
            user_sessions::table
                .filter(user_sessions::user_id.eq(user_id))
                .filter(user_sessions::id.ne(keep))
                .filter(user_sessions::is_active.eq(true)),
        )
        .set((user_sessions::is_active.eq(false), user_sessions::updated_at.eq(now)))
        .execute(c)
        .await
    }))?;
    Ok(usize::try_from(live).unwrap_or(0))
}

/// The active sessions of a user, most recently used first (then newest,
/// then id).
pub async fn list_live_sessions(
    conn: &mut DbConn,
    user_id: Id,
    now: Timestamp,
) -> DbResult<Vec<SessionRow>> {
    map_err(with_backend!(conn, c => {
        user_sessions::table
            .filter(user_sessions::user_id.eq(user_id))
            .filter(user_sessions::is_active.eq(true))
            .filter(user_sessions::expires_at.gt(now))
            .order((
                user_sessions::last_used_at.desc(),
                user_sessions::created_at.desc(),
                user_sessions::id.asc(),
            ))
            .select(SessionRow::as_select())
            .load(c)
            .await
    }))
}

/// Deletes the sessions of a user that expired at or before `now`, ended
/// or not; returns how many.
pub async fn delete_expired_sessions(
    conn: &mut DbConn,
    user_id: Id,
    now: Timestamp,
) -> DbResult<usize> {
    map_err(with_backend!(conn, c => {
        diesel::delete(
            user_sessions::table
                .filter(user_sessions::user_id.eq(user_id))
                .filter(user_sessions::expires_at.le(now)),
        )
        .execute(c)
        .await
    }))
}

/// Every user's sessions for administrators: active ones (`live`) or only
/// ended or expired ones, most recently used first, with their users.
pub async fn list_all_sessions(
    conn: &mut DbConn,
    live: bool,
    now: Timestamp,
    page: crate::domain::page::PageRequest,
) -> DbResult<(Vec<(SessionRow, UserRow)>, i64)> {
    macro_rules! base {
        () => {{
            // Deleted users disappear from every list.
            let q = user_sessions::table
                .inner_join(users::table)
                .filter(users::deleted_at.is_null())
                .into_boxed();
            if live {
                q.filter(
                    user_sessions::is_active
                        .eq(true)
                        .and(user_sessions::expires_at.gt(now)),
                )
            } else {
                q.filter(
                    user_sessions::is_active
                        .eq(false)
                        .or(user_sessions::expires_at.le(now)),
                )
            }
        }};
    }
    map_err(with_backend!(conn, c => {
        let total: i64 = base!().count().get_result(c).await?;
        let rows = base!()
            .order((user_sessions::last_used_at.desc(), user_sessions::id.asc()))
            .select((SessionRow::as_select(), UserRow::as_select()))
            .offset(page.offset())
            .limit(page.limit())
            .load(c)
            .await?;
        Ok::<_, diesel::result::Error>((rows, total))
    }))
}
