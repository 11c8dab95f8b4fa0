//! Dynamic client registration over HTTP (RFC 7591, RFC 7592): JSON in and
//! out, bearer tokens in the `Authorization` header.

use axum::response::Response;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use serde_json::{Value as Json, json};

use super::error_response;
use crate::error::Code;
use crate::http::envelope::{self, json_response};
use crate::service::oauth::OAuthError;
use crate::service::oauth::registration::{self, RegistrationError};
use crate::state::AppState;

/// The bearer token of the request, if it has a well-formed one.
fn bearer(headers: &HeaderMap) -> Option<String> {
    crate::grpc::authn::bearer_token(headers)?.ok()
}

/// Bodies must be JSON (RFC 7591 §3.1).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn refusal(err: RegistrationError) -> Response {
    no_store(match err {
        RegistrationError::Disabled => envelope::error(
            Code::NotFound,
            "Dynamic client registration is not enabled",
            None,
        ),
        RegistrationError::InvalidToken => {
            let mut response = json_response(
                StatusCode::UNAUTHORIZED,
                &json!({
                    "error": "invalid_token",
                    "error_description": "Missing or invalid access token for this registration",
                }),
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
            response
        }
        RegistrationError::Protocol(err) => error_response(err, false),
    })
}

/// The refusal of a body that is not JSON, or `None` when the request
/// may go on. Registration being off comes first: it is the same 404
/// whatever is sent.
fn unusable(state: &AppState, headers: &HeaderMap, with_body: bool) -> Option<Response> {
    if !state.config.provider.registration.enabled() {
        return Some(refusal(RegistrationError::Disabled));
    }
    (with_body && !is_json(headers)).then(|| {
        refusal(RegistrationError::Protocol(
            OAuthError::invalid_client_metadata("Content-Type must be application/json").into(),
        ))
    })
}

/// `POST /register`.
pub async fn register(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Response {
    if let Some(refused) = unusable(state, headers, true) {
        return refused;
    }
    match registration::register(state, bearer(headers).as_deref(), body).await {
        Ok(document) => no_store(json_response(StatusCode::CREATED, &Json::Object(document))),
        Err(err) => refusal(err),
    }
}

/// `GET`, `PUT` or `DELETE /register/{client_id}`.
pub async fn configure(
    state: &AppState,
    headers: &HeaderMap,
    method: &Method,
    client_id: &str,
    body: &[u8],
) -> Response {
    if let Some(refused) = unusable(state, headers, method == Method::PUT) {
        return refused;
    }
    let token = bearer(headers);
    let token = token.as_deref();
    let result = if method == Method::GET {
        registration::read(state, client_id, token).await
    } else if method == Method::PUT {
        registration::update(state, client_id, token, body).await
    } else {
        match registration::delete(state, client_id, token).await {
            Ok(()) => {
                let mut response = Response::new(axum::body::Body::empty());
                *response.status_mut() = StatusCode::NO_CONTENT;
                return no_store(response);
            }
            Err(err) => return refusal(err),
        }
    };
    match result {
        Ok(document) => no_store(json_response(StatusCode::OK, &Json::Object(document))),
        Err(err) => refusal(err),
    }
}
