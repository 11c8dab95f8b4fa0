//! OpenID Connect, driven by an independent relying-party library
//! (`openidconnect`): discovery from the issuer URL alone, the code flow
//! with PKCE and a nonce, ID token verification from the JWK Set (with
//! `at_hash`), userinfo, refresh; each signing algorithm; and the signing
//! keys rotating under an injected clock while relying parties verify.

use base64::Engine as _;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse as _, PkceCodeChallenge,
    RedirectUrl, Scope, TokenResponse as _,
};
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::TestApp;
use crate::oauth_provider::{
    Browser, WEB_REDIRECT, authorize_in_browser, location, log_in, query_of,
};

pub const API: &str = "/api/v1/oauth/provider";

type Rp = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

pub fn rp_http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Discovery from the issuer URL, as a relying party does it.
async fn discover(app: &TestApp) -> CoreProviderMetadata {
    CoreProviderMetadata::discover_async(IssuerUrl::new(app.url("")).unwrap(), &rp_http())
        .await
        .unwrap()
}

/// Registers a client at the RFC 7591 endpoint.
pub async fn register_dynamic(app: &TestApp, document: Value) -> Value {
    let answer = app
        .send(
            app.http
                .post(app.url(&format!("{API}/register")))
                .json(&document),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    answer.body
}

/// A confidential relying party, registered dynamically, configured from
/// discovery.
async fn relying_party(app: &TestApp) -> Rp {
    let registered = register_dynamic(
        app,
        json!({
            "client_name": "Demo <App>",
            "redirect_uris": [WEB_REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "scope": "openid profile email",
        }),
    )
    .await;
    CoreClient::from_provider_metadata(
        discover(app).await,
        ClientId::new(registered["client_id"].as_str().unwrap().to_owned()),
        Some(ClientSecret::new(
            registered["client_secret"].as_str().unwrap().to_owned(),
        )),
    )
    .set_redirect_uri(RedirectUrl::new(WEB_REDIRECT.to_owned()).unwrap())
}

/// The claims of a JWT, unverified (for members the library does not
/// expose).
pub fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

fn header(jwt: &str) -> Value {
    let part = jwt.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

/// Signs in through the browser and exchanges the code: the token
/// response and the nonce of the request.
async fn sign_in(
    app: &TestApp,
    rp: &Rp,
    email: &str,
) -> (openidconnect::core::CoreTokenResponse, Nonce) {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".to_owned()))
        .add_scope(Scope::new("email".to_owned()))
        .set_pkce_challenge(challenge)
        .url();
    let back = authorize_in_browser(app, &Browser::new(), url.as_str(), email, true).await;
    let params = query_of(&back);
    assert_eq!(params.get("state"), Some(state.secret()));
    assert_eq!(
        params.get("iss").map(String::as_str),
        Some(app.url("").as_str())
    );
    let tokens = rp
        .exchange_code(AuthorizationCode::new(params["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&rp_http())
        .await
        .unwrap();
    (tokens, nonce)
}

/// The relying party's verifier for `alg`, on the server's clock.
fn verifier<'a>(
    app: &'a TestApp,
    rp: &'a Rp,
    alg: CoreJwsSigningAlgorithm,
) -> openidconnect::core::CoreIdTokenVerifier<'a> {
    let clock = app.clock.clone();
    rp.id_token_verifier()
        .set_allowed_algs(vec![alg])
        .set_time_fn(move || identityd::clock::Clock::now(clock.as_ref()).as_datetime())
}

async fn code_flow_with(app: TestApp, alg: CoreJwsSigningAlgorithm, name: &str) {
    app.register("ada@example.com").await;
    let discovered = discover(&app).await;
    assert!(
        discovered
            .id_token_signing_alg_values_supported()
            .contains(&alg)
    );
    let rp = relying_party(&app).await;
    let (tokens, nonce) = sign_in(&app, &rp, "ada@example.com").await;
    let id_token = tokens.id_token().unwrap();
    assert_eq!(header(&id_token.to_string())["alg"], name);
    let verifier = verifier(&app, &rp, alg.clone());
    let claims = id_token.claims(&verifier, &nonce).unwrap();
    assert_eq!(claims.email().unwrap().as_str(), "ada@example.com");
    assert_eq!(claims.email_verified(), Some(false));
    assert_eq!(
        claims.given_name().unwrap().get(None).unwrap().as_str(),
        "Ada"
    );
    assert!(claims.auth_time().is_some());
    // at_hash binds the access token, with the hash of the algorithm.
    let expected = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected));
    let raw = payload(&id_token.to_string());
    assert!(raw["sid"].is_string(), "{raw}");
    assert_eq!(raw["azp"], raw["aud"]);
    // A nonce other than the request's is refused by the library.
    assert!(
        id_token
            .claims(&verifier, &Nonce::new("other".to_owned()))
            .is_err()
    );
    // userinfo, through the library.
    let info: CoreUserInfoClaims = rp
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .unwrap()
        .request_async(&rp_http())
        .await
        .unwrap();
    assert_eq!(info.email().unwrap().as_str(), "ada@example.com");
    // Refresh: a new ID token, same subject and auth_time, no nonce.
    let refreshed = rp
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .unwrap()
        .request_async(&rp_http())
        .await
        .unwrap();
    let again = refreshed.id_token().unwrap();
    let again_claims = again
        .claims(&verifier, |n: Option<&Nonce>| {
            n.is_none()
                .then_some(())
                .ok_or("nonce on refresh".to_owned())
        })
        .unwrap();
    assert_eq!(again_claims.subject(), claims.subject());
    assert_eq!(again_claims.auth_time(), claims.auth_time());
}

db_test!(code_flow_eddsa, env: [("OAUTH_PROVIDER_ENABLED", "true"), ("OAUTH_REGISTRATION", "open")], |app| {
    code_flow_with(app, CoreJwsSigningAlgorithm::EdDsa, "EdDSA").await;
});

db_test!(code_flow_es256, env: [("OAUTH_PROVIDER_ENABLED", "true"), ("OAUTH_REGISTRATION", "open"), ("OAUTH_SIGNING_ALG", "ES256")], |app| {
    code_flow_with(app, CoreJwsSigningAlgorithm::EcdsaP256Sha256, "ES256").await;
});

db_test!(code_flow_rs256, env: [("OAUTH_PROVIDER_ENABLED", "true"), ("OAUTH_REGISTRATION", "open"), ("OAUTH_SIGNING_ALG", "RS256")], |app| {
    code_flow_with(app, CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, "RS256").await;
});

db_test!(discovery_documents, env: [("OAUTH_PROVIDER_ENABLED", "true")], |app| {
    let issuer = app.url("");
    let oidc = app.send(app.http.get(app.url("/.well-known/openid-configuration"))).await;
    assert_eq!(oidc.status, 200);
    assert_eq!(oidc.header("cache-control"), Some("public, max-age=300"));
    let doc = &oidc.body;
    assert_eq!(doc["issuer"], issuer);
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(doc["userinfo_endpoint"], format!("{issuer}{API}/userinfo"));
    assert_eq!(doc["id_token_signing_alg_values_supported"], json!(["EdDSA"]));
    assert_eq!(doc["client_id_metadata_document_supported"], true);
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    // Registration is off by default: no endpoint advertised, and 404.
    assert!(doc.get("registration_endpoint").is_none());
    let register = app.post(&format!("{API}/register"), json!({})).await;
    assert_eq!(register.status, 404);
    // RFC 8414 metadata is the same document.
    let oauth = app.send(app.http.get(app.url("/.well-known/oauth-authorization-server"))).await;
    assert_eq!(oauth.body, oidc.body);
    // RFC 9728: the API's protected-resource metadata, at the root and
    // with the API's path inserted.
    for path in ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/api/v1"] {
        let prm = app.send(app.http.get(app.url(path))).await;
        assert_eq!(prm.status, 200, "{path}");
        assert_eq!(prm.body["resource"], format!("{issuer}/api/v1"));
        assert_eq!(prm.body["authorization_servers"], json!([issuer]));
        assert!(prm.body["scopes_supported"].as_array().unwrap().contains(&json!("read:users")));
    }
    // Every published key has a kid, and the tokens name theirs.
    let jwks = app.send(app.http.get(app.url("/.well-known/jwks.json"))).await;
    let keys = jwks.body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kty"], "OKP");
    assert!(keys[0]["kid"].is_string());
});

db_test!(discovery_advertises_registration_when_on, env: [("OAUTH_PROVIDER_ENABLED", "true"), ("OAUTH_REGISTRATION", "open")], |app| {
    let doc = app.send(app.http.get(app.url("/.well-known/openid-configuration"))).await.body;
    assert_eq!(doc["registration_endpoint"], app.url(&format!("{API}/register")));
});

db_test!(userinfo_filters_claims_by_scope, env: [("OAUTH_PROVIDER_ENABLED", "true"), ("OAUTH_REGISTRATION", "open")], |app| {
    app.register("ada@example.com").await;
    let rp = relying_party(&app).await;
    let (tokens, _) = sign_in(&app, &rp, "ada@example.com").await;
    let access = tokens.access_token().secret().clone();
    let url = app.url(&format!("{API}/userinfo"));
    // GET with the header, POST with the form: the same claims.
    let get = app.send(app.http.get(&url).bearer_auth(&access)).await;
    assert_eq!(get.status, 200, "{}", get.body);
    assert_eq!(get.header("cache-control"), Some("no-store"));
    assert_eq!(get.body["email"], "ada@example.com");
    assert_eq!(get.body["given_name"], "Ada");
    let post = app.send(app.http.post(&url).form(&[("access_token", access.as_str())])).await;
    assert_eq!(post.body, get.body);
    // Narrowed to openid on refresh: the subject only.
    let narrow = app
        .send(app.http.post(app.url(&format!("{API}/token"))).form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens.refresh_token().unwrap().secret()),
            ("scope", "openid"),
            ("client_id", rp.client_id().as_str()),
        ]))
        .await;
    // A confidential client must authenticate: the RP library does it.
    assert_eq!(narrow.status, 401);
    let narrowed = rp
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .unwrap()
        .add_scope(Scope::new("openid".to_owned()))
        .request_async(&rp_http())
        .await
        .unwrap();
    let only_sub = app
        .send(app.http.get(&url).bearer_auth(narrowed.access_token().secret()))
        .await;
    assert_eq!(only_sub.status, 200);
    assert_eq!(only_sub.body.as_object().unwrap().keys().collect::<Vec<_>>(), ["sub"]);
    // Without a token, with a bad one, with two.
    let none = app.send(app.http.get(&url)).await;
    assert_eq!(none.status, 401);
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));
    let bad = app.send(app.http.get(&url).bearer_auth("a.b.c")).await;
    assert_eq!(bad.status, 401);
    assert!(bad.header("www-authenticate").unwrap().contains("invalid_token"));
    let two = app
        .send(app.http.post(&url).bearer_auth(&access).form(&[("access_token", access.as_str())]))
        .await;
    assert_eq!(two.status, 400);
    // A first-party token is not an access token of this server.
    let first_party = app.user("grace@example.com").await;
    let refused = app
        .send(app.http.get(&url).bearer_auth(first_party["access_token"].as_str().unwrap()))
        .await;
    assert_eq!(refused.status, 401);
});

