//! Registered clients (docs/oauth.md#clients): superusers register, list,
//! update and delete them and rotate their secrets. A secret is shown once
//! and stored as `sha256$<hex>`.

use crate::auth::digest::{random_token, sha256_hex};
use crate::db::oauth::clients::{self, ClientChangeset, ClientRow};
use crate::domain::types::{Id, Timestamp};
use crate::error::Error;
use crate::service::authz::require_superuser;
use crate::service::connection;
use crate::service::principal::Principal;
use crate::state::AppState;

/// The one-time warning that goes with a new secret.
pub const SECRET_WARNING: &str = "Store the client_secret securely! It will not be shown again.";

/// A validated registration.
#[derive(Debug, Clone)]
pub struct NewClient {
    /// Display name (1–255).
    pub name: String,
    /// Exact redirect URIs (1–20, each checked).
    pub redirect_uris: Vec<String>,
    /// Authenticates with a secret.
    pub confidential: bool,
    /// Allowed scopes (1–50 tokens), sorted.
    pub scopes: Vec<String>,
    /// Free text (at most 1000).
    pub description: Option<String>,
    /// The MCP server the client is for.
    pub mcp_server_url: Option<String>,
}

/// Validated changes; `None` leaves a member as it is.
#[derive(Debug, Clone, Default)]
pub struct ClientUpdate {
    /// New name.
    pub name: Option<String>,
    /// New description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// New redirect URIs.
    pub redirect_uris: Option<Vec<String>>,
    /// New scopes.
    pub scopes: Option<Vec<String>>,
    /// New MCP server URL (`Some(None)` clears it).
    pub mcp_server_url: Option<Option<String>>,
}

/// A client as the API shows it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// Row id.
    pub id: Id,
    /// Public identifier.
    pub client_id: String,
    /// Display name.
    pub client_name: String,
    /// Free text.
    pub client_description: Option<String>,
    /// `public` or `confidential`.
    pub client_type: String,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Allowed scopes.
    pub allowed_scopes: Vec<String>,
    /// Active.
    pub is_active: bool,
    /// The MCP server it is for.
    pub mcp_server_url: Option<String>,
    /// Registered.
    pub created_at: Timestamp,
}

impl From<ClientRow> for Client {
    fn from(row: ClientRow) -> Self {
        Self {
            redirect_uris: super::redirect_uris(&row),
            allowed_scopes: super::allowed_scopes(&row),
            id: row.id,
            client_id: row.client_id,
            client_name: row.client_name,
            client_description: row.client_description,
            client_type: row.client_type,
            is_active: row.is_active,
            mcp_server_url: row.mcp_server_url,
            created_at: row.created_at,
        }
    }
}

/// A client with its secret, shown once (registration, rotation).
#[derive(Debug, Clone)]
pub struct WithSecret {
    /// The client.
    pub client: Client,
    /// The secret; `None` for public clients.
    pub secret: Option<String>,
}

/// A new active web client of the code flow: the default lifetimes, no
/// secret, nothing optional set. Callers set what they know.
pub(crate) fn new_row(
    client_id: String,
    client_name: String,
    registration: &str,
    now: Timestamp,
) -> ClientRow {
    ClientRow {
        id: Id::new_random(),
        client_id,
        client_secret_hash: None,
        client_name,
        client_description: None,
        client_type: client_type(false),
        redirect_uris: "[]".to_owned(),
        allowed_scopes: "[]".to_owned(),
        access_token_lifetime: 3600,
        refresh_token_lifetime: 604_800,
        is_active: true,
        owner_user_id: None,
        mcp_server_url: None,
        created_at: now,
        updated_at: now,
        application_type: "web".to_owned(),
        grant_types: json_list(&["authorization_code".to_owned()]),
        registration: registration.to_owned(),
        registration_token_hash: None,
        metadata_expires_at: None,
        client_uri: None,
    }
}

/// `confidential` or `public`.
pub(crate) fn client_type(confidential: bool) -> String {
    if confidential {
        "confidential"
    } else {
        "public"
    }
    .to_owned()
}

/// The grants of a client registered by an administrator: the
/// authorization code flow with refresh, and for confidential clients
/// client_credentials too.
fn default_grant_types(confidential: bool) -> Vec<String> {
    let mut grants = vec!["authorization_code".to_owned(), "refresh_token".to_owned()];
    if confidential {
        grants.push("client_credentials".to_owned());
    }
    grants
}

