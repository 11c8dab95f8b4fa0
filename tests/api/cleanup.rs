//! The cleanup job: what it purges and keeps, batches, and the lease that
//! makes it run once across replicas.

use chrono::Duration;
use identityd::clock::Clock as _;
use identityd::db::social::{StateRow, insert_state};
use identityd::domain::types::Id;
use identityd::service::cleanup::{Report, run_once};

use crate::db_test;
use crate::helpers::{PASSWORD, TestApp};

async fn add_states(app: &TestApp, count: usize, expires_in: Duration) {
    let now = app.clock.now();
    let mut conn = app.state.db.get().await.unwrap();
    for i in 0..count {
        let row = StateRow {
            id: Id::new_random(),
            state: format!("{i:064x}-{}", Id::new_random()),
            code_verifier: None,
            nonce: None,
            provider: "github".to_owned(),
            redirect_uri: None,
            user_id: None,
            expires_at: now + expires_in,
            created_at: now,
            updated_at: now,
        };
        insert_state(&mut conn, &row).await.unwrap();
    }
}

db_test!(the_job_purges_what_expired_and_keeps_the_rest, |app| {
    app.register("ann@example.com").await;
    app.login("ann@example.com", PASSWORD).await;
    add_states(&app, 2_500, Duration::minutes(10)).await;
    // 40 days on: the first session expired more than 30 days ago.
    app.clock.advance(Duration::days(40));
    let fresh = app.login("ann@example.com", PASSWORD).await;
    add_states(&app, 3, Duration::minutes(10)).await;

    let now = app.clock.now();
    let report = run_once(&app.state, "test-a", now).await.unwrap().unwrap();
    assert_eq!(
        report,
        Report {
            sessions: 1,
            states: 2_500,
            ..Report::default()
        },
        "batches of 1000 drain every expired row"
    );
    assert_eq!(app.sessions_of(&fresh).await.len(), 1);

    // Once it succeeded for an instant, it does not run again for it…
    assert!(run_once(&app.state, "test-b", now).await.unwrap().is_none());
    // …but does for the next one.
    app.clock.advance(Duration::days(1));
    let next = app.clock.now();
    let report = run_once(&app.state, "test-b", next).await.unwrap().unwrap();
    assert_eq!(report.states, 3);
});

db_test!(concurrent_replicas_run_it_once, |app| {
    let now = app.clock.now();
    let (a, b, c) = tokio::join!(
        run_once(&app.state, "replica-a", now),
        run_once(&app.state, "replica-b", now),
        run_once(&app.state, "replica-c", now),
    );
    let ran = [a, b, c]
        .into_iter()
        .filter(|r| r.as_ref().unwrap().is_some())
        .count();
    assert_eq!(ran, 1);
});
