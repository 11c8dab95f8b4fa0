//! Who is at the browser (docs/oauth.md#browser-identity): a first-party
//! bearer token if it is valid, else the authorization server's session
//! cookie, else nobody. The cookie is the session id and its HMAC under a
//! key derived for this purpose; the consent form's CSRF token is an HMAC of
//! the session and the authorization request it answers.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::ExposeSecret as _;

use crate::auth::digest::{constant_time_eq, derive_key, hmac_sha256, random_token};
use crate::db::sessions;
use crate::db::users::UserRow;
use crate::domain::types::Id;
use crate::error::Error;
use crate::service::{connection, principal};
use crate::state::AppState;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "as_session";
/// Name of the login form's double-submit cookie.
pub const CSRF_COOKIE: &str = "as_csrf";

/// An identified browser user.
#[derive(Debug, Clone)]
pub struct BrowserUser {
    pub(in crate::service) user: UserRow,
    /// The session behind the bearer token or the cookie.
    pub session_id: Id,
    /// Identified by the cookie (so forms need a CSRF token).
    pub via_cookie: bool,
    /// When the user logged in to that session (the ID token's
    /// `auth_time`).
    pub auth_time: crate::domain::types::Timestamp,
}

impl BrowserUser {
    /// The user's id.
    pub fn user_id(&self) -> Id {
        self.user.id
    }
}

fn secret(state: &AppState) -> Vec<u8> {
    state.config.secret_key.expose_secret().as_bytes().to_vec()
}

fn session_mac(state: &AppState, session_id: Id) -> [u8; 32] {
    hmac_sha256(
        &derive_key(&secret(state), "oauth-as-session-v1"),
        session_id.0.as_bytes(),
    )
}

/// The cookie value for a session.
pub fn session_cookie(state: &AppState, session_id: Id) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(session_id.0.as_bytes()),
        URL_SAFE_NO_PAD.encode(session_mac(state, session_id))
    )
}

/// The session a cookie names, if its MAC is ours.
fn cookie_session(state: &AppState, value: &str) -> Option<Id> {
    let (id, mac) = value.split_once('.')?;
    let id = uuid::Uuid::from_slice(&URL_SAFE_NO_PAD.decode(id).ok()?).ok()?;
    let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
    let session_id = Id(id);
    constant_time_eq(&mac, &session_mac(state, session_id)).then_some(session_id)
}

/// The browser's user: bearer first, then the cookie; `None` when neither
/// identifies a live session of an active user.
pub async fn identify(
    state: &AppState,
    bearer: Option<&str>,
    cookie: Option<&str>,
) -> Result<Option<BrowserUser>, Error> {
    if let Some(token) = bearer {
        match principal::authenticate(state, token).await {
            // A token the authorization server issued to a client never
            // stands for the user here: a client could otherwise authorize
            // other clients.
            Ok(p) if p.scopes.is_some() => {}
            Ok(p) => {
                return Ok(Some(BrowserUser {
                    session_id: p.session_id,
                    auth_time: p.authenticated_at,
                    user: p.user,
                    via_cookie: false,
                }));
            }
            Err(err @ Error::Unavailable(_)) => return Err(err),
            Err(_) => {}
        }
    }
    let Some(session_id) = cookie.and_then(|c| cookie_session(state, c)) else {
        return Ok(None);
    };
    let mut conn = connection(state).await?;
    let found = sessions::find_session_with_user(&mut conn, session_id).await?;
    Ok(found
        .filter(|(session, user)| session.is_live(state.clock.now()) && user.is_usable())
        .map(|(session, user)| BrowserUser {
            user,
            session_id: session.id,
            via_cookie: true,
            auth_time: session.created_at,
        }))
}

/// A fresh value for the login form's double-submit cookie.
pub fn new_login_csrf() -> String {
    random_token(32)
}

/// The consent form's CSRF token for a session and request.
pub fn consent_csrf(state: &AppState, session_id: Id, request_id: Id) -> String {
    let message = format!("{session_id}:{request_id}");
    URL_SAFE_NO_PAD.encode(hmac_sha256(
        &derive_key(&secret(state), "oauth-as-csrf-v1"),
        message.as_bytes(),
    ))
}

/// Whether `token` is the consent CSRF token of the session and request.
pub fn consent_csrf_matches(state: &AppState, session_id: Id, request_id: Id, token: &str) -> bool {
    constant_time_eq(
        token.as_bytes(),
        consent_csrf(state, session_id, request_id).as_bytes(),
    )
}
