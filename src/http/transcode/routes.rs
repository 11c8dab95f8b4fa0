//! Route table of the REST transcoder: reads the `google.api.http` rules and the
//! `identity.v1` method options from a descriptor pool, rejects conflicting or
//! invalid templates, and resolves an HTTP method + path to a route and its
//! percent-decoded path variables.
//!
//! Path variable values are percent-decoded lossily: invalid UTF-8 becomes
//! U+FFFD, so the request decoder (or a later validation) rejects it with a 422
//! on the field instead of a 404.

use anyhow::{Context as _, anyhow, bail};
use http::{Method, StatusCode};
use prost_reflect::{DescriptorPool, DynamicMessage, Kind, MessageDescriptor, MethodDescriptor};

use super::scalars::is_wrapper;
use super::template::{
    Segment, apply_prefix, decode_segment, matches, parse_template, shape_of, split_path,
};

/// Where the request body goes in the request message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodySpec {
    /// The route takes no body.
    None,
    /// `body: "*"`: the body is the whole request message.
    Whole,
    /// `body: "field"`: the body is the value of this field.
    Field(String),
}

/// Encoding of the request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// JSON (`application/json` or any `+json` type).
    Json,
    /// `application/x-www-form-urlencoded` or `multipart/form-data`.
    Form,
}

/// One REST binding of a gRPC method.
#[derive(Debug, Clone)]
pub struct Route {
    /// The gRPC method served by this route.
    pub method: MethodDescriptor,
    /// gRPC path, `/pkg.Service/Method`.
    pub grpc_path: String,
    /// HTTP method of the binding.
    pub http_method: Method,
    /// Path template with the API prefix applied, e.g. `/api/v1/users/{user_id}`.
    pub template: String,
    /// Where the body goes.
    pub body: BodySpec,
    /// Field of the response message sent as the body, if any.
    pub response_body: Option<String>,
    /// HTTP status of a successful answer (200 unless the method says otherwise).
    pub success_status: StatusCode,
    /// Encoding of the request body.
    pub body_format: BodyFormat,
}

impl Route {
    /// Names of the path variables, in template order (`filter.label` for a
    /// nested field).
    pub fn variables(&self) -> Vec<String> {
        parse_template(&self.template)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|segment| match segment {
                Segment::Variable(name) => Some(name),
                Segment::Literal(_) => None,
            })
            .collect()
    }
}

/// Outcome of [`RouteTable::resolve`].
#[derive(Debug)]
pub enum Resolution<'a> {
    /// A route matched; `params` maps variable names to percent-decoded values.
    Found {
        /// The matched route.
        route: &'a Route,
        /// Path variables, in template order.
        params: Vec<(String, String)>,
    },
    /// The path exists, but not with this method.
    MethodNotAllowed {
        /// Methods accepted on this path (HEAD included when GET is).
        allow: Vec<Method>,
    },
    /// The path without its trailing `/` would match a route (answer 307).
    RedirectTrailingSlash,
    /// No route has this path.
    NotFound,
}

#[derive(Debug)]
struct Entry {
    segments: Vec<Segment>,
    route: Route,
}

/// All REST routes of a descriptor pool.
#[derive(Debug, Default)]
pub struct RouteTable {
    entries: Vec<Entry>,
}

const HTTP_RULE: &str = "google.api.http";

const SUCCESS_STATUS: &str = "identity.v1.http_success_status";

const BODY_FORMAT: &str = "identity.v1.http_body_format";

const PATTERN_KINDS: [(&str, Method); 5] = [
    ("get", Method::GET),
    ("put", Method::PUT),
    ("post", Method::POST),
    ("delete", Method::DELETE),
    ("patch", Method::PATCH),
];

