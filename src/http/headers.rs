//! Request ids, request logging, security headers and cache policy on every
//! response (docs/api.md#response-headers), errors and 500s included.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{HeaderMap, HeaderName, HeaderValue, header};
use tracing::Instrument as _;

use crate::config::Config;

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";
const HTML_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
                        base-uri 'none'; frame-ancestors 'none'";

/// What the header layer needs from the configuration.
#[derive(Debug)]
pub struct Settings {
    hsts: bool,
    api_prefix: String,
}

impl Settings {
    /// From the configuration.
    pub fn new(config: &Config) -> Self {
        Self {
            hsts: config.is_production(),
            api_prefix: config.api_prefix.clone(),
        }
    }

    fn no_store(&self, path: &str) -> bool {
        path == "/health"
            || path
                .strip_prefix(&self.api_prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }
}

/// The security headers of every response (docs/api.md#security-headers); `html`
/// selects the page CSP. `Referrer-Policy` is kept when a page set its own.
pub fn secure(headers: &mut HeaderMap, hsts: bool, html: bool) {
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_XSS_PROTECTION, HeaderValue::from_static("0"));
    headers
        .entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("strict-origin-when-cross-origin"));
    headers.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("geolocation=(), microphone=(), camera=()"),
    );
    if hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    // A page with needs of its own (the API docs) sets its policy itself.
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(if html {
            HTML_CSP
        } else {
            API_CSP
        }));
}

/// Adds `Origin` to `Vary`: whether CORS headers appear depends on it, on
/// every route, so no cache may reuse an answer across origins.
fn vary_on_origin(headers: &mut HeaderMap) {
    let present = headers.get_all(header::VARY).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("origin"))
        })
    });
    if !present {
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
}

/// Middleware: request id, one log line per request, security headers.
pub async fn decorate(
    State(settings): State<Arc<Settings>>,
    mut request: Request,
    next: Next,
) -> Response {
    let request_id = request
        .headers()
        .get(&X_REQUEST_ID)
        .filter(|v| v.len() <= 128 && v.to_str().is_ok_and(|s| !s.is_empty()))
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                .unwrap_or(HeaderValue::from_static("-"))
        });
    request
        .headers_mut()
        .insert(X_REQUEST_ID, request_id.clone());
    let path = request.uri().path().to_owned();
    let span = tracing::info_span!("request",
        method = %request.method(), path = %path,
        request_id = %request_id.to_str().unwrap_or("-"));
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "served"
        );
    });

    let headers = response.headers_mut();
    headers.insert(X_REQUEST_ID, request_id);
    let html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    secure(headers, settings.hsts, html);
    vary_on_origin(headers);
    if settings.no_store(&path) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
