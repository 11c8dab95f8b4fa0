//! One connection: hyper serving the router, watched so that no client holds
//! it without making progress.
//!
//! [`Activity`] is shared by the socket wrapper ([`WatchedIo`]), the request
//! wrapper and the watchdog loop of [`Task::run`]. The rules:
//!
//! - **Header timeout** (HTTP/1.1): from the first byte of a request head to
//!   the request reaching the router; past it the connection is dropped.
//! - **Body timeout**: a request body must arrive within this time of the
//!   request reaching the router; reading it later fails ([`BodyTimedOut`]).
//! - **Write timeout**: an answer the client does not read (the socket
//!   refuses bytes) for this long drops the connection.
//! - **Idle timeout**: a connection with no request in flight for this long
//!   is closed gracefully (HTTP/2: GOAWAY). HTTP/2 pings do not count as
//!   activity; native gRPC clients reconnect transparently.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use http_body::{Body as _, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt as _;

use super::{MAX_HEAD_BYTES, Phase, malformed};
use crate::config::ServerLimits;

/// Per-server settings every connection reads.
#[derive(Debug)]
pub(super) struct Settings {
    pub limits: ServerLimits,
    pub hsts: bool,
}

/// A connection to serve.
pub(super) struct Task {
    pub builder: Arc<auto::Builder<TokioExecutor>>,
    pub router: axum::Router,
    pub settings: Arc<Settings>,
    pub peer: std::net::SocketAddr,
    pub phase: watch::Receiver<Phase>,
}

/// The request body did not arrive within the body timeout.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("request body not received within the body timeout")]
pub struct BodyTimedOut;

const NONE: u64 = u64::MAX;
const UNKNOWN: u8 = 0;
const HTTP1: u8 = 1;
const HTTP2: u8 = 2;

/// What the watchdog knows of a connection. Times are milliseconds since
/// `epoch`; [`NONE`] means "not now".
pub(super) struct Activity {
    epoch: Instant,
    protocol: AtomicU8,
    in_flight: AtomicUsize,
    /// Requests that reached the router so far.
    started: AtomicU64,
    idle_since: AtomicU64,
    /// First byte of a request head read while idle (HTTP/1.1).
    head_started: AtomicU64,
    /// The socket refused bytes of an answer since then.
    write_blocked: AtomicU64,
    wake: Notify,
}

/// What the watchdog does when a deadline passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// Close now: the client is stalling.
    Drop,
    /// Ask the connection to finish (idle).
    Close,
}

impl Activity {
    fn new() -> Self {
        Self {
            epoch: Instant::now(),
            protocol: AtomicU8::new(UNKNOWN),
            in_flight: AtomicUsize::new(0),
            started: AtomicU64::new(0),
            idle_since: AtomicU64::new(0),
            head_started: AtomicU64::new(NONE),
            write_blocked: AtomicU64::new(NONE),
            wake: Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(NONE - 1)
    }

    fn at(&self, millis: u64, plus: Duration) -> Instant {
        self.epoch + Duration::from_millis(millis) + plus
    }

    fn bytes_read(&self, first: &[u8]) {
        if self.protocol.load(Ordering::Relaxed) == UNKNOWN {
            let protocol = if first.starts_with(b"PRI ") {
                HTTP2
            } else {
                HTTP1
            };
            self.protocol.store(protocol, Ordering::Relaxed);
        }
        if self.protocol.load(Ordering::Relaxed) == HTTP1
            && self.in_flight.load(Ordering::Acquire) == 0
            && self.head_started.load(Ordering::Relaxed) == NONE
        {
            self.head_started.store(self.now(), Ordering::Relaxed);
            self.wake.notify_one();
        }
    }

    fn request_started(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.started.fetch_add(1, Ordering::Relaxed);
        self.head_started.store(NONE, Ordering::Relaxed);
        self.wake.notify_one();
        InFlight(self.clone())
    }

    fn write_stalled(&self) {
        if self.write_blocked.load(Ordering::Relaxed) == NONE {
            self.write_blocked.store(self.now(), Ordering::Relaxed);
            self.wake.notify_one();
        }
    }

    fn write_progressed(&self) {
        self.write_blocked.store(NONE, Ordering::Relaxed);
    }

    fn is_http1(&self) -> bool {
        self.protocol.load(Ordering::Relaxed) == HTTP1
    }

    /// The next deadline and what to do when it passes; `None`: wait for a
    /// change (a request in flight whose answer is being written).
    fn deadline(&self, limits: &ServerLimits) -> Option<(Instant, Action)> {
        let blocked = self.write_blocked.load(Ordering::Relaxed);
        if blocked != NONE {
            return Some((self.at(blocked, limits.write_timeout), Action::Drop));
        }
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let head = self.head_started.load(Ordering::Relaxed);
        if head != NONE {
            return Some((self.at(head, limits.header_read_timeout), Action::Drop));
        }
        let idle = self.idle_since.load(Ordering::Relaxed);
        Some((self.at(idle, limits.idle_timeout), Action::Close))
    }
}

/// A request in flight; the connection is idle again when the last one's
/// answer has been written (or abandoned).
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let activity = &self.0;
        if activity.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            activity.idle_since.store(activity.now(), Ordering::Relaxed);
            activity.wake.notify_one();
        }
    }
}

