//! First-party authentication (docs/endpoints.md#auth): sign-up, password
//! login, refresh rotation with reuse detection, logout and password reset.

use chrono::Duration;
use scoped_futures::ScopedFutureExt as _;
use secrecy::{ExposeSecret as _, SecretString};

use crate::auth::tokens::{self, ACCESS, AccessClaims, REFRESH, RefreshClaims};
use crate::db::sessions::{self, SessionRow};
use crate::db::users::{self, UserRow};
use crate::domain::device::DeviceInfo;
use crate::domain::email::Email;
use crate::domain::password::DEMO_PASSWORDS;
use crate::domain::types::{Id, Timestamp};
use crate::error::Error;
use crate::mail::OutgoingEmail;
use crate::metrics::Event;
use crate::service::connection;
use crate::service::principal::Principal;
use crate::service::views::User;
use crate::state::AppState;

/// A validated sign-up.
#[derive(Debug)]
pub struct NewAccount {
    /// Normalised email.
    pub email: Email,
    /// Checked against the strength rule.
    pub password: SecretString,
    /// Trimmed, 1..=100 characters.
    pub first_name: String,
    /// Trimmed, empty is none.
    pub last_name: Option<String>,
    /// Cleaned.
    pub phone_number: Option<String>,
}

/// What a login or a refresh hands out.
#[derive(Debug)]
pub struct TokenPair {
    /// Access JWT.
    pub access_token: String,
    /// Refresh JWT.
    pub refresh_token: String,
    /// Access-token lifetime in seconds.
    pub expires_in: i64,
    /// The authenticated user.
    pub user: User,
}

/// Creates an active, non-superuser account. No session.
pub async fn register(state: &AppState, account: NewAccount) -> Result<User, Error> {
    create_account(state, account, false, true).await
}

/// Inserts a user with the given superuser and activation state (sign-up,
/// admin create, bootstrap), `preferences` = `{}`.
pub(crate) async fn create_account(
    state: &AppState,
    account: NewAccount,
    is_superuser: bool,
    is_active: bool,
) -> Result<User, Error> {
    let hash = state
        .passwords
        .hash(account.password)
        .await
        .map_err(Error::from)?;
    let now = state.clock.now();
    let row = UserRow {
        id: Id::new_random(),
        email: account.email.into_inner(),
        password_hash: Some(hash),
        first_name: account.first_name,
        last_name: account.last_name,
        phone_number: account.phone_number,
        is_active,
        is_superuser,
        preferences: Some("{}".to_owned()),
        locale: None,
        deleted_at: None,
        created_at: now,
        updated_at: now,
    };
    let mut conn = connection(state).await?;
    users::insert_user(&mut conn, &row).await?;
    Ok(row.into())
}

/// Password login: exactly one hash verification whatever the account, then
/// a new session. See the outcome table of docs/endpoints.md#login.
pub async fn login(
    state: &AppState,
    email: &str,
    password: SecretString,
    device: DeviceInfo,
) -> Result<TokenPair, Error> {
    let user = check_credentials(state, email, password, &device).await?;
    let (row, pair) = new_session(state, &user, device, state.clock.now())?;
    insert_checked_session(state, &user, row).await?;
    Ok(pair)
}

/// A new session of `user` and its first token pair (docs/endpoints.md#sessions);
/// the caller stores the row, and hands out the pair only once it is stored.
pub(crate) fn new_session(
    state: &AppState,
    user: &UserRow,
    device: DeviceInfo,
    now: Timestamp,
) -> Result<(SessionRow, TokenPair), Error> {
    let session_id = Id::new_random();
    let issued = issue_tokens(state, user, session_id, now, now)?;
    let row = session_row(
        session_id,
        user,
        &issued.refresh_jti,
        issued.refresh_expires_at,
        device,
        now,
    );
    Ok((row, issued.into_pair(user.clone())))
}