/// A new secret and its stored form.
pub(crate) fn new_secret() -> (String, String) {
    let secret = random_token(48);
    let stored = format!("sha256${}", sha256_hex(secret.as_bytes()));
    (secret, stored)
}

pub(crate) fn json_list(items: &[String]) -> String {
    serde_json::Value::from(items.to_vec()).to_string()
}

/// Registers a client; a confidential one gets its secret here only.
pub async fn register_client(
    state: &AppState,
    caller: &Principal,
    new: NewClient,
) -> Result<WithSecret, Error> {
    require_superuser(caller)?;
    let now = state.clock.now();
    let (secret, stored) = if new.confidential {
        let (secret, stored) = new_secret();
        (Some(secret), Some(stored))
    } else {
        (None, None)
    };
    let row = ClientRow {
        client_secret_hash: stored,
        client_description: new.description,
        client_type: client_type(new.confidential),
        redirect_uris: json_list(&new.redirect_uris),
        allowed_scopes: json_list(&new.scopes),
        owner_user_id: Some(caller.user_id()),
        mcp_server_url: new.mcp_server_url,
        grant_types: json_list(&default_grant_types(new.confidential)),
        ..new_row(random_token(32), new.name, "managed", now)
    };
    let mut conn = connection(state).await?;
    clients::insert_client(&mut conn, &row).await?;
    Ok(WithSecret {
        client: row.into(),
        secret,
    })
}

/// Active clients, newest first.
pub async fn list_clients(state: &AppState, caller: &Principal) -> Result<Vec<Client>, Error> {
    require_superuser(caller)?;
    let mut conn = connection(state).await?;
    let rows = clients::list_clients(&mut conn).await?;
    Ok(rows.into_iter().map(Client::from).collect())
}

async fn existing(conn: &mut crate::db::DbConn, client_id: &str) -> Result<ClientRow, Error> {
    clients::find_client(conn, client_id)
        .await?
        .ok_or(Error::NotFound("Client not found"))
}

/// Changes a client's name, description, redirect URIs, scopes or MCP URL.
pub async fn update_client(
    state: &AppState,
    caller: &Principal,
    client_id: &str,
    update: ClientUpdate,
) -> Result<Client, Error> {
    require_superuser(caller)?;
    let mut conn = connection(state).await?;
    existing(&mut conn, client_id).await?;
    let changes = ClientChangeset {
        client_name: update.name,
        client_description: update.description,
        redirect_uris: update.redirect_uris.as_deref().map(json_list),
        allowed_scopes: update.scopes.as_deref().map(json_list),
        mcp_server_url: update.mcp_server_url,
        ..ClientChangeset::default()
    };
    clients::update_client(&mut conn, client_id, changes, state.clock.now()).await?;
    Ok(existing(&mut conn, client_id).await?.into())
}

/// Replaces a confidential client's secret; the old one stops working.
pub async fn rotate_secret(
    state: &AppState,
    caller: &Principal,
    client_id: &str,
) -> Result<WithSecret, Error> {
    require_superuser(caller)?;
    let mut conn = connection(state).await?;
    let client = existing(&mut conn, client_id).await?;
    if !super::is_confidential(&client) {
        return Err(Error::Validation(vec![crate::error::FieldViolation {
            field: Some("client_id".to_owned()),
            message: "Public clients have no secret".to_owned(),
        }]));
    }
    let (secret, stored) = new_secret();
    let changes = ClientChangeset {
        client_secret_hash: Some(Some(stored)),
        ..ClientChangeset::default()
    };
    clients::update_client(&mut conn, client_id, changes, state.clock.now()).await?;
    Ok(WithSecret {
        client: existing(&mut conn, client_id).await?.into(),
        secret: Some(secret),
    })
}

/// Deletes a client with its codes, tokens, consents and requests.
pub async fn delete_client(
    state: &AppState,
    caller: &Principal,
    client_id: &str,
) -> Result<(), Error> {
    require_superuser(caller)?;
    let mut conn = connection(state).await?;
    existing(&mut conn, client_id).await?;
    clients::delete_client(&mut conn, client_id).await?;
    Ok(())
}
