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
pub mod tokens;

pub use self::error::{OAuthError, ProtocolError};

use crate::db::oauth::clients::ClientRow;
use crate::domain::oauth::parse_scope;

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

/// Scope tokens of a stored (already valid) scope string.
pub(crate) fn scope_tokens(stored: &str) -> Vec<String> {
    parse_scope(stored).unwrap_or_default()
}
