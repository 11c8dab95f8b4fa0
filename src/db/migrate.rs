//! Embedded migrations for both backends (`migrations/postgres`,
//! `migrations/sqlite`), applied by `identityd migrate` and at start-up.

use anyhow::Context as _;
use diesel::Connection as _;
use diesel::sqlite::SqliteConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pg::AsyncPgConnection;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};

use super::DatabaseUrl;

const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Arbitrary constant naming the advisory lock that serialises concurrent
/// migrations of several replicas starting at once.
const PG_MIGRATION_LOCK: i64 = 0x6964_656e_7469_7479;

/// Applies every pending migration; returns the versions applied.
pub async fn run_pending(url: &DatabaseUrl) -> anyhow::Result<Vec<String>> {
    let url = url.clone();
    tokio::task::spawn_blocking(move || match url {
        DatabaseUrl::Postgres(url) => {
            let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url)
                .context("connecting to PostgreSQL")?;
            diesel::sql_query(format!("SELECT pg_advisory_lock({PG_MIGRATION_LOCK})"))
                .execute(&mut conn)?;
            let applied = apply(&mut conn, POSTGRES);
            diesel::sql_query(format!("SELECT pg_advisory_unlock({PG_MIGRATION_LOCK})"))
                .execute(&mut conn)?;
            applied
        }
        DatabaseUrl::Sqlite(path) => {
            if let Some(dir) = std::path::Path::new(&path)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir)?;
            }
            let mut conn = SqliteConnection::establish(&path)
                .with_context(|| format!("opening SQLite database {path}"))?;
            diesel::sql_query("PRAGMA busy_timeout = 10000").execute(&mut conn)?;
            apply(&mut conn, SQLITE)
        }
    })
    .await?
}

fn apply<C>(conn: &mut C, migrations: EmbeddedMigrations) -> anyhow::Result<Vec<String>>
where
    C: diesel_migrations::MigrationHarness<C::Backend> + diesel::Connection,
{
    let applied = conn
        .run_pending_migrations(migrations)
        .map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
    Ok(applied.iter().map(ToString::to_string).collect())
}

use diesel::RunQueryDsl as _;
