//! The browser flow (docs/oauth.md#authorization-flow): the authorize
//! endpoint's checks in order, authorization requests that carry a flow
//! across the login and consent pages, the login, and the consent that ends
//! in a code (or an error) redirected to the client.

use chrono::Duration;
use scoped_futures::ScopedFutureExt as _;
use secrecy::SecretString;

use super::browser::BrowserUser;
use super::{
    OAuthError, ProtocolError, allowed_scopes, is_confidential, redirect_uris, scope_tokens,
};
use crate::auth::digest::{constant_time_eq, random_token, sha256_hex};
use crate::db::DbConn;
use crate::db::oauth::clients::{self, ClientRow};
use crate::db::oauth::consents;
use crate::db::oauth::grants::{self, CodeRow, RequestMatch, RequestRow};
use crate::domain::device::DeviceInfo;
use crate::domain::oauth::{is_pkce_value, join_scope, parse_scope, with_query};
use crate::domain::types::{Id, Timestamp};
use crate::error::Error;
use crate::service::connection;
use crate::state::AppState;

/// How long a flow may take, and a code may wait for its exchange.
const LIFETIME_MINUTES: i64 = 10;

/// The parameters of an authorization request (or of a consent form).
#[derive(Debug, Clone, Default)]
pub struct Params {
    /// Must be `code`.
    pub response_type: Option<String>,
    /// The client.
    pub client_id: Option<String>,
    /// Exactly one of the client's.
    pub redirect_uri: Option<String>,
    /// Requested scope.
    pub scope: Option<String>,
    /// Opaque client state.
    pub state: Option<String>,
    /// PKCE challenge.
    pub code_challenge: Option<String>,
    /// PKCE method (`S256`).
    pub code_challenge_method: Option<String>,
    /// OIDC nonce.
    pub nonce: Option<String>,
    /// RFC 8707 resource indicator.
    pub resource: Option<String>,
    /// OpenID Connect `prompt`: `none`, `login`, `consent`,
    /// `select_account`, space-separated.
    pub prompt: Option<String>,
    /// OpenID Connect `max_age`: seconds since the user's login.
    pub max_age: Option<String>,
    /// A pending request carrying all of the above.
    pub request_id: Option<String>,
}

/// A pending request and its client, as pages and redirects need them.
#[derive(Debug, Clone)]
pub struct Pending {
    /// The request.
    pub request: RequestRow,
    /// Its client's name.
    pub client_name: String,
    /// Every redirect URI of the client is on the loopback interface or a
    /// private-use scheme: the code goes to a program on the user's own
    /// device, which any program can claim to be, whatever the name says.
    pub local_only: bool,
    /// The URL of the client's metadata document, when its identity comes
    /// from one (the host vouches for the name).
    pub document_url: Option<String>,
}

impl Pending {
    /// `request` of `client`.
    fn of(request: RequestRow, client: &ClientRow) -> Self {
        let uris = redirect_uris(client);
        Self {
            request,
            client_name: client.client_name.clone(),
            local_only: !uris.is_empty()
                && uris.iter().all(|u| {
                    crate::domain::oauth::is_loopback_uri(u)
                        || !(u.starts_with("https://") || u.starts_with("http://"))
                }),
            document_url: (client.registration == "metadata_document")
                .then(|| client.client_id.clone()),
        }
    }
}

/// Where the browser goes next.
#[derive(Debug, Clone)]
pub enum Next {
    /// To the client: a URL with a code, or with an error.
    Client(String),
    /// To the login page for this request.
    Login(Box<Pending>),
    /// To the consent page for this request.
    Consent(Box<Pending>),
}

fn field_error(field: &'static str, message: &'static str) -> ProtocolError {
    OAuthError::invalid_field(field, message).into()
}

