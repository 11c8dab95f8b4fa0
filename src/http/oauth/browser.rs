//! The browser endpoints: authorize, the login page and form, the consent
//! page and form. Redirects to the client are 302; the hops between our own
//! pages are 302 (from authorize) or 303 (after a form). Errors are HTML
//! for browsers (`Accept: text/html`) and JSON otherwise.

use axum::response::Response;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use secrecy::SecretString;

use super::{Form, error_response, pages, redirect};
use crate::config::ProviderUi;
use crate::domain::client_ip::ClientIp;
use crate::domain::device::DeviceInfo;
use crate::domain::oauth::with_query;
use crate::error::Error;
use crate::service::oauth::ProtocolError;
use crate::service::oauth::authorize::{
    self, ConsentForm, ConsentStep, LoginForm, LoginStep, Next, Params, Pending,
};
use crate::service::oauth::browser::{self, BrowserUser, CSRF_COOKIE, SESSION_COOKIE};
use crate::state::AppState;

/// Paths of the browser endpoints, under `{API}/oauth/provider`.
pub struct Paths {
    /// `…/authorize`.
    pub authorize: String,
    /// `…/authorize/login`.
    pub login: String,
    /// `…/authorize/consent`.
    pub consent: String,
    /// The cookie path.
    pub cookie: String,
}

impl Paths {
    /// Under the API prefix.
    pub fn new(api_prefix: &str) -> Self {
        let base = format!("{api_prefix}/oauth/provider");
        Self {
            authorize: format!("{base}/authorize"),
            login: format!("{base}/authorize/login"),
            consent: format!("{base}/authorize/consent"),
            cookie: base,
        }
    }
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key == name).then_some(value)
        })
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

async fn identify(state: &AppState, headers: &HeaderMap) -> Result<Option<BrowserUser>, Error> {
    browser::identify(state, bearer(headers), cookie(headers, SESSION_COOKIE)).await
}

/// A `Set-Cookie` value with the attributes every cookie here shares.
fn set_cookie(
    state: &AppState,
    paths: &Paths,
    name: &str,
    value: &str,
    same_site: &str,
    max_age: i64,
) -> Option<HeaderValue> {
    let secure = if state.config.provider.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; HttpOnly; SameSite={same_site}; Path={}; Max-Age={max_age}{secure}",
        paths.cookie
    ))
    .ok()
}

/// The error answer of a browser endpoint.
fn failure(err: ProtocolError, headers: &HeaderMap) -> Response {
    error_response(err, wants_html(headers))
}

/// Where the login or consent page of `pending` is, by UI mode.
fn page_url(state: &AppState, paths: &Paths, pending: &Pending, consent: bool) -> String {
    let issuer = &state.config.provider.issuer;
    let id = pending.request.id.to_string();
    if state.config.provider.ui == ProviderUi::Builtin {
        let path = if consent {
            &paths.consent
        } else {
            &paths.login
        };
        return with_query(&format!("{issuer}{path}"), &[("request_id", &id)]);
    }
    let request = &pending.request;
    let mut params: Vec<(&str, &str)> = vec![
        ("client_id", &request.client_id),
        ("client_name", &pending.client_name),
        ("redirect_uri", &request.redirect_uri),
        ("scope", &request.scope),
        ("state", &request.state),
    ];
    for (name, value) in [
        ("code_challenge", &request.code_challenge),
        ("code_challenge_method", &request.code_challenge_method),
        ("nonce", &request.nonce),
    ] {
        if let Some(value) = value {
            params.push((name, value));
        }
    }
    params.push(("request_id", &id));
    params.retain(|(_, value)| !value.is_empty());
    let frontend = &state.config.frontend_url;
    if consent {
        return with_query(&format!("{frontend}/auth/consent"), &params);
    }
    params.retain(|(name, _)| *name != "client_name");
    let mut back = form_urlencoded::Serializer::new(String::new());
    back.append_pair("oauth_authorize", "true");
    for (name, value) in &params {
        back.append_pair(name, value);
    }
    let return_to = format!("/auth/consent?{}", back.finish());
    with_query(&format!("{frontend}/login"), &[("return_to", &return_to)])
}

fn params_of(form: &Form) -> Params {
    Params {
        response_type: form.get("response_type"),
        client_id: form.get("client_id"),
        redirect_uri: form.get("redirect_uri"),
        scope: form.get("scope"),
        state: form.get("state"),
        code_challenge: form.get("code_challenge"),
        code_challenge_method: form.get("code_challenge_method"),
        nonce: form.get("nonce"),
        resource: form.get("resource"),
        prompt: form.get("prompt"),
        max_age: form.get("max_age"),
        request_id: form.get("request_id"),
    }
}

