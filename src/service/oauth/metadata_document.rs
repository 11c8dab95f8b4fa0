//! Client ID Metadata Documents (docs/oauth.md#client-id-metadata-documents):
//! a `client_id` that is an https URL names a JSON document, published by
//! the client, holding its metadata. The authorization server fetches it
//! when the client first asks for authorization and again when the stored
//! copy expires; the client's row in `oauth_clients` is that copy, shared
//! by every replica.
//!
//! The fetch is an anonymous caller making this server open a connection
//! anywhere, so it is hardened: https only; no loopback, private,
//! link-local or otherwise non-public address (checked on the addresses
//! actually connected to, so DNS cannot rebind around it); no redirects; a
//! time budget and a size cap; failures remembered for a minute; and a
//! budget of fetches per host.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::Duration as ChronoDuration;
use serde_json::{Map, Value as Json};

use super::clients::{json_list, new_row};
use super::{OAuthError, ProtocolError};
use crate::db::oauth::clients::{self, ClientChangeset, ClientRow};
use crate::domain::oauth::{
    DEFAULT_SCOPES, SUPPORTED_SCOPES, check_redirect_uri, is_loopback_uri, parse_scope,
};
use crate::service::connection;
use crate::state::AppState;

/// Longest `client_id` URL.
pub const MAX_URL: usize = 255;
/// Largest document read.
pub const MAX_DOCUMENT: usize = 5 * 1024;
/// Most redirect URIs in a document.
const MAX_REDIRECT_URIS: usize = 20;
/// How long a failed fetch is remembered.
const NEGATIVE_TTL: Duration = Duration::from_secs(60);
/// Fetches per host per minute.
const PER_HOST_PER_MINUTE: usize = 10;
/// Fetches in flight at once, across hosts: each holds a connection for up
/// to the time budget.
const MAX_IN_FLIGHT: usize = 8;
/// Most hosts and URLs tracked in memory; the oldest are dropped beyond.
const MAX_TRACKED: usize = 4096;
/// Bounds on how long a fetched document is used before it is fetched
/// again, whatever its `Cache-Control` says.
const MIN_TTL_SECONDS: i64 = 300;
const MAX_TTL_SECONDS: i64 = 86_400;
const DEFAULT_TTL_SECONDS: i64 = 3_600;

/// Whether `client_id` is meant as a metadata document URL.
pub fn is_document_url(client_id: &str) -> bool {
    client_id.starts_with("https://")
}

/// Checks a `client_id` URL: https, a host, a path other than `/`, no
/// fragment, no user information, no dot segments, at most [`MAX_URL`].
pub fn check_url(client_id: &str) -> Result<url::Url, &'static str> {
    if client_id.len() > MAX_URL {
        return Err("client_id URL is longer than 255 characters");
    }
    if !client_id.is_ascii()
        || client_id
            .chars()
            .any(|c| c.is_ascii_control() || c == ' ' || c == '\\')
    {
        return Err("client_id URL must be plain ASCII");
    }
    let url = url::Url::parse(client_id).map_err(|_| "client_id is not a URL")?;
    // The parsed form must be the text itself: nothing normalised away.
    if url.as_str() != client_id {
        return Err("client_id URL is not in normal form");
    }
    if url.scheme() != "https" || url.host_str().is_none_or(str::is_empty) {
        return Err("client_id URL must be https with a host");
    }
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err("client_id URL must not have a fragment or user information");
    }
    let raw_path = client_id
        .splitn(4, '/')
        .nth(3)
        .map(|rest| rest.split(['?', '#']).next().unwrap_or_default())
        .unwrap_or_default();
    if raw_path.is_empty() {
        return Err("client_id URL must have a path");
    }
    if raw_path.split('/').any(|segment| {
        matches!(
            segment.to_ascii_lowercase().as_str(),
            "." | ".." | "%2e" | "%2e%2e" | ".%2e" | "%2e."
        )
    }) {
        return Err("client_id URL must not have dot segments");
    }
    Ok(url)
}

/// What a document says about its client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Display name (the URL's host when the document has none).
    pub client_name: String,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Grant types (`authorization_code`, and `refresh_token` if listed).
    pub grant_types: Vec<String>,
    /// Scopes the client may ask for.
    pub scope: Vec<String>,
    /// Home page.
    pub client_uri: Option<String>,
}

fn text<'a>(doc: &'a Map<String, Json>, name: &str) -> Result<Option<&'a str>, String> {
    match doc.get(name) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(value)) => Ok(Some(value)),
        Some(_) => Err(format!("{name} must be a string")),
    }
}

