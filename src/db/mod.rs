//! Storage: PostgreSQL or SQLite through diesel-async, behind one pool and one
//! connection enum. Each query is written once in a `db::<table>` function and
//! expanded per backend by [`with_backend!`](crate::with_backend).
//!
//! Invariants: `db` knows nothing of `service`; it returns rows or a [`DbError`].
//! The service owns transactions ([`DbConn::transaction`]). A connection dropped
//! inside a transaction (a cancelled request) is discarded, never reused.

pub mod jobs;
pub mod migrate;
pub mod oauth;
pub mod organizations;
pub mod schema;
pub mod sessions;
pub mod social;
pub mod types;
pub mod users;

use std::path::Path;
use std::time::Duration;

use deadpool::managed::{Hook, HookError, Object, Timeouts};
use diesel::ConnectionError;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sqlite::SqliteConnection;
use diesel_async::pg::AsyncPgConnection;
use diesel_async::pooled_connection::deadpool::Pool as DeadPool;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection as _, RunQueryDsl as _, SimpleAsyncConnection as _};
use futures_util::FutureExt as _;
use scoped_futures::ScopedBoxFuture;

/// The SQLite connection type: diesel's sync connection run on blocking threads.
pub type SqliteConn = SyncConnectionWrapper<SqliteConnection>;

/// Where the data lives, parsed from `DATABASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `postgres://...` or `postgresql://...`, passed to tokio-postgres as is.
    Postgres(String),
    /// `sqlite://<path>`: a file path (created with its directory when missing).
    Sqlite(String),
}

impl DatabaseUrl {
    /// Parses `postgres://`, `postgresql://` and `sqlite://` URLs.
    pub fn parse(url: &str) -> Result<Self, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.to_owned()))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("sqlite:// URL needs a file path".to_owned());
            }
            Ok(Self::Sqlite(path.to_owned()))
        } else {
            Err("must start with postgres://, postgresql:// or sqlite://".to_owned())
        }
    }

    /// The backend's name, for logs.
    pub fn backend_name(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "postgresql",
            Self::Sqlite(_) => "sqlite",
        }
    }
}

/// Pool sizing and waiting.
#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    /// Maximum open connections.
    pub max_size: usize,
    /// How long a request waits for a connection before 503.
    pub wait_timeout: Duration,
    /// Connections older than this are closed instead of reused
    /// (`DB_POOL_RECYCLE`), so server-side state and memory do not pile up.
    pub max_lifetime: Duration,
}

/// The hook that retires connections older than `max_lifetime`.
fn retire_after<M: deadpool::managed::Manager>(max_lifetime: Duration) -> Hook<M> {
    Hook::sync_fn(move |_, metrics| {
        if metrics.age() > max_lifetime {
            Err(HookError::message("connection reached DB_POOL_RECYCLE"))
        } else {
            Ok(())
        }
    })
}

/// Errors of the storage layer. Service code maps them to domain errors.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A unique constraint (named index) was violated.
    #[error("unique constraint {0} violated")]
    UniqueViolation(String),
    /// No connection could be obtained in time, or the server is unreachable.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Any other database failure.
    #[error(transparent)]
    Query(#[from] DieselError),
}

impl DbError {
    fn from_diesel(err: DieselError) -> Self {
        match err {
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                // PostgreSQL names the index; SQLite names the columns
                // ("UNIQUE constraint failed: users.email"): normalise both to
                // the index name the schema declares.
                let name = info
                    .constraint_name()
                    .map(str::to_owned)
                    .unwrap_or_else(|| sqlite_unique_index(info.message()));
                Self::UniqueViolation(name)
            }
            // The connection is gone: closed, the command could not be sent
            // or its answer never came (tokio-postgres reports a lost
            // connection without an SQLSTATE, which diesel-async files as
            // "unable to send"), or the server is going down under it.
            DieselError::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => Self::Unavailable(info.message().to_owned()),
            DieselError::DatabaseError(DatabaseErrorKind::Unknown, info)
                if server_going_away(info.message()) =>
            {
                Self::Unavailable(info.message().to_owned())
            }
            other => Self::Query(other),
        }
    }
}

/// PostgreSQL's messages for a session ended by the server (SQLSTATE 57P01
/// admin shutdown, 57P02 crash shutdown, 57P05 idle timeout: all begin
/// "terminating connection") and for a server not accepting sessions (57P03).
/// diesel does not pass the SQLSTATE on, so the message is what tells.
fn server_going_away(message: &str) -> bool {
    message.starts_with("terminating connection") || message.starts_with("the database system is")
}

