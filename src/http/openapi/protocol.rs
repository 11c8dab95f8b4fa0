//! The OpenAPI operations of the authorization server's protocol endpoints.
//! Their formats are fixed by RFC 6749, 7009, 7662 and 8414 rather than by
//! the proto, so they are described here, beside the routes in
//! `http::oauth`.

use serde_json::{Map, Value as Json, json};

/// The OAuth error body (RFC 6749 §5.2, with the envelope beside it).
pub fn oauth_error_schema() -> Json {
    json!({
        "type": "object",
        "description": "An OAuth error: RFC 6749's members and the error envelope.",
        "required": ["error", "error_description", "success", "errors"],
        "properties": {
            "error": {"type": "string"},
            "error_description": {"type": "string"},
            "success": {"const": false},
            "errors": {"$ref": "#/components/schemas/ErrorResponse/properties/errors"},
        },
    })
}

fn oauth_errors(statuses: &[u16]) -> Map<String, Json> {
    let mut out = Map::new();
    for status in statuses {
        let description = match status {
            400 => "An OAuth error (`invalid_request`, `invalid_grant`, …).",
            401 => "`invalid_client`: the client could not be authenticated.",
            422 => "A parameter is malformed (`invalid_request`).",
            _ => "An error.",
        };
        let mut answer = json!({
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OAuthError"}}},
        });
        if *status == 401 {
            answer["headers"] = json!({"WWW-Authenticate": {"schema": {"type": "string"}}});
        }
        out.insert(status.to_string(), answer);
    }
    for status in [413, 500, 503] {
        out.insert(
            status.to_string(),
            json!({"$ref": format!("#/components/responses/E{status}")}),
        );
    }
    out
}

fn form_body(fields: &[(&str, &str)], required: &[&str]) -> Json {
    let properties: Map<String, Json> = fields
        .iter()
        .map(|(name, description)| {
            (
                (*name).to_owned(),
                json!({"type": "string", "description": description}),
            )
        })
        .collect();
    json!({
        "required": true,
        "content": {"application/x-www-form-urlencoded": {"schema": {
            "type": "object", "properties": properties, "required": required,
        }}},
    })
}

fn client_auth_fields() -> Vec<(&'static str, &'static str)> {
    vec![
        ("client_id", "Public clients, and client_secret_post."),
        ("client_secret", "client_secret_post (or use HTTP Basic)."),
    ]
}

fn json_answer(description: &str, schema: Json) -> Json {
    json!({"description": description, "content": {"application/json": {"schema": schema}}})
}

fn redirect_answer(description: &str) -> Json {
    json!({"description": description, "headers": {"Location": {"schema": {"type": "string"}}}})
}

fn html_answer(description: &str) -> Json {
    json!({"description": description, "content": {"text/html": {"schema": {"type": "string"}}}})
}

fn query(name: &str, required: bool, description: &str) -> Json {
    json!({"name": name, "in": "query", "required": required,
           "schema": {"type": "string"}, "description": description})
}

