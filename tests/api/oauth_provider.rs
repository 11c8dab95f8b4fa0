//! The OAuth 2.1 authorization server, driven as real clients drive it: the
//! `oauth2` crate (an independent client library) builds authorization URLs
//! with PKCE and state and exchanges, refreshes, revokes and introspects;
//! a cookie-carrying HTTP client plays the browser through the login and
//! consent pages, submitting their forms with their CSRF tokens.

use std::collections::HashMap;
use std::time::Duration;

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    IntrospectionUrl, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RevocationUrl, Scope,
    StandardRevocableToken, TokenIntrospectionResponse as _, TokenResponse as _, TokenUrl,
};
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{PASSWORD, TestApp};

const API: &str = "/api/v1/oauth/provider";
pub const WEB_REDIRECT: &str = "https://app.example.com/callback";
pub const NATIVE_REDIRECT: &str = "http://127.0.0.1:8765/callback";

/// A configured `oauth2` client (every endpoint set).
type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointSet, EndpointSet, EndpointSet>;

/// A registered client: its id, secret (confidential) and library client.
pub struct Registered {
    pub id: String,
    secret: Option<String>,
    client: Client,
}

impl Registered {
    /// The client secret of a confidential client.
    pub fn secret(&self) -> Option<&str> {
        self.secret.as_deref()
    }
}

/// Registers a client through the REST API, as a superuser.
pub async fn register(app: &TestApp, kind: &str, redirect: &str, scopes: &str) -> Registered {
    let root = app.superuser().await;
    let answer = app
        .send(
            app.http
                .post(app.url(&format!("{API}/clients")))
                .bearer_auth(&root)
                .form(&[
                    ("client_name", "Demo <App>"),
                    ("redirect_uris", redirect),
                    ("client_type", kind),
                    ("scopes", scopes),
                ]),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let id = answer.body["client_id"].as_str().unwrap().to_owned();
    let secret = answer.body["client_secret"].as_str().map(str::to_owned);
    let mut client = BasicClient::new(ClientId::new(id.clone()));
    if let Some(secret) = &secret {
        client = client.set_client_secret(ClientSecret::new(secret.clone()));
    }
    let client = with_endpoints(app, client, redirect);
    Registered { id, secret, client }
}

fn with_endpoints(
    app: &TestApp,
    client: BasicClient<
        EndpointNotSet,
        EndpointNotSet,
        EndpointNotSet,
        EndpointNotSet,
        EndpointNotSet,
    >,
    redirect: &str,
) -> Client {
    client
        .set_auth_uri(AuthUrl::new(app.url(&format!("{API}/authorize"))).unwrap())
        .set_token_uri(TokenUrl::new(app.url(&format!("{API}/token"))).unwrap())
        .set_revocation_url(RevocationUrl::new(app.url(&format!("{API}/revoke"))).unwrap())
        .set_introspection_url(
            IntrospectionUrl::new(app.url(&format!("{API}/introspect"))).unwrap(),
        )
        .set_redirect_uri(RedirectUrl::new(redirect.to_owned()).unwrap())
}

pub fn http_client() -> oauth2::reqwest::Client {
    oauth2::reqwest::Client::builder()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A browser: keeps cookies, does not follow redirects, prefers HTML.
pub struct Browser {
    http: reqwest::Client,
}

impl Browser {
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.http
            .get(url)
            .header("accept", "text/html")
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, url: &str, form: &[(String, String)]) -> reqwest::Response {
        self.http
            .post(url)
            .header("accept", "text/html")
            .form(form)
            .send()
            .await
            .unwrap()
    }
}

pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location on a {}", response.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

/// The `<input type="hidden">` fields of a page (values unescaped).
pub fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let pattern =
        regex::Regex::new(r#"<input type="hidden" name="([^"]+)" value="([^"]*)">"#).unwrap();
    pattern
        .captures_iter(html)
        .map(|c| {
            let value = c[2]
                .replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&");
            (c[1].to_owned(), value)
        })
        .collect()
}

fn absolute(app: &TestApp, location: &str) -> String {
    if location.starts_with("http") {
        location.to_owned()
    } else {
        app.url(location)
    }
}

/// Logs `email` in on the login page the authorize redirect led to;
/// returns where the login sends the browser (back to authorize).
pub async fn log_in(
    app: &TestApp,
    browser: &Browser,
    login_url: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    let page = browser.get(login_url).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Demo &lt;App&gt;"),
        "client name escaped: {html}"
    );
    let mut form = hidden_fields(&html);
    form.push(("email".into(), email.into()));
    form.push(("password".into(), password.into()));
    browser
        .post(&app.url(&format!("{API}/authorize/login")), &form)
        .await
}

/// Follows authorize → login → authorize → consent → decision; returns the
/// final redirect to the client.
pub async fn authorize_in_browser(
    app: &TestApp,
    browser: &Browser,
    auth_url: &str,
    email: &str,
    approve: bool,
) -> String {
    authorize_as(app, browser, auth_url, email, PASSWORD, approve).await
}

/// [`authorize_in_browser`] with the user's password.
pub async fn authorize_as(
    app: &TestApp,
    browser: &Browser,
    auth_url: &str,
    email: &str,
    password: &str,
    approve: bool,
) -> String {
    let first = browser.get(auth_url).await;
    assert_eq!(first.status(), 302, "{}", first.text().await.unwrap());
    let mut next = location(&first);
    if next.contains("/authorize/login") {
        let after_login = log_in(app, browser, &next, email, password).await;
        assert_eq!(after_login.status(), 303);
        let back = browser.get(&absolute(app, &location(&after_login))).await;
        assert_eq!(back.status(), 302);
        next = location(&back);
    }
    if !next.contains("/authorize/consent") {
        return next;
    }
    let page = browser.get(&next).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("app.example.com") || html.contains("127.0.0.1"),
        "redirect host shown: {html}"
    );
    let mut form = hidden_fields(&html);
    form.push(("approved".into(), approve.to_string()));
    let decision = browser
        .post(&app.url(&format!("{API}/authorize/consent")), &form)
        .await;
    assert_eq!(decision.status(), 302, "{}", decision.text().await.unwrap());
    location(&decision)
}

