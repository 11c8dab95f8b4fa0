//! The authentication layer in front of every tonic service. It validates
//! the bearer token once per request (gRPC, grpc-web and transcoded REST all
//! pass here, the transcoder through [`admit`] before it reads the body) and
//! leaves the outcome in the request extensions. Methods marked
//! `(identity.v1.requires_user)` or `(identity.v1.requires_superuser)` in the
//! proto are refused here, before their request is decoded; handlers take the
//! caller with [`require_user`].

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::domain::client_ip::ClientIp;
use crate::error::Error;
use crate::ratelimit::Rules;
use crate::service::principal::{self, Principal};
use crate::service::principal_cache::{READ_ONLY_METHODS, WriteGuard};
use crate::state::AppState;

/// The outcome of bearer validation for this request.
#[derive(Clone, Debug)]
pub struct Authentication(Result<Principal, Arc<Error>>);

/// Who may call a method, from its proto options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessLevel {
    /// Anyone; a bearer token, if sent, is still validated (optional auth).
    Public,
    /// An authenticated user: `(identity.v1.requires_user)`.
    User,
    /// A superuser: `(identity.v1.requires_superuser)`.
    Superuser,
}

/// The answer of every authorization-server route while it is switched off.
pub const PROVIDER_DISABLED: &str = "OAuth provider mode is not enabled";

/// Largest request body of a method without `(identity.v1.max_body_bytes)`.
pub const DEFAULT_MAX_BODY: usize = 64 * 1024;

/// What the proto options of one method demand.
#[derive(Debug, Clone)]
struct MethodRules {
    level: AccessLevel,
    max_body: usize,
    /// Part of the OAuth authorization server.
    provider: bool,
    /// `(identity.v1.oauth_scope)`.
    scope: Option<Arc<str>>,
}

impl MethodRules {
    fn of(method: &prost_reflect::MethodDescriptor) -> Self {
        let option = |name: &str| {
            let ext = method.parent_pool().get_extension_by_name(name)?;
            let options = method.options();
            options
                .has_extension(&ext)
                .then(|| options.get_extension(&ext).into_owned())
        };
        let flag = |name: &str| option(name).and_then(|v| v.as_bool()) == Some(true);
        let level = if flag("identity.v1.requires_superuser") {
            AccessLevel::Superuser
        } else if flag("identity.v1.requires_user") {
            AccessLevel::User
        } else {
            AccessLevel::Public
        };
        let max_body = option("identity.v1.max_body_bytes")
            .and_then(|v| v.as_u32())
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(DEFAULT_MAX_BODY);
        let provider = flag("identity.v1.requires_oauth_provider");
        let scope = option("identity.v1.oauth_scope")
            .and_then(|v| v.as_str().map(Arc::from))
            .filter(|s: &Arc<str>| !s.is_empty());
        Self {
            level,
            max_body,
            provider,
            scope,
        }
    }
}

/// The access level and body limit of every served method, by gRPC path,
/// read once from the proto options.
#[derive(Debug, Clone, Default)]
pub struct MethodPolicy {
    methods: Arc<HashMap<String, MethodRules>>,
    /// `MAX_REQUEST_BODY_BYTES`: no method accepts more.
    ceiling: usize,
    /// `OAUTH_PROVIDER_ENABLED`.
    provider_enabled: bool,
}

impl MethodPolicy {
    /// Reads the options of every method of `pool`; no body limit exceeds
    /// `ceiling`; provider methods are served when `provider_enabled`.
    pub fn from_pool(
        pool: &prost_reflect::DescriptorPool,
        ceiling: usize,
        provider_enabled: bool,
    ) -> Self {
        let methods = pool
            .services()
            .flat_map(|s| s.methods().collect::<Vec<_>>())
            .map(|m| {
                (
                    format!("/{}/{}", m.parent_service().full_name(), m.name()),
                    MethodRules::of(&m),
                )
            })
            .collect();
        Self {
            methods: Arc::new(methods),
            ceiling,
            provider_enabled,
        }
    }

    /// The access level of the method at a gRPC path (`Public` when unknown).
    pub fn level(&self, path: &str) -> AccessLevel {
        self.methods
            .get(path)
            .map_or(AccessLevel::Public, |r| r.level)
    }

