//! The transcoder's part of [`crate::fuzzing`]: a REST request, as bytes,
//! through route resolution, request decoding and back out as JSON.

use std::sync::OnceLock;

use http::Method;
use prost_reflect::DescriptorPool;

use super::encode::encode_response;
use super::request::decode_request;
use super::routes::{Resolution, RouteTable};

/// The routes of identityd's own API, built once.
fn table() -> Option<&'static RouteTable> {
    static TABLE: OnceLock<Option<RouteTable>> = OnceLock::new();
    TABLE
        .get_or_init(|| {
            let pool = DescriptorPool::decode(crate::grpc::pb::FILE_DESCRIPTOR_SET).ok()?;
            RouteTable::from_pool(&pool, "/api/v1").ok()
        })
        .as_ref()
}

/// `data`: a method byte, then the path, the query string and the
/// `Content-Type`, one per line, then the body. Whatever the input, decoding
/// ends in a message or a list of problems, and a decoded message encodes to
/// valid JSON.
#[expect(
    clippy::panic,
    reason = "a fuzz target reports a broken invariant by panicking"
)]
pub fn request(data: &[u8]) {
    let Some(table) = table() else {
        panic!("the API's descriptors do not build a route table");
    };
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let methods = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::HEAD,
    ];
    let method = &methods[usize::from(selector) % methods.len()];
    let mut lines = rest.splitn(4, |b| *b == b'\n');
    let mut line = || String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let (path, query, content_type) = (line(), line(), line());
    let body = lines.next().unwrap_or_default();
    let Resolution::Found { route, params } = table.resolve(method, &path) else {
        return;
    };
    let query = (!query.is_empty()).then_some(query.as_str());
    let content_type = (!content_type.is_empty()).then_some(content_type.as_str());
    let Ok(message) = decode_request(route, &params, query, content_type, body) else {
        return;
    };
    match encode_response(&message, None) {
        Ok(json) if serde_json::from_slice::<serde_json::Value>(&json).is_ok() => {}
        _ => panic!("a decoded {} does not encode to JSON", route.method.name()),
    }
}
