//! The generic REST transcoder: `google.api.http` annotations in, JSON out.
//!
//! At start-up the route table is read from the embedded descriptor set. Per
//! request: match the route, build the request message from path, query and
//! body, frame it, call the tonic routes in-process (the same stack native
//! gRPC clients reach, authentication layer included), and turn the reply or
//! the status into the API's JSON (docs/api.md#response-format) or error envelope.

mod body;
mod decode;
mod encode;
#[cfg(test)]
mod fixtures;
mod form;
#[doc(hidden)]
pub mod fuzz;
mod request;
mod routes;
mod scalars;
mod template;
mod text;

pub use self::routes::{BodyFormat, BodySpec, Route, RouteTable};
pub(crate) use self::scalars::enum_value_name;

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use bytes::{Buf as _, BufMut as _, Bytes, BytesMut};
use http::{HeaderValue, Method, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use prost::Message as _;
use prost_reflect::DynamicMessage;
use tower::ServiceExt as _;

use self::body::DecodeError;
use self::request::decode_request;
use self::routes::Resolution;
use super::{body_limit, envelope, method_not_allowed};
use crate::error::Code;
use crate::grpc::authn;
use crate::state::AppState;

/// Request headers passed through to the gRPC services.
const FORWARDED_HEADERS: [&str; 5] = [
    "authorization",
    "user-agent",
    "x-device-id",
    "x-request-id",
    "accept-language",
];

/// The (name, value) pairs of a form body (urlencoded or multipart), or
/// why it cannot be read; for HTTP routes beside the transcoder.
pub(crate) fn form_pairs(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Vec<(String, String)>, String> {
    let mut problems = Vec::new();
    match form::parse_form_body(content_type, body, &mut problems) {
        Ok(pairs) => match problems.into_iter().next() {
            None => Ok(pairs),
            Some(problem) => Err(problem.message),
        },
        Err(err) => Err(err.to_string()),
    }
}

/// Transcodes REST requests into calls of the gRPC routes.
pub struct Transcoder {
    table: RouteTable,
    grpc: Router,
    state: AppState,
    policy: authn::MethodPolicy,
}

impl Transcoder {
    /// Serves the routes of `table` (see [`RouteTable::from_pool`]).
    pub fn new(
        table: RouteTable,
        state: AppState,
        policy: authn::MethodPolicy,
        grpc: Router,
    ) -> Self {
        Self {
            table,
            grpc,
            state,
            policy,
        }
    }

    /// Every REST route, in table order.
    pub fn routes(&self) -> impl Iterator<Item = &Route> + Clone {
        self.table.routes()
    }

    /// `METHOD template` of the route `method` and `path` resolve to.
    pub fn route_label(&self, method: &Method, path: &str) -> Option<String> {
        match self.table.resolve(method, path) {
            Resolution::Found { route, .. } => {
                Some(format!("{} {}", route.http_method, route.template))
            }
            _ => None,
        }
    }

    /// Answers one REST request.
    pub async fn handle(&self, request: Request<Body>) -> Response {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        match self.table.resolve(&method, &path) {
            Resolution::NotFound => envelope::error(Code::NotFound, "Not found", None),
            Resolution::MethodNotAllowed { allow } => {
                let allow: Vec<&str> = allow.iter().map(Method::as_str).collect();
                method_not_allowed(&allow.join(", "))
            }
            Resolution::RedirectTrailingSlash => {
                super::redirect(&request, path.trim_end_matches('/'))
            }
            Resolution::Found { route, params } => {
                let head = method == Method::HEAD;
                let mut response = self.call(route, &params, request).await;
                if head {
                    *response.body_mut() = Body::empty();
                }
                response
            }
        }
    }

    async fn call(
        &self,
        route: &Route,
        params: &[(String, String)],
        request: Request<Body>,
    ) -> Response {
        if self.policy.disabled(&route.grpc_path) {
            return envelope::error(Code::NotFound, authn::PROVIDER_DISABLED, None);
        }
        let (mut parts, body) = request.into_parts();
        // docs/api.md#order-of-checks: declared size (3), authentication and role
        // (5, 6), then reading and validating the body (7).
        let limit = self.policy.body_limit(&route.grpc_path);
        if let Some(refusal) = body_limit::check_declared(&parts.headers, limit) {
            return refusal;
        }
        match authn::admit(
            &self.state,
            &parts.headers,
            self.policy.level(&route.grpc_path),
            self.policy.scope(&route.grpc_path),
        )
        .await
        {
            Err(err) => return envelope::from_status(&authn::refusal(&self.state, err)),
            Ok(Some(authentication)) => {
                parts.extensions.insert(authentication);
            }
            Ok(None) => {}
        }
        let body = match body_limit::cap(body, limit).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(err) => return body_limit::unreadable(&err, limit),
        };
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let decoded = decode_request(route, params, parts.uri.query(), content_type, &body);
        let message = match decoded {
            Ok(message) => message,
            Err(DecodeError::Unparseable) => {
                return envelope::error(
                    Code::InvalidInput,
                    "Request body could not be parsed",
                    None,
                );
            }
            Err(DecodeError::Invalid(problems)) => {
                return envelope::errors(Code::Validation, &problems);
            }
        };

        let mut grpc_request = Request::new(Body::from(frame(&message)));
        *grpc_request.method_mut() = Method::POST;
        *grpc_request.uri_mut() = match route.grpc_path.parse() {
            Ok(uri) => uri,
            Err(_) => return internal("invalid gRPC path in route table"),
        };
        *grpc_request.version_mut() = http::Version::HTTP_2;
        let headers = grpc_request.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
        for name in FORWARDED_HEADERS {
            for value in parts.headers.get_all(name) {
                headers.append(name, value.clone());
            }
        }
        *grpc_request.extensions_mut() = parts.extensions;
        grpc_request.extensions_mut().insert(authn::InProcess);

        let response = match self.grpc.clone().oneshot(grpc_request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        self.reply(route, response).await
    }

    async fn reply(&self, route: &Route, response: Response) -> Response {
        let (parts, body) = response.into_parts();
        if let Some(status) = failed_status(&parts.headers) {
            return envelope::from_status(&status);
        }
        let collected = match body.collect().await {
            Ok(collected) => collected,
            Err(_) => return internal("reading the gRPC reply failed"),
        };
        if let Some(status) = collected.trailers().and_then(failed_status) {
            return envelope::from_status(&status);
        }
        let Some(payload) = unframe(collected.to_bytes()) else {
            return internal("malformed gRPC reply frame");
        };
        let message = match DynamicMessage::decode(route.method.output(), payload) {
            Ok(message) => message,
            Err(_) => return internal("undecodable gRPC reply"),
        };
        if route.success_status == StatusCode::NO_CONTENT {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::NO_CONTENT;
            return response;
        }
        match encode::encode_response(&message, route.response_body.as_deref()) {
            Ok(json) => envelope::json_bytes(route.success_status, json),
            Err(_) => internal("encoding the reply as JSON failed"),
        }
    }
}

/// The status in `headers` (a trailers-only answer, or the trailers), unless OK.
fn failed_status(headers: &http::HeaderMap) -> Option<tonic::Status> {
    tonic::Status::from_header_map(headers).filter(|s| s.code() != tonic::Code::Ok)
}

/// One gRPC length-prefixed message.
fn frame(message: &DynamicMessage) -> Bytes {
    let encoded = message.encode_to_vec();
    let mut buf = BytesMut::with_capacity(encoded.len() + 5);
    buf.put_u8(0);
    buf.put_u32(u32::try_from(encoded.len()).unwrap_or(u32::MAX));
    buf.put_slice(&encoded);
    buf.freeze()
}

/// The payload of a single uncompressed gRPC message.
fn unframe(mut data: Bytes) -> Option<Bytes> {
    if data.len() < 5 || data[0] != 0 {
        return None;
    }
    data.advance(1);
    let len = usize::try_from(data.get_u32()).ok()?;
    (data.len() == len).then_some(data)
}

fn internal(what: &str) -> Response {
    tracing::error!(what, "transcoding failed");
    envelope::error(
        Code::Internal,
        "An internal error occurred. Please try again later.",
        None,
    )
}