/// Checks the syntax of the parameters (422 on the first bad one).
fn check_syntax(p: &Params) -> Result<(), ProtocolError> {
    let len = |v: &Option<String>| v.as_deref().map_or(0, |s| s.chars().count());
    match p.response_type.as_deref() {
        None | Some("") => return Err(field_error("response_type", "Field required")),
        Some(_) if len(&p.response_type) > 32 => {
            return Err(field_error("response_type", "At most 32 characters"));
        }
        Some(_) => {}
    }
    if !(1..=255).contains(&len(&p.client_id)) {
        return Err(field_error("client_id", "Must be 1 to 255 characters"));
    }
    if !(1..=2048).contains(&len(&p.redirect_uri)) {
        return Err(field_error("redirect_uri", "Must be 1 to 2048 characters"));
    }
    check_common(p)
}

/// Syntax shared by the authorize query and the consent form.
fn check_common(p: &Params) -> Result<(), ProtocolError> {
    let len = |v: &Option<String>| v.as_deref().map_or(0, |s| s.chars().count());
    if let Some(scope) = &p.scope
        && parse_scope(scope).is_err()
    {
        return Err(field_error("scope", "Invalid scope"));
    }
    if len(&p.state) > 512 {
        return Err(field_error("state", "At most 512 characters"));
    }
    if let Some(challenge) = p.code_challenge.as_deref().filter(|c| !c.is_empty())
        && !is_pkce_value(challenge)
    {
        return Err(field_error(
            "code_challenge",
            "Must be 43 to 128 unreserved characters",
        ));
    }
    if len(&p.code_challenge_method) > 10 {
        return Err(field_error(
            "code_challenge_method",
            "At most 10 characters",
        ));
    }
    if len(&p.nonce) > 512 {
        return Err(field_error("nonce", "At most 512 characters"));
    }
    if len(&p.resource) > 2048 {
        return Err(field_error("resource", "At most 2048 characters"));
    }
    if len(&p.prompt) > 64 {
        return Err(field_error("prompt", "At most 64 characters"));
    }
    if non_empty(&p.max_age).is_some() && max_age(p).is_none() {
        return Err(field_error("max_age", "Must be a whole number of seconds"));
    }
    Ok(())
}

/// `max_age` as a number of seconds (at most about 31 years).
fn max_age(p: &Params) -> Option<i32> {
    non_empty(&p.max_age)?
        .parse::<i32>()
        .ok()
        .filter(|s| *s >= 0 && *s <= 1_000_000_000)
}

/// The `prompt` values of a request.
fn prompts(prompt: Option<&str>) -> Vec<&str> {
    prompt
        .unwrap_or_default()
        .split(' ')
        .filter(|v| !v.is_empty())
        .collect()
}

/// Why `prompt` cannot be honoured, if it cannot (OpenID Connect Core
/// §3.1.2.1): an unknown value, or `none` with another.
fn check_prompt(prompt: Option<&str>) -> Result<(), &'static str> {
    let values = prompts(prompt);
    if values
        .iter()
        .any(|v| !matches!(*v, "none" | "login" | "consent" | "select_account"))
    {
        return Err("Unsupported prompt value");
    }
    if values.contains(&"none") && values.len() > 1 {
        return Err("prompt=none cannot be combined with other values");
    }
    Ok(())
}

