//! GitHub: OAuth 2.0 code exchange, then `/user` for the id and name and
//! `/user/emails` for the primary verified address (the profile's `email`
//! is not used: it is whatever the user chose to make public).

use secrecy::ExposeSecret as _;
use serde::Deserialize;
use serde_json::Value;

use super::http::Http;
use super::{
    EXCHANGE_FAILED, ExternalIdentity, ProviderId, ProviderTokens, TokenResponse, USER_INFO_FAILED,
    failed,
};
use crate::config::{GithubConfig, ProviderCredentials};
use crate::error::Error;

/// The scopes asked of GitHub.
pub const SCOPES: &str = "read:user user:email";

#[derive(Debug, Deserialize)]
struct Profile {
    id: Option<Value>,
    login: Option<String>,
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Address {
    email: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    verified: bool,
}

/// Exchanges the code and reads the profile and addresses.
pub async fn identify(
    http: &Http,
    config: &GithubConfig,
    credentials: &ProviderCredentials,
    code: &str,
    redirect_uri: &str,
) -> Result<(ExternalIdentity, ProviderTokens), Error> {
    let provider = ProviderId::Github;
    let form = [
        ("client_id", credentials.client_id.as_str()),
        ("client_secret", credentials.client_secret.expose_secret()),
        ("code", code),
        ("redirect_uri", redirect_uri),
    ];
    let response: TokenResponse = http
        .post_form(&config.token_url, &form, None)
        .await
        .map_err(|e| failed(provider, EXCHANGE_FAILED, e))?;
    // GitHub answers errors with 200 and an `error` member.
    let Some(access) = response
        .access_token
        .as_deref()
        .filter(|_| response.error.is_none())
    else {
        let cause = response.error.as_deref().unwrap_or("no access_token");
        return Err(failed(provider, EXCHANGE_FAILED, cause));
    };
    let profile: Profile = http
        .get_json(&format!("{}/user", config.api_url), Some(access))
        .await
        .map_err(|e| failed(provider, USER_INFO_FAILED, e))?
        .value;
    let subject = match &profile.id {
        Some(Value::Number(n)) if n.is_u64() => n.to_string(),
        _ => return Err(failed(provider, USER_INFO_FAILED, "no numeric id in /user")),
    };
    // Without the address list (scope refused, API error) there is simply
    // no email: a returning user still logs in through the link.
    let email = match http
        .get_json::<Vec<Address>>(&format!("{}/user/emails", config.api_url), Some(access))
        .await
    {
        Ok(list) => list
            .value
            .into_iter()
            .find(|a| a.primary && a.verified)
            .map(|a| a.email),
        Err(err) => {
            tracing::info!(error = %err, "GitHub /user/emails unavailable");
            None
        }
    };
    let display = profile
        .name
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .or(profile.login.as_deref())
        .unwrap_or_default()
        .trim();
    let (first, last) = match display.split_once(' ') {
        Some((first, last)) => (first, Some(last)),
        None => (display, None),
    };
    let verified = email.is_some();
    let identity = ExternalIdentity::new(subject, email, verified, Some(first), last);
    Ok((identity, ProviderTokens::from_response(&response)))
}
