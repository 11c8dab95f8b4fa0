//! The token endpoint (authorization code with PKCE, refresh with rotation
//! and family revocation), revocation (RFC 7009) and introspection (RFC 7662),
//! with client authentication (docs/oauth.md#token-endpoint).

use std::sync::Arc;

use chrono::Duration;
use scoped_futures::ScopedFutureExt as _;
use serde_json::{Map, Value as Json, json};

use super::{OAuthError, ProtocolError, is_confidential, scope_tokens};
use crate::auth::digest::{constant_time_eq, random_token, sha256_hex};
use crate::auth::provider_keys::{ACCESS_TOKEN_TYPE, ID_TOKEN_TYPE, ProviderKeys};
use crate::db::DbConn;
use crate::db::oauth::clients::{self, ClientRow};
use crate::db::oauth::grants;
use crate::db::oauth::tokens::{self, RefreshRow};
use crate::db::users::{self, UserRow};
use crate::domain::oauth::{is_pkce_value, join_scope, parse_scope, s256_challenge};
use crate::domain::types::{Id, Timestamp};
use crate::error::Error;
use crate::service::connection;
use crate::service::principal::Principal;
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
    /// Narrower scope on refresh; the scope of a client_credentials grant.
    pub scope: Option<String>,
    /// RFC 8707 resource indicator: the audience of the access token.
    pub resource: Option<String>,
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
    /// Opaque; none for client_credentials.
    pub refresh_token: Option<String>,
    /// Space-separated, sorted.
    pub scope: String,
    /// OpenID Connect ID token, when the grant has the `openid` scope.
    pub id_token: Option<String>,
}

/// What introspection reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Introspection {
    /// Exactly `{"active": false}`.
    Inactive,
    /// An active token's members.
    Active(Map<String, Json>),
}

/// The signing keys now.
pub(crate) fn keys(state: &AppState) -> Result<Arc<ProviderKeys>, Error> {
    state
        .provider_keys
        .as_ref()
        .map(|ring| ring.get())
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
        &form.resource,
        &auth.client_id,
        &auth.client_secret,
    ]) {
        return Err(OAuthError::invalid_request("A field is longer than 4096 characters").into());
    }
    let mut conn = connection(state).await?;
    let client = authenticate_client(state, &mut conn, &auth).await?;
    if let Some(grant) = form.grant_type.as_deref().filter(|g| !g.is_empty())
        && is_grant_type(grant)
        && !grant_types(&client).iter().any(|g| g == grant)
    {
        return Err(OAuthError::unauthorized_client(format!(
            "The client is not registered for the {grant} grant"
        ))
        .into());
    }
    match form.grant_type.as_deref() {
        None | Some("") => Err(OAuthError::invalid_request("grant_type required").into()),
        Some("authorization_code") => exchange_code(state, &mut conn, &client, form, origin).await,
        Some("refresh_token") => refresh(state, &mut conn, &client, form, origin).await,
        Some("client_credentials") => client_credentials(state, &client, form).await,
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
    let asked_resource = form.resource;
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
            let resource =
                match narrow_resource(state, &client, row.resource.as_deref(), asked_resource) {
                    Ok(resource) => resource,
                    Err(refused) => return Ok(Err(refused.into())),
                };
            let grant = Grant {
                client: &client,
                user: &user,
                scope: scope_tokens(&row.scope),
                family_id: row.id,
                nonce: row.nonce.clone(),
                resource,
                auth_time: row.auth_time,
                sid: row.sid.clone(),
                first: true,
            };
            issue(state, c, &grant, &origin, now).await.map(Ok)
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
    let resource = narrow_resource(state, client, row.resource.as_deref(), form.resource)?;
    let (family, nonce, auth_time, sid) = (
        row.family_id,
        row.nonce.clone(),
        row.auth_time,
        row.sid.clone(),
    );
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
            let grant = Grant {
                client: &client,
                user: &user,
                scope,
                family_id: family,
                nonce,
                resource,
                auth_time,
                sid,
                first: false,
            };
            issue(state, c, &grant, &origin, now).await
        }
        .scope_boxed()
    })
    .await
}

/// What a user's grant is: everything its tokens say.
struct Grant<'a> {
    client: &'a ClientRow,
    user: &'a UserRow,
    scope: Vec<String>,
    family_id: Id,
    nonce: Option<String>,
    resource: Option<String>,
    auth_time: Option<Timestamp>,
    sid: Option<String>,
    /// The code exchange (the ID token repeats the request's nonce), not a
    /// refresh.
    first: bool,
}