    /// The scope a provider access token needs for the method at a gRPC
    /// path (`None`: such tokens are refused).
    pub fn scope(&self, path: &str) -> Option<Arc<str>> {
        self.methods.get(path).and_then(|r| r.scope.clone())
    }

    /// The largest request body of the method at a gRPC path. Paths that are
    /// not identity methods (health, reflection streams) get the ceiling.
    pub fn body_limit(&self, path: &str) -> usize {
        self.methods
            .get(path)
            .map_or(self.ceiling, |r| r.max_body.min(self.ceiling))
    }

    /// Whether the method is switched off (an authorization-server method
    /// while `OAUTH_PROVIDER_ENABLED` is false): 404 before any other check.
    pub fn disabled(&self, path: &str) -> bool {
        !self.provider_enabled && self.methods.get(path).is_some_and(|r| r.provider)
    }

    /// Whether the path is one of our (unary) identity methods.
    /// Whether `path` is a method this server serves (identity services,
    /// health, reflection): a bounded set, fit for a metrics label.
    pub fn knows(&self, path: &str) -> bool {
        self.is_identity_method(path)
            || matches!(
                path,
                "/grpc.health.v1.Health/Check"
                    | "/grpc.health.v1.Health/Watch"
                    | "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
                    | "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
            )
    }

    fn is_identity_method(&self, path: &str) -> bool {
        self.methods.contains_key(path)
    }
}

/// Marks a request the REST transcoder built and already admitted: its
/// body is one well-formed frame and its caller was checked.
#[derive(Debug, Clone, Copy)]
pub struct InProcess;

/// Validates the bearer token of `headers` (if any) and applies `level`:
/// steps 5 and 6 of docs/api.md#order-of-checks. `Ok(None)`: anonymous
/// on a public method.
pub async fn admit(
    state: &AppState,
    headers: &http::HeaderMap,
    level: AccessLevel,
    scope: Option<Arc<str>>,
) -> Result<Option<Authentication>, Error> {
    let outcome = match bearer_token(headers) {
        None => None,
        Some(Err(err)) => Some(Err(err)),
        Some(Ok(token)) => Some(
            principal::authenticate(state, &token)
                .await
                .and_then(|p| granted(p, scope)),
        ),
    };
    match (level, outcome) {
        (AccessLevel::Public, outcome) => Ok(outcome.map(|o| Authentication(o.map_err(Arc::new)))),
        (_, None) => Err(Error::NotAuthenticated),
        (_, Some(Err(err))) => Err(err),
        (AccessLevel::Superuser, Some(Ok(p))) if !p.is_superuser() => {
            Err(Error::forbidden("Superuser privileges required"))
        }
        (_, Some(Ok(p))) => Ok(Some(Authentication(Ok(p)))),
    }
}

/// A provider access token must carry the method's scope; first-party
/// tokens are not scoped.
fn granted(principal: Principal, scope: Option<Arc<str>>) -> Result<Principal, Error> {
    match (&principal.scopes, scope) {
        (None, _) => Ok(principal),
        (Some(held), Some(needed)) if held.iter().any(|s| **s == *needed) => Ok(principal),
        (Some(_), needed) => Err(Error::InsufficientScope(needed.map(|s| s.to_string()))),
    }
}

/// The status of a refused admission. With the authorization server on,
/// its challenge names the protected-resource metadata (RFC 9728 §5.1)
/// in a `www-authenticate` header that REST copies.
pub fn refusal(state: &AppState, err: Error) -> tonic::Status {
    let challenge = err.challenge();
    let mut status = tonic::Status::from(err);
    if let Some(challenge) = challenge {
        let challenge = if state.config.provider.enabled {
            let url = crate::http::oauth::resource_metadata_url(&state.config);
            match challenge.strip_prefix("Bearer ") {
                Some(params) => format!("Bearer resource_metadata=\"{url}\", {params}"),
                None => format!("Bearer resource_metadata=\"{url}\""),
            }
        } else {
            challenge
        };
        if let Ok(value) = challenge.parse() {
            status.metadata_mut().insert("www-authenticate", value);
        }
    }
    status
}

