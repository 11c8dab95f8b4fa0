//! The request body limit (contract section 1.13), on bytes actually
//! received: a declared `Content-Length` over the limit is refused at once,
//! and every body that is read is capped so that reading past the limit
//! fails. Applied after routing (404/405 come first, contract 1.2).

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

/// The 413 answer; the message states the limit in MB when it is whole.
pub fn too_large(limit: usize) -> Response {
    const MIB: usize = 1024 * 1024;
    let size = if limit.is_multiple_of(MIB) {
        format!("{}MB", limit / MIB)
    } else {
        format!("{limit} bytes")
    };
    envelope::error(
        Code::PayloadTooLarge,
        &format!("Request body too large. Maximum size is {size}"),
        None,
    )
}

/// Whether a body read failed because the limit was hit.
pub fn is_limit_error(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        current = e.source();
    }
    false
}
