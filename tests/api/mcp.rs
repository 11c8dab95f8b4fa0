//! identityd as an MCP client meets it: an unauthenticated call answers
//! 401 naming the protected-resource metadata (RFC 9728); from there the
//! client finds the authorization server, registers (RFC 7591), authorizes
//! with a resource indicator (RFC 8707), and calls identityd's own API over
//! REST and gRPC with an audience-bound token, which scopes limit; then it
//! refreshes and revokes. Also RFC 7592 management and client_credentials.

use identityd::grpc::pb;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, PkceCodeChallenge, RedirectUrl, RefreshToken,
    Scope, TokenResponse as _, TokenUrl,
};
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{TestApp, reason, with_bearer};
use crate::oauth_provider::{
    Browser, NATIVE_REDIRECT, authorize_as, authorize_in_browser, http_client, query_of,
};
use crate::oidc::{API, payload};

/// The `key="value"` parameters of a `WWW-Authenticate: Bearer` challenge.
fn challenge(header: &str) -> std::collections::HashMap<String, String> {
    let params = header.strip_prefix("Bearer").unwrap().trim();
    regex::Regex::new(r#"([a-z_]+)="([^"]*)""#)
        .unwrap()
        .captures_iter(params)
        .map(|c| (c[1].to_owned(), c[2].to_owned()))
        .collect()
}

/// Discovery, registration and authorization as an MCP client does it,
/// knowing only the API's URL; returns the token response, the client id
/// and the resource.
async fn connect(
    app: &TestApp,
    email: &str,
    password: &str,
    scopes: &[&str],
) -> (oauth2::basic::BasicTokenResponse, String, String) {
    // 1. The API refuses, naming its metadata.
    let refused = app.send(app.http.get(app.url("/api/v1/users/me"))).await;
    assert_eq!(refused.status, 401);
    let params = challenge(refused.header("www-authenticate").unwrap());
    let prm_url = params["resource_metadata"].clone();
    assert_eq!(
        prm_url,
        app.url("/.well-known/oauth-protected-resource/api/v1")
    );
    // 2. The resource's metadata names the authorization server.
    let prm = app.send(app.http.get(&prm_url)).await.body;
    let resource = prm["resource"].as_str().unwrap().to_owned();
    let issuer = prm["authorization_servers"][0].as_str().unwrap().to_owned();
    // 3. The authorization server's metadata (RFC 8414).
    let metadata = app
        .send(
            app.http
                .get(format!("{issuer}/.well-known/oauth-authorization-server")),
        )
        .await
        .body;
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        json!(["S256"])
    );
    // 4. Registration: a public native client on loopback.
    let registered = app
        .send(
            app.http
                .post(metadata["registration_endpoint"].as_str().unwrap())
                .json(&json!({
                    "client_name": "Demo <App>",
                    "application_type": "native",
                    "redirect_uris": [NATIVE_REDIRECT],
                    "token_endpoint_auth_method": "none",
                    "grant_types": ["authorization_code", "refresh_token"],
                    "scope": "openid read:users write:users read:organizations admin",
                })),
        )
        .await;
    assert_eq!(registered.status, 201, "{}", registered.body);
    assert!(registered.body.get("client_secret").is_none());
    let client_id = registered.body["client_id"].as_str().unwrap().to_owned();
    // 5. Authorization code with PKCE and the resource (oauth2 crate).
    let client = BasicClient::new(ClientId::new(client_id.clone()))
        .set_auth_uri(
            AuthUrl::new(
                metadata["authorization_endpoint"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
            .unwrap(),
        )
        .set_token_uri(
            TokenUrl::new(metadata["token_endpoint"].as_str().unwrap().to_owned()).unwrap(),
        )
        .set_redirect_uri(RedirectUrl::new(NATIVE_REDIRECT.to_owned()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge)
        .add_extra_param("resource", &resource);
    for scope in scopes {
        request = request.add_scope(Scope::new((*scope).to_owned()));
    }
    let (url, _) = request.url();
    let back = authorize_as(app, &Browser::new(), url.as_str(), email, password, true).await;
    let params = query_of(&back);
    assert_eq!(params["iss"], issuer);
    let tokens = client
        .exchange_code(AuthorizationCode::new(params["code"].clone()))
        .set_pkce_verifier(verifier)
        .add_extra_param("resource", &resource)
        .request_async(&http_client())
        .await
        .unwrap();
    (tokens, client_id, resource)
}

db_test!(an_mcp_client_goes_from_the_api_url_to_an_api_call, env: [("OAUTH_PROVIDER_ENABLED", "true"), ("OAUTH_REGISTRATION", "open")], |app| {
    app.register("ada@example.com").await;
    let (tokens, client_id, resource) =
        connect(&app, "ada@example.com", crate::helpers::PASSWORD, &["read:users"]).await;
    let access = tokens.access_token().secret().clone();
    let claims = payload(&access);
    assert_eq!(claims["aud"], resource);
    assert_eq!(claims["client_id"], client_id);
    // Neither email nor profile was granted: the token does not carry them.
    assert!(claims.get("email").is_none() && claims.get("name").is_none(), "{claims}");
    // REST and gRPC accept it for a read:users method.
    let me = app.get_auth("/api/v1/users/me", &access).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["email"], "ada@example.com");
    let mut users = app.user_client().await;
    let grpc_me = users.get_me(with_bearer(pb::GetMeRequest {}, &access)).await.unwrap();
    assert_eq!(grpc_me.into_inner().email, "ada@example.com");
    // A method that needs write:users: 403 naming the scope.
    let write = app
        .call("PATCH", "/api/v1/users/me", Some(&access), Some(json!({"first_name": "Eve"})))
        .await;
    assert_eq!(write.status, 403, "{}", write.body);
    let params = challenge(write.header("www-authenticate").unwrap());
    assert_eq!(params["error"], "insufficient_scope");
    assert_eq!(params["scope"], "write:users");
    assert!(params["resource_metadata"].ends_with("/.well-known/oauth-protected-resource/api/v1"));
    let status = users
        .update_me(with_bearer(pb::UpdateMeRequest::default(), &access))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    assert!(status.metadata().get("www-authenticate").unwrap().to_str().unwrap().contains("write:users"));
    // Methods no scope reaches (sessions, password, auth): 403 too.
    let sessions = app.get_auth("/api/v1/sessions/me", &access).await;
    assert_eq!(sessions.status, 403);
    assert_eq!(challenge(sessions.header("www-authenticate").unwrap())["error"], "insufficient_scope");
    let password = app
        .call("PATCH", "/api/v1/users/me/password", Some(&access), Some(json!({})))
        .await;
    assert_eq!(password.status, 403);
    // The token does not stand for the user at the authorize endpoint.
    let browser = Browser::new();
    let first = browser.get(&format!(
        "{}?response_type=code&client_id={client_id}&redirect_uri={NATIVE_REDIRECT}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        app.url(&format!("{API}/authorize"))
    )).await;
    assert!(first.headers()["location"].to_str().unwrap().contains("/authorize/login"));
    // Refresh keeps the audience; the old access token stays valid until
    // revoked or expired, the new one works.
    let refreshed = BasicClient::new(ClientId::new(client_id.clone()))
        .set_token_uri(TokenUrl::new(app.url(&format!("{API}/token"))).unwrap())
        .exchange_refresh_token(&RefreshToken::new(tokens.refresh_token().unwrap().secret().clone()))
        .request_async(&http_client())
        .await
        .unwrap();
    let renewed = refreshed.access_token().secret().clone();
    assert_eq!(payload(&renewed)["aud"], resource);
    assert_eq!(app.get_auth("/api/v1/users/me", &renewed).await.status, 200);
    // Revocation: the token stops working at the API at once.
    let revoked = app
        .send(app.http.post(app.url(&format!("{API}/revoke"))).form(&[
            ("token", renewed.as_str()),
            ("client_id", client_id.as_str()),
        ]))
        .await;
    assert_eq!(revoked.status, 200);
    let after = app.get_auth("/api/v1/users/me", &renewed).await;
    assert_eq!(after.status, 401);
    let params = challenge(after.header("www-authenticate").unwrap());
    assert_eq!(params["error"], "invalid_token");
    // A client that registered itself may introspect only its own tokens.
    let nosy = app
        .post(&format!("{API}/register"), json!({"redirect_uris": ["https://nosy.example/cb"]}))
        .await;
    assert_eq!(nosy.status, 201, "{}", nosy.body);
    let seen = app
        .send(
            app.http
                .post(app.url(&format!("{API}/introspect")))
                .basic_auth(
                    nosy.body["client_id"].as_str().unwrap(),
                    nosy.body["client_secret"].as_str(),
                )
                .form(&[("token", access.as_str())]),
        )
        .await;
    assert_eq!(seen.body, json!({"active": false}));
    // Open registration does not mint machine identities.
    let machine = app
        .post(
            &format!("{API}/register"),
            json!({"grant_types": ["client_credentials"], "scope": "read:users"}),
        )
        .await;
    assert_eq!(machine.status, 400);
    assert_eq!(machine.body["error"], "invalid_client_metadata");
    // Deactivating the user ends every token.
    let root = app.superuser().await;
    let id = me.body["id"].as_str().unwrap();
    let deactivated = app.call("POST", &format!("/api/v1/admin/users/{id}/deactivate"), Some(&root), None).await;
    assert_eq!(deactivated.status, 200, "{}", deactivated.body);
    assert_eq!(app.get_auth("/api/v1/users/me", &access).await.status, 401);
});

db_test!(scopes_reach_only_their_methods, env: [("OAUTH_PROVIDER_ENABLED", "true"), ("OAUTH_REGISTRATION", "open")], |app| {
    // A superuser's token with admin reaches the admin API; without it,
    // not even a superuser's token does.
    let (tokens, _, _) =
        connect(&app, "root@identityd.test", "Root-Password-123!", &["admin", "read:organizations"]).await;
    let access = tokens.access_token().secret().clone();
    let users = app.get_auth("/api/v1/admin/users", &access).await;
    assert_eq!(users.status, 200, "{}", users.body);
    let orgs = app.get_auth("/api/v1/organizations/me", &access).await;
    assert_eq!(orgs.status, 200, "{}", orgs.body);
    let (narrow, _, _) =
        connect(&app, "root@identityd.test", "Root-Password-123!", &["read:users"]).await;
    let narrow = narrow.access_token().secret().clone();
    let refused = app.get_auth("/api/v1/admin/users", &narrow).await;
    assert_eq!(refused.status, 403);
    assert_eq!(challenge(refused.header("www-authenticate").unwrap())["scope"], "admin");
    // Without admin, a superuser's delegated token has a member's powers:
    // no list of every user, no other user's record.
    app.register("ada@example.com").await;
    let ada = app.login("ada@example.com", crate::helpers::PASSWORD).await;
    let ada_id = ada["user"]["id"].as_str().unwrap();
    let everyone = app.get_auth("/api/v1/users", &narrow).await;
    assert_eq!(everyone.status, 403, "{}", everyone.body);
    let other = app.get_auth(&format!("/api/v1/users/{ada_id}"), &narrow).await;
    assert_eq!(other.status, 403, "{}", other.body);
    assert_eq!(app.get_auth("/api/v1/users/me", &narrow).await.status, 200);
    let (wide, _, _) =
        connect(&app, "root@identityd.test", "Root-Password-123!", &["read:users", "admin"]).await;
    let wide = wide.access_token().secret().clone();
    assert_eq!(app.get_auth("/api/v1/users", &wide).await.status, 200);
    assert_eq!(app.get_auth(&format!("/api/v1/users/{ada_id}"), &wide).await.status, 200);
    // admin does not make a user a superuser.
    let (member, _, _) = connect(&app, "ada@example.com", crate::helpers::PASSWORD, &["admin"]).await;
    let member_admin = app.get_auth("/api/v1/admin/users", member.access_token().secret()).await;
    assert_eq!(member_admin.status, 403);
    assert!(member_admin.header("www-authenticate").is_none());
});

db_test!(resource_indicators_bind_the_audience, env: [("OAUTH_PROVIDER_ENABLED", "true"), ("OAUTH_REGISTRATION", "open"), ("OAUTH_RESOURCES", "https://mcp.example.com/mcp")], |app| {
    app.register("ada@example.com").await;
    let registered = app.post(&format!("{API}/register"), json!({
        "client_name": "Demo <App>",
        "redirect_uris": [NATIVE_REDIRECT],
        "application_type": "native",
        "token_endpoint_auth_method": "none",
        "scope": "read:users",
    })).await;
    let client_id = registered.body["client_id"].as_str().unwrap().to_owned();
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let authorize = |resource: &str| {
        identityd::domain::oauth::with_query(
            &app.url(&format!("{API}/authorize")),
            &[
                ("response_type", "code"),
                ("client_id", client_id.as_str()),
                ("redirect_uri", NATIVE_REDIRECT),
                ("state", "s1"),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
                ("resource", resource),
            ],
        )
    };
    // An unknown resource, and one that is not a URI: invalid_target at
    // the client's redirect.
    for bad in ["https://elsewhere.example/api", "not a uri", "https://mcp.example.com/mcp#x"] {
        let back = authorize_in_browser(&app, &Browser::new(), &authorize(bad), "ada@example.com", true).await;
        let params = query_of(&back);
        assert_eq!(params["error"], "invalid_target", "{bad}: {back}");
        assert_eq!(params["state"], "s1");
        assert!(params.contains_key("iss"));
    }
    // A configured resource server: the token's audience is it, and
    // identityd's API refuses the token.
    let back = authorize_in_browser(&app, &Browser::new(), &authorize("https://mcp.example.com/mcp"), "ada@example.com", true).await;
    let code = query_of(&back)["code"].clone();
    let exchange = |code: String, resource: Option<&'static str>| {
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code),
            ("redirect_uri", NATIVE_REDIRECT.to_owned()),
            ("code_verifier", verifier.secret().clone()),
            ("client_id", client_id.clone()),
        ];
        if let Some(resource) = resource {
            form.push(("resource", resource.to_owned()));
        }
        app.send(app.http.post(app.url(&format!("{API}/token"))).form(&form))
    };
    let mismatch = exchange(code, Some("https://elsewhere.example/api")).await;
    assert_eq!(mismatch.status, 400);
    assert_eq!(mismatch.body["error"], "invalid_target");
    // The code was spent by that attempt: a new one, exchanged without
    // repeating the resource, keeps the grant's.
    let back = authorize_in_browser(&app, &Browser::new(), &authorize("https://mcp.example.com/mcp"), "ada@example.com", true).await;
    let answer = exchange(query_of(&back)["code"].clone(), None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let access = answer.body["access_token"].as_str().unwrap();
    assert_eq!(payload(access)["aud"], "https://mcp.example.com/mcp");
    let refused = app.get_auth("/api/v1/users/me", access).await;
    assert_eq!(refused.status, 401);
    assert!(refused.header("www-authenticate").unwrap().contains("invalid_token"));
    // Refreshing toward another resource is refused.
    let other = app.send(app.http.post(app.url(&format!("{API}/token"))).form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", answer.body["refresh_token"].as_str().unwrap_or_default()),
        ("client_id", client_id.as_str()),
        ("resource", "http://127.0.0.1/api/v1"),
    ])).await;
    assert_eq!(other.status, 400, "{}", other.body);
    // No resource at all: the audience is the client, and the API refuses.
    let back = authorize_in_browser(&app, &Browser::new(), &identityd::domain::oauth::with_query(
        &app.url(&format!("{API}/authorize")),
        &[("response_type", "code"), ("client_id", client_id.as_str()), ("redirect_uri", NATIVE_REDIRECT),
          ("code_challenge", challenge.as_str()), ("code_challenge_method", "S256")],
    ), "ada@example.com", true).await;
    let plain = exchange(query_of(&back)["code"].clone(), None).await;
    let plain = plain.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(payload(&plain)["aud"], client_id);
    assert_eq!(app.get_auth("/api/v1/users/me", &plain).await.status, 401);
});