/// The authorization server's login (docs/oauth.md#login-page): the same
/// credential check as [`login`], then a session that only its cookie
/// carries: it lasts `lifetime_minutes` and has no refresh token.
pub(crate) async fn open_browser_session(
    state: &AppState,
    email: &str,
    password: SecretString,
    device: DeviceInfo,
    lifetime_minutes: i64,
) -> Result<(Id, UserRow), Error> {
    let user = check_credentials(state, email, password, &device).await?;
    let now = state.clock.now();
    let session_id = Id::new_random();
    // A refresh-token id that is never issued: the session cannot be refreshed.
    let unissued = tokens::new_jti();
    let expires = now + Duration::minutes(lifetime_minutes);
    let row = session_row(session_id, &user, &unissued, expires, device, now);
    insert_checked_session(state, &user, row).await?;
    Ok((session_id, user))
}

/// The account behind `email` if `password` is its password: exactly one
/// hash verification whatever the account, so that timing tells nothing.
/// Attempts count against the login throttle of (account, client), which a
/// success clears.
async fn check_credentials(
    state: &AppState,
    email: &str,
    password: SecretString,
    device: &DeviceInfo,
) -> Result<UserRow, Error> {
    let ip = device.ip_address.as_deref().and_then(|ip| ip.parse().ok());
    let outcome = match state.limiter.admit_login(email, ip).await {
        Ok(()) => verify_credentials(state, email, password).await,
        Err(refused) => Err(refused),
    };
    match outcome {
        Ok(user) => {
            state.limiter.login_succeeded(email, ip).await;
            state.metrics.event(Event::LoginSucceeded);
            Ok(user)
        }
        Err(err) => {
            if !matches!(err, Error::Unavailable(_) | Error::Internal(_)) {
                state.metrics.event(Event::LoginFailed);
            }
            Err(err)
        }
    }
}

async fn verify_credentials(
    state: &AppState,
    email: &str,
    password: SecretString,
) -> Result<UserRow, Error> {
    // The connection goes back to the pool before the (slow, queued)
    // verification, so a login flood cannot starve other requests of
    // connections; `insert_checked_session` re-checks the user under a lock.
    let user = users::find_user_by_email(&mut connection(state).await?, email)
        .await?
        .filter(|u| u.deleted_at.is_none());
    // Demo passwords only work in demo mode; outside it they fail like any
    // bad password, after the same verification cost.
    let demo_refused =
        !state.config.demo_mode && DEMO_PASSWORDS.contains(&password.expose_secret());
    let stored_hash = user.as_ref().and_then(|u| u.password_hash.as_deref());
    let matched = state
        .passwords
        .verify(password, stored_hash)
        .await
        .map_err(Error::from)?;
    let Some(user) = user.filter(|_| matched && !demo_refused) else {
        return Err(Error::InvalidCredentials);
    };
    if !user.is_active {
        return Err(Error::UserInactive);
    }
    Ok(user)
}

fn session_row(
    id: Id,
    user: &UserRow,
    refresh_jti: &str,
    expires_at: Timestamp,
    device: DeviceInfo,
    now: Timestamp,
) -> SessionRow {
    SessionRow {
        id,
        user_id: user.id,
        refresh_token_jti: refresh_jti.to_owned(),
        device_name: Some(device.device_name),
        device_id: device.device_id,
        ip_address: device.ip_address,
        user_agent: device.user_agent,
        last_used_at: now,
        expires_at,
        is_active: true,
        location_city: None,
        location_country: None,
        created_at: now,
        updated_at: now,
    }
}