impl RouteTable {
    /// Builds the table from every method of every service in the pool that has a
    /// `google.api.http` rule (plus its `additional_bindings`). `api_prefix` replaces
    /// a leading `/api/v1` of every template. Errors on conflicting routes (same
    /// method and template shape) or on templates, body or response fields that do
    /// not exist in the method's messages.
    pub fn from_pool(pool: &DescriptorPool, api_prefix: &str) -> anyhow::Result<Self> {
        let mut table = RouteTable::default();
        let Some(http_ext) = pool.get_extension_by_name(HTTP_RULE) else {
            return Ok(table);
        };
        let status_ext = pool.get_extension_by_name(SUCCESS_STATUS);
        let format_ext = pool.get_extension_by_name(BODY_FORMAT);
        for service in pool.services() {
            for method in service.methods() {
                let options = method.options();
                if !options.has_extension(&http_ext) {
                    continue;
                }
                let grpc_path = format!("/{}/{}", service.full_name(), method.name());
                if method.is_client_streaming() || method.is_server_streaming() {
                    bail!("{grpc_path}: a streaming method cannot have an HTTP rule");
                }
                for message in [method.input(), method.output()] {
                    check_supported(&message, &mut Vec::new())
                        .with_context(|| format!("{grpc_path}: {}", message.full_name()))?;
                }
                let status = match &status_ext {
                    Some(ext) if options.has_extension(ext) => {
                        let code = options.get_extension(ext).as_i32().unwrap_or(200);
                        let code = u16::try_from(code).unwrap_or(0);
                        StatusCode::from_u16(code)
                            .with_context(|| format!("{grpc_path}: bad success status {code}"))?
                    }
                    _ => StatusCode::OK,
                };
                let body_format = match &format_ext {
                    Some(ext) if options.get_extension(ext).as_enum_number() == Some(1) => {
                        BodyFormat::Form
                    }
                    _ => BodyFormat::Json,
                };
                let Some(rule) = options.get_extension(&http_ext).as_message().cloned() else {
                    continue;
                };
                let mut rules = vec![rule.clone()];
                if let Some(list) = rule.get_field_by_name("additional_bindings") {
                    rules.extend(
                        list.as_list()
                            .unwrap_or(&[])
                            .iter()
                            .filter_map(|v| v.as_message().cloned()),
                    );
                }
                for rule in &rules {
                    let (http_method, raw) = rule_pattern(rule)
                        .with_context(|| format!("{grpc_path}: HTTP rule without a pattern"))?;
                    let template = apply_prefix(&raw, api_prefix);
                    let segments = parse_template(&template)
                        .with_context(|| format!("{grpc_path}: bad template {raw:?}"))?;
                    let input = method.input();
                    for seg in &segments {
                        if let Segment::Variable(name) = seg {
                            check_path_field(&input, name)
                                .with_context(|| format!("{grpc_path}: path variable {name:?}"))?;
                        }
                    }
                    let body = match string_field(rule, "body").as_str() {
                        "" => BodySpec::None,
                        "*" => BodySpec::Whole,
                        f => {
                            if input.get_field_by_name(f).is_none() {
                                bail!("{grpc_path}: body field {f:?} not in {}", input.full_name());
                            }
                            BodySpec::Field(f.to_owned())
                        }
                    };
                    let response_body = match string_field(rule, "response_body") {
                        s if s.is_empty() => None,
                        s => {
                            if method.output().get_field_by_name(&s).is_none() {
                                bail!("{grpc_path}: response_body {s:?} not in the output message");
                            }
                            Some(s)
                        }
                    };
                    let shape = shape_of(&segments);
                    if let Some(other) = table.entries.iter().find(|e| {
                        e.route.http_method == http_method && shape_of(&e.segments) == shape
                    }) {
                        bail!(
                            "route conflict: {http_method} {template} ({grpc_path}) and {} ({})",
                            other.route.template,
                            other.route.grpc_path
                        );
                    }
                    table.entries.push(Entry {
                        segments,
                        route: Route {
                            method: method.clone(),
                            grpc_path: grpc_path.clone(),
                            http_method,
                            template,
                            body,
                            response_body,
                            success_status: status,
                            body_format,
                        },
                    });
                }
            }
        }
        Ok(table)
    }

