//! Dynamic client registration (RFC 7591) and its management protocol
//! (RFC 7592), for clients that cannot use a client ID metadata document
//! (docs/oauth.md#dynamic-client-registration). `OAUTH_REGISTRATION` says
//! who may register: nobody, anyone, or holders of the initial access
//! token. Each registration gets a registration access token (stored
//! hashed) that reads, replaces and deletes it.

use secrecy::ExposeSecret as _;
use serde_json::{Map, Value as Json, json};

use super::clients::{client_type, json_list, new_row, new_secret};
use super::{OAuthError, ProtocolError};
use crate::auth::digest::{constant_time_eq, random_token, sha256_hex};
use crate::config::Registration;
use crate::db::oauth::clients::{self, ClientChangeset, ClientRow};
use crate::domain::oauth::{
    DEFAULT_SCOPES, SUPPORTED_SCOPES, check_redirect_uri, is_loopback_uri, join_scope, parse_scope,
};
use crate::error::Error;
use crate::service::connection;
use crate::state::AppState;

/// Most redirect URIs of one registration.
const MAX_REDIRECT_URIS: usize = 20;

/// Why a registration request is refused.
#[derive(Debug)]
pub enum RegistrationError {
    /// 404: registration is off.
    Disabled,
    /// 401 `invalid_token`: a missing or wrong initial or registration
    /// access token (RFC 6750 §3.1), or an unknown client.
    InvalidToken,
    /// 400 with an RFC 7591 error.
    Protocol(ProtocolError),
}

impl From<OAuthError> for RegistrationError {
    fn from(err: OAuthError) -> Self {
        Self::Protocol(err.into())
    }
}

impl From<Error> for RegistrationError {
    fn from(err: Error) -> Self {
        Self::Protocol(err.into())
    }
}

impl From<crate::db::DbError> for RegistrationError {
    fn from(err: crate::db::DbError) -> Self {
        Self::Protocol(err.into())
    }
}

/// Validated client metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Metadata {
    redirect_uris: Vec<String>,
    confidential: bool,
    grant_types: Vec<String>,
    client_name: String,
    client_uri: Option<String>,
    scope: Vec<String>,
    native: bool,
}

fn string_member<'a>(
    doc: &'a Map<String, Json>,
    name: &str,
) -> Result<Option<&'a str>, OAuthError> {
    match doc.get(name) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(text)) => Ok(Some(text)),
        Some(_) => Err(OAuthError::invalid_client_metadata(format!(
            "{name} must be a string"
        ))),
    }
}

