//! Every user's sessions, for administrators (docs/endpoints.md#admin).

use crate::db::sessions;
use crate::service::views::{Session, User};

use crate::domain::page::{Page, PageRequest};
use crate::error::Error;
use crate::service::authz::require_superuser;
use crate::service::connection;
use crate::service::principal::Principal;
use crate::state::AppState;

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
