//! Operations endpoints: liveness, readiness, Prometheus metrics.

use identityd::grpc::pb;
use serde_json::json;

use crate::db_test;
use crate::helpers::{Db, PASSWORD, TestApp};

async fn metrics(app: &TestApp, token: Option<&str>) -> (u16, String) {
    let mut request = app.http.get(app.url("/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

fn value(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.trim().parse().ok())
        })
        .unwrap_or(0)
}

db_test!(probes_and_metrics_tell_the_truth, |app| {
    let live = app.send(app.http.get(app.url("/health/live"))).await;
    assert_eq!(
        (live.status, live.body.clone()),
        (200, json!({"status": "alive"}))
    );
    let ready = app.send(app.http.get(app.url("/health/ready"))).await;
    assert_eq!(ready.status, 200);
    assert_eq!(
        ready.body,
        json!({"status": "ready", "checks": {"database": "ready"}})
    );
    let post = app.send(app.http.post(app.url("/health/ready"))).await;
    post.error(405, "SYS_003");

    app.register("ops@example.com").await;
    app.login("ops@example.com", PASSWORD).await;
    app.post(
        "/api/v1/auth/login",
        json!({"email": "ops@example.com", "password": "Wrong-Password-9!"}),
    )
    .await
    .error(401, "AUTH_001");
    let mut auth = app.auth_client().await;
    auth.login(pb::LoginRequest {
        email: Some("ops@example.com".into()),
        password: Some(PASSWORD.into()),
    })
    .await
    .unwrap();
    for path in ["/nope", "/nope/again", "/api/v1/users/x/y/z"] {
        app.send(app.http.get(app.url(path))).await;
    }

    let (status, text) = metrics(&app, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        value(&text, "identityd_logins_total{result=\"success\"}"),
        2
    );
    assert_eq!(
        value(&text, "identityd_logins_total{result=\"failure\"}"),
        1
    );
    assert_eq!(
        value(
            &text,
            "identityd_requests_total{transport=\"http\",route=\"POST /api/v1/auth/login\",status=\"200\"}"
        ),
        1
    );
    assert_eq!(
        value(
            &text,
            "identityd_requests_total{transport=\"http\",route=\"POST /api/v1/auth/login\",status=\"401\"}"
        ),
        1
    );
    assert_eq!(
        value(
            &text,
            "identityd_requests_total{transport=\"grpc\",route=\"/identity.v1.AuthService/Login\",status=\"0\"}"
        ),
        1
    );
    // Unknown paths share one label: a scanner cannot grow the series.
    assert_eq!(
        value(
            &text,
            "identityd_requests_total{transport=\"http\",route=\"other\",status=\"404\"}"
        ),
        3
    );
    assert!(text.contains("# TYPE identityd_request_duration_seconds histogram"));
    assert!(value(&text, "identityd_password_hash_wait_seconds_count") >= 3);
    assert!(text.contains("identityd_db_pool_connections "));
});

db_test!(metrics_can_require_a_token, env: [("METRICS_TOKEN", "scrape-secret")], |app| {
    let (status, _) = metrics(&app, None).await;
    assert_eq!(status, 401);
    let (status, _) = metrics(&app, Some("wrong")).await;
    assert_eq!(status, 401);
    let (status, text) = metrics(&app, Some("scrape-secret")).await;
    assert_eq!(status, 200);
    assert!(text.contains("identityd_requests_total"));
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_while_redis_is_down() {
    let app = TestApp::builder(Db::Sqlite)
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .spawn()
        .await
        .unwrap();
    let ready = app.send(app.http.get(app.url("/health/ready"))).await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.body["checks"]["redis"], "unavailable");
    let live = app.send(app.http.get(app.url("/health/live"))).await;
    assert_eq!(live.status, 200);
}

db_test!(demo_mode_seeds_a_populated_installation_once, env: [("DEMO_MODE", "true")], |app| {
    let root = app.superuser().await;
    let orgs = app.get_auth("/api/v1/admin/organizations", &root).await;
    assert_eq!(orgs.status, 200, "{}", orgs.body);
    assert_eq!(orgs.body["pagination"]["total"], 3);
    let alice = app.login("alice@example.com", "Demo123!").await;
    let mine = app
        .get_auth("/api/v1/organizations/me", alice["access_token"].as_str().unwrap())
        .await;
    assert_eq!(mine.body[0]["role"], "owner", "{}", mine.body);
    // Seeding again (a restart, another replica) creates nothing.
    let again = identityd::service::demo::seed(&app.state).await.unwrap();
    assert_eq!(again, identityd::service::demo::Seeded::default());
});