fn strings(doc: &Map<String, Json>, name: &str) -> Result<Option<Vec<String>>, String> {
    match doc.get(name) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Array(items)) if items.len() <= MAX_REDIRECT_URIS => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{name} must hold strings"))
            })
            .collect::<Result<_, _>>()
            .map(Some),
        Some(_) => Err(format!(
            "{name} must be an array of at most {MAX_REDIRECT_URIS} strings"
        )),
    }
}

/// Validates a fetched document for `client_id` (draft-ietf-oauth-client-
/// id-metadata-document §4): its `client_id` is the URL exactly; it has
/// redirect URIs; the client is public (no secret may be shared through a
/// public document).
pub fn parse_document(client_id: &str, body: &[u8], production: bool) -> Result<Document, String> {
    let doc: Map<String, Json> =
        serde_json::from_slice(body).map_err(|_| "the document is not a JSON object".to_owned())?;
    if text(&doc, "client_id")? != Some(client_id) {
        return Err("the document's client_id is not its URL".to_owned());
    }
    if doc.contains_key("client_secret") || doc.contains_key("client_secret_expires_at") {
        return Err("a metadata document must not carry a client secret".to_owned());
    }
    match text(&doc, "token_endpoint_auth_method")? {
        None | Some("none") => {}
        Some(_) => return Err("token_endpoint_auth_method must be none".to_owned()),
    }
    let redirect_uris = strings(&doc, "redirect_uris")?.unwrap_or_default();
    if redirect_uris.is_empty() {
        return Err("redirect_uris is required".to_owned());
    }
    for uri in &redirect_uris {
        check_redirect_uri(uri, production).map_err(str::to_owned)?;
    }
    let mut grant_types =
        strings(&doc, "grant_types")?.unwrap_or_else(|| vec!["authorization_code".to_owned()]);
    grant_types.sort();
    grant_types.dedup();
    if grant_types
        .iter()
        .any(|g| !matches!(g.as_str(), "authorization_code" | "refresh_token"))
        || !grant_types.iter().any(|g| g == "authorization_code")
    {
        return Err("grant_types may hold authorization_code and refresh_token only".to_owned());
    }
    if let Some(types) = strings(&doc, "response_types")?
        && types.iter().any(|t| t != "code")
    {
        return Err("response_types may only hold code".to_owned());
    }
    let host = url::Url::parse(client_id)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let client_name = text(&doc, "client_name")?
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map_or(host, str::to_owned);
    if client_name.chars().count() > 255 || client_name.chars().any(char::is_control) {
        return Err(
            "client_name must be at most 255 characters, without control characters".to_owned(),
        );
    }
    let client_uri = text(&doc, "client_uri")?.map(str::to_owned);
    if let Some(uri) = &client_uri
        && crate::domain::oauth::check_social_redirect_uri(uri).is_err()
    {
        return Err("client_uri must be an absolute http(s) URL".to_owned());
    }
    let scope = match text(&doc, "scope")? {
        None => parse_scope(DEFAULT_SCOPES).unwrap_or_default(),
        Some(value) => parse_scope(value)?
            .into_iter()
            .filter(|s| SUPPORTED_SCOPES.contains(&s.as_str()))
            .collect(),
    };
    if scope.is_empty() {
        return Err("the document names no supported scope".to_owned());
    }
    Ok(Document {
        client_name,
        redirect_uris,
        grant_types,
        scope,
        client_uri,
    })
}

/// Whether an address is on the public internet: not loopback, private,
/// link-local, shared, multicast, documentation, benchmarking, reserved or
/// unspecified, including IPv4 addresses inside IPv6 forms.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (b == 18 || b == 19))
                || (a == 192 && b == 88 && c == 99)
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let segments = v6.segments();
            // NAT64 (64:ff9b::/96) carries an IPv4 address too.
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = segments[6].to_be_bytes();
                let [c, d] = segments[7].to_be_bytes();
                return is_public(IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d)));
            }
            // 6to4 (2002::/16) carries one in its second and third groups.
            if segments[0] == 0x2002 {
                let [a, b] = segments[1].to_be_bytes();
                let [c, d] = segments[2].to_be_bytes();
                return is_public(IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d)));
            }
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (segments[0] & 0xfe00) == 0xfc00
                || (segments[0] & 0xffc0) == 0xfe80
                || (segments[0] & 0xffc0) == 0xfec0
                || (segments[0] == 0x2001 && segments[1] == 0x0db8)
                || (segments[0] == 0x2001 && segments[1] == 0)
                || segments[..3] == [0x64, 0xff9b, 1]
                || segments[..4] == [0x100, 0, 0, 0]
                || segments[..6] == [0, 0, 0, 0, 0, 0])
        }
    }
}

