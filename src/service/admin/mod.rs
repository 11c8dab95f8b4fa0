//! Administration (docs/endpoints.md#admin): superusers only, one module per
//! noun. Every function checks the superuser role itself.

mod organizations;
mod sessions;
mod stats;
mod users;

pub use self::organizations::*;
pub use self::sessions::*;
pub use self::stats::*;
pub use self::users::*;
