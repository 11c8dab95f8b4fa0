//! The authentication layer in front of every tonic service. It validates
//! the bearer token once per request (gRPC, grpc-web and transcoded REST all
//! pass here) and leaves the outcome in the request extensions. Methods
//! marked `(identity.v1.requires_user)` in the proto are refused here when
//! the caller is not authenticated, before their request is decoded; handlers
//! take the caller with [`require_user`].

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::error::Error;
use crate::service::principal::{self, Principal};
use crate::state::AppState;

/// The outcome of bearer validation for this request.
#[derive(Clone, Debug)]
pub struct Authentication(Result<Principal, Arc<Error>>);

const REQUIRES_USER: &str = "identity.v1.requires_user";

/// Whether a method is marked `(identity.v1.requires_user) = true`.
pub fn method_requires_user(method: &prost_reflect::MethodDescriptor) -> bool {
    method
        .parent_pool()
        .get_extension_by_name(REQUIRES_USER)
        .is_some_and(|ext| method.options().get_extension(&ext).as_bool() == Some(true))
}

/// The gRPC paths (`/pkg.Service/Method`) of methods that require a user.
#[derive(Debug, Clone, Default)]
pub struct UserRequired(Arc<HashSet<String>>);

impl UserRequired {
    /// Reads the option from every method of `descriptor_set`.
    pub fn from_descriptor_set(descriptor_set: &[u8]) -> anyhow::Result<Self> {
        let pool = prost_reflect::DescriptorPool::decode(descriptor_set)?;
        let paths = pool
            .services()
            .flat_map(|s| s.methods().collect::<Vec<_>>())
            .filter(method_requires_user)
            .map(|m| format!("/{}/{}", m.parent_service().full_name(), m.name()))
            .collect();
        Ok(Self(Arc::new(paths)))
    }
}

/// Validates the bearer token of `headers`, if any.
pub async fn authenticate_headers(
    state: &AppState,
    headers: &http::HeaderMap,
) -> Option<Result<Principal, Error>> {
    Some(match bearer_token(headers)? {
        Err(err) => Err(err),
        Ok(token) => principal::authenticate(state, &token).await,
    })
}

/// Middleware: validates `Authorization: Bearer` when present; refuses
/// unauthenticated calls of methods that require a user.
pub async fn authenticate(
    State((state, required)): State<(AppState, UserRequired)>,
    mut request: Request,
    next: Next,
) -> Response {
    let outcome = authenticate_headers(&state, request.headers()).await;
    if required.0.contains(request.uri().path()) {
        let refused = match &outcome {
            None => Some(Error::NotAuthenticated),
            Some(Err(err)) => Some(replay(err)),
            Some(Ok(_)) => None,
        };
        if let Some(err) = refused {
            return tonic::Status::from(err).into_http();
        }
    }
    if let Some(outcome) = outcome {
        request
            .extensions_mut()
            .insert(Authentication(outcome.map_err(Arc::new)));
    }
    next.run(request).await
}

/// `Some(Ok(token))` for `Bearer <token>`, `Some(Err)` for any other
/// `Authorization` header, `None` without one.
fn bearer_token(headers: &http::HeaderMap) -> Option<Result<String, Error>> {
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

/// Rebuilds the stored failure as an owned error for this handler.
fn replay(err: &Error) -> Error {
    match err {
        Error::NotAuthenticated => Error::NotAuthenticated,
        Error::CredentialsUnverifiable => Error::CredentialsUnverifiable,
        Error::WrongTokenType => Error::WrongTokenType,
        Error::AccessTokenExpired => Error::AccessTokenExpired,
        Error::SessionEnded => Error::SessionEnded,
        Error::UserInactive => Error::UserInactive,
        Error::Unavailable(cause) => {
            Error::Unavailable(crate::db::DbError::Unavailable(cause.to_string()))
        }
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
