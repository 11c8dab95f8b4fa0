//! The request of a unary gRPC call: exactly one length-prefixed message,
//! uncompressed, within the method's body limit. Read here, after
//! authentication and before tonic decodes it, so that every malformed or
//! oversized request gets a precise status (`INVALID_ARGUMENT` with
//! `VAL_006`, `RESOURCE_EXHAUSTED` with `VAL_007`) instead of tonic's
//! `INTERNAL` or `OUT_OF_RANGE`, and an oversized one is refused as soon as
//! its frame header declares it.

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt as _;

use crate::error::Error;

/// Flag byte and length of the gRPC message prefix.
const PREFIX: usize = 5;

/// Reads the one message of a unary request; returns it as the new body.
/// `gzip` says the request declared `grpc-encoding: gzip`, which allows a
/// compressed message (tonic inflates it, within its own size limit).
pub async fn read_unary(mut body: Body, limit: usize, gzip: bool) -> Result<Body, Error> {
    let mut buf = BytesMut::new();
    let mut expected: Option<usize> = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| unreadable(&err, limit))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        buf.extend_from_slice(&data);
        if expected.is_none() && buf.len() >= PREFIX {
            expected = Some(check_prefix(&buf, limit, gzip)?);
        }
        if expected.is_some_and(|len| buf.len() > PREFIX + len) {
            return Err(Error::BodyUnreadable(
                "A unary call carries exactly one request message",
            ));
        }
    }
    match expected {
        None if buf.is_empty() => Err(Error::BodyUnreadable("Request message is missing")),
        Some(len) if buf.len() == PREFIX + len => Ok(Body::from(Bytes::from(buf))),
        _ => Err(Error::BodyUnreadable("Request message is truncated")),
    }
}

/// Checks the flag and the declared length; returns the length.
fn check_prefix(prefix: &[u8], limit: usize, gzip: bool) -> Result<usize, Error> {
    match prefix[0] {
        0 => {}
        1 if gzip => {}
        1 => {
            return Err(Error::BodyUnreadable(
                "A compressed message needs grpc-encoding: gzip",
            ));
        }
        _ => return Err(Error::BodyUnreadable("Invalid gRPC message flag")),
    }
    let len = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]);
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    if len > limit {
        return Err(Error::BodyTooLarge { limit });
    }
    Ok(len)
}

fn unreadable(err: &axum::Error, limit: usize) -> Error {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if e.is::<http_body_util::LengthLimitError>() {
            return Error::BodyTooLarge { limit };
        }
        if e.is::<crate::server::BodyTimedOut>() {
            return Error::BodyUnreadable("Request body was not received in time");
        }
        current = e.source();
    }
    Error::BodyUnreadable("Request body could not be read")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(flag: u8, declared: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![flag];
        out.extend_from_slice(&declared.to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    async fn read(bytes: Vec<u8>, limit: usize) -> Result<Bytes, String> {
        match read_unary(Body::from(bytes), limit, false).await {
            Ok(body) => Ok(body.collect().await.unwrap().to_bytes()),
            Err(err) => Err(err.to_string()),
        }
    }

    #[tokio::test]
    async fn compressed_frames_need_a_declared_encoding() {
        let frame = framed(1, 3, b"abc");
        let passed = read_unary(Body::from(frame.clone()), 64, true).await;
        assert!(passed.is_ok());
        let refused = read_unary(Body::from(frame), 64, false).await;
        assert_eq!(
            refused.err().map(|e| e.to_string()).as_deref(),
            Some("A compressed message needs grpc-encoding: gzip")
        );
    }

    #[tokio::test]
    async fn one_well_formed_message_passes() {
        let bytes = framed(0, 3, b"abc");
        assert_eq!(read(bytes.clone(), 3).await.unwrap(), Bytes::from(bytes));
        assert!(read(framed(0, 0, b""), 0).await.is_ok());
    }

    #[tokio::test]
    async fn malformed_frames_are_named() {
        let cases = [
            (vec![], "Request message is missing"),
            (vec![0, 0, 0], "Request message is truncated"),
            (framed(0, 10, b"abc"), "Request message is truncated"),
            (
                framed(0, 1, b"ab"),
                "A unary call carries exactly one request message",
            ),
            (framed(2, 1, b"a"), "Invalid gRPC message flag"),
            (
                framed(1, 1, b"a"),
                "A compressed message needs grpc-encoding: gzip",
            ),
            (
                framed(0, 4_000_000_000, b""),
                "Request body too large. Maximum size is 64KB",
            ),
        ];
        for (bytes, message) in cases {
            assert_eq!(read(bytes, 64 * 1024).await.unwrap_err(), message);
        }
    }
}
