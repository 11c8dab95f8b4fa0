//! What a client can hold at the connection level: trickled heads, slow
//! bodies, idle connections, unread answers and connection counts are all
//! bounded; requests hyper cannot parse get the envelope. Raw sockets, so
//! the tests see exactly what goes over the wire. The timeouts are set far
//! below their defaults, and every wait is bounded well above them: a test
//! fails by hanging past its bound, never by being slow.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::helpers::{Db, TestApp};

/// Far above every timeout these tests set.
const BOUND: Duration = Duration::from_secs(15);

async fn spawn(env: &[(&str, &str)]) -> TestApp {
    let mut builder = TestApp::builder(Db::Sqlite);
    for (key, value) in env {
        builder = builder.env(key, value);
    }
    builder.spawn().await.unwrap()
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.addr).await.unwrap()
}

/// Reads until the server closes the connection; panics past [`BOUND`].
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let read = tokio::time::timeout(BOUND, async {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open");
    out
}

/// Status and JSON body of the first answer in `raw`.
fn first_answer(raw: &[u8]) -> (u16, String, Value) {
    let text = String::from_utf8_lossy(raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap();
    let status = head[9..12].parse().unwrap();
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().unwrap())
        })
        .unwrap_or(0);
    let body = serde_json::from_str(&rest[..length]).unwrap_or(Value::Null);
    (status, head.to_ascii_lowercase(), body)
}

#[tokio::test]
async fn a_trickled_request_head_is_cut_off() {
    let app = spawn(&[("HTTP_HEADER_READ_TIMEOUT", "0.5")]).await;
    let mut stream = connect(&app).await;
    stream.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
    let trickle = async {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if stream.write_all(b"X-Slow: a\r\n").await.is_err() {
                return;
            }
            let mut probe = [0u8; 1];
            if let Ok(Ok(0) | Err(_)) =
                tokio::time::timeout(Duration::from_millis(1), stream.read(&mut probe)).await
            {
                return;
            }
        }
    };
    assert!(
        tokio::time::timeout(BOUND, trickle).await.is_ok(),
        "a head trickled for {BOUND:?} was still being read"
    );
}

#[tokio::test]
async fn a_slow_body_gets_400_and_the_connection_closes() {
    let app = spawn(&[("HTTP_BODY_READ_TIMEOUT", "0.5")]).await;
    let mut stream = connect(&app).await;
    stream
        .write_all(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"email\":",
        )
        .await
        .unwrap();
    let raw = read_until_closed(&mut stream).await;
    let (status, head, body) = first_answer(&raw);
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&raw));
    assert_eq!(body["errors"][0]["code"], "VAL_006");
    assert_eq!(
        body["errors"][0]["message"],
        "Request body was not received in time"
    );
    assert!(head.contains("x-content-type-options: nosniff"));
}

#[tokio::test]
async fn an_idle_http1_connection_is_closed() {
    let app = spawn(&[("HTTP_IDLE_TIMEOUT", "0.5")]).await;
    let mut stream = connect(&app).await;
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let raw = read_until_closed(&mut stream).await;
    assert_eq!(first_answer(&raw).0, 200);
    // A connection that never sends a byte is closed too.
    let mut silent = connect(&app).await;
    assert!(read_until_closed(&mut silent).await.is_empty());
}

#[tokio::test]
async fn an_idle_http2_connection_gets_goaway() {
    let app = spawn(&[("HTTP_IDLE_TIMEOUT", "0.5")]).await;
    let mut stream = connect(&app).await;
    // Connection preface and an empty SETTINGS frame.
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    let raw = read_until_closed(&mut stream).await;
    let mut frames = Vec::new();
    let mut rest = &raw[..];
    while rest.len() >= 9 {
        let len = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
        frames.push(rest[3]);
        rest = &rest[(9 + len).min(rest.len())..];
    }
    assert!(frames.contains(&0x7), "no GOAWAY among frames {frames:?}");
}

#[tokio::test]
async fn connections_per_client_are_capped() {
    let app = spawn(&[("MAX_CONNECTIONS_PER_IP", "2")]).await;
    let first = connect(&app).await;
    let _second = connect(&app).await;
    let mut third = connect(&app).await;
    let _ = third
        .write_all(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
        .await;
    assert!(
        read_until_closed(&mut third).await.is_empty(),
        "a third connection from one client was served"
    );
    drop(first);
    // The freed slot serves again (the server notices the close at once).
    let health = tokio::time::timeout(BOUND, async {
        loop {
            if let Ok(response) = app.http.get(app.url("/health")).send().await {
                return response.status().as_u16();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(health, 200);
}

#[tokio::test]
async fn past_the_global_cap_connections_wait_to_be_accepted() {
    let app = spawn(&[("MAX_CONNECTIONS", "1"), ("MAX_CONNECTIONS_PER_IP", "0")]).await;
    let holder = connect(&app).await;
    let mut waiting = connect(&app).await;
    waiting
        .write_all(b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_millis(300), waiting.read(&mut buf)).await;
    assert!(early.is_err(), "a connection past the cap was served");
    drop(holder);
    let raw = read_until_closed(&mut waiting).await;
    assert_eq!(first_answer(&raw).0, 200);
}

#[tokio::test]
async fn an_unread_answer_drops_the_connection() {
    let app = spawn(&[("HTTP_WRITE_TIMEOUT", "0.5")]).await;
    let stream = connect(&app).await;
    let (mut reader, mut writer) = stream.into_split();
    // Pipelined requests whose answers (tens of MB) outgrow every socket
    // buffer. The write half stays open: its FIN would end the connection.
    let requests = 20_000;
    let (done, hold) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let request = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n".repeat(requests);
        let _ = writer.write_all(&request).await;
        let _ = hold.await;
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut received = Vec::new();
    let drained = tokio::time::timeout(BOUND, async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    drop(done);
    assert!(drained.is_ok(), "the connection stayed open");
    let answers = memchr::memmem::find_iter(&received, b"HTTP/1.1 200").count();
    assert!(answers < requests, "all {answers} answers were written");
}

#[tokio::test]
async fn unparseable_requests_get_the_envelope_and_headers() {
    let app = spawn(&[]).await;
    let cases: [(&[u8], &str); 4] = [
        (
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n",
            "Invalid Content-Length header",
        ),
        (
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello",
            "Invalid Content-Length header",
        ),
        (b"NOT A REQUEST\r\n\r\n", "Malformed HTTP request"),
        (b"", "Request headers too large"),
    ];
    for (request, message) in cases {
        let mut stream = connect(&app).await;
        if request.is_empty() {
            let big = format!(
                "GET /health HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
                "a".repeat(100 * 1024)
            );
            let _ = stream.write_all(big.as_bytes()).await;
        } else {
            stream.write_all(request).await.unwrap();
        }
        let raw = read_until_closed(&mut stream).await;
        let (status, head, body) = first_answer(&raw);
        assert_eq!(status, 400, "{}", String::from_utf8_lossy(&raw));
        assert_eq!(body["success"], false);
        assert_eq!(body["errors"][0]["code"], "VAL_006");
        assert_eq!(body["errors"][0]["message"], message);
        for header in [
            "x-content-type-options: nosniff",
            "x-frame-options: deny",
            "content-security-policy:",
            "x-request-id:",
            "content-type: application/json",
        ] {
            assert!(head.contains(header), "{header} missing from {head}");
        }
    }
}
