//! Administration (docs/endpoints.md#admin): superusers only. Users CRUD with
//! superuser grants, activation, bulk actions, organizations and their
//! members without the member-facing owner rules, sessions, statistics.

use std::collections::HashSet;

use chrono::{Duration, NaiveTime};
use scoped_futures::ScopedFutureExt as _;

use crate::db::organizations::{self, OrgRow};
use crate::db::sessions;
use crate::db::users;
use crate::domain::page::{Page, PageRequest};
use crate::domain::role::Role;
use crate::domain::types::{Id, Timestamp};
use crate::error::Error;
use crate::service::auth::NewAccount;
use crate::service::authz::require_superuser;
use crate::service::connection;
use crate::service::organizations::{
    MemberView, OrgChanges, OrgView, apply_org_changes, members_page, slug_conflict, view,
    with_member_counts,
};
use crate::service::principal::Principal;
use crate::service::users::{Removal, UserChanges, apply_changes, end_user, live_user};
use crate::service::views::{Session, User};
use crate::state::AppState;

/// A validated admin user creation.
#[derive(Debug)]
pub struct NewUser {
    /// The sign-up fields.
    pub account: NewAccount,
    /// Honoured (default false).
    pub is_superuser: bool,
    /// Honoured (default true).
    pub is_active: bool,
}

/// A validated organization creation.
#[derive(Debug)]
pub struct NewOrganization {
    /// Trimmed name.
    pub name: String,
    /// Slug.
    pub slug: String,
    /// Description.
    pub description: Option<String>,
    /// Flag (default true).
    pub is_active: bool,
    /// JSON object text or none (default `{}`).
    pub settings: Option<String>,
}

/// A bulk action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkAction {
    /// Activate.
    Activate,
    /// Deactivate (with its effects).
    Deactivate,
    /// Soft-delete (with its effects).
    Delete,
}

impl BulkAction {
    /// The request and message form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Activate => "activate",
            Self::Deactivate => "deactivate",
            Self::Delete => "delete",
        }
    }
}

/// What a bulk action did.
#[derive(Debug, Clone)]
pub struct BulkOutcome {
    /// Distinct ids affected.
    pub affected: Vec<Id>,
    /// Distinct ids skipped, in request order.
    pub skipped: Vec<Id>,
}

/// An admin's view of a session.
#[derive(Debug, Clone)]
pub struct AdminSessionView {
    /// The session.
    pub session: Session,
    /// Its user.
    pub user: User,
    /// Active (not ended, not expired) now.
    pub is_live: bool,
}

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

/// Creates a user with the given superuser and activation state.
pub async fn create_user(
    state: &AppState,
    caller: &Principal,
    new: NewUser,
) -> Result<User, Error> {
    require_superuser(caller)?;
    let email = new.account.email.as_str().to_owned();
    match crate::service::auth::create_account(state, new.account, new.is_superuser, new.is_active)
        .await
    {
        Err(Error::EmailTaken) => Err(Error::EmailTakenBy(email)),
        other => other,
    }
}

/// Any user, deleted included.
pub async fn get_user(state: &AppState, caller: &Principal, id: Id) -> Result<User, Error> {
    require_superuser(caller)?;
    crate::service::users::get_user(state, caller, id).await
}

/// Partial update with superuser grants and password resets; never on the
/// caller's own status or password.
pub async fn update_user(
    state: &AppState,
    caller: &Principal,
    id: Id,
    changes: UserChanges,
) -> Result<User, Error> {
    require_superuser(caller)?;
    let mut conn = connection(state).await?;
    let target = live_user(&mut conn, id).await?;
    if target.id == caller.user.id {
        let refuse = |message| {
            Err(Error::SelfAction {
                message,
                field: None,
            })
        };
        if changes.is_active.is_some_and(|a| a != target.is_active) {
            return refuse("Cannot deactivate your own account");
        }
        if changes
            .is_superuser
            .is_some_and(|s| s != target.is_superuser)
        {
            return refuse("Cannot change your own superuser status");
        }
        if changes.password.is_some() {
            return refuse("Use PATCH /users/me/password to change your own password");
        }
    }
    apply_changes(state, &mut conn, &target, changes).await
}

