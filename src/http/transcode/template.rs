//! Path templates of HTTP rules: parsing (`/users/{user_id}`), the API
//! prefix, and matching a request path with percent-decoded variables.

use anyhow::{anyhow, bail};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Segment {
    Literal(String),
    Variable(String),
}

pub(super) fn apply_prefix(template: &str, prefix: &str) -> String {
    const DEFAULT: &str = "/api/v1";
    let prefix = prefix.trim_end_matches('/');
    match template.strip_prefix(DEFAULT) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => format!("{prefix}{rest}"),
        _ => template.to_owned(),
    }
}

pub(super) fn parse_template(template: &str) -> anyhow::Result<Vec<Segment>> {
    let rest = template
        .strip_prefix('/')
        .ok_or_else(|| anyhow!("template must start with '/'"))?;
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    rest.split('/')
        .map(|seg| {
            if let Some(inner) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                let name = inner.strip_suffix("=*").unwrap_or(inner);
                let valid = !name.is_empty()
                    && name.split('.').all(|p| {
                        !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    });
                if !valid {
                    bail!("unsupported variable {seg:?}");
                }
                Ok(Segment::Variable(name.to_owned()))
            } else if seg.is_empty() || seg.contains(['{', '}', '*', ':']) {
                bail!("unsupported segment {seg:?}")
            } else {
                Ok(Segment::Literal(seg.to_owned()))
            }
        })
        .collect()
}

pub(super) fn shape_of(segments: &[Segment]) -> String {
    let parts: Vec<&str> = segments
        .iter()
        .map(|s| match s {
            Segment::Literal(l) => l.as_str(),
            Segment::Variable(_) => "*",
        })
        .collect();
    format!("/{}", parts.join("/"))
}

pub(super) fn split_path(path: &str) -> Option<Vec<&str>> {
    let rest = path.strip_prefix('/')?;
    if rest.is_empty() {
        return Some(Vec::new());
    }
    Some(rest.split('/').collect())
}

pub(super) fn matches(pattern: &[Segment], segments: &[&str]) -> bool {
    pattern.len() == segments.len()
        && pattern.iter().zip(segments).all(|(p, s)| match p {
            Segment::Literal(l) => l == s,
            Segment::Variable(_) => !s.is_empty(),
        })
}

pub(super) fn decode_segment(raw: &str) -> String {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .into_owned()
}
