//! The request body limit (contract section 1.13), on bytes actually
//! received: a declared `Content-Length` over the limit is refused at once,
//! and every body is wrapped so that reading past the limit fails.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::header;
use http_body_util::Limited;

use super::envelope;
use crate::error::Code;

/// Middleware: refuses declared oversize bodies and caps the rest.
pub async fn limit_body(State(limit): State<usize>, request: Request, next: Next) -> Response {
    if let Some(length) = request.headers().get(header::CONTENT_LENGTH) {
        let declared = length
            .to_str()
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .map(|s| s.parse::<u128>().unwrap_or(u128::MAX));
        match declared {
            None => {
                return envelope::error(Code::InvalidInput, "Invalid Content-Length header", None);
            }
            Some(n) if n > limit as u128 => return too_large(limit),
            Some(_) => {}
        }
    }
    let (parts, body) = request.into_parts();
    let request = Request::from_parts(parts, Body::new(Limited::new(body, limit)));
    next.run(request).await
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