async fn register_with(
    app: &TestApp,
    token: Option<&str>,
    document: Value,
) -> crate::helpers::Answer {
    let mut request = app
        .http
        .post(app.url(&format!("{API}/register")))
        .json(&document);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    app.send(request).await
}

const INITIAL_TOKEN: &str = "initial-access-token-0123456789abcdef";

db_test!(registration_with_an_initial_access_token_and_rfc7592, env: [("OAUTH_PROVIDER_ENABLED", "true"), ("OAUTH_REGISTRATION", "token"), ("OAUTH_REGISTRATION_INITIAL_TOKEN", "initial-access-token-0123456789abcdef")], |app| {
    let document = json!({
        "client_name": "Machine",
        "redirect_uris": ["https://app.example.com/callback"],
        "grant_types": ["authorization_code", "client_credentials"],
        "scope": "read:users",
    });
    for token in [None, Some("wrong"), Some("")] {
        let refused = register_with(&app, token, document.clone()).await;
        assert_eq!(refused.status, 401, "{token:?}");
        assert_eq!(refused.body["error"], "invalid_token");
    }
    let bad = register_with(&app, Some(INITIAL_TOKEN), json!({"redirect_uris": ["javascript:x"]})).await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.body["error"], "invalid_redirect_uri");
    let not_json = app.send(app.http.post(app.url(&format!("{API}/register"))).bearer_auth(INITIAL_TOKEN).body("x")).await;
    assert_eq!(not_json.status, 400);
    let created = register_with(&app, Some(INITIAL_TOKEN), document.clone()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.header("cache-control"), Some("no-store"));
    let client_id = created.body["client_id"].as_str().unwrap().to_owned();
    let secret = created.body["client_secret"].as_str().unwrap().to_owned();
    let registration = created.body["registration_access_token"].as_str().unwrap().to_owned();
    let config_url = created.body["registration_client_uri"].as_str().unwrap().to_owned();
    assert_eq!(config_url, app.url(&format!("{API}/register/{client_id}")));
    assert_eq!(created.body["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(created.body["client_secret_expires_at"], 0);
    // Read with the registration token; any other token is refused alike.
    let read = app.send(app.http.get(&config_url).bearer_auth(&registration)).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["client_name"], "Machine");
    assert!(read.body.get("client_secret").is_none());
    for token in [INITIAL_TOKEN, secret.as_str(), "x"] {
        assert_eq!(app.send(app.http.get(&config_url).bearer_auth(token)).await.status, 401);
    }
    let unknown = app.send(app.http.get(app.url(&format!("{API}/register/nobody"))).bearer_auth(&registration)).await;
    assert_eq!(unknown.status, 401);
    // client_credentials: a machine token, no refresh token, scopes bound.
    let machine = app.send(app.http.post(app.url(&format!("{API}/token")))
        .basic_auth(&client_id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])).await;
    assert_eq!(machine.status, 200, "{}", machine.body);
    assert_eq!(machine.body["scope"], "read:users");
    assert!(machine.body.get("refresh_token").is_none());
    let token = machine.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(payload(&token)["sub"], client_id);
    let too_much = app.send(app.http.post(app.url(&format!("{API}/token")))
        .basic_auth(&client_id, Some(&secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "admin")])).await;
    assert_eq!(too_much.body["error"], "invalid_scope");
    // A resource server introspects it as active; identityd's API, which
    // acts for users, does not take it.
    let introspected = app.send(app.http.post(app.url(&format!("{API}/introspect")))
        .basic_auth(&client_id, Some(&secret))
        .form(&[("token", token.as_str())])).await;
    assert_eq!(introspected.body["active"], true, "{}", introspected.body);
    assert_eq!(introspected.body["client_id"], client_id);
    assert_eq!(app.get_auth("/api/v1/users/me", &token).await.status, 401);
    // Replace the metadata (RFC 7592 §2.2): without client_credentials the
    // grant is refused and its tokens are no longer active.
    let mut replaced = document.clone();
    replaced["client_id"] = json!(client_id);
    replaced["client_name"] = json!("Renamed");
    replaced["grant_types"] = json!(["authorization_code"]);
    let put = app.send(app.http.put(&config_url).bearer_auth(&registration).json(&replaced)).await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.body["client_name"], "Renamed");
    let again = app.send(app.http.post(app.url(&format!("{API}/token")))
        .basic_auth(&client_id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])).await;
    assert_eq!(again.body["error"], "unauthorized_client", "{}", again.body);
    let inactive = app.send(app.http.post(app.url(&format!("{API}/introspect")))
        .basic_auth(&client_id, Some(&secret))
        .form(&[("token", token.as_str())])).await;
    assert_eq!(inactive.body, json!({"active": false}));
    // A document naming another client is refused.
    let mut foreign = replaced.clone();
    foreign["client_id"] = json!("someone-else");
    assert_eq!(app.send(app.http.put(&config_url).bearer_auth(&registration).json(&foreign)).await.status, 400);
    // Delete: the client is gone.
    let deleted = app.send(app.http.delete(&config_url).bearer_auth(&registration)).await;
    assert_eq!(deleted.status, 204);
    assert_eq!(app.send(app.http.get(&config_url).bearer_auth(&registration)).await.status, 401);
    let gone = app.send(app.http.post(app.url(&format!("{API}/token")))
        .basic_auth(&client_id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])).await;
    assert_eq!(gone.status, 401);
});