    /// Resolves a request line. HEAD is resolved as GET. Literal segments win over
    /// variables, but a method that only a less specific matching route has is
    /// routed there.
    pub fn resolve(&self, method: &Method, path: &str) -> Resolution<'_> {
        let wanted = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        let Some(segments) = split_path(path) else {
            return Resolution::NotFound;
        };
        let mut matching: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| matches(&e.segments, &segments))
            .collect();
        if matching.is_empty() {
            let redirect = path.len() > 1
                && path.ends_with('/')
                && split_path(&path[..path.len() - 1])
                    .is_some_and(|s| self.entries.iter().any(|e| matches(&e.segments, &s)));
            return if redirect {
                Resolution::RedirectTrailingSlash
            } else {
                Resolution::NotFound
            };
        }
        // Most specific first: at the first differing position a literal wins.
        matching.sort_by_key(|e| {
            e.segments
                .iter()
                .map(|s| matches!(s, Segment::Variable(_)))
                .collect::<Vec<_>>()
        });
        if let Some(entry) = matching.iter().find(|e| e.route.http_method == *wanted) {
            let params = entry
                .segments
                .iter()
                .zip(&segments)
                .filter_map(|(seg, raw)| match seg {
                    Segment::Variable(name) => Some((name.clone(), decode_segment(raw))),
                    Segment::Literal(_) => None,
                })
                .collect();
            return Resolution::Found {
                route: &entry.route,
                params,
            };
        }
        let mut allow: Vec<Method> = Vec::new();
        for entry in &matching {
            let m = &entry.route.http_method;
            if !allow.contains(m) {
                allow.push(m.clone());
            }
            if m == Method::GET && !allow.contains(&Method::HEAD) {
                allow.push(Method::HEAD);
            }
        }
        allow.sort_by_key(method_rank);
        Resolution::MethodNotAllowed { allow }
    }

    /// Every route, in descriptor order.
    #[allow(
        dead_code,
        reason = "for listings (OpenAPI, tests); the request path does not need it"
    )]
    pub fn routes(&self) -> impl Iterator<Item = &Route> + Clone {
        self.entries.iter().map(|e| &e.route)
    }
}

fn method_rank(m: &Method) -> (usize, String) {
    let order = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
    let rank = order
        .iter()
        .position(|o| *o == m.as_str())
        .unwrap_or(order.len());
    (rank, m.as_str().to_owned())
}

