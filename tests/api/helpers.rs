//! The test harness: a real server on port 0 with a fresh database per test
//! (SQLite: a temp file; PostgreSQL: a database cloned from a migrated
//! template), a manual clock and an in-memory mailer.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use identityd::clock::ManualClock;
use identityd::config::Config;
use identityd::grpc::pb;
use identityd::mail::MemoryMailer;
use identityd::state::AppState;
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// The variable that turns on the PostgreSQL variant of every database test:
/// an admin connection URL, e.g. `postgres://postgres@127.0.0.1:5432/postgres`.
pub const PG_VAR: &str = "TEST_POSTGRES_URL";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Runs `body` on each backend: always SQLite, PostgreSQL when `PG_VAR` is
/// set; optionally with extra settings (`env: [("KEY", "value")]`).
#[macro_export]
macro_rules! db_test {
    ($name:ident, env: [$(($key:expr, $value:expr)),* $(,)?], |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports, reason = "not every test body uses every import of its module")]
            use super::*;

            async fn run($app: $crate::helpers::TestApp) $body

            fn env() -> Vec<(&'static str, &'static str)> {
                vec![$(($key, $value)),*]
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::helpers::run_with($crate::helpers::Db::Sqlite, &env(), |app| Box::pin(run(app))).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::helpers::run_with($crate::helpers::Db::Postgres, &env(), |app| Box::pin(run(app))).await;
            }
        }
    };
    ($name:ident, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports, reason = "not every test body uses every import of its module")]
            use super::*;

            async fn run($app: $crate::helpers::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::helpers::run_on($crate::helpers::Db::Sqlite, |app| Box::pin(run(app))).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::helpers::run_on($crate::helpers::Db::Postgres, |app| Box::pin(run(app))).await;
            }
        }
    };
}

/// Spawns an app on `db` with default settings, runs `body`, cleans up.
pub async fn run_on(
    db: Db,
    body: impl FnOnce(TestApp) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
) {
    run_with(db, &[], body).await;
}

/// Spawns an app on `db` with extra settings, runs `body`, cleans up.
pub async fn run_with(
    db: Db,
    env: &[(&str, &str)],
    body: impl FnOnce(TestApp) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
) {
    let mut builder = TestApp::builder(db);
    for (key, value) in env {
        builder = builder.env(key, value);
    }
    run_built(builder, body).await;
}

/// Spawns the app `builder` describes, runs `body`, cleans up.
pub async fn run_built(
    builder: TestAppBuilder,
    body: impl FnOnce(TestApp) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
) {
    let Some(app) = builder.spawn().await else {
        eprintln!("skipped: set {PG_VAR} to run the PostgreSQL variant");
        return;
    };
    let cleanup = app.database.clone();
    let outcome = tokio::spawn(body(app)).await;
    cleanup.drop_database().await;
    if let Err(err) = outcome {
        std::panic::resume_unwind(err.into_panic());
    }
}

/// A fresh database for one test.
#[derive(Clone)]
pub struct TestDatabase {
    pub url: String,
    admin_url: Option<String>,
    name: Option<String>,
    _dir: Option<Arc<tempfile::TempDir>>,
}

impl TestDatabase {
    pub async fn create(db: Db) -> Option<Self> {
        match db {
            Db::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}/test.db", dir.path().display());
                Some(Self {
                    url,
                    admin_url: None,
                    name: None,
                    _dir: Some(Arc::new(dir)),
                })
            }
            Db::Postgres => {
                let admin = std::env::var(PG_VAR).ok().filter(|v| !v.is_empty())?;
                let template = ensure_template(&admin).await;
                let name = format!("identityd_t_{}", uuid::Uuid::new_v4().simple());
                let client = pg_connect(&admin).await;
                let mut attempts = 0;
                loop {
                    let result = client
                        .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
                        .await;
                    match result {
                        Ok(()) => break,
                        Err(err) if attempts < 20 => {
                            attempts += 1;
                            eprintln!("retrying CREATE DATABASE: {err}");
                            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        }
                        Err(err) => panic!("CREATE DATABASE failed: {err}"),
                    }
                }
                Some(Self {
                    url: replace_db_name(&admin, &name),
                    admin_url: Some(admin),
                    name: Some(name),
                    _dir: None,
                })
            }
        }
    }

    pub async fn drop_database(&self) {
        if let (Some(admin), Some(name)) = (&self.admin_url, &self.name) {
            let client = pg_connect(admin).await;
            let _ = client
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
        }
    }
}

pub async fn pg_connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