/// Stores a session for a user whose password was just verified.
async fn insert_checked_session(
    state: &AppState,
    user: &UserRow,
    row: SessionRow,
) -> Result<(), Error> {
    let verified_hash = user.password_hash.clone();
    let user_id = user.id;
    let mut conn = connection(state).await?;
    conn.transaction(|c| {
        async move {
            // The password was verified outside any lock (bcrypt is slow). A
            // reset, password change or deactivation that committed since
            // then must win: re-read the user under a row lock, so a change
            // that commits later also sees (and ends) this session.
            let current = users::lock_user(c, user_id).await?;
            match current {
                Some(u) if u.deleted_at.is_none() && u.password_hash == verified_hash => {
                    if !u.is_active {
                        return Err(Error::UserInactive);
                    }
                }
                _ => return Err(Error::InvalidCredentials),
            }
            // No tokens without a stored session: a failed insert fails the login.
            sessions::insert_session(c, &row).await?;
            Ok(())
        }
        .scope_boxed()
    })
    .await
}

struct Issued {
    access_token: String,
    refresh_token: String,
    refresh_jti: String,
    refresh_expires_at: Timestamp,
    expires_in: i64,
}

impl Issued {
    fn into_pair(self, user: UserRow) -> TokenPair {
        TokenPair {
            access_token: self.access_token,
            refresh_token: self.refresh_token,
            expires_in: self.expires_in,
            user: user.into(),
        }
    }
}

/// Signs a token pair for `session_id`. The refresh token lives until
/// min(now + sliding lifetime, session start + absolute lifetime).
fn issue_tokens(
    state: &AppState,
    user: &UserRow,
    session_id: Id,
    session_created_at: Timestamp,
    now: Timestamp,
) -> Result<Issued, Error> {
    let config = &state.config;
    let expires_in = config.access_token_expire_minutes * 60;
    let refresh_expires_at = std::cmp::min(
        now + Duration::days(config.refresh_token_expire_days),
        session_created_at + Duration::days(config.session_absolute_lifetime_days),
    );
    let access = AccessClaims {
        sub: user.id.to_string(),
        exp: now.unix_seconds() + expires_in,
        iat: now.unix_seconds(),
        jti: tokens::new_jti(),
        token_type: ACCESS,
        sid: session_id.to_string(),
        is_superuser: user.is_superuser,
        email: &user.email,
        first_name: &user.first_name,
    };
    let refresh_jti = tokens::new_jti();
    let refresh = RefreshClaims {
        sub: user.id.to_string(),
        exp: refresh_expires_at.unix_seconds(),
        iat: now.unix_seconds(),
        jti: refresh_jti.clone(),
        token_type: REFRESH,
        sid: session_id.to_string(),
    };
    Ok(Issued {
        access_token: state.tokens.sign(&access).map_err(Error::internal)?,
        refresh_token: state.tokens.sign(&refresh).map_err(Error::internal)?,
        refresh_jti,
        refresh_expires_at,
        expires_in,
    })
}

enum RefreshOutcome {
    Rotated(Box<TokenPair>),
    Reused,
    LifetimeExceeded,
}

/// Rotates a refresh token (section 2.1.2). Presenting an already-rotated
/// token ends the session.
pub async fn refresh(state: &AppState, token: &str) -> Result<TokenPair, Error> {
    let outcome = rotate(state, token).await;
    match &outcome {
        Ok(_) => state.metrics.event(Event::RefreshSucceeded),
        Err(Error::Unavailable(_) | Error::Internal(_)) => {}
        Err(_) => state.metrics.event(Event::RefreshFailed),
    }
    outcome
}