/// Middleware: authenticates and applies the method's access level, then
/// reads the one request message of a unary identity method within its body
/// limit and checks its framing, unless the REST transcoder already did.
pub async fn authenticate(
    State((state, policy, limits)): State<(AppState, MethodPolicy, Arc<Rules>)>,
    mut request: Request,
    next: Next,
) -> Response {
    if request.extensions().get::<InProcess>().is_none() {
        let path = request.uri().path().to_owned();
        if policy.disabled(&path) {
            return tonic::Status::from(Error::NotFound(PROVIDER_DISABLED)).into_http();
        }
        // The route's rate limit comes before authentication.
        if let Some(rule) = limits.for_grpc(&path)
            && let Some(ClientIp(ip)) = request.extensions().get::<ClientIp>().copied()
            && let Err(refused) = state.limiter.admit(rule, ip).await
        {
            state.metrics.rate_limited(&rule.label());
            return tonic::Status::from(refused).into_http();
        }
        match admit(
            &state,
            request.headers(),
            policy.level(&path),
            policy.scope(&path),
        )
        .await
        {
            Err(err) => return refusal(&state, err).into_http(),
            Ok(Some(authentication)) => {
                request.extensions_mut().insert(authentication);
            }
            Ok(None) => {}
        }
        if policy.is_identity_method(&path) {
            let (parts, body) = request.into_parts();
            let gzip = parts
                .headers
                .get("grpc-encoding")
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
            match super::framing::read_unary(body, policy.body_limit(&path), gzip).await {
                Ok(message) => request = Request::from_parts(parts, message),
                Err(err) => return tonic::Status::from(err).into_http(),
            }
        }
    }
    // A method that may write makes cached bearer lookups stale once it
    // ends, even if it is cancelled after committing.
    let path = request.uri().path();
    let guard = (!READ_ONLY_METHODS.contains(&path)).then(|| WriteGuard::new(&state.principals));
    let response = next.run(request).await;
    drop(guard);
    response
}

/// `Some(Ok(token))` for `Bearer <token>`, `Some(Err)` for any other
/// `Authorization` header, `None` without one.
pub(crate) fn bearer_token(headers: &http::HeaderMap) -> Option<Result<String, Error>> {
    let value = headers.get(http::header::AUTHORIZATION)?;
    let parsed = value.to_str().ok().and_then(|v| {
        let (scheme, token) = v.trim().split_once(' ')?;
        let token = token.trim();
        (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' '))
            .then(|| token.to_owned())
    });
    Some(parsed.ok_or(Error::NotAuthenticated))
}

/// The caller, or the 401 of section 1.3.1.
pub fn require_user<T>(request: &tonic::Request<T>) -> Result<Principal, Error> {
    match request.extensions().get::<Authentication>() {
        None => Err(Error::NotAuthenticated),
        Some(Authentication(Ok(principal))) => Ok(principal.clone()),
        Some(Authentication(Err(err))) => Err(replay(err)),
    }
}

/// The caller on a route where authentication is optional: a failed
/// bearer check makes the request anonymous, never an error.
pub fn optional_user<T>(request: &tonic::Request<T>) -> Option<Principal> {
    match request.extensions().get::<Authentication>() {
        Some(Authentication(Ok(principal))) => Some(principal.clone()),
        _ => None,
    }
}

/// Rebuilds the stored failure as an owned error for this handler.
fn replay(err: &Error) -> Error {
    match err {
        Error::NotAuthenticated => Error::NotAuthenticated,
        Error::CredentialsUnverifiable => Error::CredentialsUnverifiable,
        Error::WrongTokenType => Error::WrongTokenType,
        Error::AccessTokenExpired => Error::AccessTokenExpired,
        Error::SessionEnded => Error::SessionEnded,
        Error::BearerUserInactive => Error::BearerUserInactive,
        Error::InsufficientScope(scope) => Error::InsufficientScope(scope.clone()),
        Error::Unavailable(cause) => Error::unavailable(cause.to_string()),
        other => Error::internal(anyhow::anyhow!("authentication failed: {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(value: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::AUTHORIZATION, value.parse().unwrap());
        h
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_strict() {
        assert_eq!(bearer_token(&header("Bearer abc")).unwrap().unwrap(), "abc");
        assert_eq!(bearer_token(&header("bEaReR abc")).unwrap().unwrap(), "abc");
        assert!(bearer_token(&header("Basic abc")).unwrap().is_err());
        assert!(bearer_token(&header("Bearer")).unwrap().is_err());
        assert!(bearer_token(&header("Bearer a b")).unwrap().is_err());
        assert!(bearer_token(&http::HeaderMap::new()).is_none());
    }
}