/// Soft-deletes a user (never the caller); returns it.
pub async fn delete_user(state: &AppState, caller: &Principal, id: Id) -> Result<User, Error> {
    crate::service::users::delete_user(state, caller, id).await
}

/// Activates a user; ended sessions stay ended.
pub async fn activate_user(state: &AppState, caller: &Principal, id: Id) -> Result<User, Error> {
    require_superuser(caller)?;
    let mut conn = connection(state).await?;
    let target = live_user(&mut conn, id).await?;
    let changes = UserChanges {
        is_active: Some(true),
        ..UserChanges::default()
    };
    apply_changes(state, &mut conn, &target, changes).await
}

/// Deactivates a user (never the caller) and ends their sessions.
pub async fn deactivate_user(state: &AppState, caller: &Principal, id: Id) -> Result<User, Error> {
    end_user(state, caller, id, Removal::Deactivate).await
}

/// Applies an action to distinct ids, skipping unknown and deleted users
/// and (for deactivate and delete) the caller.
pub async fn bulk_action(
    state: &AppState,
    caller: &Principal,
    action: BulkAction,
    ids: Vec<Id>,
) -> Result<BulkOutcome, Error> {
    require_superuser(caller)?;
    let mut seen = HashSet::new();
    let ids: Vec<Id> = ids.into_iter().filter(|id| seen.insert(*id)).collect();
    let (caller_id, now) = (caller.user.id, state.clock.now());
    let mut conn = connection(state).await?;
    conn.transaction(|c| {
        async move {
            let mut outcome = BulkOutcome {
                affected: Vec::new(),
                skipped: Vec::new(),
            };
            for id in ids {
                let live = users::find_user_by_id(c, id)
                    .await?
                    .filter(|u| u.deleted_at.is_none());
                let protected = action != BulkAction::Activate && id == caller_id;
                if live.is_none() || protected {
                    outcome.skipped.push(id);
                    continue;
                }
                match action {
                    BulkAction::Activate => {
                        let changes = users::UserChangeset {
                            is_active: Some(true),
                            ..Default::default()
                        };
                        users::update_user(c, id, changes, now).await?;
                    }
                    BulkAction::Deactivate => Removal::Deactivate.apply(c, id, now).await?,
                    BulkAction::Delete => Removal::Delete.apply(c, id, now).await?,
                }
                outcome.affected.push(id);
            }
            Ok(outcome)
        }
        .scope_boxed()
    })
    .await
}

/// Organizations, newest first, with member counts.
pub async fn list_organizations(
    state: &AppState,
    caller: &Principal,
    is_active: Option<bool>,
    search: Option<String>,
    page: PageRequest,
) -> Result<Page<OrgView>, Error> {
    require_superuser(caller)?;
    let mut conn = connection(state).await?;
    let (rows, total) =
        organizations::list_orgs(&mut conn, is_active, search.as_deref(), page).await?;
    let items =
        with_member_counts(&mut conn, rows.into_iter().map(|org| (org, None)).collect()).await?;
    Ok(Page {
        items,
        total,
        request: page,
    })
}

/// Creates an organization.
pub async fn create_organization(
    state: &AppState,
    caller: &Principal,
    new: NewOrganization,
) -> Result<OrgView, Error> {
    require_superuser(caller)?;
    let mut conn = connection(state).await?;
    if organizations::slug_taken(&mut conn, &new.slug, None).await? {
        return Err(Error::SlugTaken(new.slug));
    }
    let now = state.clock.now();
    let row = OrgRow {
        id: Id::new_random(),
        name: new.name,
        slug: new.slug,
        description: new.description,
        is_active: new.is_active,
        settings: new.settings,
        created_at: now,
        updated_at: now,
    };
    organizations::insert_org(&mut conn, &row)
        .await
        .map_err(|e| slug_conflict(e, Some(&row.slug)))?;
    Ok(OrgView {
        org: row.into(),
        member_count: 0,
        role: None,
    })
}

