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
    IntrospectionUrl, PkceCodeChallenge, RedirectUrl, RevocationUrl, Scope, StandardRevocableToken,
    TokenIntrospectionResponse as _, TokenResponse as _, TokenUrl,
};
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{PASSWORD, TestApp};

const API: &str = "/api/v1/oauth/provider";
const WEB_REDIRECT: &str = "https://app.example.com/callback";
const NATIVE_REDIRECT: &str = "http://127.0.0.1:8765/callback";

/// A configured `oauth2` client (every endpoint set).
type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointSet, EndpointSet, EndpointSet>;

/// A registered client: its id, secret (confidential) and library client.
struct Registered {
    id: String,
    secret: Option<String>,
    client: Client,
}

/// Registers a client through the REST API, as a superuser.
async fn register(app: &TestApp, kind: &str, redirect: &str, scopes: &str) -> Registered {
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

fn http_client() -> oauth2::reqwest::Client {
    oauth2::reqwest::Client::builder()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A browser: keeps cookies, does not follow redirects, prefers HTML.
struct Browser {
    http: reqwest::Client,
}

impl Browser {
    fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    async fn get(&self, url: &str) -> reqwest::Response {
        self.http
            .get(url)
            .header("accept", "text/html")
            .send()
            .await
            .unwrap()
    }

    async fn post(&self, url: &str, form: &[(String, String)]) -> reqwest::Response {
        self.http
            .post(url)
            .header("accept", "text/html")
            .form(form)
            .send()
            .await
            .unwrap()
    }
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location on a {}", response.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

/// The `<input type="hidden">` fields of a page (values unescaped).
fn hidden_fields(html: &str) -> Vec<(String, String)> {
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
async fn log_in(
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
async fn authorize_in_browser(
    app: &TestApp,
    browser: &Browser,
    auth_url: &str,
    email: &str,
    approve: bool,
) -> String {
    let first = browser.get(auth_url).await;
    assert_eq!(first.status(), 302, "{}", first.text().await.unwrap());
    let mut next = location(&first);
    if next.contains("/authorize/login") {
        let after_login = log_in(app, browser, &next, email, PASSWORD).await;
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
fn query_of(url: &str) -> HashMap<String, String> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// A full authorization code + PKCE flow; returns the token response.
async fn full_flow(
    app: &TestApp,
    registered: &Registered,
    browser: &Browser,
    email: &str,
    scopes: &[&str],
) -> oauth2::basic::BasicTokenResponse {
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
    registered
        .client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .set_pkce_verifier(verifier)
        .request_async(&http_client())
        .await
        .unwrap()
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
