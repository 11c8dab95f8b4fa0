//! Administration of users (docs/endpoints.md#admin): creation with
//! superuser grants and activation, updates that may set passwords, delete,
//! activate, deactivate and bulk actions; never on the caller's own account.

use std::collections::HashSet;

use crate::db::users;
use crate::service::auth::NewAccount;
use crate::service::users::{Removal, UserChanges, apply_changes, end_user, live_user};
use crate::service::views::User;
use scoped_futures::ScopedFutureExt as _;

use crate::domain::types::Id;
use crate::error::Error;
use crate::service::authz::require_superuser;
use crate::service::connection;
use crate::service::principal::Principal;
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
