//! Authorization requests (a login or consent in progress) and
//! authorization codes (stored hashed, single use).

use diesel::{
    BoolExpressionMethods as _, ExpressionMethods as _, Insertable, OptionalExtension as _,
    QueryDsl as _, Queryable, Selectable, SelectableHelper as _,
};
use diesel_async::RunQueryDsl as _;

use crate::db::schema::{oauth_authorization_codes, oauth_authorization_requests};
use crate::db::types::{Id, Timestamp};
use crate::db::{DbConn, DbResult, map_err};
use crate::with_backend;

/// An `oauth_authorization_requests` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_authorization_requests)]
pub struct RequestRow {
    /// The `request_id`.
    pub id: Id,
    /// The client.
    pub client_id: String,
    /// The user, once identified.
    pub user_id: Option<Id>,
    /// Exactly as registered.
    pub redirect_uri: String,
    /// The scope as sent.
    pub requested_scope: String,
    /// The effective scope, sorted.
    pub scope: String,
    /// Opaque client state (empty when none).
    pub state: String,
    /// PKCE challenge.
    pub code_challenge: Option<String>,
    /// PKCE method (`S256`).
    pub code_challenge_method: Option<String>,
    /// OIDC nonce.
    pub nonce: Option<String>,
    /// Ten minutes after creation.
    pub expires_at: Timestamp,
    /// When an outcome ended it.
    pub consumed_at: Option<Timestamp>,
    /// Created.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// RFC 8707 resource indicators, space-separated.
    pub resource: Option<String>,
    /// OpenID Connect `prompt` (space-separated values).
    pub prompt: Option<String>,
    /// OpenID Connect `max_age`, seconds.
    pub max_age: Option<i32>,
}

impl RequestRow {
    /// Not consumed and not expired.
    pub fn is_pending(&self, now: Timestamp) -> bool {
        self.consumed_at.is_none() && self.expires_at > now
    }
}

/// Inserts a request.
pub async fn insert_request(conn: &mut DbConn, row: &RequestRow) -> DbResult<()> {
    map_err(with_backend!(conn, c => {
        diesel::insert_into(oauth_authorization_requests::table)
            .values(row)
            .execute(c)
            .await
    }))
    .map(drop)
}

/// A request by id.
pub async fn find_request(conn: &mut DbConn, id: Id) -> DbResult<Option<RequestRow>> {
    map_err(with_backend!(conn, c => {
        oauth_authorization_requests::table
            .find(id)
            .select(RequestRow::as_select())
            .first(c)
            .await
            .optional()
    }))
}

/// Makes `user_id` the request's user if it has none yet.
pub async fn bind_user(conn: &mut DbConn, id: Id, user_id: Id, now: Timestamp) -> DbResult<()> {
    map_err(with_backend!(conn, c => {
        diesel::update(
            oauth_authorization_requests::table
                .find(id)
                .filter(oauth_authorization_requests::user_id.is_null()),
        )
        .set((
            oauth_authorization_requests::user_id.eq(user_id),
            oauth_authorization_requests::updated_at.eq(now),
        ))
        .execute(c)
        .await
    }))
    .map(drop)
}

/// Ends a request; returns whether it was still unconsumed.
pub async fn consume_request(conn: &mut DbConn, id: Id, now: Timestamp) -> DbResult<bool> {
    map_err(with_backend!(conn, c => {
        diesel::update(
            oauth_authorization_requests::table
                .find(id)
                .filter(oauth_authorization_requests::consumed_at.is_null()),
        )
        .set((
            oauth_authorization_requests::consumed_at.eq(now),
            oauth_authorization_requests::updated_at.eq(now),
        ))
        .execute(c)
        .await
    }))
    .map(|n| n > 0)
}

/// What identifies a request when a consent form names none.
#[derive(Debug, Clone)]
pub struct RequestMatch<'a> {
    /// The client.
    pub client_id: &'a str,
    /// The redirect URI.
    pub redirect_uri: &'a str,
    /// The state (empty when none).
    pub state: &'a str,
    /// PKCE challenge.
    pub code_challenge: Option<&'a str>,
    /// PKCE method.
    pub code_challenge_method: Option<&'a str>,
    /// Nonce.
    pub nonce: Option<&'a str>,
}

