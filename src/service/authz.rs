//! Authorization rules shared by every transport: superuser, self, and
//! organization roles. Handlers never decide permissions themselves.

use crate::error::Error;
use crate::service::principal::Principal;

/// 403 unless the caller is a superuser.
pub fn require_superuser(caller: &Principal) -> Result<(), Error> {
    if caller.is_superuser() {
        Ok(())
    } else {
        Err(Error::forbidden("Superuser privileges required"))
    }
}

/// Whether the caller may act on the user `target` (self or superuser).
pub fn is_self_or_superuser(caller: &Principal, target: crate::domain::types::Id) -> bool {
    caller.is_superuser() || caller.user.id == target
}
