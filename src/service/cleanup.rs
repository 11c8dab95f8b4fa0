//! The cleanup job (docs/operations.md#cleanup-job): purges expired
//! sessions, social-login states, authorization requests and codes, and old
//! provider refresh tokens, in batches, once a day across all replicas.

use chrono::{Duration, NaiveTime, TimeZone as _, Utc};
use rand::Rng as _;

use crate::db::jobs;
use crate::domain::types::Timestamp;
use crate::error::Error;
use crate::service::connection;
use crate::state::AppState;

const JOB: &str = "cleanup";
/// How long a lease lasts; a replica that dies mid-run frees it by then.
const LEASE_MINUTES: i64 = 15;
/// Revoked or expired provider refresh tokens are kept this long (for
/// reuse detection and audits).
const REFRESH_TOKEN_DAYS: i64 = 7;
/// Up to this much random delay after the scheduled instant, so replicas
/// do not all hit the database in the same second.
const JITTER_SECONDS: i64 = 60;

/// Rows removed by one run, per table.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// `user_sessions`.
    pub sessions: usize,
    /// `oauth_states`.
    pub states: usize,
    /// `oauth_authorization_requests`.
    pub requests: usize,
    /// `oauth_authorization_codes`.
    pub codes: usize,
    /// `oauth_provider_refresh_tokens`.
    pub refresh_tokens: usize,
    /// `oauth_clients` of metadata documents nothing refers to.
    pub document_clients: usize,
}

/// The most recent scheduled instant at or before `now`.
pub fn last_due(now: Timestamp, minute_of_day: u32) -> Timestamp {
    let now = now.as_datetime();
    let time = NaiveTime::from_num_seconds_from_midnight_opt(minute_of_day * 60, 0)
        .unwrap_or(NaiveTime::MIN);
    let today = Utc.from_utc_datetime(&now.date_naive().and_time(time));
    let due = if today <= now {
        today
    } else {
        today - Duration::days(1)
    };
    Timestamp::from_datetime(due)
}

/// A name for this process in the lease (host, pid, random suffix).
pub fn instance_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "identityd".to_owned());
    let suffix: u32 = rand::rng().random();
    format!("{host}-{}-{suffix:08x}", std::process::id())
}

/// Runs the job if no replica holds its lease and it has not succeeded
/// since `due`. `None` when another replica has it (or had it).
pub async fn run_once(
    state: &AppState,
    instance: &str,
    due: Timestamp,
) -> Result<Option<Report>, Error> {
    let now = state.clock.now();
    let mut conn = connection(state).await?;
    let until = now + Duration::minutes(LEASE_MINUTES);
    if !jobs::take_lease(&mut conn, JOB, instance, now, until, due).await? {
        return Ok(None);
    }
    let outcome = {
        let _writes = crate::service::principal_cache::WriteGuard::new(&state.principals);
        purge_all(state).await
    };
    let finished = state.clock.now();
    jobs::release_lease(&mut conn, JOB, instance, outcome.is_ok(), finished).await?;
    let report = outcome?;
    tracing::info!(
        sessions = report.sessions,
        states = report.states,
        requests = report.requests,
        codes = report.codes,
        refresh_tokens = report.refresh_tokens,
        document_clients = report.document_clients,
        "cleanup job finished"
    );
    Ok(Some(report))
}

async fn purge_all(state: &AppState) -> Result<Report, Error> {
    let now = state.clock.now();
    let retention = now - Duration::days(state.config.session_retention_days);
    let old_tokens = now - Duration::days(REFRESH_TOKEN_DAYS);
    Ok(Report {
        sessions: drain(state, |c| Box::pin(jobs::purge_sessions(c, retention))).await?,
        states: drain(state, |c| Box::pin(jobs::purge_states(c, now))).await?,
        requests: drain(state, |c| Box::pin(jobs::purge_requests(c, now))).await?,
        codes: drain(state, |c| Box::pin(jobs::purge_codes(c, now))).await?,
        refresh_tokens: drain(state, |c| {
            Box::pin(jobs::purge_refresh_tokens(c, old_tokens))
        })
        .await?,
        // After the tokens: a client whose last grant just went is unused.
        document_clients: drain(state, |c| {
            Box::pin(jobs::purge_document_clients(c, old_tokens))
        })
        .await?,
    })
}

type Batch<'c> =
    std::pin::Pin<Box<dyn std::future::Future<Output = crate::db::DbResult<usize>> + Send + 'c>>;

/// Repeats a batch purge until a batch comes back short; each batch is its
/// own statement (its own transaction), so locks are held briefly.
async fn drain(
    state: &AppState,
    batch: impl for<'c> Fn(&'c mut crate::db::DbConn) -> Batch<'c>,
) -> Result<usize, Error> {
    let mut total = 0;
    loop {
        let mut conn = connection(state).await?;
        let removed = batch(&mut conn).await?;
        total += removed;
        if removed < usize::try_from(jobs::BATCH).unwrap_or(usize::MAX) {
            return Ok(total);
        }
        // Let other work use the database between batches.
        drop(conn);
        tokio::task::yield_now().await;
    }
}

/// The schedule: at start-up when the last instant has no successful run,
/// then daily at `CLEANUP_TIME_UTC` plus jitter. Runs until the task is
/// aborted.
pub async fn schedule(state: AppState) {
    let instance = instance_name();
    let minute = state.config.cleanup_minute_of_day;
    loop {
        let due = last_due(state.clock.now(), minute);
        match run_once(&state, &instance, due).await {
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(error = %err, "cleanup job failed; retried at the next instant")
            }
        }
        let now = state.clock.now();
        let next = last_due(now, minute).as_datetime() + Duration::days(1);
        let jitter = rand::rng().random_range(0..=JITTER_SECONDS);
        let wait = (next - now.as_datetime() + Duration::seconds(jitter))
            .to_std()
            .unwrap_or(std::time::Duration::from_secs(60));
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::from_datetime(text.parse().unwrap())
    }

    #[test]
    fn the_last_due_instant_is_today_or_yesterday() {
        assert_eq!(
            last_due(at("2026-12-06T03:00:00Z"), 120),
            at("2026-12-06T02:00:00Z")
        );
        assert_eq!(
            last_due(at("2026-12-06T01:59:59Z"), 120),
            at("2026-12-05T02:00:00Z")
        );
        assert_eq!(
            last_due(at("2026-12-06T02:00:00Z"), 120),
            at("2026-12-06T02:00:00Z")
        );
    }
}
