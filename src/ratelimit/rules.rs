//! The per-route limits (docs/security.md#rate-limits), in one table, and
//! how a request finds its rule: REST and OAuth requests by method and path
//! template, gRPC calls by the route their method is bound to, so a route
//! has one budget whatever the transport.

use std::collections::HashMap;

use http::Method;

/// (method, path under the API prefix, requests per minute).
const TABLE: &[(&str, &str, u32)] = &[
    ("POST", "/auth/register", 5),
    ("POST", "/auth/login", 10),
    ("POST", "/auth/login/oauth", 10),
    ("POST", "/auth/refresh", 30),
    ("POST", "/auth/password-reset/request", 3),
    ("POST", "/auth/password-reset/confirm", 5),
    ("POST", "/auth/logout", 10),
    ("POST", "/auth/logout-all", 5),
    ("GET", "/oauth/authorize/{provider}", 10),
    ("POST", "/oauth/callback/{provider}", 10),
    ("POST", "/oauth/link/{provider}", 10),
    ("DELETE", "/oauth/accounts/{provider}", 5),
    ("GET", "/oauth/provider/authorize", 30),
    ("GET", "/oauth/provider/authorize/login", 30),
    ("POST", "/oauth/provider/authorize/login", 10),
    ("GET", "/oauth/provider/authorize/consent", 30),
    ("POST", "/oauth/provider/authorize/consent", 30),
    ("POST", "/oauth/provider/token", 60),
    ("POST", "/oauth/provider/revoke", 30),
    ("POST", "/oauth/provider/introspect", 120),
    ("GET", "/oauth/provider/userinfo", 120),
    ("POST", "/oauth/provider/userinfo", 120),
    ("POST", "/oauth/provider/register", 10),
    ("GET", "/oauth/provider/register/{client_id}", 30),
    ("PUT", "/oauth/provider/register/{client_id}", 10),
    ("DELETE", "/oauth/provider/register/{client_id}", 10),
    ("PATCH", "/users/me/password", 5),
    ("GET", "/sessions/me", 30),
    ("DELETE", "/sessions/{session_id}", 10),
    ("DELETE", "/sessions/me/expired", 5),
];

/// One limited route.
#[derive(Debug, Clone)]
pub struct Rule {
    method: Method,
    /// The template with the API prefix, e.g. `/api/v1/sessions/{session_id}`.
    template: String,
    /// `None` for a variable segment.
    segments: Vec<Option<String>>,
    /// Requests per minute before the multiplier.
    pub per_minute: u32,
}

impl Rule {
    fn matches(&self, method: &Method, path: &str) -> bool {
        let method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        if *method != self.method {
            return false;
        }
        let mut parts = path.strip_prefix('/').unwrap_or(path).split('/');
        let segments_match = self
            .segments
            .iter()
            .all(|segment| match (segment, parts.next()) {
                (Some(literal), Some(part)) => literal == part,
                (None, Some(part)) => !part.is_empty(),
                (_, None) => false,
            });
        segments_match && parts.next().is_none()
    }

    /// `METHOD template`, as metrics label it.
    pub fn label(&self) -> String {
        format!("{} {}", self.method, self.template)
    }

    /// The counter key of this route for a client network.
    pub fn key(&self, client: &str) -> String {
        format!("rl:{} {}:{client}", self.method, self.template)
    }
}

/// Every rule, and the rule of each bound gRPC method.
#[derive(Debug, Default)]
pub struct Rules {
    rules: Vec<Rule>,
    grpc: HashMap<String, usize>,
}

impl Rules {
    /// The table under `api_prefix`; `bindings` are the REST bindings of the
    /// gRPC methods as (gRPC path, method, template with the prefix).
    pub fn new<'a>(
        api_prefix: &str,
        bindings: impl IntoIterator<Item = (&'a str, &'a Method, &'a str)>,
    ) -> Self {
        let rules: Vec<Rule> = TABLE
            .iter()
            .map(|(method, path, per_minute)| {
                let template = format!("{api_prefix}{path}");
                let segments = template
                    .trim_start_matches('/')
                    .split('/')
                    .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
                    .collect();
                Rule {
                    method: method.parse().unwrap_or(Method::GET),
                    template,
                    segments,
                    per_minute: *per_minute,
                }
            })
            .collect();
        let grpc = bindings
            .into_iter()
            .filter_map(|(grpc_path, method, template)| {
                let index = rules
                    .iter()
                    .position(|r| r.method == *method && r.template == template)?;
                Some((grpc_path.to_owned(), index))
            })
            .collect();
        Self { rules, grpc }
    }

    /// The rule of a REST or OAuth request.
    pub fn for_http(&self, method: &Method, path: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.matches(method, path))
    }

    /// The rule of a gRPC call.
    pub fn for_grpc(&self, grpc_path: &str) -> Option<&Rule> {
        self.grpc.get(grpc_path).map(|i| &self.rules[*i])
    }

    /// How many gRPC methods are limited (start-up check).
    pub fn grpc_bound(&self) -> usize {
        self.grpc.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_find_their_route_and_only_it() {
        let login = Method::POST;
        let bindings = [(
            "/identity.v1.AuthService/Login",
            &login,
            "/api/v1/auth/login",
        )];
        let rules = Rules::new("/api/v1", bindings);
        let rule = rules.for_http(&Method::POST, "/api/v1/auth/login").unwrap();
        assert_eq!(rule.per_minute, 10);
        assert_eq!(
            rules
                .for_grpc("/identity.v1.AuthService/Login")
                .unwrap()
                .key("1.2.3.4"),
            rule.key("1.2.3.4")
        );
        let oauth = rules
            .for_http(&Method::POST, "/api/v1/auth/login/oauth")
            .unwrap();
        assert_ne!(oauth.key("x"), rule.key("x"), "separate budgets");
        assert!(rules.for_http(&Method::GET, "/api/v1/auth/login").is_none());
        assert!(
            rules
                .for_http(&Method::POST, "/api/v1/auth/login/x")
                .is_none()
        );
        let expired = rules
            .for_http(&Method::DELETE, "/api/v1/sessions/me/expired")
            .unwrap();
        assert_eq!(expired.per_minute, 5);
        let one = rules
            .for_http(&Method::DELETE, "/api/v1/sessions/abc")
            .unwrap();
        assert_eq!(one.per_minute, 10);
        assert!(
            rules
                .for_http(&Method::DELETE, "/api/v1/sessions/")
                .is_none()
        );
        let head = rules
            .for_http(&Method::HEAD, "/api/v1/sessions/me")
            .unwrap();
        assert_eq!(head.per_minute, 30);
    }
}
