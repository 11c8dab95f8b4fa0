//! A fake Google, GitHub and OpenID provider on loopback, for the social
//! login tests: it keeps the codes it issued with the PKCE challenge,
//! nonce and redirect URI of their authorization request, checks them at
//! the token endpoint like the real ones do, and signs ID tokens with the
//! RSA keys of `tests/fixtures`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use identityd::clock::{Clock as _, ManualClock};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

pub const CLIENT_ID: &str = "test-client-id";
pub const CLIENT_SECRET: &str = "test-client-secret";
pub const KEY_A: &str = "key-a";
pub const KEY_B: &str = "key-b";

const DER_A: &[u8] = include_bytes!("../fixtures/google_a.der");
const DER_B: &[u8] = include_bytes!("../fixtures/google_b.der");
const N_A: &str = include_str!("../fixtures/google_a.n");
const N_B: &str = include_str!("../fixtures/google_b.n");

/// Who logs in at the fake provider.
#[derive(Debug, Clone, Default)]
pub struct Person {
    pub sub: String,
    pub email: Option<String>,
    /// `email_verified` as the ID token (or GitHub's list) says it.
    pub verified: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// GitHub: `name`; the `login` is `user<sub>`.
    pub name: Option<String>,
}

impl Person {
    pub fn new(sub: &str, email: &str, verified: bool) -> Self {
        Self {
            sub: sub.to_owned(),
            email: Some(email.to_owned()),
            verified,
            given_name: Some("Grace".to_owned()),
            family_name: Some("Hopper".to_owned()),
            name: Some("Grace Hopper".to_owned()),
        }
    }
}

/// How the next ID token is spoiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Spoil {
    #[default]
    None,
    /// A nonce other than the authorization request's.
    WrongNonce,
    /// Signed with key B but labelled `key-a`: a bad signature.
    ForgedSignature,
    /// Signed with key B under `key-b`.
    SignWithB,
    /// No `id_token` in the token response.
    NoIdToken,
    /// Expired two minutes ago.
    Expired,
    /// The ID token carries no email (user info must complete it).
    NoEmailClaim,
    /// Another issuer.
    WrongIssuer,
    /// Another audience.
    WrongAudience,
    /// HMAC-signed (an algorithm confusion attempt) under `key-a`.
    Hmac,
}

struct Issued {
    person: Person,
    provider: &'static str,
    redirect_uri: String,
    challenge: Option<String>,
    nonce: Option<String>,
}

#[derive(Default)]
struct Inner {
    /// The identityd under test's clock: ID tokens are issued "now" for it.
    clock: Option<Arc<ManualClock>>,
    codes: HashMap<String, Issued>,
    access: HashMap<String, Person>,
    /// Kids the JWKS publishes.
    published: Vec<&'static str>,
    jwks_fetches: usize,
    spoil: Spoil,
    /// The token endpoint answers this status and body instead.
    token_failure: Option<(u16, Value)>,
    /// `/user` (GitHub) and user info fail with 500.
    profile_down: bool,
    /// GitHub's `/user/emails` fails with 403.
    emails_down: bool,
    next: u64,
}

