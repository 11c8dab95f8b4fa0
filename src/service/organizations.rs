//! Organizations as their members see them (docs/endpoints.md#organizations): roles,
//! the owner rules and the last-owner rule. Superusers act as owners.

use scoped_futures::ScopedFutureExt as _;

use crate::db::DbConn;
use crate::db::organizations::{self, MembershipRow, OrgChangeset, OrgRow};
use crate::db::users::{self, UserRow};
use crate::domain::page::{Page, PageRequest};
use crate::domain::role::Role;
use crate::domain::types::Id;
use crate::error::Error;
use crate::service::connection;
use crate::service::principal::Principal;
use crate::service::views::{Membership, Organization, User};
use crate::state::AppState;

const NOT_A_MEMBER: &str = "Not a member of this organization";
const NOT_A_MANAGER: &str = "Requires role owner or admin in this organization";
const OWNERS_ONLY: &str = "Only owners can grant, change or remove the owner role";
const NO_SUCH_MEMBER: &str = "User is not a member of this organization";

/// An organization with its number of active memberships.
#[derive(Debug, Clone)]
pub struct OrgView {
    /// The organization.
    pub org: Organization,
    /// Active memberships.
    pub member_count: i64,
    /// The caller's role, where a listing reports it.
    pub role: Option<Role>,
}

/// A membership and its user.
#[derive(Debug, Clone)]
pub struct MemberView {
    /// The membership.
    pub membership: Membership,
    /// The member.
    pub user: User,
}

/// Validated changes to an organization.
#[derive(Debug, Default, Clone)]
pub struct OrgChanges {
    /// New name.
    pub name: Option<String>,
    /// New slug.
    pub slug: Option<String>,
    /// New description (`Some(None)` clears).
    pub description: Option<Option<String>>,
    /// New flag.
    pub is_active: Option<bool>,
    /// New settings as JSON object text (`Some(None)` clears).
    pub settings: Option<Option<String>>,
}

/// Who a new member is, as the request named them.
#[derive(Debug, Clone)]
pub enum UserRef {
    /// By id (`user_id`).
    Id(Id),
    /// By normalised email (`email`).
    Email(String),
}

/// The caller's standing in an organization.
struct Access {
    org: OrgRow,
    role: Role,
}

/// The organization and the caller's effective role, or the
/// 403/404: non-members get 403 even for unknown ids; superusers act as
/// owners and get 404 for unknown ids.
async fn access(conn: &mut DbConn, caller: &Principal, org_id: Id) -> Result<Access, Error> {
    let org = organizations::find_org(conn, org_id).await?;
    if caller.is_superuser() {
        let org = org.ok_or(Error::NotFound("Organization not found"))?;
        return Ok(Access {
            org,
            role: Role::Owner,
        });
    }
    let org = org.ok_or(Error::forbidden(NOT_A_MEMBER))?;
    let role = organizations::find_membership(conn, org_id, caller.user.id)
        .await?
        .filter(|m| m.is_active)
        .and_then(|m| Role::parse(&m.role))
        .ok_or(Error::forbidden(NOT_A_MEMBER))?;
    Ok(Access { org, role })
}

fn require_manager(access: &Access) -> Result<(), Error> {
    if access.role.manages() {
        Ok(())
    } else {
        Err(Error::forbidden(NOT_A_MANAGER))
    }
}

/// The caller's role read again under the organization's row lock: checks
/// made before the lock may be stale (a demotion committed in between), so
/// every membership write decides on this one.
async fn locked_role(conn: &mut DbConn, caller: &Principal, org_id: Id) -> Result<Role, Error> {
    if caller.is_superuser() {
        return Ok(Role::Owner);
    }
    organizations::find_membership(conn, org_id, caller.user.id)
        .await?
        .filter(|m| m.is_active)
        .and_then(|m| Role::parse(&m.role))
        .ok_or(Error::forbidden(NOT_A_MEMBER))
}

/// The caller's organizations (memberships in state `is_active`), by name.
pub async fn list_my_organizations(
    state: &AppState,
    caller: &Principal,
    is_active: bool,
) -> Result<Vec<OrgView>, Error> {
    let mut conn = connection(state).await?;
    let rows = organizations::list_user_orgs(&mut conn, caller.user.id, is_active).await?;
    let orgs: Vec<(OrgRow, Option<Role>)> = rows
        .into_iter()
        .map(|(org, role)| (org, Role::parse(&role)))
        .collect();
    with_member_counts(&mut conn, orgs).await
}

