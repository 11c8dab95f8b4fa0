//! Rules of the OAuth 2.1 authorization server that need no storage:
//! scope syntax (RFC 6749 §3.3), registrable redirect URIs (exact-match
//! URIs that are https, loopback http, or a private-use scheme per RFC
//! 8252), PKCE (RFC 7636, S256 only) and how redirects to clients are built.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};

/// Scopes the server knows; clients may also be registered with others.
pub const SUPPORTED_SCOPES: [&str; 8] = [
    "openid",
    "profile",
    "email",
    "read:users",
    "write:users",
    "read:organizations",
    "write:organizations",
    "admin",
];

/// Whether a scope is about the user's identity (OpenID Connect), which a
/// token without a user cannot carry.
pub fn is_openid_scope(scope: &str) -> bool {
    matches!(scope, "openid" | "profile" | "email")
}

/// Scopes a client gets when registered without any.
pub const DEFAULT_SCOPES: &str = "openid profile email";

/// Longest scope string.
pub const MAX_SCOPE_LEN: usize = 1000;

/// The tokens of a scope string: each 1–64 characters of RFC 6749's
/// NQCHAR (`!`, `#`–`[`, `]`–`~`), space-separated, at most 1000
/// characters in all; duplicates removed, sorted.
pub fn parse_scope(text: &str) -> Result<Vec<String>, String> {
    if text.chars().count() > MAX_SCOPE_LEN {
        return Err(format!("Scope must be at most {MAX_SCOPE_LEN} characters"));
    }
    let mut tokens: Vec<String> = Vec::new();
    for token in text.split(' ').filter(|t| !t.is_empty()) {
        let valid = token.len() <= 64
            && token
                .bytes()
                .all(|b| b == b'!' || (b'#'..=b'[').contains(&b) || (b']'..=b'~').contains(&b));
        if !valid {
            return Err("Invalid scope token".to_owned());
        }
        tokens.push(token.to_owned());
    }
    tokens.sort();
    tokens.dedup();
    Ok(tokens)
}

/// A scope list as stored and sent: space-separated, sorted.
pub fn join_scope(tokens: &[String]) -> String {
    tokens.join(" ")
}

/// What the consent page says a scope allows.
pub fn scope_description(scope: &str) -> Option<&'static str> {
    Some(match scope {
        "openid" => "Sign you in",
        "profile" => "Read your name",
        "email" => "Read your email address",
        "read:users" => "Read user data",
        "write:users" => "Modify user data",
        "read:organizations" => "Read organization data",
        "write:organizations" => "Modify organization data",
        "admin" => "Full administrative access",
        _ => return None,
    })
}

/// Checks a redirect URI for registration: absolute, no fragment, at most
/// 2048 characters, and https; or http on a loopback host (any port); or a
/// private-use scheme with a `.` (`com.example.app:/callback`); plain http
/// on other hosts only outside production.
pub fn check_redirect_uri(uri: &str, production: bool) -> Result<(), &'static str> {
    if uri.len() > 2048 {
        return Err("Redirect URI must be at most 2048 characters");
    }
    if uri.contains('#') {
        return Err("Redirect URI must not contain a fragment");
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("Redirect URI must not contain spaces or control characters");
    }
    // Browsers read `\` as `/` and a `Location` header carries only ASCII:
    // either would make the host users are shown differ from the one they
    // are sent to, or the redirect impossible.
    if !uri.is_ascii() || uri.contains('\\') {
        return Err("Redirect URI must be ASCII, without backslashes");
    }
    let Some((scheme, rest)) = uri.split_once(':') else {
        return Err("Redirect URI must be absolute");
    };
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return Err("Redirect URI must be absolute");
    }
    let web = matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https");
    if web
        && url::Url::parse(uri).map_or(true, |u| !u.username().is_empty() || u.password().is_some())
    {
        return Err("Redirect URI must not contain user information");
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" => host_of(rest)
            .map(drop)
            .ok_or("Redirect URI must have a host"),
        "http" => {
            let host = host_of(rest).ok_or("Redirect URI must have a host")?;
            if is_loopback(host) || !production {
                Ok(())
            } else {
                Err("Redirect URI must use https (or http on localhost)")
            }
        }
        private if private.contains('.') => Ok(()),
        _ => Err("Redirect URI must use https, loopback http, or a private-use scheme"),
    }
}

/// Checks the redirect URI of a social-login flow: an absolute http(s) URL
/// with a host, at most 500 characters, without a fragment. The provider
/// itself only redirects to the URIs registered with it.
pub fn check_social_redirect_uri(uri: &str) -> Result<(), String> {
    if uri.chars().count() > 500 {
        return Err("String should have at most 500 characters".to_owned());
    }
    if uri.contains('#') {
        return Err("URL must not contain a fragment".to_owned());
    }
    // `https:///x` and `https:/x` parse (hosts are guessed for special
    // schemes); only the plain `scheme://host` form is accepted.
    let authority_present = uri
        .split_once("://")
        .is_some_and(|(_, rest)| !rest.starts_with('/'));
    let valid = authority_present
        && url::Url::parse(uri).ok().is_some_and(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.host().is_some()
                && u.username().is_empty()
                && u.password().is_none()
        })
        && !uri
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '\\');
    if valid {
        Ok(())
    } else {
        Err("URL must be an absolute http(s) URL".to_owned())
    }
}