/// The user's display name: first and last name, or the email.
fn display_name(user: &UserRow) -> String {
    let name = format!(
        "{} {}",
        user.first_name,
        user.last_name.as_deref().unwrap_or_default()
    );
    match name.trim() {
        "" => user.email.clone(),
        trimmed => trimmed.to_owned(),
    }
}

/// The OpenID Connect claims about `user` that `scope` releases: `profile`
/// (names, locale, `updated_at`) and `email`. Identityd does not verify
/// addresses, so `email_verified` is false.
pub(crate) fn user_claims(user: &UserRow, scope: &[String]) -> Map<String, Json> {
    let mut claims = Map::new();
    claims.insert("sub".to_owned(), Json::from(user.id.to_string()));
    if scope.iter().any(|s| s == "profile") {
        claims.insert("name".to_owned(), Json::from(display_name(user)));
        claims.insert("given_name".to_owned(), Json::from(user.first_name.clone()));
        if let Some(last) = user.last_name.as_deref().filter(|l| !l.is_empty()) {
            claims.insert("family_name".to_owned(), Json::from(last));
        }
        if let Some(locale) = user.locale.as_deref().filter(|l| !l.is_empty()) {
            claims.insert("locale".to_owned(), Json::from(locale));
        }
        claims.insert(
            "updated_at".to_owned(),
            Json::from(user.updated_at.unix_seconds()),
        );
    }
    if scope.iter().any(|s| s == "email") {
        claims.insert("email".to_owned(), Json::from(user.email.clone()));
        claims.insert("email_verified".to_owned(), Json::Bool(false));
    }
    claims
}

/// Signs `claims` as a token of type `typ`.
async fn sign(
    keys: &Arc<ProviderKeys>,
    typ: &'static str,
    claims: Json,
    now: Timestamp,
) -> Result<String, Error> {
    let rsa = keys
        .signing_key(now)
        .is_some_and(|k| k.algorithm() == crate::auth::provider_keys::Algorithm::Rs256);
    let signed = if rsa {
        // An RSA signature takes over a millisecond of CPU: off the async
        // workers, so token requests cannot stall other requests.
        let keys = Arc::clone(keys);
        tokio::task::spawn_blocking(move || {
            keys.sign(typ, claims.as_object().unwrap_or(&Map::new()), now)
        })
        .await
        .map_err(|e| Error::internal(anyhow::anyhow!("signing: {e}")))?
    } else {
        keys.sign(typ, claims.as_object().unwrap_or(&Map::new()), now)
    };
    signed.ok_or_else(|| Error::internal(anyhow::anyhow!("no signing key")))
}

/// Issues an access token, its paired refresh token and, for `openid`, an
/// ID token.
async fn issue(
    state: &AppState,
    conn: &mut DbConn,
    grant: &Grant<'_>,
    origin: &Origin,
    now: Timestamp,
) -> Result<TokenSet, ProtocolError> {
    let keys = keys(state)?;
    let (client, user) = (grant.client, grant.user);
    let lifetime = i64::from(client.access_token_lifetime);
    let jti = random_token(32);
    let scope = join_scope(&grant.scope);
    let mut claims = json!({
        "iss": state.config.provider.issuer,
        "sub": user.id.to_string(),
        "aud": grant.resource.as_deref().unwrap_or(&client.client_id),
        "client_id": client.client_id,
        "scope": scope,
        "exp": now.unix_seconds() + lifetime,
        "iat": now.unix_seconds(),
        "nbf": now.unix_seconds(),
        "jti": jti,
    });
    // The user's email and name only where the scope releases them.
    if grant.scope.iter().any(|s| s == "email") {
        claims["email"] = Json::from(user.email.clone());
    }
    if grant.scope.iter().any(|s| s == "profile") {
        claims["name"] = Json::from(display_name(user));
    }
    if let Some(nonce) = &grant.nonce {
        claims["nonce"] = Json::String(nonce.clone());
    }
    let access_token = sign(&keys, ACCESS_TOKEN_TYPE, claims, now).await?;
    let id_token = if grant.scope.iter().any(|s| s == "openid") {
        Some(id_token(state, &keys, grant, &access_token, lifetime, now).await?)
    } else {
        None
    };
    let refresh_token = random_token(48);
    let row = RefreshRow {
        id: Id::new_random(),
        token_hash: sha256_hex(refresh_token.as_bytes()),
        jti,
        family_id: grant.family_id,
        client_id: client.client_id.clone(),
        user_id: user.id,
        scope: scope.clone(),
        nonce: grant.nonce.clone(),
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
        resource: grant.resource.clone(),
        auth_time: grant.auth_time,
        sid: grant.sid.clone(),
    };
    tokens::insert_refresh(conn, &row).await?;
    // The record backs the access token either way; the refresh token is
    // handed out only to clients registered for the refresh grant.
    let refreshable = grant_types(client).iter().any(|g| g == "refresh_token");
    Ok(TokenSet {
        access_token,
        expires_in: lifetime,
        refresh_token: refreshable.then_some(refresh_token),
        scope,
        id_token,
    })
}

