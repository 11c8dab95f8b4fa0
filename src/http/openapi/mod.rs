//! The OpenAPI 3.1 description of the REST API, generated at start-up from
//! the same descriptor pool and route table the transcoder serves, so the
//! two cannot disagree: every route with its parameters, request body,
//! answer schema (as the transcoder writes it), the error envelope for each
//! status the route can answer, the bearer scheme, and the proto comments
//! as summaries. Served at `/openapi.json` and `{API}/openapi.json`; a
//! browser page renders it at `/docs` ([`page`]).

pub mod page;
mod protocol;
mod schema;

use http::StatusCode;
use prost_reflect::{DescriptorPool, FieldDescriptor, Kind, MethodDescriptor};
use serde_json::{Map, Value as Json, json};

use self::schema::{Comments, Direction, Schemas, scalar_schema};
use crate::error::Code;
use crate::grpc::authn::{AccessLevel, MethodPolicy};
use crate::http::transcode::{BodyFormat, BodySpec, Route};

/// Extension listing the error statuses a method's rules can answer beyond
/// the ones derived from its route (authentication, path ids, validation).
const ERROR_STATUSES: &str = "identity.v1.error_statuses";

/// What the document says about the service itself.
#[derive(Debug, Clone)]
pub struct Info<'a> {
    /// `PROJECT_NAME`.
    pub title: &'a str,
    /// `VERSION`.
    pub version: &'a str,
    /// `API_V1_STR`.
    pub api_prefix: &'a str,
    /// `OAUTH_PROVIDER_ENABLED`: the authorization server's routes are served.
    pub provider: bool,
}

/// Builds the document.
pub fn document<'r>(
    pool: &DescriptorPool,
    routes: impl Iterator<Item = &'r Route> + Clone,
    policy: &MethodPolicy,
    info: &Info<'_>,
) -> Json {
    let comments = Comments::of(pool);
    let mut schemas = Schemas::new(&comments);
    // Switched-off routes answer 404 only: they are not described.
    let routes = routes.filter(|r| !policy.disabled(&r.grpc_path));
    for route in routes.clone() {
        schemas.note_response(&route.method.output());
    }
    let mut paths = Map::new();
    if info.provider {
        for (path, item) in protocol::paths(info.api_prefix) {
            paths.insert(path, item);
        }
    }
    for route in routes {
        let operation = operation(route, policy, &mut schemas, &comments, pool);
        let path = paths
            .entry(route.template.clone())
            .or_insert_with(|| json!({}));
        path[route.http_method.as_str().to_ascii_lowercase()] = operation;
    }
    let mut components = schemas.into_components();
    components.insert("ErrorResponse".to_owned(), error_schema());
    if info.provider {
        components.insert("OAuthError".to_owned(), protocol::oauth_error_schema());
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": info.title,
            "version": info.version,
            "description": "Accounts, logins, sessions, organizations and administration. \
                The same API is served as gRPC and grpc-web on the same port. Errors use \
                one envelope: `{\"success\": false, \"errors\": [{\"code\", \"message\", \"field\"}]}`.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "responses": error_responses(),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                           "description": "An access token from login or refresh."},
            },
        },
    })
}

fn operation(
    route: &Route,
    policy: &MethodPolicy,
    schemas: &mut Schemas<'_>,
    comments: &Comments,
    pool: &DescriptorPool,
) -> Json {
    let method = &route.method;
    let service = method.parent_service();
    let level = policy.level(&route.grpc_path);
    let mut op = json!({
        "operationId": format!("{}_{}", service.name(), method.name()),
        "tags": [service.name().trim_end_matches("Service")],
        "parameters": parameters(route),
        "responses": responses(route, level, schemas, pool),
    });
    if let Some(comment) = comments.get(method.parent_file().name(), method.path()) {
        let (summary, rest) = comment.split_once('\n').unwrap_or((comment, ""));
        op["summary"] = Json::String(summary.trim().to_owned());
        let rest = rest.trim();
        if !rest.is_empty() {
            op["description"] = Json::String(rest.to_owned());
        }
    }
    if level != AccessLevel::Public {
        op["security"] = json!([{"bearer": []}]);
    }
    if let Some(body) = request_body(route, schemas) {
        op["requestBody"] = body;
    }
    op
}