/// A refused address, found in a failed request's error chain.
#[derive(Debug)]
struct Refused(IpAddr);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is not a public address", self.0)
    }
}

impl std::error::Error for Refused {}

/// The resolver of document fetches: every address of the name must be
/// public (unless allowed for tests), so the connection goes only where
/// the check looked.
#[derive(Debug)]
struct CheckedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            if let Some(bad) = addrs.iter().find(|a| !allow_private && !is_public(a.ip())) {
                return Err(Box::new(Refused(bad.ip())) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Why a document could not be used; the message is shown to the user
/// agent as the reason the client is unknown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The URL itself is not acceptable.
    #[error("{0}")]
    Url(&'static str),
    /// The host resolves to an address that is not public.
    #[error("the document's host is not on a public address")]
    PrivateAddress,
    /// Connection, TLS, or time budget failure.
    #[error("the document could not be fetched")]
    Unreachable,
    /// A non-200 answer (redirects are not followed).
    #[error("the document's server answered {0}")]
    Status(u16),
    /// More than [`MAX_DOCUMENT`] bytes.
    #[error("the document is larger than {MAX_DOCUMENT} bytes")]
    TooLarge,
    /// The document is not valid metadata.
    #[error("the document is not valid client metadata: {0}")]
    Invalid(String),
    /// This host's fetch budget is spent.
    #[error("too many metadata document fetches for this host; try again in a minute")]
    RateLimited,
    /// Every fetch slot is taken.
    #[error("too many metadata document fetches in progress; try again")]
    Busy,
}

/// A fetched, valid document and how long to use it.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The metadata.
    pub document: Document,
    /// Seconds before it is fetched again.
    pub ttl: ChronoDuration,
}

/// The hardened fetcher, with its memory of failures and fetches per host.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    production: bool,
    allow_private: bool,
    failures: Arc<Mutex<HashMap<String, (Instant, FetchError)>>>,
    per_host: Arc<Mutex<HashMap<String, Vec<Instant>>>>,
    in_flight: Arc<tokio::sync::Semaphore>,
}

