//! The token endpoint (authorization code with PKCE, refresh with rotation
//! and family revocation), revocation (RFC 7009) and introspection (RFC 7662),
//! with client authentication (docs/oauth.md#token-endpoint).

use chrono::Duration;
use scoped_futures::ScopedFutureExt as _;
use serde_json::{Map, Value as Json, json};

use super::{OAuthError, ProtocolError, is_confidential, scope_tokens};
use crate::auth::digest::{constant_time_eq, random_token, sha256_hex};
use crate::auth::provider_keys::ProviderKeys;
use crate::db::DbConn;
use crate::db::oauth::clients::{self, ClientRow};
use crate::db::oauth::grants;
use crate::db::oauth::tokens::{self, RefreshRow};
use crate::db::users::{self, UserRow};
use crate::domain::oauth::{is_pkce_value, join_scope, parse_scope, s256_challenge};
use crate::domain::types::{Id, Timestamp};
use crate::error::Error;
use crate::service::connection;
use crate::state::AppState;

/// Longest value of any form field of these endpoints.
pub const MAX_FIELD: usize = 4096;

/// The client credentials a request carries.
#[derive(Debug, Clone, Default)]
pub struct ClientAuth {
    /// `Authorization: Basic`: `Some(Ok((id, secret)))`, `Some(Err(()))`
    /// when it does not decode.
    pub basic: Option<Result<(String, String), ()>>,
    /// Form `client_id`.
    pub client_id: Option<String>,
    /// Form `client_secret`.
    pub client_secret: Option<String>,
}

/// The fields of a token request.
#[derive(Debug, Clone, Default)]
pub struct TokenForm {
    /// `authorization_code` or `refresh_token`.
    pub grant_type: Option<String>,
    /// The authorization code.
    pub code: Option<String>,
    /// Must equal the code's.
    pub redirect_uri: Option<String>,
    /// PKCE verifier.
    pub code_verifier: Option<String>,
    /// The refresh token.
    pub refresh_token: Option<String>,
    /// Narrower scope on refresh.
    pub scope: Option<String>,
}

/// Where a token request comes from (stored with the refresh token).
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// User-Agent (truncated to 500 characters).
    pub user_agent: Option<String>,
    /// Client IP.
    pub ip_address: Option<String>,
}

/// A token response.
#[derive(Debug, Clone)]
pub struct TokenSet {
    /// Signed JWT.
    pub access_token: String,
    /// Seconds.
    pub expires_in: i64,
    /// Opaque.
    pub refresh_token: String,
    /// Space-separated, sorted.
    pub scope: String,
}

/// What introspection reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Introspection {
    /// Exactly `{"active": false}`.
    Inactive,
    /// An active token's members.
    Active(Map<String, Json>),
}

fn keys(state: &AppState) -> Result<&ProviderKeys, Error> {
    state
        .provider_keys
        .as_ref()
        .ok_or_else(|| Error::internal(anyhow::anyhow!("provider keys not loaded")))
}

/// Authenticates the client of a token, revoke or introspect request.
pub async fn authenticate_client(
    state: &AppState,
    conn: &mut DbConn,
    auth: &ClientAuth,
) -> Result<ClientRow, ProtocolError> {
    let (client_id, secret) = match &auth.basic {
        Some(Err(())) => {
            return Err(OAuthError::invalid_client("Malformed client credentials").into());
        }
        Some(Ok((id, secret))) => {
            if auth.client_secret.is_some() || auth.client_id.as_ref().is_some_and(|f| f != id) {
                return Err(
                    OAuthError::invalid_request("Multiple client authentication methods").into(),
                );
            }
            (Some(id.clone()), Some(secret.clone()))
        }
        None => (auth.client_id.clone(), auth.client_secret.clone()),
    };
    let client_id = client_id
        .filter(|id| !id.is_empty())
        .ok_or_else(OAuthError::no_client)?;
    let client = clients::find_client(conn, &client_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_client("Unknown client"))?;
    let secret = secret.filter(|s| !s.is_empty());
    if is_confidential(&client) {
        let secret = secret.ok_or_else(|| {
            OAuthError::invalid_client("Client secret required for confidential clients")
        })?;
        if !secret_matches(state, client.client_secret_hash.as_deref(), secret).await? {
            return Err(OAuthError::invalid_client("Invalid client secret").into());
        }
    } else if secret.is_some() {
        return Err(OAuthError::invalid_client("Public clients do not use a client secret").into());
    }
    Ok(client)
}