impl Task {
    /// Serves the connection until it ends, stalls, idles out or the server
    /// closes it.
    pub(super) async fn run(mut self, stream: TcpStream) {
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(WatchedIo::new(stream, activity.clone(), self.settings.hsts));
        let service = {
            let (router, activity, peer) = (self.router.clone(), activity.clone(), self.peer);
            let body_timeout = self.settings.limits.body_read_timeout;
            hyper::service::service_fn(move |request: http::Request<Incoming>| {
                let in_flight = activity.request_started();
                let deadline = Instant::now() + body_timeout;
                let http1 = request.version() < http::Version::HTTP_2;
                let (parts, body) = request.into_parts();
                let body = DeadlineBody::new(body, deadline);
                let consumed = body.consumed.clone();
                let mut request = http::Request::from_parts(parts, Body::new(body));
                request.extensions_mut().insert(ConnectInfo(peer));
                let call = router.clone().oneshot(request);
                async move {
                    let mut response = match call.await {
                        Ok(response) => response,
                        Err(never) => match never {},
                    };
                    // A body refused unread (413, 401 before reading) leaves
                    // bytes on the connection: it cannot carry another
                    // request, and the client must not try.
                    if http1 && !consumed.load(Ordering::Acquire) {
                        response.headers_mut().insert(
                            http::header::CONNECTION,
                            http::HeaderValue::from_static("close"),
                        );
                    }
                    Ok::<_, std::convert::Infallible>(response.map(|body| {
                        Body::new(TrackedBody {
                            body,
                            _in_flight: in_flight,
                        })
                    }))
                }
            })
        };
        let builder = self.builder.clone();
        let connection = builder.serve_connection(io, service);
        tokio::pin!(connection);
        let limits = &self.settings.limits;
        // Once a graceful close is asked for, the connection gets this long.
        let mut closing_until: Option<Instant> = None;
        loop {
            let wake = activity.wake.notified();
            let deadline = match closing_until {
                Some(until) => Some((until, Action::Drop)),
                None => activity.deadline(limits),
            };
            let timer = async {
                match deadline {
                    Some((at, _)) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(err) = result {
                        tracing::debug!(peer = %self.peer, error = %err, "connection ended with an error");
                    }
                    return;
                }
                () = wake => {}
                () = timer => {
                    match deadline.map(|(_, action)| action) {
                        Some(Action::Close) if closing_until.is_none() => {
                            connection.as_mut().graceful_shutdown();
                            closing_until = Some(Instant::now() + limits.header_read_timeout);
                        }
                        _ => {
                            tracing::debug!(peer = %self.peer, "connection stalled; closed");
                            return;
                        }
                    }
                }
                changed = self.phase.changed() => {
                    let phase = if changed.is_ok() { *self.phase.borrow() } else { Phase::Closing };
                    match phase {
                        Phase::Serving => {}
                        Phase::Draining => {
                            if closing_until.is_none() {
                                connection.as_mut().graceful_shutdown();
                                closing_until = Some(Instant::now() + limits.shutdown_grace);
                            }
                        }
                        Phase::Closing => return,
                    }
                }
            }
        }
    }
}

/// A request body that fails once its deadline has passed, and tells
/// whether it was read to its end.
struct DeadlineBody {
    body: Incoming,
    deadline: Instant,
    timer: Option<Pin<Box<Sleep>>>,
    consumed: Arc<AtomicBool>,
}