#[derive(Clone)]
pub struct FakeProvider {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl FakeProvider {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            published: vec![KEY_A],
            ..Inner::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let fake = Self { addr, inner };
        let app = Router::new()
            .route("/google/token", post(google_token))
            .route("/google/certs", get(certs))
            .route("/google/userinfo", get(userinfo))
            .route("/github/token", post(github_token))
            .route("/github/api/user", get(github_user))
            .route("/github/api/user/emails", get(github_emails))
            .route("/oidc/.well-known/openid-configuration", get(discovery))
            .route("/oidc/token", post(oidc_token))
            .route("/oidc/certs", get(certs))
            .route("/oidc/userinfo", get(userinfo))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        fake
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The settings pointing identityd at this fake, for every provider.
    pub fn env(&self) -> Vec<(String, String)> {
        let env = vec![
            ("OAUTH_ENABLED", "true".to_owned()),
            ("OAUTH_GOOGLE_CLIENT_ID", CLIENT_ID.to_owned()),
            ("OAUTH_GOOGLE_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
            ("OAUTH_GOOGLE_AUTHORIZE_URL", self.url("/google/authorize")),
            ("OAUTH_GOOGLE_TOKEN_URL", self.url("/google/token")),
            ("OAUTH_GOOGLE_USERINFO_URL", self.url("/google/userinfo")),
            ("OAUTH_GOOGLE_JWKS_URL", self.url("/google/certs")),
            ("OAUTH_GOOGLE_ISSUER", self.url("/google")),
            ("OAUTH_GITHUB_CLIENT_ID", CLIENT_ID.to_owned()),
            ("OAUTH_GITHUB_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
            ("OAUTH_GITHUB_AUTHORIZE_URL", self.url("/github/authorize")),
            ("OAUTH_GITHUB_TOKEN_URL", self.url("/github/token")),
            ("OAUTH_GITHUB_API_URL", self.url("/github/api")),
            (
                "OAUTH_TOKEN_ENCRYPTION_KEY",
                URL_SAFE_NO_PAD.encode([9u8; 32]),
            ),
        ];
        env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    /// Settings of the generic OpenID provider (discovery at `/oidc`).
    pub fn oidc_env(&self) -> Vec<(String, String)> {
        [
            ("OAUTH_OIDC_CLIENT_ID", CLIENT_ID.to_owned()),
            ("OAUTH_OIDC_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
            ("OAUTH_OIDC_ISSUER", self.url("/oidc")),
            ("OAUTH_OIDC_NAME", "Acme SSO".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// The user consents at the provider: a code for `person`, bound to the
    /// parameters of `authorization_url`.
    pub fn consent(&self, authorization_url: &str, person: &Person) -> String {
        let url = reqwest::Url::parse(authorization_url).unwrap();
        let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(query["client_id"], CLIENT_ID);
        assert_eq!(query["response_type"], "code");
        let provider = match url.path() {
            "/google/authorize" => "google",
            "/github/authorize" => "github",
            "/oidc/authorize" => "oidc",
            other => panic!("unexpected authorization URL {other}"),
        };
        if provider != "github" {
            assert_eq!(query["code_challenge_method"], "S256");
            assert_eq!(query["scope"], "openid email profile");
        } else {
            assert_eq!(query["scope"], "read:user user:email");
        }
        let mut inner = self.inner.lock().unwrap();
        inner.next += 1;
        let code = format!("code-{}", inner.next);
        inner.codes.insert(
            code.clone(),
            Issued {
                person: person.clone(),
                provider,
                redirect_uri: query["redirect_uri"].clone(),
                challenge: query.get("code_challenge").cloned(),
                nonce: query.get("nonce").cloned(),
            },
        );
        code
    }

    pub fn set_clock(&self, clock: Arc<ManualClock>) {
        self.inner.lock().unwrap().clock = Some(clock);
    }

    fn now(&self) -> i64 {
        let clock = self.inner.lock().unwrap().clock.clone().unwrap();
        clock.now().unix_seconds()
    }

    pub fn spoil(&self, spoil: Spoil) {
        self.inner.lock().unwrap().spoil = spoil;
    }

    pub fn publish(&self, kids: &[&'static str]) {
        self.inner.lock().unwrap().published = kids.to_vec();
    }

    pub fn jwks_fetches(&self) -> usize {
        self.inner.lock().unwrap().jwks_fetches
    }

    pub fn fail_token(&self, failure: Option<(u16, Value)>) {
        self.inner.lock().unwrap().token_failure = failure;
    }

    pub fn profile_down(&self, down: bool) {
        self.inner.lock().unwrap().profile_down = down;
    }

    pub fn emails_down(&self, down: bool) {
        self.inner.lock().unwrap().emails_down = down;
    }
}

fn json_answer(status: u16, body: &Value) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn form(body: &Bytes) -> HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn token_error(description: &str) -> (u16, Value) {
    (
        400,
        json!({"error": "invalid_grant", "error_description": description}),
    )
}

/// Checks the code grant like a real token endpoint; returns the person.
fn redeem(
    fake: &FakeProvider,
    provider: &str,
    form: &HashMap<String, String>,
    basic: Option<&str>,
) -> Result<(Issued, String), (u16, Value)> {
    let mut inner = fake.inner.lock().unwrap();
    if let Some((status, body)) = inner.token_failure.clone() {
        return Err((status, body));
    }
    let credentials = match basic {
        Some(header) => {
            let encoded = header.strip_prefix("Basic ").unwrap_or_default();
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .unwrap_or_default();
            let text = String::from_utf8(decoded).unwrap_or_default();
            let (id, secret) = text.split_once(':').unwrap_or_default();
            (id.to_owned(), secret.to_owned())
        }
        None => (
            form.get("client_id").cloned().unwrap_or_default(),
            form.get("client_secret").cloned().unwrap_or_default(),
        ),
    };
    if credentials != (CLIENT_ID.to_owned(), CLIENT_SECRET.to_owned()) {
        return Err((401, json!({"error": "invalid_client"})));
    }
    let code = form.get("code").cloned().unwrap_or_default();
    let Some(issued) = inner.codes.remove(&code) else {
        return Err(token_error("unknown or used code"));
    };
    if issued.provider != provider || form.get("redirect_uri") != Some(&issued.redirect_uri) {
        return Err(token_error("redirect_uri mismatch"));
    }
    if let Some(challenge) = &issued.challenge {
        let verifier = form.get("code_verifier").cloned().unwrap_or_default();
        if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != *challenge {
            return Err(token_error("PKCE verification failed"));
        }
    }
    inner.next += 1;
    let access = format!("access-{}", inner.next);
    inner.access.insert(access.clone(), issued.person.clone());
    Ok((issued, access))
}

fn id_token(fake: &FakeProvider, issuer: &str, issued: &Issued) -> Option<String> {
    let spoil = fake.inner.lock().unwrap().spoil;
    if spoil == Spoil::NoIdToken {
        return None;
    }
    let now = fake.now();
    let person = &issued.person;
    let mut claims = json!({
        "iss": issuer,
        "aud": CLIENT_ID,
        "sub": person.sub,
        "iat": now,
        "exp": now + 3600,
        "nonce": issued.nonce,
        "email_verified": person.verified,
        "given_name": person.given_name,
        "family_name": person.family_name,
    });
    if spoil != Spoil::NoEmailClaim {
        claims["email"] = json!(person.email);
    }
    match spoil {
        Spoil::WrongNonce => claims["nonce"] = json!("another-nonce"),
        Spoil::WrongIssuer => claims["iss"] = json!("https://evil.example"),
        Spoil::WrongAudience => claims["aud"] = json!("another-client"),
        Spoil::Expired => {
            claims["iat"] = json!(now - 3600);
            claims["exp"] = json!(now - 120);
        }
        _ => {}
    }
    if spoil == Spoil::Hmac {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(KEY_A.to_owned());
        let key = EncodingKey::from_secret(N_A.trim().as_bytes());
        return Some(jsonwebtoken::encode(&header, &claims, &key).unwrap());
    }
    let (der, kid) = match spoil {
        Spoil::ForgedSignature => (DER_B, KEY_A),
        Spoil::SignWithB => (DER_B, KEY_B),
        _ => (DER_A, KEY_A),
    };
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    let key = EncodingKey::from_rsa_der(der);
    Some(jsonwebtoken::encode(&header, &claims, &key).unwrap())
}

fn openid_token(
    fake: &FakeProvider,
    provider: &str,
    issuer: String,
    form: HashMap<String, String>,
    basic: Option<&str>,
) -> Response {
    match redeem(fake, provider, &form, basic) {
        Err((status, body)) => json_answer(status, &body),
        Ok((issued, access)) => {
            let mut body = json!({
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": 3599,
                "refresh_token": format!("refresh-for-{access}"),
                "scope": "openid email profile",
            });
            if let Some(token) = id_token(fake, &issuer, &issued) {
                body["id_token"] = json!(token);
            }
            json_answer(200, &body)
        }
    }
}

async fn google_token(State(fake): State<FakeProvider>, body: Bytes) -> Response {
    let issuer = fake.url("/google");
    openid_token(&fake, "google", issuer, form(&body), None)
}

async fn oidc_token(State(fake): State<FakeProvider>, headers: HeaderMap, body: Bytes) -> Response {
    // This provider only supports client_secret_basic.
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if basic.is_none() {
        return json_answer(401, &json!({"error": "invalid_client"}));
    }
    let issuer = fake.url("/oidc");
    openid_token(&fake, "oidc", issuer, form(&body), basic.as_deref())
}

async fn certs(State(fake): State<FakeProvider>) -> Response {
    let mut inner = fake.inner.lock().unwrap();
    inner.jwks_fetches += 1;
    let keys: Vec<Value> = inner
        .published
        .iter()
        .map(|kid| {
            let n = if *kid == KEY_A { N_A } else { N_B };
            json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n.trim(), "e": "AQAB"})
        })
        // A key of a kind identityd does not use is skipped, not fatal.
        .chain([json!({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"})])
        .collect();
    let mut answer = json_answer(200, &json!({ "keys": keys }));
    answer.headers_mut().insert(
        header::CACHE_CONTROL,
        "public, max-age=3600, must-revalidate".parse().unwrap(),
    );
    answer
}

fn bearer_person(fake: &FakeProvider, headers: &HeaderMap) -> Option<Person> {
    let inner = fake.inner.lock().unwrap();
    if inner.profile_down {
        return None;
    }
    let token = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    inner.access.get(token).cloned()
}

async fn userinfo(State(fake): State<FakeProvider>, headers: HeaderMap) -> Response {
    let Some(person) = bearer_person(&fake, &headers) else {
        return json_answer(500, &json!({"error": "server_error"}));
    };
    json_answer(
        200,
        &json!({
            "sub": person.sub,
            "email": person.email,
            "email_verified": person.verified,
            "given_name": person.given_name,
            "family_name": person.family_name,
        }),
    )
}

async fn github_token(State(fake): State<FakeProvider>, body: Bytes) -> Response {
    match redeem(&fake, "github", &form(&body), None) {
        // GitHub answers grant errors with 200 and an `error` member.
        Err(_) => json_answer(200, &json!({"error": "bad_verification_code"})),
        Ok((_, access)) => json_answer(
            200,
            &json!({"access_token": access, "token_type": "bearer", "scope": "read:user,user:email"}),
        ),
    }
}

async fn github_user(State(fake): State<FakeProvider>, headers: HeaderMap) -> Response {
    if headers.get(header::USER_AGENT).is_none() {
        return json_answer(403, &json!({"message": "User-Agent required"}));
    }
    let Some(person) = bearer_person(&fake, &headers) else {
        return json_answer(500, &json!({"message": "Server Error"}));
    };
    let id: u64 = person.sub.parse().unwrap();
    json_answer(
        200,
        &json!({
            "id": id,
            "login": format!("user{id}"),
            "name": person.name,
            // Public profile email: never used by identityd.
            "email": "public@elsewhere.example",
        }),
    )
}

async fn github_emails(State(fake): State<FakeProvider>, headers: HeaderMap) -> Response {
    if fake.inner.lock().unwrap().emails_down {
        return json_answer(403, &json!({"message": "Resource not accessible"}));
    }
    let Some(person) = bearer_person(&fake, &headers) else {
        return json_answer(500, &json!({"message": "Server Error"}));
    };
    let mut list =
        vec![json!({"email": "secondary@elsewhere.example", "primary": false, "verified": true})];
    if let Some(email) = person.email {
        list.push(json!({"email": email, "primary": true, "verified": person.verified}));
    }
    json_answer(200, &json!(list))
}

async fn discovery(State(fake): State<FakeProvider>) -> Response {
    json_answer(
        200,
        &json!({
            "issuer": fake.url("/oidc"),
            "authorization_endpoint": fake.url("/oidc/authorize"),
            "token_endpoint": fake.url("/oidc/token"),
            "userinfo_endpoint": fake.url("/oidc/userinfo"),
            "jwks_uri": fake.url("/oidc/certs"),
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code"],
        }),
    )
}
