//! Administration of organizations and their members
//! (docs/endpoints.md#admin), without the member-facing owner rules.

use crate::db::organizations::{self, OrgRow};
use crate::db::users;
use crate::service::organizations::{
    MemberView, OrgChanges, OrgView, apply_org_changes, members_page, slug_conflict, view,
    with_member_counts,
};
use crate::service::users::live_user;
use scoped_futures::ScopedFutureExt as _;

use crate::domain::page::{Page, PageRequest};
use crate::domain::role::Role;
use crate::domain::types::Id;
use crate::error::Error;
use crate::service::authz::require_superuser;
use crate::service::connection;
use crate::service::principal::Principal;
use crate::state::AppState;

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
