//! grpc-web (what browsers use): register, login and refresh over HTTP/1.1.

use identityd::grpc::pb;
use prost::Message as _;

use crate::db_test;
use crate::helpers::{PASSWORD, TestApp};

/// One grpc-web call; returns (grpc-status, message bytes).
async fn call<M: prost::Message>(app: &TestApp, path: &str, message: &M) -> (String, Vec<u8>) {
    let payload = message.encode_to_vec();
    let mut body = vec![0u8];
    body.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
    body.extend_from_slice(&payload);
    let response = app
        .http
        .post(app.url(path))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .header("origin", "http://allowed.test")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "http://allowed.test"
    );
    let header_status = response
        .headers()
        .get("grpc-status")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.bytes().await.unwrap().to_vec();
    let (mut message, mut status) = (Vec::new(), header_status.unwrap_or_default());
    let mut rest = bytes.as_slice();
    while rest.len() >= 5 {
        let flag = rest[0];
        let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        let frame = &rest[5..5 + len];
        if flag & 0x80 != 0 {
            for line in String::from_utf8_lossy(frame).split("\r\n") {
                if let Some(value) = line.strip_prefix("grpc-status:") {
                    status = value.trim().to_owned();
                }
            }
        } else {
            message = frame.to_vec();
        }
        rest = &rest[5 + len..];
    }
    (status, message)
}

db_test!(grpc_web_register_login_refresh, |app| {
    let (status, bytes) = call(
        &app,
        "/identity.v1.AuthService/Register",
        &pb::RegisterRequest {
            email: Some("web@example.com".into()),
            password: Some(PASSWORD.into()),
            first_name: Some("Web".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(status, "0");
    assert_eq!(
        pb::User::decode(bytes.as_slice()).unwrap().email,
        "web@example.com"
    );

    let (status, bytes) = call(
        &app,
        "/identity.v1.AuthService/Login",
        &pb::LoginRequest {
            email: Some("web@example.com".into()),
            password: Some(PASSWORD.into()),
        },
    )
    .await;
    assert_eq!(status, "0");
    let token = pb::Token::decode(bytes.as_slice()).unwrap();

    let (status, bytes) = call(
        &app,
        "/identity.v1.AuthService/Refresh",
        &pb::RefreshRequest {
            refresh_token: Some(token.refresh_token.clone()),
        },
    )
    .await;
    assert_eq!(status, "0");
    assert_ne!(
        pb::Token::decode(bytes.as_slice()).unwrap().refresh_token,
        token.refresh_token
    );

    let (status, _) = call(
        &app,
        "/identity.v1.AuthService/Login",
        &pb::LoginRequest {
            email: Some("web@example.com".into()),
            password: Some("Wrong-Pass-123!".into()),
        },
    )
    .await;
    assert_eq!(status, (tonic::Code::Unauthenticated as i32).to_string());
});

db_test!(undecodable_messages_are_invalid_argument, |app| {
    // A frame whose payload is not a valid protobuf message.
    let mut body = vec![0u8, 0, 0, 0, 3];
    body.extend_from_slice(&[0xff, 0xff, 0xff]);
    let response = app
        .http
        .post(app.url("/identity.v1.AuthService/Login"))
        .header("content-type", "application/grpc-web+proto")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response
        .headers()
        .get("grpc-status")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.bytes().await.unwrap();
    let trailers = String::from_utf8_lossy(&bytes).to_string();
    let code = (tonic::Code::InvalidArgument as i32).to_string();
    assert!(
        status.as_deref() == Some(code.as_str())
            || trailers.contains(&format!("grpc-status:{code}")),
        "{status:?} {trailers}"
    );
});