/// Attaches member counts to organizations with one grouped query.
pub(crate) async fn with_member_counts(
    conn: &mut DbConn,
    orgs: Vec<(OrgRow, Option<Role>)>,
) -> Result<Vec<OrgView>, Error> {
    let ids: Vec<Id> = orgs.iter().map(|(org, _)| org.id).collect();
    let counts = organizations::member_counts(conn, &ids).await?;
    Ok(orgs
        .into_iter()
        .map(|(org, role)| OrgView {
            member_count: counts.get(&org.id).copied().unwrap_or(0),
            org: org.into(),
            role,
        })
        .collect())
}

/// One organization (members and superusers).
pub async fn get_organization(
    state: &AppState,
    caller: &Principal,
    id: Id,
) -> Result<OrgView, Error> {
    let mut conn = connection(state).await?;
    let access = access(&mut conn, caller, id).await?;
    view(&mut conn, access.org).await
}

/// An organization with its member count.
pub(crate) async fn view(conn: &mut DbConn, org: OrgRow) -> Result<OrgView, Error> {
    let member_count = organizations::member_count(conn, org.id).await?;
    Ok(OrgView {
        org: org.into(),
        member_count,
        role: None,
    })
}

/// Updates an organization (owners and admins).
pub async fn update_organization(
    state: &AppState,
    caller: &Principal,
    id: Id,
    changes: OrgChanges,
) -> Result<OrgView, Error> {
    let mut conn = connection(state).await?;
    let access = access(&mut conn, caller, id).await?;
    require_manager(&access)?;
    apply_org_changes(state, &mut conn, id, changes).await
}

/// Checks the slug and applies the changes; shared with the admin endpoint.
pub(crate) async fn apply_org_changes(
    state: &AppState,
    conn: &mut DbConn,
    id: Id,
    changes: OrgChanges,
) -> Result<OrgView, Error> {
    if let Some(slug) = &changes.slug
        && organizations::slug_taken(conn, slug, Some(id)).await?
    {
        return Err(Error::SlugTaken(slug.clone()));
    }
    let slug = changes.slug.clone();
    let changeset = OrgChangeset {
        name: changes.name,
        slug: changes.slug,
        description: changes.description,
        is_active: changes.is_active,
        settings: changes.settings,
        updated_at: None,
    };
    organizations::update_org(conn, id, changeset, state.clock.now())
        .await
        .map_err(|e| slug_conflict(e, slug.as_deref()))?;
    let org = organizations::find_org(conn, id)
        .await?
        .ok_or(Error::NotFound("Organization not found"))?;
    view(conn, org).await
}

/// A unique violation on the slug (a concurrent writer won) is a 409.
pub(crate) fn slug_conflict(err: crate::db::DbError, slug: Option<&str>) -> Error {
    match (&err, slug) {
        (crate::db::DbError::UniqueViolation(ix), Some(slug)) if ix == "ix_organizations_slug" => {
            Error::SlugTaken(slug.to_owned())
        }
        _ => err.into(),
    }
}

/// Members in membership state `is_active`; a guest sees only themselves.
pub async fn list_members(
    state: &AppState,
    caller: &Principal,
    id: Id,
    is_active: bool,
    page: PageRequest,
) -> Result<Page<MemberView>, Error> {
    let mut conn = connection(state).await?;
    let access = access(&mut conn, caller, id).await?;
    let only = (access.role == Role::Guest).then_some(caller.user.id);
    members_page(&mut conn, id, is_active, only, page).await
}

/// A page of members; shared with the admin endpoint.
pub(crate) async fn members_page(
    conn: &mut DbConn,
    org_id: Id,
    is_active: bool,
    only: Option<Id>,
    page: PageRequest,
) -> Result<Page<MemberView>, Error> {
    let (rows, total) = organizations::list_members(conn, org_id, is_active, only, page).await?;
    Ok(Page {
        items: rows
            .into_iter()
            .map(|(membership, user)| MemberView {
                membership: membership.into(),
                user: user.into(),
            })
            .collect(),
        total,
        request: page,
    })
}

/// Adds a member or reactivates a removed one (owners and admins; only
/// owners grant `owner`).
pub async fn add_member(
    state: &AppState,
    caller: &Principal,
    id: Id,
    target: UserRef,
    role: Role,
) -> Result<MemberView, Error> {
    let mut conn = connection(state).await?;
    let access = access(&mut conn, caller, id).await?;
    require_manager(&access)?;
    if role == Role::Owner && access.role != Role::Owner {
        return Err(Error::forbidden(OWNERS_ONLY));
    }
    let (user, field) = match target {
        UserRef::Id(user_id) => (users::find_user_by_id(&mut conn, user_id).await?, "user_id"),
        UserRef::Email(email) => (users::find_user_by_email(&mut conn, &email).await?, "email"),
    };
    let user = user
        .filter(|u| u.deleted_at.is_none())
        .ok_or(Error::NotFound("User not found"))?;
    let (now, user_id) = (state.clock.now(), user.id);
    conn.transaction(|c| {
        async move {
            // Serialised per organization: of two concurrent adds, the
            // second sees the first's membership and answers 409.
            organizations::lock_org(c, id).await?;
            let caller_role = locked_role(c, caller, id).await?;
            if !caller_role.manages() {
                return Err(Error::forbidden(NOT_A_MANAGER));
            }
            if role == Role::Owner && caller_role != Role::Owner {
                return Err(Error::forbidden(OWNERS_ONLY));
            }
            let existing = organizations::find_membership(c, id, user_id).await?;
            if existing.is_some_and(|m| m.is_active) {
                return Err(Error::AlreadyMember { field });
            }
            organizations::upsert_membership(c, id, user_id, role.as_str(), now).await?;
            Ok(())
        }
        .scope_boxed()
    })
    .await?;
    member(&mut conn, id, user).await
}