async fn secret_matches(
    state: &AppState,
    stored: Option<&str>,
    secret: String,
) -> Result<bool, Error> {
    match stored {
        Some(stored) if stored.starts_with("sha256$") => Ok(constant_time_eq(
            stored.as_bytes(),
            format!("sha256${}", sha256_hex(secret.as_bytes())).as_bytes(),
        )),
        Some(stored) if stored.starts_with("$2") => state
            .passwords
            .verify(secret.into(), Some(stored))
            .await
            .map_err(Error::from),
        _ => Ok(false),
    }
}

fn too_long(values: &[&Option<String>]) -> bool {
    values
        .iter()
        .any(|v| v.as_ref().is_some_and(|s| s.chars().count() > MAX_FIELD))
}

/// The token endpoint.
pub async fn token(
    state: &AppState,
    auth: ClientAuth,
    form: TokenForm,
    origin: Origin,
) -> Result<TokenSet, ProtocolError> {
    if too_long(&[
        &form.grant_type,
        &form.code,
        &form.redirect_uri,
        &form.code_verifier,
        &form.refresh_token,
        &form.scope,
        &auth.client_id,
        &auth.client_secret,
    ]) {
        return Err(OAuthError::invalid_request("A field is longer than 4096 characters").into());
    }
    let mut conn = connection(state).await?;
    let client = authenticate_client(state, &mut conn, &auth).await?;
    match form.grant_type.as_deref() {
        None | Some("") => Err(OAuthError::invalid_request("grant_type required").into()),
        Some("authorization_code") => exchange_code(state, &mut conn, &client, form, origin).await,
        Some("refresh_token") => refresh(state, &mut conn, &client, form, origin).await,
        Some(_) => Err(OAuthError::unsupported_grant_type().into()),
    }
}

async fn exchange_code(
    state: &AppState,
    conn: &mut DbConn,
    client: &ClientRow,
    form: TokenForm,
    origin: Origin,
) -> Result<TokenSet, ProtocolError> {
    let code = form
        .code
        .filter(|c| !c.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("code required"))?;
    let redirect_uri = form
        .redirect_uri
        .filter(|r| !r.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("redirect_uri required"))?;
    let now = state.clock.now();
    let hash = sha256_hex(code.as_bytes());
    let verifier = form.code_verifier;
    let client = client.clone();
    // One transaction from spending the code to storing its tokens: a
    // concurrent replay waits on the code's row, then finds the tokens to
    // revoke. A refused attempt still commits: the code is spent by the
    // first attempt, whatever happens next.
    conn.transaction(|c| {
        async move {
            let Some(row) = grants::spend_code(c, &hash, now).await? else {
                return Ok(Err(refuse_spent_code(c, &hash, now).await?.into()));
            };
            if let Err(refused) = check_code(&row, &client, &redirect_uri, verifier.as_deref(), now)
            {
                return Ok(Err(refused.into()));
            }
            let user = match live_user(c, row.user_id).await {
                Ok(user) => user,
                Err(refused) => return Ok(Err(refused)),
            };
            let scope = scope_tokens(&row.scope);
            let nonce = row.nonce.as_deref();
            issue(
                state, c, &client, &user, &scope, row.id, nonce, &origin, now,
            )
            .await
            .map(Ok)
        }
        .scope_boxed()
    })
    .await?
}

/// The answer to a code that cannot be spent: unknown, or already used, in
/// which case everything issued from it is revoked (a replay).
async fn refuse_spent_code(
    conn: &mut DbConn,
    hash: &str,
    now: Timestamp,
) -> Result<OAuthError, ProtocolError> {
    match grants::find_code(conn, hash).await? {
        Some(used) => {
            let revoked = tokens::revoke_family(conn, used.id, now).await?;
            tracing::warn!(client_id = %used.client_id, revoked, "authorization code replayed");
            Ok(OAuthError::invalid_grant(
                "Authorization code has already been used",
            ))
        }
        None => Ok(OAuthError::invalid_grant("Invalid authorization code")),
    }
}

