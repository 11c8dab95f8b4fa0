//! Fault injection: the database and Redis fail under a running server, and
//! the server must answer every request (503 while the database is gone,
//! never a 500, a hang or a panic), recover without a restart, and lose
//! nothing it acknowledged.
//!
//! A TCP proxy sits between the server and the real service. Cutting it
//! drops every open connection and refuses new ones, which is what the
//! server sees while PostgreSQL restarts; stalling it holds the bytes of
//! open connections, which is a database that stopped answering. SIGTERM
//! under load is in `replicas.rs`; Redis unreachable at start in
//! `rate_limits.rs`. PostgreSQL tests need `TEST_POSTGRES_URL`, the Redis
//! test `TEST_REDIS_URL`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::helpers::{Answer, Db, PASSWORD, PG_VAR, TestApp};
use crate::rate_limits::reset_request;

/// A TCP proxy to `upstream` that can be cut (connections dropped, new ones
/// refused) and stalled (no byte forwarded) on demand.
struct Proxy {
    addr: SocketAddr,
    down: Arc<AtomicBool>,
    stalled: Arc<AtomicBool>,
    cuts: watch::Sender<u64>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let down = Arc::new(AtomicBool::new(false));
        let stalled = Arc::new(AtomicBool::new(false));
        let (cuts, _) = watch::channel(0_u64);
        let (d, s, c) = (down.clone(), stalled.clone(), cuts.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if d.load(Ordering::SeqCst) {
                    drop(client); // refused: closed before a byte
                    continue;
                }
                let (stalled, mut cut) = (s.clone(), c.subscribe());
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::select! {
                        () = pipe(cr, sw, stalled.clone()) => {}
                        () = pipe(sr, cw, stalled) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Self {
            addr,
            down,
            stalled,
            cuts,
        }
    }

    /// Drops every open connection and refuses new ones.
    fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
        self.stalled.store(false, Ordering::SeqCst);
    }

    fn stall(&self) {
        self.stalled.store(true, Ordering::SeqCst);
    }
}

