//! Bearer validation (docs/api.md#bearer-validation): the one place that turns an
//! access token into a caller. Both gRPC and transcoded REST pass through it.

use crate::auth::tokens::ACCESS;
use crate::db::sessions;
use crate::db::users::UserRow;
use crate::domain::types::Id;
use crate::error::Error;
use crate::state::AppState;

/// An authenticated caller: the user row loaded for this request and the
/// session of the token.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The caller, as stored now (authorization uses this, not token claims).
    /// Only services read the row; transports ask the methods below.
    pub(in crate::service) user: UserRow,
    /// The `sid` of the presented access token (for a provider token, the
    /// family of its grant).
    pub session_id: Id,
    /// The scopes of a provider access token; `None` for first-party
    /// tokens, which are not scoped.
    pub scopes: Option<Vec<String>>,
    /// When the user logged in to the session behind the token.
    pub authenticated_at: crate::domain::types::Timestamp,
}

impl Principal {
    /// The caller's id.
    pub fn user_id(&self) -> Id {
        self.user.id
    }

    /// Whether the caller acts as a superuser: one as stored now, and, on a
    /// token of the authorization server, only when it carries `admin`.
    /// Without it a superuser's delegated token has a member's powers.
    pub fn is_superuser(&self) -> bool {
        self.user.is_superuser
            && self
                .scopes
                .as_ref()
                .is_none_or(|scopes| scopes.iter().any(|s| s == "admin"))
    }
}

/// Validates an access token, steps 2 to 6 of section 1.3.1.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Principal, Error> {
    if let Some(keys) = &state.provider_keys
        && crate::auth::provider_keys::is_access_token(token)
    {
        return crate::service::oauth::tokens::api_principal(state, &keys.get(), token).await;
    }
    let claims = state
        .tokens
        .verify(token)
        .map_err(|_| Error::CredentialsUnverifiable)?;
    if claims.token_type != ACCESS {
        return Err(Error::WrongTokenType);
    }
    let now = state.clock.now();
    if claims.is_expired(now) {
        return Err(Error::AccessTokenExpired);
    }
    if claims.is_premature(now) {
        return Err(Error::CredentialsUnverifiable);
    }
    let cache = &state.principals;
    let (session, user) = match cache.get(claims.session_id) {
        Some(rows) => rows,
        None => {
            let epoch = cache.epoch();
            let mut conn = super::connection(state).await?;
            let Some((session, user)) =
                sessions::find_session_with_user(&mut conn, claims.session_id).await?
            else {
                return Err(Error::SessionEnded);
            };
            if session.is_live(now) && user.is_usable() {
                cache.put(claims.session_id, &session, &user, epoch);
            }
            (session, user)
        }
    };
    // Every check runs on cached rows too; only the query is saved.
    if session.user_id != claims.user_id || !session.is_live(now) {
        return Err(Error::SessionEnded);
    }
    if !user.is_usable() {
        return Err(Error::BearerUserInactive);
    }
    Ok(Principal {
        user,
        session_id: session.id,
        scopes: None,
        authenticated_at: session.created_at,
    })
}