/// The query parameters of a redirect to the client.
pub fn query_of(url: &str) -> HashMap<String, String> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// Authorizes in the browser up to the code; returns (code, verifier).
async fn obtain_code(
    app: &TestApp,
    registered: &Registered,
    browser: &Browser,
    email: &str,
    scopes: &[&str],
) -> (String, PkceCodeVerifier) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = registered.client.authorize_url(CsrfToken::new_random);
    for scope in scopes {
        request = request.add_scope(Scope::new((*scope).to_owned()));
    }
    let (url, state) = request.set_pkce_challenge(challenge).url();
    let back = authorize_in_browser(app, browser, url.as_str(), email, true).await;
    let params = query_of(&back);
    assert_eq!(params.get("state"), Some(state.secret()), "{back}");
    let code = params
        .get("code")
        .unwrap_or_else(|| panic!("no code in {back}"));
    assert_eq!(code.len(), 86);
    (code.clone(), verifier)
}

/// A full authorization code + PKCE flow; returns the token response.
async fn full_flow(
    app: &TestApp,
    registered: &Registered,
    browser: &Browser,
    email: &str,
    scopes: &[&str],
) -> oauth2::basic::BasicTokenResponse {
    let (code, verifier) = obtain_code(app, registered, browser, email, scopes).await;
    registered
        .client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request_async(&http_client())
        .await
        .unwrap()
}

/// A raw token request with the client's own credentials.
async fn token_request(
    app: &TestApp,
    registered: &Registered,
    form: &[(&str, &str)],
) -> crate::helpers::Answer {
    let mut form: Vec<(&str, &str)> = form.to_vec();
    let mut request = app.http.post(app.url(&format!("{API}/token")));
    match &registered.secret {
        Some(secret) => request = request.basic_auth(&registered.id, Some(secret)),
        None => form.push(("client_id", &registered.id)),
    }
    app.send(request.form(&form)).await
}

fn assert_oauth_error(
    answer: &crate::helpers::Answer,
    status: u16,
    error: &str,
    description: &str,
) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(answer.body["error"], error, "{}", answer.body);
    assert_eq!(
        answer.body["error_description"], description,
        "{}",
        answer.body
    );
    assert_eq!(answer.body["success"], false);
    assert_eq!(
        answer.body["errors"][0]["message"],
        format!("{error}: {description}")
    );
}

async fn introspect(app: &TestApp, registered: &Registered, token: &str) -> Value {
    let mut form = vec![("token", token.to_owned())];
    let mut request = app.http.post(app.url(&format!("{API}/introspect")));
    match &registered.secret {
        Some(secret) => request = request.basic_auth(&registered.id, Some(secret)),
        None => form.push(("client_id", registered.id.clone())),
    }
    let answer = app.send(request.form(&form)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body
}

db_test!(a_confidential_web_app_completes_the_flow, env: [("OAUTH_PROVIDER_ENABLED", "true")], |app| {
    app.register("ada@example.com").await;
    let web = register(&app, "confidential", WEB_REDIRECT, "openid profile email read:users").await;
    assert_eq!(web.secret.as_ref().unwrap().len(), 64);
    let browser = Browser::new();
    let tokens = full_flow(&app, &web, &browser, "ada@example.com", &["openid", "email"]).await;
    assert_eq!(
        tokens.scopes().unwrap().iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        ["email", "openid"]
    );
    assert_eq!(tokens.expires_in(), Some(Duration::from_secs(3600)));
    let access = tokens.access_token().secret().clone();
    let refresh = tokens.refresh_token().unwrap().clone();
    assert_eq!(refresh.secret().len(), 64);

    // The access token verifies offline under the published JWKS.
    let metadata = app.send(app.http.get(app.url("/.well-known/oauth-authorization-server"))).await;
    assert_eq!(metadata.body["issuer"], app.url(""));
    assert_eq!(metadata.body["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(metadata.body["authorization_response_iss_parameter_supported"], true);
    assert_eq!(metadata.header("cache-control"), Some("public, max-age=300"));
    let jwks = app.send(app.http.get(app.url("/.well-known/jwks.json"))).await;
    let key = &jwks.body["keys"][0];
    let header = jsonwebtoken::decode_header(&access).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.kid.as_deref(), key["kid"].as_str());
    let decoding = jsonwebtoken::DecodingKey::from_ed_components(key["x"].as_str().unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&[&web.id]);
    validation.set_issuer(&[app.url("")]);
    let claims = jsonwebtoken::decode::<Value>(&access, &decoding, &validation).unwrap().claims;
    assert_eq!(claims["email"], "ada@example.com");
    // No profile scope: no name.
    assert!(claims.get("name").is_none(), "{claims}");
    assert_eq!(claims["client_id"], web.id);
    assert_eq!(claims["scope"], "email openid");

    // Introspection by the (confidential) client itself.
    let active = introspect(&app, &web, &access).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["token_type"], "Bearer");
    assert_eq!(active["username"], "ada@example.com");
    // The library reads it too.
    let seen = web
        .client
        .introspect(tokens.access_token())
        .request_async(&http_client())
        .await
        .unwrap();
    assert!(seen.active());

    // Refresh rotates; narrowing is allowed, widening is not.
    let rotated = web
        .client
        .exchange_refresh_token(&refresh)
        .add_scope(Scope::new("openid".into()))
        .request_async(&http_client())
        .await
        .unwrap();
    assert_eq!(rotated.scopes().unwrap()[0].as_str(), "openid");
    let new_refresh = rotated.refresh_token().unwrap().clone();
    assert_ne!(new_refresh.secret(), refresh.secret());
    let widen = app
        .send(
            app.http
                .post(app.url(&format!("{API}/token")))
                .basic_auth(&web.id, web.secret.as_ref())
                .form(&[("grant_type", "refresh_token"), ("refresh_token", new_refresh.secret()), ("scope", "openid admin")]),
        )
        .await;
    assert_eq!(widen.status, 400);
    assert_eq!(widen.body["error"], "invalid_scope");
    assert_eq!(widen.header("cache-control"), Some("no-store"));
    assert_eq!(widen.header("pragma"), Some("no-cache"));

    // Revoking the refresh token ends its access token too. (The library
    // refuses to revoke over plain http, so this request is made by hand.)
    assert!(
        web.client
            .revoke_token(StandardRevocableToken::RefreshToken(new_refresh.clone()))
            .is_err()
    );
    let revoked = app
        .send(
            app.http
                .post(app.url(&format!("{API}/revoke")))
                .basic_auth(&web.id, web.secret.as_ref())
                .form(&[("token", new_refresh.secret().as_str()), ("token_type_hint", "refresh_token")]),
        )
        .await;
    assert_eq!(revoked.status, 200);
    assert_eq!(revoked.body, json!({"status": "ok"}));
    let inactive = introspect(&app, &web, rotated.access_token().secret()).await;
    assert_eq!(inactive, json!({"active": false}));

    // A second authorization skips the consent already given.
    let (challenge, _verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _) = web
        .client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("openid".into()))
        .set_pkce_challenge(challenge)
        .url();
    let again = browser.get(url.as_str()).await;
    assert_eq!(again.status(), 302);
    assert!(location(&again).starts_with(WEB_REDIRECT), "{}", location(&again));
    assert!(query_of(&location(&again)).contains_key("code"));

    // Provider tokens are not first-party tokens.
    app.get_auth("/api/v1/users/me", &access).await.error(401, "AUTH_006");
});