impl DeadlineBody {
    fn new(body: Incoming, deadline: Instant) -> Self {
        let consumed = Arc::new(AtomicBool::new(body.is_end_stream()));
        Self {
            body,
            deadline,
            timer: None,
            consumed,
        }
    }
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            if frame.is_none() || this.body.is_end_stream() {
                this.consumed.store(true, Ordering::Release);
            }
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        // Allocated only for bodies that make a reader wait.
        let deadline = this.deadline;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        ready!(timer.as_mut().poll(cx));
        Poll::Ready(Some(Err(Box::new(BodyTimedOut))))
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// An answer body that keeps its request in flight until it is written.
struct TrackedBody {
    body: Body,
    _in_flight: InFlight,
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The socket, reporting reads and stalled writes to [`Activity`], and
/// replacing the bare answers hyper writes on its own to requests it cannot
/// parse (see [`malformed`]).
struct WatchedIo {
    stream: TcpStream,
    activity: Arc<Activity>,
    hsts: bool,
    /// The HTTP/1.1 head being read (for the malformed-request message),
    /// and the request count it belongs to.
    head: Vec<u8>,
    head_of: u64,
    /// Our answer, written in place of hyper's; and how much is written.
    replacement: Option<(Vec<u8>, usize)>,
    /// Set once the write side is shut: until when, and how many more
    /// bytes, to discard what the client still sends.
    linger: Option<(Pin<Box<Sleep>>, usize)>,
}

/// After the answer, a closing connection reads and discards what the client
/// is still sending (the rest of a body refused early) for at most this
/// long and this many bytes: closing with unread bytes would make the kernel
/// reset the connection, and the client would lose the answer.
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 16 * 1024 * 1024;

impl WatchedIo {
    fn new(stream: TcpStream, activity: Arc<Activity>, hsts: bool) -> Self {
        Self {
            stream,
            activity,
            hsts,
            head: Vec::new(),
            head_of: 0,
            replacement: None,
            linger: None,
        }
    }

    fn record_head(&mut self, bytes: &[u8]) {
        let started = self.activity.started.load(Ordering::Relaxed);
        if started != self.head_of {
            self.head = Vec::new();
            self.head_of = started;
        }
        if self.activity.in_flight.load(Ordering::Acquire) == 0 {
            let room = (MAX_HEAD_BYTES + 1).saturating_sub(self.head.len());
            self.head.extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
    }

    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while let Some((bytes, written)) = &mut self.replacement {
            if *written == bytes.len() {
                self.replacement = None;
                break;
            }
            let n = ready!(Pin::new(&mut self.stream).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for WatchedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.stream).poll_read(cx, buf))?;
        let read = &buf.filled()[before..];
        if !read.is_empty() {
            this.activity.bytes_read(read);
            if this.activity.is_http1() {
                this.record_head(read);
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for WatchedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        if this.activity.is_http1()
            && let Some(bare) = malformed::hyper_answer(buf)
        {
            let answer = malformed::answer(bare.status, &this.head, this.hsts);
            this.replacement = Some((answer, 0));
            return Poll::Ready(Ok(bare.len));
        }
        match Pin::new(&mut this.stream).poll_write(cx, buf) {
            Poll::Pending => {
                this.activity.write_stalled();
                Poll::Pending
            }
            ready => {
                this.activity.write_progressed();
                ready
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        Pin::new(&mut this.stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        if this.linger.is_none() {
            ready!(Pin::new(&mut this.stream).poll_shutdown(cx))?;
            this.linger = Some((Box::pin(tokio::time::sleep(LINGER)), LINGER_BYTES));
        }
        let Some((timer, left)) = &mut this.linger else {
            return Poll::Ready(Ok(()));
        };
        let mut scratch = [0u8; 8192];
        loop {
            if timer.as_mut().poll(cx).is_ready() || *left == 0 {
                return Poll::Ready(Ok(()));
            }
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut this.stream).poll_read(cx, &mut buf) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => {
                    *left = left.saturating_sub(buf.filled().len());
                }
                // End of stream or an error: nothing more to wait for.
                Poll::Ready(_) => return Poll::Ready(Ok(())),
            }
        }
    }
}