fn list_member(doc: &Map<String, Json>, name: &str) -> Result<Option<Vec<String>>, OAuthError> {
    match doc.get(name) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Array(items)) if items.len() <= MAX_REDIRECT_URIS => items
            .iter()
            .map(|item| {
                item.as_str().map(str::to_owned).ok_or_else(|| {
                    OAuthError::invalid_client_metadata(format!("{name} must hold strings"))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(OAuthError::invalid_client_metadata(format!(
            "{name} must be an array of at most {MAX_REDIRECT_URIS} strings"
        ))),
    }
}

/// Checks a registration document (RFC 7591 §2, OpenID Connect Dynamic
/// Registration §2 for `application_type`).
fn parse_metadata(body: &[u8], production: bool) -> Result<Metadata, OAuthError> {
    let doc: Map<String, Json> = serde_json::from_slice(body)
        .map_err(|_| OAuthError::invalid_client_metadata("The body must be a JSON object"))?;
    let native = match string_member(&doc, "application_type")? {
        None | Some("web") => false,
        Some("native") => true,
        Some(_) => {
            return Err(OAuthError::invalid_client_metadata(
                "application_type must be web or native",
            ));
        }
    };
    let auth_method = string_member(&doc, "token_endpoint_auth_method")?;
    let confidential = match auth_method.unwrap_or("client_secret_basic") {
        "none" => false,
        "client_secret_basic" | "client_secret_post" => true,
        _ => {
            return Err(OAuthError::invalid_client_metadata(
                "token_endpoint_auth_method must be none, client_secret_basic or client_secret_post",
            ));
        }
    };
    let grant_types =
        list_member(&doc, "grant_types")?.unwrap_or_else(|| vec!["authorization_code".to_owned()]);
    let mut grant_types: Vec<String> = grant_types.into_iter().collect();
    grant_types.sort();
    grant_types.dedup();
    for grant in &grant_types {
        if !matches!(
            grant.as_str(),
            "authorization_code" | "refresh_token" | "client_credentials"
        ) {
            return Err(OAuthError::invalid_client_metadata(format!(
                "Unsupported grant type {grant:?}"
            )));
        }
    }
    if grant_types.is_empty() {
        return Err(OAuthError::invalid_client_metadata(
            "grant_types must not be empty",
        ));
    }
    if grant_types.iter().any(|g| g == "client_credentials") && !confidential {
        return Err(OAuthError::invalid_client_metadata(
            "client_credentials needs a client secret",
        ));
    }
    let code_flow = grant_types.iter().any(|g| g == "authorization_code");
    if let Some(types) = list_member(&doc, "response_types")?
        && types.iter().any(|t| t != "code")
    {
        return Err(OAuthError::invalid_client_metadata(
            "response_types may only hold code",
        ));
    }
    let redirect_uris = list_member(&doc, "redirect_uris")?.unwrap_or_default();
    if code_flow && redirect_uris.is_empty() {
        return Err(OAuthError::invalid_redirect_uri(
            "redirect_uris is required for the authorization_code grant",
        ));
    }
    for uri in &redirect_uris {
        check_redirect_uri(uri, production).map_err(OAuthError::invalid_redirect_uri)?;
        let web_uri = uri.starts_with("https://") || uri.starts_with("http://");
        // Web clients redirect to web sites; native apps to loopback or a
        // private-use scheme (OpenID Connect Dynamic Registration §2).
        if !native && is_loopback_uri(uri) && production {
            return Err(OAuthError::invalid_redirect_uri(
                "A web client's redirect URIs must not be on localhost; register it as native",
            ));
        }
        if !native && !web_uri {
            return Err(OAuthError::invalid_redirect_uri(
                "A web client's redirect URIs must be http(s); register it as native",
            ));
        }
        if native
            && uri.starts_with("http")
            && !is_loopback_uri(uri)
            && !uri.starts_with("https://")
        {
            return Err(OAuthError::invalid_redirect_uri(
                "A native client's http redirect URIs must be on the loopback interface",
            ));
        }
    }
    let client_name = string_member(&doc, "client_name")?
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| "Unnamed client".to_owned());
    if client_name.chars().count() > 255 || client_name.chars().any(char::is_control) {
        return Err(OAuthError::invalid_client_metadata(
            "client_name must be at most 255 characters, without control characters",
        ));
    }
    let client_uri = string_member(&doc, "client_uri")?.map(str::to_owned);
    if let Some(uri) = &client_uri
        && crate::domain::oauth::check_social_redirect_uri(uri).is_err()
    {
        return Err(OAuthError::invalid_client_metadata(
            "client_uri must be an absolute http(s) URL",
        ));
    }
    let scope = match string_member(&doc, "scope")? {
        None => parse_scope(DEFAULT_SCOPES).unwrap_or_default(),
        Some(text) => parse_scope(text).map_err(OAuthError::invalid_client_metadata)?,
    };
    if let Some(unknown) = scope
        .iter()
        .find(|s| !SUPPORTED_SCOPES.contains(&s.as_str()))
    {
        return Err(OAuthError::invalid_client_metadata(format!(
            "Unknown scope {unknown:?}"
        )));
    }
    if scope.is_empty() {
        return Err(OAuthError::invalid_client_metadata(
            "scope must not be empty",
        ));
    }
    Ok(Metadata {
        redirect_uris,
        confidential,
        grant_types,
        client_name,
        client_uri,
        scope,
        native,
    })
}

/// The registration answer: the client's metadata as stored.
fn describe(state: &AppState, row: &ClientRow) -> Map<String, Json> {
    let base = format!(
        "{}{}/oauth/provider/register",
        state.config.provider.issuer, state.config.api_prefix
    );
    // Confidential clients may use either secret method; Basic is the one
    // RFC 6749 requires servers to support, so it is the one reported.
    let auth_method = if super::is_confidential(row) {
        "client_secret_basic"
    } else {
        "none"
    };
    let doc = json!({
        "client_id": row.client_id,
        "client_id_issued_at": row.created_at.unix_seconds(),
        "client_name": row.client_name,
        "redirect_uris": super::redirect_uris(row),
        "grant_types": super::tokens::grant_types(row),
        "response_types": ["code"],
        "token_endpoint_auth_method": auth_method,
        "scope": join_scope(&super::allowed_scopes(row)),
        "application_type": row.application_type,
        "client_uri": row.client_uri,
        "registration_client_uri": format!("{base}/{}", row.client_id),
    });
    let mut doc = doc.as_object().cloned().unwrap_or_default();
    doc.retain(|_, v| !v.is_null());
    doc
}

/// Whether the request may register: the policy and, for `token`, the
/// initial access token (compared in constant time).
fn admitted(state: &AppState, bearer: Option<&str>) -> Result<(), RegistrationError> {
    match &state.config.provider.registration {
        Registration::Off => Err(RegistrationError::Disabled),
        Registration::Open => Ok(()),
        Registration::Token(expected) => {
            let presented = bearer.unwrap_or_default();
            if constant_time_eq(
                sha256_hex(presented.as_bytes()).as_bytes(),
                sha256_hex(expected.expose_secret().as_bytes()).as_bytes(),
            ) && !presented.is_empty()
            {
                Ok(())
            } else {
                Err(RegistrationError::InvalidToken)
            }
        }
    }
}

/// Open registration does not mint machine identities: a client that acts
/// for itself (client_credentials) is registered with the initial access
/// token, or by a superuser.
fn machine_clients_vetted(state: &AppState, metadata: &Metadata) -> Result<(), OAuthError> {
    let machine = metadata
        .grant_types
        .iter()
        .any(|g| g == "client_credentials");
    if machine && matches!(state.config.provider.registration, Registration::Open) {
        return Err(OAuthError::invalid_client_metadata(
            "client_credentials needs a registration with the initial access token",
        ));
    }
    Ok(())
}

/// `POST /register`: stores the client; the answer holds its secret (if
/// confidential) and registration access token, shown once.
pub async fn register(
    state: &AppState,
    bearer: Option<&str>,
    body: &[u8],
) -> Result<Map<String, Json>, RegistrationError> {
    admitted(state, bearer)?;
    let metadata = parse_metadata(body, state.config.is_production())?;
    machine_clients_vetted(state, &metadata)?;
    let now = state.clock.now();
    let (secret, stored) = if metadata.confidential {
        let (secret, stored) = new_secret();
        (Some(secret), Some(stored))
    } else {
        (None, None)
    };
    let registration_token = random_token(48);
    let row = ClientRow {
        client_secret_hash: stored,
        client_type: client_type(metadata.confidential),
        redirect_uris: json_list(&metadata.redirect_uris),
        allowed_scopes: json_list(&metadata.scope),
        application_type: if metadata.native { "native" } else { "web" }.to_owned(),
        grant_types: json_list(&metadata.grant_types),
        registration_token_hash: Some(format!(
            "sha256${}",
            sha256_hex(registration_token.as_bytes())
        )),
        client_uri: metadata.client_uri,
        ..new_row(random_token(32), metadata.client_name, "dynamic", now)
    };
    let mut conn = connection(state).await?;
    clients::insert_client(&mut conn, &row).await?;
    tracing::info!(client_id = %row.client_id, "client registered dynamically");
    let mut answer = describe(state, &row);
    answer.insert(
        "registration_access_token".to_owned(),
        Json::from(registration_token),
    );
    if let Some(secret) = secret {
        answer.insert("client_secret".to_owned(), Json::from(secret));
        answer.insert("client_secret_expires_at".to_owned(), Json::from(0));
    }
    Ok(answer)
}

/// The dynamically registered client `client_id` whose registration access
/// token is `bearer`; the same refusal for every mismatch.
async fn owned_client(
    state: &AppState,
    client_id: &str,
    bearer: Option<&str>,
) -> Result<ClientRow, RegistrationError> {
    if !state.config.provider.registration.enabled() {
        return Err(RegistrationError::Disabled);
    }
    let presented = bearer.filter(|b| !b.is_empty() && b.len() <= 512);
    let mut conn = connection(state).await?;
    let client = if client_id.len() <= 255 {
        clients::find_client(&mut conn, client_id).await?
    } else {
        None
    };
    let expected = client
        .as_ref()
        .and_then(|c| c.registration_token_hash.clone())
        .unwrap_or_default();
    let presented = format!(
        "sha256${}",
        sha256_hex(presented.unwrap_or_default().as_bytes())
    );
    match client {
        Some(client)
            if bearer.is_some() && constant_time_eq(expected.as_bytes(), presented.as_bytes()) =>
        {
            Ok(client)
        }
        _ => Err(RegistrationError::InvalidToken),
    }
}

/// `GET /register/{client_id}` (RFC 7592 §2.1).
pub async fn read(
    state: &AppState,
    client_id: &str,
    bearer: Option<&str>,
) -> Result<Map<String, Json>, RegistrationError> {
    let client = owned_client(state, client_id, bearer).await?;
    Ok(describe(state, &client))
}

/// `PUT /register/{client_id}` (RFC 7592 §2.2): the document replaces the
/// metadata; it must name the client, and may not change how it
/// authenticates.
pub async fn update(
    state: &AppState,
    client_id: &str,
    bearer: Option<&str>,
    body: &[u8],
) -> Result<Map<String, Json>, RegistrationError> {
    let client = owned_client(state, client_id, bearer).await?;
    let named = serde_json::from_slice::<Map<String, Json>>(body)
        .ok()
        .and_then(|doc| {
            doc.get("client_id")
                .and_then(Json::as_str)
                .map(str::to_owned)
        });
    if named.as_deref() != Some(client_id) {
        return Err(OAuthError::invalid_client_metadata(
            "client_id must be present and name this client",
        )
        .into());
    }
    let metadata = parse_metadata(body, state.config.is_production())?;
    machine_clients_vetted(state, &metadata)?;
    if metadata.confidential != super::is_confidential(&client) {
        return Err(OAuthError::invalid_client_metadata(
            "token_endpoint_auth_method cannot change between none and a secret",
        )
        .into());
    }
    let changes = ClientChangeset {
        client_name: Some(metadata.client_name),
        redirect_uris: Some(json_list(&metadata.redirect_uris)),
        allowed_scopes: Some(json_list(&metadata.scope)),
        grant_types: Some(json_list(&metadata.grant_types)),
        application_type: Some(if metadata.native { "native" } else { "web" }.to_owned()),
        client_uri: Some(metadata.client_uri),
        ..ClientChangeset::default()
    };
    let mut conn = connection(state).await?;
    clients::update_client(&mut conn, client_id, changes, state.clock.now()).await?;
    let updated = clients::find_client(&mut conn, client_id)
        .await?
        .ok_or(RegistrationError::InvalidToken)?;
    Ok(describe(state, &updated))
}

/// `DELETE /register/{client_id}` (RFC 7592 §2.3): the client and
/// everything issued to it go.
pub async fn delete(
    state: &AppState,
    client_id: &str,
    bearer: Option<&str>,
) -> Result<(), RegistrationError> {
    owned_client(state, client_id, bearer).await?;
    let mut conn = connection(state).await?;
    clients::delete_client(&mut conn, client_id).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(doc: Json) -> Result<Metadata, OAuthError> {
        parse_metadata(doc.to_string().as_bytes(), true)
    }

    #[test]
    fn registration_documents_are_checked() {
        let ok = parse(json!({
            "redirect_uris": ["https://app.example/cb"],
            "client_name": "App",
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "scope": "openid read:users",
        }))
        .unwrap();
        assert!(!ok.confidential);
        assert_eq!(ok.scope, vec!["openid", "read:users"]);
        // Defaults: a confidential web client of the code flow.
        let defaults = parse(json!({"redirect_uris": ["https://app.example/cb"]})).unwrap();
        assert!(defaults.confidential && !defaults.native);
        assert_eq!(defaults.grant_types, vec!["authorization_code"]);
        // Native apps: loopback and private-use schemes.
        assert!(
            parse(
                json!({"application_type": "native", "token_endpoint_auth_method": "none",
                "redirect_uris": ["http://127.0.0.1:7777/cb", "com.example.app:/cb"]})
            )
            .unwrap()
            .native
        );
        for (doc, error) in [
            (json!([]), "invalid_client_metadata"),
            (json!({}), "invalid_redirect_uri"),
            (
                json!({"redirect_uris": ["http://127.0.0.1/cb"]}),
                "invalid_redirect_uri",
            ),
            (
                json!({"redirect_uris": ["com.example.app:/cb"]}),
                "invalid_redirect_uri",
            ),
            (
                json!({"redirect_uris": ["https://a.example/cb#x"]}),
                "invalid_redirect_uri",
            ),
            (
                json!({"redirect_uris": "https://a.example/cb"}),
                "invalid_client_metadata",
            ),
            (
                json!({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt"}),
                "invalid_client_metadata",
            ),
            (
                json!({"redirect_uris": ["https://a.example/cb"], "grant_types": ["implicit"]}),
                "invalid_client_metadata",
            ),
            (
                json!({"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}),
                "invalid_client_metadata",
            ),
            (
                json!({"redirect_uris": ["https://a.example/cb"], "scope": "root"}),
                "invalid_client_metadata",
            ),
            (
                json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}),
                "invalid_client_metadata",
            ),
            (
                json!({"redirect_uris": ["https://a.example/cb"], "client_name": "x".repeat(256)}),
                "invalid_client_metadata",
            ),
        ] {
            assert_eq!(parse(doc.clone()).unwrap_err().error, error, "{doc}");
        }
        // A machine client needs no redirect URI.
        assert!(parse(json!({"grant_types": ["client_credentials"]})).is_ok());
    }
}
