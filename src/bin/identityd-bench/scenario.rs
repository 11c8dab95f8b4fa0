//! Scenarios and the runner: `connections` workers, each on its own
//! keep-alive connection, issue requests back to back until the deadline
//! (or the request budget) and record each latency and outcome.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt as _;
use http::{HeaderValue, Method, StatusCode};
use identityd::grpc::pb;
use rand::Rng as _;
use serde_json::{Value, json};

use crate::wire::{Grpc, Http1, Target, TransportError};

use crate::BENCH_PASSWORD;
use crate::proc_stats;
use crate::report::{Outcome, Recorder, RunResult};
use crate::seed::email;

/// Every scenario.
pub const NAMES: &[&str] = &[
    "health",
    "get_me",
    "list_sessions",
    "refresh",
    "login",
    "patch_me",
    "admin_list_users",
    "mixed",
    "login_flood",
];

/// What to run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `http://host:port`.
    pub base: String,
    /// One of [`NAMES`].
    pub scenario: String,
    /// Native gRPC instead of REST.
    pub grpc: bool,
    /// Concurrent connections.
    pub connections: usize,
    /// How long to run.
    pub duration: Duration,
    /// Stop after this many requests instead.
    pub requests: Option<u64>,
    /// Superuser for the admin scenario.
    pub admin_email: Option<String>,
    /// Its password.
    pub admin_password: Option<String>,
    /// Search text for the admin scenario.
    pub search: Option<String>,
    /// `patch_me`: every connection on one account.
    pub hot: bool,
}

/// One connection.
enum Conn {
    Rest(Http1),
    Grpc(Grpc),
}

/// What a worker does per request.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Health,
    GetMe,
    ListSessions,
    Refresh,
    Login,
    PatchMe,
    AdminList,
}

struct Worker {
    conn: Conn,
    bearer: Option<HeaderValue>,
    refresh: String,
    email: String,
    login_body: Bytes,
    admin_path: String,
    search: Option<String>,
    n: u64,
}

fn rest_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(1)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| e.to_string())
}

/// Logs in over REST; returns (access, refresh).
async fn login(
    client: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
) -> Result<(String, String), String> {
    let response = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .map_err(|e| format!("login: {e}"))?;
    let status = response.status();
    let body: Value = response.json().await.map_err(|e| format!("login: {e}"))?;
    if !status.is_success() {
        return Err(format!(
            "login of {email} failed: {status} {body} (seeded? rate limits off?)"
        ));
    }
    let field = |name: &str| body[name].as_str().unwrap_or_default().to_owned();
    Ok((field("access_token"), field("refresh_token")))
}

async fn logout_all(client: &reqwest::Client, base: &str, token: &str) -> Result<(), String> {
    let response = client
        .post(format!("{base}/api/v1/auth/logout-all"))
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| format!("logout-all: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("logout-all failed: {}", response.status()));
    }
    Ok(())
}

fn ops_of(scenario: &str) -> Result<Vec<(Op, u32)>, String> {
    Ok(match scenario {
        "health" => vec![(Op::Health, 1)],
        "get_me" => vec![(Op::GetMe, 1)],
        "list_sessions" => vec![(Op::ListSessions, 1)],
        "refresh" => vec![(Op::Refresh, 1)],
        "login" => vec![(Op::Login, 1)],
        "patch_me" => vec![(Op::PatchMe, 1)],
        "admin_list_users" => vec![(Op::AdminList, 1)],
        "mixed" => vec![(Op::GetMe, 90), (Op::Refresh, 9), (Op::Login, 1)],
        "login_flood" => vec![(Op::Login, 1)],
        other => {
            return Err(format!(
                "unknown scenario {other}; one of {}",
                NAMES.join(", ")
            ));
        }
    })
}