/// Whether the user must sign in again for this request: `prompt=login`
/// and no login since the request began, or a login older than `max_age`.
fn needs_fresh_login(request: &RequestRow, who: &BrowserUser, now: Timestamp) -> bool {
    let forced =
        prompts(request.prompt.as_deref()).contains(&"login") && who.auth_time < request.created_at;
    let too_old = request
        .max_age
        .is_some_and(|age| who.auth_time + Duration::seconds(i64::from(age)) < now);
    forced || too_old
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// PKCE method rules: S256 only; a challenge without a method is `plain`.
fn check_pkce_method(p: &Params) -> Result<(), OAuthError> {
    match (
        non_empty(&p.code_challenge),
        non_empty(&p.code_challenge_method),
    ) {
        (_, Some(method)) if method != "S256" => {
            Err(OAuthError::invalid_request("Only S256 PKCE is supported"))
        }
        (Some(_), None) => Err(OAuthError::invalid_request("Only S256 PKCE is supported")),
        (None, Some(_)) => Err(OAuthError::invalid_request("code_challenge required")),
        _ => Ok(()),
    }
}

fn parse_request_id(raw: &str) -> Result<Id, ProtocolError> {
    uuid::Uuid::parse_str(raw)
        .map(Id)
        .map_err(|_| field_error("request_id", "Input should be a valid UUID"))
}

fn unknown_request() -> ProtocolError {
    OAuthError::invalid_request("Unknown or expired authorization request").into()
}

/// The pending request `raw_id` names, usable by `user` (its own, or one
/// with no user yet).
async fn pending_request(
    conn: &mut DbConn,
    raw_id: &str,
    user: Option<Id>,
    now: Timestamp,
) -> Result<(RequestRow, ClientRow), ProtocolError> {
    let id = parse_request_id(raw_id)?;
    let request = grants::find_request(conn, id)
        .await?
        .filter(|r| r.is_pending(now))
        .filter(|r| r.user_id.is_none() || r.user_id == user)
        .ok_or_else(unknown_request)?;
    let client = clients::find_client(conn, &request.client_id)
        .await?
        .ok_or_else(unknown_request)?;
    Ok((request, client))
}

/// The client's redirect with an error (and the state when there was one).
fn error_redirect(redirect_uri: &str, state: &str, error: &str, description: &str) -> String {
    let mut params = vec![("error", error), ("error_description", description)];
    if !state.is_empty() {
        params.push(("state", state));
    }
    with_query(redirect_uri, &params)
}

/// `GET /authorize`.
pub async fn authorize(
    state: &AppState,
    who: Option<&BrowserUser>,
    p: Params,
) -> Result<Next, ProtocolError> {
    let now = state.clock.now();
    let user = who.map(BrowserUser::user_id);
    // A pending request supplies every parameter (steps 2 to 8 passed when
    // it was made).
    if let Some(raw) = non_empty(&p.request_id) {
        let mut conn = connection(state).await?;
        let (request, client) = pending_request(&mut conn, raw, user, now).await?;
        return decide(&mut conn, who, request, &client, now).await;
    }
    check_syntax(&p)?;
    if p.response_type.as_deref() != Some("code") {
        return Err(OAuthError::unsupported_response_type().into());
    }
    check_pkce_method(&p)?;
    let client_id = p.client_id.clone().unwrap_or_default();
    // No connection is held here: resolving a metadata document may wait
    // on another server.
    let client = super::metadata_document::authorize_client(state, &client_id).await?;
    let mut conn = connection(state).await?;
    let redirect_uri = p.redirect_uri.clone().unwrap_or_default();
    if !redirect_uris(&client).contains(&redirect_uri) {
        return Err(OAuthError::invalid_request("Invalid redirect_uri").into());
    }
    if !super::tokens::grant_types(&client)
        .iter()
        .any(|g| g == "authorization_code")
    {
        return Err(OAuthError::unauthorized_client(
            "The client is not registered for the authorization_code grant",
        )
        .into());
    }
    // From here on, errors go back to the client.
    let client_state = p.state.clone().unwrap_or_default();
    let requested = p.scope.clone().unwrap_or_default();
    let allowed = allowed_scopes(&client);
    let asked = parse_scope(&requested).unwrap_or_default();
    let effective: Vec<String> = if asked.is_empty() {
        allowed
    } else {
        asked.into_iter().filter(|s| allowed.contains(s)).collect()
    };
    if effective.is_empty() {
        return Ok(Next::Client(error_redirect(
            &redirect_uri,
            &client_state,
            "invalid_scope",
            "None of the requested scopes is allowed for this client",
        )));
    }
    let challenge = non_empty(&p.code_challenge).map(str::to_owned);
    if !is_confidential(&client) && challenge.is_none() {
        return Ok(Next::Client(error_redirect(
            &redirect_uri,
            &client_state,
            "invalid_request",
            "PKCE with S256 is required for public clients",
        )));
    }
    if let Err(why) = check_prompt(p.prompt.as_deref()) {
        return Ok(Next::Client(error_redirect(
            &redirect_uri,
            &client_state,
            "invalid_request",
            why,
        )));
    }
    let resource = non_empty(&p.resource).map(str::to_owned);
    if let Err(refused) = super::check_resource(state, &client, resource.as_deref()) {
        return Ok(Next::Client(error_redirect(
            &redirect_uri,
            &client_state,
            refused.error,
            &refused.description,
        )));
    }
    let request = RequestRow {
        id: Id::new_random(),
        client_id: client.client_id.clone(),
        user_id: user,
        redirect_uri,
        requested_scope: requested,
        scope: join_scope(&effective),
        state: client_state,
        code_challenge: challenge.clone(),
        code_challenge_method: challenge.map(|_| "S256".to_owned()),
        nonce: non_empty(&p.nonce).map(str::to_owned),
        expires_at: now + Duration::minutes(LIFETIME_MINUTES),
        consumed_at: None,
        created_at: now,
        updated_at: now,
        resource,
        prompt: non_empty(&p.prompt).map(str::to_owned),
        max_age: max_age(&p),
    };
    decide(&mut conn, who, request, &client, now).await
}

/// Steps 9 to 11: to the login page, straight to the client when a consent
/// covers the scope, or to the consent page. `request` is stored (or bound
/// to the user) when the flow continues on a page.
async fn decide(
    conn: &mut DbConn,
    who: Option<&BrowserUser>,
    request: RequestRow,
    client: &ClientRow,
    now: Timestamp,
) -> Result<Next, ProtocolError> {
    let stored = grants::find_request(conn, request.id).await?.is_some();
    let pending = |request: RequestRow| Box::new(Pending::of(request, client));
    let prompt = prompts(request.prompt.as_deref());
    let silent = prompt.contains(&"none");
    let who = match who {
        Some(who) if !needs_fresh_login(&request, who, now) => who,
        _ if silent => {
            return silent_refusal(conn, &request, stored, "login_required", now).await;
        }
        _ => {
            // Unbound, so that whoever signs in on the login page may
            // continue it.
            if !stored {
                let mut unbound = request.clone();
                unbound.user_id = None;
                grants::insert_request(conn, &unbound).await?;
            }
            return Ok(Next::Login(pending(request)));
        }
    };
    let effective = scope_tokens(&request.scope);
    let granted = consents::find_consent(conn, who.user_id(), &client.client_id)
        .await?
        .map(|c| scope_tokens(&c.granted_scopes));
    let covered = granted.is_some_and(|g| effective.iter().all(|s| g.contains(s)));
    if covered && !prompt.contains(&"consent") {
        let url = finish(conn, who, &request, &effective, stored, false, now).await?;
        return Ok(Next::Client(url));
    }
    if silent {
        return silent_refusal(conn, &request, stored, "consent_required", now).await;
    }
    if stored {
        grants::bind_user(conn, request.id, who.user_id(), now).await?;
    } else {
        let mut bound = request.clone();
        bound.user_id = Some(who.user_id());
        grants::insert_request(conn, &bound).await?;
    }
    Ok(Next::Consent(pending(request)))
}

/// `prompt=none` when a page would be needed: the error goes back to the
/// client and the request ends.
async fn silent_refusal(
    conn: &mut DbConn,
    request: &RequestRow,
    stored: bool,
    error: &str,
    now: Timestamp,
) -> Result<Next, ProtocolError> {
    if stored {
        grants::consume_request(conn, request.id, now).await?;
    }
    let description = if error == "login_required" {
        "The user must sign in"
    } else {
        "The user must consent"
    };
    Ok(Next::Client(error_redirect(
        &request.redirect_uri,
        &request.state,
        error,
        description,
    )))
}

/// Issues a code for `scope`, consumes the request, and returns the
/// redirect to the client.
async fn finish(
    conn: &mut DbConn,
    who: &BrowserUser,
    request: &RequestRow,
    scope: &[String],
    stored: bool,
    record_consent: bool,
    now: Timestamp,
) -> Result<String, ProtocolError> {
    let code = random_token(64);
    let user_id = who.user_id();
    let row = CodeRow {
        id: Id::new_random(),
        code_hash: sha256_hex(code.as_bytes()),
        client_id: request.client_id.clone(),
        user_id,
        redirect_uri: request.redirect_uri.clone(),
        scope: join_scope(scope),
        code_challenge: request.code_challenge.clone(),
        code_challenge_method: request.code_challenge_method.clone(),
        state: Some(request.state.clone()).filter(|s| !s.is_empty()),
        nonce: request.nonce.clone(),
        expires_at: now + Duration::minutes(LIFETIME_MINUTES),
        used: false,
        created_at: now,
        updated_at: now,
        resource: request.resource.clone(),
        auth_time: Some(who.auth_time),
        sid: Some(who.session_id.to_string()),
    };
    let request_id = request.id;
    conn.transaction(|c| {
        async move {
            if stored && !grants::consume_request(c, request_id, now).await? {
                // Another tab finished this request first.
                return Err(unknown_request());
            }
            // Only the decision that consumed the request is recorded.
            if record_consent {
                consents::grant(c, user_id, &row.client_id, &row.scope, now).await?;
            }
            grants::insert_code(c, &row).await?;
            Ok(())
        }
        .scope_boxed()
    })
    .await?;
    let mut params = vec![("code", code.as_str())];
    if !request.state.is_empty() {
        params.push(("state", request.state.as_str()));
    }
    Ok(with_query(&request.redirect_uri, &params))
}

/// What the login page needs, or that the caller is already identified.
#[derive(Debug, Clone)]
pub enum LoginStep {
    /// Show the form.
    Page(Box<Pending>),
    /// Already identified: back to authorize with the request.
    Identified(Id),
}

/// `GET /authorize/login`.
pub async fn login_page(
    state: &AppState,
    who: Option<&BrowserUser>,
    request_id: Option<&str>,
) -> Result<LoginStep, ProtocolError> {
    let raw = request_id
        .filter(|r| !r.is_empty())
        .ok_or_else(|| field_error("request_id", "Field required"))?;
    let mut conn = connection(state).await?;
    let (request, client) = pending_request(
        &mut conn,
        raw,
        who.map(BrowserUser::user_id),
        state.clock.now(),
    )
    .await?;
    // Signed in already, unless this request asks for a fresh login.
    if who.is_some_and(|w| !needs_fresh_login(&request, w, state.clock.now())) {
        return Ok(LoginStep::Identified(request.id));
    }
    Ok(LoginStep::Page(Box::new(Pending::of(request, &client))))
}

/// The login form.
#[derive(Debug)]
pub struct LoginForm {
    /// Email.
    pub email: Option<String>,
    /// Password.
    pub password: Option<SecretString>,
    /// The request being authorized.
    pub request_id: Option<String>,
    /// The form's CSRF field.
    pub csrf_field: Option<String>,
    /// The `as_csrf` cookie.
    pub csrf_cookie: Option<String>,
}

/// What a successful login leaves.
#[derive(Debug, Clone, Copy)]
pub struct LoggedIn {
    /// The new session (for the cookie).
    pub session_id: Id,
    /// Back to authorize with it.
    pub request_id: Id,
}

/// `POST /authorize/login`: CSRF, validation, the pending request, the
/// credentials (exactly as password login), then a session for the cookie.
pub async fn login(
    state: &AppState,
    form: LoginForm,
    device: DeviceInfo,
) -> Result<LoggedIn, ProtocolError> {
    let csrf_ok = match (&form.csrf_field, &form.csrf_cookie) {
        (Some(field), Some(cookie)) if !field.is_empty() => {
            constant_time_eq(field.as_bytes(), cookie.as_bytes())
        }
        _ => false,
    };
    if !csrf_ok {
        return Err(Error::forbidden("CSRF token missing or invalid").into());
    }
    let email = form
        .email
        .filter(|e| !e.trim().is_empty())
        .ok_or_else(|| field_error("email", "Field required"))?;
    if email.chars().count() > 320 {
        return Err(field_error("email", "At most 320 characters"));
    }
    let password = form
        .password
        .ok_or_else(|| field_error("password", "Field required"))?;
    if secrecy::ExposeSecret::expose_secret(&password)
        .chars()
        .count()
        > 1024
    {
        return Err(field_error("password", "At most 1024 characters"));
    }
    let raw = form
        .request_id
        .filter(|r| !r.is_empty())
        .ok_or_else(|| field_error("request_id", "Field required"))?;
    let now = state.clock.now();
    let (request, _) = pending_request(&mut connection(state).await?, &raw, None, now).await?;
    let email = crate::domain::email::normalize_email(&email);
    let (session_id, user) = crate::service::auth::open_browser_session(
        state,
        &email,
        password,
        device,
        state.config.provider.session_minutes,
    )
    .await?;
    grants::bind_user(&mut connection(state).await?, request.id, user.id, now).await?;
    Ok(LoggedIn {
        session_id,
        request_id: request.id,
    })
}

/// What the consent page needs.
#[derive(Debug, Clone)]
pub enum ConsentStep {
    /// Anonymous: to the login page for this request.
    Login(Id),
    /// Show the page.
    Page {
        /// The request and client.
        pending: Box<Pending>,
        /// The consent form's CSRF token (cookie identities).
        csrf_token: Option<String>,
    },
}

/// `GET /authorize/consent`.
pub async fn consent_page(
    state: &AppState,
    who: Option<&BrowserUser>,
    request_id: Option<&str>,
) -> Result<ConsentStep, ProtocolError> {
    let raw = request_id
        .filter(|r| !r.is_empty())
        .ok_or_else(|| field_error("request_id", "Field required"))?;
    let now = state.clock.now();
    let mut conn = connection(state).await?;
    let (request, client) =
        pending_request(&mut conn, raw, who.map(BrowserUser::user_id), now).await?;
    let Some(who) = who else {
        return Ok(ConsentStep::Login(request.id));
    };
    grants::bind_user(&mut conn, request.id, who.user_id(), now).await?;
    let csrf_token = who
        .via_cookie
        .then(|| super::browser::consent_csrf(state, who.session_id, request.id));
    Ok(ConsentStep::Page {
        pending: Box::new(Pending::of(request, &client)),
        csrf_token,
    })
}

/// The consent form.
#[derive(Debug, Clone, Default)]
pub struct ConsentForm {
    /// `true` (Approve) or `false` (Deny).
    pub approved: Option<String>,
    /// The request's parameters (they must match the request).
    pub params: Params,
    /// The form's CSRF token.
    pub csrf_token: Option<String>,
}

/// `POST /authorize/consent`: the user's decision, ending in a redirect to
/// the client.
pub async fn consent(
    state: &AppState,
    who: Option<&BrowserUser>,
    form: ConsentForm,
) -> Result<String, ProtocolError> {
    let who = who.ok_or(Error::NotAuthenticated)?;
    let p = &form.params;
    // CSRF (403) comes before the form's validation (422): a malformed
    // request id in a cookie-carried form is a failed CSRF check.
    if who.via_cookie {
        let id = non_empty(&p.request_id).and_then(|raw| parse_request_id(raw).ok());
        let valid = match (id, form.csrf_token.as_deref()) {
            (Some(id), Some(token)) => {
                super::browser::consent_csrf_matches(state, who.session_id, id, token)
            }
            _ => false,
        };
        if !valid {
            return Err(Error::forbidden("CSRF token missing or invalid").into());
        }
    }
    let request_id = match non_empty(&p.request_id) {
        Some(raw) => Some(parse_request_id(raw)?),
        None => None,
    };
    let approved = match form.approved.as_deref().map(crate::config::parse_bool) {
        Some(Some(approved)) => approved,
        Some(None) => return Err(field_error("approved", "Input should be a valid boolean")),
        None => return Err(field_error("approved", "Field required")),
    };
    if !(1..=255).contains(&p.client_id.as_deref().map_or(0, |s| s.chars().count())) {
        return Err(field_error("client_id", "Must be 1 to 255 characters"));
    }
    if !(1..=2048).contains(&p.redirect_uri.as_deref().map_or(0, |s| s.chars().count())) {
        return Err(field_error("redirect_uri", "Must be 1 to 2048 characters"));
    }
    check_common(p)?;
    let now = state.clock.now();
    let mut conn = connection(state).await?;
    let client_id = p.client_id.clone().unwrap_or_default();
    let client = clients::find_client(&mut conn, &client_id)
        .await?
        .ok_or_else(OAuthError::unknown_client)?;
    let redirect_uri = p.redirect_uri.clone().unwrap_or_default();
    if !redirect_uris(&client).contains(&redirect_uri) {
        return Err(OAuthError::invalid_request("Invalid redirect_uri").into());
    }
    check_pkce_method(p)?;
    let client_state = p.state.clone().unwrap_or_default();
    let record = matching_request(&mut conn, who.user_id(), request_id, p, now).await?;
    if !approved {
        if let Some(record) = &record {
            grants::consume_request(&mut conn, record.id, now).await?;
        }
        return Ok(error_redirect(
            &redirect_uri,
            &client_state,
            "access_denied",
            "User denied authorization",
        ));
    }
    let record = record.ok_or_else(unknown_request)?;
    let effective = scope_tokens(&record.scope);
    let asked = parse_scope(p.scope.as_deref().unwrap_or_default()).unwrap_or_default();
    let approved_scopes: Vec<String> = if asked.is_empty() {
        effective
    } else {
        asked
            .into_iter()
            .filter(|s| effective.contains(s))
            .collect()
    };
    if approved_scopes.is_empty() {
        grants::consume_request(&mut conn, record.id, now).await?;
        return Ok(error_redirect(
            &redirect_uri,
            &client_state,
            "invalid_scope",
            "None of the requested scopes is allowed for this client",
        ));
    }
    if !is_confidential(&client) && record.code_challenge.is_none() {
        grants::consume_request(&mut conn, record.id, now).await?;
        return Ok(error_redirect(
            &redirect_uri,
            &client_state,
            "invalid_request",
            "PKCE with S256 is required for public clients",
        ));
    }
    finish(&mut conn, who, &record, &approved_scopes, true, true, now).await
}

/// The pending request a consent form answers: the one it names (whose
/// parameters must then be the form's), or the newest matching one.
async fn matching_request(
    conn: &mut DbConn,
    user_id: Id,
    request_id: Option<Id>,
    p: &Params,
    now: Timestamp,
) -> Result<Option<RequestRow>, ProtocolError> {
    let wanted = RequestMatch {
        client_id: p.client_id.as_deref().unwrap_or_default(),
        redirect_uri: p.redirect_uri.as_deref().unwrap_or_default(),
        state: p.state.as_deref().unwrap_or_default(),
        code_challenge: non_empty(&p.code_challenge),
        code_challenge_method: non_empty(&p.code_challenge_method),
        nonce: non_empty(&p.nonce),
    };
    let Some(id) = request_id else {
        return Ok(grants::find_matching_request(conn, user_id, &wanted, now).await?);
    };
    Ok(grants::find_request(conn, id).await?.filter(|r| {
        r.is_pending(now)
            && r.user_id.is_none_or(|u| u == user_id)
            && r.client_id == wanted.client_id
            && r.redirect_uri == wanted.redirect_uri
            && r.state == wanted.state
            && r.code_challenge.as_deref() == wanted.code_challenge
            && r.code_challenge_method.as_deref() == wanted.code_challenge_method
            && r.nonce.as_deref() == wanted.nonce
    }))
}
