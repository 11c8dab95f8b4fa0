//! The two migration trees define the same tables and columns.

use std::collections::BTreeMap;

use crate::helpers::{Db, PG_VAR, TestDatabase, pg_connect};

type Columns = BTreeMap<String, Vec<String>>;

async fn sqlite_columns() -> Columns {
    let db = TestDatabase::create(Db::Sqlite).await.unwrap();
    let url = identityd::db::DatabaseUrl::parse(&db.url).unwrap();
    identityd::db::migrate::run_pending(&url).await.unwrap();
    let identityd::db::DatabaseUrl::Sqlite(path) = url else {
        unreachable!()
    };
    let output = tokio::task::spawn_blocking(move || {
        use diesel::{Connection as _, RunQueryDsl as _};
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            table_name: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            column_name: String,
        }
        let mut conn = diesel::sqlite::SqliteConnection::establish(&path).unwrap();
        diesel::sql_query(
            "SELECT m.name AS table_name, p.name AS column_name FROM sqlite_master m \
             JOIN pragma_table_info(m.name) p WHERE m.type = 'table' \
             AND m.name NOT LIKE 'sqlite_%' AND m.name != '__diesel_schema_migrations' \
             ORDER BY m.name, p.cid",
        )
        .load::<Row>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|r| (r.table_name, r.column_name))
        .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    group(output)
}

fn group(rows: Vec<(String, String)>) -> Columns {
    let mut columns = Columns::new();
    for (table, column) in rows {
        columns.entry(table).or_default().push(column);
    }
    columns
}

#[tokio::test]
async fn migrations_define_the_same_schema_on_both_backends() {
    let sqlite = sqlite_columns().await;
    assert_eq!(sqlite["users"].len(), 13);
    assert_eq!(sqlite["user_sessions"].len(), 14);
    let Some(db) = TestDatabase::create(Db::Postgres).await else {
        eprintln!("skipped the PostgreSQL half: set {PG_VAR}");
        return;
    };
    let client = pg_connect(&db.url).await;
    let rows = client
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name != '__diesel_schema_migrations' \
             ORDER BY table_name, ordinal_position",
            &[],
        )
        .await
        .unwrap();
    drop(client);
    let postgres = group(rows.iter().map(|r| (r.get(0), r.get(1))).collect());
    db.drop_database().await;
    assert_eq!(sqlite, postgres);
}