/// The ID token of a grant (OpenID Connect Core §2, §3.1.3.6, §12.2): the
/// user's claims the scope releases, `auth_time`, `sid`, `at_hash`, and the
/// nonce of the request on the first exchange only.
async fn id_token(
    state: &AppState,
    keys: &Arc<ProviderKeys>,
    grant: &Grant<'_>,
    access_token: &str,
    lifetime: i64,
    now: Timestamp,
) -> Result<String, Error> {
    let algorithm = keys
        .signing_key(now)
        .map(crate::auth::provider_keys::KeyPair::algorithm)
        .ok_or_else(|| Error::internal(anyhow::anyhow!("no signing key")))?;
    let mut claims = user_claims(grant.user, &grant.scope);
    for (name, value) in [
        ("iss", Json::from(state.config.provider.issuer.clone())),
        ("aud", Json::from(grant.client.client_id.clone())),
        ("azp", Json::from(grant.client.client_id.clone())),
        ("exp", Json::from(now.unix_seconds() + lifetime)),
        ("iat", Json::from(now.unix_seconds())),
        ("at_hash", Json::from(algorithm.half_hash(access_token))),
    ] {
        claims.insert(name.to_owned(), value);
    }
    if let Some(at) = grant.auth_time {
        claims.insert("auth_time".to_owned(), Json::from(at.unix_seconds()));
    }
    if let Some(sid) = &grant.sid {
        claims.insert("sid".to_owned(), Json::from(sid.clone()));
    }
    if grant.first
        && let Some(nonce) = &grant.nonce
    {
        claims.insert("nonce".to_owned(), Json::from(nonce.clone()));
    }
    sign(keys, ID_TOKEN_TYPE, Json::Object(claims), now).await
}

/// The resource of a token request against its grant's (RFC 8707 §2.2): the
/// request may repeat the grant's resource, or name one for a grant without
/// any; every resource must be one the client may ask for.
fn narrow_resource(
    state: &AppState,
    client: &ClientRow,
    granted: Option<&str>,
    asked: Option<String>,
) -> Result<Option<String>, OAuthError> {
    let asked = asked.filter(|r| !r.is_empty());
    match (granted, asked) {
        (Some(granted), Some(asked)) if granted != asked => Err(OAuthError::invalid_target(
            "resource is not the one the grant was made for",
        )),
        (granted, asked) => {
            let resource = asked.or_else(|| granted.map(str::to_owned));
            super::check_resource(state, client, resource.as_deref())?;
            Ok(resource)
        }
    }
}

/// The client_credentials grant (RFC 6749 §4.4): a confidential client's
/// own token, with scopes among its allowed ones (OpenID scopes excluded:
/// there is no user) and no refresh token. Machine tokens are not stored:
/// they cannot be revoked before they expire.
async fn client_credentials(
    state: &AppState,
    client: &ClientRow,
    form: TokenForm,
) -> Result<TokenSet, ProtocolError> {
    if !is_confidential(client) {
        return Err(OAuthError::unauthorized_client(
            "client_credentials needs a confidential client",
        )
        .into());
    }
    let allowed: Vec<String> = super::allowed_scopes(client)
        .into_iter()
        .filter(|s| !crate::domain::oauth::is_openid_scope(s))
        .collect();
    let scope = match form.scope.as_deref().filter(|s| !s.trim().is_empty()) {
        None => allowed,
        Some(text) => {
            let asked = parse_scope(text).map_err(OAuthError::invalid_scope)?;
            if let Some(other) = asked.iter().find(|s| !allowed.contains(s)) {
                return Err(OAuthError::invalid_scope(format!(
                    "Scope {other} is not allowed for this client"
                ))
                .into());
            }
            asked
        }
    };
    if scope.is_empty() {
        return Err(OAuthError::invalid_scope("The client has no scope to grant").into());
    }
    let resource = form.resource.filter(|r| !r.is_empty());
    super::check_resource(state, client, resource.as_deref())?;
    let now = state.clock.now();
    let lifetime = i64::from(client.access_token_lifetime);
    let scope = join_scope(&scope);
    let claims = json!({
        "iss": state.config.provider.issuer,
        "sub": client.client_id,
        "aud": resource.as_deref().unwrap_or(&client.client_id),
        "client_id": client.client_id,
        "scope": scope,
        "exp": now.unix_seconds() + lifetime,
        "iat": now.unix_seconds(),
        "nbf": now.unix_seconds(),
        "jti": random_token(32),
    });
    Ok(TokenSet {
        access_token: sign(&keys(state)?, ACCESS_TOKEN_TYPE, claims, now).await?,
        expires_in: lifetime,
        refresh_token: None,
        scope,
        id_token: None,
    })
}

