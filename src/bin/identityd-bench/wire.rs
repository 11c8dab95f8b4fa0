//! The load generator's two connections, on hyper's connection API with
//! nothing in between: the generator shares the machine's cores with the
//! server, so every microsecond it spends per request is one the server loses.
//!
//! - [`Http1`]: one keep-alive HTTP/1.1 connection, one request at a time.
//! - [`Grpc`]: one HTTP/2 connection carrying unary gRPC calls (framing,
//!   `grpc-status` from headers or trailers).

use bytes::{Buf as _, BufMut as _, Bytes, BytesMut};
use http::{HeaderValue, Method, Request, StatusCode, header};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

/// Where the server listens: `host:port` and the `Host` header value.
#[derive(Clone)]
pub struct Target {
    addr: String,
    authority: HeaderValue,
    base: String,
}

impl Target {
    /// From `http://host:port`.
    pub fn parse(base: &str) -> Result<Self, String> {
        let url = url::Url::parse(base).map_err(|e| format!("--url: {e}"))?;
        if url.scheme() != "http" {
            return Err("--url: only http:// (the bench speaks cleartext)".to_owned());
        }
        let host = url.host_str().ok_or("--url: no host")?;
        let port = url.port_or_known_default().unwrap_or(80);
        let addr = format!("{host}:{port}");
        Ok(Self {
            authority: HeaderValue::from_str(&addr).map_err(|e| e.to_string())?,
            addr,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    async fn connect(&self) -> Result<TokioIo<TcpStream>, String> {
        let stream = TcpStream::connect(&self.addr)
            .await
            .map_err(|e| format!("connect {}: {e}", self.addr))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        Ok(TokioIo::new(stream))
    }
}

/// A request's failure below HTTP: the kind is what the report counts.
pub type TransportError = &'static str;

/// One keep-alive HTTP/1.1 connection.
pub struct Http1 {
    sender: http1::SendRequest<Full<Bytes>>,
    authority: HeaderValue,
}

impl Http1 {
    /// Opens the connection.
    pub async fn connect(target: &Target) -> Result<Self, String> {
        let io = target.connect().await?;
        let (sender, connection) = http1::handshake(io).await.map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        Ok(Self {
            sender,
            authority: target.authority.clone(),
        })
    }

    /// Sends one request and reads its whole answer.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        bearer: Option<&HeaderValue>,
        json: Option<Bytes>,
    ) -> Result<(StatusCode, Bytes), TransportError> {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.authority);
        if let Some(bearer) = bearer {
            builder = builder.header(header::AUTHORIZATION, bearer);
        }
        if json.is_some() {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        let request = builder
            .body(Full::new(json.unwrap_or_default()))
            .map_err(|_| "request")?;
        self.sender.ready().await.map_err(|_| "connection closed")?;
        let response = self.sender.send_request(request).await.map_err(classify)?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(|_| "body")?;
        Ok((status, body.to_bytes()))
    }
}

/// One HTTP/2 connection for unary gRPC calls.
#[derive(Clone)]
pub struct Grpc {
    sender: http2::SendRequest<Full<Bytes>>,
    base: String,
}

/// A gRPC call's outcome: the decoded answer, or a non-OK status code.
pub type GrpcResult<T> = Result<T, i32>;

impl Grpc {
    /// Opens the connection.
    pub async fn connect(target: &Target) -> Result<Self, String> {
        let io = target.connect().await?;
        let (sender, connection) = http2::handshake(TokioExecutor::new(), io)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        Ok(Self {
            sender,
            base: target.base.clone(),
        })
    }

    /// Calls `path` (`/package.Service/Method`) with one message.
    pub async fn unary<M: prost::Message, R: prost::Message + Default>(
        &mut self,
        path: &str,
        bearer: Option<&HeaderValue>,
        message: &M,
    ) -> Result<GrpcResult<R>, TransportError> {
        let mut frame = BytesMut::with_capacity(5 + message.encoded_len());
        frame.put_u8(0);
        frame.put_u32(u32::try_from(message.encoded_len()).map_err(|_| "request")?);
        message.encode(&mut frame).map_err(|_| "request")?;
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(format!("{}{path}", self.base))
            .header(header::CONTENT_TYPE, "application/grpc")
            .header(header::TE, "trailers");
        if let Some(bearer) = bearer {
            builder = builder.header(header::AUTHORIZATION, bearer);
        }
        let request = builder
            .body(Full::new(frame.freeze()))
            .map_err(|_| "request")?;
        self.sender.ready().await.map_err(|_| "connection closed")?;
        let response = self.sender.send_request(request).await.map_err(classify)?;
        if response.status() != StatusCode::OK {
            return Err("non-200 HTTP status on gRPC");
        }
        let (parts, body) = response.into_parts();
        let collected = body.collect().await.map_err(|_| "body")?;
        // Trailers-only answers carry the status in the headers.
        let status = collected
            .trailers()
            .and_then(|t| t.get("grpc-status"))
            .or_else(|| parts.headers.get("grpc-status"))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<i32>().ok())
            .ok_or("no grpc-status")?;
        if status != 0 {
            return Ok(Err(status));
        }
        let mut data = collected.to_bytes();
        if data.len() < 5 || data[0] != 0 {
            return Err("bad gRPC frame");
        }
        data.advance(5);
        R::decode(data).map(Ok).map_err(|_| "bad gRPC message")
    }
}

fn classify(err: hyper::Error) -> TransportError {
    if err.is_closed() || err.is_incomplete_message() {
        "connection closed"
    } else if err.is_timeout() {
        "timeout"
    } else {
        "request"
    }
}
