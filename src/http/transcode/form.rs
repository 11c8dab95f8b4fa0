//! Form bodies: `application/x-www-form-urlencoded` and `multipart/form-data`
//! (text parts only) into (name, value) pairs.

use super::body::{DecodeError, media_type};
use crate::error::FieldViolation;

/// Parses a form body into (name, value) pairs.
pub(super) fn parse_form_body(
    content_type: Option<&str>,
    body: &[u8],
    errors: &mut Vec<FieldViolation>,
) -> Result<Vec<(String, String)>, DecodeError> {
    let media = media_type(content_type);
    match media.as_deref() {
        None if body.is_empty() => Ok(Vec::new()),
        Some("application/x-www-form-urlencoded") => {
            std::str::from_utf8(body).map_err(|_| DecodeError::Unparseable)?;
            Ok(form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect())
        }
        Some("multipart/form-data") => {
            let boundary = content_type.and_then(|ct| {
                ct.split(';').skip(1).find_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    k.trim()
                        .eq_ignore_ascii_case("boundary")
                        .then(|| v.trim().trim_matches('"'))
                })
            });
            match boundary.map(|b| parse_multipart(b, body)) {
                Some(Ok(pairs)) => Ok(pairs),
                Some(Err(problem)) => {
                    errors.push(FieldViolation::body(problem));
                    Ok(Vec::new())
                }
                None => {
                    errors.push(FieldViolation::body(MALFORMED_FORM));
                    Ok(Vec::new())
                }
            }
        }
        _ => {
            errors.push(FieldViolation::body("Request body must be form data"));
            Ok(Vec::new())
        }
    }
}

const MALFORMED_FORM: &str = "Malformed form data";

/// Longest multipart boundary (RFC 2046, section 5.1.1).
const MAX_BOUNDARY: usize = 70;

/// Minimal `multipart/form-data` reader: text parts only (parts with a
/// `filename` are skipped). Linear in the body: each delimiter is searched
/// once with `memmem`, from where the previous part ended.
fn parse_multipart(boundary: &str, body: &[u8]) -> Result<Vec<(String, String)>, &'static str> {
    if boundary.is_empty() || boundary.len() > MAX_BOUNDARY {
        return Err("Multipart boundary must be 1 to 70 characters");
    }
    read_parts(boundary, body).ok_or(MALFORMED_FORM)
}

fn read_parts(boundary: &str, body: &[u8]) -> Option<Vec<(String, String)>> {
    use memchr::memmem;
    let delimiter = format!("--{boundary}");
    let separator = format!("\r\n{delimiter}");
    let next_part = memmem::Finder::new(separator.as_bytes());
    let mut rest = &body[memmem::find(body, delimiter.as_bytes())? + delimiter.len()..];
    let mut pairs = Vec::new();
    loop {
        if rest.starts_with(b"--") {
            return Some(pairs);
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let end = next_part.find(rest)?;
        let part = &rest[..end];
        rest = &rest[end + 2 + delimiter.len()..];
        let header_end = memmem::find(part, b"\r\n\r\n")?;
        let headers = std::str::from_utf8(&part[..header_end]).ok()?;
        let content = &part[header_end + 4..];
        let disposition = headers.split("\r\n").find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("content-disposition")
                .then_some(value)
        })?;
        let mut name = None;
        let mut is_file = false;
        for param in disposition.split(';').skip(1) {
            let (k, v) = param.split_once('=')?;
            match k.trim().to_ascii_lowercase().as_str() {
                "name" => name = Some(v.trim().trim_matches('"').to_owned()),
                "filename" => is_file = true,
                _ => {}
            }
        }
        if !is_file {
            pairs.push((name?, String::from_utf8_lossy(content).into_owned()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parsing cost grows with the body, not with body x boundary: a body
    /// made of near-miss delimiters costs about what plain text of the same
    /// size costs (a ratio, so the machine's speed does not matter).
    #[test]
    fn hostile_multipart_costs_what_a_benign_one_costs() {
        let boundary = "-".repeat(70);
        let size = 4 * 1024 * 1024;
        let near_miss = format!("\r\n--{}x", &boundary[1..]);
        let body = |filler: &str| {
            let mut body =
                format!("--{boundary}\r\ncontent-disposition: form-data; name=username\r\n\r\n");
            while body.len() < size {
                body.push_str(filler);
            }
            body.push_str(&format!("\r\n--{boundary}--"));
            body.into_bytes()
        };
        let hostile = body(&near_miss);
        let benign = body(&"a".repeat(near_miss.len()));
        let cost = |body: &[u8]| {
            (0..5)
                .map(|_| {
                    let started = std::time::Instant::now();
                    assert!(parse_multipart(&boundary, body).is_ok());
                    started.elapsed()
                })
                .min()
                .unwrap()
        };
        let (hostile, benign) = (cost(&hostile), cost(&benign));
        assert!(
            hostile < benign * 10 + std::time::Duration::from_millis(5),
            "hostile {hostile:?} vs benign {benign:?}"
        );
    }
}