/// `GET /authorize`.
pub async fn authorize(
    state: &AppState,
    paths: &Paths,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Response {
    let result = async {
        let query = Form::parse_query(query)?;
        let who = identify(state, headers).await?;
        authorize::authorize(state, who.as_ref(), params_of(&query)).await
    }
    .await;
    match result {
        Ok(Next::Client(url)) => to_client(state, &url),
        Ok(Next::Login(pending)) => {
            redirect(StatusCode::FOUND, &page_url(state, paths, &pending, false))
        }
        Ok(Next::Consent(pending)) => {
            redirect(StatusCode::FOUND, &page_url(state, paths, &pending, true))
        }
        Err(err) => failure(err, headers),
    }
}

/// The login page with a fresh CSRF cookie.
fn login_page(
    state: &AppState,
    paths: &Paths,
    status: StatusCode,
    pending: &Pending,
    error: Option<&str>,
) -> Response {
    let csrf = browser::new_login_csrf();
    let mut response = pages::login(status, &paths.login, pending, &csrf, error);
    if let Some(value) = set_cookie(state, paths, CSRF_COOKIE, &csrf, "Strict", 1800) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// `GET /authorize/login`.
pub async fn login_page_get(
    state: &AppState,
    paths: &Paths,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Response {
    let result = async {
        let query = Form::parse_query(query)?;
        let who = identify(state, headers).await?;
        authorize::login_page(state, who.as_ref(), query.get("request_id").as_deref()).await
    }
    .await;
    match result {
        Ok(LoginStep::Page(pending)) => login_page(state, paths, StatusCode::OK, &pending, None),
        Ok(LoginStep::Identified(id)) => redirect(
            StatusCode::SEE_OTHER,
            &with_query(&paths.authorize, &[("request_id", &id.to_string())]),
        ),
        Err(err) => failure(err, headers),
    }
}

/// `POST /authorize/login`.
pub async fn login(
    state: &AppState,
    paths: &Paths,
    headers: &HeaderMap,
    ip: Option<ClientIp>,
    body: &[u8],
) -> Response {
    let form = match Form::parse(content_type(headers), body) {
        Ok(form) => form,
        Err(err) => return failure(err, headers),
    };
    let request_id = form.get("request_id");
    let device = DeviceInfo::from_request(
        headers.get(header::USER_AGENT).map(HeaderValue::as_bytes),
        headers.get("x-device-id").map(HeaderValue::as_bytes),
        ip.map(|ip| ip.0),
    );
    let login = LoginForm {
        email: form.get("email"),
        password: form.get("password").map(SecretString::from),
        request_id: request_id.clone(),
        csrf_field: form.get("csrf_token"),
        csrf_cookie: cookie(headers, CSRF_COOKIE).map(str::to_owned),
    };
    match authorize::login(state, login, device).await {
        Ok(done) => {
            let mut response = redirect(
                StatusCode::SEE_OTHER,
                &with_query(
                    &paths.authorize,
                    &[("request_id", &done.request_id.to_string())],
                ),
            );
            let value = browser::session_cookie(state, done.session_id);
            let max_age = state.config.provider.session_minutes * 60;
            if let Some(cookie) = set_cookie(state, paths, SESSION_COOKIE, &value, "Lax", max_age) {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            response
        }
        // Wrong credentials: browsers get the form again, with a new token.
        Err(ProtocolError::Service(err @ (Error::InvalidCredentials | Error::UserInactive)))
            if wants_html(headers) =>
        {
            let pending = match request_id {
                Some(raw) => authorize::login_page(state, None, Some(&raw)).await,
                None => return failure(err.into(), headers),
            };
            match pending {
                Ok(LoginStep::Page(pending)) => {
                    let status = StatusCode::UNAUTHORIZED;
                    login_page(state, paths, status, &pending, Some(&err.to_string()))
                }
                _ => failure(err.into(), headers),
            }
        }
        Err(err) => failure(err, headers),
    }
}

/// `GET /authorize/consent`.
pub async fn consent_page(
    state: &AppState,
    paths: &Paths,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Response {
    let result = async {
        let query = Form::parse_query(query)?;
        let who = identify(state, headers).await?;
        authorize::consent_page(state, who.as_ref(), query.get("request_id").as_deref()).await
    }
    .await;
    match result {
        Ok(ConsentStep::Login(id)) => redirect(
            StatusCode::SEE_OTHER,
            &with_query(&paths.login, &[("request_id", &id.to_string())]),
        ),
        Ok(ConsentStep::Page {
            pending,
            csrf_token,
        }) => pages::consent(&paths.consent, &pending, csrf_token.as_deref()),
        Err(err) => failure(err, headers),
    }
}

/// `POST /authorize/consent`.
pub async fn consent(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Response {
    let result = async {
        let form = Form::parse(content_type(headers), body)?;
        let who = identify(state, headers).await?;
        let consent = ConsentForm {
            approved: form.get("approved"),
            params: params_of(&form),
            csrf_token: form.get("csrf_token"),
        };
        authorize::consent(state, who.as_ref(), consent).await
    }
    .await;
    match result {
        Ok(url) => to_client(state, &url),
        Err(err) => failure(err, headers),
    }
}

/// The browser's way back to the client, with a code or an error, and `iss`
/// (RFC 9207): a client that uses several authorization servers learns which
/// one answered, so a response cannot be passed off as another's.
fn to_client(state: &AppState, url: &str) -> Response {
    let issuer = &state.config.provider.issuer;
    redirect(StatusCode::FOUND, &with_query(url, &[("iss", issuer)]))
}

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
}
