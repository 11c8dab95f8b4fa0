//! A small Redis client over RESP2: connections with `AUTH` and `SELECT` from
//! the URL, one command at a time, a pool, and the replies identityd needs
//! (the `/health` probe and the shared rate-limit counters). Every call is
//! bounded by a timeout; a connection that failed is never reused.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
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
        let exchange = async {
            let mut conn = Connection::open(self).await?;
            conn.command(&[b"PING"]).await
        };
        matches!(
            tokio::time::timeout(timeout, exchange).await,
            Ok(Ok(Reply::Status(s))) if s == "PONG"
        )
    }
}

/// A reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`.
    Status(String),
    /// `:42`.
    Integer(i64),
    /// `$…` (`None` for the null bulk string).
    Bulk(Option<Vec<u8>>),
    /// `*…` (`None` for the null array).
    Array(Option<Vec<Reply>>),
}

/// Largest bulk string or array read: replies here are tiny.
const MAX_REPLY_ITEMS: usize = 1 << 20;

/// One connection, after `AUTH` and `SELECT`.
#[derive(Debug)]
pub struct Connection {
    stream: BufReader<TcpStream>,
}

impl Connection {
    /// Connects and authenticates.
    pub async fn open(target: &RedisTarget) -> std::io::Result<Self> {
        let stream = TcpStream::connect((target.host.as_str(), target.port)).await?;
        stream.set_nodelay(true)?;
        let mut conn = Self {
            stream: BufReader::new(stream),
        };
        if let Some((user, password)) = &target.auth {
            match user {
                Some(user) => {
                    conn.command(&[b"AUTH", user.as_bytes(), password.as_bytes()])
                        .await?
                }
                None => conn.command(&[b"AUTH", password.as_bytes()]).await?,
            };
        }
        if let Some(db) = target.db {
            conn.command(&[b"SELECT", db.to_string().as_bytes()])
                .await?;
        }
        Ok(conn)
    }

    /// Sends one command and reads its reply; a Redis error (`-ERR …`)
    /// is an `io::Error` of kind `Other` whose text starts with the error.
    pub async fn command(&mut self, parts: &[&[u8]]) -> std::io::Result<Reply> {
        self.stream.get_mut().write_all(&encode(parts)).await?;
        read_reply(&mut self.stream).await
    }
}

fn protocol_error(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

async fn read_line(stream: &mut BufReader<TcpStream>) -> std::io::Result<String> {
    let mut line = String::new();
    let n = (&mut *stream).take(64 * 1024).read_line(&mut line).await?;
    if n == 0 || !line.ends_with("\r\n") {
        return Err(protocol_error("truncated reply"));
    }
    line.truncate(line.len() - 2);
    Ok(line)
}

fn length(text: &str) -> std::io::Result<Option<usize>> {
    let n: i64 = text.parse().map_err(|_| protocol_error("bad length"))?;
    match usize::try_from(n) {
        Ok(n) if n <= MAX_REPLY_ITEMS => Ok(Some(n)),
        Ok(_) => Err(protocol_error("reply too large")),
        Err(_) => Ok(None),
    }
}

fn read_reply(
    stream: &mut BufReader<TcpStream>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = std::io::Result<Reply>> + Send + '_>> {
    Box::pin(async move {
        let line = read_line(stream).await?;
        let (kind, rest) = line
            .split_at_checked(1)
            .ok_or_else(|| protocol_error("empty reply"))?;
        match kind {
            "+" => Ok(Reply::Status(rest.to_owned())),
            "-" => Err(std::io::Error::other(rest.to_owned())),
            ":" => rest
                .parse()
                .map(Reply::Integer)
                .map_err(|_| protocol_error("bad integer")),
            "$" => match length(rest)? {
                None => Ok(Reply::Bulk(None)),
                Some(n) => {
                    let mut data = vec![0u8; n + 2];
                    stream.read_exact(&mut data).await?;
                    data.truncate(n);
                    Ok(Reply::Bulk(Some(data)))
                }
            },
            "*" => match length(rest)? {
                None => Ok(Reply::Array(None)),
                Some(n) => {
                    let mut items = Vec::with_capacity(n.min(16));
                    for _ in 0..n {
                        items.push(read_reply(stream).await?);
                    }
                    Ok(Reply::Array(Some(items)))
                }
            },
            _ => Err(protocol_error("unknown reply type")),
        }
    })
}

/// A pool of connections to one Redis.
pub type Pool = deadpool::managed::Pool<Manager>;

/// Opens connections for the pool.
#[derive(Debug)]
pub struct Manager {
    target: RedisTarget,
    timeout: Duration,
}

impl Manager {
    /// A manager for `target`, whose connects give up after `timeout`.
    pub fn new(target: RedisTarget, timeout: Duration) -> Self {
        Self { target, timeout }
    }
}

impl deadpool::managed::Manager for Manager {
    type Type = Connection;
    type Error = std::io::Error;

    async fn create(&self) -> std::io::Result<Connection> {
        tokio::time::timeout(self.timeout, Connection::open(&self.target))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))?
    }

    async fn recycle(
        &self,
        _conn: &mut Connection,
        _metrics: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<std::io::Error> {
        // A connection that failed is taken out of the pool by its user.
        Ok(())
    }
}

fn encode(parts: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", parts.len()).into_bytes();
    for part in parts {
        out.extend_from_slice(format!("${}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part);
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
        assert_eq!(encode(&[b"PING"]), b"*1\r\n$4\r\nPING\r\n");
    }
}
