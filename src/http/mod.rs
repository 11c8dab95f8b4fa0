//! The one listener's HTTP side: every request (gRPC, grpc-web, REST, health)
//! enters here, passes the cross-cutting layers, and is dispatched by content
//! type and path.
//!
//! Layers, outermost first: request id, logging and security headers;
//! panic catching (a 500 envelope that still gets the headers); CORS; the
//! body limit; client-IP resolution. Then `application/grpc*` goes to the
//! tonic routes (grpc-web translated first, authentication in front of the
//! services), `/` and `/health` to their pages, and everything else to the
//! REST transcoder, which calls the same tonic routes in-process.

mod body_limit;
pub(crate) mod client_ip;
mod cors;
pub mod envelope;
mod headers;
pub use headers::secure as secure_headers;
pub(crate) mod oauth;
pub mod openapi;
mod pages;
pub(crate) use pages::html_escape;
pub mod transcode;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse as _, Response};
use http::{HeaderValue, Method, StatusCode, header};
use tower::ServiceExt as _;

use self::client_ip::client_ip;
use crate::domain::client_ip::ClientIp;
use crate::error::Code;
use crate::grpc;
use crate::metrics::Transport;
use crate::service::principal_cache::WriteGuard;
use crate::state::AppState;

struct Dispatch {
    state: AppState,
    grpc: Router,
    transcoder: transcode::Transcoder,
    policy: grpc::authn::MethodPolicy,
    /// The OpenAPI document, serialised once; `None` when `API_DOCS_ENABLED`
    /// is false.
    api_description: Option<bytes::Bytes>,
    /// The authorization server's protocol endpoints.
    oauth: oauth::Endpoints,
    /// The per-route rate limits.
    limits: Arc<crate::ratelimit::Rules>,
}

/// The whole HTTP application.
pub fn router(state: AppState) -> anyhow::Result<Router> {
    let routes = grpc::infrastructure(grpc::services(&state))?;
    // Decoded once; the policy, the route table and the API description
    // read the same pool.
    let pool = prost_reflect::DescriptorPool::decode(grpc::pb::FILE_DESCRIPTOR_SET)?;
    let policy = grpc::authn::MethodPolicy::from_pool(
        &pool,
        state.config.max_request_body_bytes,
        state.config.provider.enabled,
    );
    let table = transcode::RouteTable::from_pool(&pool, &state.config.api_prefix)?;
    let bindings = table
        .routes()
        .map(|r| (r.grpc_path.as_str(), &r.http_method, r.template.as_str()));
    let limits = Arc::new(crate::ratelimit::Rules::new(
        &state.config.api_prefix,
        bindings,
    ));
    let grpc_router = routes
        .prepare()
        .into_axum_router()
        .layer(middleware::from_fn_with_state(
            (state.clone(), policy.clone(), limits.clone()),
            grpc::authn::authenticate,
        ))
        .layer(tonic_web::GrpcWebLayer::new());
    let transcoder =
        transcode::Transcoder::new(table, state.clone(), policy.clone(), grpc_router.clone());
    let api_description = state.config.api_docs_enabled.then(|| {
        let info = openapi::Info {
            title: &state.config.project_name,
            version: &state.config.version,
            api_prefix: &state.config.api_prefix,
            provider: state.config.provider.enabled,
        };
        let document = openapi::document(&pool, transcoder.routes(), &policy, &info);
        bytes::Bytes::from(document.to_string())
    });
    let dispatch = Arc::new(Dispatch {
        state: state.clone(),
        grpc: grpc_router,
        transcoder,
        policy,
        api_description,
        oauth: oauth::Endpoints::new(&state.config.api_prefix),
        limits,
    });
    let settings = Arc::new(headers::Settings::new(&state.config));
    let cors = Arc::new(cors::Cors::new(&state.config.cors_origins));
    Ok(Router::new()
        .fallback(dispatch_request)
        .with_state(dispatch)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            resolve_client_ip,
        ))
        .layer(middleware::from_fn_with_state(cors, cors::cors))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .layer(middleware::from_fn_with_state(settings, headers::decorate)))
}

/// Answers a request and records it in the metrics.
async fn dispatch_request(State(app): State<Arc<Dispatch>>, request: Request) -> Response {
    let started = std::time::Instant::now();
    let (transport, route) = metrics_labels(&app, &request);
    let response = answer(&app, request).await;
    let status = match transport {
        Transport::Http => response.status().as_str().to_owned(),
        // A unary error is trailers-only: its status is in the headers; an
        // answer with a body carries it in trailers (counted as 0).
        Transport::Grpc | Transport::GrpcWeb => response
            .headers()
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("0")
            .to_owned(),
    };
    app.state
        .metrics
        .request(transport, &route, &status, started.elapsed());
    response
}

