//! The request body as a whole: its media type, JSON parsing with the
//! nesting limit, and why a body cannot be used at all.

use serde_json::Value as Json;

use crate::error::FieldViolation;

/// Deepest JSON nesting accepted (deeper is 400 `VAL_006`).
pub const MAX_JSON_DEPTH: usize = 64;

/// Why a request could not be turned into a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// 400 `VAL_006` "Request body could not be parsed": invalid UTF-8 or JSON
    /// nested deeper than 64 levels.
    #[error("Request body could not be parsed")]
    Unparseable,
    /// 422 `VAL_001`, one item per problem.
    #[error("request validation failed ({} problems)", .0.len())]
    Invalid(Vec<FieldViolation>),
}

pub(super) fn media_type(content_type: Option<&str>) -> Option<String> {
    content_type.map(|ct| {
        ct.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    })
}

/// Parses a JSON body; `Ok(None)` when a whole-body problem was recorded.
pub(super) fn parse_json_body(
    content_type: Option<&str>,
    body: &[u8],
    errors: &mut Vec<FieldViolation>,
) -> Result<Option<Json>, DecodeError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        errors.push(FieldViolation::body("Field required"));
        return Ok(None);
    }
    let media = media_type(content_type).unwrap_or_default();
    if media != "application/json" && !(media.contains('/') && media.ends_with("+json")) {
        errors.push(FieldViolation::body("Request body must be JSON"));
        return Ok(None);
    }
    let text = std::str::from_utf8(body).map_err(|_| DecodeError::Unparseable)?;
    if json_depth(text.as_bytes()) > MAX_JSON_DEPTH {
        return Err(DecodeError::Unparseable);
    }
    match serde_json::from_str::<Json>(text) {
        Ok(json) => Ok(Some(json)),
        Err(_) => {
            errors.push(FieldViolation::body("Malformed JSON"));
            Ok(None)
        }
    }
}

/// Deepest nesting of arrays and objects in a JSON text (strings are skipped).
pub fn json_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counting() {
        assert_eq!(json_depth(b"{}"), 1);
        assert_eq!(json_depth(br#"{"a": [[1], {"b": "[[[[{{"}]}"#), 3);
        assert_eq!(json_depth(br#"["\"[["]"#), 1);
        assert_eq!(json_depth(b"1"), 0);
    }
}