db_test!(a_public_native_client_completes_the_flow, env: [("OAUTH_PROVIDER_ENABLED", "true")], |app| {
    app.register("native@example.com").await;
    let native = register(&app, "public", NATIVE_REDIRECT, "openid profile").await;
    assert!(native.secret.is_none());
    let browser = Browser::new();
    let tokens = full_flow(&app, &native, &browser, "native@example.com", &[]).await;
    // No scope asked: every allowed scope.
    assert_eq!(tokens.scopes().unwrap().len(), 2);
    let active = introspect(&app, &native, tokens.access_token().secret()).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["client_id"], native.id);
    let refreshed = native
        .client
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .request_async(&http_client())
        .await
        .unwrap();
    assert!(!refreshed.access_token().secret().is_empty());
});

/// The authorize endpoint's URL with these query parameters.
pub fn authorize_url(app: &TestApp, params: &[(&str, &str)]) -> String {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    app.url(&format!("{API}/authorize?{query}"))
}

pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

db_test!(authorize_checks_pkce_and_redirects_only_to_verified_uris, env: [("OAUTH_PROVIDER_ENABLED", "true")], |app| {
    let public = register(&app, "public", NATIVE_REDIRECT, "openid profile").await;
    let web = register(&app, "confidential", "https://app.example.com/cb?tenant=7", "openid").await;
    let get = |url: String| {
        let app = app.clone();
        async move { app.send(app.http.get(url)).await }
    };
    let base = |client: &str, redirect: &str| -> Vec<(String, String)> {
        vec![
            ("response_type".into(), "code".into()),
            ("client_id".into(), client.into()),
            ("redirect_uri".into(), redirect.into()),
            ("state".into(), "xyz".into()),
        ]
    };
    let url = |pairs: &[(String, String)]| {
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        authorize_url(&app, &pairs)
    };
    // Not redirected: PKCE method errors, unknown clients, unregistered URIs.
    let mut plain = base(&public.id, NATIVE_REDIRECT);
    plain.push(("code_challenge".into(), CHALLENGE.into()));
    plain.push(("code_challenge_method".into(), "plain".into()));
    let answer = get(url(&plain)).await;
    assert_oauth_error(&answer, 400, "invalid_request", "Only S256 PKCE is supported");
    assert!(answer.header("location").is_none());
    let mut no_method = base(&public.id, NATIVE_REDIRECT);
    no_method.push(("code_challenge".into(), CHALLENGE.into()));
    assert_oauth_error(&get(url(&no_method)).await, 400, "invalid_request", "Only S256 PKCE is supported");
    let mut no_challenge = base(&public.id, NATIVE_REDIRECT);
    no_challenge.push(("code_challenge_method".into(), "S256".into()));
    assert_oauth_error(&get(url(&no_challenge)).await, 400, "invalid_request", "code_challenge required");
    assert_oauth_error(&get(url(&base("nope", NATIVE_REDIRECT))).await, 400, "invalid_client", "Unknown client_id");
    let evil = get(url(&base(&public.id, "https://evil.example/cb"))).await;
    assert_oauth_error(&evil, 400, "invalid_request", "Invalid redirect_uri");
    assert!(evil.header("location").is_none());
    let mut token_type = base(&public.id, NATIVE_REDIRECT);
    token_type[0].1 = "token".into();
    assert_oauth_error(&get(url(&token_type)).await, 400, "unsupported_response_type", "response_type must be 'code'");
    let mut long_state = base(&public.id, NATIVE_REDIRECT);
    long_state[3].1 = "s".repeat(513);
    let answer = get(url(&long_state)).await;
    assert_eq!(answer.status, 422);
    assert_eq!(answer.body["errors"][0]["field"], "state");
    assert_eq!(answer.body["errors"][0]["code"], "VAL_001");
    // A browser gets the same error as a page.
    let page = app
        .send(app.http.get(url(&base(&public.id, "https://evil.example/cb"))).header("accept", "text/html"))
        .await;
    assert_eq!(page.status, 400);
    assert!(page.header("content-type").unwrap().starts_with("text/html"));
    assert!(page.header("content-security-policy").unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert!(page.body.as_str().unwrap().contains("Invalid redirect_uri"));
    // Redirected, once the URI is verified: no PKCE for a public client,
    // no allowed scope.
    let answer = get(url(&base(&public.id, NATIVE_REDIRECT))).await;
    assert_eq!(answer.status, 302);
    let params = query_of(answer.header("location").unwrap());
    assert_eq!(params["error"], "invalid_request");
    assert_eq!(params["error_description"], "PKCE with S256 is required for public clients");
    assert_eq!(params["state"], "xyz");
    // RFC 9207: every answer to the client names the issuer, errors too.
    assert_eq!(params["iss"], app.url(""));
    let mut scoped = base(&web.id, "https://app.example.com/cb?tenant=7");
    scoped.push(("scope".into(), "admin".into()));
    let answer = get(url(&scoped)).await;
    let location = answer.header("location").unwrap().to_owned();
    assert!(location.starts_with("https://app.example.com/cb?tenant=7&error=invalid_scope"), "{location}");
    // Repeated parameters are refused.
    let mut twice = base(&public.id, NATIVE_REDIRECT);
    twice.push(("client_id".into(), "other".into()));
    assert_oauth_error(&get(url(&twice)).await, 400, "invalid_request", "Parameter client_id repeated");
    // The query of a registered redirect URI is kept.
    app.register("tenant@example.com").await;
    let code_url = authorize_in_browser(
        &app,
        &Browser::new(),
        &url(&base(&web.id, "https://app.example.com/cb?tenant=7")),
        "tenant@example.com",
        true,
    )
    .await;
    assert!(code_url.starts_with("https://app.example.com/cb?tenant=7&code="), "{code_url}");
    assert_eq!(query_of(&code_url)["iss"], app.url(""));
});

db_test!(the_token_endpoint_refuses_what_it_must, env: [("OAUTH_PROVIDER_ENABLED", "true")], |app| {
    app.register("tok@example.com").await;
    let public = register(&app, "public", NATIVE_REDIRECT, "openid profile").await;
    let web = register(&app, "confidential", WEB_REDIRECT, "openid").await;
    let browser = Browser::new();

    // A wrong verifier spends the code.
    let (code, verifier) = obtain_code(&app, &public, &browser, "tok@example.com", &[]).await;
    let wrong = token_request(&app, &public, &[("grant_type", "authorization_code"), ("code", &code),
        ("redirect_uri", NATIVE_REDIRECT), ("code_verifier", &"x".repeat(43))]).await;
    assert_oauth_error(&wrong, 400, "invalid_grant", "Invalid code_verifier");
    let retry = token_request(&app, &public, &[("grant_type", "authorization_code"), ("code", &code),
        ("redirect_uri", NATIVE_REDIRECT), ("code_verifier", verifier.secret())]).await;
    assert_oauth_error(&retry, 400, "invalid_grant", "Authorization code has already been used");

    // Another redirect URI than the code's.
    let (code, verifier) = obtain_code(&app, &public, &browser, "tok@example.com", &[]).await;
    let mismatch = token_request(&app, &public, &[("grant_type", "authorization_code"), ("code", &code),
        ("redirect_uri", "http://127.0.0.1:9999/other"), ("code_verifier", verifier.secret())]).await;
    assert_oauth_error(&mismatch, 400, "invalid_grant", "redirect_uri mismatch");

    // Reusing a code revokes what it yielded.
    let (code, verifier) = obtain_code(&app, &public, &browser, "tok@example.com", &[]).await;
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()),
        ("redirect_uri", NATIVE_REDIRECT), ("code_verifier", verifier.secret().as_str())];
    let first = token_request(&app, &public, &form).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.header("cache-control"), Some("no-store"));
    let access = first.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(introspect(&app, &public, &access).await["active"], true);
    let replay = token_request(&app, &public, &form).await;
    assert_oauth_error(&replay, 400, "invalid_grant", "Authorization code has already been used");
    assert_eq!(introspect(&app, &public, &access).await, json!({"active": false}));

    // A rotated refresh token presented again revokes the whole family.
    let (code, verifier) = obtain_code(&app, &public, &browser, "tok@example.com", &[]).await;
    let issued = token_request(&app, &public, &[("grant_type", "authorization_code"), ("code", &code),
        ("redirect_uri", NATIVE_REDIRECT), ("code_verifier", verifier.secret())]).await;
    let r1 = issued.body["refresh_token"].as_str().unwrap().to_owned();
    let rotated = token_request(&app, &public, &[("grant_type", "refresh_token"), ("refresh_token", &r1)]).await;
    assert_eq!(rotated.status, 200);
    let r2 = rotated.body["refresh_token"].as_str().unwrap().to_owned();
    let a2 = rotated.body["access_token"].as_str().unwrap().to_owned();
    let reuse = token_request(&app, &public, &[("grant_type", "refresh_token"), ("refresh_token", &r1)]).await;
    assert_oauth_error(&reuse, 400, "invalid_grant", "Refresh token has been revoked");
    assert_eq!(introspect(&app, &public, &a2).await, json!({"active": false}));
    let after = token_request(&app, &public, &[("grant_type", "refresh_token"), ("refresh_token", &r2)]).await;
    assert_oauth_error(&after, 400, "invalid_grant", "Refresh token has been revoked");

    // Codes live ten minutes.
    let (code, verifier) = obtain_code(&app, &public, &browser, "tok@example.com", &[]).await;
    app.clock.advance(chrono::Duration::minutes(11));
    let expired = token_request(&app, &public, &[("grant_type", "authorization_code"), ("code", &code),
        ("redirect_uri", NATIVE_REDIRECT), ("code_verifier", verifier.secret())]).await;
    assert_oauth_error(&expired, 400, "invalid_grant", "Authorization code has expired");

    // Client authentication.
    let token_url = app.url(&format!("{API}/token"));
    let anonymous = app.send(app.http.post(&token_url).form(&[("grant_type", "refresh_token")])).await;
    assert_oauth_error(&anonymous, 401, "invalid_client", "client_id required");
    assert_eq!(anonymous.body["errors"][0]["code"], "AUTH_006");
    assert_eq!(anonymous.header("www-authenticate"), Some("Basic realm=\"oauth\""));
    let wrong_secret = app
        .send(app.http.post(&token_url).basic_auth(&web.id, Some("not-the-secret")).form(&[("grant_type", "refresh_token")]))
        .await;
    assert_oauth_error(&wrong_secret, 401, "invalid_client", "Invalid client secret");
    assert_eq!(wrong_secret.body["errors"][0]["code"], "AUTH_001");
    let no_secret = app
        .send(app.http.post(&token_url).form(&[("grant_type", "refresh_token"), ("client_id", &web.id)]))
        .await;
    assert_oauth_error(&no_secret, 401, "invalid_client", "Client secret required for confidential clients");
    let mixed = app
        .send(
            app.http.post(&token_url).basic_auth(&web.id, web.secret.as_ref())
                .form(&[("grant_type", "refresh_token"), ("client_secret", "x")]),
        )
        .await;
    assert_oauth_error(&mixed, 400, "invalid_request", "Multiple client authentication methods");
    let public_secret = app
        .send(app.http.post(&token_url).form(&[("grant_type", "refresh_token"), ("client_id", &public.id), ("client_secret", "x")]))
        .await;
    assert_oauth_error(&public_secret, 401, "invalid_client", "Public clients do not use a client secret");
    let unknown = token_request(&app, &web, &[("grant_type", "password")]).await;
    assert_oauth_error(&unknown, 400, "unsupported_grant_type", "Must be authorization_code, refresh_token or client_credentials");
    let missing = token_request(&app, &web, &[]).await;
    assert_oauth_error(&missing, 400, "invalid_request", "grant_type required");
    let json_body = app
        .send(app.http.post(&token_url).basic_auth(&web.id, web.secret.as_ref()).json(&json!({"grant_type": "refresh_token"})))
        .await;
    assert_oauth_error(&json_body, 400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded");

    // Introspection needs a client; first-party tokens are never active;
    // a public client sees only its own tokens, a confidential one all.
    let naked = app.send(app.http.post(app.url(&format!("{API}/introspect"))).form(&[("token", "x")])).await;
    assert_oauth_error(&naked, 401, "invalid_client", "client_id required");
    let first_party = app.login("tok@example.com", PASSWORD).await;
    let first_party = first_party["access_token"].as_str().unwrap();
    assert_eq!(introspect(&app, &web, first_party).await, json!({"active": false}));
    let (code, verifier) = obtain_code(&app, &public, &browser, "tok@example.com", &[]).await;
    let own = token_request(&app, &public, &[("grant_type", "authorization_code"), ("code", &code),
        ("redirect_uri", NATIVE_REDIRECT), ("code_verifier", verifier.secret())]).await;
    let public_access = own.body["access_token"].as_str().unwrap();
    assert_eq!(introspect(&app, &web, public_access).await["active"], true);
    let other_public = register(&app, "public", NATIVE_REDIRECT, "openid").await;
    assert_eq!(introspect(&app, &other_public, public_access).await, json!({"active": false}));
    // Revoking another client's token changes nothing.
    let revoke = app
        .send(app.http.post(app.url(&format!("{API}/revoke"))).form(&[("token", public_access), ("client_id", &other_public.id)]))
        .await;
    assert_eq!(revoke.status, 200);
    assert_eq!(introspect(&app, &public, public_access).await["active"], true);
});

