//! Social login against the fake Google, GitHub and OpenID provider of
//! `fake_provider.rs`: sign-up, return, auto-link, link and unlink, and
//! every refusal (state, nonce, signature, keys, provider errors), over
//! REST and gRPC, on both databases.

use chrono::Duration;
use identityd::grpc::pb;
use serde_json::{Value, json};

use crate::fake_provider::{FakeProvider, KEY_A, KEY_B, Person, Spoil};
use crate::helpers::{Answer, Db, PASSWORD, TestApp, reason, run_built, with_bearer};

const REDIRECT: &str = "http://app.test/auth/callback";

type Body = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Starts the fake provider, then identityd pointed at it (plus `extra`).
async fn run_social(
    db: Db,
    extra: &[(&str, &str)],
    body: impl FnOnce(TestApp, FakeProvider) -> Body,
) {
    let fake = FakeProvider::start().await;
    let mut builder = TestApp::builder(db);
    for (key, value) in fake.env().into_iter().chain(fake.oidc_env()) {
        builder = builder.env(&key, &value);
    }
    for (key, value) in extra {
        builder = builder.env(key, value);
    }
    let handle = fake.clone();
    run_built(builder, move |app| {
        handle.set_clock(app.clock.clone());
        body(app, handle)
    })
    .await;
}

macro_rules! social_test {
    ($name:ident, env: [$(($key:expr, $value:expr)),* $(,)?], |$app:ident, $fake:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports, reason = "not every test uses every import")]
            use super::*;

            async fn run($app: TestApp, $fake: FakeProvider) $body

            fn extra() -> Vec<(&'static str, &'static str)> {
                vec![$(($key, $value)),*]
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run_social(Db::Sqlite, &extra(), |a, f| Box::pin(run(a, f))).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run_social(Db::Postgres, &extra(), |a, f| Box::pin(run(a, f))).await;
            }
        }
    };
    ($name:ident, |$app:ident, $fake:ident| $body:block) => {
        social_test!($name, env: [], |$app, $fake| $body);
    };
}

struct Flow {
    url: String,
    state: String,
}

