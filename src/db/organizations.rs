//! Queries on `organizations` and `user_organizations` (memberships).

use diesel::{
    AsChangeset, BoolExpressionMethods as _, EscapeExpressionMethods as _, ExpressionMethods as _,
    Insertable, JoinOnDsl as _, OptionalExtension as _, QueryDsl as _, Queryable, Selectable,
    SelectableHelper as _, TextExpressionMethods as _,
};
use diesel_async::RunQueryDsl as _;

use super::schema::{organizations, user_organizations, users};
use super::types::{Id, Timestamp};
use super::users::{UserRow, like_pattern, lower, lower_nullable};
use super::{Backend, DbConn, DbResult, map_err};
use crate::domain::page::PageRequest;
use crate::with_backend;

/// An `organizations` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = organizations)]
pub struct OrgRow {
    /// Primary key.
    pub id: Id,
    /// Display name.
    pub name: String,
    /// Unique URL name.
    pub slug: String,
    /// Free text.
    pub description: Option<String>,
    /// Informational flag.
    pub is_active: bool,
    /// JSON object text, or `None`.
    pub settings: Option<String>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// A `user_organizations` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = user_organizations)]
pub struct MembershipRow {
    /// The member.
    pub user_id: Id,
    /// The organization.
    pub organization_id: Id,
    /// `owner`, `admin`, `member` or `guest`.
    pub role: String,
    /// Removed memberships are inactive.
    pub is_active: bool,
    /// Not exposed.
    pub custom_permissions: Option<String>,
    /// `joined_at`.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// Changes to an organization; `None` leaves a column alone.
#[derive(Debug, Default, Clone, AsChangeset)]
#[diesel(table_name = organizations)]
pub struct OrgChangeset {
    /// New name.
    pub name: Option<String>,
    /// New slug.
    pub slug: Option<String>,
    /// New description (`Some(None)` clears).
    pub description: Option<Option<String>>,
    /// New flag.
    pub is_active: Option<bool>,
    /// New settings (`Some(None)` clears).
    pub settings: Option<Option<String>>,
    /// Set by [`update_org`].
    pub updated_at: Option<Timestamp>,
}

/// Inserts an organization. A taken slug is `UniqueViolation("ix_organizations_slug")`.
pub async fn insert_org(conn: &mut DbConn, row: &OrgRow) -> DbResult<()> {
    map_err(with_backend!(conn, c => {
        diesel::insert_into(organizations::table).values(row).execute(c).await
    }))
    .map(drop)
}

/// An organization by id.
pub async fn find_org(conn: &mut DbConn, id: Id) -> DbResult<Option<OrgRow>> {
    map_err(with_backend!(conn, c => {
        organizations::table
            .find(id)
            .select(OrgRow::as_select())
            .first(c)
            .await
            .optional()
    }))
}

/// The organization with this slug.
pub async fn find_org_by_slug(conn: &mut DbConn, slug: &str) -> DbResult<Option<OrgRow>> {
    map_err(with_backend!(conn, c => {
        organizations::table
            .filter(organizations::slug.eq(slug))
            .select(OrgRow::as_select())
            .first(c)
            .await
            .optional()
    }))
}

/// Whether another organization than `except` holds `slug`.
pub async fn slug_taken(conn: &mut DbConn, slug: &str, except: Option<Id>) -> DbResult<bool> {
    let except = except.unwrap_or(Id(uuid::Uuid::nil()));
    let count: i64 = map_err(with_backend!(conn, c => {
        organizations::table
            .filter(organizations::slug.eq(slug))
            .filter(organizations::id.ne(except))
            .count()
            .get_result(c)
            .await
    }))?;
    Ok(count > 0)
}

/// Applies `changes` to an organization.
pub async fn update_org(
    conn: &mut DbConn,
    id: Id,
    mut changes: OrgChangeset,
    now: Timestamp,
) -> DbResult<()> {
    changes.updated_at = Some(now);
    map_err(with_backend!(conn, c => {
        diesel::update(organizations::table.find(id)).set(&changes).execute(c).await
    }))
    .map(drop)
}

/// Deletes an organization and (by cascade) its memberships.
pub async fn delete_org(conn: &mut DbConn, id: Id) -> DbResult<()> {
    map_err(with_backend!(conn, c => {
        diesel::delete(user_organizations::table.filter(user_organizations::organization_id.eq(id)))
            .execute(c)
            .await?;
        diesel::delete(organizations::table.find(id)).execute(c).await
    }))
    .map(drop)
}

/// Active memberships of an organization (deleted users' are inactive).
pub async fn member_count(conn: &mut DbConn, org_id: Id) -> DbResult<i64> {
    map_err(with_backend!(conn, c => {
        user_organizations::table
            .filter(user_organizations::organization_id.eq(org_id))
            .filter(user_organizations::is_active.eq(true))
            .count()
            .get_result(c)
            .await
    }))
}

/// Active memberships of several organizations at once (missing ids: 0).
pub async fn member_counts(
    conn: &mut DbConn,
    org_ids: &[Id],
) -> DbResult<std::collections::HashMap<Id, i64>> {
    let rows: Vec<(Id, i64)> = map_err(with_backend!(conn, c => {
        user_organizations::table
            .filter(user_organizations::organization_id.eq_any(org_ids))
            .filter(user_organizations::is_active.eq(true))
            .group_by(user_organizations::organization_id)
            .select((user_organizations::organization_id, diesel::dsl::count_star()))
            .load(c)
            .await
    }))?;
    Ok(rows.into_iter().collect())
}

/// Active owners of an organization.
pub async fn active_owner_count(conn: &mut DbConn, org_id: Id) -> DbResult<i64> {
    map_err(with_backend!(conn, c => {
        user_organizations::table
            .filter(user_organizations::organization_id.eq(org_id))
            .filter(user_organizations::is_active.eq(true))
            .filter(user_organizations::role.eq("owner"))
            .count()
            .get_result(c)
            .await
    }))
}

/// Organizations, newest first; `search` is a case-insensitive literal
/// substring of name, slug or description.
pub async fn list_orgs(
    conn: &mut DbConn,
    is_active: Option<bool>,
    search: Option<&str>,
    page: PageRequest,
) -> DbResult<(Vec<OrgRow>, i64)> {
    let pattern = search.map(|s| like_pattern(&s.to_lowercase()));
    macro_rules! base {
        () => {{
            let mut q = organizations::table.into_boxed();
            if let Some(active) = is_active {
                q = q.filter(organizations::is_active.eq(active));
            }
            if let Some(p) = pattern.clone() {
                q = q.filter(
                    lower(organizations::name)
                        .like(p.clone())
                        .escape('\\')
                        .or(lower(organizations::slug).like(p.clone()).escape('\\'))
                        .or(lower_nullable(organizations::description)
                            .like(p)
                            .escape('\\')),
                );
            }
            q
        }};
    }
    map_err(with_backend!(conn, c => {
        let total: i64 = base!().count().get_result(c).await?;
        let rows = base!()
            .order((organizations::created_at.desc(), organizations::id.asc()))
            .select(OrgRow::as_select())
            .offset(page.offset())
            .limit(page.limit())
            .load(c)
            .await?;
        Ok::<_, diesel::result::Error>((rows, total))
    }))
}

/// The organizations where `user_id` has a membership in state
/// `membership_active`, with the role; ordered by name, then id.
pub async fn list_user_orgs(
    conn: &mut DbConn,
    user_id: Id,
    membership_active: bool,
) -> DbResult<Vec<(OrgRow, String)>> {
    map_err(with_backend!(conn, c => {
        user_organizations::table
            .inner_join(organizations::table)
            .filter(user_organizations::user_id.eq(user_id))
            .filter(user_organizations::is_active.eq(membership_active))
            .order((organizations::name.asc(), organizations::id.asc()))
            .select((OrgRow::as_select(), user_organizations::role))
            .load(c)
            .await
    }))
}

/// The membership of `user_id` in `org_id`, active or not.
pub async fn find_membership(
    conn: &mut DbConn,
    org_id: Id,
    user_id: Id,
) -> DbResult<Option<MembershipRow>> {
    map_err(with_backend!(conn, c => {
        user_organizations::table
            .find((user_id, org_id))
            .select(MembershipRow::as_select())
            .first(c)
            .await
            .optional()
    }))
}

/// Creates a membership, or reactivates an inactive one with `role`
/// (keeping `joined_at`).
pub async fn upsert_membership(
    conn: &mut DbConn,
    org_id: Id,
    user_id: Id,
    role: &str,
    now: Timestamp,
) -> DbResult<()> {
    if find_membership(conn, org_id, user_id).await?.is_some() {
        return map_err(with_backend!(conn, c => {
            diesel::update(user_organizations::table.find((user_id, org_id)))
                .set((
                    user_organizations::role.eq(role),
                    user_organizations::is_active.eq(true),
                    user_organizations::updated_at.eq(now),
                ))
                .execute(c)
                .await
        }))
        .map(drop);
    }
    let row = MembershipRow {
        user_id,
        organization_id: org_id,
        role: role.to_owned(),
        is_active: true,
        custom_permissions: None,
        created_at: now,
        updated_at: now,
    };
    map_err(with_backend!(conn, c => {
        diesel::insert_into(user_organizations::table).values(&row).execute(c).await
    }))
    .map(drop)
}

/// Changes the role of a membership.
pub async fn set_role(
    conn: &mut DbConn,
    org_id: Id,
    user_id: Id,
    role: &str,
    now: Timestamp,
) -> DbResult<()> {
    map_err(with_backend!(conn, c => {
        diesel::update(user_organizations::table.find((user_id, org_id)))
            .set((user_organizations::role.eq(role), user_organizations::updated_at.eq(now)))
            .execute(c)
            .await
    }))
    .map(drop)
}

/// Makes a membership inactive (soft removal).
pub async fn deactivate_membership(
    conn: &mut DbConn,
    org_id: Id,
    user_id: Id,
    now: Timestamp,
) -> DbResult<()> {
    map_err(with_backend!(conn, c => {
        diesel::update(
            user_organizations::table
                .find((user_id, org_id))
                .filter(user_organizations::is_active.eq(true)),
        )
        .set((user_organizations::is_active.eq(false), user_organizations::updated_at.eq(now)))
        .execute(c)
        .await
    }))
    .map(drop)
}

/// Makes every membership of a user inactive (deletion effect).
pub async fn deactivate_user_memberships(
    conn: &mut DbConn,
    user_id: Id,
    now: Timestamp,
) -> DbResult<()> {
    map_err(with_backend!(conn, c => {
        diesel::update(
            user_organizations::table
                .filter(user_organizations::user_id.eq(user_id))
                .filter(user_organizations::is_active.eq(true)),
        )
        .set((user_organizations::is_active.eq(false), user_organizations::updated_at.eq(now)))
        .execute(c)
        .await
    }))
    .map(drop)
}

/// Members of an organization in membership state `is_active`, newest
/// first (then `user_id`), never deleted users; `only` restricts the list
/// to one user (what a guest may see).
pub async fn list_members(
    conn: &mut DbConn,
    org_id: Id,
    is_active: bool,
    only: Option<Id>,
    page: PageRequest,
) -> DbResult<(Vec<(MembershipRow, UserRow)>, i64)> {
    macro_rules! base {
        () => {{
            let mut q = user_organizations::table
                .inner_join(users::table.on(users::id.eq(user_organizations::user_id)))
                .filter(user_organizations::organization_id.eq(org_id))
                .filter(user_organizations::is_active.eq(is_active))
                .filter(users::deleted_at.is_null())
                .into_boxed();
            if let Some(user) = only {
                q = q.filter(user_organizations::user_id.eq(user));
            }
            q
        }};
    }
    map_err(with_backend!(conn, c => {
        let total: i64 = base!().count().get_result(c).await?;
        let rows = base!()
            .order((user_organizations::created_at.desc(), user_organizations::user_id.asc()))
            .select((MembershipRow::as_select(), UserRow::as_select()))
            .offset(page.offset())
            .limit(page.limit())
            .load(c)
            .await?;
        Ok::<_, diesel::result::Error>((rows, total))
    }))
}

/// The (at most) six organizations with the most active memberships:
/// (name, count), ties by name then id.
pub async fn largest_orgs(conn: &mut DbConn) -> DbResult<Vec<(String, i64)>> {
    map_err(with_backend!(conn, c => {
        let count = diesel::dsl::count_star();
        user_organizations::table
            .inner_join(organizations::table)
            .filter(user_organizations::is_active.eq(true))
            .group_by((organizations::id, organizations::name))
            .select((organizations::name, count))
            .order((count.desc(), organizations::name.asc(), organizations::id.asc()))
            .limit(6)
            .load::<(String, i64)>(c)
            .await
    }))
}

/// Locks an organization row until the transaction ends, serialising
/// membership changes (the last-owner rule reads, then writes). SQLite's
/// `BEGIN IMMEDIATE` already serialises writers.
pub async fn lock_org(conn: &mut DbConn, id: Id) -> DbResult<()> {
    map_err(match conn.backend() {
        Backend::Pg(c) => organizations::table
            .find(id)
            .select(organizations::id)
            .for_update()
            .first::<Id>(c)
            .await
            .optional(),
        Backend::Sqlite(_) => Ok(None),
    })
    .map(drop)
}
