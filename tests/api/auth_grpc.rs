//! Every Auth method over native gRPC, errors carried in ErrorInfo and
//! BadRequest.

use identityd::grpc::pb;
use tonic_types::StatusExt as _;

use crate::db_test;
use crate::helpers::{PASSWORD, reason, with_bearer};

fn register_request(email: &str) -> pb::RegisterRequest {
    pb::RegisterRequest {
        email: Some(email.to_owned()),
        password: Some(PASSWORD.to_owned()),
        first_name: Some("Grace".to_owned()),
        last_name: Some("Hopper".to_owned()),
        phone_number: None,
    }
}

fn login_request(email: &str, password: &str) -> pb::LoginRequest {
    pb::LoginRequest {
        email: Some(email.to_owned()),
        password: Some(password.to_owned()),
    }
}

db_test!(grpc_register_login_refresh_me, |app| {
    let mut auth = app.auth_client().await;
    let user = auth
        .register(register_request("Grace@Example.com"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(user.email, "grace@example.com");
    assert_eq!(user.last_name.as_deref(), Some("Hopper"));
    assert!(!user.is_superuser);

    let token = auth
        .login(login_request("grace@example.com", PASSWORD))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(token.token_type, "bearer");
    assert_eq!(token.expires_in, 900);
    let mut users = app.user_client().await;
    let me = users
        .get_me(with_bearer(pb::GetMeRequest {}, &token.access_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(me.id, user.id);

    let rotated = auth
        .refresh(pb::RefreshRequest {
            refresh_token: Some(token.refresh_token.clone()),
        })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(rotated.refresh_token, token.refresh_token);
    let reuse = auth
        .refresh(pb::RefreshRequest {
            refresh_token: Some(token.refresh_token),
        })
        .await
        .unwrap_err();
    assert_eq!(reuse.code(), tonic::Code::Unauthenticated);
    assert_eq!(reason(&reuse), "AUTH_003");
});

db_test!(grpc_errors_carry_the_envelope_codes, |app| {
    let mut auth = app.auth_client().await;
    auth.register(register_request("dupe@example.com"))
        .await
        .unwrap();
    let dup = auth
        .register(register_request("dupe@example.com"))
        .await
        .unwrap_err();
    assert_eq!(dup.code(), tonic::Code::AlreadyExists);
    assert_eq!(reason(&dup), "USER_002");

    let bad = auth
        .register(pb::RegisterRequest {
            email: Some("x".into()),
            password: Some("short".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert_eq!(reason(&bad), "VAL_001");
    let details = bad.get_error_details();
    let fields: Vec<_> = details
        .bad_request()
        .unwrap()
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect();
    assert_eq!(fields, ["email", "password", "first_name"]);

    let wrong = auth
        .login(login_request("dupe@example.com", "Wrong-Pass-123!"))
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), tonic::Code::Unauthenticated);
    assert_eq!(reason(&wrong), "AUTH_001");
    assert_eq!(wrong.message(), "Invalid email or password");

    let mut users = app.user_client().await;
    let anonymous = users.get_me(pb::GetMeRequest {}).await.unwrap_err();
    assert_eq!(reason(&anonymous), "AUTH_006");
    let bogus = users
        .get_me(with_bearer(pb::GetMeRequest {}, "a.b.c"))
        .await
        .unwrap_err();
    assert_eq!(reason(&bogus), "AUTH_006");
});

db_test!(grpc_form_login_logout_and_logout_all, |app| {
    let mut auth = app.auth_client().await;
    auth.register(register_request("ops@example.com"))
        .await
        .unwrap();
    let form = auth
        .login_form(pb::LoginFormRequest {
            username: Some(" OPS@example.com ".into()),
            password: Some(PASSWORD.into()),
            grant_type: Some("password".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let other = auth
        .login(login_request("ops@example.com", PASSWORD))
        .await
        .unwrap()
        .into_inner();

    let out = auth
        .logout(with_bearer(
            pb::LogoutRequest {
                refresh_token: Some(form.refresh_token.clone()),
            },
            &other.access_token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(out.success);
    assert_eq!(out.message, "Logged out successfully");
    let mut users = app.user_client().await;
    let ended = users
        .get_me(with_bearer(pb::GetMeRequest {}, &form.access_token))
        .await
        .unwrap_err();
    assert_eq!(reason(&ended), "AUTH_003");

    let all = auth
        .logout_all(with_bearer(pb::LogoutAllRequest {}, &other.access_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        all.message,
        "Successfully logged out from all devices (1 sessions terminated)"
    );
    let anonymous = auth.logout_all(pb::LogoutAllRequest {}).await.unwrap_err();
    assert_eq!(reason(&anonymous), "AUTH_006");
});

db_test!(grpc_password_reset, |app| {
    let mut auth = app.auth_client().await;
    auth.register(register_request("reset@example.com"))
        .await
        .unwrap();
    let answer = auth
        .request_password_reset(pb::PasswordResetRequest {
            email: Some("reset@example.com".into()),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(answer.success);
    let token = app.reset_token().await;
    auth.confirm_password_reset(pb::PasswordResetConfirmRequest {
        token: Some(token.clone()),
        new_password: Some("Fresh-Password-9!".into()),
    })
    .await
    .unwrap();
    let reused = auth
        .confirm_password_reset(pb::PasswordResetConfirmRequest {
            token: Some(token),
            new_password: Some("Fresher-Password-9!".into()),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&reused), "VAL_006");
    auth.login(login_request("reset@example.com", "Fresh-Password-9!"))
        .await
        .unwrap();
});

db_test!(grpc_reflection_lists_the_services, |app| {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let mut client = ServerReflectionClient::new(app.grpc_channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = client
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .unwrap()
        .into_inner();
    let response = stream.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected reflection answer");
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"identity.v1.AuthService"), "{names:?}");
    assert!(names.contains(&"identity.v1.UserService"), "{names:?}");

    let mut health = tonic_health::pb::health_client::HealthClient::new(app.grpc_channel().await);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
});

db_test!(reflection_describes_error_details_and_health, |app| {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let symbols = [
        "google.rpc.ErrorInfo",
        "google.rpc.BadRequest",
        "google.rpc.RetryInfo",
        "google.rpc.Status",
        "grpc.health.v1.Health",
        "identity.v1.AuthService",
    ];
    let requests: Vec<_> = symbols
        .iter()
        .map(|symbol| ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol((*symbol).to_owned())),
        })
        .collect();
    let mut client = ServerReflectionClient::new(app.grpc_channel().await);
    let mut stream = client
        .server_reflection_info(tokio_stream::iter(requests))
        .await
        .unwrap()
        .into_inner();
    for symbol in symbols {
        let response = stream.message().await.unwrap().unwrap();
        match response.message_response {
            Some(MessageResponse::FileDescriptorResponse(files)) => {
                assert!(!files.file_descriptor_proto.is_empty(), "{symbol}");
            }
            other => panic!("{symbol} not described: {other:?}"),
        }
    }
    // The older protocol version too.
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient as Alpha;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest as AlphaRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse as AlphaResponse;
    let mut alpha = Alpha::new(app.grpc_channel().await);
    let request = tonic_reflection::pb::v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(AlphaRequest::FileContainingSymbol(
            "google.rpc.ErrorInfo".to_owned(),
        )),
    };
    let mut stream = alpha
        .server_reflection_info(tokio_stream::iter(vec![request]))
        .await
        .unwrap()
        .into_inner();
    let response = stream.message().await.unwrap().unwrap();
    assert!(matches!(
        response.message_response,
        Some(AlphaResponse::FileDescriptorResponse(_))
    ));
});

db_test!(gzip_requests_and_answers_work, |app| {
    use tonic::codec::CompressionEncoding;
    let mut auth = pb::auth_service_client::AuthServiceClient::new(app.grpc_channel().await)
        .send_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Gzip);
    let user = auth
        .register(pb::RegisterRequest {
            email: Some("zipped@example.com".into()),
            password: Some(PASSWORD.into()),
            first_name: Some("Zip".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(user.get_ref().email, "zipped@example.com");
    let token = auth
        .login(login_request("zipped@example.com", PASSWORD))
        .await
        .unwrap();
    assert!(!token.get_ref().access_token.is_empty());
    // Errors come back as usual.
    let refused = auth
        .login(login_request("zipped@example.com", "Wrong-Password-1!"))
        .await
        .unwrap_err();
    assert_eq!(reason(&refused), "AUTH_001");

    // The answer really is compressed when the client accepts gzip.
    let message = pb::LoginRequest {
        email: Some("zipped@example.com".into()),
        password: Some(PASSWORD.into()),
    };
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let payload = prost::Message::encode_to_vec(&message);
    let mut body = vec![0u8];
    body.extend_from_slice(&u32::try_from(payload.len()).unwrap().to_be_bytes());
    body.extend_from_slice(&payload);
    let response = client
        .post(app.url("/identity.v1.AuthService/Login"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("grpc-accept-encoding", "gzip")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response
            .headers()
            .get("grpc-encoding")
            .map(|v| v.to_str().unwrap()),
        Some("gzip")
    );
    let bytes = response.bytes().await.unwrap();
    assert_eq!(bytes[0], 1, "the answer's frame is marked compressed");
});
