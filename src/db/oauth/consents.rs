//! Queries on `oauth_consents`: what a user granted a client.

use diesel::{
    ExpressionMethods as _, Insertable, JoinOnDsl as _, OptionalExtension as _, QueryDsl as _,
    Queryable, Selectable, SelectableHelper as _,
};
use diesel_async::RunQueryDsl as _;

use super::clients::ClientRow;
use crate::db::schema::{oauth_clients, oauth_consents};
use crate::db::types::{Id, Timestamp};
use crate::db::{DbConn, DbResult, map_err};
use crate::with_backend;

/// An `oauth_consents` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_consents)]
pub struct ConsentRow {
    /// Row id.
    pub id: Id,
    /// Who granted.
    pub user_id: Id,
    /// To whom.
    pub client_id: String,
    /// Sorted, space-separated scopes.
    pub granted_scopes: String,
    /// First grant.
    pub created_at: Timestamp,
    /// The current grant's time.
    pub updated_at: Timestamp,
}

/// The consent of `user_id` to `client_id`.
pub async fn find_consent(
    conn: &mut DbConn,
    user_id: Id,
    client_id: &str,
) -> DbResult<Option<ConsentRow>> {
    map_err(with_backend!(conn, c => {
        oauth_consents::table
            .filter(oauth_consents::user_id.eq(user_id))
            .filter(oauth_consents::client_id.eq(client_id))
            .select(ConsentRow::as_select())
            .first(c)
            .await
            .optional()
    }))
}

/// Records a grant of exactly `scopes`, replacing an earlier one.
pub async fn grant(
    conn: &mut DbConn,
    user_id: Id,
    client_id: &str,
    scopes: &str,
    now: Timestamp,
) -> DbResult<()> {
    let row = ConsentRow {
        id: Id::new_random(),
        user_id,
        client_id: client_id.to_owned(),
        granted_scopes: scopes.to_owned(),
        created_at: now,
        updated_at: now,
    };
    map_err(with_backend!(conn, c => {
        diesel::insert_into(oauth_consents::table)
            .values(&row)
            .on_conflict((oauth_consents::user_id, oauth_consents::client_id))
            .do_update()
            .set((
                oauth_consents::granted_scopes.eq(scopes),
                oauth_consents::updated_at.eq(now),
            ))
            .execute(c)
            .await
    }))
    .map(drop)
}

/// The user's consents with their clients, newest grant first.
pub async fn list_consents(
    conn: &mut DbConn,
    user_id: Id,
) -> DbResult<Vec<(ConsentRow, ClientRow)>> {
    map_err(with_backend!(conn, c => {
        oauth_consents::table
            .inner_join(
                oauth_clients::table.on(oauth_clients::client_id.eq(oauth_consents::client_id)),
            )
            .filter(oauth_consents::user_id.eq(user_id))
            .order((oauth_consents::updated_at.desc(), oauth_consents::id.asc()))
            .select((ConsentRow::as_select(), ClientRow::as_select()))
            .load(c)
            .await
    }))
}

/// Deletes the consent; returns whether there was one.
pub async fn delete_consent(conn: &mut DbConn, user_id: Id, client_id: &str) -> DbResult<bool> {
    map_err(with_backend!(conn, c => {
        diesel::delete(
            oauth_consents::table
                .filter(oauth_consents::user_id.eq(user_id))
                .filter(oauth_consents::client_id.eq(client_id)),
        )
        .execute(c)
        .await
    }))
    .map(|n| n > 0)
}