/// The checks of a freshly spent code against the token request.
fn check_code(
    row: &grants::CodeRow,
    client: &ClientRow,
    redirect_uri: &str,
    verifier: Option<&str>,
    now: Timestamp,
) -> Result<(), OAuthError> {
    if row.expires_at <= now {
        return Err(OAuthError::invalid_grant("Authorization code has expired"));
    }
    if row.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "Authorization code was not issued to this client",
        ));
    }
    if row.redirect_uri != redirect_uri {
        return Err(OAuthError::invalid_grant("redirect_uri mismatch"));
    }
    check_pkce(client, row.code_challenge.as_deref(), verifier)
}

fn check_pkce(
    client: &ClientRow,
    challenge: Option<&str>,
    verifier: Option<&str>,
) -> Result<(), OAuthError> {
    match (challenge, verifier) {
        (Some(challenge), Some(verifier)) => {
            let valid = is_pkce_value(verifier)
                && constant_time_eq(s256_challenge(verifier).as_bytes(), challenge.as_bytes());
            if valid {
                Ok(())
            } else {
                Err(OAuthError::invalid_grant("Invalid code_verifier"))
            }
        }
        (Some(_), None) => Err(OAuthError::invalid_grant("code_verifier required")),
        (None, Some(_)) => Err(OAuthError::invalid_grant("Unexpected code_verifier")),
        (None, None) if !is_confidential(client) => Err(OAuthError::invalid_grant(
            "PKCE required for public clients",
        )),
        (None, None) => Ok(()),
    }
}

async fn live_user(conn: &mut DbConn, user_id: Id) -> Result<UserRow, ProtocolError> {
    users::find_user_by_id(conn, user_id)
        .await?
        .filter(UserRow::is_usable)
        .ok_or_else(|| OAuthError::invalid_grant("User not found or inactive").into())
}

async fn refresh(
    state: &AppState,
    conn: &mut DbConn,
    client: &ClientRow,
    form: TokenForm,
    origin: Origin,
) -> Result<TokenSet, ProtocolError> {
    let presented = form
        .refresh_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| OAuthError::invalid_request("refresh_token required"))?;
    let now = state.clock.now();
    let row = tokens::find_by_hash(conn, &sha256_hex(presented.as_bytes()))
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("Invalid refresh token"))?;
    if row.client_id != client.client_id {
        return Err(
            OAuthError::invalid_grant("Refresh token was not issued to this client").into(),
        );
    }
    if row.revoked {
        // A rotated (or revoked) token presented again: whoever holds it may
        // be an attacker, so the whole family goes (OAuth 2.1, RFC 9700).
        let family = row.family_id;
        let revoked = conn
            .transaction(|c| {
                async move { tokens::revoke_family(c, family, now).await }.scope_boxed()
            })
            .await?;
        tracing::warn!(client_id = %row.client_id, revoked, "revoked refresh token reused; family revoked");
        return Err(OAuthError::invalid_grant("Refresh token has been revoked").into());
    }
    if row.expires_at <= now {
        return Err(OAuthError::invalid_grant("Refresh token has expired").into());
    }
    let user = live_user(conn, row.user_id).await?;
    let original = scope_tokens(&row.scope);
    let scope = match form.scope.as_deref().filter(|s| !s.trim().is_empty()) {
        None => original,
        Some(text) => {
            let asked = parse_scope(text).map_err(OAuthError::invalid_scope)?;
            if !asked.iter().all(|s| original.contains(s)) {
                return Err(OAuthError::invalid_scope("Cannot expand scope on refresh").into());
            }
            asked
        }
    };
    let (family, nonce) = (row.family_id, row.nonce.clone());
    let client = client.clone();
    conn.transaction(|c| {
        async move {
            // Only the first of two concurrent rotations wins; the other is
            // refused without revoking the family.
            if !tokens::revoke(c, row.id, now).await? {
                return Err(ProtocolError::from(OAuthError::invalid_grant(
                    "Refresh token has been revoked",
                )));
            }
            issue(
                state,
                c,
                &client,
                &user,
                &scope,
                family,
                nonce.as_deref(),
                &origin,
                now,
            )
            .await
        }
        .scope_boxed()
    })
    .await
}

