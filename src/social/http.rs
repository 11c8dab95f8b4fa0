//! The outbound HTTP client of social login: a 10-second budget per call,
//! no redirects followed, and answers read up to a size cap, so a slow or
//! hostile upstream costs a bounded amount of time and memory.

use std::time::Duration;

use reqwest::header::{ACCEPT, HeaderMap, HeaderValue, USER_AGENT};
use serde::de::DeserializeOwned;

/// Whole-call budget of one upstream request.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest upstream answer read (token responses, user info, JWKS and
/// discovery documents are a few kilobytes).
pub const MAX_UPSTREAM_BODY: usize = 256 * 1024;

/// Why an upstream call failed; logged, never shown to clients.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// Connection, TLS or timeout failure.
    #[error("request failed: {0}")]
    Transport(#[from] reqwest::Error),
    /// A non-2xx answer.
    #[error("status {status}: {body}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The start of the body, for the log.
        body: String,
    },
    /// An answer over [`MAX_UPSTREAM_BODY`].
    #[error("answer larger than {MAX_UPSTREAM_BODY} bytes")]
    TooLarge,
    /// Every slot for upstream calls stayed taken for the whole budget.
    #[error("too many upstream calls in flight")]
    Busy,
    /// An answer that is not the expected JSON.
    #[error("unexpected answer: {0}")]
    Json(#[from] serde_json::Error),
}

/// A JSON answer and the `Cache-Control: max-age` it came with.
#[derive(Debug)]
pub struct Fetched<T> {
    /// The decoded body.
    pub value: T,
    /// Seconds the answer may be cached, when the upstream said.
    pub max_age: Option<u64>,
}

/// Most upstream calls in flight at once, whoever causes them: a flood of
/// callbacks cannot turn into a flood against a provider (which would
/// throttle our client id for everyone).
pub const MAX_IN_FLIGHT: usize = 32;

/// The shared client.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    in_flight: std::sync::Arc<tokio::sync::Semaphore>,
}

impl Http {
    /// A client with the budget above.
    pub fn new() -> anyhow::Result<Self> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        // GitHub refuses API calls without a User-Agent.
        headers.insert(USER_AGENT, HeaderValue::from_static("identityd"));
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(UPSTREAM_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            client,
            in_flight: std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT)),
        })
    }

    /// `GET url`, optionally with a bearer token.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        url: &str,
        bearer: Option<&str>,
    ) -> Result<Fetched<T>, UpstreamError> {
        let mut request = self.client.get(url);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let _slot = self.slot().await?;
        read_json(request.send().await?).await
    }

    /// `POST url` with a form body, optionally with HTTP Basic credentials.
    pub async fn post_form<T: DeserializeOwned>(
        &self,
        url: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<T, UpstreamError> {
        let mut request = self.client.post(url).form(form);
        if let Some((user, password)) = basic {
            request = request.basic_auth(form_encode(user), Some(form_encode(password)));
        }
        let _slot = self.slot().await?;
        read_json(request.send().await?).await.map(|f| f.value)
    }

    /// A place among the calls in flight, waited for within the call budget.
    async fn slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit, UpstreamError> {
        tokio::time::timeout(UPSTREAM_TIMEOUT, self.in_flight.clone().acquire_owned())
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or(UpstreamError::Busy)
    }
}

/// RFC 6749 section 2.3.1: client credentials in a Basic header are
/// form-urlencoded first.
fn form_encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

async fn read_json<T: DeserializeOwned>(
    mut response: reqwest::Response,
) -> Result<Fetched<T>, UpstreamError> {
    let status = response.status();
    let max_age = response
        .headers()
        .get(reqwest::header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .and_then(max_age);
    if response
        .content_length()
        .is_some_and(|n| n > MAX_UPSTREAM_BODY as u64)
    {
        return Err(UpstreamError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_UPSTREAM_BODY {
            return Err(UpstreamError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    if !status.is_success() {
        let start = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
        return Err(UpstreamError::Status {
            status: status.as_u16(),
            body: start,
        });
    }
    Ok(Fetched {
        value: serde_json::from_slice(&body)?,
        max_age,
    })
}

/// The `max-age` of a `Cache-Control` value.
fn max_age(cache_control: &str) -> Option<u64> {
    cache_control.split(',').find_map(|directive| {
        let (name, value) = directive.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("max-age")
            .then(|| value.trim().trim_matches('"').parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_max_age() {
        assert_eq!(
            max_age("public, max-age=19855, must-revalidate"),
            Some(19855)
        );
        assert_eq!(max_age("MAX-AGE=\"60\""), Some(60));
        assert_eq!(max_age("no-store"), None);
        assert_eq!(max_age("max-age=soon"), None);
    }

    #[test]
    fn basic_credentials_are_form_encoded() {
        assert_eq!(form_encode("a b&c:d"), "a+b%26c%3Ad");
    }
}