db_test!(userinfo_needs_the_openid_scope, env: [("OAUTH_PROVIDER_ENABLED", "true"), ("OAUTH_REGISTRATION", "open")], |app| {
    app.register("ada@example.com").await;
    let registered = register_dynamic(&app, json!({
        "client_name": "Demo <App>",
        "redirect_uris": [WEB_REDIRECT],
        "scope": "openid read:users",
    })).await;
    let client_id = registered["client_id"].as_str().unwrap();
    let secret = registered["client_secret"].as_str().unwrap();
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let url = identityd::domain::oauth::with_query(
        &app.url(&format!("{API}/authorize")),
        &[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", WEB_REDIRECT),
            ("scope", "read:users"),
            ("state", "s"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
    );
    let back = authorize_in_browser(&app, &Browser::new(), &url, "ada@example.com", true).await;
    let code = query_of(&back)["code"].clone();
    let answer = app
        .send(
            app.http
                .post(app.url(&format!("{API}/token")))
                .basic_auth(client_id, Some(secret))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", WEB_REDIRECT),
                    ("code_verifier", verifier.secret().as_str()),
                ]),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["scope"], "read:users");
    // No openid: no ID token. Registered without refresh_token: no
    // refresh token either.
    assert!(answer.body.get("id_token").is_none());
    assert!(answer.body.get("refresh_token").is_none());
    let info = app
        .send(
            app.http
                .get(app.url(&format!("{API}/userinfo")))
                .bearer_auth(answer.body["access_token"].as_str().unwrap()),
        )
        .await;
    assert_eq!(info.status, 403);
    assert!(info.header("www-authenticate").unwrap().contains("insufficient_scope"));
});

