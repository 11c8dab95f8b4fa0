//! Per-route body limits and the order "authenticate, then read": an
//! anonymous client cannot make the server read, buffer or decode a body
//! on a route that needs a user, and anonymous routes take small bodies.
//! Native gRPC requests get the same limits, and malformed frames get
//! precise statuses.

use std::time::Duration;

use identityd::grpc::pb;
use prost::Message as _;
use prost_reflect::{DescriptorPool, Value as PValue};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tonic_types::StatusExt as _;

use crate::db_test;
use crate::helpers::{Db, TestApp, reason, with_bearer};

/// (HTTP method, path template, needs a user) of every REST route, read
/// from the same descriptor set the transcoder reads.
fn authenticated_routes() -> Vec<(String, String)> {
    let pool = DescriptorPool::decode(pb::FILE_DESCRIPTOR_SET).unwrap();
    let http = pool.get_extension_by_name("google.api.http").unwrap();
    let flag = |method: &prost_reflect::MethodDescriptor, name: &str| {
        let ext = pool.get_extension_by_name(name).unwrap();
        method.options().get_extension(&ext).as_bool() == Some(true)
    };
    let mut routes = Vec::new();
    for service in pool.services() {
        for method in service.methods() {
            if !flag(&method, "identity.v1.requires_user")
                && !flag(&method, "identity.v1.requires_superuser")
            {
                continue;
            }
            let options = method.options();
            let rule = options.get_extension(&http);
            let rule = rule.as_message().unwrap();
            for verb in ["get", "put", "post", "delete", "patch"] {
                if let Some(PValue::String(path)) =
                    rule.get_field_by_name(verb).map(|v| v.into_owned())
                    && !path.is_empty()
                {
                    routes.push((verb.to_ascii_uppercase(), path));
                }
            }
        }
    }
    assert!(routes.len() > 25, "too few routes found: {routes:?}");
    routes
}