/// Operations by path (with `api_prefix` applied).
pub fn paths(api_prefix: &str) -> Vec<(String, Json)> {
    let base = format!("{api_prefix}/oauth/provider");
    let tags = json!(["OAuthProtocol"]);
    let token_fields: Vec<(&str, &str)> = [
        ("grant_type", "authorization_code or refresh_token."),
        ("code", "The authorization code."),
        (
            "redirect_uri",
            "The redirect URI of the authorization request.",
        ),
        ("code_verifier", "The PKCE verifier."),
        ("refresh_token", "The refresh token."),
        ("scope", "On refresh: a subset of the original scope."),
    ]
    .into_iter()
    .chain(client_auth_fields())
    .collect();
    let token_fields_revoke: Vec<(&str, &str)> = [
        ("token", "The token."),
        ("token_type_hint", "access_token or refresh_token."),
    ]
    .into_iter()
    .chain(client_auth_fields())
    .collect();
    let mut authorize_errors = oauth_errors(&[400, 422]);
    authorize_errors.insert("302".to_owned(), redirect_answer("To the login or consent page, or back to the client with `code` and `state` or an error."));
    let mut login_get = oauth_errors(&[400, 422]);
    login_get.insert("200".to_owned(), html_answer("The login form."));
    login_get.insert(
        "303".to_owned(),
        redirect_answer("Already signed in: back to authorize."),
    );
    let mut login_post = oauth_errors(&[400, 422]);
    login_post.insert(
        "303".to_owned(),
        redirect_answer("Signed in (sets the `as_session` cookie): back to authorize."),
    );
    for status in [401, 403] {
        login_post.insert(
            status.to_string(),
            json!({"$ref": format!("#/components/responses/E{status}")}),
        );
    }
    let mut consent_get = oauth_errors(&[400, 422]);
    consent_get.insert("200".to_owned(), html_answer("The consent form."));
    consent_get.insert(
        "303".to_owned(),
        redirect_answer("Not signed in: to the login page."),
    );
    let mut consent_post = oauth_errors(&[400, 422]);
    consent_post.insert(
        "302".to_owned(),
        redirect_answer("Back to the client with `code` and `state`, or `access_denied`."),
    );
    for status in [401, 403] {
        consent_post.insert(
            status.to_string(),
            json!({"$ref": format!("#/components/responses/E{status}")}),
        );
    }
    let mut token = oauth_errors(&[400, 401]);
    token.insert("200".to_owned(), json_answer("A token pair.", json!({
        "type": "object",
        "required": ["access_token", "token_type", "expires_in", "refresh_token", "scope"],
        "properties": {
            "access_token": {"type": "string", "description": "A JWT (typ at+jwt) signed with a key of the JWK Set."},
            "token_type": {"const": "Bearer"},
            "expires_in": {"type": "integer"},
            "refresh_token": {"type": "string"},
            "scope": {"type": "string"},
        },
    })));
    let mut revoke = oauth_errors(&[400, 401]);
    revoke.insert(
        "200".to_owned(),
        json_answer(
            "Revoked (or nothing to revoke).",
            json!({
                "type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}},
            }),
        ),
    );
    let mut introspect = oauth_errors(&[400, 401]);
    introspect.insert("200".to_owned(), json_answer("RFC 7662: exactly `{\"active\": false}`, or the active token's members.", json!({
        "type": "object", "required": ["active"], "properties": {"active": {"type": "boolean"}},
    })));
    let authorize_params = json!([
        query("response_type", false, "Must be `code`."),
        query("client_id", false, "The client."),
        query(
            "redirect_uri",
            false,
            "Exactly one of the client's redirect URIs."
        ),
        query("scope", false, "Space-separated scopes."),
        query("state", false, "Returned unchanged."),
        query(
            "code_challenge",
            false,
            "PKCE S256 challenge (required for public clients)."
        ),
        query("code_challenge_method", false, "`S256`."),
        query("nonce", false, "OpenID nonce."),
        query(
            "request_id",
            false,
            "A pending request (replaces the others)."
        ),
    ]);
    let request_id = json!([query(
        "request_id",
        true,
        "The pending authorization request."
    )]);
    vec![
        (
            "/.well-known/oauth-authorization-server".to_owned(),
            json!({"get": {
                "operationId": "OAuthProtocol_Metadata", "tags": tags,
                "summary": "The authorization server's metadata (RFC 8414).",
                "responses": {"200": json_answer("The metadata document.", json!({"type": "object", "required": ["issuer"]}))},
            }}),
        ),
        (
            "/.well-known/jwks.json".to_owned(),
            json!({"get": {
                "operationId": "OAuthProtocol_Jwks", "tags": tags,
                "summary": "The public keys that verify access tokens (JWK Set).",
                "responses": {"200": json_answer("The JWK Set.", json!({"type": "object", "required": ["keys"]}))},
            }}),
        ),
        (
            format!("{base}/authorize"),
            json!({"get": {
                "operationId": "OAuthProtocol_Authorize", "tags": tags,
                "summary": "Starts an authorization code flow with PKCE (RFC 6749 §4.1, RFC 7636).",
                "parameters": authorize_params, "responses": authorize_errors,
            }}),
        ),
        (
            format!("{base}/authorize/login"),
            json!({
                "get": {"operationId": "OAuthProtocol_LoginPage", "tags": tags,
                        "summary": "The login page of a pending request.",
                        "parameters": request_id, "responses": login_get},
                "post": {"operationId": "OAuthProtocol_Login", "tags": tags,
                         "summary": "Signs in from the login page (CSRF-protected).",
                         "requestBody": form_body(&[("email", "Email."), ("password", "Password."),
                            ("request_id", "The pending request."), ("csrf_token", "From the form.")],
                            &["email", "password", "request_id", "csrf_token"]),
                         "responses": login_post},
            }),
        ),
        (
            format!("{base}/authorize/consent"),
            json!({
                "get": {"operationId": "OAuthProtocol_ConsentPage", "tags": tags,
                        "summary": "The consent page of a pending request.",
                        "parameters": request_id, "responses": consent_get},
                "post": {"operationId": "OAuthProtocol_Consent", "tags": tags,
                         "summary": "Approves or denies a request (cookie with CSRF token, or a bearer token).",
                         "requestBody": form_body(&[("approved", "true or false."), ("client_id", "The client."),
                            ("redirect_uri", "The request's redirect URI."), ("scope", "Approved scopes (a subset)."),
                            ("state", "The request's state."), ("code_challenge", "The request's challenge."),
                            ("code_challenge_method", "S256."), ("nonce", "The request's nonce."),
                            ("request_id", "The pending request."), ("csrf_token", "From the form.")],
                            &["approved", "client_id", "redirect_uri"]),
                         "responses": consent_post},
            }),
        ),
        (
            format!("{base}/token"),
            json!({"post": {
                "operationId": "OAuthProtocol_Token", "tags": tags,
                "summary": "Exchanges a code or a refresh token for tokens (RFC 6749 §4.1.3, §6).",
                "requestBody": form_body(&token_fields, &["grant_type"]), "responses": token,
            }}),
        ),
        (
            format!("{base}/revoke"),
            json!({"post": {
                "operationId": "OAuthProtocol_Revoke", "tags": tags,
                "summary": "Revokes a token (RFC 7009).",
                "requestBody": form_body(&token_fields_revoke, &["token"]), "responses": revoke,
            }}),
        ),
        (
            format!("{base}/introspect"),
            json!({"post": {
                "operationId": "OAuthProtocol_Introspect", "tags": tags,
                "summary": "Reports whether a token is active (RFC 7662).",
                "requestBody": form_body(&token_fields_revoke, &["token"]), "responses": introspect,
            }}),
        ),
    ]
}