/// Issues an access token and its paired refresh token.
#[expect(
    clippy::too_many_arguments,
    reason = "every input is a distinct fact of the grant"
)]
async fn issue(
    state: &AppState,
    conn: &mut DbConn,
    client: &ClientRow,
    user: &UserRow,
    scope: &[String],
    family_id: Id,
    nonce: Option<&str>,
    origin: &Origin,
    now: Timestamp,
) -> Result<TokenSet, ProtocolError> {
    let keys = keys(state)?;
    let lifetime = i64::from(client.access_token_lifetime);
    let jti = random_token(32);
    let scope = join_scope(scope);
    let name = format!(
        "{} {}",
        user.first_name,
        user.last_name.as_deref().unwrap_or_default()
    );
    let name = match name.trim() {
        "" => user.email.clone(),
        trimmed => trimmed.to_owned(),
    };
    let mut claims = json!({
        "iss": state.config.provider.issuer,
        "sub": user.id.to_string(),
        "aud": client.client_id,
        "client_id": client.client_id,
        "scope": scope,
        "exp": now.unix_seconds() + lifetime,
        "iat": now.unix_seconds(),
        "nbf": now.unix_seconds(),
        "jti": jti,
        "email": user.email,
        "name": name,
    });
    if let Some(nonce) = nonce {
        claims["nonce"] = Json::String(nonce.to_owned());
    }
    let access_token = keys.sign(claims.as_object().unwrap_or(&Map::new()));
    let refresh_token = random_token(48);
    let row = RefreshRow {
        id: Id::new_random(),
        token_hash: sha256_hex(refresh_token.as_bytes()),
        jti,
        family_id,
        client_id: client.client_id.clone(),
        user_id: user.id,
        scope: scope.clone(),
        nonce: nonce.map(str::to_owned),
        expires_at: now + Duration::seconds(i64::from(client.refresh_token_lifetime)),
        revoked: false,
        revoked_at: None,
        last_used_at: None,
        device_info: origin
            .user_agent
            .as_deref()
            .map(|ua| ua.chars().take(500).collect()),
        ip_address: origin.ip_address.clone(),
        created_at: now,
        updated_at: now,
    };
    tokens::insert_refresh(conn, &row).await?;
    Ok(TokenSet {
        access_token,
        expires_in: lifetime,
        refresh_token,
        scope,
    })
}

/// Which kind of token a request hints at.
fn access_first(hint: Option<&str>, default_access: bool) -> bool {
    match hint {
        Some("access_token") => true,
        Some("refresh_token") => false,
        _ => default_access,
    }
}

/// An access token's claims and refresh record, if it is active now.
async fn active_access(
    state: &AppState,
    conn: &mut DbConn,
    token: &str,
    now: Timestamp,
) -> Result<Option<(Map<String, Json>, RefreshRow)>, Error> {
    let Some(claims) = keys(state)?.verify(token) else {
        return Ok(None);
    };
    let number = |name: &str| claims.get(name).and_then(Json::as_i64);
    let timely = number("exp").is_some_and(|exp| exp > now.unix_seconds())
        && number("nbf").is_some_and(|nbf| nbf <= now.unix_seconds());
    let issuer = claims.get("iss").and_then(Json::as_str) == Some(&state.config.provider.issuer);
    let Some(jti) = claims
        .get("jti")
        .and_then(Json::as_str)
        .filter(|_| timely && issuer)
    else {
        return Ok(None);
    };
    let Some(record) = tokens::find_by_jti(conn, jti).await?.filter(|r| !r.revoked) else {
        return Ok(None);
    };
    Ok(parties_active(conn, &record)
        .await?
        .then_some((claims, record)))
}

/// The client and the user of a token are still active.
async fn parties_active(conn: &mut DbConn, record: &RefreshRow) -> Result<bool, Error> {
    let client = clients::find_client(conn, &record.client_id).await?;
    let user = users::find_user_by_id(conn, record.user_id).await?;
    Ok(client.is_some() && user.is_some_and(|u| u.is_usable()))
}

/// A refresh token's record, if it is active now.
async fn active_refresh(
    conn: &mut DbConn,
    token: &str,
    now: Timestamp,
) -> Result<Option<RefreshRow>, Error> {
    let Some(record) = tokens::find_by_hash(conn, &sha256_hex(token.as_bytes()))
        .await?
        .filter(|r| r.is_live(now))
    else {
        return Ok(None);
    };
    Ok(parties_active(conn, &record).await?.then_some(record))
}

fn required_token(token: Option<String>) -> Result<String, OAuthError> {
    match token {
        Some(t) if t.chars().count() > MAX_FIELD => Err(OAuthError::invalid_request(
            "token must be at most 4096 characters",
        )),
        Some(t) if !t.is_empty() => Ok(t),
        _ => Err(OAuthError::invalid_request("token required")),
    }
}