db_test!(the_browser_forms_are_protected, env: [("OAUTH_PROVIDER_ENABLED", "true")], |app| {
    app.register("forms@example.com").await;
    let public = register(&app, "public", NATIVE_REDIRECT, "openid").await;
    let browser = Browser::new();
    let (challenge, _verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _) = public.client.authorize_url(CsrfToken::new_random).set_pkce_challenge(challenge).url();
    let first = browser.get(url.as_str()).await;
    let login_url = location(&first);
    let page = browser.get(&login_url).await;
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    assert!(page.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    let set_cookie = page.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.starts_with("as_csrf=") && set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script"));
    let fields = hidden_fields(&html);

    // No CSRF token, or another one: 403.
    let login = app.url(&format!("{API}/authorize/login"));
    let mut form: Vec<(String, String)> = fields.iter().filter(|(n, _)| n != "csrf_token").cloned().collect();
    form.push(("email".into(), "forms@example.com".into()));
    form.push(("password".into(), PASSWORD.into()));
    let refused = browser.post(&login, &form).await;
    assert_eq!(refused.status(), 403);
    form.push(("csrf_token".into(), "forged".into()));
    assert_eq!(browser.post(&login, &form).await.status(), 403);

    // A wrong password shows the form again, with a new token.
    let mut form = fields.clone();
    form.push(("email".into(), "forms@example.com".into()));
    form.push(("password".into(), "Wrong-Password-1!".into()));
    let wrong = browser.post(&login, &form).await;
    assert_eq!(wrong.status(), 401);
    let html = wrong.text().await.unwrap();
    assert!(html.contains("Invalid email or password"), "{html}");
    let fresh = hidden_fields(&html);
    assert_ne!(fresh, fields);

    // Right password: a session cookie limited to the provider's paths.
    let mut form = fresh;
    form.push(("email".into(), "forms@example.com".into()));
    form.push(("password".into(), PASSWORD.into()));
    let ok = browser.post(&login, &form).await;
    assert_eq!(ok.status(), 303);
    let cookie = ok.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("as_session=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax")
        && cookie.contains("Path=/api/v1/oauth/provider") && !cookie.contains("Secure"), "{cookie}");
    let back = browser.get(&absolute(&app, &location(&ok))).await;
    let consent_url = location(&back);
    let page = browser.get(&consent_url).await.text().await.unwrap();
    let consent_fields = hidden_fields(&page);

    // The consent needs its CSRF token with the cookie...
    let consent = app.url(&format!("{API}/authorize/consent"));
    let mut forged: Vec<(String, String)> = consent_fields.iter().filter(|(n, _)| n != "csrf_token").cloned().collect();
    forged.push(("csrf_token".into(), "forged".into()));
    forged.push(("approved".into(), "true".into()));
    assert_eq!(browser.post(&consent, &forged).await.status(), 403);
    // ...but not with a bearer token (a separate frontend posting it).
    let bearer = app.login("forms@example.com", PASSWORD).await;
    let mut with_bearer: Vec<(String, String)> = consent_fields.iter().filter(|(n, _)| n != "csrf_token").cloned().collect();
    with_bearer.push(("approved".into(), "false".into()));
    let denied = app
        .send(app.http.post(&consent).bearer_auth(bearer["access_token"].as_str().unwrap()).form(&with_bearer))
        .await;
    assert_eq!(denied.status, 302);
    let params = query_of(denied.header("location").unwrap());
    assert_eq!(params["error"], "access_denied");
    // The request is consumed: the same consent cannot be replayed.
    let mut again = consent_fields.clone();
    again.push(("approved".into(), "true".into()));
    let gone = app
        .send(app.http.post(&consent).bearer_auth(bearer["access_token"].as_str().unwrap()).form(&again))
        .await;
    assert_oauth_error(&gone, 400, "invalid_request", "Unknown or expired authorization request");
    // The login cookie's session is one of the user's sessions.
    let sessions = app.get_auth("/api/v1/sessions/me", bearer["access_token"].as_str().unwrap()).await;
    assert_eq!(sessions.body["total"], 2);
});

