//! Client IP resolution behind trusted reverse proxies, and the rate-limit key (docs/security.md#network-edge).
//!
//! Forwarding headers are believed only when the socket peer is a trusted proxy. IPv4-mapped IPv6
//! addresses (`::ffff:a.b.c.d`) are converted to IPv4 everywhere.

use std::net::{IpAddr, Ipv6Addr};

use http::HeaderMap;
use ipnet::IpNet;

/// The `TRUSTED_PROXIES` setting: IP addresses and CIDR ranges of trusted reverse proxies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses IP addresses (taken as /32 or /128) and CIDR ranges; entries are trimmed and blank entries
    /// skipped. The error names the first bad entry.
    pub fn parse<I: IntoIterator<Item = S>, S: AsRef<str>>(entries: I) -> Result<Self, String> {
        let mut nets = Vec::new();
        for entry in entries {
            let entry = entry.as_ref().trim();
            if entry.is_empty() {
                continue;
            }
            let net = if let Ok(net) = entry.parse::<IpNet>() {
                net.trunc()
            } else if let Ok(ip) = entry.parse::<IpAddr>() {
                IpNet::from(ip.to_canonical())
            } else {
                return Err(format!(
                    "invalid TRUSTED_PROXIES entry {entry:?}: expected an IP address or CIDR range"
                ));
            };
            nets.push(net);
        }
        Ok(Self(nets))
    }

    /// Whether `ip` (IPv4-mapped IPv6 taken as IPv4) lies in one of the trusted ranges.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let canonical = ip.to_canonical();
        self.0
            .iter()
            .any(|net| net.contains(&canonical) || net.contains(&ip))
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

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

/// The network a client IP stands for: IPv4 whole, IPv6 its /64 prefix (one
/// subscriber usually holds a whole /64).
pub fn client_network(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let mut segments = v6.segments();
            segments[4..].fill(0);
            IpAddr::V6(Ipv6Addr::from(segments))
        }
    }
}

/// Rate-limit key of a client IP: IPv4 whole, IPv6 its /64 prefix (e.g. `2001:db8:1:2::/64`).
pub fn rate_limit_key(ip: IpAddr) -> String {
    match client_network(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("{v6}/64"),
    }
}

/// The resolved client IP of a request, stored in its extensions by the
/// outermost HTTP layer for everything behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

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
    fn parse_trusted_proxies() {
        let t = TrustedProxies::parse(["10.0.0.1", " 192.168.0.0/16 ", "::1", "fd00::/8", ""]);
        assert_eq!(
            t.as_ref()
                .map(|t| t.0.iter().map(ToString::to_string).collect::<Vec<_>>()),
            Ok(vec![
                "10.0.0.1/32".to_owned(),
                "192.168.0.0/16".to_owned(),
                "::1/128".to_owned(),
                "fd00::/8".to_owned(),
            ])
        );
        assert_eq!(
            TrustedProxies::parse(["10.0.0.1", "not-an-ip"]),
            Err(
                "invalid TRUSTED_PROXIES entry \"not-an-ip\": expected an IP address or CIDR range"
                    .to_owned()
            )
        );
        assert!(TrustedProxies::parse(["10.0.0.0/33"]).is_err_and(|e| e.contains("10.0.0.0/33")));
        assert!(TrustedProxies::parse(Vec::<String>::new()).is_ok_and(|t| t.is_empty()));
        // Host bits in a CIDR are accepted and masked.
        assert_eq!(
            trusted(&["10.1.2.3/8"]).0.first().map(ToString::to_string),
            Some("10.0.0.0/8".to_owned())
        );
        // A mapped IPv6 single address is stored as IPv4.
        assert_eq!(
            trusted(&["::ffff:10.0.0.1"])
                .0
                .first()
                .map(ToString::to_string),
            Some("10.0.0.1/32".to_owned())
        );
    }

    #[test]
    fn contains_checks() {
        let t = trusted(&["10.0.0.0/8", "2001:db8::/32", "127.0.0.1"]);
        assert!(t.contains(ip("10.20.30.40")));
        assert!(t.contains(ip("::ffff:10.20.30.40")));
        assert!(t.contains(ip("127.0.0.1")));
        assert!(!t.contains(ip("127.0.0.2")));
        assert!(t.contains(ip("2001:db8:ffff::1")));
        assert!(!t.contains(ip("2001:db9::1")));
        assert!(!t.is_empty());
        assert!(!TrustedProxies::default().contains(ip("10.0.0.1")));
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

    #[test]
    fn rate_limit_keys() {
        assert_eq!(rate_limit_key(ip("203.0.113.5")), "203.0.113.5");
        assert_eq!(rate_limit_key(ip("::ffff:203.0.113.5")), "203.0.113.5");
        assert_eq!(
            rate_limit_key(ip("2001:db8:1:2:3:4:5:6")),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            rate_limit_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")),
            "2001:db8:1:2::/64"
        );
        assert_eq!(rate_limit_key(ip("2001:db8::1")), "2001:db8::/64");
        assert_eq!(rate_limit_key(ip("::1")), "::/64");
        assert_eq!(rate_limit_key(ip("fe80::1:2:3:4")), "fe80::/64");
    }
}
