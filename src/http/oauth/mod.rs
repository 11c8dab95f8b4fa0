//! The OAuth 2.1 authorization server's protocol endpoints (docs/oauth.md):
//! plain HTTP routes beside the transcoder, because RFC 6749, 7009, 7662 and
//! 8414 fix their formats (forms in; JSON with `error` and
//! `error_description` out; redirects; HTML pages). Everything they decide
//! is in `service::oauth`. While `OAUTH_PROVIDER_ENABLED` is false every
//! one of them answers 404.

mod browser;
mod pages;
mod protocol;
mod registration;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http::{HeaderValue, Method, StatusCode, header};
use http_body_util::BodyExt as _;
use serde_json::json;

use self::browser::Paths;
use super::{body_limit, envelope, method_not_allowed};
use crate::domain::client_ip::ClientIp;
use crate::error::Code;
use crate::grpc::authn::{DEFAULT_MAX_BODY, PROVIDER_DISABLED};
use crate::service::oauth::{OAuthError, ProtocolError};
use crate::state::AppState;

/// One of the endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Metadata,
    ResourceMetadata,
    Jwks,
    Userinfo,
    Register,
    RegisteredClient,
    Authorize,
    Login,
    Consent,
    Token,
    Revoke,
    Introspect,
}

impl Endpoint {
    fn allow(self) -> &'static str {
        match self {
            Self::Metadata | Self::Jwks | Self::ResourceMetadata => "GET, HEAD",
            Self::Userinfo => "GET, POST",
            Self::Register => "POST",
            Self::RegisteredClient => "GET, PUT, DELETE",
            // GET here has effects (a stored request, a code, a bound
            // request), so HEAD, which link checkers send freely, is refused.
            Self::Authorize => "GET",
            Self::Consent => "GET, POST",
            Self::Login => "GET, HEAD, POST",
            Self::Token | Self::Revoke | Self::Introspect => "POST",
        }
    }
}

/// The endpoints' paths.
pub struct Endpoints {
    paths: Paths,
    token: String,
    revoke: String,
    introspect: String,
    userinfo: String,
    register: String,
    /// `register/` (RFC 7592's client configuration endpoints follow it).
    registered: String,
    /// RFC 9728 §3.1: the well-known path with the API's path inserted.
    resource_metadata: String,
}

/// Path of the metadata document.
pub const METADATA_PATH: &str = "/.well-known/oauth-authorization-server";
/// Path of the OpenID Connect discovery document (the same metadata).
pub const OPENID_CONFIGURATION_PATH: &str = "/.well-known/openid-configuration";
/// Path of the protected-resource metadata (RFC 9728).
pub const RESOURCE_METADATA_PATH: &str = "/.well-known/oauth-protected-resource";
/// Path of the JWK Set.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// Where identityd's API publishes its protected-resource metadata: the
/// URL a `WWW-Authenticate` challenge names.
pub fn resource_metadata_url(config: &crate::config::Config) -> String {
    format!(
        "{}{RESOURCE_METADATA_PATH}{}",
        config.provider.issuer, config.api_prefix
    )
}

impl Endpoints {
    /// Under the API prefix.
    pub fn new(api_prefix: &str) -> Self {
        let base = format!("{api_prefix}/oauth/provider");
        Self {
            paths: Paths::new(api_prefix),
            token: format!("{base}/token"),
            revoke: format!("{base}/revoke"),
            introspect: format!("{base}/introspect"),
            userinfo: format!("{base}/userinfo"),
            register: format!("{base}/register"),
            registered: format!("{base}/register/"),
            resource_metadata: format!("{RESOURCE_METADATA_PATH}{api_prefix}"),
        }
    }

    /// The bounded metrics label of an endpoint's path: the path, or its
    /// template where it names a client.
    pub fn label(&self, path: &str) -> Option<String> {
        match self.which(path)? {
            Endpoint::RegisteredClient => Some(format!("{}{{client_id}}", self.registered)),
            _ => Some(path.to_owned()),
        }
    }

    fn which(&self, path: &str) -> Option<Endpoint> {
        Some(match path {
            METADATA_PATH | OPENID_CONFIGURATION_PATH => Endpoint::Metadata,
            RESOURCE_METADATA_PATH => Endpoint::ResourceMetadata,
            p if p == self.resource_metadata => Endpoint::ResourceMetadata,
            JWKS_PATH => Endpoint::Jwks,
            p if p == self.userinfo => Endpoint::Userinfo,
            p if p == self.register => Endpoint::Register,
            p if p
                .strip_prefix(self.registered.as_str())
                .is_some_and(|id| !id.is_empty() && !id.contains('/')) =>
            {
                Endpoint::RegisteredClient
            }
            p if p == self.paths.authorize => Endpoint::Authorize,
            p if p == self.paths.login => Endpoint::Login,
            p if p == self.paths.consent => Endpoint::Consent,
            p if p == self.token => Endpoint::Token,
            p if p == self.revoke => Endpoint::Revoke,
            p if p == self.introspect => Endpoint::Introspect,
            _ => return None,
        })
    }
}

