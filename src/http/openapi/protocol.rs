//! The OpenAPI operations of the authorization server's protocol endpoints.
//! Their formats are fixed by RFC 6749, 7009, 7591, 7592, 7662, 8414, 9728
//! and OpenID Connect rather than by the proto, so they are described here,
//! beside the routes in `http::oauth`.

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
            401 => {
                "`invalid_client`: the client could not be authenticated (`invalid_token` at the registration endpoints)."
            }
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
        (
            "grant_type",
            "authorization_code, refresh_token or client_credentials.",
        ),
        ("code", "The authorization code."),
        (
            "redirect_uri",
            "The redirect URI of the authorization request.",
        ),
        ("code_verifier", "The PKCE verifier."),
        ("refresh_token", "The refresh token."),
        (
            "scope",
            "On refresh: a subset of the original scope; for client_credentials: among the client's.",
        ),
        (
            "resource",
            "RFC 8707: the resource server the access token is for (its audience).",
        ),
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
        "required": ["access_token", "token_type", "expires_in", "scope"],
        "properties": {
            "access_token": {"type": "string", "description": "A JWT (typ at+jwt) signed with a key of the JWK Set."},
            "token_type": {"const": "Bearer"},
            "expires_in": {"type": "integer"},
            "refresh_token": {"type": "string", "description": "For clients registered for the refresh_token grant (not for client_credentials)."},
            "scope": {"type": "string"},
            "id_token": {"type": "string", "description": "OpenID Connect ID token, when the scope has openid."},
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
            "resource",
            false,
            "RFC 8707: the resource server the token is for."
        ),
        query(
            "prompt",
            false,
            "OpenID Connect: none, login, consent or select_account."
        ),
        query(
            "max_age",
            false,
            "OpenID Connect: the oldest login accepted, in seconds."
        ),
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
    let mut userinfo = json!({
        "200": json_answer("The user's claims the token's scope releases (`sub` always; `profile`, `email`).",
            json!({"type": "object", "required": ["sub"], "properties": {"sub": {"type": "string"}}})),
    });
    for (status, description) in [
        (
            400,
            "`invalid_request`: the body is not a form, or two tokens were sent.",
        ),
        (
            401,
            "No token (`WWW-Authenticate: Bearer`), or `invalid_token`.",
        ),
        (403, "`insufficient_scope`: the token lacks `openid`."),
    ] {
        userinfo[status.to_string()] = json!({
            "description": description,
            "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
            "content": {"application/json": {"schema": {"type": "object", "required": ["error"]}}},
        });
    }
    for status in [413, 422, 500, 503] {
        userinfo[status.to_string()] = json!({"$ref": format!("#/components/responses/E{status}")});
    }
    let registration_body = json!({
        "required": true,
        "content": {"application/json": {"schema": {
            "type": "object",
            "description": "RFC 7591 client metadata.",
            "properties": {
                "redirect_uris": {"type": "array", "items": {"type": "string"}},
                "client_name": {"type": "string"},
                "client_uri": {"type": "string"},
                "token_endpoint_auth_method": {"enum": ["none", "client_secret_basic", "client_secret_post"]},
                "grant_types": {"type": "array", "items": {"enum": ["authorization_code", "refresh_token", "client_credentials"]}},
                "response_types": {"type": "array", "items": {"const": "code"}},
                "application_type": {"enum": ["web", "native"]},
                "scope": {"type": "string"},
                "client_id": {"type": "string", "description": "On replacement (RFC 7592): this client's id."},
            },
        }}},
    });
    let registration_errors = |success: (u16, Json)| {
        let mut answers = oauth_errors(&[400]);
        answers.insert(success.0.to_string(), success.1);
        answers.insert("401".to_owned(), json!({
            "description": "`invalid_token`: a missing or wrong initial or registration access token.",
            "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
            "content": {"application/json": {"schema": {"type": "object", "required": ["error"]}}},
        }));
        for status in [404, 422] {
            answers.insert(
                status.to_string(),
                json!({"$ref": format!("#/components/responses/E{status}")}),
            );
        }
        Json::Object(answers)
    };
    let client_document = json!({"type": "object", "required": ["client_id", "redirect_uris", "grant_types", "token_endpoint_auth_method", "registration_client_uri"]});
    let client_id_param = json!([{"name": "client_id", "in": "path", "required": true, "schema": {"type": "string"}}]);
    let metadata_answer = json!({"200": json_answer("The metadata document.", json!({"type": "object", "required": ["issuer"]}))});
    let resource_metadata = json!({"get": {
        "operationId": "OAuthProtocol_ResourceMetadata", "tags": tags,
        "summary": "The protected-resource metadata of identityd's API (RFC 9728).",
        "responses": {"200": json_answer("The metadata document.", json!({"type": "object", "required": ["resource", "authorization_servers"]}))},
    }});
    let mut resource_metadata_inserted = resource_metadata.clone();
    resource_metadata_inserted["get"]["operationId"] =
        json!("OAuthProtocol_ResourceMetadataOfPath");
    vec![
        (
            "/.well-known/openid-configuration".to_owned(),
            json!({"get": {
                "operationId": "OAuthProtocol_OpenidConfiguration", "tags": tags,
                "summary": "OpenID Connect discovery: the same metadata as RFC 8414's.",
                "responses": metadata_answer,
            }}),
        ),
        (
            "/.well-known/oauth-protected-resource".to_owned(),
            resource_metadata,
        ),
        (
            format!("/.well-known/oauth-protected-resource{api_prefix}"),
            resource_metadata_inserted,
        ),
        (
            format!("{base}/userinfo"),
            json!({
                "get": {"operationId": "OAuthProtocol_Userinfo", "tags": tags,
                        "summary": "OpenID Connect userinfo; the access token in `Authorization: Bearer`.",
                        "responses": userinfo},
                "post": {"operationId": "OAuthProtocol_UserinfoPost", "tags": tags,
                         "summary": "OpenID Connect userinfo; the access token in the header or the form.",
                         "requestBody": {"required": false, "content": {"application/x-www-form-urlencoded": {"schema": {
                             "type": "object", "properties": {"access_token": {"type": "string"}}}}}},
                         "responses": userinfo},
            }),
        ),
        (
            format!("{base}/register"),
            json!({"post": {
                "operationId": "OAuthProtocol_Register", "tags": tags,
                "summary": "Dynamic client registration (RFC 7591); 404 while OAUTH_REGISTRATION is off.",
                "requestBody": registration_body,
                "responses": registration_errors((201, json_answer("The registered client, with its secret and registration access token (shown once).", client_document.clone()))),
            }}),
        ),
        (
            format!("{base}/register/{{client_id}}"),
            json!({
                "get": {"operationId": "OAuthProtocol_ReadRegistration", "tags": tags,
                        "parameters": client_id_param,
                        "summary": "Reads a registration (RFC 7592) with its registration access token.",
                        "responses": registration_errors((200, json_answer("The client's metadata.", client_document.clone())))},
                "put": {"operationId": "OAuthProtocol_UpdateRegistration", "tags": tags,
                        "parameters": client_id_param,
                        "summary": "Replaces a registration's metadata (RFC 7592).",
                        "requestBody": registration_body,
                        "responses": registration_errors((200, json_answer("The client's metadata.", client_document)))},
                "delete": {"operationId": "OAuthProtocol_DeleteRegistration", "tags": tags,
                           "parameters": client_id_param,
                           "summary": "Deletes a registration and everything issued to it (RFC 7592).",
                           "responses": registration_errors((204, json!({"description": "Deleted."})))},
            }),
        ),
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
                "summary": "The public keys that verify access and ID tokens (JWK Set), the next key included.",
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
