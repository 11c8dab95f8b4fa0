//! The caller's sessions over REST and gRPC.

use identityd::grpc::pb;
use serde_json::json;

use crate::db_test;
use crate::helpers::{PASSWORD, reason, with_bearer};

db_test!(sessions_list_marks_the_current_one, |app| {
    app.register("sess@example.com").await;
    let phone = app.login("sess@example.com", PASSWORD).await;
    app.clock.advance(chrono::Duration::seconds(5));
    let laptop = app.login("sess@example.com", PASSWORD).await;
    let token = laptop["access_token"].as_str().unwrap();
    let list = app.get_auth("/api/v1/sessions/me", token).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.body["total"], json!(2));
    let sessions = list.body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(
        sessions
            .iter()
            .filter(|s| s["is_current"] == json!(true))
            .count(),
        1
    );
    let current = sessions
        .iter()
        .find(|s| s["is_current"] == json!(true))
        .unwrap();
    let keys: Vec<_> = current.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys.len(), 10, "{keys:?}");
    assert!(current.get("user_agent").is_none());
    assert_eq!(current["location_city"], json!(null));

    let phone_id = sessions
        .iter()
        .find(|s| s["is_current"] == json!(false))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = app
        .call(
            "DELETE",
            &format!("/api/v1/sessions/{phone_id}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_eq!(revoked.body["message"], "Session revoked: Unknown device");
    app.get_auth("/api/v1/users/me", phone["access_token"].as_str().unwrap())
        .await
        .error(401, "AUTH_003");
    let again = app
        .call(
            "DELETE",
            &format!("/api/v1/sessions/{phone_id}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(again.status, 200);
    let list = app.get_auth("/api/v1/sessions/me", token).await;
    assert_eq!(list.body["total"], json!(1));

    let (other, _) = app.member("other-sess@example.com").await;
    let foreign = app
        .call(
            "DELETE",
            &format!("/api/v1/sessions/{phone_id}"),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(
        foreign.error(403, "AUTH_004")["message"],
        "You can only revoke your own sessions"
    );
    let missing = app
        .call(
            "DELETE",
            &format!("/api/v1/sessions/{}", uuid::Uuid::new_v4()),
            Some(token),
            None,
        )
        .await;
    assert_eq!(
        missing.error(404, "SYS_002")["message"],
        "Session not found"
    );
    let bad = app
        .call("DELETE", "/api/v1/sessions/xyz", Some(token), None)
        .await;
    assert_eq!(bad.error(422, "VAL_001")["field"], "session_id");
});

db_test!(expired_sessions_are_cleaned_up, |app| {
    app.register("old@example.com").await;
    app.login("old@example.com", PASSWORD).await;
    app.login("old@example.com", PASSWORD).await;
    app.clock.advance(chrono::Duration::days(8));
    let fresh = app.login("old@example.com", PASSWORD).await;
    let token = fresh["access_token"].as_str().unwrap();
    let cleaned = app
        .call("DELETE", "/api/v1/sessions/me/expired", Some(token), None)
        .await;
    assert_eq!(cleaned.status, 200, "{}", cleaned.body);
    assert_eq!(cleaned.body["message"], "Cleaned up 2 expired sessions");
    assert_eq!(app.sessions_of(&fresh).await.len(), 1);
});

db_test!(sessions_over_grpc, |app| {
    let (token, _) = app.member("grpc-sess@example.com").await;
    let mut client = identityd::grpc::pb::session_service_client::SessionServiceClient::new(
        app.grpc_channel().await,
    );
    let list = client
        .list_my_sessions(with_bearer(pb::ListMySessionsRequest {}, &token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.total, 1);
    assert!(list.sessions[0].is_current);
    let anonymous = client
        .list_my_sessions(pb::ListMySessionsRequest {})
        .await
        .unwrap_err();
    assert_eq!(reason(&anonymous), "AUTH_006");
    let revoked = client
        .revoke_session(with_bearer(
            pb::RevokeSessionRequest {
                session_id: list.sessions[0].id.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(revoked.message.starts_with("Session revoked"));
    let after = client
        .list_my_sessions(with_bearer(pb::ListMySessionsRequest {}, &token))
        .await
        .unwrap_err();
    assert_eq!(reason(&after), "AUTH_003");
});

db_test!(cached_bearer_lookups_never_outlive_a_local_write, env: [
    ("AUTH_CACHE_TTL_MS", "10000"),
], |app| {
    // With the cache on, a token whose session or user changes on this
    // server is judged on the change at once, over REST and gRPC.
    app.register("cache@example.com").await;
    let laptop = app.login("cache@example.com", PASSWORD).await;
    let phone = app.login("cache@example.com", PASSWORD).await;
    let laptop_refresh = laptop["refresh_token"].as_str().unwrap().to_owned();
    let (laptop, phone) = (
        laptop["access_token"].as_str().unwrap().to_owned(),
        phone["access_token"].as_str().unwrap().to_owned(),
    );
    for _ in 0..2 {
        assert_eq!(app.get_auth("/api/v1/users/me", &phone).await.status, 200);
    }
    let phone_id = app.get_auth("/api/v1/sessions/me", &phone).await.body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["is_current"] == json!(true))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = app
        .call("DELETE", &format!("/api/v1/sessions/{phone_id}"), Some(&laptop), None)
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    app.get_auth("/api/v1/users/me", &phone).await.error(401, "AUTH_003");

    // A profile change shows in the next read.
    let renamed = app
        .call("PATCH", "/api/v1/users/me", Some(&laptop), Some(json!({"first_name": "Grace"})))
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    assert_eq!(app.get_auth("/api/v1/users/me", &laptop).await.body["first_name"], "Grace");

    // gRPC: a cached session ends with Logout.
    let mut users = app.user_client().await;
    for _ in 0..2 {
        users.get_me(with_bearer(pb::GetMeRequest {}, &laptop)).await.unwrap();
    }
    let mut auth = app.auth_client().await;
    auth.logout(with_bearer(pb::LogoutRequest { refresh_token: Some(laptop_refresh) }, &laptop)).await.unwrap();
    let ended = users.get_me(with_bearer(pb::GetMeRequest {}, &laptop)).await.unwrap_err();
    assert_eq!(reason(&ended), "AUTH_003");

    // A user deactivated by an administrator is refused at once.
    let tablet = app.login("cache@example.com", PASSWORD).await;
    let (tablet, id) = (
        tablet["access_token"].as_str().unwrap().to_owned(),
        tablet["user"]["id"].as_str().unwrap().to_owned(),
    );
    assert_eq!(app.get_auth("/api/v1/users/me", &tablet).await.status, 200);
    let root = app.superuser().await;
    let deactivated = app
        .call("POST", &format!("/api/v1/admin/users/{id}/deactivate"), Some(&root), None)
        .await;
    assert_eq!(deactivated.status, 200, "{}", deactivated.body);
    assert_ne!(app.get_auth("/api/v1/users/me", &tablet).await.status, 200);
});
