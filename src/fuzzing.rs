//! Entry points of the fuzz targets in `fuzz/`, and of the test that replays
//! their committed corpora and regressions on every `cargo test`. Each takes
//! arbitrary bytes, feeds them to one parser of untrusted input, and panics
//! only when an invariant that must hold for every input breaks. Not part of
//! the service's API.

use std::net::{IpAddr, Ipv4Addr};

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::auth::tokens::TokenKeys;
use crate::config::JwtAlgorithm;
use crate::domain::client_ip::TrustedProxies;
use crate::domain::device::DeviceInfo;
use crate::domain::oauth::{check_redirect_uri, check_social_redirect_uri, with_query};

/// A client ID metadata document: the first line is the `client_id`, the
/// rest the fetched body. A URL that passes must be its own normal form,
/// https, with a path; an accepted document must have redirect URIs that
/// pass the redirect checks and make a valid `Location`, a bounded name,
/// and only supported scopes.
#[expect(
    clippy::panic,
    reason = "a fuzz target reports a broken invariant by panicking"
)]
pub fn cimd_document(data: &[u8]) {
    use crate::service::oauth::metadata_document::{check_url, parse_document};
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let client_id = String::from_utf8_lossy(&data[..split]);
    let body = data.get(split + 1..).unwrap_or_default();
    if let Ok(url) = check_url(&client_id)
        && (url.as_str() != client_id || url.scheme() != "https" || url.path() == "/")
    {
        panic!("accepted client_id URL {client_id:?} is not strict");
    }
    for production in [true, false] {
        let Ok(document) = parse_document(&client_id, body, production) else {
            continue;
        };
        if document.redirect_uris.is_empty()
            || document.client_name.chars().count() > 255
            || document.scope.is_empty()
            || document
                .scope
                .iter()
                .any(|s| !crate::domain::oauth::SUPPORTED_SCOPES.contains(&s.as_str()))
        {
            panic!("accepted document breaks an invariant: {document:?}");
        }
        for uri in &document.redirect_uris {
            let location = with_query(uri, &[("code", "c"), ("iss", "https://x")]);
            if check_redirect_uri(uri, production).is_err()
                || HeaderValue::from_str(&location).is_err()
            {
                panic!("accepted document has a bad redirect URI: {uri:?}");
            }
        }
    }
}

/// A fuzz target: arbitrary bytes in, a panic only for a broken invariant.
pub type Target = fn(&[u8]);

/// Every target by name, as `fuzz/fuzz_targets/` names them.
pub const TARGETS: &[(&str, Target)] = &[
    ("transcode", transcode),
    ("token", token),
    ("user_agent", user_agent),
    ("forwarded", forwarded),
    ("redirect_uri", redirect_uri),
    ("cimd_document", cimd_document),
];

/// A REST request through the transcoder: route, path variables, query
/// string, JSON, form or multipart body, and the decoded message back to
/// JSON. Input: a method byte, then path, query and `Content-Type` lines,
/// then the body.
pub fn transcode(data: &[u8]) {
    crate::http::transcode::fuzz::request(data);
}

/// A bearer token: verification ends in claims or a refusal.
pub fn token(data: &[u8]) {
    let keys = TokenKeys::new(
        &"fuzzing-secret-key-at-least-32-bytes".into(),
        JwtAlgorithm::Hs256,
    );
    let _verdict = keys.verify(&String::from_utf8_lossy(data));
}

/// `User-Agent` and `X-Device-Id` as sent: stored values stay within their
/// column limits.
#[expect(
    clippy::panic,
    reason = "a fuzz target reports a broken invariant by panicking"
)]
pub fn user_agent(data: &[u8]) {
    let (agent, device) = data.split_at(data.len() / 2);
    let info = DeviceInfo::from_request(Some(agent), Some(device), None);
    let within = |s: &str, max| s.chars().count() <= max;
    if !within(&info.device_name, 255)
        || !info.user_agent.as_deref().is_none_or(|s| within(s, 500))
        || !info.device_id.as_deref().is_none_or(|s| within(s, 255))
    {
        panic!("device information beyond its limits: {info:?}");
    }
}

/// Forwarding headers (`name: value` lines) from a trusted proxy resolve to
/// a client address; `TRUSTED_PROXIES` entries from the same text parse or
/// are refused.
pub fn forwarded(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut headers = HeaderMap::new();
    for line in text.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_str(value.trim()),
        ) {
            headers.append(name, value);
        }
    }
    let peer = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    let trusted = TrustedProxies::parse(["10.0.0.0/8"]).unwrap_or_default();
    let _client = crate::http::client_ip::client_ip(peer, &headers, &trusted);
    let _verdict = TrustedProxies::parse(text.split(','));
}

/// A redirect URI offered at registration: one that is accepted can carry
/// any `state` in a `Location` header without breaking out of it.
#[expect(
    clippy::panic,
    reason = "a fuzz target reports a broken invariant by panicking"
)]
pub fn redirect_uri(data: &[u8]) {
    let uri = String::from_utf8_lossy(data);
    let _social = check_social_redirect_uri(&uri);
    for production in [true, false] {
        if check_redirect_uri(&uri, production).is_ok() {
            let location = with_query(&uri, &[("state", "a\r\nSet-Cookie: x=1")]);
            if HeaderValue::from_str(&location).is_err() {
                panic!("accepted redirect URI makes an invalid Location: {uri:?}");
            }
        }
    }
}