fn replace_db_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// Creates (once per migration set, across processes) a migrated template.
async fn ensure_template(admin: &str) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    std::hash::Hash::hash(&migration_fingerprint(), &mut hasher);
    let name = format!("identityd_tpl_{:016x}", std::hash::Hasher::finish(&hasher));
    let client = pg_connect(admin).await;
    client
        .batch_execute("SELECT pg_advisory_lock(7460313)")
        .await
        .unwrap();
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await
        .unwrap()
        .is_some();
    if !exists {
        let building = format!("{name}_build");
        client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
            .await
            .unwrap();
        client
            .batch_execute(&format!("CREATE DATABASE {building}"))
            .await
            .unwrap();
        let url = identityd::db::DatabaseUrl::Postgres(replace_db_name(admin, &building));
        identityd::db::migrate::run_pending(&url).await.unwrap();
        client
            .batch_execute(&format!("ALTER DATABASE {building} RENAME TO {name}"))
            .await
            .unwrap();
    }
    client
        .batch_execute("SELECT pg_advisory_unlock(7460313)")
        .await
        .unwrap();
    name
}

fn migration_fingerprint() -> String {
    let mut parts = Vec::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let mut dirs: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    for dir in dirs {
        parts.push(dir.display().to_string());
        parts.push(std::fs::read_to_string(dir.join("up.sql")).unwrap_or_default());
    }
    parts.concat()
}

/// Builds a [`TestApp`] with extra settings.
pub struct TestAppBuilder {
    db: Db,
    env: HashMap<String, String>,
    database_via: Option<SocketAddr>,
}

impl TestAppBuilder {
    /// Connects the server to its PostgreSQL database through `proxy` (a
    /// listener that forwards to the real server), for fault injection.
    pub fn database_via(mut self, proxy: SocketAddr) -> Self {
        self.database_via = Some(proxy);
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.insert(key.to_owned(), value.to_owned());
        self
    }