/// Path variables, then query parameters (the fields neither the path nor
/// the body binds; nested messages as `outer.inner`).
fn parameters(route: &Route) -> Json {
    let input = route.method.input();
    let mut out = Vec::new();
    let mut bound = Vec::new();
    for name in route.variables() {
        let schema = field_chain(&input, &name)
            .map_or(json!({"type": "string"}), |f| scalar_schema(&f.kind()));
        bound.push(name.split('.').next().unwrap_or_default().to_owned());
        out.push(json!({"name": name, "in": "path", "required": true, "schema": schema}));
    }
    if route.body == BodySpec::Whole {
        return Json::Array(out);
    }
    if let BodySpec::Field(name) = &route.body {
        bound.push(name.clone());
    }
    for field in input
        .fields()
        .filter(|f| !bound.iter().any(|b| b == f.name()))
    {
        match field.kind() {
            Kind::Message(inner) if !is_text_message(&inner) => {
                if field.is_list() {
                    continue;
                }
                for sub in inner.fields().filter(|s| query_schema(s).is_some()) {
                    let name = format!("{}.{}", field.name(), sub.name());
                    out.push(query_param(&name, &sub));
                }
            }
            _ if query_schema(&field).is_some() => out.push(query_param(field.name(), &field)),
            _ => {}
        }
    }
    Json::Array(out)
}

fn query_param(name: &str, field: &FieldDescriptor) -> Json {
    let schema = query_schema(field).unwrap_or_else(|| json!({}));
    json!({"name": name, "in": "query", "required": false, "schema": schema})
}

/// Schema of a field given as query text, `None` when it cannot be.
fn query_schema(field: &FieldDescriptor) -> Option<Json> {
    if field.is_map() {
        return None;
    }
    let kind = field.kind();
    if let Kind::Message(desc) = &kind
        && !is_text_message(desc)
    {
        return None;
    }
    let schema = scalar_schema(&kind);
    Some(if field.is_list() {
        json!({"type": "array", "items": schema})
    } else {
        schema
    })
}

/// Messages the transcoder reads from text: timestamps and wrappers.
fn is_text_message(desc: &prost_reflect::MessageDescriptor) -> bool {
    let name = desc.full_name();
    name == "google.protobuf.Timestamp"
        || (name.starts_with("google.protobuf.") && desc.get_field_by_name("value").is_some())
}

fn field_chain(desc: &prost_reflect::MessageDescriptor, dotted: &str) -> Option<FieldDescriptor> {
    let mut current = desc.clone();
    let mut field = None;
    for part in dotted.split('.') {
        if let Some(Kind::Message(inner)) = field.as_ref().map(FieldDescriptor::kind) {
            current = inner;
        }
        field = Some(current.get_field_by_name(part)?);
    }
    field
}

fn request_body(route: &Route, schemas: &mut Schemas<'_>) -> Option<Json> {
    let input = route.method.input();
    let bound = route.variables();
    let bound: Vec<&str> = bound.iter().map(String::as_str).collect();
    let schema = match &route.body {
        BodySpec::None => return None,
        BodySpec::Whole => schemas.object(&input, Direction::Request, &bound),
        BodySpec::Field(name) => {
            let field = input.get_field_by_name(name)?;
            schemas.field(&field, Direction::Request)
        }
    };
    let content = match route.body_format {
        BodyFormat::Json => json!({"application/json": {"schema": schema}}),
        BodyFormat::Form => json!({
            "application/x-www-form-urlencoded": {"schema": schema},
            "multipart/form-data": {"schema": schema},
        }),
    };
    Some(json!({"required": route.body_format == BodyFormat::Json, "content": content}))
}