/// The grant types a client is registered for.
pub(crate) fn grant_types(client: &ClientRow) -> Vec<String> {
    serde_json::from_str(&client.grant_types).unwrap_or_default()
}

/// Whether `grant` is a grant type this server implements.
fn is_grant_type(grant: &str) -> bool {
    matches!(
        grant,
        "authorization_code" | "refresh_token" | "client_credentials"
    )
}

/// Which kind of token a request hints at.
fn access_first(hint: Option<&str>, default_access: bool) -> bool {
    match hint {
        Some("access_token") => true,
        Some("refresh_token") => false,
        _ => default_access,
    }
}

/// Who an active access token belongs to.
#[derive(Debug, Clone)]
enum Holder {
    /// A user's grant: its refresh record and the (usable) user.
    User(Box<(RefreshRow, UserRow)>),
    /// A client_credentials token of this client.
    Client(String),
}

impl Holder {
    fn client_id(&self) -> &str {
        match self {
            Self::User(grant) => &grant.0.client_id,
            Self::Client(client_id) => client_id,
        }
    }
}

/// How far ahead of this server's clock `nbf` may lie (another replica's
/// clock), as for first-party tokens.
const SKEW_SECONDS: i64 = 60;

/// Whether verified access-token claims are current and ours: `exp` ahead,
/// `nbf` not beyond the skew, `iss` this issuer.
fn timely(state: &AppState, claims: &Map<String, Json>, now: Timestamp) -> bool {
    let number = |name: &str| claims.get(name).and_then(Json::as_i64);
    number("exp").is_some_and(|exp| exp > now.unix_seconds())
        && number("nbf").is_some_and(|nbf| nbf <= now.unix_seconds() + SKEW_SECONDS)
        && claims.get("iss").and_then(Json::as_str) == Some(&state.config.provider.issuer)
}

/// An access token's claims and holder, if it is active now.
async fn active_access(
    state: &AppState,
    conn: &mut DbConn,
    token: &str,
    now: Timestamp,
) -> Result<Option<(Map<String, Json>, Holder)>, Error> {
    let Some(claims) = keys(state)?
        .verify(token, ACCESS_TOKEN_TYPE)
        .filter(|claims| timely(state, claims, now))
    else {
        return Ok(None);
    };
    Ok(holder(conn, &claims).await?.map(|holder| (claims, holder)))
}

/// Who holds a current access token, if it is still active: its grant's
/// record is not revoked and its client and user are active; for a machine
/// token, its client may still use client_credentials.
async fn holder(conn: &mut DbConn, claims: &Map<String, Json>) -> Result<Option<Holder>, Error> {
    let text = |name: &str| claims.get(name).and_then(Json::as_str).map(str::to_owned);
    let (Some(jti), Some(sub), Some(client_id)) = (text("jti"), text("sub"), text("client_id"))
    else {
        return Ok(None);
    };
    // A machine token's subject is its client; a user id never is one.
    if sub == client_id {
        let usable = clients::find_client(conn, &client_id)
            .await?
            .is_some_and(|c| {
                is_confidential(&c) && grant_types(&c).iter().any(|g| g == "client_credentials")
            });
        return Ok(usable.then_some(Holder::Client(client_id)));
    }
    let Some(record) = tokens::find_by_jti(conn, &jti)
        .await?
        .filter(|r| !r.revoked)
    else {
        return Ok(None);
    };
    Ok(active_user(conn, &record)
        .await?
        .map(|user| Holder::User(Box::new((record, user)))))
}

