//! Seeds bench users straight into the database, through identityd's own
//! schema and types: one bcrypt hash (the real cost) shared by all, rows
//! inserted 1000 at a time. Idempotent: only missing users are created.

use diesel::{QueryDsl as _, TextExpressionMethods as _};
use diesel_async::RunQueryDsl as _;
use identityd::db::schema::users;
use identityd::db::users::UserRow;
use identityd::db::{Backend, DatabaseUrl, Pool, PoolOptions};
use identityd::domain::types::{Id, Timestamp};

use crate::BENCH_PASSWORD;

const BATCH: usize = 1000;

/// The email of bench user `i`.
pub fn email(i: usize) -> String {
    format!("bench-{i}@bench.test")
}

/// Makes sure users `0..count` exist; returns how many were created.
pub async fn seed_users(url: &str, count: usize, cost: u32) -> Result<usize, String> {
    let url = DatabaseUrl::parse(url)?;
    identityd::db::migrate::run_pending(&url)
        .await
        .map_err(|e| format!("migrations: {e:#}"))?;
    let pool = Pool::new(
        &url,
        PoolOptions {
            max_size: 2,
            wait_timeout: std::time::Duration::from_secs(30),
            max_lifetime: std::time::Duration::from_secs(3600),
        },
    )
    .map_err(|e| e.to_string())?;
    let mut conn = pool.get().await.map_err(|e| e.to_string())?;
    let existing: i64 = identityd::with_backend!(conn, c => {
        users::table
            .filter(users::email.like("bench-%@bench.test"))
            .count()
            .get_result(c)
            .await
    })
    .map_err(|e| e.to_string())?;
    let existing = usize::try_from(existing).unwrap_or(0);
    if existing >= count {
        return Ok(0);
    }
    let hash = bcrypt::hash(BENCH_PASSWORD, cost).map_err(|e| e.to_string())?;
    let names = [
        "Ada", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Frances",
    ];
    let families = [
        "Lovelace", "Hopper", "Torvalds", "Liskov", "Thompson", "Hamilton", "Ritchie", "Allen",
    ];
    // Deterministic, distinct creation times (one second apart, newest first).
    let base = chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default();
    let mut created = 0;
    let mut start = existing;
    while start < count {
        let end = (start + BATCH).min(count);
        let rows: Vec<UserRow> = (start..end)
            .map(|i| {
                let at = Timestamp::from_datetime(base - chrono::Duration::seconds(i as i64));
                UserRow {
                    id: Id::new_random(),
                    email: email(i),
                    password_hash: Some(hash.clone()),
                    first_name: format!("{}{}", names[i % names.len()], i % 997),
                    last_name: Some(families[i % families.len()].to_owned()),
                    phone_number: None,
                    is_active: true,
                    is_superuser: false,
                    preferences: Some("{}".to_owned()),
                    locale: None,
                    deleted_at: None,
                    created_at: at,
                    updated_at: at,
                }
            })
            .collect();
        match conn.backend() {
            Backend::Pg(c) => {
                diesel::insert_into(users::table)
                    .values(&rows)
                    .execute(c)
                    .await
            }
            // Diesel's multi-row insert on SQLite cannot leave nullable
            // columns to their defaults; one transaction keeps it fast.
            Backend::Sqlite(c) => {
                diesel::sql_query("BEGIN")
                    .execute(c)
                    .await
                    .map_err(|e| e.to_string())?;
                for row in &rows {
                    diesel::insert_into(users::table)
                        .values(row)
                        .execute(c)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                diesel::sql_query("COMMIT").execute(c).await
            }
        }
        .map_err(|e| e.to_string())?;
        created += rows.len();
        start = end;
        if created % 100_000 == 0 {
            eprintln!("  {created} users inserted");
        }
    }
    // Planner statistics, and (PostgreSQL) the counter rows' dead versions
    // gone, as in a database that grew over time with autovacuum running:
    // every seeded user updated a row of user_counts.
    let tidy = match conn.backend() {
        Backend::Pg(_) => "VACUUM ANALYZE",
        Backend::Sqlite(_) => "ANALYZE",
    };
    identityd::with_backend!(conn, c => diesel::sql_query(tidy).execute(c).await)
        .map_err(|e| e.to_string())?;
    Ok(created)
}