db_test!(clients_and_consents_are_managed_over_the_api, env: [("OAUTH_PROVIDER_ENABLED", "true")], |app| {
    let root = app.superuser().await;
    let (user_token, _) = app.member("apps@example.com").await;
    let clients = app.url(&format!("{API}/clients"));
    let form = [("client_name", "X"), ("redirect_uris", WEB_REDIRECT)];
    app.send(app.http.post(&clients).form(&form)).await.error(401, "AUTH_006");
    app.send(app.http.post(&clients).bearer_auth(&user_token).form(&form)).await.error(403, "AUTH_004");
    for (field, value, message) in [
        ("redirect_uris", "javascript:alert(1)", "Redirect URI must use https, loopback http, or a private-use scheme"),
        ("redirect_uris", "", "At least one redirect_uri is required"),
        ("client_type", "secret", "Input should be 'public' or 'confidential'"),
        ("scopes", "bad\"scope", "Invalid scope token"),
        ("mcp_server_url", "ftp://x", "Must be an absolute http(s) URL"),
    ] {
        let mut form = vec![("client_name", "X"), ("redirect_uris", WEB_REDIRECT)];
        form.retain(|(name, _)| *name != field);
        form.push((field, value));
        let answer = app.send(app.http.post(&clients).bearer_auth(&root).form(&form)).await;
        let item = answer.error(422, "VAL_001");
        assert_eq!(item["field"], field, "{}", answer.body);
        assert_eq!(item["message"], message);
    }
    let created = app
        .send(app.http.post(&clients).bearer_auth(&root)
            .form(&[("client_name", "Two URIs"), ("redirect_uris", "https://a.example/cb, http://localhost:3000/cb"), ("client_type", "public")]))
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(created.body["client_secret"], Value::Null);
    assert_eq!(created.body["warning"], Value::Null);
    assert_eq!(created.body["redirect_uris"], json!(["https://a.example/cb", "http://localhost:3000/cb"]));
    assert_eq!(created.body["allowed_scopes"], json!(["email", "openid", "profile"]));
    let public_id = created.body["client_id"].as_str().unwrap().to_owned();
    app.clock.advance(chrono::Duration::seconds(1));
    let web = register(&app, "confidential", WEB_REDIRECT, "openid").await;
    let list = app.get_auth(&format!("{API}/clients"), &root).await;
    assert_eq!(list.status, 200);
    let list = list.body.as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["client_id"], web.id, "newest first");
    assert!(list.iter().all(|c| c.get("client_secret").is_none()));
    let updated = app
        .call("PATCH", &format!("{API}/clients/{public_id}"), Some(&root), Some(json!({"client_name": "Renamed"})))
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.body["client_name"], "Renamed");
    // Rotation: the new secret works, the old one no longer does.
    let rotated = app.post_auth(&format!("{API}/clients/{}/secret", web.id), &root, json!({})).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new_secret = rotated.body["client_secret"].as_str().unwrap().to_owned();
    let probe = |secret: String| {
        let app = app.clone();
        let id = web.id.clone();
        async move {
            app.send(app.http.post(app.url(&format!("{API}/introspect"))).basic_auth(id, Some(secret)).form(&[("token", "x")]))
                .await
                .status
        }
    };
    assert_eq!(probe(web.secret.clone().unwrap()).await, 401);
    assert_eq!(probe(new_secret).await, 200);
    app.post_auth(&format!("{API}/clients/{public_id}/secret"), &root, json!({})).await.error(422, "VAL_001");

    // Consents: listed after a flow; withdrawing revokes the tokens.
    app.register("consenter@example.com").await;
    let native = register(&app, "public", NATIVE_REDIRECT, "openid profile").await;
    let tokens = full_flow(&app, &native, &Browser::new(), "consenter@example.com", &["openid"]).await;
    let bearer = app.login("consenter@example.com", PASSWORD).await;
    let bearer = bearer["access_token"].as_str().unwrap();
    let consents = app.get_auth(&format!("{API}/consents"), bearer).await;
    assert_eq!(consents.status, 200);
    assert_eq!(consents.body[0]["client_id"], native.id);
    assert_eq!(consents.body[0]["granted_scopes"], json!(["openid"]));
    assert!(consents.body[0]["granted_at"].as_str().unwrap().ends_with('Z'));
    let revoked = app.call("DELETE", &format!("{API}/consents/{}", native.id), Some(bearer), None).await;
    assert_eq!(revoked.status, 204);
    assert_eq!(introspect(&app, &native, tokens.access_token().secret()).await, json!({"active": false}));
    app.call("DELETE", &format!("{API}/consents/{}", native.id), Some(bearer), None).await.error(404, "SYS_002");

    // Deleting a client ends its tokens and it.
    let tokens = full_flow(&app, &native, &Browser::new(), "consenter@example.com", &[]).await;
    let deleted = app.call("DELETE", &format!("{API}/clients/{}", native.id), Some(&root), None).await;
    assert_eq!(deleted.status, 204);
    assert_eq!(introspect(&app, &web_with(&web, &rotated), tokens.access_token().secret()).await, json!({"active": false}));
    app.call("DELETE", &format!("{API}/clients/{}", native.id), Some(&root), None).await.error(404, "SYS_002");

    // Over gRPC as well.
    let mut grpc = identityd::grpc::pb::o_auth_provider_service_client::OAuthProviderServiceClient::new(app.grpc_channel().await);
    let listed = grpc
        .list_clients(crate::helpers::with_bearer(identityd::grpc::pb::ListClientsRequest {}, &root))
        .await
        .unwrap();
    assert_eq!(listed.get_ref().clients.len(), 2);
});