/// Runs one rotation pass now, as every replica's timer does.
async fn rotate_now(app: &TestApp) {
    let ring = app.state.provider_keys.as_ref().unwrap();
    identityd::service::oauth::keys::reload(&app.state, ring)
        .await
        .unwrap();
}

async fn kids(app: &TestApp) -> Vec<String> {
    let jwks = app
        .send(app.http.get(app.url("/.well-known/jwks.json")))
        .await;
    jwks.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// A verifier from a fresh discovery (a relying party that refetches the
/// JWK Set on an unknown kid), on the server's clock shifted by `shift`.
async fn fresh_verifier(
    app: &TestApp,
    rp: &Rp,
    shift: chrono::Duration,
) -> (
    Rp,
    std::sync::Arc<identityd::clock::ManualClock>,
    chrono::Duration,
) {
    let fresh =
        CoreClient::from_provider_metadata(discover(app).await, rp.client_id().clone(), None)
            .set_redirect_uri(RedirectUrl::new(WEB_REDIRECT.to_owned()).unwrap());
    (fresh, app.clock.clone(), shift)
}

fn verify_at(
    rp: &Rp,
    clock: std::sync::Arc<identityd::clock::ManualClock>,
    shift: chrono::Duration,
    token: &openidconnect::core::CoreIdToken,
) -> bool {
    let verifier = rp
        .id_token_verifier()
        .set_allowed_algs(vec![CoreJwsSigningAlgorithm::EdDsa])
        .set_time_fn(move || identityd::clock::Clock::now(clock.as_ref()).as_datetime() + shift);
    token.claims(&verifier, |_: Option<&Nonce>| Ok(())).is_ok()
}

db_test!(keys_rotate_while_relying_parties_verify, env: [("OAUTH_PROVIDER_ENABLED", "true"), ("OAUTH_REGISTRATION", "open"), ("OAUTH_KEY_ROTATION_DAYS", "30")], |app| {
    use chrono::Duration;
    app.register("ada@example.com").await;
    let rp = relying_party(&app).await;
    let first = kids(&app).await;
    assert_eq!(first.len(), 1);
    // Day 28: nothing to do yet.
    app.clock.advance(Duration::days(28));
    rotate_now(&app).await;
    assert_eq!(kids(&app).await, first);
    // Day 29: the next key is published a day before it signs; the old
    // one still signs.
    app.clock.advance(Duration::days(1));
    rotate_now(&app).await;
    let both = kids(&app).await;
    assert_eq!(both.len(), 2);
    assert_eq!(both[0], first[0]);
    let next = both[1].clone();
    app.clock.advance(Duration::hours(23) + Duration::minutes(50));
    let (old, _) = sign_in(&app, &rp, "ada@example.com").await;
    let old_id = old.id_token().unwrap().clone();
    assert_eq!(header(&old_id.to_string())["kid"], first[0].as_str());
    assert_eq!(header(old.access_token().secret())["kid"], first[0].as_str());
    // Day 30: the new key signs, with no reload needed (it was loaded when
    // published); the old key stays published, so the ID token it signed
    // ten minutes ago still verifies at a relying party.
    app.clock.advance(Duration::minutes(11));
    let (new, _) = sign_in(&app, &rp, "ada@example.com").await;
    let new_id = new.id_token().unwrap().clone();
    assert_eq!(header(&new_id.to_string())["kid"], next.as_str());
    assert_eq!(header(new.access_token().secret())["kid"], next.as_str());
    rotate_now(&app).await;
    assert_eq!(kids(&app).await, both);
    let (fresh, clock, shift) = fresh_verifier(&app, &rp, Duration::zero()).await;
    assert!(verify_at(&fresh, clock.clone(), shift, &old_id));
    assert!(verify_at(&fresh, clock, shift, &new_id));
    // 65 minutes after the switch (every token of the old key has
    // expired), the old key is withdrawn.
    app.clock.advance(Duration::minutes(66));
    rotate_now(&app).await;
    assert_eq!(kids(&app).await, vec![next.clone()]);
    // A relying party that refreshes its keys no longer verifies the old
    // key's signature (even on a clock where the token has not expired);
    // the new key's tokens verify.
    let (later, clock, _) = fresh_verifier(&app, &rp, Duration::zero()).await;
    assert!(!verify_at(&later, clock.clone(), Duration::minutes(-70), &old_id));
    assert!(verify_at(&later, clock, Duration::minutes(-70), &new_id));
});

/// `identityd keys …` on a database: whether it succeeded, and its output.
fn keys_command(dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_identityd"))
        .arg("keys")
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/keys.db", dir.display()),
        )
        .env("SECRET_KEY", crate::helpers::SECRET_KEY)
        .env("OAUTH_PROVIDER_ENABLED", "true")
        .env("BCRYPT_COST", "4")
        .env("LOG_LEVEL", "warn")
        .output()
        .unwrap();
    // Listings go to stderr, failures to the log (stdout).
    let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stdout));
    (output.status.success(), text)
}