/// Maps SQLite's "UNIQUE constraint failed: table.col" to our index names.
fn sqlite_unique_index(message: &str) -> String {
    match message.rsplit(": ").next().unwrap_or(message) {
        "users.email" => "ix_users_email".to_owned(),
        "user_sessions.refresh_token_jti" => "ix_user_sessions_refresh_token_jti".to_owned(),
        "organizations.slug" => "ix_organizations_slug".to_owned(),
        "oauth_accounts.provider, oauth_accounts.provider_user_id" => {
            "uq_oauth_provider_user".to_owned()
        }
        "oauth_accounts.user_id, oauth_accounts.provider" => {
            "uq_oauth_accounts_user_provider".to_owned()
        }
        other => other.to_owned(),
    }
}

/// Result of a storage call.
pub type DbResult<T> = Result<T, DbError>;

/// Converts a diesel result into a [`DbResult`], naming unique violations.
pub(crate) fn map_err<T>(result: Result<T, DieselError>) -> DbResult<T> {
    result.map_err(DbError::from_diesel)
}

/// The connection pool of either backend.
#[derive(Clone)]
pub enum Pool {
    /// PostgreSQL (tokio-postgres).
    Pg(DeadPool<AsyncPgConnection>),
    /// SQLite (bundled, WAL).
    Sqlite(DeadPool<SqliteConn>),
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Pg(_) => "Pool::Pg",
            Self::Sqlite(_) => "Pool::Sqlite",
        })
    }
}

/// SQLite runs one writer at a time and every query on a blocking thread:
/// past a few connections more only add page caches (memory) and writers
/// sleeping in the busy handler (latency), so the pool stops here whatever
/// `DB_POOL_SIZE` and `DB_MAX_OVERFLOW` say.
const SQLITE_MAX_CONNECTIONS: usize = 8;

const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
     PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;";

impl Pool {
    /// Builds a pool; no connection is opened until one is needed.
    pub fn new(url: &DatabaseUrl, options: PoolOptions) -> anyhow::Result<Self> {
        let timeouts = Timeouts {
            wait: Some(options.wait_timeout),
            create: Some(options.wait_timeout),
            recycle: Some(options.wait_timeout),
        };
        Ok(match url {
            DatabaseUrl::Postgres(url) => {
                // `Fast` recycling: a connection whose socket closed is
                // already known broken and is dropped; the default
                // (`Verified`) would add a `SELECT 1` round trip to every
                // request, doubling the database's work on reads.
                let mut config = ManagerConfig::default();
                config.recycling_method = RecyclingMethod::Fast;
                let manager =
                    AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, config);
                Self::Pg(
                    DeadPool::builder(manager)
                        .max_size(options.max_size)
                        .timeouts(timeouts)
                        .pre_recycle(retire_after(options.max_lifetime))
                        .runtime(deadpool::Runtime::Tokio1)
                        .build()?,
                )
            }
            DatabaseUrl::Sqlite(path) => {
                if let Some(dir) = Path::new(path)
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                {
                    std::fs::create_dir_all(dir)?;
                }
                let mut config = ManagerConfig::default();
                config.recycling_method = RecyclingMethod::Fast;
                config.custom_setup = Box::new(|path: &str| {
                    let path = path.to_owned();
                    async move {
                        let mut conn = SqliteConn::establish(&path).await?;
                        conn.batch_execute(SQLITE_PRAGMAS)
                            .await
                            .map_err(ConnectionError::CouldntSetupConfiguration)?;
                        // SQLite's own lower() folds ASCII only; searches
                        // compare lower(column) with a pattern lowered in Rust.
                        conn.spawn_blocking(|c| {
                            users::lower_nullable_utils::register_impl(c, |text: Option<String>| {
                                text.map(|t| t.to_lowercase())
                            })
                        })
                        .await
                        .map_err(ConnectionError::CouldntSetupConfiguration)?;
                        Ok(conn)
                    }
                    .boxed()
                });
                let manager =
                    AsyncDieselConnectionManager::<SqliteConn>::new_with_config(path, config);
                Self::Sqlite(
                    DeadPool::builder(manager)
                        .max_size(options.max_size.min(SQLITE_MAX_CONNECTIONS))
                        .timeouts(timeouts)
                        .pre_recycle(retire_after(options.max_lifetime))
                        .runtime(deadpool::Runtime::Tokio1)
                        .build()?,
                )
            }
        })
    }

    /// (connections held, idle, requests waiting).
    pub fn status(&self) -> (usize, usize, usize) {
        let status = match self {
            Self::Pg(pool) => pool.status(),
            Self::Sqlite(pool) => pool.status(),
        };
        (status.size, status.available, status.waiting)
    }

    /// Takes a connection, waiting at most the pool timeout.
    pub async fn get(&self) -> DbResult<DbConn> {
        let backend = match self {
            Self::Pg(pool) => PooledBackend::Pg(Box::new(
                pool.get()
                    .await
                    .map_err(|e| DbError::Unavailable(e.to_string()))?,
            )),
            Self::Sqlite(pool) => PooledBackend::Sqlite(
                pool.get()
                    .await
                    .map_err(|e| DbError::Unavailable(e.to_string()))?,
            ),
        };
        Ok(DbConn {
            backend: Some(backend),
            in_transaction: false,
        })
    }

    /// `SELECT 1` within `timeout`: the health check.
    pub async fn ping(&self, timeout: Duration) -> bool {
        let probe = async {
            let mut conn = self.get().await?;
            map_err(crate::with_backend!(conn, c => {
                diesel::sql_query("SELECT 1").execute(c).await
            }))
        };
        matches!(tokio::time::timeout(timeout, probe).await, Ok(Ok(_)))
    }
}

