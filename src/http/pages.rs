//! `GET /` (a minimal HTML page) and `GET /health` (database check).

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};
use serde_json::json;

use super::envelope::json_response;
use crate::state::AppState;

/// The welcome page.
pub fn root(state: &AppState) -> Response {
    let name = html_escape(&state.config.project_name);
    let api = html_escape(&state.config.api_prefix);
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{name}</title></head>\
         <body><h1>{name}</h1><p>Identity service: accounts, logins, sessions and organizations \
         over gRPC, grpc-web and REST.</p><p>REST API under <code>{api}</code>; gRPC services are \
         listed by server reflection. Health: <a href=\"/health\">/health</a>.</p></body></html>"
    );
    let mut response = Response::new(Body::from(page));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// Health: `SELECT 1` within five seconds.
pub async fn health(state: &AppState) -> Response {
    let healthy = state.db.ping(std::time::Duration::from_secs(5)).await;
    let (status, word, message) = if healthy {
        (StatusCode::OK, "healthy", "Database connection successful")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "unhealthy",
            "Database connection failed",
        )
    };
    let mut body = json!({
        "status": word,
        "timestamp": state.clock.now().to_fixed_text(),
        "version": state.config.version,
        "environment": state.config.environment,
        "checks": { "database": { "status": word, "message": message } },
    });
    // Redis is reported but never changes the overall status.
    if let Some(redis) = &state.config.redis {
        let up = redis.ping(std::time::Duration::from_secs(2)).await;
        body["checks"]["redis"] = if up {
            json!({"status": "healthy", "message": "Redis connection successful"})
        } else {
            json!({"status": "unhealthy", "message": "Redis connection failed"})
        };
    }
    json_response(status, &body)
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn html_escape(raw: &str) -> String {
    raw.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
