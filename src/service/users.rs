//! Users as the caller sees them.

use crate::db::users::UserRow;
use crate::service::principal::Principal;

/// The caller's own account.
pub fn get_me(principal: &Principal) -> UserRow {
    principal.user.clone()
}