fn encoded(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// `GET /oauth/authorize/{provider}`, with a bearer token for a link flow.
async fn start(app: &TestApp, provider: &str, token: Option<&str>) -> Flow {
    let path = format!(
        "/api/v1/oauth/authorize/{provider}?redirect_uri={}",
        encoded(REDIRECT)
    );
    let answer = app.call("GET", &path, token, None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let flow = Flow {
        url: answer.body["authorization_url"]
            .as_str()
            .unwrap()
            .to_owned(),
        state: answer.body["state"].as_str().unwrap().to_owned(),
    };
    assert_eq!(flow.state.len(), 43);
    assert!(flow.url.contains(&format!("state={}", flow.state)));
    flow
}

/// `POST /oauth/callback/{provider}`.
async fn finish(app: &TestApp, provider: &str, state: &str, code: &str) -> Answer {
    let path = format!(
        "/api/v1/oauth/callback/{provider}?redirect_uri={}",
        encoded(REDIRECT)
    );
    app.post(&path, json!({"code": code, "state": state})).await
}

/// A whole login: start, consent at the provider as `person`, callback.
async fn log_in(app: &TestApp, fake: &FakeProvider, provider: &str, person: &Person) -> Answer {
    let flow = start(app, provider, None).await;
    let code = fake.consent(&flow.url, person);
    finish(app, provider, &flow.state, &code).await
}

/// A whole link flow for the holder of `token`.
async fn link(
    app: &TestApp,
    fake: &FakeProvider,
    provider: &str,
    token: &str,
    person: &Person,
) -> Answer {
    let path = format!(
        "/api/v1/oauth/link/{provider}?redirect_uri={}",
        encoded(REDIRECT)
    );
    let started = app.call("POST", &path, Some(token), None).await;
    assert_eq!(started.status, 200, "{}", started.body);
    let url = started.body["authorization_url"].as_str().unwrap();
    let code = fake.consent(url, person);
    finish(
        app,
        provider,
        started.body["state"].as_str().unwrap(),
        &code,
    )
    .await
}

fn access(answer: &Answer) -> String {
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body["access_token"].as_str().unwrap().to_owned()
}

async fn me(app: &TestApp, token: &str) -> Value {
    let answer = app.get_auth("/api/v1/users/me", token).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body
}

async fn accounts(app: &TestApp, token: &str) -> Vec<Value> {
    let answer = app.get_auth("/api/v1/oauth/accounts", token).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body["accounts"].as_array().unwrap().clone()
}

/// The stored token columns of a user's link.
async fn stored_tokens(app: &TestApp, user_id: &str) -> Vec<identityd::db::social::AccountRow> {
    let id = identityd::domain::types::Id(uuid::Uuid::parse_str(user_id).unwrap());
    let mut conn = app.state.db.get().await.unwrap();
    identityd::db::social::list_accounts(&mut conn, id)
        .await
        .unwrap()
}

fn assert_auth_failed(answer: &Answer, message: &str) {
    let item = answer.error(401, "AUTH_008");
    assert_eq!(item["message"], json!(message), "{}", answer.body);
}

social_test!(google_sign_up_return_and_session, |app, fake| {
    let providers = app.call("GET", "/api/v1/oauth/providers", None, None).await;
    assert_eq!(providers.status, 200);
    assert_eq!(
        providers.body,
        json!({"enabled": true, "providers": [
            {"provider": "google", "name": "Google", "icon": "google"},
            {"provider": "github", "name": "GitHub", "icon": "github"},
            {"provider": "oidc", "name": "Acme SSO", "icon": "openid"},
        ]})
    );

    let grace = Person::new("g-100", "Grace@Example.COM", true);
    let flow = start(&app, "google", None).await;
    let url = reqwest::Url::parse(&flow.url).unwrap();
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(query["redirect_uri"], REDIRECT);
    assert_eq!(query["code_challenge"].len(), 43);
    assert_eq!(query["nonce"].len(), 43);
    let code = fake.consent(&flow.url, &grace);
    let first = finish(&app, "google", &flow.state, &code).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["token_type"], "bearer");
    assert_eq!(first.body["is_new_user"], json!(true));
    assert!(first.body["expires_in"].as_i64().unwrap() > 0);
    let token = access(&first);
    let user = me(&app, &token).await;
    assert_eq!(user["email"], "grace@example.com");
    assert_eq!(user["first_name"], "Grace");
    assert_eq!(user["last_name"], "Hopper");
    assert_eq!(user["preferences"], Value::Null);
    assert_eq!(user["is_superuser"], json!(false));

    // The provider's tokens are stored sealed, bound to the row and column.
    let rows = stored_tokens(&app, user["id"].as_str().unwrap()).await;
    assert_eq!(rows.len(), 1);
    let key = identityd::auth::sealed::SealingKey::new(&[9u8; 32]);
    let sealed = rows[0].access_token_encrypted.clone().unwrap();
    assert!(sealed.starts_with("v1.") && !sealed.contains("access-"));
    let opened =
        identityd::service::social::open_token(&key, rows[0].id, "access_token_encrypted", &sealed);
    assert!(opened.unwrap().starts_with("access-"));
    let refresh = rows[0].refresh_token_encrypted.clone().unwrap();
    assert!(
        identityd::service::social::open_token(
            &key,
            rows[0].id,
            "access_token_encrypted",
            &refresh
        )
        .is_none(),
        "a value moved to another column does not open"
    );
    assert!(rows[0].token_expires_at.is_some());

    // The session is a real one: listed, and its refresh token rotates.
    let sessions = app.get_auth("/api/v1/sessions/me", &token).await;
    assert_eq!(sessions.body["total"], json!(1), "{}", sessions.body);
    let rotated = app
        .post(
            "/api/v1/auth/refresh",
            json!({"refresh_token": first.body["refresh_token"]}),
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);

    // Returning: the same account, not a new one.
    let again = log_in(&app, &fake, "google", &grace).await;
    assert_eq!(again.body["is_new_user"], json!(false), "{}", again.body);
    assert_eq!(me(&app, &access(&again)).await["id"], user["id"]);

    // The linked accounts list.
    let list = accounts(&app, &token).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["provider"], "google");
    assert_eq!(list[0]["provider_email"], "grace@example.com");
    assert!(list[0].get("access_token_encrypted").is_none());

    // A social-only user has no password: password login fails like any other.
    let refused = app
        .post(
            "/api/v1/auth/login",
            json!({"email": "grace@example.com", "password": PASSWORD}),
        )
        .await;
    refused.error(401, "AUTH_001");
    // …until they set one with a reset token, which works once.
    let asked = app
        .post(
            "/api/v1/auth/password-reset/request",
            json!({"email": "grace@example.com"}),
        )
        .await;
    assert_eq!(asked.status, 200, "{}", asked.body);
    let reset = app.reset_token().await;
    let confirmed = app
        .post(
            "/api/v1/auth/password-reset/confirm",
            json!({"token": reset, "new_password": PASSWORD}),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    app.login("grace@example.com", PASSWORD).await;
});

social_test!(states_are_single_use_bound_and_expiring, |app, fake| {
    let grace = Person::new("g-1", "grace@example.com", true);

    // Replayed: the first callback consumed the state.
    let flow = start(&app, "google", None).await;
    let code = fake.consent(&flow.url, &grace);
    access(&finish(&app, "google", &flow.state, &code).await);
    let code = fake.consent(&flow.url, &grace);
    assert_auth_failed(
        &finish(&app, "google", &flow.state, &code).await,
        "Invalid or expired OAuth state",
    );

    // A failed callback consumes the state too.
    let flow = start(&app, "google", None).await;
    fake.spoil(Spoil::WrongNonce);
    let code = fake.consent(&flow.url, &grace);
    assert_auth_failed(
        &finish(&app, "google", &flow.state, &code).await,
        "Invalid ID token",
    );
    fake.spoil(Spoil::None);
    let code = fake.consent(&flow.url, &grace);
    assert_auth_failed(
        &finish(&app, "google", &flow.state, &code).await,
        "Invalid or expired OAuth state",
    );

    // Unknown state.
    assert_auth_failed(
        &finish(&app, "google", "not-a-state", "code").await,
        "Invalid or expired OAuth state",
    );

    // Expired: states live 10 minutes.
    let flow = start(&app, "google", None).await;
    app.clock.advance(Duration::minutes(11));
    let code = fake.consent(&flow.url, &grace);
    assert_auth_failed(
        &finish(&app, "google", &flow.state, &code).await,
        "Invalid or expired OAuth state",
    );

    // A GitHub state presented to the Google callback.
    let flow = start(&app, "github", None).await;
    assert_auth_failed(
        &finish(&app, "google", &flow.state, "code").await,
        "Invalid or expired OAuth state",
    );

    // Another redirect URI than the flow's.
    let flow = start(&app, "google", None).await;
    let path = format!(
        "/api/v1/oauth/callback/google?redirect_uri={}",
        encoded("http://app.test/elsewhere")
    );
    let answer = app
        .post(&path, json!({"code": "c", "state": flow.state}))
        .await;
    assert_auth_failed(&answer, "Redirect URI mismatch");

    // A code the provider refuses (here: already used).
    let flow = start(&app, "google", None).await;
    assert_auth_failed(
        &finish(&app, "google", &flow.state, &code).await,
        "Failed to exchange authorization code",
    );

    // Only hashes of states are stored.
    let flow = start(&app, "google", None).await;
    let mut conn = app.state.db.get().await.unwrap();
    let raw = identityd::db::social::take_state(&mut conn, &flow.state)
        .await
        .unwrap();
    assert!(raw.is_none(), "the raw state is not a key of the table");
});

social_test!(id_token_checks, |app, fake| {
    let grace = Person::new("g-2", "grace@example.com", true);
    for (spoil, message) in [
        (Spoil::WrongNonce, "Invalid ID token"),
        (Spoil::ForgedSignature, "Invalid ID token"),
        (Spoil::Expired, "Invalid ID token"),
        (Spoil::WrongIssuer, "Invalid ID token"),
        (Spoil::WrongAudience, "Invalid ID token"),
        (Spoil::Hmac, "Invalid ID token"),
        (Spoil::NoIdToken, "ID token missing"),
    ] {
        fake.spoil(spoil);
        assert_auth_failed(&log_in(&app, &fake, "google", &grace).await, message);
    }
    // Nothing was created by the failures.
    fake.spoil(Spoil::None);
    let created = log_in(&app, &fake, "google", &grace).await;
    assert_eq!(created.body["is_new_user"], json!(true), "{}", created.body);
    assert_eq!(fake.jwks_fetches(), 1, "the key set is cached");

    // The provider rotates to key B: the unknown kid forces one refetch.
    fake.publish(&[KEY_A, KEY_B]);
    fake.spoil(Spoil::SignWithB);
    access(&log_in(&app, &fake, "google", &grace).await);
    assert_eq!(fake.jwks_fetches(), 2);

    // Key B withdrawn: still cached, still valid until the cache ages out.
    fake.publish(&[KEY_A]);
    access(&log_in(&app, &fake, "google", &grace).await);
    assert_eq!(fake.jwks_fetches(), 2);

    // An email completed from user info when the ID token lacks it.
    fake.spoil(Spoil::NoEmailClaim);
    let ada = Person::new("g-3", "ada@example.com", true);
    let answer = log_in(&app, &fake, "google", &ada).await;
    assert_eq!(me(&app, &access(&answer)).await["email"], "ada@example.com");
});

social_test!(unknown_key_refetch_is_rate_limited, |app, fake| {
    let grace = Person::new("g-4", "grace@example.com", true);
    access(&log_in(&app, &fake, "google", &grace).await);
    assert_eq!(fake.jwks_fetches(), 1);
    // Signed with a key the provider never publishes: one refetch, then refused.
    fake.spoil(Spoil::SignWithB);
    assert_auth_failed(
        &log_in(&app, &fake, "google", &grace).await,
        "Invalid ID token",
    );
    assert_eq!(fake.jwks_fetches(), 2);
    // Within the minute, another unknown kid costs no fetch.
    assert_auth_failed(
        &log_in(&app, &fake, "google", &grace).await,
        "Invalid ID token",
    );
    assert_eq!(fake.jwks_fetches(), 2);
});

social_test!(email_rules_for_new_and_existing_accounts, |app, fake| {
    // c: a verified email links to the password user holding it. Nothing
    // proved who set that password, so it goes, with its sessions: an
    // account pre-registered with Ada's address is not kept by whoever
    // registered it.
    let (squatter, user_id) = app.member("ada@example.com").await;
    let ada = Person::new("g-10", "ada@example.com", true);
    let linked = log_in(&app, &fake, "google", &ada).await;
    assert_eq!(linked.body["is_new_user"], json!(false), "{}", linked.body);
    let token = access(&linked);
    assert_eq!(me(&app, &token).await["id"], json!(user_id));
    assert_eq!(accounts(&app, &token).await.len(), 1);
    app.get_auth("/api/v1/users/me", &squatter)
        .await
        .error(401, "AUTH_003");
    let old_password = app
        .post(
            "/api/v1/auth/login",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    old_password.error(401, "AUTH_001");

    // c refused: an unverified email never takes over an account.
    app.register("bob@example.com").await;
    // GitHub: only a primary verified address counts, so Bob's is no email.
    let bob = Person::new("1001", "bob@example.com", false);
    assert_auth_failed(
        &log_in(&app, &fake, "github", &bob).await,
        "Email is required for registration. Please grant email permission to GitHub.",
    );
    let bob_google = Person::new("g-11", "bob@example.com", false);
    assert_auth_failed(
        &log_in(&app, &fake, "google", &bob_google).await,
        "Email not verified by Google",
    );

    // d refused: no email, or an unverified one.
    let mut nobody = Person::new("1002", "x@example.com", true);
    nobody.email = None;
    assert_auth_failed(
        &log_in(&app, &fake, "github", &nobody).await,
        "Email is required for registration. Please grant email permission to GitHub.",
    );
    let unverified = Person::new("g-12", "new@example.com", false);
    assert_auth_failed(
        &log_in(&app, &fake, "google", &unverified).await,
        "Email not verified by Google",
    );
    let lookup = app
        .post(
            "/api/v1/auth/login",
            json!({"email": "new@example.com", "password": PASSWORD}),
        )
        .await;
    lookup.error(401, "AUTH_001");

    // An inactive or deleted holder: AUTH_005, and no link created.
    let root = app.superuser().await;
    let (_, carol_id) = app.member("carol@example.com").await;
    let off = app
        .call(
            "PATCH",
            &format!("/api/v1/users/{carol_id}"),
            Some(&root),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(off.status, 200, "{}", off.body);
    let carol = Person::new("g-13", "carol@example.com", true);
    log_in(&app, &fake, "google", &carol)
        .await
        .error(401, "AUTH_005");
    assert!(stored_tokens(&app, &carol_id).await.is_empty());
});

social_test!(link_flows_belong_to_their_starter, |app, fake| {
    let (ada_token, ada_id) = app.member("ada@example.com").await;
    let gh = Person::new("9001", "ada.gh@example.com", true);
    let path = format!(
        "/api/v1/oauth/link/github?redirect_uri={}",
        encoded(REDIRECT)
    );

    // Logout everywhere ends the flows Ada started.
    let started = app.call("POST", &path, Some(&ada_token), None).await;
    let code = fake.consent(started.body["authorization_url"].as_str().unwrap(), &gh);
    let bearer = app.login("ada@example.com", PASSWORD).await;
    let fresh = bearer["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.call("POST", "/api/v1/auth/logout-all", Some(&fresh), None)
            .await
            .status,
        200
    );
    let answer = finish(
        &app,
        "github",
        started.body["state"].as_str().unwrap(),
        &code,
    )
    .await;
    assert_auth_failed(&answer, "Invalid or expired OAuth state");

    // A link flow finished where Bob is logged in is not Ada's to finish:
    // Bob's identity never joins Ada's account.
    let ada_token = access(
        &app.post(
            "/api/v1/auth/login",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await,
    );
    let (bob_token, _) = app.member("bob@example.com").await;
    let started = app.call("POST", &path, Some(&ada_token), None).await;
    let bobs = Person::new("9002", "bob.gh@example.com", true);
    let code = fake.consent(started.body["authorization_url"].as_str().unwrap(), &bobs);
    let callback = format!(
        "/api/v1/oauth/callback/github?redirect_uri={}",
        encoded(REDIRECT)
    );
    let answer = app
        .post_auth(
            &callback,
            &bob_token,
            json!({"code": code, "state": started.body["state"]}),
        )
        .await;
    assert_auth_failed(&answer, "Invalid or expired OAuth state");
    assert!(accounts(&app, &ada_token).await.is_empty());

    // With Ada's own bearer (or none) the link goes through.
    let started = app.call("POST", &path, Some(&ada_token), None).await;
    let code = fake.consent(started.body["authorization_url"].as_str().unwrap(), &gh);
    let answer = app
        .post_auth(
            &callback,
            &ada_token,
            json!({"code": code, "state": started.body["state"]}),
        )
        .await;
    assert_eq!(me(&app, &access(&answer)).await["id"], json!(ada_id));

    // b: a second Google identity is 409 before its email is looked at.
    let google = Person::new("g-90", "ada@example.com", true);
    access(&link(&app, &fake, "google", &ada_token, &google).await);
    let flow = start(&app, "google", Some(&ada_token)).await;
    let other = Person::new("g-91", "unverified@example.com", false);
    let code = fake.consent(&flow.url, &other);
    let answer = finish(&app, "google", &flow.state, &code).await;
    assert_eq!(
        answer.error(409, "SYS_005")["message"],
        "You already have a Google account linked"
    );

    // b for a user without a Google link needs a verified email.
    let (carol_token, _) = app.member("carol@example.com").await;
    let flow = start(&app, "google", Some(&carol_token)).await;
    let code = fake.consent(&flow.url, &other);
    assert_auth_failed(
        &finish(&app, "google", &flow.state, &code).await,
        "Email not verified by Google",
    );
});

social_test!(concurrent_callbacks_settle_cleanly, |app, fake| {
    // The same state posted twice at once: exactly one login.
    let grace = Person::new("g-95", "grace@example.com", true);
    let flow = start(&app, "google", None).await;
    let code = fake.consent(&flow.url, &grace);
    let (a, b) = tokio::join!(
        finish(&app, "google", &flow.state, &code),
        finish(&app, "google", &flow.state, &code)
    );
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 401], "{} / {}", a.body, b.body);

    // Two flows of one new identity finished at once: one account, two
    // logins, never a 500.
    let linus = Person::new("95001", "linus@example.com", true);
    let (one, two) = (
        start(&app, "github", None).await,
        start(&app, "github", None).await,
    );
    let (c1, c2) = (
        fake.consent(&one.url, &linus),
        fake.consent(&two.url, &linus),
    );
    let (x, y) = tokio::join!(
        finish(&app, "github", &one.state, &c1),
        finish(&app, "github", &two.state, &c2)
    );
    assert_eq!((x.status, y.status), (200, 200), "{} / {}", x.body, y.body);
    let new_users = [&x, &y]
        .iter()
        .filter(|r| r.body["is_new_user"] == json!(true))
        .count();
    assert_eq!(new_users, 1);
    assert_eq!(
        me(&app, &access(&x)).await["id"],
        me(&app, &access(&y)).await["id"]
    );
});

social_test!(
    auto_link_off_refuses_taken_emails,
    env: [("OAUTH_AUTO_LINK_BY_EMAIL", "false")],
    |app, fake| {
        app.register("ada@example.com").await;
        let ada = Person::new("g-20", "ada@example.com", true);
        let answer = log_in(&app, &fake, "google", &ada).await;
        let item = answer.error(409, "USER_002");
        assert_eq!(
            item["message"],
            "An account with this email already exists. Sign in and link Google from your account."
        );
        // A fresh email still signs up.
        let eve = Person::new("g-21", "eve@example.com", true);
        assert_eq!(log_in(&app, &fake, "google", &eve).await.body["is_new_user"], json!(true));
    }
);

social_test!(github_profiles_and_failures, |app, fake| {
    let mut linus = Person::new("583231", "Linus@Example.com", true);
    linus.name = Some("Linus Benedict Torvalds".to_owned());
    let answer = log_in(&app, &fake, "github", &linus).await;
    assert_eq!(answer.body["is_new_user"], json!(true), "{}", answer.body);
    let token = access(&answer);
    let user = me(&app, &token).await;
    assert_eq!(
        user["email"], "linus@example.com",
        "the primary verified address"
    );
    assert_eq!(user["first_name"], "Linus");
    assert_eq!(user["last_name"], "Benedict Torvalds");
    // GitHub sends no lifetime: none stored.
    assert!(
        stored_tokens(&app, user["id"].as_str().unwrap()).await[0]
            .token_expires_at
            .is_none()
    );

    // Without the address list, the link still logs its owner in.
    fake.emails_down(true);
    assert_eq!(
        log_in(&app, &fake, "github", &linus).await.body["is_new_user"],
        json!(false)
    );
    fake.emails_down(false);

    // A name-less profile falls back to the login.
    let mut anon = Person::new("99", "anon@example.com", true);
    anon.name = None;
    let answer = log_in(&app, &fake, "github", &anon).await;
    assert_eq!(me(&app, &access(&answer)).await["first_name"], "user99");

    // Provider errors.
    fake.fail_token(Some((200, json!({"error": "bad_verification_code"}))));
    assert_auth_failed(
        &log_in(&app, &fake, "github", &linus).await,
        "Failed to exchange authorization code",
    );
    fake.fail_token(Some((503, json!({"message": "unavailable"}))));
    assert_auth_failed(
        &log_in(&app, &fake, "github", &linus).await,
        "Failed to exchange authorization code",
    );
    fake.fail_token(None);
    fake.profile_down(true);
    assert_auth_failed(
        &log_in(&app, &fake, "github", &linus).await,
        "Failed to fetch user info",
    );
    fake.profile_down(false);
});

social_test!(
    provider_down,
    env: [
        ("OAUTH_GITHUB_TOKEN_URL", "http://127.0.0.1:9/token"),
        ("OAUTH_GOOGLE_TOKEN_URL", "http://127.0.0.1:9/token"),
    ],
    |app, fake| {
        for provider in ["google", "github"] {
            let flow = start(&app, provider, None).await;
            assert_auth_failed(
                &finish(&app, provider, &flow.state, "code").await,
                "Failed to exchange authorization code",
            );
        }
        drop(fake);
    }
);

social_test!(link_unlink_and_conflicts, |app, fake| {
    let (ada_token, ada_id) = app.member("ada@example.com").await;
    let gh = Person::new("7001", "ada.gh@example.com", true);

    // b: a link flow started by POST /oauth/link.
    let linked = link(&app, &fake, "github", &ada_token, &gh).await;
    assert_eq!(linked.body["is_new_user"], json!(false), "{}", linked.body);
    assert_eq!(me(&app, &access(&linked)).await["id"], json!(ada_id));
    let list = accounts(&app, &ada_token).await;
    assert_eq!(list[0]["provider"], "github");
    assert_eq!(list[0]["provider_email"], "ada.gh@example.com");

    // A second GitHub link is refused at the start.
    let path = format!(
        "/api/v1/oauth/link/github?redirect_uri={}",
        encoded(REDIRECT)
    );
    let again = app.call("POST", &path, Some(&ada_token), None).await;
    let item = again.error(409, "SYS_005");
    assert_eq!(item["message"], "You already have a GitHub account linked");

    // a1: the optional bearer of GET /authorize makes a link flow too.
    let google = Person::new("g-40", "ada@example.com", true);
    let flow = start(&app, "google", Some(&ada_token)).await;
    let code = fake.consent(&flow.url, &google);
    access(&finish(&app, "google", &flow.state, &code).await);
    let flow = start(&app, "google", Some(&ada_token)).await;
    let code = fake.consent(&flow.url, &google);
    assert_eq!(
        me(
            &app,
            &access(&finish(&app, "google", &flow.state, &code).await)
        )
        .await["id"],
        json!(ada_id)
    );
    assert_eq!(accounts(&app, &ada_token).await.len(), 2);

    // a2: Bob's link flow with Ada's GitHub identity never logs Bob in as Ada.
    let (bob_token, _) = app.member("bob@example.com").await;
    let stolen = link(&app, &fake, "github", &bob_token, &gh).await;
    let item = stolen.error(409, "SYS_005");
    assert_eq!(
        item["message"],
        "This GitHub account is already linked to another user"
    );
    assert!(stolen.body.get("access_token").is_none());
    assert!(accounts(&app, &bob_token).await.is_empty());

    // An invalid bearer on the optional route is just anonymous.
    let flow = start(&app, "github", Some("not-a-token")).await;
    let code = fake.consent(&flow.url, &gh);
    assert_eq!(
        me(
            &app,
            &access(&finish(&app, "github", &flow.state, &code).await)
        )
        .await["id"],
        json!(ada_id)
    );

    // Unlink: the password keeps a way in.
    let unlinked = app
        .call(
            "DELETE",
            "/api/v1/oauth/accounts/github",
            Some(&ada_token),
            None,
        )
        .await;
    assert_eq!(unlinked.status, 200, "{}", unlinked.body);
    assert_eq!(
        unlinked.body,
        json!({"success": true, "message": "GitHub account unlinked successfully"})
    );
    let missing = app
        .call(
            "DELETE",
            "/api/v1/oauth/accounts/github",
            Some(&ada_token),
            None,
        )
        .await;
    assert_eq!(
        missing.error(404, "SYS_002")["message"],
        "No GitHub account found to unlink"
    );
    let unknown = app
        .call(
            "DELETE",
            "/api/v1/oauth/accounts/myspace",
            Some(&ada_token),
            None,
        )
        .await;
    let item = unknown.error(400, "VAL_006");
    assert_eq!(item["field"], "provider");
    assert_eq!(item["message"], "Unknown OAuth provider: myspace");

    // A social-only user keeps their last link.
    let linus = Person::new("7002", "linus@example.com", true);
    let token = access(&log_in(&app, &fake, "github", &linus).await);
    let last = app
        .call(
            "DELETE",
            "/api/v1/oauth/accounts/github",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        last.error(400, "VAL_006")["message"],
        "Cannot unlink OAuth account. You must have either a password set or at least one other OAuth provider linked."
    );
    // With a second link, the first may go.
    let g = Person::new("g-41", "linus@example.com", true);
    access(&link(&app, &fake, "google", &token, &g).await);
    let ok = app
        .call(
            "DELETE",
            "/api/v1/oauth/accounts/github",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);

    // Link requires a user; the accounts list too.
    app.call("POST", &path, None, None)
        .await
        .error(401, "AUTH_006");
    app.call("GET", "/api/v1/oauth/accounts", None, None)
        .await
        .error(401, "AUTH_006");
});

social_test!(deletion_erases_provider_tokens, |app, fake| {
    let grace = Person::new("g-50", "grace@example.com", true);
    let token = access(&log_in(&app, &fake, "google", &grace).await);
    let user_id = me(&app, &token).await["id"].as_str().unwrap().to_owned();
    assert!(
        stored_tokens(&app, &user_id).await[0]
            .access_token_encrypted
            .is_some()
    );
    let root = app.superuser().await;
    let deleted = app
        .call(
            "DELETE",
            &format!("/api/v1/users/{user_id}"),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    let rows = stored_tokens(&app, &user_id).await;
    assert_eq!(rows.len(), 1, "the link stays");
    assert!(rows[0].access_token_encrypted.is_none() && rows[0].refresh_token_encrypted.is_none());
    // The identity cannot come back as a new account, nor log in.
    log_in(&app, &fake, "google", &grace)
        .await
        .error(401, "AUTH_005");
});

social_test!(
    without_a_key_provider_tokens_are_not_stored,
    env: [("OAUTH_TOKEN_ENCRYPTION_KEY", "")],
    |app, fake| {
        let grace = Person::new("g-60", "grace@example.com", true);
        let token = access(&log_in(&app, &fake, "google", &grace).await);
        let user_id = me(&app, &token).await["id"].as_str().unwrap().to_owned();
        let rows = stored_tokens(&app, &user_id).await;
        assert!(rows[0].access_token_encrypted.is_none());
        assert!(rows[0].refresh_token_encrypted.is_none());
    }
);

social_test!(switches_and_validation, |app, fake| {
    let bad = app
        .call(
            "GET",
            "/api/v1/oauth/authorize/myspace?redirect_uri=http://a.test/",
            None,
            None,
        )
        .await;
    let item = bad.error(400, "VAL_006");
    assert_eq!(item["field"], "provider");
    for (query, message) in [
        ("", "Field required"),
        (
            "?redirect_uri=/relative",
            "URL must be an absolute http(s) URL",
        ),
        (
            "?redirect_uri=http://a.test/%23frag",
            "URL must not contain a fragment",
        ),
    ] {
        let answer = app
            .call(
                "GET",
                &format!("/api/v1/oauth/authorize/google{query}"),
                None,
                None,
            )
            .await;
        let item = answer.error(422, "VAL_001");
        assert_eq!(item["field"], "redirect_uri");
        assert_eq!(item["message"], message, "{query}");
    }
    let long = format!("http://a.test/{}", "a".repeat(500));
    let answer = app
        .call(
            "GET",
            &format!("/api/v1/oauth/authorize/google?redirect_uri={long}"),
            None,
            None,
        )
        .await;
    answer.error(422, "VAL_001");

    let path = format!(
        "/api/v1/oauth/callback/google?redirect_uri={}",
        encoded(REDIRECT)
    );
    let answer = app.post(&path, json!({"state": "s".repeat(256)})).await;
    assert_eq!(answer.status, 422, "{}", answer.body);
    let fields: Vec<&str> = answer.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["code", "state"]);
    drop(fake);
});

social_test!(
    switched_off,
    env: [("OAUTH_ENABLED", "false")],
    |app, fake| {
        let providers = app.call("GET", "/api/v1/oauth/providers", None, None).await;
        assert_eq!(providers.body, json!({"enabled": false, "providers": []}));
        let path = format!("/api/v1/oauth/authorize/google?redirect_uri={}", encoded(REDIRECT));
        let answer = app.call("GET", &path, None, None).await;
        let item = answer.error(400, "VAL_006");
        assert_eq!(item["message"], "OAuth is not enabled");
        assert_eq!(item["field"], Value::Null);
        let answer = finish(&app, "google", "s", "c").await;
        answer.error(400, "VAL_006");
        // Listing and unlinking work whatever the switch says.
        let (token, _) = app.member("ada@example.com").await;
        assert!(accounts(&app, &token).await.is_empty());
        let answer = app.call("DELETE", "/api/v1/oauth/accounts/google", Some(&token), None).await;
        answer.error(404, "SYS_002");
        drop(fake);
    }
);

social_test!(
    unconfigured_provider,
    env: [("OAUTH_GITHUB_CLIENT_SECRET", "")],
    |app, fake| {
        let providers = app.call("GET", "/api/v1/oauth/providers", None, None).await;
        let names: Vec<&str> = providers.body["providers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["provider"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["google", "oidc"]);
        let path = format!("/api/v1/oauth/authorize/github?redirect_uri={}", encoded(REDIRECT));
        let item = app.call("GET", &path, None, None).await.error(400, "VAL_006").clone();
        assert_eq!(item["message"], "OAuth provider github is not configured");
        assert_eq!(item["field"], "provider");
        drop(fake);
    }
);

social_test!(generic_openid_provider, |app, fake| {
    let person = Person::new("emp-1", "emp@corp.example", true);
    let answer = log_in(&app, &fake, "oidc", &person).await;
    assert_eq!(answer.body["is_new_user"], json!(true), "{}", answer.body);
    let token = access(&answer);
    assert_eq!(accounts(&app, &token).await[0]["provider"], "oidc");
    let answer = app
        .call("DELETE", "/api/v1/oauth/accounts/oidc", Some(&token), None)
        .await;
    assert_eq!(
        answer.error(400, "VAL_006")["message"],
        "Cannot unlink OAuth account. You must have either a password set or at least one other OAuth provider linked."
    );
    fake.spoil(Spoil::WrongNonce);
    assert_auth_failed(
        &log_in(&app, &fake, "oidc", &person).await,
        "Invalid ID token",
    );
    fake.spoil(Spoil::None);
    let unverified = Person::new("emp-2", "new@corp.example", false);
    assert_auth_failed(
        &log_in(&app, &fake, "oidc", &unverified).await,
        "Email not verified by Acme SSO",
    );
    // The link is bound to the issuer as well as the subject.
    let rows = stored_tokens(&app, me(&app, &token).await["id"].as_str().unwrap()).await;
    assert_eq!(
        rows[0].provider_user_id,
        format!("{}|emp-1", fake.url("/oidc"))
    );
});

social_test!(
    openid_discovery_failure_is_503,
    env: [("OAUTH_OIDC_ISSUER", "http://127.0.0.1:9/oidc")],
    |app, fake| {
        let path = format!("/api/v1/oauth/authorize/oidc?redirect_uri={}", encoded(REDIRECT));
        let answer = app.call("GET", &path, None, None).await;
        answer.error(503, "SYS_006");
        drop(fake);
    }
);

social_test!(every_social_rpc_over_grpc, |app, fake| {
    let channel = app.grpc_channel().await;
    let mut social = pb::social_login_service_client::SocialLoginServiceClient::new(channel);
    let list = social
        .list_providers(pb::ListProvidersRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(list.enabled);
    assert_eq!(list.providers[0].provider, "google");

    let start = |provider: &str| pb::AuthorizationUrlRequest {
        provider: provider.to_owned(),
        redirect_uri: Some(REDIRECT.to_owned()),
    };
    let flow = social
        .get_authorization_url(start("google"))
        .await
        .unwrap()
        .into_inner();
    let grace = Person::new("g-70", "grace@example.com", true);
    let code = fake.consent(&flow.authorization_url, &grace);
    let callback = |code: &str, state: &str| pb::CallbackRequest {
        provider: "google".to_owned(),
        redirect_uri: Some(REDIRECT.to_owned()),
        body: Some(pb::CallbackBody {
            code: Some(code.to_owned()),
            state: Some(state.to_owned()),
        }),
    };
    let token = social
        .callback(callback(&code, &flow.state))
        .await
        .unwrap()
        .into_inner();
    assert!(token.is_new_user);
    assert_eq!(token.token_type, "bearer");

    let replay = social
        .callback(callback(&code, &flow.state))
        .await
        .unwrap_err();
    assert_eq!(replay.code(), tonic::Code::Unauthenticated);
    assert_eq!(reason(&replay), "AUTH_008");
    assert_eq!(replay.message(), "Invalid or expired OAuth state");

    let bad = social
        .get_authorization_url(pb::AuthorizationUrlRequest {
            provider: "google".to_owned(),
            redirect_uri: None,
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert_eq!(reason(&bad), "VAL_001");

    let link = social
        .start_link(with_bearer(start("github"), &token.access_token))
        .await
        .unwrap()
        .into_inner();
    let gh = Person::new("8001", "grace@example.com", true);
    let code = fake.consent(&link.authorization_url, &gh);
    let mut linked = callback(&code, &link.state);
    linked.provider = "github".to_owned();
    social.callback(linked).await.unwrap();

    let accounts = social
        .list_linked_accounts(with_bearer(
            pb::ListLinkedAccountsRequest {},
            &token.access_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .accounts;
    assert_eq!(accounts.len(), 2);
    let done = social
        .unlink_account(with_bearer(
            pb::UnlinkAccountRequest {
                provider: "github".to_owned(),
            },
            &token.access_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(done.message, "GitHub account unlinked successfully");
    let conflict = social
        .start_link(with_bearer(start("google"), &token.access_token))
        .await
        .unwrap_err();
    assert_eq!(conflict.code(), tonic::Code::AlreadyExists);
    assert_eq!(reason(&conflict), "SYS_005");
});