/// The transport and a bounded route label of a request.
fn metrics_labels(app: &Dispatch, request: &Request) -> (Transport, String) {
    let path = request.uri().path();
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with("application/grpc") {
        let transport = if content_type.starts_with("application/grpc-web") {
            Transport::GrpcWeb
        } else {
            Transport::Grpc
        };
        let known = app.policy.knows(path);
        return (
            transport,
            if known {
                path.to_owned()
            } else {
                "other".to_owned()
            },
        );
    }
    let label = app
        .transcoder
        .route_label(request.method(), path)
        .or_else(|| {
            let template = app.oauth.label(path)?;
            Some(format!("{} {template}", request.method()))
        })
        .or_else(|| {
            let fixed = matches!(
                path,
                "/" | "/health"
                    | "/health/live"
                    | "/health/ready"
                    | "/metrics"
                    | "/openapi.json"
                    | "/docs"
            );
            fixed.then(|| format!("{} {path}", request.method()))
        })
        .unwrap_or_else(|| "other".to_owned());
    (Transport::Http, label)
}

async fn answer(app: &Dispatch, request: Request) -> Response {
    if is_grpc(request.headers()) {
        // The limit bounds the message; its frame adds five bytes. Unary
        // identity methods also check framing and size after authentication
        // (`grpc::framing`), answering with gRPC statuses.
        let limit = app.policy.body_limit(request.uri().path()) + 5;
        let request = request.map(|body| body_limit::cap(body, limit));
        return match app.grpc.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
    }
    // Step 4 of the order of checks, for REST and the OAuth endpoints (gRPC
    // calls are counted in the authentication layer, against the same
    // budget as their REST route).
    if let Some(rule) = app.limits.for_http(request.method(), request.uri().path())
        && let Some(ClientIp(ip)) = request.extensions().get::<ClientIp>().copied()
        && let Err(refused) = app.state.limiter.admit(rule, ip).await
    {
        app.state.metrics.rate_limited(&rule.label());
        return envelope::from_status(&tonic::Status::from(refused));
    }
    // The authorization server and its pages may end sessions.
    let writes = WriteGuard::new(&app.state.principals);
    let request = match oauth::handle(&app.state, &app.oauth, request).await {
        Ok(answer) => return answer,
        Err(request) => {
            writes.disarm();
            request
        }
    };
    let get_like = matches!(*request.method(), Method::GET | Method::HEAD);
    let path = request.uri().path();
    if let Some(description) = &app.api_description
        && let Some(answer) = api_docs(app, path, get_like, description)
    {
        return answer;
    }
    match path {
        "/health" if get_like => pages::health(&app.state).await,
        "/health/live" if get_like => pages::live(),
        "/health/ready" if get_like => pages::ready(&app.state).await,
        "/metrics" if get_like => pages::metrics(&app.state, request.headers()),
        "/" if get_like => pages::root(&app.state),
        "/health" | "/" | "/health/live" | "/health/ready" | "/metrics" => {
            method_not_allowed("GET, HEAD")
        }
        "/health/" => redirect(&request, "/health"),
        _ => app.transcoder.handle(request).await,
    }
}

/// The OpenAPI document and the `/docs` page, when `path` is theirs.
fn api_docs(
    app: &Dispatch,
    path: &str,
    get_like: bool,
    description: &bytes::Bytes,
) -> Option<Response> {
    let document = path == "/openapi.json"
        || path
            .strip_prefix(app.state.config.api_prefix.as_str())
            .is_some_and(|rest| rest == "/openapi.json");
    let page = path == "/docs" || path.starts_with("/docs/");
    if !(document || page) {
        return None;
    }
    if !get_like {
        return Some(method_not_allowed("GET, HEAD"));
    }
    if document {
        let mut response = Response::new(Body::from(description.clone()));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return Some(response);
    }
    openapi::page::serve(path, &app.state.config.project_name)
        .or_else(|| Some(envelope::error(Code::NotFound, "Not found", None)))
}

/// 307 to `path`, keeping the query string.
fn redirect(request: &Request, path: &str) -> Response {
    let location = match request.uri().query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::TEMPORARY_REDIRECT;
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

fn is_grpc(headers: &http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

/// 405 with the `Allow` header.
pub(crate) fn method_not_allowed(allow: &str) -> Response {
    let mut response = envelope::error(Code::MethodNotAllowed, "Method not allowed", None);
    if let Ok(value) = HeaderValue::from_str(allow) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

async fn resolve_client_ip(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    if let Some(peer) = peer {
        let ip = client_ip(peer, request.headers(), &state.config.trusted_proxies);
        request.extensions_mut().insert(ClientIp(ip));
    }
    next.run(request).await
}

fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> http::Response<Body> {
    tracing::error!("request handler panicked");
    let mut response = envelope::error(
        Code::Internal,
        "An internal error occurred. Please try again later.",
        None,
    );
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response.into_response()
}