impl Fetcher {
    /// A fetcher with a time budget per fetch; `allow_private` lifts the
    /// address check (tests only), `extra_root` trusts one more CA.
    pub fn new(
        timeout: Duration,
        allow_private: bool,
        extra_root: Option<&[u8]>,
        production: bool,
    ) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_max_idle_per_host(0)
            .user_agent(concat!("identityd/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(CheckedResolver { allow_private }));
        if let Some(pem) = extra_root {
            builder = builder.add_root_certificate(reqwest::Certificate::from_pem(pem)?);
        }
        Ok(Self {
            client: builder.build()?,
            production,
            allow_private,
            failures: Arc::default(),
            per_host: Arc::default(),
            in_flight: Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT)),
        })
    }

    /// Fetches and validates the document of `client_id`.
    pub async fn fetch(&self, client_id: &str) -> Result<Fetched, FetchError> {
        let url = check_url(client_id).map_err(FetchError::Url)?;
        let now = Instant::now();
        if let Some((until, err)) = lock(&self.failures).get(client_id)
            && *until > now
        {
            return Err(err.clone());
        }
        let host = url.host_str().unwrap_or_default().to_owned();
        if !self.take_host_budget(&host, now) {
            return Err(FetchError::RateLimited);
        }
        // An IP literal is not resolved: check it here.
        if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>()
            && !is_public(ip)
            && !self.allow_private
        {
            return Err(self.remember(client_id, FetchError::PrivateAddress));
        }
        let Ok(_slot) = self.in_flight.try_acquire() else {
            return Err(FetchError::Busy);
        };
        let outcome = self.fetch_once(url, client_id).await;
        outcome.map_err(|err| self.remember(client_id, err))
    }

    async fn fetch_once(&self, url: url::Url, client_id: &str) -> Result<Fetched, FetchError> {
        let response = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|err| transport_error(&err))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_DOCUMENT as u64)
        {
            return Err(FetchError::TooLarge);
        }
        let ttl = cache_ttl(response.headers());
        let mut response = response;
        let mut body = Vec::with_capacity(1024);
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|err| transport_error(&err))?
        {
            if body.len() + chunk.len() > MAX_DOCUMENT {
                return Err(FetchError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let document =
            parse_document(client_id, &body, self.production).map_err(FetchError::Invalid)?;
        Ok(Fetched { document, ttl })
    }

    /// Records a failure for [`NEGATIVE_TTL`] and gives it back.
    fn remember(&self, client_id: &str, err: FetchError) -> FetchError {
        let mut failures = lock(&self.failures);
        let now = Instant::now();
        if failures.len() >= MAX_TRACKED {
            failures.retain(|_, (until, _)| *until > now);
            if failures.len() >= MAX_TRACKED {
                failures.clear();
            }
        }
        failures.insert(client_id.to_owned(), (now + NEGATIVE_TTL, err.clone()));
        err
    }

    /// Takes one of the host's fetches of the last minute, if any is left.
    fn take_host_budget(&self, host: &str, now: Instant) -> bool {
        let mut hosts = lock(&self.per_host);
        let minute_ago = now.checked_sub(Duration::from_secs(60));
        if hosts.len() >= MAX_TRACKED && !hosts.contains_key(host) {
            hosts.retain(|_, times| times.iter().any(|t| Some(*t) > minute_ago));
            // Still full (many hosts in a minute): forget the host fetched
            // least recently rather than refuse every new host.
            if hosts.len() >= MAX_TRACKED
                && let Some(oldest) = hosts
                    .iter()
                    .min_by_key(|(_, times)| times.last().copied())
                    .map(|(name, _)| name.clone())
            {
                hosts.remove(&oldest);
            }
        }
        let times = hosts.entry(host.to_owned()).or_default();
        times.retain(|t| Some(*t) > minute_ago);
        if times.len() >= PER_HOST_PER_MINUTE {
            return false;
        }
        times.push(now);
        true
    }
}

/// The client an authorization request names: a registered one, or the
/// client of a metadata document URL, fetched when there is no fresh copy.
///
/// Takes a database connection only around its queries, never across the
/// fetch: a slow document server must not hold the pool.
pub async fn authorize_client(
    state: &AppState,
    client_id: &str,
) -> Result<ClientRow, ProtocolError> {
    let existing = clients::find_client(&mut connection(state).await?, client_id).await?;
    let fetcher = match &state.metadata_documents {
        Some(fetcher) if is_document_url(client_id) => fetcher,
        _ => return existing.ok_or_else(|| OAuthError::unknown_client().into()),
    };
    let now = state.clock.now();
    if let Some(row) = &existing
        && row.metadata_expires_at.is_some_and(|at| at > now)
    {
        return Ok(row.clone());
    }
    // A registered client never has an https id, but a document must not
    // overwrite one that somehow does.
    if existing
        .as_ref()
        .is_some_and(|row| row.registration != "metadata_document")
    {
        return existing.ok_or_else(|| OAuthError::unknown_client().into());
    }
    let fetched = fetcher.fetch(client_id).await.map_err(|err| {
        tracing::info!(client_id, error = %err, "client metadata document refused");
        OAuthError::unusable_document(format!("Client metadata document refused: {err}"))
    })?;
    let document = fetched.document;
    let native = document
        .redirect_uris
        .iter()
        .all(|u| is_loopback_uri(u) || !u.starts_with("http"));
    let application_type = if native { "native" } else { "web" }.to_owned();
    let expires = Some(now + fetched.ttl);
    let mut conn = connection(state).await?;
    let conn = &mut conn;
    if existing.is_some() {
        let changes = ClientChangeset {
            client_name: Some(document.client_name),
            redirect_uris: Some(json_list(&document.redirect_uris)),
            allowed_scopes: Some(json_list(&document.scope)),
            grant_types: Some(json_list(&document.grant_types)),
            application_type: Some(application_type),
            client_uri: Some(document.client_uri),
            metadata_expires_at: Some(expires),
            ..ClientChangeset::default()
        };
        clients::update_client(conn, client_id, changes, now).await?;
    } else {
        let row = ClientRow {
            redirect_uris: json_list(&document.redirect_uris),
            allowed_scopes: json_list(&document.scope),
            application_type,
            grant_types: json_list(&document.grant_types),
            metadata_expires_at: expires,
            client_uri: document.client_uri,
            ..new_row(
                client_id.to_owned(),
                document.client_name,
                "metadata_document",
                now,
            )
        };
        // Two first requests at once: the second insert fails on the
        // unique client_id and reads the first one's row.
        if let Err(err) = clients::insert_client(conn, &row).await {
            tracing::debug!(error = ?err, "metadata document client stored concurrently");
        }
    }
    clients::find_client(conn, client_id)
        .await?
        .ok_or_else(|| OAuthError::unknown_client().into())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The error of a failed request: a refused address, or a transport fault.
fn transport_error(err: &reqwest::Error) -> FetchError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(current) = source {
        if current.downcast_ref::<Refused>().is_some() {
            return FetchError::PrivateAddress;
        }
        source = current.source();
    }
    // One answer for every transport failure: the reason would let callers
    // probe which hosts and ports answer.
    FetchError::Unreachable
}

/// How long to use a document: its `max-age`, within bounds; `no-store`
/// and `no-cache` get the minimum.
fn cache_ttl(headers: &reqwest::header::HeaderMap) -> ChronoDuration {
    let directives = headers
        .get_all(reqwest::header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|d| d.trim().to_ascii_lowercase())
        .collect::<Vec<_>>();
    let seconds = if directives
        .iter()
        .any(|d| d == "no-store" || d == "no-cache")
    {
        MIN_TTL_SECONDS
    } else {
        directives
            .iter()
            .find_map(|d| d.strip_prefix("max-age=")?.parse::<i64>().ok())
            .unwrap_or(DEFAULT_TTL_SECONDS)
    };
    ChronoDuration::seconds(seconds.clamp(MIN_TTL_SECONDS, MAX_TTL_SECONDS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_pass() {
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "2002:808:808::1",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "192.0.0.8",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "::127.0.0.1",
            "64:ff9b:1::1",
            "2002:a9fe:a9fe::1",
            "2002:7f00:1::",
            "fec0::1",
            "2001::1",
            "100::1",
            "192.88.99.1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
    }

    #[test]
    fn client_id_urls_are_strict() {
        assert!(check_url("https://app.example/oauth/client.json").is_ok());
        assert!(check_url("https://app.example:8443/c?v=1").is_ok());
        for bad in [
            "http://app.example/client.json",
            "https://app.example",
            "https://app.example/",
            "https://app.example/a/../client.json",
            "https://app.example/a/%2e%2e/client.json",
            "https://app.example/./c",
            "https://user@app.example/c",
            "https://app.example/c#frag",
            "https://APP.example/c",
            "https://app.example/c d",
            "https:///c",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        assert!(check_url(&format!("https://a.example/{}", "x".repeat(250))).is_err());
    }

    #[test]
    fn documents_are_validated() {
        let id = "https://app.example/client.json";
        let doc = |extra: Json| {
            let mut base = serde_json::json!({
                "client_id": id,
                "client_name": "App",
                "redirect_uris": ["https://app.example/cb"],
            });
            for (k, v) in extra.as_object().unwrap() {
                base[k] = v.clone();
            }
            base.to_string()
        };
        let ok = parse_document(id, doc(serde_json::json!({})).as_bytes(), true).unwrap();
        assert_eq!(ok.client_name, "App");
        assert_eq!(ok.grant_types, vec!["authorization_code"]);
        for (extra, why) in [
            (
                serde_json::json!({"client_id": "https://evil.example/client.json"}),
                "client_id",
            ),
            (serde_json::json!({"redirect_uris": []}), "redirect_uris"),
            (
                serde_json::json!({"redirect_uris": ["javascript:alert(1)"]}),
                "Redirect URI",
            ),
            (
                serde_json::json!({"token_endpoint_auth_method": "client_secret_basic"}),
                "none",
            ),
            (serde_json::json!({"client_secret": "x"}), "secret"),
            (
                serde_json::json!({"grant_types": ["client_credentials"]}),
                "grant_types",
            ),
            (serde_json::json!({"client_name": 7}), "string"),
            (serde_json::json!({"scope": "unknown"}), "scope"),
        ] {
            let err = parse_document(id, doc(extra.clone()).as_bytes(), true).unwrap_err();
            assert!(err.contains(why), "{extra}: {err}");
        }
        assert!(parse_document(id, b"[1]", true).is_err());
        assert!(parse_document(id, b"\xff", true).is_err());
        // No name: the host stands for it.
        let unnamed =
            format!(r#"{{"client_id":"{id}","redirect_uris":["https://app.example/cb"]}}"#);
        assert_eq!(
            parse_document(id, unnamed.as_bytes(), true)
                .unwrap()
                .client_name,
            "app.example"
        );
    }

    #[test]
    fn cache_lifetimes_are_bounded() {
        let ttl = |value: &str| {
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert(reqwest::header::CACHE_CONTROL, value.parse().unwrap());
            cache_ttl(&headers).num_seconds()
        };
        assert_eq!(ttl("max-age=600"), 600);
        assert_eq!(ttl("public, max-age=10"), MIN_TTL_SECONDS);
        assert_eq!(ttl("max-age=99999999"), MAX_TTL_SECONDS);
        assert_eq!(ttl("no-store"), MIN_TTL_SECONDS);
        assert_eq!(
            cache_ttl(&reqwest::header::HeaderMap::new()).num_seconds(),
            DEFAULT_TTL_SECONDS
        );
    }
}