    /// The test configuration for a server on `database_url`.
    pub fn config(&self, database_url: &str) -> Config {
        let mut env: HashMap<String, String> = [
            ("DATABASE_URL", database_url),
            ("SECRET_KEY", SECRET_KEY),
            ("BCRYPT_COST", "4"),
            ("RATELIMIT_ENABLED", "false"),
            ("CLEANUP_ENABLED", "false"),
            ("FIRST_SUPERUSER_EMAIL", "root@identityd.test"),
            ("FIRST_SUPERUSER_PASSWORD", "Root-Password-123!"),
            ("BACKEND_CORS_ORIGINS", "http://allowed.test"),
            ("DB_POOL_SIZE", "5"),
            ("DB_MAX_OVERFLOW", "0"),
            ("LOG_LEVEL", "warn"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        env.extend(self.env.clone());
        Config::from_lookup(&move |k| env.get(k).cloned()).unwrap()
    }

    pub async fn spawn(mut self) -> Option<TestApp> {
        let database = TestDatabase::create(self.db).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // The authorization server's issuer is this server, so that its
        // redirects and metadata point here.
        self.env
            .entry("OAUTH_ISSUER".to_owned())
            .or_insert_with(|| format!("http://{addr}"));
        let url = match self.database_via {
            Some(proxy) => {
                let mut url = url::Url::parse(&database.url).unwrap();
                url.set_host(Some(&proxy.ip().to_string())).unwrap();
                url.set_port(Some(proxy.port())).unwrap();
                url.to_string()
            }
            None => database.url.clone(),
        };
        let config = self.config(&url);
        let clock = Arc::new(ManualClock::default());
        let mailer = MemoryMailer::default();
        let state = identityd::app::prepare(config, clock.clone(), Arc::new(mailer.clone()))
            .await
            .unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let server_state = state.clone();
        tokio::spawn(async move {
            identityd::app::run(server_state, listener, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Some(TestApp {
            addr,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            clock,
            mailer,
            state,
            database,
            _stop: Arc::new(stop),
        })
    }
}

/// A running server and what a test needs to talk to it.
#[derive(Clone)]
pub struct TestApp {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub mailer: MemoryMailer,
    pub state: AppState,
    pub database: TestDatabase,
    _stop: Arc<oneshot::Sender<()>>,
}

/// A JSON answer: status, headers and body.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an envelope error with exactly one item and returns it.
    pub fn error(&self, status: u16, code: &str) -> &Value {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(self.body["success"], json!(false), "body: {}", self.body);
        let item = &self.body["errors"][0];
        assert_eq!(item["code"], json!(code), "body: {}", self.body);
        assert!(
            item.get("field").is_some(),
            "field member missing: {}",
            self.body
        );
        item
    }
}

pub const PASSWORD: &str = "Correct-Horse-42!";

/// The `SECRET_KEY` of test servers, for tests that sign tokens themselves.
pub const SECRET_KEY: &str = "test-secret-key-that-is-long-enough-0123456789";

impl TestApp {
    pub fn builder(db: Db) -> TestAppBuilder {
        TestAppBuilder {
            db,
            env: HashMap::new(),
            database_via: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(self.http.post(self.url(path)).json(&body)).await
    }

    pub async fn post_auth(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send(
            self.http
                .post(self.url(path))
                .bearer_auth(token)
                .json(&body),
        )
        .await
    }

    /// Any method, optional bearer token, optional JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.send(request).await
    }

    /// The access token of the bootstrap superuser.
    pub async fn superuser(&self) -> String {
        let token = self
            .login("root@identityd.test", "Root-Password-123!")
            .await;
        token["access_token"].as_str().unwrap().to_owned()
    }

    /// Registers and logs in a user; returns (access token, user id).
    pub async fn member(&self, email: &str) -> (String, String) {
        let token = self.user(email).await;
        (
            token["access_token"].as_str().unwrap().to_owned(),
            token["user"]["id"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn get_auth(&self, path: &str, token: &str) -> Answer {
        self.send(self.http.get(self.url(path)).bearer_auth(token))
            .await
    }

    /// Registers `email` with [`PASSWORD`]; returns the user JSON.
    pub async fn register(&self, email: &str) -> Value {
        let answer = self
            .post(
                "/api/v1/auth/register",
                json!({"email": email, "password": PASSWORD, "first_name": "Ada"}),
            )
            .await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        answer.body
    }

    /// Logs in; returns the Token JSON.
    pub async fn login(&self, email: &str, password: &str) -> Value {
        let answer = self
            .post(
                "/api/v1/auth/login",
                json!({"email": email, "password": password}),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.body
    }

    /// Registers and logs in a new user; returns the Token JSON.
    pub async fn user(&self, email: &str) -> Value {
        self.register(email).await;
        self.login(email, PASSWORD).await
    }

    pub async fn grpc_channel(&self) -> tonic::transport::Channel {
        tonic::transport::Endpoint::from_shared(self.url(""))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    pub async fn auth_client(
        &self,
    ) -> pb::auth_service_client::AuthServiceClient<tonic::transport::Channel> {
        pb::auth_service_client::AuthServiceClient::new(self.grpc_channel().await)
    }

    pub async fn user_client(
        &self,
    ) -> pb::user_service_client::UserServiceClient<tonic::transport::Channel> {
        pb::user_service_client::UserServiceClient::new(self.grpc_channel().await)
    }

    /// The session rows of the user of a Token JSON.
    pub async fn sessions_of(&self, token: &Value) -> Vec<identityd::db::sessions::SessionRow> {
        use diesel::{ExpressionMethods as _, QueryDsl as _, SelectableHelper as _};
        use diesel_async::RunQueryDsl as _;
        use identityd::db::schema::user_sessions;
        use identityd::db::sessions::SessionRow;
        let id = uuid::Uuid::parse_str(token["user"]["id"].as_str().unwrap()).unwrap();
        let user_id = identityd::domain::types::Id(id);
        let mut conn = self.state.db.get().await.unwrap();
        identityd::with_backend!(conn, c => {
            user_sessions::table
                .filter(user_sessions::user_id.eq(user_id))
                .select(SessionRow::as_select())
                .load(c)
                .await
        })
        .unwrap()
    }

    /// The token of the last password-reset email (sent in the background).
    pub async fn reset_token(&self) -> String {
        for _ in 0..100 {
            if let Some(mail) = self.mailer.sent().last() {
                let (_, token) = mail.text.split_once("token=").unwrap();
                return token.split_whitespace().next().unwrap().to_owned();
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("no reset email was sent");
    }

    /// Runs SQL against the test database (both backends), e.g. to set up
    /// states the API cannot reach yet.
    pub async fn exec(&self, sql: &str) {
        use diesel_async::SimpleAsyncConnection as _;
        let mut conn = self.state.db.get().await.unwrap();
        identityd::with_backend!(conn, c => c.batch_execute(sql).await).unwrap();
    }
}

/// A gRPC request with a bearer token.
pub fn with_bearer<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

/// The ErrorInfo reason of a gRPC status.
pub fn reason(status: &tonic::Status) -> String {
    use tonic_types::StatusExt as _;
    status
        .get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}