/// Answers `request` if it is for one of the endpoints; gives it back
/// otherwise.
pub async fn handle(
    state: &AppState,
    endpoints: &Endpoints,
    request: Request,
) -> Result<Response, Request> {
    let Some(endpoint) = endpoints.which(request.uri().path()) else {
        return Err(request);
    };
    if !state.config.provider.enabled {
        return Ok(envelope::error(Code::NotFound, PROVIDER_DISABLED, None));
    }
    let method = request.method().clone();
    let head = method == Method::HEAD;
    let post = method == Method::POST;
    let get = method == Method::GET || head;
    let allowed = match endpoint.allow() {
        "POST" => post,
        "GET" => get && !head,
        "GET, HEAD" => get,
        "GET, POST" => (get && !head) || post,
        "GET, PUT, DELETE" => (get && !head) || method == Method::PUT || method == Method::DELETE,
        _ => get || post,
    };
    if !allowed {
        return Ok(method_not_allowed(endpoint.allow()));
    }
    let (parts, body) = request.into_parts();
    let (headers, query) = (&parts.headers, parts.uri.query());
    let ip = parts.extensions.get::<ClientIp>().copied();
    let body = if post || method == Method::PUT {
        match read_body(headers, body).await {
            Ok(bytes) => bytes,
            Err(refusal) => return Ok(refusal),
        }
    } else {
        bytes::Bytes::new()
    };
    let paths = &endpoints.paths;
    let path = parts.uri.path();
    let mut response = match (endpoint, post) {
        (Endpoint::Metadata, _) => protocol::metadata(state),
        (Endpoint::ResourceMetadata, _) => protocol::resource_metadata(state),
        (Endpoint::Jwks, _) => protocol::jwks(state),
        (Endpoint::Userinfo, _) => protocol::userinfo(state, headers, &body, post).await,
        (Endpoint::Register, _) => registration::register(state, headers, &body).await,
        (Endpoint::RegisteredClient, _) => {
            let client_id = path
                .strip_prefix(endpoints.registered.as_str())
                .unwrap_or_default();
            registration::configure(state, headers, &method, client_id, &body).await
        }
        (Endpoint::Authorize, _) => browser::authorize(state, paths, headers, query).await,
        (Endpoint::Login, false) => browser::login_page_get(state, paths, headers, query).await,
        (Endpoint::Login, true) => browser::login(state, paths, headers, ip, &body).await,
        (Endpoint::Consent, false) => browser::consent_page(state, paths, headers, query).await,
        (Endpoint::Consent, true) => browser::consent(state, headers, &body).await,
        (Endpoint::Token, _) => protocol::token(state, headers, ip, &body).await,
        (Endpoint::Revoke, _) => protocol::revoke(state, headers, &body).await,
        (Endpoint::Introspect, _) => protocol::introspect(state, headers, &body).await,
    };
    if head {
        *response.body_mut() = Body::empty();
    }
    Ok(response)
}

/// A form body within the default body limit.
async fn read_body(headers: &http::HeaderMap, body: Body) -> Result<bytes::Bytes, Response> {
    if let Some(refusal) = body_limit::check_declared(headers, DEFAULT_MAX_BODY) {
        return Err(refusal);
    }
    match body_limit::cap(body, DEFAULT_MAX_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) => Err(body_limit::unreadable(&err, DEFAULT_MAX_BODY)),
    }
}

/// Most parameters a protocol request may carry (the largest, an
/// authorization request, has about a dozen).
const MAX_PARAMETERS: usize = 64;

/// Parameters of a query string or form body; a parameter may appear once
/// (RFC 6749 §3.1, §3.2).
#[derive(Debug, Default)]
pub struct Form(Vec<(String, String)>);

impl Form {
    fn checked(pairs: Vec<(String, String)>) -> Result<Self, ProtocolError> {
        if pairs.len() > MAX_PARAMETERS {
            return Err(OAuthError::invalid_request("Too many parameters").into());
        }
        let mut seen = std::collections::HashSet::with_capacity(pairs.len());
        for (name, value) in &pairs {
            if !seen.insert(name.as_str()) {
                return Err(
                    OAuthError::invalid_request(format!("Parameter {name} repeated")).into(),
                );
            }
            if name.contains('\0') || value.contains('\0') {
                return Err(OAuthError::invalid_request("Parameters must not contain NUL").into());
            }
        }
        Ok(Self(pairs))
    }

    /// A form body (urlencoded or multipart).
    fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Self, ProtocolError> {
        let pairs = super::transcode::form_pairs(content_type, body)
            .map_err(OAuthError::invalid_request)?;
        Self::checked(pairs)
    }

    /// A query string.
    fn parse_query(query: Option<&str>) -> Result<Self, ProtocolError> {
        let pairs = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Self::checked(pairs)
    }

    /// The value of `name`, if present.
    fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }
}

/// A redirect.
fn redirect(status: StatusCode, location: &str) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    match HeaderValue::from_str(location) {
        Ok(value) => {
            response.headers_mut().insert(header::LOCATION, value);
            response
        }
        Err(_) => envelope::error(
            Code::Internal,
            "An internal error occurred. Please try again later.",
            None,
        ),
    }
}

/// An error in OAuth's format (with the envelope beside it), or the
/// envelope for service failures; an HTML page when `html`.
fn error_response(err: ProtocolError, html: bool) -> Response {
    let (status, message, mut response) = match err {
        ProtocolError::OAuth(err) => {
            let status = StatusCode::from_u16(err.status).unwrap_or(StatusCode::BAD_REQUEST);
            let body = json!({
                "error": err.error,
                "error_description": err.description,
                "success": false,
                "errors": [{"code": err.code.envelope(), "message": err.message(), "field": err.field}],
            });
            let mut response = envelope::json_response(status, &body);
            if err.status == 401 {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"oauth\""),
                );
            }
            (status, err.description.into_owned(), response)
        }
        ProtocolError::Service(err) => {
            // Display never carries internal detail (see `error::Error`).
            let message = err.to_string();
            let response = envelope::from_status(&tonic::Status::from(err));
            (response.status(), message, response)
        }
    };
    if html {
        let headers = response.headers().clone();
        response = pages::error(status, &message);
        for name in [header::WWW_AUTHENTICATE, header::RETRY_AFTER] {
            if let Some(value) = headers.get(&name) {
                response.headers_mut().insert(name, value.clone());
            }
        }
    }
    response
}
