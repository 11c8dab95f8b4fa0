//! Users (docs/endpoints.md#users): the caller's profile and password, users by
//! id, the superuser listing, and the deactivation and deletion effects every
//! path shares.

use scoped_futures::ScopedFutureExt as _;
use secrecy::SecretString;

use crate::db::users::{self, UserChangeset, UserFilter, UserRow, UserSortField};
use crate::db::{DbConn, organizations};
use crate::domain::page::{Page, PageRequest, SortOrder};
use crate::domain::types::{Id, Timestamp};
use crate::error::Error;
use crate::service::authz::{is_self_or_superuser, require_superuser};
use crate::service::connection;
use crate::service::principal::Principal;
use crate::service::views::User;
use crate::state::AppState;

/// Validated changes to a user; `None` leaves a member unchanged.
#[derive(Debug, Default)]
pub struct UserChanges {
    /// New given name.
    pub first_name: Option<String>,
    /// New family name (`Some(None)` clears).
    pub last_name: Option<Option<String>>,
    /// New phone number (`Some(None)` clears).
    pub phone_number: Option<Option<String>>,
    /// New locale (`Some(None)` clears).
    pub locale: Option<Option<String>>,
    /// New preferences as JSON object text (`Some(None)` clears).
    pub preferences: Option<Option<String>>,
    /// New activation state.
    pub is_active: Option<bool>,
    /// New superuser status (admin endpoint only).
    pub is_superuser: Option<bool>,
    /// New password (admin endpoint only).
    pub password: Option<SecretString>,
}

/// A validated user listing request.
#[derive(Debug, Clone)]
pub struct UserQuery {
    /// Filters.
    pub filter: UserFilter,
    /// Sort column.
    pub sort: UserSortField,
    /// Sort direction.
    pub order: SortOrder,
    /// Page.
    pub page: PageRequest,
}

/// The caller's own account.
pub fn get_me(principal: &Principal) -> User {
    principal.user.clone().into()
}

/// Superusers: non-deleted users, filtered, sorted and paginated.
pub async fn list_users(
    state: &AppState,
    caller: &Principal,
    query: UserQuery,
) -> Result<Page<User>, Error> {
    require_superuser(caller)?;
    let mut conn = connection(state).await?;
    let (items, total) = users::list_users(
        &mut conn,
        &query.filter,
        query.sort,
        query.order,
        query.page,
    )
    .await?;
    Ok(Page {
        items: items.into_iter().map(User::from).collect(),
        total,
        request: query.page,
    })
}

/// A user by id: oneself, or anyone (deleted included) for superusers.
pub async fn get_user(state: &AppState, caller: &Principal, id: Id) -> Result<User, Error> {
    if !is_self_or_superuser(caller, id) {
        return Err(Error::forbidden("Not enough permissions to view this user"));
    }
    let mut conn = connection(state).await?;
    users::find_user_by_id(&mut conn, id)
        .await?
        .map(User::from)
        .ok_or(Error::NotFound("User not found"))
}

/// Updates a user: oneself, or anyone for superusers. `is_active` changes
/// only by a superuser on another user.
pub async fn update_user(
    state: &AppState,
    caller: &Principal,
    id: Id,
    changes: UserChanges,
) -> Result<User, Error> {
    if !is_self_or_superuser(caller, id) {
        return Err(Error::forbidden(
            "Not enough permissions to update this user",
        ));
    }
    let mut conn = connection(state).await?;
    let target = live_user(&mut conn, id).await?;
    if changes.is_active.is_some_and(|a| a != target.is_active) {
        if !caller.is_superuser() {
            return Err(Error::Forbidden {
                message: "Only superusers can change is_active",
                field: Some("is_active"),
            });
        }
        if target.id == caller.user.id {
            return Err(Error::SelfAction {
                message: "Cannot deactivate your own account",
                field: Some("is_active"),
            });
        }
    }
    apply_changes(state, &mut conn, &target, changes).await
}

/// Applies validated changes in one transaction, with the deactivation and
/// password effects of section 2.1.2; returns the stored user.
pub(crate) async fn apply_changes(
    state: &AppState,
    conn: &mut DbConn,
    target: &UserRow,
    changes: UserChanges,
) -> Result<User, Error> {
    let now = state.clock.now();
    let password_hash = match changes.password {
        Some(password) => Some(state.passwords.hash(password).await.map_err(Error::from)?),
        None => None,
    };
    let deactivating = changes.is_active == Some(false) && target.is_active;
    let ends_sessions = deactivating || password_hash.is_some();
    let changeset = UserChangeset {
        first_name: changes.first_name,
        last_name: changes.last_name,
        phone_number: changes.phone_number,
        locale: changes.locale,
        preferences: changes.preferences,
        is_active: changes.is_active,
        is_superuser: changes.is_superuser,
        password_hash: password_hash.map(Some),
        ..UserChangeset::default()
    };
    let id = target.id;
    conn.transaction(|c| {
        async move {
            users::update_user(c, id, changeset, now).await?;
            if ends_sessions {
                super::end_access(c, id, None, now).await?;
            }
            users::find_user_by_id(c, id)
                .await?
                .map(User::from)
                .ok_or(Error::NotFound("User not found"))
        }
        .scope_boxed()
    })
    .await
}