/// The confidential client with its rotated secret.
fn web_with(web: &Registered, rotated: &crate::helpers::Answer) -> Registered {
    Registered {
        id: web.id.clone(),
        secret: rotated.body["client_secret"].as_str().map(str::to_owned),
        client: web.client.clone(),
    }
}

db_test!(a_users_account_events_revoke_provider_tokens, env: [("OAUTH_PROVIDER_ENABLED", "true")], |app| {
    app.register("events@example.com").await;
    let native = register(&app, "public", NATIVE_REDIRECT, "openid").await;
    let tokens = full_flow(&app, &native, &Browser::new(), "events@example.com", &[]).await;
    let bearer = app.login("events@example.com", PASSWORD).await;
    let changed = app
        .call("PATCH", "/api/v1/users/me/password", bearer["access_token"].as_str(),
              Some(json!({"current_password": PASSWORD, "new_password": "Another-Horse-43!"})))
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(introspect(&app, &native, tokens.access_token().secret()).await, json!({"active": false}));
    let refreshed = token_request(&app, &native, &[("grant_type", "refresh_token"),
        ("refresh_token", tokens.refresh_token().unwrap().secret())]).await;
    assert_oauth_error(&refreshed, 400, "invalid_grant", "Refresh token has been revoked");
});

db_test!(protocol_endpoints_refuse_hostile_shapes, env: [("OAUTH_PROVIDER_ENABLED", "true")], |app| {
    // HEAD never runs the effectful GET handlers.
    for path in ["authorize", "authorize/consent"] {
        let answer = app.send(app.http.head(app.url(&format!("{API}/{path}?client_id=x")))).await;
        assert_eq!(answer.status, 405, "{path}");
    }
    let login = app.send(app.http.head(app.url(&format!("{API}/authorize/login")))).await;
    assert_ne!(login.status, 405);
    // A Basic header that does not decode is refused, not ignored.
    for header in ["Basic", "Basic !!!", "basic Zm9v"] {
        let answer = app
            .send(
                app.http
                    .post(app.url(&format!("{API}/token")))
                    .header("authorization", header)
                    .form(&[("grant_type", "client_credentials")]),
            )
            .await;
        assert_eq!(answer.status, 401, "{header}: {}", answer.body);
        assert_eq!(answer.body["error"], "invalid_client", "{header}");
    }
    // Thousands of parameters cost one refusal, not a quadratic scan.
    let many: String = (0..5000).map(|i| format!("p{i}=1&")).collect();
    let answer = app
        .send(
            app.http
                .post(app.url(&format!("{API}/token")))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(many),
        )
        .await;
    assert_oauth_error(&answer, 400, "invalid_request", "Too many parameters");
});

