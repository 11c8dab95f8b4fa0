//! The authentication layer in front of every tonic service. It validates
//! the bearer token once per request (gRPC, grpc-web and transcoded REST all
//! pass here) and leaves the outcome in the request extensions; handlers then
//! say whether they need a user with [`require_user`].

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

/// Middleware: validates `Authorization: Bearer` when present.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let outcome = match bearer_token(request.headers()) {
        None => None,
        Some(Err(err)) => Some(Err(Arc::new(err))),
        Some(Ok(token)) => Some(
            principal::authenticate(&state, &token)
                .await
                .map_err(Arc::new),
        ),
    };
    if let Some(outcome) = outcome {
        request.extensions_mut().insert(Authentication(outcome));
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