#[test]
fn keys_are_listed_and_rotated_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    // The first start generates the signing key.
    let (ok, listed) = keys_command(dir.path(), &["list"]);
    assert!(ok, "{listed}");
    assert_eq!(
        listed.lines().filter(|l| l.contains("EdDSA")).count(),
        1,
        "{listed}"
    );
    // The next key: published now, signing later; a second is refused.
    let (ok, out) = keys_command(dir.path(), &["rotate"]);
    assert!(ok, "{out}");
    let (ok, refused) = keys_command(dir.path(), &["rotate"]);
    assert!(!ok);
    assert!(refused.contains("already waits to sign"), "{refused}");
    let (_, listed) = keys_command(dir.path(), &["list"]);
    assert_eq!(
        listed.lines().filter(|l| l.contains("EdDSA")).count(),
        2,
        "{listed}"
    );
    // A compromised key: one new key, every other withdrawn.
    let (ok, out) = keys_command(dir.path(), &["rotate", "--immediately"]);
    assert!(ok, "{out}");
    let (_, listed) = keys_command(dir.path(), &["list"]);
    assert_eq!(
        listed.lines().filter(|l| l.contains("EdDSA")).count(),
        1,
        "{listed}"
    );
    let (ok, usage) = keys_command(dir.path(), &["spin"]);
    assert!(!ok);
    assert!(usage.contains("usage"), "{usage}");
}