async fn org(conn: &mut crate::db::DbConn, id: Id) -> Result<OrgRow, Error> {
    organizations::find_org(conn, id)
        .await?
        .ok_or(Error::NotFound("Organization not found"))
}

/// One organization.
pub async fn get_organization(
    state: &AppState,
    caller: &Principal,
    id: Id,
) -> Result<OrgView, Error> {
    require_superuser(caller)?;
    let mut conn = connection(state).await?;
    let row = org(&mut conn, id).await?;
    view(&mut conn, row).await
}

/// Updates an organization.
pub async fn update_organization(
    state: &AppState,
    caller: &Principal,
    id: Id,
    changes: OrgChanges,
) -> Result<OrgView, Error> {
    require_superuser(caller)?;
    let mut conn = connection(state).await?;
    org(&mut conn, id).await?;
    apply_org_changes(state, &mut conn, id, changes).await
}

/// Deletes an organization and its memberships; returns its name.
pub async fn delete_organization(
    state: &AppState,
    caller: &Principal,
    id: Id,
) -> Result<String, Error> {
    require_superuser(caller)?;
    let mut conn = connection(state).await?;
    let row = org(&mut conn, id).await?;
    conn.transaction(|c| {
        async move { Ok::<_, Error>(organizations::delete_org(c, id).await?) }.scope_boxed()
    })
    .await?;
    Ok(row.name)
}

/// Members of any organization (no guest restriction).
pub async fn list_members(
    state: &AppState,
    caller: &Principal,
    id: Id,
    is_active: bool,
    page: PageRequest,
) -> Result<Page<MemberView>, Error> {
    require_superuser(caller)?;
    let mut conn = connection(state).await?;
    org(&mut conn, id).await?;
    members_page(&mut conn, id, is_active, None, page).await
}

/// Adds or reactivates a member, any role; returns (email, org name).
pub async fn add_member(
    state: &AppState,
    caller: &Principal,
    id: Id,
    user_id: Id,
    role: Role,
) -> Result<(String, String), Error> {
    require_superuser(caller)?;
    let mut conn = connection(state).await?;
    let row = org(&mut conn, id).await?;
    let user = live_user(&mut conn, user_id).await?;
    let now = state.clock.now();
    conn.transaction(|c| {
        async move {
            organizations::lock_org(c, id).await?;
            if organizations::find_membership(c, id, user_id)
                .await?
                .is_some_and(|m| m.is_active)
            {
                return Err(Error::AlreadyMember { field: "user_id" });
            }
            organizations::upsert_membership(c, id, user_id, role.as_str(), now).await?;
            Ok(())
        }
        .scope_boxed()
    })
    .await?;
    Ok((user.email, row.name))
}

/// Makes a membership inactive (no last-owner rule); returns (email, org name).
pub async fn remove_member(
    state: &AppState,
    caller: &Principal,
    id: Id,
    user_id: Id,
) -> Result<(String, String), Error> {
    require_superuser(caller)?;
    let mut conn = connection(state).await?;
    let row = org(&mut conn, id).await?;
    let user = users::find_user_by_id(&mut conn, user_id)
        .await?
        .ok_or(Error::NotFound("User not found"))?;
    if organizations::find_membership(&mut conn, id, user_id)
        .await?
        .is_none()
    {
        return Err(Error::NotFound("User is not a member of this organization"));
    }
    organizations::deactivate_membership(&mut conn, id, user_id, state.clock.now()).await?;
    Ok((user.email, row.name))
}

/// Sessions of every user: active ones, or only ended or expired ones.
pub async fn list_sessions(
    state: &AppState,
    caller: &Principal,
    live: bool,
    page: PageRequest,
) -> Result<Page<AdminSessionView>, Error> {
    require_superuser(caller)?;
    let now = state.clock.now();
    let mut conn = connection(state).await?;
    let (rows, total) = sessions::list_all_sessions(&mut conn, live, now, page).await?;
    let items = rows
        .into_iter()
        .map(|(session, user)| AdminSessionView {
            is_live: session.is_live(now),
            session: session.into(),
            user: user.into(),
        })
        .collect();
    Ok(Page {
        items,
        total,
        request: page,
    })
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
