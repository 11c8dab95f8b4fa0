//! The client IP of a request (docs/security.md#network-edge): the socket
//! peer, unless the peer is a trusted proxy, in which case the forwarding
//! headers are read. IPv4-mapped IPv6 addresses are taken as IPv4.

use std::net::IpAddr;

use http::HeaderMap;

use crate::domain::client_ip::TrustedProxies;

/// Resolves the client IP from the socket peer and the forwarding headers.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.contains(peer) {
        return peer;
    }
    if let Some(entries) = forwarded_for(headers) {
        return entries
            .iter()
            .rev()
            .find(|ip| !trusted.contains(**ip))
            .or_else(|| entries.first())
            .copied()
            .unwrap_or(peer);
    }
    if let Some(ip) = real_ip(headers) {
        return ip;
    }
    peer
}

/// All `X-Forwarded-For` entries in order (several headers joined), or `None` when the header is absent
/// or any entry is not a valid IP address (the whole header is then ignored).
fn forwarded_for(headers: &HeaderMap) -> Option<Vec<IpAddr>> {
    let mut entries = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let value = value.to_str().ok()?;
        for entry in value.split(',') {
            entries.push(parse_ip(entry)?);
        }
    }
    (!entries.is_empty()).then_some(entries)
}

/// The first `X-Real-IP` header, when it is a valid IP address.
fn real_ip(headers: &HeaderMap) -> Option<IpAddr> {
    let value = headers.get("x-real-ip")?.to_str().ok()?;
    parse_ip(value)
}

