//! Queries on `oauth_accounts` (identities at social providers linked to
//! users) and `oauth_states` (flows in progress, single use).

use diesel::{
    ExpressionMethods as _, Insertable, OptionalExtension as _, QueryDsl as _, Queryable,
    Selectable, SelectableHelper as _,
};
use diesel_async::RunQueryDsl as _;

use super::schema::{oauth_accounts, oauth_states};
use super::types::{Id, Timestamp};
use super::{DbConn, DbResult, map_err};
use crate::with_backend;

/// An `oauth_accounts` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_accounts)]
pub struct AccountRow {
    /// Row id (part of the encryption's associated data).
    pub id: Id,
    /// The linked user.
    pub user_id: Id,
    /// `google`, `github` or `oidc`.
    pub provider: String,
    /// The provider's id of the identity.
    pub provider_user_id: String,
    /// The identity's email, as the provider reported it.
    pub provider_email: Option<String>,
    /// Sealed provider access token (only with a configured key).
    pub access_token_encrypted: Option<String>,
    /// Sealed provider refresh token.
    pub refresh_token_encrypted: Option<String>,
    /// When the provider access token expires, if it said.
    pub token_expires_at: Option<Timestamp>,
    /// Linked.
    pub created_at: Timestamp,
    /// Last login through it.
    pub updated_at: Timestamp,
}

/// An `oauth_states` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_states)]
pub struct StateRow {
    /// Row id.
    pub id: Id,
    /// SHA-256 hex of the state.
    pub state: String,
    /// PKCE verifier for the provider (OpenID providers).
    pub code_verifier: Option<String>,
    /// The nonce the ID token must carry (OpenID providers).
    pub nonce: Option<String>,
    /// The provider.
    pub provider: String,
    /// The redirect URI the callback must present again.
    pub redirect_uri: Option<String>,
    /// The caller of a link flow.
    pub user_id: Option<Id>,
    /// End of life.
    pub expires_at: Timestamp,
    /// Created.
    pub created_at: Timestamp,
    /// Created.
    pub updated_at: Timestamp,
}

/// Stores a state.
pub async fn insert_state(conn: &mut DbConn, row: &StateRow) -> DbResult<()> {
    map_err(with_backend!(conn, c => {
        diesel::insert_into(oauth_states::table).values(row).execute(c).await
    }))
    .map(drop)
}

/// Deletes the states that expired before `now`; returns how many.
pub async fn purge_expired_states(conn: &mut DbConn, now: Timestamp) -> DbResult<usize> {
    map_err(with_backend!(conn, c => {
        diesel::delete(oauth_states::table.filter(oauth_states::expires_at.lt(now)))
            .execute(c)
            .await
    }))
}

/// Removes and returns the state with this hash: a state works once,
/// whatever the outcome of the flow presenting it.
pub async fn take_state(conn: &mut DbConn, state_hash: &str) -> DbResult<Option<StateRow>> {
    map_err(with_backend!(conn, c => {
        diesel::delete(oauth_states::table.filter(oauth_states::state.eq(state_hash)))
            .returning(StateRow::as_returning())
            .get_result(c)
            .await
            .optional()
    }))
}

/// Links an identity.
pub async fn insert_account(conn: &mut DbConn, row: &AccountRow) -> DbResult<()> {
    map_err(with_backend!(conn, c => {
        diesel::insert_into(oauth_accounts::table).values(row).execute(c).await
    }))
    .map(drop)
}

/// The link of an identity at a provider.
pub async fn find_by_identity(
    conn: &mut DbConn,
    provider: &str,
    provider_user_id: &str,
) -> DbResult<Option<AccountRow>> {
    map_err(with_backend!(conn, c => {
        oauth_accounts::table
            .filter(oauth_accounts::provider.eq(provider))
            .filter(oauth_accounts::provider_user_id.eq(provider_user_id))
            .select(AccountRow::as_select())
            .first(c)
            .await
            .optional()
    }))
}

/// A user's links, newest first.
pub async fn list_accounts(conn: &mut DbConn, user_id: Id) -> DbResult<Vec<AccountRow>> {
    map_err(with_backend!(conn, c => {
        oauth_accounts::table
            .filter(oauth_accounts::user_id.eq(user_id))
            .order((oauth_accounts::created_at.desc(), oauth_accounts::id.asc()))
            .select(AccountRow::as_select())
            .load(c)
            .await
    }))
}

/// Removes a user's link to a provider; returns whether there was one.
pub async fn delete_account(conn: &mut DbConn, user_id: Id, provider: &str) -> DbResult<bool> {
    map_err(with_backend!(conn, c => {
        diesel::delete(
            oauth_accounts::table
                .filter(oauth_accounts::user_id.eq(user_id))
                .filter(oauth_accounts::provider.eq(provider)),
        )
        .execute(c)
        .await
    }))
    .map(|n| n > 0)
}

/// Removes the flows a user started (their access ended: a link flow of
/// theirs must not outlive it).
pub async fn delete_user_states(conn: &mut DbConn, user_id: Id) -> DbResult<()> {
    map_err(with_backend!(conn, c => {
        diesel::delete(oauth_states::table.filter(oauth_states::user_id.eq(user_id)))
            .execute(c)
            .await
    }))
    .map(drop)
}

/// Replaces a link's stored provider tokens and email; `false` when the
/// link no longer exists.
pub async fn update_tokens(
    conn: &mut DbConn,
    id: Id,
    email: Option<&str>,
    access: Option<&str>,
    refresh: Option<&str>,
    expires: Option<Timestamp>,
    now: Timestamp,
) -> DbResult<bool> {
    map_err(with_backend!(conn, c => {
        diesel::update(oauth_accounts::table.find(id))
            .set((
                oauth_accounts::provider_email.eq(email),
                oauth_accounts::access_token_encrypted.eq(access),
                oauth_accounts::refresh_token_encrypted.eq(refresh),
                oauth_accounts::token_expires_at.eq(expires),
                oauth_accounts::updated_at.eq(now),
            ))
            .execute(c)
            .await
    }))
    .map(|n| n > 0)
}

/// Erases every stored provider token of a user (deletion).
pub async fn erase_tokens(conn: &mut DbConn, user_id: Id, now: Timestamp) -> DbResult<()> {
    let none: Option<String> = None;
    map_err(with_backend!(conn, c => {
        diesel::update(oauth_accounts::table.filter(oauth_accounts::user_id.eq(user_id)))
            .set((
                oauth_accounts::access_token_encrypted.eq(none.clone()),
                oauth_accounts::refresh_token_encrypted.eq(none.clone()),
                oauth_accounts::updated_at.eq(now),
            ))
            .execute(c)
            .await
    }))
    .map(drop)
}