db_test!(prompt_and_max_age, env: [("OAUTH_PROVIDER_ENABLED", "true"), ("OAUTH_REGISTRATION", "open")], |app| {
    app.register("ada@example.com").await;
    let registered = register_dynamic(&app, json!({
        "client_name": "Demo <App>",
        "redirect_uris": [WEB_REDIRECT],
        "scope": "openid",
    })).await;
    let client_id = registered["client_id"].as_str().unwrap().to_owned();
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let url = |extra: &[(&str, &str)]| {
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", client_id.as_str()),
            ("redirect_uri", WEB_REDIRECT),
            ("scope", "openid"),
            ("state", "s"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        params.extend_from_slice(extra);
        identityd::domain::oauth::with_query(&app.url(&format!("{API}/authorize")), &params)
    };
    let browser = Browser::new();
    let next = |response: reqwest::Response| {
        assert_eq!(response.status(), 302);
        location(&response)
    };
    // Nobody signed in: prompt=none answers login_required at the client.
    let silent = query_of(&next(browser.get(&url(&[("prompt", "none")])).await));
    assert_eq!(silent["error"], "login_required");
    assert_eq!(silent["state"], "s");
    assert_eq!(silent["iss"], app.url(""));
    for bad in ["none login", "sideways"] {
        let refused = query_of(&next(browser.get(&url(&[("prompt", bad)])).await));
        assert_eq!(refused["error"], "invalid_request", "{bad}");
    }
    let malformed = browser.get(&url(&[("max_age", "soon")])).await;
    assert_eq!(malformed.status(), 422);
    // Signed in, no consent yet: consent_required.
    let back = authorize_in_browser(&app, &browser, &url(&[("prompt", "consent")]), "ada@example.com", false).await;
    assert_eq!(query_of(&back)["error"], "access_denied");
    let silent = query_of(&next(browser.get(&url(&[("prompt", "none")])).await));
    assert_eq!(silent["error"], "consent_required");
    // Consented: prompt=none gives a code at once; prompt=consent asks again.
    let back = authorize_in_browser(&app, &browser, &url(&[]), "ada@example.com", true).await;
    assert!(query_of(&back).contains_key("code"));
    assert!(query_of(&next(browser.get(&url(&[("prompt", "none")])).await)).contains_key("code"));
    assert!(next(browser.get(&url(&[("prompt", "consent")])).await).contains("/authorize/consent"));
    // prompt=login: the login form although signed in; after signing in
    // again, the code.
    app.clock.advance(chrono::Duration::seconds(1));
    let login = next(browser.get(&url(&[("prompt", "login")])).await);
    assert!(login.contains("/authorize/login"), "{login}");
    let after = log_in(&app, &browser, &login, "ada@example.com", crate::helpers::PASSWORD).await;
    assert_eq!(after.status(), 303);
    let done = next(browser.get(&app.url(&location(&after))).await);
    assert!(query_of(&done).contains_key("code"), "{done}");
    // max_age: a login older than it asks for a new one (and prompt=none
    // cannot); a younger one does not.
    app.clock.advance(chrono::Duration::seconds(60));
    assert!(next(browser.get(&url(&[("max_age", "30")])).await).contains("/authorize/login"));
    let silent = query_of(&next(browser.get(&url(&[("max_age", "30"), ("prompt", "none")])).await));
    assert_eq!(silent["error"], "login_required");
    assert!(query_of(&next(browser.get(&url(&[("max_age", "3600")])).await)).contains_key("code"));
});
