//! The REST error envelope (docs/errors.md#error-envelope):
//! `{"success": false, "errors": [{"code", "message", "field"}]}`, built from a
//! [`Code`] directly or from a `tonic::Status` with its ErrorInfo and
//! BadRequest details.

use axum::body::Body;
use http::{HeaderValue, Response, StatusCode, header};
use serde_json::json;
use tonic_types::StatusExt as _;

use crate::error::{Code, FieldViolation, META_CHALLENGE, META_FIELD};

/// An envelope answer with one item.
pub fn error(code: Code, message: &str, field: Option<&str>) -> Response<Body> {
    errors(
        code,
        &[FieldViolation {
            field: field.map(str::to_owned),
            message: message.to_owned(),
        }],
    )
}

/// An envelope answer with one item per problem.
pub fn errors(code: Code, items: &[FieldViolation]) -> Response<Body> {
    let items: Vec<_> = crate::error::listed(items)
        .iter()
        .map(|i| json!({"code": code.envelope(), "message": i.message, "field": i.field}))
        .collect();
    let body = json!({"success": false, "errors": items});
    let mut response = json_response(code.http_status(), &body);
    if code == Code::Unavailable {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    response
}

/// A JSON answer.
pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Body> {
    json_bytes(status, body.to_string().into_bytes())
}

/// A JSON answer from its encoded bytes.
pub fn json_bytes(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The envelope for a gRPC status coming back from a service.
pub fn from_status(status: &tonic::Status) -> Response<Body> {
    let details = status.get_error_details();
    let info = details.error_info();
    let code = info
        .and_then(|i| Code::from_parts(&i.reason, status.code()))
        .unwrap_or_else(|| Code::from_grpc(status.code()));
    let mut response = if let Some(bad) = details
        .bad_request()
        .filter(|b| !b.field_violations.is_empty())
    {
        let items: Vec<_> = bad
            .field_violations
            .iter()
            .map(|v| FieldViolation {
                field: (!v.field.is_empty()).then(|| v.field.clone()),
                message: v.description.clone(),
            })
            .collect();
        errors(code, &items)
    } else {
        let message = match code {
            // Never leak what a tonic-internal failure said.
            Code::Internal => "An internal error occurred. Please try again later.",
            _ => status.message(),
        };
        let field = info
            .and_then(|i| i.metadata.get(META_FIELD))
            .map(String::as_str);
        error(code, message, field)
    };
    if let Some(wait) = details
        .retry_info()
        .and_then(|r| r.retry_delay)
        .filter(|_| code == Code::RateLimited)
    {
        let seconds = wait.as_secs().max(1);
        if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
    }
    // The status's own header (which names the resource metadata) wins
    // over the plain challenge of its ErrorInfo.
    let challenge = status.metadata().get("www-authenticate").map_or_else(
        || {
            info.and_then(|i| i.metadata.get(META_CHALLENGE))
                .and_then(|c| HeaderValue::from_str(c).ok())
        },
        |v| HeaderValue::from_bytes(v.as_bytes()).ok(),
    );
    if let Some(challenge) = challenge {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, challenge);
    }
    response
}