async fn rotate(state: &AppState, token: &str) -> Result<TokenPair, Error> {
    let claims = state
        .tokens
        .verify(token)
        .map_err(|_| Error::RefreshTokenInvalid)?;
    if claims.token_type != REFRESH {
        return Err(Error::RefreshTokenInvalid);
    }
    let now = state.clock.now();
    if claims.is_expired(now) {
        return Err(Error::RefreshTokenExpired);
    }
    if claims.is_premature(now) {
        return Err(Error::RefreshTokenInvalid);
    }
    let mut conn = connection(state).await?;
    let absolute = Duration::days(state.config.session_absolute_lifetime_days);
    // The common case in two statements and no transaction: read the
    // session with its user, and rotate with a compare-and-swap on the
    // presented token id. A token that fails any check here, or loses the
    // swap to a concurrent refresh or logout, takes the locked path below,
    // which decides reuse, revocation or expiry exactly as before.
    if let Some((session, user)) =
        sessions::find_session_with_user(&mut conn, claims.session_id).await?
        && session.user_id == claims.user_id
        && session.is_live(now)
        && user.is_usable()
        && constant_time_eq(&session.refresh_token_jti, &claims.jti)
        && session.created_at + absolute > now
    {
        let issued = issue_tokens(state, &user, session.id, session.created_at, now)?;
        let swapped = sessions::swap_refresh_token(
            &mut conn,
            session.id,
            &claims.jti,
            &issued.refresh_jti,
            issued.refresh_expires_at,
            now,
        )
        .await?;
        if swapped {
            return Ok(issued.into_pair(user));
        }
    }
    let outcome = conn
        .transaction(|c| {
            async move {
                // The row lock serialises refreshes of one session.
                let session = sessions::lock_session(c, claims.session_id).await?;
                let Some(session) =
                    session.filter(|s| s.user_id == claims.user_id && s.is_live(now))
                else {
                    return Err(Error::RefreshSessionRevoked);
                };
                if !constant_time_eq(&session.refresh_token_jti, &claims.jti) {
                    sessions::end_session(c, session.id, now).await?;
                    return Ok(RefreshOutcome::Reused);
                }
                let user = users::find_user_by_id(c, session.user_id)
                    .await?
                    .filter(UserRow::is_usable)
                    .ok_or(Error::UserInactive)?;
                if session.created_at + absolute <= now {
                    sessions::end_session(c, session.id, now).await?;
                    return Ok(RefreshOutcome::LifetimeExceeded);
                }
                let issued = issue_tokens(state, &user, session.id, session.created_at, now)?;
                // Under the row lock the swap cannot lose.
                sessions::swap_refresh_token(
                    c,
                    session.id,
                    &session.refresh_token_jti,
                    &issued.refresh_jti,
                    issued.refresh_expires_at,
                    now,
                )
                .await?;
                Ok(RefreshOutcome::Rotated(Box::new(issued.into_pair(user))))
            }
            .scope_boxed()
        })
        .await?;
    match outcome {
        RefreshOutcome::Rotated(pair) => Ok(*pair),
        RefreshOutcome::Reused => {
            tracing::warn!(session_id = %claims.session_id, "refresh token reuse: session ended");
            Err(Error::RefreshTokenReused)
        }
        RefreshOutcome::LifetimeExceeded => Err(Error::SessionLifetimeExceeded),
    }
}

/// Ends the session of `refresh_token` if it is the caller's (section 2.1.11).
/// An unreadable token or unknown session changes nothing and succeeds.
pub async fn logout(
    state: &AppState,
    caller: &Principal,
    refresh_token: &str,
) -> Result<(), Error> {
    let Ok(claims) = state.tokens.verify(refresh_token) else {
        return Ok(());
    };
    if claims.token_type != REFRESH {
        return Ok(());
    }
    let mut conn = connection(state).await?;
    let Some(session) = sessions::find_session(&mut conn, claims.session_id).await? else {
        return Ok(());
    };
    if session.user_id != caller.user.id {
        return Err(Error::NotYourSession);
    }
    sessions::end_session(&mut conn, session.id, state.clock.now()).await?;
    Ok(())
}

/// Ends every session of the caller; returns how many were active.
pub async fn logout_all(state: &AppState, caller: &Principal) -> Result<usize, Error> {
    let mut conn = connection(state).await?;
    let now = state.clock.now();
    let user_id = caller.user.id;
    conn.transaction(|c| {
        async move { super::end_access(c, user_id, None, now).await }.scope_boxed()
    })
    .await
}

