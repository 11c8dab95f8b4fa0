//! Queries on `oauth_clients`.

use diesel::{
    AsChangeset, ExpressionMethods as _, Insertable, OptionalExtension as _, QueryDsl as _,
    Queryable, Selectable, SelectableHelper as _,
};
use diesel_async::RunQueryDsl as _;

use crate::db::schema::oauth_clients;
use crate::db::types::{Id, Timestamp};
use crate::db::{DbConn, DbResult, map_err};
use crate::with_backend;

/// An `oauth_clients` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oauth_clients)]
pub struct ClientRow {
    /// Row id.
    pub id: Id,
    /// Public identifier (`client_id`).
    pub client_id: String,
    /// `sha256$<hex>` (or a bcrypt hash); `None` for public clients.
    pub client_secret_hash: Option<String>,
    /// Display name.
    pub client_name: String,
    /// Free text.
    pub client_description: Option<String>,
    /// `public` or `confidential`.
    pub client_type: String,
    /// JSON array of exact redirect URIs.
    pub redirect_uris: String,
    /// JSON array of scope tokens, sorted.
    pub allowed_scopes: String,
    /// Seconds.
    pub access_token_lifetime: i32,
    /// Seconds.
    pub refresh_token_lifetime: i32,
    /// Deleted clients are removed; this stays true.
    pub is_active: bool,
    /// Who registered it.
    pub owner_user_id: Option<Id>,
    /// The MCP server the client is for, if any.
    pub mcp_server_url: Option<String>,
    /// Registered.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// `web` or `native` (RFC 7591 `application_type`).
    pub application_type: String,
    /// JSON array of the grant types it may use.
    pub grant_types: String,
    /// How it came to exist: `managed`, `dynamic` (RFC 7591) or
    /// `metadata_document` (its `client_id` is the document's URL).
    pub registration: String,
    /// `sha256$<hex>` of the RFC 7592 registration access token.
    pub registration_token_hash: Option<String>,
    /// A metadata document's client is fetched again after this instant.
    pub metadata_expires_at: Option<Timestamp>,
    /// The client's home page, shown on the consent page.
    pub client_uri: Option<String>,
}

/// Changes to a client; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = oauth_clients)]
pub struct ClientChangeset {
    /// New name.
    pub client_name: Option<String>,
    /// New description (`Some(None)` clears it).
    pub client_description: Option<Option<String>>,
    /// New redirect URIs (JSON array).
    pub redirect_uris: Option<String>,
    /// New scopes (JSON array).
    pub allowed_scopes: Option<String>,
    /// New secret hash.
    pub client_secret_hash: Option<Option<String>>,
    /// New MCP server URL (`Some(None)` clears it).
    pub mcp_server_url: Option<Option<String>>,
    /// `public` or `confidential`.
    pub client_type: Option<String>,
    /// New grant types (JSON array).
    pub grant_types: Option<String>,
    /// `web` or `native`.
    pub application_type: Option<String>,
    /// New home page (`Some(None)` clears it).
    pub client_uri: Option<Option<String>>,
    /// When a metadata document is fetched again.
    pub metadata_expires_at: Option<Option<Timestamp>>,
    /// Set on every change.
    pub updated_at: Option<Timestamp>,
}

/// Inserts a client.
pub async fn insert_client(conn: &mut DbConn, row: &ClientRow) -> DbResult<()> {
    map_err(with_backend!(conn, c => {
        diesel::insert_into(oauth_clients::table).values(row).execute(c).await
    }))
    .map(drop)
}

/// An active client by its public identifier.
pub async fn find_client(conn: &mut DbConn, client_id: &str) -> DbResult<Option<ClientRow>> {
    map_err(with_backend!(conn, c => {
        oauth_clients::table
            .filter(oauth_clients::client_id.eq(client_id))
            .filter(oauth_clients::is_active.eq(true))
            .select(ClientRow::as_select())
            .first(c)
            .await
            .optional()
    }))
}

/// Active clients, newest first.
pub async fn list_clients(conn: &mut DbConn) -> DbResult<Vec<ClientRow>> {
    map_err(with_backend!(conn, c => {
        oauth_clients::table
            .filter(oauth_clients::is_active.eq(true))
            .order((oauth_clients::created_at.desc(), oauth_clients::id.asc()))
            .select(ClientRow::as_select())
            .load(c)
            .await
    }))
}

/// Applies changes; returns whether the client exists.
pub async fn update_client(
    conn: &mut DbConn,
    client_id: &str,
    mut changes: ClientChangeset,
    now: Timestamp,
) -> DbResult<bool> {
    changes.updated_at = Some(now);
    map_err(with_backend!(conn, c => {
        diesel::update(oauth_clients::table.filter(oauth_clients::client_id.eq(client_id)))
            .set(&changes)
            .execute(c)
            .await
    }))
    .map(|n| n > 0)
}

/// Deletes a client; its codes, tokens, consents and requests go with it
/// (foreign keys cascade). Returns whether it existed.
pub async fn delete_client(conn: &mut DbConn, client_id: &str) -> DbResult<bool> {
    map_err(with_backend!(conn, c => {
        diesel::delete(oauth_clients::table.filter(oauth_clients::client_id.eq(client_id)))
            .execute(c)
            .await
    }))
    .map(|n| n > 0)
}
