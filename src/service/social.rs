//! Social login (docs/social.md): login states, the callback's account
//! resolution, and the caller's links. Talking to the providers is
//! `crate::social`'s job; this module decides what their answer means.

use chrono::Duration;
use scoped_futures::ScopedFutureExt as _;

use crate::auth::digest::{random_token, sha256_hex};
use crate::auth::sealed::SealingKey;
use crate::db::social::{self as links, AccountRow, StateRow};
use crate::db::users::{self, UserRow};
use crate::db::{DbConn, DbError};
use crate::domain::device::DeviceInfo;
use crate::domain::email::Email;
use crate::domain::types::{Id, Timestamp};
use crate::error::Error;
use crate::metrics::Event;
use crate::service::auth::{TokenPair, new_session};
use crate::service::connection;
use crate::service::principal::Principal;
use crate::service::views::LinkedAccount;
use crate::social::{
    ExternalIdentity, FlowSecrets, ProviderId, ProviderInfo, ProviderTokens, SocialProviders,
};
use crate::state::AppState;

/// "Invalid or expired OAuth state".
const BAD_STATE: &str = "Invalid or expired OAuth state";

/// The providers list.
#[derive(Debug)]
pub struct ProviderList {
    /// Social login is on and at least one provider is configured.
    pub enabled: bool,
    /// The configured providers; none while social login is off.
    pub providers: Vec<ProviderInfo>,
}

/// The providers a client may offer.
pub fn providers(state: &AppState) -> ProviderList {
    if !state.social.enabled() {
        return ProviderList {
            enabled: false,
            providers: Vec::new(),
        };
    }
    let providers = state.social.configured();
    ProviderList {
        enabled: !providers.is_empty(),
        providers,
    }
}

/// A provider name as an error message may repeat it.
fn shown(name: &str) -> String {
    name.chars().take(50).collect()
}

/// A provider of the path, whether configured or not (unlinking works on
/// any known provider).
pub fn known_provider(name: &str) -> Result<ProviderId, Error> {
    ProviderId::parse(name).ok_or_else(|| Error::UnknownProvider(shown(name)))
}

/// Steps 1 and 2 of every flow: social login is on, and the path names a
/// known, configured provider.
pub fn usable_provider(state: &AppState, name: &str) -> Result<ProviderId, Error> {
    if !state.social.enabled() {
        return Err(Error::SocialLoginDisabled);
    }
    let provider = known_provider(name)?;
    if !state.social.is_configured(provider) {
        return Err(Error::ProviderNotConfigured(provider.as_str()));
    }
    Ok(provider)
}

/// Where to send the browser, and the state the callback must present.
#[derive(Debug)]
pub struct AuthorizationStart {
    /// The provider's authorization URL with every parameter.
    pub authorization_url: String,
    /// The state (also inside the URL).
    pub state: String,
}

/// Starts a flow: a login flow, or a link flow for `caller`.
pub async fn start(
    state: &AppState,
    provider: ProviderId,
    redirect_uri: String,
    caller: Option<&Principal>,
) -> Result<AuthorizationStart, Error> {
    let raw_state = random_token(32);
    let secrets = if SocialProviders::uses_openid(provider) {
        FlowSecrets {
            code_verifier: Some(random_token(64)),
            nonce: Some(random_token(32)),
        }
    } else {
        FlowSecrets::default()
    };
    let authorization_url = state
        .social
        .authorization_url(provider, &redirect_uri, &raw_state, &secrets)
        .await?;
    let now = state.clock.now();
    let row = StateRow {
        id: Id::new_random(),
        // Only the hash is stored: a read of the table cannot finish a flow.
        state: sha256_hex(raw_state.as_bytes()),
        code_verifier: secrets.code_verifier,
        nonce: secrets.nonce,
        provider: provider.as_str().to_owned(),
        redirect_uri: Some(redirect_uri),
        user_id: caller.map(Principal::user_id),
        expires_at: now + Duration::minutes(state.social.state_minutes()),
        created_at: now,
        updated_at: now,
    };
    let mut conn = connection(state).await?;
    // Flows that were never finished go as new ones come (and with the
    // cleanup job): the table holds about one lifetime's worth of states.
    if state.social.purge_due(now) {
        links::purge_expired_states(&mut conn, now).await?;
    }
    links::insert_state(&mut conn, &row).await?;
    Ok(AuthorizationStart {
        authorization_url,
        state: raw_state,
    })
}