// Boxed: the PostgreSQL connection is large and moves with every checkout.
enum PooledBackend {
    Pg(Box<Object<AsyncDieselConnectionManager<AsyncPgConnection>>>),
    Sqlite(Object<AsyncDieselConnectionManager<SqliteConn>>),
}

/// A borrowed connection of either backend; see [`with_backend!`](crate::with_backend).
pub enum Backend<'a> {
    /// PostgreSQL.
    Pg(&'a mut AsyncPgConnection),
    /// SQLite.
    Sqlite(&'a mut SqliteConn),
}

/// A pooled connection. Dropped inside a transaction, it is closed (which rolls
/// the transaction back) instead of going back to the pool.
pub struct DbConn {
    backend: Option<PooledBackend>,
    in_transaction: bool,
}

impl Drop for DbConn {
    fn drop(&mut self) {
        if self.in_transaction {
            match self.backend.take() {
                Some(PooledBackend::Pg(obj)) => drop(Object::take(*obj)),
                Some(PooledBackend::Sqlite(obj)) => drop(Object::take(obj)),
                None => {}
            }
        }
    }
}

/// Runs one query body against whichever backend `conn` holds. The body is
/// written once and type-checked for each backend.
#[macro_export]
macro_rules! with_backend {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn.backend() {
            $crate::db::Backend::Pg($c) => $body,
            $crate::db::Backend::Sqlite($c) => $body,
        }
    };
}

impl DbConn {
    /// The backend connection, for [`with_backend!`](crate::with_backend).
    pub fn backend(&mut self) -> Backend<'_> {
        match self.backend.as_mut() {
            Some(PooledBackend::Pg(obj)) => Backend::Pg(obj),
            Some(PooledBackend::Sqlite(obj)) => Backend::Sqlite(obj),
            // Only `Drop` takes the backend out.
            None => unreachable_backend(),
        }
    }

    /// True on PostgreSQL (for the few statements that differ).
    pub fn is_postgres(&self) -> bool {
        matches!(self.backend, Some(PooledBackend::Pg(_)))
    }

    /// Runs `work` in a transaction: committed when it returns `Ok`, rolled
    /// back otherwise. On SQLite the transaction takes the write lock up front
    /// (`BEGIN IMMEDIATE`), so concurrent writers queue on the busy timeout
    /// instead of failing on a lock upgrade. On PostgreSQL, lock rows with
    /// `FOR UPDATE` inside `work` where order matters.
    pub async fn transaction<'a, T, E>(
        &mut self,
        work: impl for<'c> FnOnce(&'c mut DbConn) -> ScopedBoxFuture<'a, 'c, Result<T, E>>,
    ) -> Result<T, E>
    where
        E: From<DbError>,
    {
        let begin = if self.is_postgres() {
            "BEGIN"
        } else {
            "BEGIN IMMEDIATE"
        };
        self.execute_raw(begin).await?;
        self.in_transaction = true;
        let result = work(self).await;
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        self.execute_raw(end).await?;
        self.in_transaction = false;
        result
    }

    async fn execute_raw(&mut self, sql: &'static str) -> DbResult<()> {
        map_err(crate::with_backend!(self, c => c.batch_execute(sql).await))
    }
}

#[expect(clippy::panic, reason = "a DbConn's backend is only taken out in Drop")]
fn unreachable_backend() -> ! {
    panic!("DbConn used after drop")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(kind: DatabaseErrorKind, message: &str) -> DbError {
        DbError::from_diesel(DieselError::DatabaseError(
            kind,
            Box::new(message.to_owned()),
        ))
    }

    #[test]
    fn a_lost_connection_is_unavailable_not_a_query_error() {
        use DatabaseErrorKind as K;
        for (kind, message) in [
            (K::UnableToSendCommand, "connection closed"),
            (
                K::UnableToSendCommand,
                "error communicating with the server",
            ),
            (K::ClosedConnection, "server closed the connection"),
            (
                K::Unknown,
                "terminating connection due to administrator command",
            ),
            (K::Unknown, "the database system is shutting down"),
        ] {
            assert!(
                matches!(from(kind, message), DbError::Unavailable(_)),
                "{message}"
            );
        }
        assert!(matches!(
            from(K::Unknown, "division by zero"),
            DbError::Query(_)
        ));
        assert!(matches!(
            from(K::UniqueViolation, "duplicate key"),
            DbError::UniqueViolation(_)
        ));
    }
}