db_test!(codes_not_yet_exchanged_die_with_access_and_consent, env: [("OAUTH_PROVIDER_ENABLED", "true")], |app| {
    app.register("pending@example.com").await;
    let native = register(&app, "public", NATIVE_REDIRECT, "openid").await;
    let browser = Browser::new();
    let exchange = |code: String, verifier: PkceCodeVerifier| {
        let app = app.clone();
        let id = native.id.clone();
        async move {
            let form = [
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", NATIVE_REDIRECT),
                ("code_verifier", verifier.secret().as_str()),
                ("client_id", id.as_str()),
            ];
            app.send(app.http.post(app.url(&format!("{API}/token"))).form(&form)).await
        }
    };

    // Logout everywhere after the code was issued: the code is dead.
    let (code, verifier) = obtain_code(&app, &native, &browser, "pending@example.com", &[]).await;
    let bearer = app.login("pending@example.com", PASSWORD).await;
    let token = bearer["access_token"].as_str().unwrap();
    assert_eq!(app.call("POST", "/api/v1/auth/logout-all", Some(token), None).await.status, 200);
    let answer = exchange(code, verifier).await;
    assert_oauth_error(&answer, 400, "invalid_grant", "Authorization code has already been used");

    // Consent withdrawn after the code was issued: dead too.
    let browser = Browser::new();
    let (code, verifier) = obtain_code(&app, &native, &browser, "pending@example.com", &[]).await;
    let bearer = app.login("pending@example.com", PASSWORD).await;
    let token = bearer["access_token"].as_str().unwrap();
    let path = format!("/api/v1/oauth/provider/consents/{}", native.id);
    assert_eq!(app.call("DELETE", &path, Some(token), None).await.status, 204);
    let answer = exchange(code, verifier).await;
    assert_oauth_error(&answer, 400, "invalid_grant", "Authorization code has already been used");
});