/// Starts a link flow; 409 when the caller already has this provider.
pub async fn start_link(
    state: &AppState,
    provider: ProviderId,
    redirect_uri: String,
    caller: &Principal,
) -> Result<AuthorizationStart, Error> {
    let mine = links::list_accounts(&mut connection(state).await?, caller.user_id()).await?;
    if mine.iter().any(|a| a.provider == provider.as_str()) {
        return Err(already_have(state, provider));
    }
    start(state, provider, redirect_uri, Some(caller)).await
}

fn already_have(state: &AppState, provider: ProviderId) -> Error {
    let name = state.social.display_name(provider);
    Error::AlreadyLinked(format!("You already have a {name} account linked"))
}

fn linked_elsewhere(state: &AppState, provider: ProviderId) -> Error {
    let name = state.social.display_name(provider);
    Error::AlreadyLinked(format!(
        "This {name} account is already linked to another user"
    ))
}

fn not_verified(state: &AppState, provider: ProviderId) -> Error {
    let name = state.social.display_name(provider);
    Error::ExternalAuthFailed(format!("Email not verified by {name}"))
}

/// A validated callback.
#[derive(Debug)]
pub struct Callback {
    /// Must equal the flow's.
    pub redirect_uri: String,
    /// The provider's authorization code.
    pub code: String,
    /// The flow's state.
    pub state: String,
}

/// A finished social login.
#[derive(Debug)]
pub struct SocialLogin {
    /// First-party tokens of the new session.
    pub tokens: TokenPair,
    /// The account was created by this login.
    pub is_new_user: bool,
}

/// The callback (docs/social.md#the-callback), steps 4 to 10. `caller` is
/// the bearer's user when the request carried a valid one.
pub async fn callback(
    state: &AppState,
    provider: ProviderId,
    input: Callback,
    caller: Option<&Principal>,
    device: DeviceInfo,
) -> Result<SocialLogin, Error> {
    let outcome = finish_flow(state, provider, input, caller, device).await;
    let event = match &outcome {
        Ok(_) => Some(Event::SocialLoginSucceeded),
        Err(Error::Unavailable(_) | Error::Internal(_)) => None,
        Err(_) => Some(Event::SocialLoginFailed),
    };
    if let Some(event) = event {
        state.metrics.event(event);
    }
    outcome
}

async fn finish_flow(
    state: &AppState,
    provider: ProviderId,
    input: Callback,
    caller: Option<&Principal>,
    device: DeviceInfo,
) -> Result<SocialLogin, Error> {
    let now = state.clock.now();
    // Step 4: the state works once, whatever happens next.
    let flow = links::take_state(
        &mut connection(state).await?,
        &sha256_hex(input.state.as_bytes()),
    )
    .await?
    .filter(|s| s.expires_at > now && s.provider == provider.as_str())
    .ok_or_else(|| Error::ExternalAuthFailed(BAD_STATE.to_owned()))?;
    // A link flow finished in a browser where someone else is logged in
    // is someone else's flow: its identity must not join the starter's
    // account (a link forged by sending the authorization URL).
    if let (Some(starter), Some(caller)) = (flow.user_id, caller)
        && starter != caller.user_id()
    {
        return Err(Error::ExternalAuthFailed(BAD_STATE.to_owned()));
    }
    // Step 5.
    if flow.redirect_uri.as_deref() != Some(input.redirect_uri.as_str()) {
        return Err(Error::ExternalAuthFailed(
            "Redirect URI mismatch".to_owned(),
        ));
    }
    // Steps 6 and 7, with no database connection held while the provider answers.
    let secrets = FlowSecrets {
        code_verifier: flow.code_verifier,
        nonce: flow.nonce,
    };
    let (identity, provider_tokens) = state
        .social
        .identify(provider, &input.code, &input.redirect_uri, &secrets, now)
        .await?;
    // Steps 8 to 10 in one transaction: nothing half-created on failure.
    let resolution = Resolution {
        state,
        provider,
        identity: &identity,
        email: identity.email.as_deref().and_then(|e| Email::parse(e).ok()),
        provider_tokens: &provider_tokens,
        linking: flow.user_id,
        now,
    };
    let mut conn = connection(state).await?;
    // A concurrent callback or unlink may change what the resolution read
    // (a double-submitted sign-up, an unlink); then it runs once more and
    // sees the other's outcome.
    let mut attempts = 0;
    loop {
        attempts += 1;
        let device = device.clone();
        let resolution = &resolution;
        let outcome = conn
            .transaction(|c| {
                async move {
                    let (user, link_id, is_new_user) = resolution.resolve(c).await?;
                    let (session, tokens) = new_session(state, &user, device, now)?;
                    crate::db::sessions::insert_session(c, &session).await?;
                    tracing::info!(user_id = %user.id, %link_id, provider = provider.as_str(), is_new_user, "social login");
                    Ok(SocialLogin {
                        tokens,
                        is_new_user,
                    })
                }
                .scope_boxed()
            })
            .await;
        match outcome {
            Ok(login) => return Ok(login),
            Err(Tx::Failed(err)) => return Err(err),
            Err(Tx::Raced(err)) if attempts >= 2 => return Err(err),
            Err(Tx::Raced(_)) => {}
        }
    }
}