/// The caller behind a provider access token presented to identityd's own
/// API: its audience must be the API, it must be active, and its user
/// usable. The principal carries the token's scopes. The signature is
/// checked once.
pub async fn api_principal(
    state: &AppState,
    keys: &ProviderKeys,
    token: &str,
) -> Result<Principal, Error> {
    let now = state.clock.now();
    let Some(claims) = keys.verify(token, ACCESS_TOKEN_TYPE) else {
        return Err(Error::CredentialsUnverifiable);
    };
    if claims
        .get("exp")
        .and_then(Json::as_i64)
        .is_none_or(|exp| exp <= now.unix_seconds())
    {
        return Err(Error::AccessTokenExpired);
    }
    let audience = state.config.provider.api_resource(&state.config.api_prefix);
    if !timely(state, &claims, now)
        || claims.get("aud").and_then(Json::as_str) != Some(audience.as_str())
    {
        return Err(Error::CredentialsUnverifiable);
    }
    let mut conn = connection(state).await?;
    let Some(Holder::User(grant)) = holder(&mut conn, &claims).await? else {
        return Err(Error::SessionEnded);
    };
    let (record, user) = *grant;
    let scopes = claims
        .get("scope")
        .and_then(Json::as_str)
        .map(scope_tokens)
        .unwrap_or_default();
    Ok(Principal {
        user,
        session_id: record.family_id,
        scopes: Some(scopes),
        authenticated_at: record.auth_time.unwrap_or(record.created_at),
    })
}

/// The user behind an access token presented to the userinfo endpoint,
/// and the token's scopes: the token must be active, carry `openid`, and
/// be meant for the client or for identityd's API.
pub async fn userinfo(state: &AppState, token: &str) -> Result<Map<String, Json>, UserinfoError> {
    if token.chars().count() > MAX_FIELD {
        return Err(UserinfoError::InvalidToken);
    }
    let now = state.clock.now();
    let mut conn = connection(state).await?;
    let Some((claims, Holder::User(grant))) = active_access(state, &mut conn, token, now).await?
    else {
        return Err(UserinfoError::InvalidToken);
    };
    let (record, user) = &*grant;
    let api = state.config.provider.api_resource(&state.config.api_prefix);
    let audience = claims.get("aud").and_then(Json::as_str).unwrap_or_default();
    if audience != record.client_id && audience != api {
        return Err(UserinfoError::InvalidToken);
    }
    let scope = scope_tokens(&record.scope);
    if !scope.iter().any(|s| s == "openid") {
        return Err(UserinfoError::InsufficientScope);
    }
    Ok(user_claims(user, &scope))
}

/// Why the userinfo endpoint refuses (RFC 6750 §3.1).
#[derive(Debug)]
pub enum UserinfoError {
    /// 401 `invalid_token`.
    InvalidToken,
    /// 403 `insufficient_scope` (no `openid`).
    InsufficientScope,
    /// A service failure.
    Service(Error),
}

impl From<Error> for UserinfoError {
    fn from(err: Error) -> Self {
        Self::Service(err)
    }
}

impl From<crate::db::DbError> for UserinfoError {
    fn from(err: crate::db::DbError) -> Self {
        Self::Service(err.into())
    }
}

/// The user of a token's grant, while both its client and it are active.
async fn active_user(conn: &mut DbConn, record: &RefreshRow) -> Result<Option<UserRow>, Error> {
    if clients::find_client(conn, &record.client_id)
        .await?
        .is_none()
    {
        return Ok(None);
    }
    Ok(users::find_user_by_id(conn, record.user_id)
        .await?
        .filter(UserRow::is_usable))
}

/// A refresh token's record and user, if it is active now.
async fn active_refresh(
    conn: &mut DbConn,
    token: &str,
    now: Timestamp,
) -> Result<Option<(RefreshRow, UserRow)>, Error> {
    let Some(record) = tokens::find_by_hash(conn, &sha256_hex(token.as_bytes()))
        .await?
        .filter(|r| r.is_live(now))
    else {
        return Ok(None);
    };
    Ok(active_user(conn, &record).await?.map(|user| (record, user)))
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
        .verify(token, ACCESS_TOKEN_TYPE)
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

/// Introspection (RFC 7662). A confidential client registered by a
/// superuser (a resource server) sees any token of this provider; other
/// clients only their own.
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
                .map(|(claims, holder)| (access_members(&claims), holder))
        } else {
            active_refresh(&mut conn, &token, now)
                .await?
                .map(|(record, user)| {
                    let members = refresh_members(state, &record, Some(user.email.clone()));
                    (members, Holder::User(Box::new((record, user))))
                })
        };
        if found.is_some() {
            break;
        }
    }
    // A resource server registered by an administrator sees every token;
    // any other client (registered by itself) only its own.
    let trusted = is_confidential(&client) && client.registration == "managed";
    let visible = |holder: &Holder| trusted || holder.client_id() == client.client_id;
    Ok(match found {
        Some((members, holder)) if visible(&holder) => Introspection::Active(members),
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