db_test!(concurrent_replays_of_a_code_leave_no_live_token, env: [("OAUTH_PROVIDER_ENABLED", "true")], |app| {
    app.register("race@example.com").await;
    let native = register(&app, "public", NATIVE_REDIRECT, "openid").await;
    for _ in 0..5 {
        let (code, verifier) =
            obtain_code(&app, &native, &Browser::new(), "race@example.com", &[]).await;
        let form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code),
            ("redirect_uri", NATIVE_REDIRECT.to_owned()),
            ("code_verifier", verifier.secret().clone()),
            ("client_id", native.id.clone()),
        ];
        let send = || app.send(app.http.post(app.url(&format!("{API}/token"))).form(&form));
        let (a, b) = tokio::join!(send(), send());
        let winners: Vec<_> = [&a, &b].into_iter().filter(|x| x.status == 200).collect();
        assert_eq!(winners.len(), 1, "a code is exchanged exactly once");
        // Whatever the interleaving, a replay revokes what the code issued.
        for winner in winners {
            let access = winner.body["access_token"].as_str().unwrap();
            assert_eq!(introspect(&app, &native, access).await, json!({"active": false}));
        }
    }
});

#[tokio::test]
async fn a_switched_off_provider_answers_404_everywhere() {
    let app = TestApp::builder(crate::helpers::Db::Sqlite)
        .spawn()
        .await
        .unwrap();
    let root = app.superuser().await;
    for (method, path) in [
        ("GET", "/.well-known/oauth-authorization-server".to_owned()),
        ("GET", "/.well-known/jwks.json".to_owned()),
        ("GET", format!("{API}/authorize")),
        ("POST", format!("{API}/token")),
        ("GET", format!("{API}/clients")),
        ("DELETE", format!("{API}/consents/x")),
    ] {
        let answer = app.call(method, &path, Some(&root), None).await;
        let item = answer.error(404, "SYS_002");
        assert_eq!(
            item["message"], "OAuth provider mode is not enabled",
            "{path}"
        );
    }
    let mut grpc =
        identityd::grpc::pb::o_auth_provider_service_client::OAuthProviderServiceClient::new(
            app.grpc_channel().await,
        );
    let status = grpc
        .list_consents(identityd::grpc::pb::ListConsentsRequest {})
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);
}

#[tokio::test]
async fn the_frontend_mode_sends_the_browser_to_the_frontend() {
    let app = TestApp::builder(crate::helpers::Db::Sqlite)
        .env("OAUTH_PROVIDER_ENABLED", "true")
        .env("OAUTH_PROVIDER_UI", "frontend")
        .env("FRONTEND_URL", "https://front.example")
        .spawn()
        .await
        .unwrap();
    let native = register(&app, "public", NATIVE_REDIRECT, "openid").await;
    let url = authorize_url(
        &app,
        &[
            ("response_type", "code"),
            ("client_id", &native.id),
            ("redirect_uri", NATIVE_REDIRECT),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ],
    );
    let answer = app.send(app.http.get(url)).await;
    assert_eq!(answer.status, 302);
    let location = answer.header("location").unwrap();
    assert!(location.starts_with("https://front.example/login?return_to=%2Fauth%2Fconsent%3Foauth_authorize%3Dtrue%26client_id%3D"), "{location}");
    let return_to = &query_of(location)["return_to"];
    assert!(return_to.contains("request_id="), "{return_to}");
    assert!(!return_to.contains("client_name"), "{return_to}");
}