/// Copies one direction until either side closes, holding bytes while
/// `stalled`.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    stalled: Arc<AtomicBool>,
) {
    let mut buf = vec![0_u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while stalled.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// The address of the server of a `TEST_*_URL` variable, or `None` to skip.
async fn service_addr(variable: &str, default_port: u16) -> Option<SocketAddr> {
    let url = std::env::var(variable).ok().filter(|v| !v.is_empty())?;
    let url = url::Url::parse(&url).unwrap();
    let host = url.host_str().unwrap_or("127.0.0.1").to_owned();
    let port = url.port().unwrap_or(default_port);
    tokio::net::lookup_host((host, port)).await.unwrap().next()
}

/// A server on PostgreSQL reached through a new proxy.
async fn behind_proxy(env: &[(&str, &str)]) -> Option<(TestApp, Proxy)> {
    let Some(upstream) = service_addr(PG_VAR, 5432).await else {
        eprintln!("skipped: set {PG_VAR} to run the PostgreSQL fault tests");
        return None;
    };
    let proxy = Proxy::start(upstream).await;
    let mut builder = TestApp::builder(Db::Postgres).database_via(proxy.addr);
    for (key, value) in env {
        builder = builder.env(key, value);
    }
    Some((builder.spawn().await?, proxy))
}

/// What a request during a fault may answer: success, or 503 with the
/// envelope's `SYS_006` and a `Retry-After`.
fn assert_ok_or_unavailable(answer: &Answer, what: &str) {
    if answer.status == 200 {
        return;
    }
    assert_eq!(answer.status, 503, "{what}: {}", answer.body);
    assert_eq!(answer.body["errors"][0]["code"], "SYS_006", "{what}");
    assert!(answer.header("retry-after").is_some(), "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_under_load() {
    let Some((app, proxy)) = behind_proxy(&[("DB_POOL_TIMEOUT", "2")]).await else {
        return;
    };
    let token = app.user("outage@example.com").await;
    let access = token["access_token"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_millis(3500);

    // Readers: GET /users/me in a loop on 6 connections.
    let readers: Vec<_> = (0..6)
        .map(|_| {
            let (app, access) = (app.clone(), access.clone());
            tokio::spawn(async move {
                let mut seen = (0, 0);
                while Instant::now() < deadline {
                    let answer = app.get_auth("/api/v1/users/me", &access).await;
                    assert_ok_or_unavailable(&answer, "read");
                    if answer.status == 200 {
                        seen.0 += 1;
                    } else {
                        seen.1 += 1;
                    }
                }
                seen
            })
        })
        .collect();
    // A writer: numbered profile changes, one at a time.
    let writer = {
        let (app, access) = (app.clone(), access.clone());
        tokio::spawn(async move {
            let (mut acknowledged, mut attempted) = (None, Vec::new());
            let mut n = 0;
            while Instant::now() < deadline {
                n += 1;
                let name = format!("Version{n}");
                attempted.push(name.clone());
                let answer = app
                    .send(
                        app.http
                            .patch(app.url("/api/v1/users/me"))
                            .bearer_auth(&access)
                            .json(&json!({"first_name": name})),
                    )
                    .await;
                assert_ok_or_unavailable(&answer, "write");
                if answer.status == 200 {
                    acknowledged = Some(attempted.len() - 1);
                }
            }
            (acknowledged, attempted)
        })
    };

    tokio::time::sleep(Duration::from_millis(700)).await;
    proxy.cut();
    let cut_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    proxy.restore();

    let mut failed_reads = 0;
    for reader in readers {
        let (ok, unavailable) = reader.await.unwrap();
        assert!(ok > 0);
        failed_reads += unavailable;
    }
    assert!(failed_reads > 0, "the cut was never noticed");
    let (acknowledged, attempted) = writer.await.unwrap();

    // Recovered without a restart: reads and writes work at once.
    let me = app.get_auth("/api/v1/users/me", &access).await;
    assert_eq!(me.status, 200, "{}", me.body);
    // Nothing acknowledged is lost: the stored name is the last one
    // acknowledged, or a later one whose answer the cut swallowed.
    let stored = me.body["first_name"].as_str().unwrap();
    let acknowledged = acknowledged.expect("no write succeeded");
    assert!(
        attempted[acknowledged..].iter().any(|n| n == stored),
        "stored {stored}, last acknowledged {}",
        attempted[acknowledged]
    );
    let fresh = app.login("outage@example.com", PASSWORD).await;
    assert_eq!(fresh["user"]["first_name"], stored);
    assert!(cut_at.elapsed() < Duration::from_secs(10));
    let health = app.send(app.http.get(app.url("/health/ready"))).await;
    assert_eq!(health.status, 200);
    app.database.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_pool_waits_its_bound_then_answers_503() {
    let env = [
        ("DB_POOL_SIZE", "1"),
        ("DB_MAX_OVERFLOW", "0"),
        ("DB_POOL_TIMEOUT", "1"),
    ];
    let Some((app, proxy)) = behind_proxy(&env).await else {
        return;
    };
    let token = app.user("pool@example.com").await;
    let access = token["access_token"].as_str().unwrap().to_owned();
    // The one connection hangs in a query the stalled database never
    // answers; everyone else waits for the pool.
    proxy.stall();
    let holder = {
        let (app, access) = (app.clone(), access.clone());
        tokio::spawn(async move { app.get_auth("/api/v1/users/me", &access).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let (app, access) = (app.clone(), access.clone());
            tokio::spawn(async move {
                let started = Instant::now();
                let answer = app.get_auth("/api/v1/users/me", &access).await;
                (answer, started.elapsed())
            })
        })
        .collect();
    for waiter in waiters {
        let (answer, waited) = waiter.await.unwrap();
        assert_eq!(answer.status, 503, "{}", answer.body);
        assert_eq!(answer.body["errors"][0]["code"], "SYS_006");
        assert!(answer.header("retry-after").is_some());
        // DB_POOL_TIMEOUT, not a hang.
        assert!(
            (Duration::from_millis(900)..Duration::from_secs(5)).contains(&waited),
            "{waited:?}"
        );
    }
    // Once the database answers, the held request completes and the pool
    // serves again.
    proxy.restore();
    let held = holder.await.unwrap();
    assert_eq!(held.status, 200, "{}", held.body);
    let after = app.get_auth("/api/v1/users/me", &access).await;
    assert_eq!(after.status, 200, "{}", after.body);
    app.database.drop_database().await;
}

/// Redis disappears while the server runs: rate limits fall back to
/// per-process counting (`RATELIMIT_REDIS_FALLBACK=local`), nothing fails,
/// and Redis is used again once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_falls_back_and_recovers() {
    let Some(upstream) = service_addr("TEST_REDIS_URL", 6379).await else {
        eprintln!("skipped: set TEST_REDIS_URL to run the Redis fault test");
        return;
    };
    let proxy = Proxy::start(upstream).await;
    let app = TestApp::builder(Db::Sqlite)
        .env("RATELIMIT_ENABLED", "true")
        .env("TRUSTED_PROXIES", "127.0.0.1")
        .env("REDIS_URL", &format!("redis://{}", proxy.addr))
        .spawn()
        .await
        .unwrap();
    // Limits are kept per client address: a new one per run, so counters a
    // previous run left in Redis do not count.
    let n: u32 = rand::random();
    let ip = format!("10.{}.{}.{}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
    let health = |app: TestApp| async move {
        let answer = app.send(app.http.get(app.url("/health"))).await;
        answer.body["checks"]["redis"]["status"].clone()
    };
    assert_eq!(health(app.clone()).await, json!("healthy"));
    let statuses = |n| {
        let (app, ip) = (app.clone(), ip.clone());
        async move {
            let mut out = Vec::new();
            for _ in 0..n {
                out.push(reset_request(&app, &ip).await.status);
            }
            out
        }
    };
    // Counted in Redis: the burst of 3, then 429.
    assert_eq!(statuses(4).await, [200, 200, 200, 429]);

    proxy.cut();
    let started = Instant::now();
    let during = statuses(4).await;
    // Per-process counting: the route's burst again, then 429; never a 500,
    // and no request waits long for the missing Redis.
    assert_eq!(during[..3], [200, 200, 200], "{during:?}");
    assert_eq!(during[3], 429, "{during:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_ne!(health(app.clone()).await, json!("healthy"));

    proxy.restore();
    let mut back = Value::Null;
    for _ in 0..100 {
        back = health(app.clone()).await;
        if back == json!("healthy") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(back, json!("healthy"));
    // Counted in Redis again, where this client's budget is still spent.
    assert_eq!(statuses(1).await, [429]);
}