/// The record of a token presented as an access token (signature checked,
/// expiry not).
async fn record_of_access(
    state: &AppState,
    conn: &mut DbConn,
    token: &str,
) -> Result<Option<RefreshRow>, Error> {
    let jti = keys(state)?
        .verify(token)
        .and_then(|claims| claims.get("jti")?.as_str().map(str::to_owned));
    match jti {
        Some(jti) => Ok(tokens::find_by_jti(conn, &jti).await?),
        None => Ok(None),
    }
}

/// Revocation (RFC 7009): revokes the token if it is the client's; every
/// other case changes nothing and answers the same.
pub async fn revoke(
    state: &AppState,
    auth: ClientAuth,
    token: Option<String>,
    hint: Option<&str>,
) -> Result<(), ProtocolError> {
    let mut conn = connection(state).await?;
    let client = authenticate_client(state, &mut conn, &auth).await?;
    let token = required_token(token)?;
    let hash = sha256_hex(token.as_bytes());
    let mut record = None;
    for as_access in lookup_order(hint, false) {
        record = if as_access {
            record_of_access(state, &mut conn, &token).await?
        } else {
            tokens::find_by_hash(&mut conn, &hash).await?
        };
        if record.is_some() {
            break;
        }
    }
    if let Some(record) = record.filter(|r| r.client_id == client.client_id) {
        tokens::revoke(&mut conn, record.id, state.clock.now()).await?;
    }
    Ok(())
}

/// The lookup order for a hint: `true` means "as an access token".
fn lookup_order(hint: Option<&str>, access_by_default: bool) -> [bool; 2] {
    let first = access_first(hint, access_by_default);
    [first, !first]
}

/// Introspection (RFC 7662). A public client sees only its own tokens; a
/// confidential client (a resource server) sees any token of this provider.
pub async fn introspect(
    state: &AppState,
    auth: ClientAuth,
    token: Option<String>,
    hint: Option<&str>,
) -> Result<Introspection, ProtocolError> {
    let mut conn = connection(state).await?;
    let client = authenticate_client(state, &mut conn, &auth).await?;
    let token = required_token(token)?;
    let now = state.clock.now();
    let mut found = None;
    for as_access in lookup_order(hint, true) {
        found = if as_access {
            active_access(state, &mut conn, &token, now)
                .await?
                .map(|(claims, record)| (access_members(&claims), record))
        } else {
            match active_refresh(&mut conn, &token, now).await? {
                Some(record) => {
                    let email = users::find_user_by_id(&mut conn, record.user_id)
                        .await?
                        .map(|u| u.email);
                    Some((refresh_members(state, &record, email), record))
                }
                None => None,
            }
        };
        if found.is_some() {
            break;
        }
    }
    let visible =
        |record: &RefreshRow| is_confidential(&client) || record.client_id == client.client_id;
    Ok(match found {
        Some((members, record)) if visible(&record) => Introspection::Active(members),
        _ => Introspection::Inactive,
    })
}

fn access_members(claims: &Map<String, Json>) -> Map<String, Json> {
    let mut out = Map::new();
    out.insert("active".to_owned(), Json::Bool(true));
    for (name, member) in [
        ("scope", "scope"),
        ("client_id", "client_id"),
        ("username", "email"),
        ("token_type", ""),
        ("exp", "exp"),
        ("iat", "iat"),
        ("nbf", "nbf"),
        ("sub", "sub"),
        ("aud", "aud"),
        ("iss", "iss"),
        ("jti", "jti"),
    ] {
        let value = if name == "token_type" {
            Json::from("Bearer")
        } else {
            claims.get(member).cloned().unwrap_or(Json::Null)
        };
        out.insert(name.to_owned(), value);
    }
    out
}

fn refresh_members(
    state: &AppState,
    record: &RefreshRow,
    email: Option<String>,
) -> Map<String, Json> {
    let members = json!({
        "active": true,
        "scope": record.scope,
        "client_id": record.client_id,
        "username": email,
        "token_type": "refresh_token",
        "exp": record.expires_at.unix_seconds(),
        "iat": record.created_at.unix_seconds(),
        "nbf": null,
        "sub": record.user_id.to_string(),
        "aud": null,
        "iss": state.config.provider.issuer,
        "jti": null,
    });
    members.as_object().cloned().unwrap_or_default()
}