/// The newest pending request usable by `user_id` (its own, or one with no
/// user yet) that matches.
pub async fn find_matching_request(
    conn: &mut DbConn,
    user_id: Id,
    wanted: &RequestMatch<'_>,
    now: Timestamp,
) -> DbResult<Option<RequestRow>> {
    use oauth_authorization_requests as r;
    map_err(with_backend!(conn, c => {
        let mut query = r::table
            .filter(r::client_id.eq(wanted.client_id))
            .filter(r::redirect_uri.eq(wanted.redirect_uri))
            .filter(r::state.eq(wanted.state))
            .filter(r::consumed_at.is_null())
            .filter(r::expires_at.gt(now))
            .filter(r::user_id.eq(user_id).or(r::user_id.is_null()))
            .into_boxed();
        // Every parameter is compared in SQL, so no number of look-alike
        // requests can hide the one that matches.
        query = match wanted.code_challenge {
            Some(v) => query.filter(r::code_challenge.eq(v)),
            None => query.filter(r::code_challenge.is_null()),
        };
        query = match wanted.code_challenge_method {
            Some(v) => query.filter(r::code_challenge_method.eq(v)),
            None => query.filter(r::code_challenge_method.is_null()),
        };
        query = match wanted.nonce {
            Some(v) => query.filter(r::nonce.eq(v)),
            None => query.filter(r::nonce.is_null()),
        };
        query
            .order((r::created_at.desc(), r::id.asc()))
            .select(RequestRow::as_select())
            .first(c)
            .await
            .optional()
    }))
}

/// An `oauth_authorization_codes` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_authorization_codes)]
pub struct CodeRow {
    /// Row id; also the family of the tokens the code yields.
    pub id: Id,
    /// SHA-256 hex of the code.
    pub code_hash: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The user who authorized.
    pub user_id: Id,
    /// Must be presented again at the token endpoint.
    pub redirect_uri: String,
    /// Granted scope.
    pub scope: String,
    /// PKCE challenge.
    pub code_challenge: Option<String>,
    /// PKCE method.
    pub code_challenge_method: Option<String>,
    /// The request's state.
    pub state: Option<String>,
    /// The request's nonce.
    pub nonce: Option<String>,
    /// Ten minutes after issuance.
    pub expires_at: Timestamp,
    /// Spent by the first exchange attempt.
    pub used: bool,
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

/// Inserts a code.
pub async fn insert_code(conn: &mut DbConn, row: &CodeRow) -> DbResult<()> {
    map_err(with_backend!(conn, c => {
        diesel::insert_into(oauth_authorization_codes::table)
            .values(row)
            .execute(c)
            .await
    }))
    .map(drop)
}

/// Marks the code used, atomically, if it was not; returns it then.
pub async fn spend_code(
    conn: &mut DbConn,
    code_hash: &str,
    now: Timestamp,
) -> DbResult<Option<CodeRow>> {
    use oauth_authorization_codes as k;
    map_err(with_backend!(conn, c => {
        diesel::update(
            k::table
                .filter(k::code_hash.eq(code_hash))
                .filter(k::used.eq(false)),
        )
        .set((k::used.eq(true), k::updated_at.eq(now)))
        .returning(CodeRow::as_returning())
        .get_result(c)
        .await
        .optional()
    }))
}

/// A code by its hash, used or not.
pub async fn find_code(conn: &mut DbConn, code_hash: &str) -> DbResult<Option<CodeRow>> {
    map_err(with_backend!(conn, c => {
        oauth_authorization_codes::table
            .filter(oauth_authorization_codes::code_hash.eq(code_hash))
            .select(CodeRow::as_select())
            .first(c)
            .await
            .optional()
    }))
}

/// Ends a user's unused codes and pending requests, for one client or all
/// (access ended, consent withdrawn): none of them can be turned into
/// tokens afterwards.
pub async fn end_user_grants(
    conn: &mut DbConn,
    user_id: Id,
    client_id: Option<&str>,
    now: Timestamp,
) -> DbResult<()> {
    use oauth_authorization_codes as k;
    use oauth_authorization_requests as r;
    map_err(with_backend!(conn, c => {
        let mut codes = diesel::update(k::table)
            .filter(k::user_id.eq(user_id))
            .filter(k::used.eq(false))
            .into_boxed();
        let mut requests = diesel::update(r::table)
            .filter(r::user_id.eq(user_id))
            .filter(r::consumed_at.is_null())
            .into_boxed();
        if let Some(client_id) = client_id {
            codes = codes.filter(k::client_id.eq(client_id));
            requests = requests.filter(r::client_id.eq(client_id));
        }
        codes
            .set((k::used.eq(true), k::updated_at.eq(now)))
            .execute(c)
            .await?;
        requests
            .set((r::consumed_at.eq(now), r::updated_at.eq(now)))
            .execute(c)
            .await
    }))
    .map(drop)
}