fn responses(
    route: &Route,
    level: AccessLevel,
    schemas: &mut Schemas<'_>,
    pool: &DescriptorPool,
) -> Json {
    let mut out = Map::new();
    let status = route.success_status;
    let success = if status == StatusCode::NO_CONTENT {
        json!({"description": "Done; no body."})
    } else {
        let output = route.method.output();
        let schema = match route
            .response_body
            .as_deref()
            .and_then(|name| output.get_field_by_name(name))
        {
            Some(field) => schemas.field(&field, Direction::Response),
            None => schemas.reference(&output, Direction::Response),
        };
        json!({"description": "Success.", "content": {"application/json": {"schema": schema}}})
    };
    out.insert(status.as_str().to_owned(), success);
    for code in error_statuses(route, level, pool) {
        out.insert(
            code.to_string(),
            json!({"$ref": format!("#/components/responses/E{code}")}),
        );
    }
    Json::Object(out)
}

/// Every error status the route can answer: derived from the route, plus
/// the ones its proto declares.
fn error_statuses(route: &Route, level: AccessLevel, pool: &DescriptorPool) -> Vec<u16> {
    let mut statuses = vec![400, 413, 500, 503];
    if route.method.input().fields().next().is_some() {
        statuses.push(422);
    }
    if level != AccessLevel::Public {
        statuses.push(401);
    }
    if level == AccessLevel::Superuser {
        statuses.push(403);
    }
    if !route.variables().is_empty() {
        statuses.push(404);
    }
    statuses.extend(declared_statuses(&route.method, pool));
    statuses.sort_unstable();
    statuses.dedup();
    statuses
}

fn declared_statuses(method: &MethodDescriptor, pool: &DescriptorPool) -> Vec<u16> {
    let Some(ext) = pool.get_extension_by_name(ERROR_STATUSES) else {
        return Vec::new();
    };
    let options = method.options();
    let value = options.get_extension(&ext);
    value
        .as_list()
        .unwrap_or(&[])
        .iter()
        .filter_map(|v| v.as_i32())
        .filter_map(|n| u16::try_from(n).ok())
        .collect()
}

/// One reusable answer per error status, each with the envelope.
fn error_responses() -> Json {
    let mut out = Map::new();
    for (status, description) in [
        (400, "The body or a header cannot be used (VAL_006)."),
        (401, "Not authenticated, or the credentials are refused."),
        (403, "Authenticated, but not allowed."),
        (404, "No such resource (SYS_002)."),
        (409, "Conflicts with the current state."),
        (413, "The body is over the route's limit (VAL_007)."),
        (422, "Validation failed; one item per problem (VAL_001)."),
        (429, "Rate limit exceeded (SYS_004)."),
        (500, "Unexpected failure (SYS_001)."),
        (503, "The database is unavailable (SYS_006)."),
    ] {
        let mut answer = json!({
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
        });
        let header = match status {
            401 => Some((
                "WWW-Authenticate",
                "The bearer challenge of bearer validation.",
            )),
            403 => Some((
                "WWW-Authenticate",
                "With an access token of the authorization server that lacks the method's scope: `error=\"insufficient_scope\"` and the scope.",
            )),
            429 | 503 => Some(("Retry-After", "Seconds to wait before retrying.")),
            _ => None,
        };
        if let Some((name, description)) = header {
            answer["headers"] =
                json!({name: {"description": description, "schema": {"type": "string"}}});
        }
        out.insert(format!("E{status}"), answer);
    }
    Json::Object(out)
}

fn error_schema() -> Json {
    let mut codes: Vec<&str> = Code::ALL.iter().map(|c| c.envelope()).collect();
    codes.dedup();
    json!({
        "type": "object",
        "description": "The error envelope of every answer with status 400 or more.",
        "required": ["success", "errors"],
        "properties": {
            "success": {"const": false},
            "errors": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["code", "message", "field"],
                    "properties": {
                        "code": {"type": "string", "enum": codes},
                        "message": {"type": "string"},
                        "field": {"type": ["string", "null"], "description": "Field path, or null for the request as a whole."},
                    },
                },
            },
        },
    })
}
