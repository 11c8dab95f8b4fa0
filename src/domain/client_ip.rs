//! Client addresses: the trusted proxies setting, the network a client stands for,
//! and the rate-limit key (docs/security.md#network-edge). Reading forwarding headers is
//! the HTTP layer's job (`http::client_ip`).
//!
//! Forwarding headers are believed only when the socket peer is a trusted proxy. IPv4-mapped IPv6
//! addresses (`::ffff:a.b.c.d`) are converted to IPv4 everywhere.

use std::net::{IpAddr, Ipv6Addr};

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

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([255, 255, 255, 255]))
    }

    fn trusted(entries: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(entries).unwrap_or_default()
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
