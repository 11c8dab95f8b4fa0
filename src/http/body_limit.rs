//! The request body limit (docs/api.md#body-limits), on bytes actually
//! received: a declared `Content-Length` over the limit is refused at once,
//! and every body that is read is capped so that reading past the limit
//! fails. Applied after routing (404/405 come first, docs/api.md#order-of-checks).

use axum::body::Body;
use axum::response::Response;
use http::header;
use http_body_util::Limited;

use super::envelope;
use crate::error::Code;

/// The answer to a `Content-Length` that is not a decimal integer (400) or
/// is over the limit (413); `None` when the declared length is acceptable.
pub fn check_declared(headers: &http::HeaderMap, limit: usize) -> Option<Response> {
    let length = headers.get(header::CONTENT_LENGTH)?;
    let declared = length
        .to_str()
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .map(|s| s.parse::<u128>().unwrap_or(u128::MAX));
    match declared {
        None => Some(envelope::error(
            Code::InvalidInput,
            "Invalid Content-Length header",
            None,
        )),
        Some(n) if n > limit as u128 => Some(too_large(limit)),
        Some(_) => None,
    }
}

/// Caps a body: reading past `limit` bytes fails (see [`is_limit_error`]).
pub fn cap(body: Body, limit: usize) -> Body {
    Body::new(Limited::new(body, limit))
}

/// The 413 answer, stating the limit.
pub fn too_large(limit: usize) -> Response {
    let err = crate::error::Error::BodyTooLarge { limit };
    envelope::error(err.code(), &err.to_string(), None)
}

/// The answer to a body that could not be read: 413 past the limit; 400
/// when it did not arrive within the body timeout (and the connection is
/// closed, its framing being unknown) or broke off.
pub fn unreadable(err: &(dyn std::error::Error + 'static), limit: usize) -> Response {
    if caused_by::<http_body_util::LengthLimitError>(err) {
        return too_large(limit);
    }
    if caused_by::<crate::server::BodyTimedOut>(err) {
        let mut response = envelope::error(
            Code::InvalidInput,
            "Request body was not received in time",
            None,
        );
        response
            .headers_mut()
            .insert(header::CONNECTION, http::HeaderValue::from_static("close"));
        return response;
    }
    envelope::error(Code::InvalidInput, "Request body could not be parsed", None)
}

fn caused_by<E: std::error::Error + 'static>(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if e.is::<E>() {
            return true;
        }
        current = e.source();
    }
    false
}