/// How a resolution transaction ends when it does not commit.
enum Tx {
    /// A final answer.
    Failed(Error),
    /// A concurrent change invalidated what was read; `Error` is the answer
    /// if running again does not help.
    Raced(Error),
}

impl From<Error> for Tx {
    fn from(err: Error) -> Self {
        Self::Failed(err)
    }
}

impl From<DbError> for Tx {
    fn from(err: DbError) -> Self {
        Self::Failed(err.into())
    }
}

/// Step 8 (account resolution) and step 9 (the link's tokens and email).
struct Resolution<'a> {
    state: &'a AppState,
    provider: ProviderId,
    identity: &'a ExternalIdentity,
    /// The identity's email, when it is a valid address (normalised).
    email: Option<Email>,
    provider_tokens: &'a ProviderTokens,
    /// The starter of a link flow.
    linking: Option<Id>,
    now: Timestamp,
}

impl Resolution<'_> {
    /// The user to log in, the link used, and whether the user is new.
    async fn resolve(&self, c: &mut DbConn) -> Result<(UserRow, Id, bool), Tx> {
        let existing =
            links::find_by_identity(c, self.provider.as_str(), &self.identity.subject).await?;
        match (existing, self.linking) {
            // a1, a2: the identity is linked; a link flow must be its owner's.
            (Some(link), Some(caller)) => {
                if link.user_id != caller {
                    return Err(linked_elsewhere(self.state, self.provider).into());
                }
                let user = usable_user(c, caller).await?;
                self.refresh_link(c, &link).await?;
                Ok((user, link.id, false))
            }
            // a3: a returning user.
            (Some(link), None) => {
                let user = usable_user(c, link.user_id).await?;
                self.refresh_link(c, &link).await?;
                Ok((user, link.id, false))
            }
            // b: a new link for the caller.
            (None, Some(caller)) => {
                let user = usable_user(c, caller).await?;
                let mine = links::list_accounts(c, user.id).await?;
                if mine.iter().any(|a| a.provider == self.provider.as_str()) {
                    return Err(already_have(self.state, self.provider).into());
                }
                if SocialProviders::uses_openid(self.provider) && !self.verified_email() {
                    return Err(not_verified(self.state, self.provider).into());
                }
                let id = self.link(c, user.id).await?;
                Ok((user, id, false))
            }
            (None, None) => self.login_without_link(c).await,
        }
    }

    fn verified_email(&self) -> bool {
        self.email.is_some() && self.identity.email_verified
    }

    /// Cases c, d and e: no link yet, a login flow.
    async fn login_without_link(&self, c: &mut DbConn) -> Result<(UserRow, Id, bool), Tx> {
        let name = self.state.social.display_name(self.provider);
        let holder = match &self.email {
            Some(email) => users::find_user_by_email(c, email.as_str()).await?,
            None => None,
        };
        if let (Some(holder), Some(email)) = (holder, &self.email) {
            if !self.state.social.auto_link_by_email() {
                return Err(Error::SocialEmailTaken(name.to_owned()).into());
            }
            // c: linking by email needs the provider's word that the
            // address is theirs, or anyone could claim any account.
            if !self.identity.email_verified {
                return Err(not_verified(self.state, self.provider).into());
            }
            let user = usable_user(c, holder.id).await?;
            if user.email != email.as_str() {
                // The address moved to another account since it was read.
                return Err(Tx::Raced(Error::ExternalAuthFailed(BAD_STATE.to_owned())));
            }
            let user = self.take_over_unverified(c, user).await?;
            let id = self.link(c, user.id).await?;
            return Ok((user, id, false));
        }
        // d: a new account.
        let Some(email) = &self.email else {
            return Err(Error::ExternalAuthFailed(format!(
                "Email is required for registration. Please grant email permission to {name}."
            ))
            .into());
        };
        if !self.identity.email_verified {
            return Err(not_verified(self.state, self.provider).into());
        }
        let user = UserRow {
            id: Id::new_random(),
            email: email.as_str().to_owned(),
            password_hash: None,
            first_name: self.identity.first_name.clone(),
            last_name: self.identity.last_name.clone(),
            phone_number: None,
            is_active: true,
            is_superuser: false,
            preferences: None,
            locale: None,
            deleted_at: None,
            created_at: self.now,
            updated_at: self.now,
        };
        match users::insert_user(c, &user).await {
            Ok(()) => {}
            // A concurrent callback (a double submit) created the account.
            Err(DbError::UniqueViolation(index)) if index == "ix_users_email" => {
                return Err(Tx::Raced(Error::SocialEmailTaken(name.to_owned())));
            }
            Err(other) => return Err(other.into()),
        }
        let id = self.link(c, user.id).await?;
        Ok((user, id, true))
    }

    /// Auto-linking proves that the identity owns the address; nothing ever
    /// proved that whoever set the account's password did (sign-up does not
    /// verify emails). So the password goes, and with it every session and
    /// grant it opened: an account pre-registered with someone else's
    /// address is not kept by whoever registered it. The owner can set a
    /// new password with a reset.
    async fn take_over_unverified(&self, c: &mut DbConn, user: UserRow) -> Result<UserRow, Tx> {
        if user.password_hash.is_none() {
            return Ok(user);
        }
        let changes = users::UserChangeset {
            password_hash: Some(None),
            ..users::UserChangeset::default()
        };
        users::update_user(c, user.id, changes, self.now).await?;
        crate::service::end_access(c, user.id, None, self.now).await?;
        tracing::info!(user_id = %user.id, provider = self.provider.as_str(), "auto-link removed an unverified password");
        Ok(UserRow {
            password_hash: None,
            ..user
        })
    }

    /// Creates the link with the provider's tokens.
    async fn link(&self, c: &mut DbConn, user_id: Id) -> Result<Id, Tx> {
        let id = Id::new_random();
        let (access, refresh, expires) = self.sealed_tokens(id);
        let row = AccountRow {
            id,
            user_id,
            provider: self.provider.as_str().to_owned(),
            provider_user_id: self.identity.subject.clone(),
            provider_email: self.email.as_ref().map(|e| e.as_str().to_owned()),
            access_token_encrypted: access,
            refresh_token_encrypted: refresh,
            token_expires_at: expires,
            created_at: self.now,
            updated_at: self.now,
        };
        match links::insert_account(c, &row).await {
            Ok(()) => Ok(id),
            // A concurrent callback linked the same identity, or the same
            // provider to this user, first: the next attempt sees it.
            Err(DbError::UniqueViolation(index)) if index == "uq_oauth_provider_user" => {
                Err(Tx::Raced(linked_elsewhere(self.state, self.provider)))
            }
            Err(DbError::UniqueViolation(index)) if index == "uq_oauth_accounts_user_provider" => {
                Err(Tx::Raced(already_have(self.state, self.provider)))
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Replaces an existing link's tokens and email with this login's; a
    /// link unlinked meanwhile makes the resolution run again.
    async fn refresh_link(&self, c: &mut DbConn, link: &AccountRow) -> Result<(), Tx> {
        let (access, refresh, expires) = self.sealed_tokens(link.id);
        let email = self
            .email
            .as_ref()
            .map(|e| e.as_str().to_owned())
            .or_else(|| link.provider_email.clone());
        // A provider that sends no new refresh token leaves the old one valid.
        let refresh = refresh.or_else(|| {
            self.state
                .social
                .token_key()
                .and(link.refresh_token_encrypted.clone())
        });
        let updated = links::update_tokens(
            c,
            link.id,
            email.as_deref(),
            access.as_deref(),
            refresh.as_deref(),
            expires,
            self.now,
        )
        .await?;
        if updated {
            Ok(())
        } else {
            Err(Tx::Raced(Error::ExternalAuthFailed(BAD_STATE.to_owned())))
        }
    }

    /// The provider's tokens sealed for link `id`, or nothing without a key.
    fn sealed_tokens(&self, id: Id) -> (Option<String>, Option<String>, Option<Timestamp>) {
        let tokens = self.provider_tokens;
        let expires = tokens
            .expires_in
            .filter(|s| *s > 0)
            .map(|s| self.now + Duration::seconds(s.min(10 * 365 * 86_400)));
        let Some(key) = self.state.social.token_key() else {
            return (None, None, expires);
        };
        let key = SealingKey::new(key);
        let seal = |token: &Option<String>, column: &str| {
            token.as_deref().map(|t| seal_token(&key, id, column, t))
        };
        (
            seal(&tokens.access_token, "access_token_encrypted"),
            seal(&tokens.refresh_token, "refresh_token_encrypted"),
            expires,
        )
    }
}

/// `"v1."` + the sealed token, bound to its row and column.
pub fn seal_token(key: &SealingKey, id: Id, column: &str, token: &str) -> String {
    let context = format!("oauth_accounts:{id}:{column}");
    format!(
        "v1.{}",
        key.seal_bound(token.as_bytes(), context.as_bytes())
    )
}

/// A stored token, or `None` when it does not open (another key, another row).
pub fn open_token(key: &SealingKey, id: Id, column: &str, stored: &str) -> Option<String> {
    let context = format!("oauth_accounts:{id}:{column}");
    let sealed = stored.strip_prefix("v1.")?;
    String::from_utf8(key.open_bound(sealed, context.as_bytes())?).ok()
}

/// The user, locked, if active and not deleted; else 401 AUTH_005.
async fn usable_user(c: &mut DbConn, id: Id) -> Result<UserRow, Error> {
    users::lock_user(c, id)
        .await?
        .filter(UserRow::is_usable)
        .ok_or(Error::UserInactive)
}

/// The caller's links, newest first.
pub async fn list_accounts(
    state: &AppState,
    caller: &Principal,
) -> Result<Vec<LinkedAccount>, Error> {
    let rows = links::list_accounts(&mut connection(state).await?, caller.user_id()).await?;
    Ok(rows.into_iter().map(LinkedAccount::from).collect())
}

/// Removes the caller's link to `provider`, if they keep a way to log in.
/// Returns the provider's display name.
pub async fn unlink(
    state: &AppState,
    caller: &Principal,
    provider: ProviderId,
) -> Result<String, Error> {
    let name = state.social.display_name(provider).to_owned();
    let user_id = caller.user_id();
    let mut conn = connection(state).await?;
    let missing = name.clone();
    conn.transaction(|c| {
        async move {
            // The user's row lock serialises two unlinks racing to remove
            // the last two links.
            let user = users::lock_user(c, user_id)
                .await?
                .ok_or(Error::UserInactive)?;
            let mine = links::list_accounts(c, user_id).await?;
            if !mine.iter().any(|a| a.provider == provider.as_str()) {
                return Err(Error::NoLinkToUnlink(missing));
            }
            if user.password_hash.is_none() && mine.len() < 2 {
                return Err(Error::LastLoginMethod);
            }
            links::delete_account(c, user_id, provider.as_str()).await?;
            Ok(())
        }
        .scope_boxed()
    })
    .await?;
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_tokens_are_bound_to_row_and_column() {
        let key = SealingKey::new(&[3u8; 32]);
        let id = Id::new_random();
        let stored = seal_token(&key, id, "access_token_encrypted", "gho_secret");
        assert!(stored.starts_with("v1."));
        assert_eq!(
            open_token(&key, id, "access_token_encrypted", &stored).as_deref(),
            Some("gho_secret")
        );
        assert!(open_token(&key, id, "refresh_token_encrypted", &stored).is_none());
        assert!(open_token(&key, Id::new_random(), "access_token_encrypted", &stored).is_none());
        assert!(
            open_token(
                &SealingKey::new(&[4u8; 32]),
                id,
                "access_token_encrypted",
                &stored
            )
            .is_none()
        );
    }
}
