//! A minimal Redis liveness probe for `/health` (`PING` over RESP, with
//! `AUTH` and `SELECT` from the URL). The rate-limit store will bring a full
//! client; health only needs to know whether Redis answers.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

/// Where Redis is, parsed from `redis://[user:password@]host[:port][/db]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisTarget {
    host: String,
    port: u16,
    auth: Option<(Option<String>, String)>,
    db: Option<u32>,
}

impl RedisTarget {
    /// Parses a `redis://` URL (`rediss://` is refused: no TLS here).
    pub fn parse(url: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("redis://")
            .ok_or_else(|| "must start with redis://".to_owned())?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (credentials, host_port) = match authority.rsplit_once('@') {
            Some((c, h)) => (Some(c), h),
            None => (None, authority),
        };
        let auth = credentials.map(|c| match c.split_once(':') {
            Some((user, password)) => ((!user.is_empty()).then(|| decode(user)), decode(password)),
            None => (None, decode(c)),
        });
        let (host, port) = match host_port.rsplit_once(':') {
            Some((h, p)) => (h, p.parse().map_err(|_| "invalid port".to_owned())?),
            None => (host_port, 6379),
        };
        if host.is_empty() {
            return Err("missing host".to_owned());
        }
        let db = match path.split('?').next().unwrap_or("") {
            "" => None,
            n => Some(
                n.parse()
                    .map_err(|_| "invalid database number".to_owned())?,
            ),
        };
        Ok(Self {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
            auth,
            db,
        })
    }

    /// Whether Redis answers `PING` within `timeout`.
    pub async fn ping(&self, timeout: Duration) -> bool {
        matches!(
            tokio::time::timeout(timeout, self.exchange()).await,
            Ok(Ok(true))
        )
    }

    async fn exchange(&self) -> std::io::Result<bool> {
        let stream = TcpStream::connect((self.host.as_str(), self.port)).await?;
        let mut stream = BufReader::new(stream);
        let mut commands: Vec<Vec<&str>> = Vec::new();
        if let Some((user, password)) = &self.auth {
            match user {
                Some(user) => commands.push(vec!["AUTH", user, password]),
                None => commands.push(vec!["AUTH", password]),
            }
        }
        let db = self.db.map(|n| n.to_string());
        if let Some(db) = &db {
            commands.push(vec!["SELECT", db]);
        }
        commands.push(vec!["PING"]);
        let mut line = String::new();
        for command in &commands {
            stream.get_mut().write_all(&encode(command)).await?;
            line.clear();
            stream.read_line(&mut line).await?;
            if line.starts_with('-') {
                return Ok(false);
            }
        }
        Ok(line.trim_end() == "+PONG")
    }
}

fn encode(parts: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", parts.len()).into_bytes();
    for part in parts {
        out.extend_from_slice(format!("${}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn decode(raw: &str) -> String {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        let t = RedisTarget::parse("redis://:s%40cret@cache.internal:6380/2").unwrap();
        assert_eq!(t.host, "cache.internal");
        assert_eq!(t.port, 6380);
        assert_eq!(t.auth, Some((None, "s@cret".to_owned())));
        assert_eq!(t.db, Some(2));
        let plain = RedisTarget::parse("redis://127.0.0.1").unwrap();
        assert_eq!((plain.port, plain.db, plain.auth), (6379, None, None));
        assert!(RedisTarget::parse("http://x").is_err());
        assert!(RedisTarget::parse("redis://host:notaport").is_err());
    }

    #[test]
    fn commands_are_resp_arrays() {
        assert_eq!(encode(&["PING"]), b"*1\r\n$4\r\nPING\r\n");
    }
}
