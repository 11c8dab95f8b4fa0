//! Requests hyper cannot parse (a `Content-Length` that is not a number or
//! appears twice with different values, a broken request line, a head over
//! the size limit) never reach the router: hyper answers them itself with a
//! bare status line, no body and none of our headers, then closes. The
//! socket wrapper recognises that answer (an HTTP/1.1 head without the
//! `x-request-id` every routed answer carries) and writes this module's
//! answer in its place: the envelope (400 `VAL_006`) with the security
//! headers, as for every other error.

use http::{HeaderMap, HeaderValue, header};

use crate::error::Code;

/// An answer hyper wrote on its own: its status and length in the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Bare {
    pub status: u16,
    pub len: usize,
}

/// Statuses hyper answers parse errors with.
const PARSE_ERROR_STATUSES: [u16; 3] = [400, 414, 431];

/// Recognises hyper's own answer at the start of `buf`.
pub(super) fn hyper_answer(buf: &[u8]) -> Option<Bare> {
    if !(buf.starts_with(b"HTTP/1.1 ") || buf.starts_with(b"HTTP/1.0 ")) {
        return None;
    }
    let window = &buf[..buf.len().min(1024)];
    let end = memchr::memmem::find(window, b"\r\n\r\n")? + 4;
    let head = &buf[..end];
    let routed = head
        .split(|&b| b == b'\n')
        .any(|line| line.len() > 13 && line[..13].eq_ignore_ascii_case(b"x-request-id:"));
    if routed {
        return None;
    }
    let status = std::str::from_utf8(head.get(9..12)?).ok()?.parse().ok()?;
    PARSE_ERROR_STATUSES
        .contains(&status)
        .then_some(Bare { status, len: end })
}

/// The message for what was wrong, from hyper's status and the head read.
fn message(status: u16, head: &[u8]) -> &'static str {
    match status {
        431 => "Request headers too large",
        414 => "Request URI too long",
        _ if bad_content_length(head) => "Invalid Content-Length header",
        _ => "Malformed HTTP request",
    }
}

/// Whether the head carries a `Content-Length` that is not a decimal
/// integer, or several that disagree.
fn bad_content_length(head: &[u8]) -> bool {
    let mut seen: Option<&[u8]> = None;
    for line in head.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if !line[..colon].eq_ignore_ascii_case(b"content-length") {
            continue;
        }
        for value in line[colon + 1..].split(|&b| b == b',') {
            let value = value.trim_ascii();
            if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
                return true;
            }
            match seen {
                Some(previous) if previous != value => return true,
                _ => seen = Some(value),
            }
        }
    }
    false
}

/// Our answer, as bytes on the wire; the connection closes after it.
pub(super) fn answer(status: u16, head: &[u8], hsts: bool) -> Vec<u8> {
    let code = Code::InvalidInput;
    let body = serde_json::json!({
        "success": false,
        "errors": [{"code": code.envelope(), "message": message(status, head), "field": null}],
    })
    .to_string();
    let mut headers = HeaderMap::new();
    crate::http::secure_headers(&mut headers, hsts, false);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        headers.insert("x-request-id", id);
    }
    let status = code.http_status();
    let mut out = format!(
        "HTTP/1.1 {} {}\r\n",
        status.as_str(),
        status.canonical_reason().unwrap_or("")
    )
    .into_bytes();
    for (name, value) in &headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_only_unrouted_parse_error_answers() {
        let bare = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert_eq!(
            hyper_answer(bare),
            Some(Bare {
                status: 400,
                len: bare.len()
            })
        );
        let routed = b"HTTP/1.1 400 Bad Request\r\nX-Request-Id: abc\r\n\r\n{}";
        assert_eq!(hyper_answer(routed), None);
        assert_eq!(hyper_answer(b"HTTP/1.1 200 OK\r\n\r\n"), None);
        assert_eq!(
            hyper_answer(b"HTTP/1.1 431 Request Header Fields Too Large\r\n\r\n").map(|b| b.status),
            Some(431)
        );
        assert_eq!(hyper_answer(b"\x00\x00\x04\x01"), None);
        assert_eq!(hyper_answer(b"HTTP/1.1 400 Bad Request\r\n"), None);
    }

    #[test]
    fn content_length_problems_are_named() {
        let head = |cl: &str| format!("POST / HTTP/1.1\r\nHost: x\r\n{cl}\r\n\r\n");
        for bad in [
            "Content-Length: abc",
            "content-length: 5\r\nContent-Length: 6",
            "Content-Length: -1",
            "Content-Length: 5, 6",
            "Content-Length: ",
        ] {
            assert!(bad_content_length(head(bad).as_bytes()), "{bad}");
        }
        for good in [
            "Content-Length: 5",
            "Content-Length: 5\r\ncontent-length: 5",
            "X-Other: a",
        ] {
            assert!(!bad_content_length(head(good).as_bytes()), "{good}");
        }
        assert_eq!(
            message(400, head("Content-Length: x").as_bytes()),
            "Invalid Content-Length header"
        );
        assert_eq!(message(400, b"GARBAGE"), "Malformed HTTP request");
    }

    #[test]
    fn answer_is_the_envelope_with_headers() {
        let bytes = answer(400, b"", true);
        let text = String::from_utf8(bytes).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"));
        assert!(head.contains("connection: close"));
        assert!(head.contains("x-content-type-options: nosniff"));
        assert!(head.contains("strict-transport-security"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["errors"][0]["code"], "VAL_006");
    }
}
