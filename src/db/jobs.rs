//! Job leases (one replica runs a periodic job at a time) and the purges
//! of the cleanup job, one batch per call so no statement holds locks long.

use diesel::{
    BoolExpressionMethods as _, ExpressionMethods as _, OptionalExtension as _, QueryDsl as _,
};
use diesel_async::RunQueryDsl as _;

use super::schema::{
    job_leases, oauth_authorization_codes, oauth_authorization_requests,
    oauth_provider_refresh_tokens, oauth_states, user_sessions,
};
use super::types::{Id, Timestamp};
use super::{DbConn, DbResult, map_err};
use crate::with_backend;

/// Most rows one purge statement deletes.
pub const BATCH: i64 = 1000;

/// Takes the lease of `job` for `holder` until `until`, if it is free and
/// the job has not succeeded since `due`: one statement, so two replicas
/// never both get it. Returns whether this call took it.
pub async fn take_lease(
    conn: &mut DbConn,
    job: &str,
    holder: &str,
    now: Timestamp,
    until: Timestamp,
    due: Timestamp,
) -> DbResult<bool> {
    use job_leases as j;
    map_err(with_backend!(conn, c => {
        diesel::update(
            j::table
                .filter(j::job_name.eq(job))
                .filter(j::locked_until.is_null().or(j::locked_until.lt(now)))
                .filter(j::last_success_at.is_null().or(j::last_success_at.lt(due))),
        )
        .set((
            j::locked_by.eq(holder),
            j::locked_until.eq(until),
            j::last_started_at.eq(now),
            j::updated_at.eq(now),
        ))
        .execute(c)
        .await
    }))
    .map(|n| n == 1)
}

/// Gives the lease back; records a success when `succeeded`.
pub async fn release_lease(
    conn: &mut DbConn,
    job: &str,
    holder: &str,
    succeeded: bool,
    now: Timestamp,
) -> DbResult<()> {
    use job_leases as j;
    let none: Option<Timestamp> = None;
    let none_text: Option<String> = None;
    let target = j::table
        .filter(j::job_name.eq(job))
        .filter(j::locked_by.eq(holder));
    map_err(with_backend!(conn, c => {
        if succeeded {
            diesel::update(target)
                .set((
                    j::locked_by.eq(none_text.clone()),
                    j::locked_until.eq(none),
                    j::last_success_at.eq(now),
                    j::updated_at.eq(now),
                ))
                .execute(c)
                .await
        } else {
            diesel::update(target)
                .set((
                    j::locked_by.eq(none_text.clone()),
                    j::locked_until.eq(none),
                    j::updated_at.eq(now),
                ))
                .execute(c)
                .await
        }
    }))
    .map(drop)
}

/// When `job` last succeeded.
pub async fn last_success(conn: &mut DbConn, job: &str) -> DbResult<Option<Timestamp>> {
    use job_leases as j;
    map_err(with_backend!(conn, c => {
        j::table
            .filter(j::job_name.eq(job))
            .select(j::last_success_at)
            .first::<Option<Timestamp>>(c)
            .await
            .optional()
    }))
    .map(Option::flatten)
}

/// Deletes up to [`BATCH`] rows of `$table` matching `$filter`; evaluates to
/// the number deleted.
macro_rules! purge_batch {
    ($conn:expr, $table:ident, $filter:expr) => {
        map_err(with_backend!($conn, c => {
            let doomed: Vec<Id> = $table::table
                .filter($filter)
                .select($table::id)
                .limit(BATCH)
                .load(c)
                .await?;
            if doomed.is_empty() {
                Ok(0)
            } else {
                // The filter again: a row that changed since it was read stays.
                diesel::delete($table::table.filter($table::id.eq_any(doomed)).filter($filter))
                    .execute(c)
                    .await
            }
        }))
    };
}

/// Sessions that expired before `before`, ended or not.
pub async fn purge_sessions(conn: &mut DbConn, before: Timestamp) -> DbResult<usize> {
    purge_batch!(conn, user_sessions, user_sessions::expires_at.lt(before))
}

/// Social-login states expired before `now`.
pub async fn purge_states(conn: &mut DbConn, now: Timestamp) -> DbResult<usize> {
    purge_batch!(conn, oauth_states, oauth_states::expires_at.lt(now))
}

/// Authorization requests expired before `now`.
pub async fn purge_requests(conn: &mut DbConn, now: Timestamp) -> DbResult<usize> {
    purge_batch!(
        conn,
        oauth_authorization_requests,
        oauth_authorization_requests::expires_at.lt(now)
    )
}

/// Authorization codes expired before `now`, used or not (a used code is
/// kept until it expires so that a replay is still recognised).
pub async fn purge_codes(conn: &mut DbConn, now: Timestamp) -> DbResult<usize> {
    purge_batch!(
        conn,
        oauth_authorization_codes,
        oauth_authorization_codes::expires_at.lt(now)
    )
}

/// Provider refresh tokens expired, or revoked, before `before`.
pub async fn purge_refresh_tokens(conn: &mut DbConn, before: Timestamp) -> DbResult<usize> {
    use oauth_provider_refresh_tokens as t;
    let revoked_long_ago = t::revoked.eq(true).and(
        t::revoked_at
            .lt(before)
            .or(t::revoked_at.is_null().and(t::updated_at.lt(before))),
    );
    purge_batch!(
        conn,
        oauth_provider_refresh_tokens,
        t::expires_at.lt(before).or(revoked_long_ago)
    )
}

/// Clients of client ID metadata documents whose stored copy expired
/// before `before` and that nothing refers to (no consent, token, code or
/// pending request): the copy is only a cache, fetched again on next use.
pub async fn purge_document_clients(conn: &mut DbConn, before: Timestamp) -> DbResult<usize> {
    use super::schema::{
        oauth_authorization_codes as codes, oauth_authorization_requests as requests,
        oauth_clients as clients, oauth_consents as consents,
    };
    use diesel::dsl::{exists, not};
    let unused = || {
        clients::registration
            .eq("metadata_document")
            .and(clients::metadata_expires_at.lt(before))
            .and(not(exists(
                consents::table.filter(consents::client_id.eq(clients::client_id)),
            )))
            .and(not(exists(oauth_provider_refresh_tokens::table.filter(
                oauth_provider_refresh_tokens::client_id.eq(clients::client_id),
            ))))
            .and(not(exists(
                codes::table.filter(codes::client_id.eq(clients::client_id)),
            )))
            .and(not(exists(
                requests::table.filter(requests::client_id.eq(clients::client_id)),
            )))
    };
    purge_batch!(conn, clients, unused())
}