/// Fills every `{variable}` of a template with a UUID.
fn concrete(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').unwrap() + start;
        out.push_str("6f1c2a8e-33f5-4c8b-9b1e-2d8c5a7e9f10");
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn authentication_comes_before_reading_the_body() {
    let app = TestApp::builder(Db::Sqlite)
        .env("HTTP_BODY_READ_TIMEOUT", "60")
        .env("OAUTH_PROVIDER_ENABLED", "true")
        .spawn()
        .await
        .unwrap();
    for (method, template) in authenticated_routes() {
        let path = concrete(&template);
        // A body is announced but never sent: a server that read it before
        // authenticating would wait for it (the body timeout is 60 s).
        let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n\
             Content-Length: 60000\r\n\r\n{{"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await;
        let n = read
            .unwrap_or_else(|_| panic!("{method} {template} waited for the body"))
            .unwrap();
        let answer = String::from_utf8_lossy(&buf[..n]);
        assert!(
            answer.starts_with("HTTP/1.1 401"),
            "{method} {template}: {answer}"
        );
    }
}

db_test!(anonymous_routes_take_small_bodies, |app| {
    let padding = "x".repeat(100 * 1024);
    let answer = app
        .post(
            "/api/v1/auth/login",
            json!({"email": "a@example.com", "password": padding}),
        )
        .await;
    let item = answer.error(413, "VAL_007");
    assert_eq!(
        item["message"],
        "Request body too large. Maximum size is 64KB"
    );

    // Native gRPC: the same limit, as RESOURCE_EXHAUSTED with VAL_007.
    let mut client = app.auth_client().await;
    let status = client
        .login(pb::LoginRequest {
            email: Some("a@example.com".into()),
            password: Some(padding.clone()),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted);
    assert_eq!(reason(&status), "VAL_007");

    // Routes carrying free-form JSON take more, and validate it.
    let token = app.user("big@example.com").await;
    let token = token["access_token"].as_str().unwrap();
    let answer = app
        .call(
            "PATCH",
            "/api/v1/users/me",
            Some(token),
            Some(json!({"preferences": {"blob": padding}})),
        )
        .await;
    assert_eq!(answer.status, 422, "{}", answer.body);
    assert_eq!(answer.body["errors"][0]["field"], "preferences");
    let mut users = app.user_client().await;
    let status = users
        .update_me(with_bearer(
            pb::UpdateMeRequest {
                update: Some(pb::UserUpdate {
                    first_name: Some(prost_types::Value {
                        kind: Some(prost_types::value::Kind::StringValue("y".repeat(120_000))),
                    }),
                    ..Default::default()
                }),
            },
            token,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert_eq!(reason(&status), "VAL_001");
});

/// One native gRPC call with a raw body; returns the status.
async fn raw_grpc(app: &TestApp, path: &str, body: Vec<u8>) -> tonic::Status {
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let response = client
        .post(app.url(path))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    tonic::Status::from_header_map(response.headers()).unwrap()
}

db_test!(malformed_grpc_frames_get_precise_statuses, |app| {
    let message = pb::LoginRequest {
        email: Some("a@example.com".into()),
        password: Some("x".into()),
    }
    .encode_to_vec();
    let framed = |flag: u8, declared: usize, payload: &[u8]| {
        let mut out = vec![flag];
        out.extend_from_slice(&u32::try_from(declared).unwrap().to_be_bytes());
        out.extend_from_slice(payload);
        out
    };
    let cases = [
        (Vec::new(), "Request message is missing"),
        (
            framed(0, message.len(), &message[..3]),
            "Request message is truncated",
        ),
        (
            framed(7, message.len(), &message),
            "Invalid gRPC message flag",
        ),
        (
            [framed(0, message.len(), &message), framed(0, 0, &[])].concat(),
            "A unary call carries exactly one request message",
        ),
    ];
    for (body, text) in cases {
        let status = raw_grpc(&app, "/identity.v1.AuthService/Login", body).await;
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{text}");
        assert_eq!(status.message(), text);
        assert_eq!(
            status.get_error_details().error_info().unwrap().reason,
            "VAL_006"
        );
    }
    let status = raw_grpc(
        &app,
        "/identity.v1.AuthService/Login",
        framed(0, 50_000_000, b""),
    )
    .await;
    assert_eq!(status.code(), tonic::Code::ResourceExhausted);
    assert_eq!(reason(&status), "VAL_007");
    // A well-formed frame still works through the same path.
    let status = raw_grpc(
        &app,
        "/identity.v1.AuthService/Login",
        framed(0, message.len(), &message),
    )
    .await;
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
});

db_test!(long_violation_lists_are_capped, |app| {
    let root = app.superuser().await;
    let bad: Vec<String> = (0..100).map(|i| format!("not-a-uuid-{i}")).collect();
    let answer = app
        .post_auth(
            "/api/v1/admin/users/bulk-action",
            &root,
            json!({"action": "delete", "user_ids": bad}),
        )
        .await;
    assert_eq!(answer.status, 422);
    let items = answer.body["errors"].as_array().unwrap();
    assert_eq!(items.len(), 20);
    assert_eq!(items[0]["field"], "user_ids.0");
    assert_eq!(items[19]["message"], "81 more problems not listed");
    assert_eq!(items[19]["field"], serde_json::Value::Null);

    let mut admin = pb::admin_service_client::AdminServiceClient::new(app.grpc_channel().await);
    let status = admin
        .bulk_action(with_bearer(
            pb::BulkActionRequest {
                action: Some("delete".into()),
                user_ids: (0..1000).map(|i| format!("{i:0>40}")).collect(),
            },
            &root,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    let violations = status
        .get_error_details()
        .bad_request()
        .unwrap()
        .field_violations
        .clone();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0].field, "user_ids");
    let bad: Vec<String> = (0..100).map(|i| format!("{i:0>300}")).collect();
    let status = admin
        .bulk_action(with_bearer(
            pb::BulkActionRequest {
                action: None,
                user_ids: bad,
            },
            &root,
        ))
        .await
        .unwrap_err();
    let details = status.get_error_details();
    let violations = &details.bad_request().unwrap().field_violations;
    assert_eq!(violations.len(), 20);
    assert_eq!(violations[0].field, "action");
});