db_test!(client_credentials_for_managed_clients, env: [("OAUTH_PROVIDER_ENABLED", "true")], |app| {
    let machine = crate::oauth_provider::register(&app, "confidential", "https://app.example.com/callback", "read:users read:organizations openid").await;
    let public = crate::oauth_provider::register(&app, "public", NATIVE_REDIRECT, "read:users").await;
    let token_url = app.url(&format!("{API}/token"));
    let answer = app.send(app.http.post(&token_url)
        .basic_auth(&machine.id, Some(machine.secret().unwrap()))
        .form(&[("grant_type", "client_credentials"), ("resource", &app.url("/api/v1"))])).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    // OpenID scopes need a user: they are left out.
    assert_eq!(answer.body["scope"], "read:organizations read:users");
    assert_eq!(payload(answer.body["access_token"].as_str().unwrap())["aud"], app.url("/api/v1"));
    // The machine token names no user: identityd's API refuses it.
    let me = app.get_auth("/api/v1/users/me", answer.body["access_token"].as_str().unwrap()).await;
    assert_eq!(me.status, 401);
    let refused = app.send(app.http.post(&token_url)
        .form(&[("grant_type", "client_credentials"), ("client_id", public.id.as_str())])).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.body["error"], "unauthorized_client");
    let target = app.send(app.http.post(&token_url)
        .basic_auth(&machine.id, Some(machine.secret().unwrap()))
        .form(&[("grant_type", "client_credentials"), ("resource", "https://unknown.example/")])).await;
    assert_eq!(target.body["error"], "invalid_target");
});

db_test!(grpc_status_of_a_provider_token_without_scope, env: [("OAUTH_PROVIDER_ENABLED", "true"), ("OAUTH_REGISTRATION", "open")], |app| {
    app.register("ada@example.com").await;
    let (tokens, _, _) = connect(&app, "ada@example.com", crate::helpers::PASSWORD, &["read:organizations"]).await;
    let mut users = app.user_client().await;
    let status = users
        .get_me(with_bearer(pb::GetMeRequest {}, tokens.access_token().secret()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied);
    assert_eq!(reason(&status), "AUTH_004");
    let header = status.metadata().get("www-authenticate").unwrap().to_str().unwrap().to_owned();
    assert_eq!(challenge(&header)["scope"], "read:users");
});
