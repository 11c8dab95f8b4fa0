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

/// `/health/live`: the process answers. No dependency is checked, so an
/// orchestrator restarts only a process that cannot answer at all.
pub fn live() -> Response {
    json_response(StatusCode::OK, &json!({"status": "alive"}))
}

/// `/health/ready`: the database answers and, when configured, Redis
/// does; 503 otherwise, so a load balancer sends no traffic here.
pub async fn ready(state: &AppState) -> Response {
    let timeout = std::time::Duration::from_secs(2);
    let database = state.db.ping(timeout).await;
    let redis = match &state.config.redis {
        Some(target) => Some(target.ping(timeout).await),
        None => None,
    };
    let ready = database && redis.unwrap_or(true);
    let word = |up: bool| if up { "ready" } else { "unavailable" };
    let mut checks = json!({"database": word(database)});
    if let Some(up) = redis {
        checks["redis"] = json!(word(up));
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json_response(status, &json!({"status": word(ready), "checks": checks}))
}

/// `/metrics` in the Prometheus text format. With `METRICS_TOKEN` set, only
/// for `Authorization: Bearer <token>` (compared in constant time).
pub fn metrics(state: &AppState, headers: &http::HeaderMap) -> Response {
    if let Some(token) = &state.config.metrics_token {
        let presented = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        let expected = secrecy::ExposeSecret::expose_secret(token);
        if !crate::auth::digest::constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
            let mut answer = super::envelope::error(
                crate::error::Code::AuthenticationRequired,
                "Not authenticated",
                None,
            );
            answer.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer"),
            );
            return answer;
        }
    }
    let (pool_size, pool_idle, pool_waiting) = state.db.status();
    let (hash_waiting, hash_running) = state.passwords.load();
    let gauges = crate::metrics::Gauges {
        pool_size,
        pool_idle,
        pool_waiting,
        hash_waiting,
        hash_running,
    };
    let text = state
        .metrics
        .render(gauges, state.passwords.wait_histogram());
    let mut response = Response::new(axum::body::Body::from(text));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn html_escape(raw: &str) -> String {
    raw.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