/// Changes the caller's password (section 2.4.4); ends the caller's other
/// sessions. Outstanding reset tokens die with the old hash.
pub async fn change_password(
    state: &AppState,
    caller: &Principal,
    current: SecretString,
    new: SecretString,
) -> Result<(), Error> {
    let matched = state
        .passwords
        .verify(current, caller.user.password_hash.as_deref())
        .await
        .map_err(Error::from)?;
    if !matched {
        return Err(Error::WrongCurrentPassword);
    }
    let hash = state.passwords.hash(new).await.map_err(Error::from)?;
    let (id, keep, now) = (caller.user.id, caller.session_id, state.clock.now());
    let verified = caller.user.password_hash.as_deref();
    let mut conn = connection(state).await?;
    conn.transaction(|c| {
        async move {
            // Compare-and-swap on the hash just verified: a reset or another
            // change that committed meanwhile wins, and this one is refused.
            if !users::swap_password_hash(c, id, verified, &hash, now).await? {
                return Err(Error::WrongCurrentPassword);
            }
            super::end_access(c, id, Some(keep), now).await?;
            Ok(())
        }
        .scope_boxed()
    })
    .await
}

/// Superusers: soft-deletes a user (never oneself).
pub async fn delete_user(state: &AppState, caller: &Principal, id: Id) -> Result<User, Error> {
    end_user(state, caller, id, Removal::Delete).await
}

/// What ends a user's access: deactivation or (soft) deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Removal {
    /// Inactive, sessions ended.
    Deactivate,
    /// Deleted, inactive, sessions ended, memberships inactive.
    Delete,
}

impl Removal {
    /// Applies the effects inside a transaction.
    pub(crate) async fn apply(
        self,
        conn: &mut DbConn,
        id: Id,
        now: Timestamp,
    ) -> Result<(), Error> {
        match self {
            Self::Deactivate => deactivate(conn, id, now).await,
            Self::Delete => soft_delete(conn, id, now).await,
        }
    }

    fn refusal_on_self(self) -> &'static str {
        match self {
            Self::Deactivate => "Cannot deactivate your own account",
            Self::Delete => "Cannot delete your own account",
        }
    }
}

/// Superusers: deactivates or deletes a live user other than themselves;
/// returns the user as it was.
pub(crate) async fn end_user(
    state: &AppState,
    caller: &Principal,
    id: Id,
    removal: Removal,
) -> Result<User, Error> {
    require_superuser(caller)?;
    if id == caller.user.id {
        return Err(Error::SelfAction {
            message: removal.refusal_on_self(),
            field: None,
        });
    }
    let mut conn = connection(state).await?;
    let target = live_user(&mut conn, id).await?;
    let now = state.clock.now();
    conn.transaction(|c| async move { removal.apply(c, id, now).await }.scope_boxed())
        .await?;
    Ok(target.into())
}

/// A user that exists and is not deleted, or 404.
pub(crate) async fn live_user(conn: &mut DbConn, id: Id) -> Result<UserRow, Error> {
    users::find_user_by_id(conn, id)
        .await?
        .filter(|u| u.deleted_at.is_none())
        .ok_or(Error::NotFound("User not found"))
}

/// Deletion effects (section 2.4.7): marked deleted and inactive, every
/// session ended, every membership inactive, stored social-provider tokens
/// erased (the links stay, so the identity cannot sign up again). Run
/// inside a transaction.
async fn soft_delete(conn: &mut DbConn, id: Id, now: Timestamp) -> Result<(), Error> {
    let changes = UserChangeset {
        is_active: Some(false),
        deleted_at: Some(Some(now)),
        ..UserChangeset::default()
    };
    users::update_user(conn, id, changes, now).await?;
    super::end_access(conn, id, None, now).await?;
    organizations::deactivate_user_memberships(conn, id, now).await?;
    crate::db::social::erase_tokens(conn, id, now).await?;
    Ok(())
}

/// Deactivation effects (section 2.1.2): inactive and every session ended.
/// Run inside a transaction.
async fn deactivate(conn: &mut DbConn, id: Id, now: Timestamp) -> Result<(), Error> {
    let changes = UserChangeset {
        is_active: Some(false),
        ..UserChangeset::default()
    };
    users::update_user(conn, id, changes, now).await?;
    super::end_access(conn, id, None, now).await?;
    Ok(())
}