/// Emails a reset link when an active, non-deleted user has `email`. The
/// caller's answer never depends on it: the email goes out in the background.
pub async fn request_password_reset(state: &AppState, email: Email) -> Result<(), Error> {
    let mut conn = connection(state).await?;
    let Some(user) = users::find_user_by_email(&mut conn, email.as_str())
        .await?
        .filter(UserRow::is_usable)
    else {
        return Ok(());
    };
    let minutes = state.config.password_reset_expire_minutes;
    let expires = state.clock.now() + Duration::minutes(minutes);
    let token = state
        .reset_key
        .issue(user.id, user.password_hash.as_deref(), expires);
    let message = reset_email(state, &user.email, &token, minutes);
    let mailer = state.mailer.clone();
    tokio::spawn(async move {
        if let Err(err) = mailer.send(message).await {
            tracing::error!(error = ?err, "password reset email failed");
        }
    });
    Ok(())
}

fn reset_email(state: &AppState, to: &str, token: &str, minutes: i64) -> OutgoingEmail {
    let link = format!("{}/reset-password?token={token}", state.config.frontend_url);
    let project = &state.config.project_name;
    OutgoingEmail {
        to: to.to_owned(),
        subject: "Password Reset Request".to_owned(),
        text: format!(
            "Someone asked to reset the password of your {project} account.\n\n\
             Open this link to choose a new password (valid for {minutes} minutes):\n{link}\n\n\
             If you did not ask for this, ignore this email.\n\n-- {project}\n"
        ),
        html: format!(
            "<p>Someone asked to reset the password of your {project} account.</p>\
             <p><a href=\"{link}\">Choose a new password</a> (valid for {minutes} minutes).</p>\
             <p>If you did not ask for this, ignore this email.</p><p>-- {project}</p>"
        ),
    }
}

/// Sets a new password with a reset token; ends every session of the user.
pub async fn confirm_password_reset(
    state: &AppState,
    token: &str,
    new_password: SecretString,
) -> Result<(), Error> {
    let now = state.clock.now();
    let user_id = state
        .reset_key
        .claimed_user(token, now)
        .ok_or(Error::ResetTokenInvalid)?;
    let mut conn = connection(state).await?;
    let user = users::find_user_by_id(&mut conn, user_id)
        .await?
        .filter(UserRow::is_usable)
        .ok_or(Error::ResetTokenInvalid)?;
    let old_hash = user.password_hash.clone();
    if !state.reset_key.verify(token, old_hash.as_deref()) {
        return Err(Error::ResetTokenInvalid);
    }
    let new_hash = state
        .passwords
        .hash(new_password)
        .await
        .map_err(Error::from)?;
    conn.transaction(|c| {
        async move {
            // Compare-and-swap on the old hash: the token works exactly once.
            if !users::swap_password_hash(c, user_id, old_hash.as_deref(), &new_hash, now).await? {
                return Err(Error::ResetTokenInvalid);
            }
            super::end_access(c, user_id, None, now).await?;
            Ok(())
        }
        .scope_boxed()
    })
    .await
}

/// Creates the first superuser unless a user with that email exists (deleted
/// or not); never promotes or re-passwords. Returns whether it was created.
pub async fn bootstrap_superuser(
    state: &AppState,
    email: Email,
    password: SecretString,
) -> Result<bool, Error> {
    let mut conn = connection(state).await?;
    if users::find_user_by_email(&mut conn, email.as_str())
        .await?
        .is_some()
    {
        return Ok(false);
    }
    drop(conn);
    let account = NewAccount {
        email,
        password,
        first_name: "Admin".to_owned(),
        last_name: Some("User".to_owned()),
        phone_number: None,
    };
    match create_account(state, account, true, true).await {
        Ok(_) => Ok(true),
        // A concurrent start-up created it first.
        Err(Error::EmailTaken) => Ok(false),
        Err(other) => Err(other),
    }
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}
