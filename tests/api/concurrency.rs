//! Races and resource contention: a login flood does not starve other
//! requests of database connections, and a write decided on a stale check
//! (a demoted owner, a password verified before a reset) is refused.
//!
//! The races are made deterministic by holding the lock the write needs in
//! another transaction that commits the competing change: the request under
//! test passes its early checks, waits on the lock, and must then see the
//! committed change.

use std::time::Duration;

use serde_json::{Value, json};

use crate::db_test;
use identityd::grpc::pb;

use crate::helpers::{Answer, Db, PASSWORD, TestApp};

db_test!(a_login_flood_does_not_starve_reads, env: [
    ("DB_POOL_SIZE", "1"),
    ("DB_MAX_OVERFLOW", "0"),
    ("DB_POOL_TIMEOUT", "1"),
    ("BCRYPT_COST", "10"),
    ("PASSWORD_HASH_QUEUE", "64"),
], |app| {
    let token = app.user("reader@example.com").await;
    let token = token["access_token"].as_str().unwrap().to_owned();
    // Forty wrong-password logins queue for two hashing slots: seconds of
    // waiting, longer than the pool timeout. Holding the one connection
    // while queued would turn them, and the reads, into 503s.
    let logins: Vec<_> = (0..40)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                app.post(
                    "/api/v1/auth/login",
                    json!({"email": format!("nobody{i}@example.com"), "password": "Wrong-Password-1!"}),
                )
                .await
                .status
            })
        })
        .collect();
    let reads: Vec<_> = (0..20)
        .map(|_| {
            let (app, token) = (app.clone(), token.clone());
            tokio::spawn(async move { app.get_auth("/api/v1/users/me", &token).await.status })
        })
        .collect();
    for login in logins {
        assert_eq!(login.await.unwrap(), 401);
    }
    for read in reads {
        assert_eq!(read.await.unwrap(), 200);
    }
});

db_test!(a_full_hashing_queue_refuses_at_once, env: [
    ("BCRYPT_COST", "12"),
    ("PASSWORD_HASH_QUEUE", "2"),
], |app| {
    // Eighteen logins at once against two hashing slots and a queue of two:
    // the rest are refused at once, over REST with 429 and Retry-After, over
    // gRPC with RESOURCE_EXHAUSTED, whether or not the account exists.
    let rest: Vec<_> = (0..12)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                app.post(
                    "/api/v1/auth/login",
                    json!({"email": format!("nobody{i}@example.com"), "password": "Wrong-Password-1!"}),
                )
                .await
            })
        })
        .collect();
    let grpc: Vec<_> = (0..6)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                let request = pb::LoginRequest {
                    email: Some(format!("grpc{i}@example.com")),
                    password: Some(PASSWORD.to_owned()),
                };
                app.auth_client().await.login(request).await.unwrap_err().code()
            })
        })
        .collect();
    let mut refused = 0;
    for login in rest {
        let answer = login.await.unwrap();
        match answer.status {
            401 => {}
            429 => {
                refused += 1;
                answer.error(429, "SYS_004");
                let retry: u64 = answer.header("retry-after").unwrap().parse().unwrap();
                assert!((1..=60).contains(&retry), "Retry-After {retry}");
            }
            other => panic!("login answered {other}: {:?}", answer.body),
        }
    }
    let mut exhausted = 0;
    for login in grpc {
        match login.await.unwrap() {
            tonic::Code::ResourceExhausted => exhausted += 1,
            code => assert_eq!(code, tonic::Code::Unauthenticated),
        }
    }
    // Four of the eighteen fit; a few more may if a hash ends before the
    // last requests arrive.
    assert!(refused + exhausted >= 8, "{refused} + {exhausted} refused");
    assert!(exhausted > 0, "no gRPC login was refused");
    // Once the queue drains, logins work again.
    app.user("after@example.com").await;
});

/// A transaction on its own connection that holds the lock a request
/// needs, with a change that becomes visible only when it commits.
struct Held {
    conn: identityd::db::DbConn,
}

impl Held {
    /// Takes the write lock (SQLite: the database; PostgreSQL: the rows
    /// `pg_lock` selects) and applies `change`, uncommitted.
    async fn take(app: &TestApp, pg_lock: &str, change: &str) -> Self {
        use diesel_async::SimpleAsyncConnection as _;
        let mut conn = app.state.db.get().await.unwrap();
        let begin = match app.state.db {
            identityd::db::Pool::Sqlite(_) => "BEGIN IMMEDIATE;".to_owned(),
            identityd::db::Pool::Pg(_) => format!("BEGIN; {pg_lock};"),
        };
        identityd::with_backend!(conn, c => c.batch_execute(&format!("{begin} {change}")).await)
            .unwrap();
        Self { conn }
    }

    async fn commit(mut self) {
        use diesel_async::SimpleAsyncConnection as _;
        let conn = &mut self.conn;
        identityd::with_backend!(conn, c => c.batch_execute("COMMIT").await).unwrap();
    }
}

/// Runs `request` while `held` keeps its lock for a moment, then commits.
async fn race(
    held: Held,
    request: impl std::future::Future<Output = Answer> + Send + 'static,
) -> Answer {
    let request = tokio::spawn(request);
    // Long enough for the request to pass its early checks and wait.
    tokio::time::sleep(Duration::from_millis(500)).await;
    held.commit().await;
    request.await.unwrap()
}

