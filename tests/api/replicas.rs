//! Two real `identityd` processes on one PostgreSQL and one Redis, as an
//! operator runs them behind a load balancer: sessions, revocation and rate
//! limits behave as one service, the start-up cleanup runs once, and a
//! replica stopped with SIGTERM finishes every request it had accepted.
//! Needs `TEST_POSTGRES_URL` and `TEST_REDIS_URL`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Db, PASSWORD, TestDatabase};

struct Replica {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Replica {
    fn start(dir: &Path, name: &str, database: &str, redis: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_identityd"))
            .arg("serve")
            // No ./.env of the developer's may leak in.
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOSTNAME", name)
            .env("DATABASE_URL", database)
            .env("REDIS_URL", redis)
            .env("BIND_ADDRESS", format!("127.0.0.1:{port}"))
            .env("SECRET_KEY", "replica-test-secret-key-that-is-long-enough")
            .env("FIRST_SUPERUSER_EMAIL", "root@replicas.test")
            .env("FIRST_SUPERUSER_PASSWORD", "Root-Password-123!")
            .env("BCRYPT_COST", "10")
            .env("RATELIMIT_ENABLED", "true")
            .env("TRUSTED_PROXIES", "127.0.0.1")
            .env("CLEANUP_ENABLED", "true")
            .env("SHUTDOWN_GRACE_SECONDS", "10")
            .env("LOG_LEVEL", "info")
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    async fn wait_ready(&self, http: &reqwest::Client) {
        for _ in 0..300 {
            if let Ok(r) = http.get(format!("{}/health/ready", self.base)).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "{} never became ready:\n{}",
            self.base,
            std::fs::read_to_string(&self.log).unwrap()
        );
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
    client_ip: &str,
) -> (u16, Value) {
    let mut request = http
        .request(method, url)
        .header("x-forwarded-for", client_ip);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_behave_as_one_service() {
    let (Some(database), Ok(redis)) = (
        TestDatabase::create(Db::Postgres).await,
        std::env::var("TEST_REDIS_URL"),
    ) else {
        eprintln!("skipped: set TEST_POSTGRES_URL and TEST_REDIS_URL");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Both start at once: migrations are applied once (under a lock), the
    // superuser created once, the start-up cleanup run once.
    let a = Replica::start(dir.path(), "replica-a", &database.url, &redis);
    let b = Replica::start(dir.path(), "replica-b", &database.url, &redis);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    a.wait_ready(&http).await;
    b.wait_ready(&http).await;
    let ip = format!("10.77.{}.{}", rand::random::<u8>(), rand::random::<u8>());
    let post = reqwest::Method::POST;

    // Log in on A, refresh on B.
    let register = json!({"email": "rep@example.com", "password": PASSWORD, "first_name": "Rep"});
    let (status, _) = call(
        &http,
        post.clone(),
        format!("{}/api/v1/auth/register", a.base),
        None,
        Some(register),
        &ip,
    )
    .await;
    assert_eq!(status, 201);
    let credentials = json!({"email": "rep@example.com", "password": PASSWORD});
    let (status, first) = call(
        &http,
        post.clone(),
        format!("{}/api/v1/auth/login", a.base),
        None,
        Some(credentials.clone()),
        &ip,
    )
    .await;
    assert_eq!(status, 200, "{first}");
    let refresh = json!({"refresh_token": first["refresh_token"]});
    let (status, rotated) = call(
        &http,
        post.clone(),
        format!("{}/api/v1/auth/refresh", b.base),
        None,
        Some(refresh),
        &ip,
    )
    .await;
    assert_eq!(status, 200, "{rotated}");

    // Revoke the first session on B: its access token dies on A at once.
    let (_, second) = call(
        &http,
        post.clone(),
        format!("{}/api/v1/auth/login", a.base),
        None,
        Some(credentials),
        &ip,
    )
    .await;
    let second_token = second["access_token"].as_str().unwrap();
    let (_, sessions) = call(
        &http,
        reqwest::Method::GET,
        format!("{}/api/v1/sessions/me", b.base),
        Some(second_token),
        None,
        &ip,
    )
    .await;
    let first_sid = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["is_current"] == json!(false))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = call(
        &http,
        reqwest::Method::DELETE,
        format!("{}/api/v1/sessions/{first_sid}", b.base),
        Some(second_token),
        None,
        &ip,
    )
    .await;
    assert_eq!(status, 200);
    let rotated_token = rotated["access_token"].as_str().unwrap();
    let (status, refused) = call(
        &http,
        reqwest::Method::GET,
        format!("{}/api/v1/users/me", a.base),
        Some(rotated_token),
        None,
        &ip,
    )
    .await;
    assert_eq!(
        (status, refused["errors"][0]["code"].clone()),
        (401, json!("AUTH_003"))
    );

    // One rate-limit budget across both replicas (3 per minute).
    let reset = json!({"email": "rep@example.com"});
    for replica in [&a, &b, &a] {
        let (status, _) = call(
            &http,
            post.clone(),
            format!("{}/api/v1/auth/password-reset/request", replica.base),
            None,
            Some(reset.clone()),
            &ip,
        )
        .await;
        assert_eq!(status, 200);
    }
    let (status, body) = call(
        &http,
        post.clone(),
        format!("{}/api/v1/auth/password-reset/request", b.base),
        None,
        Some(reset),
        &ip,
    )
    .await;
    assert_eq!(status, 429, "{body}");

    // The start-up cleanup ran on exactly one of them.
    let ran = |r: &Replica| r.log_text().contains("cleanup job finished");
    for _ in 0..100 {
        if ran(&a) || ran(&b) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let runs = [&a, &b].iter().filter(|r| ran(r)).count();
    assert_eq!(runs, 1, "A:\n{}\nB:\n{}", a.log_text(), b.log_text());

    // SIGTERM on A while logins are in flight: every accepted one completes.
    let logins: Vec<_> = (0..6)
        .map(|i| {
            let http = http.clone();
            let url = format!("{}/api/v1/auth/login", a.base);
            let ip = format!("10.78.0.{i}");
            tokio::spawn(async move {
                let body = json!({"email": "rep@example.com", "password": PASSWORD});
                http.post(url)
                    .header("x-forwarded-for", ip)
                    .json(&body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(150)).await;
    a.terminate();
    for login in logins {
        let outcome = login.await.unwrap();
        assert!(
            matches!(outcome, Ok(200)),
            "an accepted request was lost: {outcome:?}"
        );
    }
    // A is gone, B still serves.
    let mut a = a;
    let exit = tokio::task::spawn_blocking(move || {
        let status = a.child.wait().unwrap();
        (status, a)
    })
    .await
    .unwrap();
    assert!(exit.0.success(), "A exited with {:?}", exit.0);
    assert!(exit.1.log_text().contains("shutdown signal received"));
    assert!(
        http.get(format!("{}/health/live", exit.1.base))
            .send()
            .await
            .is_err()
    );
    let (status, _) = call(
        &http,
        reqwest::Method::GET,
        format!("{}/health/ready", b.base),
        None,
        None,
        &ip,
    )
    .await;
    assert_eq!(status, 200);
    drop(exit);
    drop(b);
    database.drop_database().await;
}