/// A trimmed header entry as an IP address, IPv4-mapped IPv6 converted to IPv4.
fn parse_ip(raw: &str) -> Option<IpAddr> {
    raw.trim()
        .parse::<IpAddr>()
        .ok()
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([255, 255, 255, 255]))
    }

    fn trusted(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(entries).unwrap_or_default()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            if let Ok(v) = HeaderValue::from_str(value) {
                map.append(*name, v);
            }
        }
        map
    }

    fn resolve(peer: &str, pairs: &[(&'static str, &str)], proxies: &[&str]) -> String {
        client_ip(ip(peer), &headers(pairs), &trusted(proxies)).to_string()
    }

    #[test]
    fn untrusted_peer_ignores_headers() {
        // Spoofed X-Forwarded-For from an untrusted peer.
        assert_eq!(
            resolve(
                "198.51.100.9",
                &[("x-forwarded-for", "1.2.3.4"), ("x-real-ip", "5.6.7.8")],
                &["10.0.0.0/8"]
            ),
            "198.51.100.9"
        );
        // No trusted proxies at all.
        assert_eq!(
            resolve("10.0.0.1", &[("x-forwarded-for", "1.2.3.4")], &[]),
            "10.0.0.1"
        );
    }

    #[test]
    fn mapped_peer_converted() {
        assert_eq!(resolve("::ffff:198.51.100.9", &[], &[]), "198.51.100.9");
        assert_eq!(
            resolve(
                "::ffff:10.0.0.1",
                &[("x-forwarded-for", "1.2.3.4")],
                &["10.0.0.0/8"]
            ),
            "1.2.3.4"
        );
    }

    #[test]
    fn forwarded_for_trusted_chain() {
        let proxies = ["10.0.0.0/8", "192.168.1.1"];
        // client, proxy1, proxy2 -> right-most untrusted.
        assert_eq!(
            resolve(
                "10.0.0.1",
                &[("x-forwarded-for", "203.0.113.5, 192.168.1.1, 10.0.0.2")],
                &proxies
            ),
            "203.0.113.5"
        );
        // A client-supplied spoofed entry left of the real client is not taken.
        assert_eq!(
            resolve(
                "10.0.0.1",
                &[("x-forwarded-for", "1.1.1.1, 203.0.113.5, 10.0.0.2")],
                &proxies
            ),
            "203.0.113.5"
        );
        // All trusted -> left-most.
        assert_eq!(
            resolve(
                "10.0.0.1",
                &[("x-forwarded-for", "10.1.1.1,10.2.2.2, 192.168.1.1")],
                &proxies
            ),
            "10.1.1.1"
        );
        // Single entry.
        assert_eq!(
            resolve(
                "10.0.0.1",
                &[("x-forwarded-for", " 203.0.113.5 ")],
                &proxies
            ),
            "203.0.113.5"
        );
        // X-Forwarded-For wins over X-Real-IP.
        assert_eq!(
            resolve(
                "10.0.0.1",
                &[
                    ("x-real-ip", "198.51.100.1"),
                    ("x-forwarded-for", "203.0.113.5")
                ],
                &proxies
            ),
            "203.0.113.5"
        );
    }

    #[test]
    fn several_forwarded_for_headers_joined_in_order() {
        let proxies = ["10.0.0.0/8"];
        assert_eq!(
            resolve(
                "10.0.0.1",
                &[
                    ("x-forwarded-for", "203.0.113.5, 10.0.0.3"),
                    ("x-forwarded-for", "10.0.0.2")
                ],
                &proxies
            ),
            "203.0.113.5"
        );
        assert_eq!(
            resolve(
                "10.0.0.1",
                &[
                    ("x-forwarded-for", "198.51.100.1"),
                    ("x-forwarded-for", "203.0.113.5")
                ],
                &proxies
            ),
            "203.0.113.5"
        );
        // All trusted across headers -> left-most of the first header.
        assert_eq!(
            resolve(
                "10.0.0.1",
                &[
                    ("x-forwarded-for", "10.9.9.9"),
                    ("x-forwarded-for", "10.8.8.8")
                ],
                &proxies
            ),
            "10.9.9.9"
        );
        // An invalid entry in any of them ignores the whole header.
        assert_eq!(
            resolve(
                "10.0.0.1",
                &[
                    ("x-forwarded-for", "203.0.113.5"),
                    ("x-forwarded-for", "junk")
                ],
                &proxies
            ),
            "10.0.0.1"
        );
    }

    #[test]
    fn invalid_forwarded_for_falls_back() {
        let proxies = ["10.0.0.0/8"];
        assert_eq!(
            resolve(
                "10.0.0.1",
                &[
                    ("x-forwarded-for", "unknown, 203.0.113.5"),
                    ("x-real-ip", "198.51.100.7")
                ],
                &proxies
            ),
            "198.51.100.7"
        );
        assert_eq!(
            resolve(
                "10.0.0.1",
                &[("x-forwarded-for", "203.0.113.5:443")],
                &proxies
            ),
            "10.0.0.1"
        );
        assert_eq!(
            resolve("10.0.0.1", &[("x-forwarded-for", "")], &proxies),
            "10.0.0.1"
        );
        assert_eq!(
            resolve(
                "10.0.0.1",
                &[("x-forwarded-for", "203.0.113.5,,10.0.0.2")],
                &proxies
            ),
            "10.0.0.1"
        );
        // Non-ASCII bytes make the header value invalid.
        let mut map = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_bytes(b"203.0.113.5\xff") {
            map.append("x-forwarded-for", v);
        }
        if let Ok(v) = HeaderValue::from_str("198.51.100.7") {
            map.append("x-real-ip", v);
        }
        assert_eq!(
            client_ip(ip("10.0.0.1"), &map, &trusted(&proxies)).to_string(),
            "198.51.100.7"
        );
    }

    #[test]
    fn real_ip_and_peer_fallbacks() {
        let proxies = ["10.0.0.0/8"];
        assert_eq!(
            resolve("10.0.0.1", &[("x-real-ip", " 198.51.100.7 ")], &proxies),
            "198.51.100.7"
        );
        // X-Real-IP is taken as is, even when it is itself a trusted address.
        assert_eq!(
            resolve("10.0.0.1", &[("x-real-ip", "10.5.5.5")], &proxies),
            "10.5.5.5"
        );
        assert_eq!(
            resolve("10.0.0.1", &[("x-real-ip", "nope")], &proxies),
            "10.0.0.1"
        );
        assert_eq!(resolve("10.0.0.1", &[], &proxies), "10.0.0.1");
        assert_eq!(
            resolve(
                "10.0.0.1",
                &[("x-real-ip", "::ffff:198.51.100.7")],
                &proxies
            ),
            "198.51.100.7"
        );
    }

    #[test]
    fn mapped_and_ipv6_header_values() {
        let proxies = ["10.0.0.0/8", "2001:db8:ffff::/48"];
        assert_eq!(
            resolve(
                "10.0.0.1",
                &[("x-forwarded-for", "::ffff:203.0.113.5, ::ffff:10.0.0.2")],
                &proxies
            ),
            "203.0.113.5"
        );
        assert_eq!(
            resolve(
                "2001:db8:ffff::1",
                &[("x-forwarded-for", "2001:DB8:0:0:1:0:0:1, 2001:db8:ffff::2")],
                &proxies
            ),
            "2001:db8::1:0:0:1"
        );
    }
}
