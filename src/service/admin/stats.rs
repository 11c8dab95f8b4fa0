//! The statistics of the admin dashboard (docs/endpoints.md#admin-statistics).

use chrono::{Duration, NaiveTime};

use crate::db::{organizations, users};

use crate::domain::types::Timestamp;
use crate::error::Error;
use crate::service::authz::require_superuser;
use crate::service::connection;
use crate::service::principal::Principal;
use crate::state::AppState;

/// The dashboard figures.
#[derive(Debug, Clone)]
pub struct Stats {
    /// 30 points: (day label, total users, active users).
    pub user_growth: Vec<(String, i64, i64)>,
    /// At most 6: (organization name, active memberships).
    pub organization_distribution: Vec<(String, i64)>,
    /// 14 points: (day label, registrations).
    pub registration_activity: Vec<(String, i64)>,
    /// (active, inactive).
    pub user_status: (i64, i64),
}

/// The dashboard figures over UTC days, oldest first; deleted users excluded.
pub async fn stats(state: &AppState, caller: &Principal) -> Result<Stats, Error> {
    require_superuser(caller)?;
    let now = state.clock.now();
    let today = now.as_datetime().date_naive();
    let day_start = |days_ago: i64| {
        Timestamp::from_datetime(
            (today - Duration::days(days_ago))
                .and_time(NaiveTime::MIN)
                .and_utc(),
        )
    };
    let window_start = day_start(29);
    let label = |days_ago: i64| {
        (today - Duration::days(days_ago))
            .format("%b %d")
            .to_string()
    };
    let mut conn = connection(state).await?;
    if state.config.demo_mode && users::count_users(&mut conn, None, None).await? <= 1 {
        return Ok(demo_stats(label));
    }
    let total_before = users::count_users(&mut conn, Some(window_start), None).await?;
    let active_before = users::count_users(&mut conn, Some(window_start), Some(true)).await?;
    let recent = users::created_since(&mut conn, window_start).await?;
    let label = |days_ago: i64| {
        (today - Duration::days(days_ago))
            .format("%b %d")
            .to_string()
    };
    let count_in = |from: Timestamp, to: Timestamp, active_only: bool| -> i64 {
        let n = recent
            .iter()
            .filter(|(at, active)| *at >= from && *at < to && (!active_only || *active))
            .count();
        i64::try_from(n).unwrap_or(i64::MAX)
    };
    let user_growth = (0..30)
        .rev()
        .map(|days_ago| {
            let end = day_start(days_ago) + Duration::days(1);
            (
                label(days_ago),
                total_before + count_in(window_start, end, false),
                active_before + count_in(window_start, end, true),
            )
        })
        .collect();
    let registration_activity = (0..14)
        .rev()
        .map(|days_ago| {
            let start = day_start(days_ago);
            (
                label(days_ago),
                count_in(start, start + Duration::days(1), false),
            )
        })
        .collect();
    let active = users::count_users(&mut conn, None, Some(true)).await?;
    let inactive = users::count_users(&mut conn, None, Some(false)).await?;
    Ok(Stats {
        user_growth,
        organization_distribution: organizations::largest_orgs(&mut conn).await?,
        registration_activity,
        user_status: (active, inactive),
    })
}

/// Synthetic figures of the real shape, for a fresh demo installation.
fn demo_stats(label: impl Fn(i64) -> String) -> Stats {
    let user_growth: Vec<_> = (0..30_i64)
        .rev()
        .map(|days_ago| {
            let total = 120 + (29 - days_ago) * 9;
            (label(days_ago), total, total * 4 / 5)
        })
        .collect();
    let registration_activity = (0..14_i64)
        .rev()
        .map(|days_ago| (label(days_ago), 3 + (days_ago * 7) % 11))
        .collect();
    let (total, active) = user_growth.last().map_or((0, 0), |(_, t, a)| (*t, *a));
    Stats {
        user_growth,
        organization_distribution: [
            ("Acme Corp", 42),
            ("Globex", 31),
            ("Initech", 18),
            ("Umbrella", 9),
        ]
        .into_iter()
        .map(|(name, n)| (name.to_owned(), n))
        .collect(),
        registration_activity,
        user_status: (active, total - active),
    }
}
