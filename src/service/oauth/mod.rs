//! The OAuth 2.1 authorization server (docs/oauth.md): registered clients
//! and users' consents (superusers and users, over every transport), the
//! browser flow (authorize, login, consent), and the protocol endpoints
//! (token, revoke, introspect). Access tokens are signed JWTs (`keys`);
//! codes and refresh tokens are opaque and stored hashed.

pub mod authorize;
pub mod browser;
pub mod clients;
pub mod consents;
mod error;
pub mod keys;
pub mod metadata_document;
pub mod registration;
pub mod tokens;

pub use self::error::{OAuthError, ProtocolError};

use crate::db::oauth::clients::ClientRow;
use crate::domain::oauth::parse_scope;
use crate::state::AppState;

/// A client's registered redirect URIs.
pub(crate) fn redirect_uris(client: &ClientRow) -> Vec<String> {
    serde_json::from_str(&client.redirect_uris).unwrap_or_default()
}

/// A client's allowed scopes.
pub(crate) fn allowed_scopes(client: &ClientRow) -> Vec<String> {
    serde_json::from_str(&client.allowed_scopes).unwrap_or_default()
}

/// Whether the client authenticates with a secret.
pub(crate) fn is_confidential(client: &ClientRow) -> bool {
    client.client_type == "confidential"
}

/// The resources a client may ask tokens for (RFC 8707): identityd's own
/// API, the deployment's `OAUTH_RESOURCES`, and the client's MCP server.
pub(crate) fn allowed_resources(state: &AppState, client: &ClientRow) -> Vec<String> {
    let provider = &state.config.provider;
    let mut resources = vec![provider.api_resource(&state.config.api_prefix)];
    resources.extend(provider.resources.iter().cloned());
    resources.extend(client.mcp_server_url.iter().cloned());
    resources
}

/// A requested resource: an absolute URI without a fragment that the client
/// may ask for, else `invalid_target`.
pub(crate) fn check_resource(
    state: &AppState,
    client: &ClientRow,
    resource: Option<&str>,
) -> Result<(), OAuthError> {
    let Some(resource) = resource else {
        return Ok(());
    };
    if !crate::config::is_resource_uri(resource) {
        return Err(OAuthError::invalid_target(
            "resource must be an absolute URI without a fragment",
        ));
    }
    if !allowed_resources(state, client)
        .iter()
        .any(|r| r == resource)
    {
        return Err(OAuthError::invalid_target(
            "resource is not one this client may request tokens for",
        ));
    }
    Ok(())
}

/// Scope tokens of a stored (already valid) scope string.
pub(crate) fn scope_tokens(stored: &str) -> Vec<String> {
    parse_scope(stored).unwrap_or_default()
}