/// The host of `//host[:port]/…` (brackets kept for IPv6).
fn host_of(after_scheme: &str) -> Option<&str> {
    let authority = after_scheme.strip_prefix("//")?;
    let authority = authority.split(['/', '?']).next()?;
    let host_port = authority.rsplit('@').next()?;
    let host = if host_port.starts_with('[') {
        &host_port[..=host_port.find(']')?]
    } else {
        host_port.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}

/// The host of a redirect URI, for the consent page ("you will be sent to").
pub fn redirect_host(uri: &str) -> String {
    uri.split_once(':')
        .and_then(|(_, rest)| host_of(rest))
        .map_or_else(
            || uri.split(':').next().unwrap_or(uri).to_owned(),
            str::to_owned,
        )
}

/// Whether `uri` is an http(s) URI on a loopback host: only a program on
/// the user's own machine can receive it.
pub fn is_loopback_uri(uri: &str) -> bool {
    uri.split_once(':').is_some_and(|(scheme, rest)| {
        matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https")
            && host_of(rest).is_some_and(is_loopback)
    })
}

fn is_loopback(host: &str) -> bool {
    matches!(
        host.to_ascii_lowercase().as_str(),
        "localhost" | "127.0.0.1" | "[::1]"
    )
}

/// Whether `text` is 43–128 characters of RFC 3986 unreserved characters
/// (PKCE verifiers and challenges).
pub fn is_pkce_value(text: &str) -> bool {
    (43..=128).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// BASE64URL(SHA-256(verifier)) without padding: the S256 challenge.
pub fn s256_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `uri` with `params` appended to its query (`&` after an existing query,
/// `?` otherwise), names and values form-urlencoded.
pub fn with_query(uri: &str, params: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        query.append_pair(name, value);
    }
    let query = query.finish();
    let separator = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{separator}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn social_redirect_uris() {
        for ok in [
            "https://app.example/cb",
            "http://localhost:3000/auth/callback?x=1",
        ] {
            assert!(check_social_redirect_uri(ok).is_ok(), "{ok}");
        }
        let long = format!("https://app.example/{}", "a".repeat(500));
        for bad in [
            "/cb",
            "ftp://app.example/cb",
            "https://app.example/cb#frag",
            "https://user:pw@app.example/cb",
            "https://evil.example\\@app.example/",
            "https:///cb",
            "https:/app.example/cb",
            long.as_str(),
        ] {
            assert!(check_social_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scopes_are_checked_deduplicated_and_sorted() {
        assert_eq!(
            parse_scope("profile openid  profile email").unwrap(),
            vec!["email", "openid", "profile"]
        );
        assert!(parse_scope("").unwrap().is_empty());
        assert!(parse_scope("bad\"quote").is_err());
        assert!(parse_scope("back\\slash").is_err());
        assert!(parse_scope("ünicode").is_err());
        assert!(parse_scope(&"a".repeat(65)).is_err());
        assert!(parse_scope(&"ab ".repeat(400)).is_err());
        assert_eq!(parse_scope("read:users").unwrap(), vec!["read:users"]);
    }

    #[test]
    fn redirect_uris() {
        for ok in [
            "https://app.example.com/callback",
            "https://app.example.com/cb?x=1",
            "http://localhost/cb",
            "http://127.0.0.1:8765/callback",
            "http://[::1]:9000/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert_eq!(check_redirect_uri(ok, true), Ok(()), "{ok}");
        }
        for bad in [
            "http://app.example.com/cb",
            "https://app.example.com/cb#frag",
            "/relative",
            "javascript:alert(1)",
            "data:text/html,hi",
            "https:///nohost",
            "https://app.example.com/a b",
            "ftp://example.com/x",
            "https://evil.example\\@app.example.com/cb",
            "https://user:pw@app.example.com/cb",
            "https://app.example.com/caf\u{e9}",
        ] {
            assert!(check_redirect_uri(bad, true).is_err(), "{bad}");
        }
        assert_eq!(
            check_redirect_uri("http://app.example.com/cb", false),
            Ok(())
        );
        assert!(
            check_redirect_uri(&format!("https://a.test/{}", "x".repeat(2048)), false).is_err()
        );
        assert_eq!(
            redirect_host("https://app.example.com:8443/cb"),
            "app.example.com"
        );
        assert_eq!(redirect_host("http://[::1]:9000/cb"), "[::1]");
        assert_eq!(redirect_host("com.example.app:/cb"), "com.example.app");
    }

    #[test]
    fn pkce_and_redirects() {
        // RFC 7636 appendix B.
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(is_pkce_value(&"a".repeat(43)));
        assert!(!is_pkce_value(&"a".repeat(42)));
        assert!(!is_pkce_value(&format!("{}+", "a".repeat(43))));
        assert_eq!(
            with_query("https://a.test/cb", &[("code", "x y"), ("state", "s&t")]),
            "https://a.test/cb?code=x+y&state=s%26t"
        );
        assert_eq!(
            with_query("https://a.test/cb?keep=1", &[("code", "c")]),
            "https://a.test/cb?keep=1&code=c"
        );
    }
}