fn string_field(message: &DynamicMessage, name: &str) -> String {
    message
        .get_field_by_name(name)
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn rule_pattern(rule: &DynamicMessage) -> Option<(Method, String)> {
    for (name, method) in PATTERN_KINDS {
        if rule.has_field_by_name(name) {
            return Some((method, string_field(rule, name)));
        }
    }
    if rule.has_field_by_name("custom") {
        let custom = rule.get_field_by_name("custom")?.as_message()?.clone();
        let method = Method::from_bytes(string_field(&custom, "kind").as_bytes()).ok()?;
        return Some((method, string_field(&custom, "path")));
    }
    None
}

/// Checks that a (possibly dotted) path variable names a singular scalar field.
/// Well-known types with a JSON mapping the transcoder implements.
const WELL_KNOWN: [&str; 4] = [
    "google.protobuf.Timestamp",
    "google.protobuf.Struct",
    "google.protobuf.Value",
    "google.protobuf.ListValue",
];

/// Refuses what the JSON mapping does not implement, so that a proto change
/// fails at start-up instead of being half-handled on the wire: real
/// `oneof`s (proto3 `optional` is fine) and well-known types other than
/// timestamps, `Struct`/`Value`/`ListValue` and the wrappers.
fn check_supported(desc: &MessageDescriptor, seen: &mut Vec<String>) -> anyhow::Result<()> {
    if seen.iter().any(|name| name == desc.full_name()) {
        return Ok(());
    }
    seen.push(desc.full_name().to_owned());
    if let Some(oneof) = desc.oneofs().find(|o| !o.is_synthetic()) {
        bail!(
            "oneof {:?} is not supported by the REST transcoder",
            oneof.name()
        );
    }
    for field in desc.fields() {
        let Kind::Message(inner) = field.kind() else {
            continue;
        };
        let name = inner.full_name();
        if inner.is_map_entry() {
            check_supported(&inner, seen)?;
        } else if name.starts_with("google.protobuf.") {
            if !WELL_KNOWN.contains(&name) && !is_wrapper(name) {
                bail!(
                    "field {:?}: {name} is not supported by the REST transcoder",
                    field.name()
                );
            }
        } else {
            check_supported(&inner, seen)?;
        }
    }
    Ok(())
}

fn check_path_field(input: &MessageDescriptor, name: &str) -> anyhow::Result<()> {
    let mut message = input.clone();
    let mut parts = name.split('.').peekable();
    while let Some(part) = parts.next() {
        let field = message
            .get_field_by_name(part)
            .ok_or_else(|| anyhow!("no field {part:?} in {}", message.full_name()))?;
        if field.is_list() || field.is_map() {
            bail!("field {part:?} is repeated");
        }
        match (field.kind(), parts.peek().is_some()) {
            (Kind::Message(m), true) => message = m,
            (Kind::Message(_), false) => bail!("field {part:?} is a message"),
            (_, true) => bail!("field {part:?} is not a message"),
            (_, false) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool() -> DescriptorPool {
        DescriptorPool::decode(
            &include_bytes!(concat!(env!("OUT_DIR"), "/testing_descriptor.bin"))[..],
        )
        .unwrap()
    }

    fn table() -> RouteTable {
        RouteTable::from_pool(&pool(), "/api/v1").unwrap()
    }

    fn found<'a>(r: Resolution<'a>) -> (&'a Route, Vec<(String, String)>) {
        match r {
            Resolution::Found { route, params } => (route, params),
            other => panic!("expected Found, got {other:?}"),
        }
    }

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn builds_every_binding() {
        let t = table();
        assert_eq!(t.routes().count(), 8);
        let create = t
            .routes()
            .find(|r| r.method.name() == "CreateThing")
            .unwrap();
        assert_eq!(create.grpc_path, "/testing.v1.ThingService/CreateThing");
        assert_eq!(create.http_method, Method::POST);
        assert_eq!(create.template, "/api/v1/things");
        assert_eq!(create.body, BodySpec::Whole);
        assert_eq!(create.success_status, StatusCode::CREATED);
        assert_eq!(create.body_format, BodyFormat::Json);
    }

    #[test]
    fn options_are_read() {
        let t = table();
        let by = |n: &str| t.routes().find(|r| r.method.name() == n).unwrap();
        assert_eq!(by("DeleteThing").success_status, StatusCode::NO_CONTENT);
        assert_eq!(by("GetThing").success_status, StatusCode::OK);
        assert_eq!(by("SubmitForm").body_format, BodyFormat::Form);
        assert_eq!(by("UpdateThing").body, BodySpec::Field("thing".into()));
        assert_eq!(by("GetThing").body, BodySpec::None);
        assert_eq!(by("ListThings").response_body.as_deref(), Some("things"));
        assert_eq!(by("GetThing").response_body, None);
    }

    #[test]
    fn literal_beats_variable() {
        let t = table();
        let (route, params) = found(t.resolve(&Method::GET, "/api/v1/things/special"));
        assert_eq!(route.method.name(), "GetSpecialThing");
        assert!(params.is_empty());
        let (route, params) = found(t.resolve(&Method::GET, "/api/v1/things/abc"));
        assert_eq!(route.method.name(), "GetThing");
        assert_eq!(params, p(&[("thing_id", "abc")]));
    }

    #[test]
    fn method_only_on_variable_route_falls_through() {
        let t = table();
        let (route, params) = found(t.resolve(&Method::DELETE, "/api/v1/things/special"));
        assert_eq!(route.method.name(), "DeleteThing");
        assert_eq!(params, p(&[("thing_id", "special")]));
        let (route, _) = found(t.resolve(&Method::PUT, "/api/v1/things/special"));
        assert_eq!(route.method.name(), "UpdateThing");
    }

    #[test]
    fn method_not_allowed_lists_methods() {
        let t = table();
        match t.resolve(&Method::POST, "/api/v1/things/x") {
            Resolution::MethodNotAllowed { allow } => {
                assert_eq!(
                    allow,
                    vec![Method::GET, Method::HEAD, Method::PUT, Method::DELETE]
                );
            }
            other => panic!("{other:?}"),
        }
        match t.resolve(&Method::DELETE, "/api/v1/things") {
            Resolution::MethodNotAllowed { allow } => {
                assert_eq!(allow, vec![Method::GET, Method::HEAD, Method::POST]);
            }
            other => panic!("{other:?}"),
        }
        match t.resolve(&Method::GET, "/api/v1/forms") {
            Resolution::MethodNotAllowed { allow } => assert_eq!(allow, vec![Method::POST]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn head_resolves_as_get() {
        let t = table();
        let (route, params) = found(t.resolve(&Method::HEAD, "/api/v1/things/t1"));
        assert_eq!(route.method.name(), "GetThing");
        assert_eq!(route.http_method, Method::GET);
        assert_eq!(params, p(&[("thing_id", "t1")]));
    }

    #[test]
    fn trailing_slash_redirects() {
        let t = table();
        assert!(matches!(
            t.resolve(&Method::GET, "/api/v1/things/"),
            Resolution::RedirectTrailingSlash
        ));
        assert!(matches!(
            t.resolve(&Method::GET, "/api/v1/things/x/"),
            Resolution::RedirectTrailingSlash
        ));
        assert!(matches!(
            t.resolve(&Method::GET, "/api/v1/nothing/"),
            Resolution::NotFound
        ));
        assert!(matches!(
            t.resolve(&Method::GET, "/api/v1/nothing"),
            Resolution::NotFound
        ));
        assert!(matches!(
            t.resolve(&Method::GET, "api/v1/things"),
            Resolution::NotFound
        ));
        assert!(matches!(
            t.resolve(&Method::GET, "/api/v1/things//"),
            Resolution::NotFound
        ));
    }

    #[test]
    fn two_variables_and_percent_decoding() {
        let t = table();
        let (route, params) = found(t.resolve(&Method::GET, "/api/v1/things/a%20b/parts/p%2F1"));
        assert_eq!(route.method.name(), "GetPart");
        assert_eq!(params, p(&[("thing_id", "a b"), ("part_id", "p/1")]));
        let (_, params) = found(t.resolve(&Method::GET, "/api/v1/things/%FF"));
        assert_eq!(params, p(&[("thing_id", "\u{FFFD}")]));
    }

    #[test]
    fn prefix_is_replaced() {
        let t = RouteTable::from_pool(&pool(), "/api/v2/").unwrap();
        assert!(t.routes().all(|r| r.template.starts_with("/api/v2/")));
        let (route, _) = found(t.resolve(&Method::GET, "/api/v2/things/special"));
        assert_eq!(route.template, "/api/v2/things/special");
        assert!(matches!(
            t.resolve(&Method::GET, "/api/v1/things/special"),
            Resolution::NotFound
        ));
        assert_eq!(apply_prefix("/api/v1x/a", "/p"), "/api/v1x/a");
        assert_eq!(apply_prefix("/api/v1", "/p"), "/p");
    }

    #[test]
    fn template_parsing() {
        assert_eq!(
            parse_template("/a/{b=*}/{c.d}").unwrap(),
            vec![
                Segment::Literal("a".into()),
                Segment::Variable("b".into()),
                Segment::Variable("c.d".into())
            ]
        );
        assert!(parse_template("/a/{b=**}").is_err());
        assert!(parse_template("/a/b:verb").is_err());
        assert!(parse_template("a").is_err());
        assert_eq!(shape_of(&parse_template("/a/{b}/c").unwrap()), "/a/*/c");
    }

    fn pool_with(mutate: impl FnOnce(&mut DynamicMessage)) -> anyhow::Result<RouteTable> {
        use prost::Message as _;
        let base = pool();
        let fds_desc = base
            .get_message_by_name("google.protobuf.FileDescriptorSet")
            .unwrap();
        let bytes = include_bytes!(concat!(env!("OUT_DIR"), "/testing_descriptor.bin"));
        let mut fds = DynamicMessage::decode(fds_desc, &bytes[..]).unwrap();
        let files = fds
            .get_field_by_name_mut("file")
            .unwrap()
            .as_list_mut()
            .unwrap();
        let file = files
            .iter_mut()
            .filter_map(|f| f.as_message_mut())
            .find(|f| {
                f.get_field_by_name("name").unwrap().as_str() == Some("testing/v1/transcode.proto")
            })
            .unwrap();
        let service = file
            .get_field_by_name_mut("service")
            .unwrap()
            .as_list_mut()
            .unwrap()[0]
            .as_message_mut()
            .unwrap();
        let methods = service
            .get_field_by_name_mut("method")
            .unwrap()
            .as_list_mut()
            .unwrap();
        let mut extra = methods[0].as_message().unwrap().clone();
        extra.set_field_by_name("name", prost_reflect::Value::String("Extra".into()));
        mutate(&mut extra);
        methods.push(prost_reflect::Value::Message(extra));
        let pool = DescriptorPool::decode(fds.encode_to_vec().as_slice()).unwrap();
        RouteTable::from_pool(&pool, "/api/v1")
    }

    fn set_get_template(method: &mut DynamicMessage, template: &str) {
        let options = method
            .get_field_by_name_mut("options")
            .unwrap()
            .as_message_mut()
            .unwrap();
        let ext = options.extensions().next().unwrap().0;
        let rule = options.get_extension_mut(&ext).as_message_mut().unwrap();
        rule.set_field_by_name("get", prost_reflect::Value::String(template.into()));
    }

    #[test]
    fn conflicts_and_bad_fields_are_rejected() {
        let err = pool_with(|_| {}).unwrap_err().to_string();
        assert!(err.contains("route conflict"), "{err}");
        // Same shape, other variable name: still a conflict.
        let err = pool_with(|m| set_get_template(m, "/api/v1/things/{q}")).unwrap_err();
        assert!(err.to_string().contains("route conflict"), "{err}");
        let err = pool_with(|m| set_get_template(m, "/api/v1/x/{nope}")).unwrap_err();
        assert!(format!("{err:#}").contains("no field \"nope\""), "{err:#}");
        let ok = pool_with(|m| set_get_template(m, "/api/v1/other/{thing_id}")).unwrap();
        let (route, _) = found(ok.resolve(&Method::GET, "/api/v1/other/1"));
        assert_eq!(route.method.name(), "Extra");
    }

    fn set_input(method: &mut DynamicMessage, input: &str) {
        set_get_template(method, "/api/v1/unsupported");
        method.set_field_by_name("input_type", prost_reflect::Value::String(input.into()));
    }

    #[test]
    fn unsupported_features_are_refused_at_start_up() {
        let err = pool_with(|m| set_input(m, ".testing.v1.WithChoice")).unwrap_err();
        assert!(format!("{err:#}").contains("oneof \"choice\""), "{err:#}");
        let err = pool_with(|m| set_input(m, ".testing.v1.WithDuration")).unwrap_err();
        assert!(format!("{err:#}").contains("Duration"), "{err:#}");
        let err = pool_with(|m| {
            set_get_template(m, "/api/v1/streams");
            m.set_field_by_name("server_streaming", prost_reflect::Value::Bool(true));
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("streaming"), "{err:#}");
        // Every message of the served API passes.
        let served = DescriptorPool::decode(crate::grpc::pb::FILE_DESCRIPTOR_SET).unwrap();
        assert!(RouteTable::from_pool(&served, "/api/v1").is_ok());
    }

    #[test]
    fn path_fields_are_checked() {
        let input = pool()
            .get_message_by_name("testing.v1.GetThingRequest")
            .unwrap();
        assert!(check_path_field(&input, "thing_id").is_ok());
        assert!(check_path_field(&input, "filter.label").is_ok());
        assert!(check_path_field(&input, "nope").is_err());
        assert!(check_path_field(&input, "filter").is_err());
        assert!(check_path_field(&input, "ids").is_err());
        assert!(check_path_field(&input, "thing_id.x").is_err());
    }
}
