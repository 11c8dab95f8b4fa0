//! Rate limits: per route and client network, one budget across REST and
//! gRPC, 429 with `Retry-After` / `RESOURCE_EXHAUSTED` with `RetryInfo`,
//! trusted-proxy keys, the multiplier, the login throttle, and the shared
//! Redis store (with `TEST_REDIS_URL`), including Redis being down.

use chrono::Duration;
use identityd::grpc::pb;
use serde_json::json;
use tonic_types::StatusExt as _;

use crate::db_test;
use crate::helpers::{Answer, Db, PASSWORD, TestApp, reason};

/// A client address of its own, so tests sharing a Redis never share a key.
fn client() -> String {
    let n: u32 = rand::random();
    format!("10.{}.{}.{}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
}

pub async fn reset_request(app: &TestApp, ip: &str) -> Answer {
    app.send(
        app.http
            .post(app.url("/api/v1/auth/password-reset/request"))
            .header("x-forwarded-for", ip)
            .json(&json!({"email": "nobody@example.com"})),
    )
    .await
}

async fn login(app: &TestApp, ip: &str, email: &str, password: &str) -> Answer {
    app.send(
        app.http
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-for", ip)
            .json(&json!({"email": email, "password": password})),
    )
    .await
}

fn assert_limited(answer: &Answer, message: &str) -> u64 {
    let item = answer.error(429, "SYS_004");
    assert_eq!(item["message"], message);
    assert_eq!(item["field"], serde_json::Value::Null);
    answer.header("retry-after").unwrap().parse().unwrap()
}

db_test!(a_route_limit_is_a_burst_then_a_steady_rate, env: [
    ("RATELIMIT_ENABLED", "true"), ("TRUSTED_PROXIES", "127.0.0.1"),
], |app| {
    let ip = client();
    for _ in 0..3 {
        assert_eq!(reset_request(&app, &ip).await.status, 200);
    }
    let refused = reset_request(&app, &ip).await;
    assert_eq!(assert_limited(&refused, "Rate limit exceeded: 3 per 1 minute"), 20);
    // Refused requests cost nothing; 20 s regain one request.
    app.clock.advance(Duration::seconds(19));
    assert_limited(&reset_request(&app, &ip).await, "Rate limit exceeded: 3 per 1 minute");
    app.clock.advance(Duration::seconds(1));
    assert_eq!(reset_request(&app, &ip).await.status, 200);
    assert_eq!(reset_request(&app, &ip).await.status, 429);

    // Another client, and another route, have budgets of their own.
    assert_eq!(reset_request(&app, &client()).await.status, 200);
    let confirm = app
        .send(
            app.http
                .post(app.url("/api/v1/auth/password-reset/confirm"))
                .header("x-forwarded-for", &ip)
                .json(&json!({"token": "x", "new_password": PASSWORD})),
        )
        .await;
    assert_eq!(confirm.status, 400, "{}", confirm.body);
    // Unlisted routes are never limited.
    for _ in 0..20 {
        let health = app.send(app.http.get(app.url("/health")).header("x-forwarded-for", &ip)).await;
        assert_eq!(health.status, 200);
    }
});

db_test!(grpc_and_rest_share_a_routes_budget, env: [
    ("RATELIMIT_ENABLED", "true"),
], |app| {
    // Both transports come from 127.0.0.1 here (no trusted proxy).
    let mut auth = app.auth_client().await;
    let request = || pb::PasswordResetRequest {
        email: Some("nobody@example.com".into()),
    };
    assert_eq!(reset_request(&app, "203.0.113.1").await.status, 200, "XFF is not believed");
    auth.request_password_reset(request()).await.unwrap();
    assert_eq!(reset_request(&app, "203.0.113.2").await.status, 200);
    let refused = auth.request_password_reset(request()).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
    assert_eq!(reason(&refused), "SYS_004");
    assert_eq!(refused.message(), "Rate limit exceeded: 3 per 1 minute");
    let wait = refused.get_error_details().retry_info().unwrap().retry_delay.unwrap();
    assert_eq!(wait.as_secs(), 20);
    assert_eq!(reset_request(&app, "203.0.113.3").await.status, 429);
});

db_test!(the_multiplier_scales_every_limit, env: [
    ("RATELIMIT_ENABLED", "true"), ("TRUSTED_PROXIES", "127.0.0.1"), ("RATELIMIT_MULTIPLIER", "2"),
], |app| {
    let ip = client();
    for _ in 0..6 {
        assert_eq!(reset_request(&app, &ip).await.status, 200);
    }
    let refused = reset_request(&app, &ip).await;
    assert_eq!(assert_limited(&refused, "Rate limit exceeded: 6 per 1 minute"), 10);
});

db_test!(the_login_throttle_stops_one_client_not_the_owner, env: [
    ("RATELIMIT_ENABLED", "true"), ("TRUSTED_PROXIES", "127.0.0.1"), ("RATELIMIT_MULTIPLIER", "100"),
], |app| {
    app.register("target@example.com").await;
    let attacker = client();
    for _ in 0..5 {
        login(&app, &attacker, "target@example.com", "Wrong-Password-1!").await.error(401, "AUTH_001");
    }
    // The attacker is stopped for this account, even with the right password…
    let stopped = login(&app, &attacker, "target@example.com", PASSWORD).await;
    assert_limited(&stopped, "Too many failed login attempts. Please try again later.");
    // …but not for others, and the owner elsewhere logs in.
    app.register("other@example.com").await;
    assert_eq!(login(&app, &attacker, "other@example.com", PASSWORD).await.status, 200);
    let owner = client();
    assert_eq!(login(&app, &owner, "TARGET@example.com", PASSWORD).await.status, 200);
    // A success clears its client's failures.
    for _ in 0..4 {
        login(&app, &owner, "target@example.com", "Wrong-Password-1!").await.error(401, "AUTH_001");
    }
    assert_eq!(login(&app, &owner, "target@example.com", PASSWORD).await.status, 200);
    for _ in 0..4 {
        login(&app, &owner, "target@example.com", "Wrong-Password-1!").await.error(401, "AUTH_001");
    }
    assert_eq!(login(&app, &owner, "target@example.com", PASSWORD).await.status, 200);
    // Failures are regained over minutes.
    app.clock.advance(Duration::minutes(5));
    assert_eq!(login(&app, &attacker, "target@example.com", PASSWORD).await.status, 200);
});

db_test!(limits_off_means_off, |app| {
    for _ in 0..10 {
        assert_eq!(reset_request(&app, "127.0.0.1").await.status, 200);
    }
});

/// Two servers on one Redis (and each its own database): one budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_limits_through_redis() {
    let Ok(redis) = std::env::var("TEST_REDIS_URL") else {
        eprintln!("skipped: set TEST_REDIS_URL");
        return;
    };
    let spawn = || {
        TestApp::builder(Db::Sqlite)
            .env("RATELIMIT_ENABLED", "true")
            .env("TRUSTED_PROXIES", "127.0.0.1")
            .env("REDIS_URL", &redis)
            .spawn()
    };
    let (a, b) = (spawn().await.unwrap(), spawn().await.unwrap());
    let ip = client();
    assert_eq!(reset_request(&a, &ip).await.status, 200);
    assert_eq!(reset_request(&b, &ip).await.status, 200);
    assert_eq!(reset_request(&a, &ip).await.status, 200);
    let refused = reset_request(&b, &ip).await;
    let wait = assert_limited(&refused, "Rate limit exceeded: 3 per 1 minute");
    assert!((1..=20).contains(&wait), "{wait}");
    assert_eq!(reset_request(&a, &ip).await.status, 429);
}

/// Redis unreachable: per-process limits by default, none with `open`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_falls_back_as_configured() {
    let down = "redis://127.0.0.1:1";
    let local = TestApp::builder(Db::Sqlite)
        .env("RATELIMIT_ENABLED", "true")
        .env("TRUSTED_PROXIES", "127.0.0.1")
        .env("REDIS_URL", down)
        .spawn()
        .await
        .unwrap();
    let ip = client();
    for _ in 0..3 {
        assert_eq!(reset_request(&local, &ip).await.status, 200);
    }
    assert_eq!(reset_request(&local, &ip).await.status, 429);

    let open = TestApp::builder(Db::Sqlite)
        .env("RATELIMIT_ENABLED", "true")
        .env("TRUSTED_PROXIES", "127.0.0.1")
        .env("REDIS_URL", down)
        .env("RATELIMIT_REDIS_FALLBACK", "open")
        .spawn()
        .await
        .unwrap();
    for _ in 0..6 {
        assert_eq!(reset_request(&open, &ip).await.status, 200);
    }
}
