//! The listener: accepts TCP connections under a global and a per-client
//! cap, serves each with hyper (HTTP/1.1 and cleartext HTTP/2 on the same
//! port), bounds how long a client may hold a connection without making
//! progress ([`connection`]), answers requests hyper cannot parse with the
//! envelope ([`malformed`]), and drains connections on shutdown.
//!
//! What an anonymous client can hold here is bounded: at most
//! `MAX_CONNECTIONS` connections in all and `MAX_CONNECTIONS_PER_IP` from one
//! address (IPv6: one /64), each closed when its request head, its body or
//! the reading of its answer stalls, or when it sits idle.

mod connection;
mod malformed;

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::config::ServerLimits;
use crate::domain::client_ip::{TrustedProxies, client_network};

pub use connection::BodyTimedOut;

/// Largest request head (request line and headers) accepted over HTTP/1.1,
/// and the largest header list over HTTP/2.
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// What the listener needs besides the router.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Timeouts and caps.
    pub limits: ServerLimits,
    /// Peers exempt from the per-client cap (they carry many clients).
    pub trusted_proxies: TrustedProxies,
    /// Whether answers carry HSTS (production).
    pub hsts: bool,
}

/// Where the server is in its life; connections watch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Serving,
    /// Finish in-flight requests, accept no new ones on open connections.
    Draining,
    /// The grace period is over: close whatever is left.
    Closing,
}

/// Serves `router` on `listener` until `shutdown` completes, then lets
/// in-flight requests finish for at most `limits.shutdown_grace`.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let limits = settings.limits.clone();
    let builder = Arc::new(hyper_builder(&limits));
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let per_client = PerClient::new(limits.max_connections_per_ip, settings.trusted_proxies);
    let (phase, phase_rx) = watch::channel(Phase::Serving);
    let connection_settings = Arc::new(connection::Settings {
        limits: limits.clone(),
        hsts: settings.hsts,
    });
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = accept(&listener, &slots) => accepted,
        };
        let Some((stream, peer, slot)) = accepted else {
            continue;
        };
        let Some(client) = per_client.admit(peer.ip()) else {
            tracing::debug!(%peer, "connection refused: too many from this client");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let task = connection::Task {
            builder: builder.clone(),
            router: router.clone(),
            settings: connection_settings.clone(),
            peer,
            phase: phase_rx.clone(),
        };
        tokio::spawn(async move {
            task.run(stream).await;
            drop((slot, client));
        });
    }
    drain(&phase, &slots, &limits).await;
    Ok(())
}

/// Waits for a free connection slot, then for a connection. Accept errors
/// (for example running out of file descriptors) are logged and retried
/// after a pause instead of ending the server.
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> Option<(
    tokio::net::TcpStream,
    SocketAddr,
    tokio::sync::OwnedSemaphorePermit,
)> {
    let slot = slots.clone().acquire_owned().await.ok()?;
    match listener.accept().await {
        Ok((stream, peer)) => Some((stream, peer, slot)),
        Err(err) => {
            tracing::warn!(error = %err, "accept failed");
            tokio::time::sleep(Duration::from_millis(50)).await;
            None
        }
    }
}

/// Stops accepting, asks every connection to finish, and closes the rest
/// when the grace period is over.
async fn drain(phase: &watch::Sender<Phase>, slots: &Arc<Semaphore>, limits: &ServerLimits) {
    let _ = phase.send(Phase::Draining);
    let everyone = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let all_closed = slots.acquire_many(everyone);
    if tokio::time::timeout(limits.shutdown_grace, all_closed)
        .await
        .is_ok()
    {
        return;
    }
    tracing::warn!("shutdown grace period over; closing remaining connections");
    let _ = phase.send(Phase::Closing);
    let _ = tokio::time::timeout(Duration::from_secs(5), slots.acquire_many(everyone)).await;
}

fn hyper_builder(limits: &ServerLimits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        // The connection watchdog enforces the header timeout (and, unlike
        // hyper's, a separate idle timeout).
        .header_read_timeout(None)
        .max_buf_size(MAX_HEAD_BYTES)
        // One contiguous buffer per write, so that an answer hyper writes on
        // its own can be recognised and replaced (see `malformed`).
        .writev(false);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(MAX_HEAD_BYTES).unwrap_or(u32::MAX))
        .max_concurrent_streams(limits.http2_max_streams)
        .initial_stream_window_size(256 * 1024)
        .initial_connection_window_size(1024 * 1024)
        .max_send_buf_size(256 * 1024)
        // Pings find peers that vanished without closing; they do not
        // count as activity for the idle timeout.
        .keep_alive_interval(Some(Duration::from_secs(60)))
        .keep_alive_timeout(Duration::from_secs(20));
    builder
}

/// Connection counts per client network, for `MAX_CONNECTIONS_PER_IP`.
#[derive(Clone)]
struct PerClient {
    max: usize,
    trusted: TrustedProxies,
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One counted connection; uncounted on drop.
struct Counted {
    key: IpAddr,
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl PerClient {
    fn new(max: usize, trusted: TrustedProxies) -> Self {
        Self {
            max,
            trusted,
            counts: Arc::default(),
        }
    }

    /// `None` when the client already holds its share; `Some(None)` when it
    /// is not counted (no cap, or a trusted proxy).
    fn admit(&self, peer: IpAddr) -> Option<Option<Counted>> {
        if self.max == 0 || self.trusted.contains(peer) {
            return Some(None);
        }
        let key = client_network(peer);
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(key).or_default();
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(Some(Counted {
            key,
            counts: self.counts.clone(),
        }))
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_client_cap_counts_networks_and_exempts_proxies() {
        let trusted = TrustedProxies::parse(["10.0.0.1"]).unwrap();
        let cap = PerClient::new(2, trusted);
        let a = cap.admit("192.0.2.1".parse().unwrap()).unwrap();
        let b = cap.admit("192.0.2.1".parse().unwrap()).unwrap();
        assert!(cap.admit("192.0.2.1".parse().unwrap()).is_none());
        assert!(cap.admit("192.0.2.2".parse().unwrap()).is_some());
        // One IPv6 /64 is one client.
        let _c = cap.admit("2001:db8::1".parse().unwrap()).unwrap();
        let _d = cap.admit("2001:db8::2".parse().unwrap()).unwrap();
        assert!(cap.admit("2001:db8::3".parse().unwrap()).is_none());
        for _ in 0..10 {
            assert!(matches!(cap.admit("10.0.0.1".parse().unwrap()), Some(None)));
        }
        drop(a);
        assert!(cap.admit("192.0.2.1".parse().unwrap()).is_some());
        drop(b);
        let unlimited = PerClient::new(0, TrustedProxies::default());
        assert!(matches!(
            unlimited.admit("192.0.2.1".parse().unwrap()),
            Some(None)
        ));
    }
}