/// Runs the scenario and reports.
pub async fn run(settings: &Settings, pid: Option<u32>) -> Result<RunResult, String> {
    let mix = ops_of(&settings.scenario)?;
    let flood = settings.scenario == "login_flood";
    // login_flood: half the connections log in, half measure get_me.
    let (flooders, readers) = if flood {
        let readers = (settings.connections / 2).max(1);
        (settings.connections - readers, readers)
    } else {
        (settings.connections, 0)
    };
    let needs_admin = mix.iter().any(|(op, _)| *op == Op::AdminList);
    let admin = if needs_admin {
        let email = settings
            .admin_email
            .clone()
            .ok_or("--admin-email is required")?;
        let password = settings
            .admin_password
            .clone()
            .ok_or("--admin-password is required")?;
        Some(login(&rest_client()?, &settings.base, &email, &password).await?)
    } else {
        None
    };
    // Sessions are opened before the clock starts (logins are slow on
    // purpose), several at a time so the server's hashing pool is busy.
    let user_of = |i: usize| if settings.hot { 0 } else { i };
    let target = Target::parse(&settings.base)?;
    let setup = rest_client()?;
    // list_sessions reads every session of its user: make that one.
    let sole_session = settings.scenario == "list_sessions";
    let sessions: Vec<Result<(String, String), String>> =
        futures_util::stream::iter(0..settings.connections)
            .map(|i| {
                let needs_session = !matches!(mix.as_slice(), [(Op::Health | Op::Login, _)])
                    || (flood && i >= flooders);
                let (setup, base, admin) = (&setup, &settings.base, &admin);
                async move {
                    match (admin, needs_session) {
                        (Some(pair), _) => Ok(pair.clone()),
                        (None, true) if sole_session => {
                            // One session per user, whatever earlier runs left.
                            let user = email(user_of(i));
                            let (token, _) = login(setup, base, &user, BENCH_PASSWORD).await?;
                            logout_all(setup, base, &token).await?;
                            login(setup, base, &user, BENCH_PASSWORD).await
                        }
                        (None, true) => {
                            login(setup, base, &email(user_of(i)), BENCH_PASSWORD).await
                        }
                        (None, false) => Ok((String::new(), String::new())),
                    }
                }
            })
            .buffered(8)
            .collect()
            .await;
    let mut workers = Vec::with_capacity(settings.connections);
    for (i, session) in sessions.into_iter().enumerate() {
        let user = user_of(i);
        let (token, refresh) = session?;
        let conn = if settings.grpc {
            Conn::Grpc(Grpc::connect(&target).await?)
        } else {
            Conn::Rest(Http1::connect(&target).await?)
        };
        let mut admin_path = "/api/v1/admin/users?page=1&limit=20".to_owned();
        if let Some(search) = &settings.search {
            admin_path.push_str("&search=");
            admin_path.extend(form_urlencoded::byte_serialize(search.as_bytes()));
        }
        workers.push(Worker {
            conn,
            bearer: (!token.is_empty())
                .then(|| HeaderValue::from_str(&format!("Bearer {token}")))
                .transpose()
                .map_err(|e| e.to_string())?,
            refresh,
            email: email(user),
            login_body: Bytes::from(
                json!({"email": email(user), "password": BENCH_PASSWORD}).to_string(),
            ),
            admin_path,
            search: settings.search.clone(),
            n: 0,
        });
    }
    let before = pid.and_then(proc_stats::sample);
    let peak_rss = Arc::new(AtomicU64::new(before.map_or(0, |s| s.rss_bytes)));
    let sampler = pid.map(|pid| {
        let peak = peak_rss.clone();
        tokio::spawn(async move {
            loop {
                if let Some(s) = proc_stats::sample(pid) {
                    peak.fetch_max(s.rss_bytes, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    });
    let budget = settings.requests.map(|n| Arc::new(AtomicU64::new(n)));
    let started = Instant::now();
    let deadline = started + settings.duration;
    let mut tasks = Vec::new();
    for (i, mut worker) in workers.into_iter().enumerate() {
        let mix = if flood && i >= flooders {
            vec![(Op::GetMe, 1)]
        } else {
            mix.clone()
        };
        let measured = !flood || i >= flooders;
        let budget = budget.clone();
        tasks.push(tokio::spawn(async move {
            let mut recorder = Recorder::new(measured);
            let total: u32 = mix.iter().map(|(_, w)| w).sum();
            loop {
                if Instant::now() >= deadline && budget.is_none() {
                    break;
                }
                if let Some(left) = &budget
                    && left
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                        .is_err()
                {
                    break;
                }
                let mut pick = rand::rng().random_range(0..total);
                let op = mix
                    .iter()
                    .find(|(_, w)| {
                        if pick < *w {
                            true
                        } else {
                            pick -= w;
                            false
                        }
                    })
                    .map_or(Op::GetMe, |(op, _)| *op);
                let sent = Instant::now();
                let outcome = worker.request(op).await;
                recorder.record(sent.elapsed(), outcome);
                if outcome == Outcome::Shed {
                    // Back off before the next request, as a client told to retry
                    // later would (a fixed second, not the header's value).
                    tokio::time::sleep_until(
                        deadline.min(Instant::now() + Duration::from_secs(1)).into(),
                    )
                    .await;
                }
            }
            recorder
        }));
    }
    let mut recorders = Vec::new();
    for task in tasks {
        recorders.push(task.await.map_err(|e| e.to_string())?);
    }
    let elapsed = started.elapsed();
    if let Some(sampler) = sampler {
        sampler.abort();
    }
    let after = pid.and_then(proc_stats::sample);
    let cpu = match (before, after) {
        (Some(b), Some(a)) => Some((a.cpu_seconds - b.cpu_seconds) / elapsed.as_secs_f64()),
        _ => None,
    };
    Ok(RunResult::merge(
        settings,
        flooders,
        readers,
        elapsed,
        recorders,
        cpu,
        pid.map(|_| peak_rss.load(Ordering::Relaxed)),
    ))
}

impl Worker {
    async fn request(&mut self, op: Op) -> Outcome {
        self.n += 1;
        let outcome = match &mut self.conn {
            Conn::Rest(_) => self.rest(op).await,
            Conn::Grpc(_) => self.grpc(op).await,
        };
        outcome.unwrap_or_else(Outcome::Transport)
    }

    async fn rest(&mut self, op: Op) -> Result<Outcome, TransportError> {
        let Conn::Rest(conn) = &mut self.conn else {
            return Err("not a REST connection");
        };
        let bearer = self.bearer.as_ref();
        let (status, body) = match op {
            Op::Health => conn.send(Method::GET, "/health", None, None).await?,
            Op::GetMe => {
                conn.send(Method::GET, "/api/v1/users/me", bearer, None)
                    .await?
            }
            Op::ListSessions => {
                conn.send(Method::GET, "/api/v1/sessions/me", bearer, None)
                    .await?
            }
            Op::Refresh => {
                let body = json!({"refresh_token": self.refresh}).to_string();
                conn.send(
                    Method::POST,
                    "/api/v1/auth/refresh",
                    None,
                    Some(body.into()),
                )
                .await?
            }
            Op::Login => {
                conn.send(
                    Method::POST,
                    "/api/v1/auth/login",
                    None,
                    Some(self.login_body.clone()),
                )
                .await?
            }
            Op::PatchMe => {
                let body = format!(r#"{{"first_name":"Bench{}"}}"#, self.n % 1000);
                conn.send(Method::PATCH, "/api/v1/users/me", bearer, Some(body.into()))
                    .await?
            }
            Op::AdminList => {
                conn.send(Method::GET, &self.admin_path, bearer, None)
                    .await?
            }
        };
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Ok(Outcome::Shed);
        }
        if !status.is_success() {
            return Ok(Outcome::Http(status.as_u16()));
        }
        if op == Op::Refresh {
            // Follow this connection's own rotation chain.
            let answer: Value = serde_json::from_slice(&body).map_err(|_| "body")?;
            self.refresh = answer["refresh_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
        }
        Ok(Outcome::Ok)
    }

    async fn grpc(&mut self, op: Op) -> Result<Outcome, TransportError> {
        let Conn::Grpc(conn) = &mut self.conn else {
            return Err("not a gRPC connection");
        };
        let bearer = self.bearer.as_ref();
        let status = match op {
            Op::GetMe => conn
                .unary::<_, pb::User>(
                    "/identity.v1.UserService/GetMe",
                    bearer,
                    &pb::GetMeRequest {},
                )
                .await?
                .map(drop),
            Op::ListSessions => conn
                .unary::<_, pb::SessionList>(
                    "/identity.v1.SessionService/ListMySessions",
                    bearer,
                    &pb::ListMySessionsRequest {},
                )
                .await?
                .map(drop),
            Op::Refresh => {
                let request = pb::RefreshRequest {
                    refresh_token: Some(self.refresh.clone()),
                };
                conn.unary::<_, pb::Token>("/identity.v1.AuthService/Refresh", None, &request)
                    .await?
                    .map(|answer| self.refresh = answer.refresh_token)
            }
            Op::Login => {
                let request = pb::LoginRequest {
                    email: Some(self.email.clone()),
                    password: Some(BENCH_PASSWORD.to_owned()),
                };
                conn.unary::<_, pb::Token>("/identity.v1.AuthService/Login", None, &request)
                    .await?
                    .map(drop)
            }
            Op::AdminList => {
                let request = pb::ListUsersRequest {
                    page: Some(1),
                    limit: Some(20),
                    search: self.search.clone(),
                    ..Default::default()
                };
                conn.unary::<_, pb::UserList>(
                    "/identity.v1.AdminService/ListUsers",
                    bearer,
                    &request,
                )
                .await?
                .map(drop)
            }
            Op::Health | Op::PatchMe => return Err("scenario not available over gRPC"),
        };
        Ok(match status {
            Ok(()) => Outcome::Ok,
            // RESOURCE_EXHAUSTED
            Err(8) => Outcome::Shed,
            Err(code) => Outcome::Grpc(code),
        })
    }
}