async fn member(conn: &mut DbConn, org_id: Id, user: UserRow) -> Result<MemberView, Error> {
    let membership = organizations::find_membership(conn, org_id, user.id)
        .await?
        .ok_or(Error::NotFound(NO_SUCH_MEMBER))?;
    Ok(MemberView {
        membership: membership.into(),
        user: user.into(),
    })
}

/// The active membership of `user_id` and its role, or 404.
async fn active_member(
    conn: &mut DbConn,
    org_id: Id,
    user_id: Id,
) -> Result<(MembershipRow, Role), Error> {
    organizations::find_membership(conn, org_id, user_id)
        .await?
        .filter(|m| m.is_active)
        .and_then(|m| Role::parse(&m.role).map(|r| (m, r)))
        .ok_or(Error::NotFound(NO_SUCH_MEMBER))
}

/// Whether removing or demoting an owner would leave an organization that
/// has active owners without any.
async fn would_orphan(conn: &mut DbConn, org_id: Id) -> Result<bool, Error> {
    Ok(organizations::active_owner_count(conn, org_id).await? <= 1)
}

/// Changes a member's role (owners and admins; owner role: owners only;
/// never the last active owner away).
pub async fn update_member(
    state: &AppState,
    caller: &Principal,
    id: Id,
    user_id: Id,
    role: Role,
) -> Result<MemberView, Error> {
    let mut conn = connection(state).await?;
    let access = access(&mut conn, caller, id).await?;
    require_manager(&access)?;
    let now = state.clock.now();
    conn.transaction(|c| {
        async move {
            organizations::lock_org(c, id).await?;
            let caller_role = locked_role(c, caller, id).await?;
            if !caller_role.manages() {
                return Err(Error::forbidden(NOT_A_MANAGER));
            }
            let (_, current) = active_member(c, id, user_id).await?;
            if (current == Role::Owner || role == Role::Owner) && caller_role != Role::Owner {
                return Err(Error::forbidden(OWNERS_ONLY));
            }
            if current == Role::Owner && role != Role::Owner && would_orphan(c, id).await? {
                return Err(Error::LastOwner);
            }
            if current != role {
                organizations::set_role(c, id, user_id, role.as_str(), now).await?;
            }
            Ok(())
        }
        .scope_boxed()
    })
    .await?;
    let user = users::find_user_by_id(&mut conn, user_id)
        .await?
        .ok_or(Error::NotFound("User not found"))?;
    member(&mut conn, id, user).await
}

/// Removes a member (owners and admins), or the caller leaves; returns
/// (member email, organization name) for the message.
pub async fn remove_member(
    state: &AppState,
    caller: &Principal,
    id: Id,
    user_id: Id,
) -> Result<(String, String), Error> {
    let mut conn = connection(state).await?;
    let access = access(&mut conn, caller, id).await?;
    if user_id != caller.user.id {
        require_manager(&access)?;
    }
    let (now, caller_id) = (state.clock.now(), caller.user.id);
    conn.transaction(|c| {
        async move {
            organizations::lock_org(c, id).await?;
            let caller_role = locked_role(c, caller, id).await?;
            if user_id != caller_id && !caller_role.manages() {
                return Err(Error::forbidden(NOT_A_MANAGER));
            }
            let (_, current) = active_member(c, id, user_id).await?;
            if current == Role::Owner && user_id != caller_id && caller_role != Role::Owner {
                return Err(Error::forbidden(OWNERS_ONLY));
            }
            if current == Role::Owner && would_orphan(c, id).await? {
                return Err(Error::LastOwner);
            }
            organizations::deactivate_membership(c, id, user_id, now).await?;
            Ok(())
        }
        .scope_boxed()
    })
    .await?;
    let email = users::find_user_by_id(&mut conn, user_id)
        .await?
        .map(|u| u.email)
        .unwrap_or_default();
    Ok((email, access.org.name))
}