/// An organization with owners A and B and a member C; returns
/// (org id, A's token, B's id, C's id).
async fn organization(app: &TestApp) -> (String, String, String, String) {
    let root = app.superuser().await;
    let org = app
        .call(
            "POST",
            "/api/v1/admin/organizations",
            Some(&root),
            Some(json!({"name": "Race", "slug": "race"})),
        )
        .await;
    let org_id = org.body["id"].as_str().unwrap().to_owned();
    let (a_token, a_id) = app.member("a@example.com").await;
    let (_, b_id) = app.member("b@example.com").await;
    let (_, c_id) = app.member("c@example.com").await;
    for (id, role) in [(&a_id, "owner"), (&b_id, "owner"), (&c_id, "member")] {
        let added = app
            .call(
                "POST",
                &format!("/api/v1/admin/organizations/{org_id}/members"),
                Some(&root),
                Some(json!({"user_id": id, "role": role})),
            )
            .await;
        assert!(added.status < 300, "{}", added.body);
    }
    (org_id, a_token, b_id, c_id)
}

const LOCK_ORG: &str = "SELECT 1 FROM organizations WHERE slug = 'race' FOR UPDATE";

fn demote_a(role: &str) -> String {
    format!(
        "UPDATE user_organizations SET role = '{role}' \
         WHERE user_id = (SELECT id FROM users WHERE email = 'a@example.com');"
    )
}

db_test!(a_demoted_owner_cannot_grant_ownership, |app| {
    let (org, a, _, c) = organization(&app).await;
    let held = Held::take(&app, LOCK_ORG, &demote_a("member")).await;
    let client = app.clone();
    let answer = race(held, async move {
        client
            .call(
                "PATCH",
                &format!("/api/v1/organizations/{org}/members/{c}"),
                Some(&a),
                Some(json!({"role": "owner"})),
            )
            .await
    })
    .await;
    answer.error(403, "AUTH_004");
});

db_test!(a_demoted_owner_cannot_add_an_owner, |app| {
    let (org, a, _, _) = organization(&app).await;
    let (_, d) = app.member("d@example.com").await;
    let held = Held::take(&app, LOCK_ORG, &demote_a("admin")).await;
    let client = app.clone();
    let answer = race(held, async move {
        client
            .call(
                "POST",
                &format!("/api/v1/organizations/{org}/members"),
                Some(&a),
                Some(json!({"user_id": d, "role": "owner"})),
            )
            .await
    })
    .await;
    answer.error(403, "AUTH_004");
});

db_test!(a_demoted_owner_cannot_remove_members, |app| {
    let (org, a, b, _) = organization(&app).await;
    let held = Held::take(&app, LOCK_ORG, &demote_a("member")).await;
    let client = app.clone();
    let path = format!("/api/v1/organizations/{org}/members/{b}");
    let answer = race(held, async move {
        client.call("DELETE", &path, Some(&a), None).await
    })
    .await;
    answer.error(403, "AUTH_004");
    // B is still an owner.
    let root = app.superuser().await;
    let members = app
        .get_auth(
            &format!("/api/v1/admin/organizations/{org}/members?limit=100"),
            &root,
        )
        .await;
    let b_row = members.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user_id"] == Value::String(b.clone()))
        .cloned()
        .unwrap();
    assert_eq!(b_row["role"], "owner", "{b_row}");
});

db_test!(
    a_password_change_does_not_overwrite_a_concurrent_reset,
    |app| {
        let token = app.user("pw@example.com").await;
        let access = token["access_token"].as_str().unwrap().to_owned();
        let held = Held::take(
            &app,
            "SELECT 1 FROM users WHERE email = 'pw@example.com' FOR UPDATE",
            "UPDATE users SET password_hash = 'set-by-a-reset' WHERE email = 'pw@example.com';",
        )
        .await;
        let client = app.clone();
        let answer =
            race(held, async move {
                client.call("PATCH", "/api/v1/users/me/password", Some(&access),
            Some(json!({"current_password": PASSWORD, "new_password": "Another-Horse-43!"}))).await
            })
            .await;
        answer.error(403, "AUTH_001");
        let stored = app.sessions_of(&token).await;
        assert!(!stored.is_empty());
        let login = app
            .post(
                "/api/v1/auth/login",
                json!({"email": "pw@example.com", "password": "Another-Horse-43!"}),
            )
            .await;
        login.error(401, "AUTH_001");
    }
);

#[tokio::test]
async fn db_pool_recycle_replaces_old_connections() {
    use diesel_async::SimpleAsyncConnection as _;
    for db in [Db::Sqlite, Db::Postgres] {
        let Some(app) = TestApp::builder(db)
            .env("DB_POOL_SIZE", "1")
            .env("DB_MAX_OVERFLOW", "0")
            .env("DB_POOL_RECYCLE", "1")
            .spawn()
            .await
        else {
            continue;
        };
        // A temporary table lives exactly as long as its connection.
        let marker = |sql: &'static str| {
            let app = app.clone();
            async move {
                let mut conn = app.state.db.get().await.unwrap();
                identityd::with_backend!(conn, c => c.batch_execute(sql).await).is_ok()
            }
        };
        assert!(marker("CREATE TEMPORARY TABLE marker (x INTEGER)").await);
        assert!(marker("SELECT x FROM marker").await, "reused at once");
        tokio::time::sleep(Duration::from_millis(1300)).await;
        assert!(
            !marker("SELECT x FROM marker").await,
            "kept past DB_POOL_RECYCLE"
        );
        app.database.drop_database().await;
    }
}
