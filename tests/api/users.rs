//! Users over REST (and a gRPC sample): profile, password, by-id access
//! rules, soft delete, the superuser listing.

use identityd::grpc::pb;
use serde_json::json;

use crate::db_test;
use crate::helpers::{PASSWORD, reason, with_bearer};

db_test!(
    update_me_changes_the_profile_and_refuses_privileged_members,
    |app| {
        let (token, _) = app.member("me@example.com").await;
        let t = Some(token.as_str());
        let updated = app
        .call("PATCH", "/api/v1/users/me", t, Some(json!({
            "first_name": " Grace ", "last_name": "Hopper", "phone_number": "+1 (555) 010-9999",
            "locale": "EN-gb", "preferences": {"theme": "dark", "n": 1}, "email": "ignored@example.com"})))
        .await;
        assert_eq!(updated.status, 200, "{}", updated.body);
        assert_eq!(updated.body["first_name"], "Grace");
        assert_eq!(updated.body["last_name"], "Hopper");
        assert_eq!(updated.body["phone_number"], "+15550109999");
        assert_eq!(updated.body["locale"], "en-gb");
        assert_eq!(
            updated.body["preferences"],
            json!({"theme": "dark", "n": 1})
        );
        assert_eq!(updated.body["email"], "me@example.com");

        let cleared = app
            .call(
                "PATCH",
                "/api/v1/users/me",
                t,
                Some(json!({"last_name": null, "preferences": null})),
            )
            .await;
        assert_eq!(cleared.body["last_name"], json!(null));
        assert_eq!(cleared.body["preferences"], json!(null));
        assert_eq!(cleared.body["first_name"], "Grace");

        let refused = app
        .call("PATCH", "/api/v1/users/me", t, Some(json!({"password": "x", "is_superuser": true, "first_name": null, "locale": "fr"})))
        .await;
        assert_eq!(refused.status, 422, "{}", refused.body);
        let fields: Vec<_> = refused.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(fields, ["first_name", "locale", "is_superuser", "password"]);

        let self_deactivate = app
            .call(
                "PATCH",
                "/api/v1/users/me",
                t,
                Some(json!({"is_active": false})),
            )
            .await;
        let item = self_deactivate.error(403, "AUTH_004");
        assert_eq!(item["message"], "Only superusers can change is_active");
        assert_eq!(item["field"], "is_active");
        let same = app
            .call(
                "PATCH",
                "/api/v1/users/me",
                t,
                Some(json!({"is_active": true})),
            )
            .await;
        assert_eq!(same.status, 200);
        let nul = app
            .call(
                "PATCH",
                "/api/v1/users/me",
                t,
                Some(json!({"first_name": "a\u{0}"})),
            )
            .await;
        assert_eq!(nul.error(422, "VAL_001")["field"], "first_name");
        let long = app
            .call(
                "PATCH",
                "/api/v1/users/me",
                t,
                Some(json!({"last_name": "x".repeat(101)})),
            )
            .await;
        assert_eq!(long.error(422, "VAL_001")["field"], "last_name");
    }
);

db_test!(change_password_keeps_only_the_current_session, |app| {
    app.register("pw@example.com").await;
    let current = app.login("pw@example.com", PASSWORD).await;
    let other = app.login("pw@example.com", PASSWORD).await;
    let token = current["access_token"].as_str().unwrap();
    let wrong = app
        .call(
            "PATCH",
            "/api/v1/users/me/password",
            Some(token),
            Some(
                json!({"current_password": "Wrong-Pass-123!", "new_password": "New-Password-456!"}),
            ),
        )
        .await;
    assert_eq!(
        wrong.error(403, "AUTH_001")["message"],
        "Current password is incorrect"
    );
    let weak = app
        .call(
            "PATCH",
            "/api/v1/users/me/password",
            Some(token),
            Some(json!({"current_password": PASSWORD, "new_password": "weak"})),
        )
        .await;
    assert_eq!(weak.error(422, "VAL_001")["field"], "new_password");
    let ok = app
        .call(
            "PATCH",
            "/api/v1/users/me/password",
            Some(token),
            Some(json!({"current_password": PASSWORD, "new_password": "New-Password-456!"})),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["message"], "Password changed successfully");
    assert_eq!(app.get_auth("/api/v1/users/me", token).await.status, 200);
    app.get_auth("/api/v1/users/me", other["access_token"].as_str().unwrap())
        .await
        .error(401, "AUTH_003");
    app.login("pw@example.com", "New-Password-456!").await;
});

db_test!(users_by_id_follow_the_permission_rules, |app| {
    let (alice, alice_id) = app.member("alice@example.com").await;
    let (bob, bob_id) = app.member("bob@example.com").await;
    let root = app.superuser().await;

    assert_eq!(
        app.get_auth(&format!("/api/v1/users/{alice_id}"), &alice)
            .await
            .status,
        200
    );
    let other = app
        .get_auth(&format!("/api/v1/users/{bob_id}"), &alice)
        .await;
    assert_eq!(
        other.error(403, "AUTH_004")["message"],
        "Not enough permissions to view this user"
    );
    let missing = uuid::Uuid::new_v4();
    app.get_auth(&format!("/api/v1/users/{missing}"), &alice)
        .await
        .error(403, "AUTH_004");
    assert_eq!(
        app.get_auth(&format!("/api/v1/users/{missing}"), &root)
            .await
            .error(404, "SYS_002")["message"],
        "User not found"
    );
    let bad = app.get_auth("/api/v1/users/not-a-uuid", &root).await;
    assert_eq!(bad.error(422, "VAL_001")["field"], "user_id");
    let upper = app
        .get_auth(
            &format!("/api/v1/users/{}", bob_id.to_uppercase().replace('-', "")),
            &root,
        )
        .await;
    assert_eq!(upper.body["id"], bob_id);

    let patch = app
        .call(
            "PATCH",
            &format!("/api/v1/users/{bob_id}"),
            Some(&alice),
            Some(json!({"first_name": "X"})),
        )
        .await;
    assert_eq!(
        patch.error(403, "AUTH_004")["message"],
        "Not enough permissions to update this user"
    );
    let deactivate = app
        .call(
            "PATCH",
            &format!("/api/v1/users/{bob_id}"),
            Some(&root),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(deactivate.status, 200, "{}", deactivate.body);
    assert_eq!(deactivate.body["is_active"], json!(false));
    app.get_auth("/api/v1/users/me", &bob)
        .await
        .error(401, "AUTH_003");

    let me = app.get_auth("/api/v1/users/me", &root).await;
    let root_id = me.body["id"].as_str().unwrap();
    let self_off = app
        .call(
            "PATCH",
            &format!("/api/v1/users/{root_id}"),
            Some(&root),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(
        self_off.error(403, "AUTH_007")["message"],
        "Cannot deactivate your own account"
    );

    // DELETE /users/me routes to /users/{user_id}: 422 on user_id.
    let me_delete = app
        .call("DELETE", "/api/v1/users/me", Some(&root), None)
        .await;
    assert_eq!(me_delete.error(422, "VAL_001")["field"], "user_id");
});

db_test!(delete_is_soft_and_final, |app| {
    let (victim, victim_id) = app.member("victim@example.com").await;
    let (plain, _) = app.member("plain@example.com").await;
    let root = app.superuser().await;
    let path = format!("/api/v1/users/{victim_id}");
    app.call("DELETE", &path, Some(&plain), None)
        .await
        .error(403, "AUTH_004");
    let deleted = app.call("DELETE", &path, Some(&root), None).await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(
        deleted.body["message"],
        format!("User {victim_id} deleted successfully")
    );
    app.get_auth("/api/v1/users/me", &victim)
        .await
        .error(401, "AUTH_003");
    app.post(
        "/api/v1/auth/login",
        json!({"email": "victim@example.com", "password": PASSWORD}),
    )
    .await
    .error(401, "AUTH_001");
    let again = app.call("DELETE", &path, Some(&root), None).await;
    assert_eq!(again.error(404, "SYS_002")["message"], "User not found");
    let seen = app.get_auth(&path, &root).await;
    assert_eq!(seen.body["is_active"], json!(false));
    app.post(
        "/api/v1/auth/register",
        json!({"email": "victim@example.com", "password": PASSWORD, "first_name": "V"}),
    )
    .await
    .error(409, "USER_002");
    let me = app.get_auth("/api/v1/users/me", &root).await;
    let own = app
        .call(
            "DELETE",
            &format!("/api/v1/users/{}", me.body["id"].as_str().unwrap()),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(
        own.error(403, "AUTH_007")["message"],
        "Cannot delete your own account"
    );
    let ended = app
        .get_auth("/api/v1/admin/sessions?is_active=false", &root)
        .await;
    assert_eq!(ended.status, 200);
    assert!(
        ended.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["user_id"] != victim_id)
    );
    let listed = app.get_auth("/api/v1/users?limit=100", &root).await;
    assert!(
        listed.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["id"] != victim_id)
    );
});

db_test!(listing_paginates_filters_and_sorts, |app| {
    let root = app.superuser().await;
    for name in ["carol", "dave", "erin", "frank", "grace"] {
        app.register(&format!("{name}@example.com")).await;
    }
    let (plain, _) = app.member("zed@example.com").await;
    let page = app
        .get_auth("/api/v1/users?page=2&limit=2&sort_by=email", &root)
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let emails: Vec<_> = page.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(emails, ["erin@example.com", "frank@example.com"]);
    assert_eq!(
        page.body["pagination"],
        json!({"total": 7, "page": 2, "page_size": 2, "total_pages": 4, "has_next": true, "has_prev": true})
    );
    let desc = app
        .get_auth("/api/v1/users?sort_by=email&sort_order=desc&limit=1", &root)
        .await;
    assert_eq!(desc.body["data"][0]["email"], "zed@example.com");
    let supers = app.get_auth("/api/v1/users?is_superuser=true", &root).await;
    assert_eq!(supers.body["pagination"]["total"], json!(1));
    let past = app.get_auth("/api/v1/users?page=99", &root).await;
    assert_eq!(past.body["data"], json!([]));
    assert_eq!(past.body["pagination"]["total"], json!(7));
    app.get_auth("/api/v1/users", &plain)
        .await
        .error(403, "AUTH_004");
    for (query, field) in [
        ("page=0", "page"),
        ("limit=101", "limit"),
        ("page=100000000000000000000", "page"),
        ("sort_by=password_hash", "sort_by"),
        ("sort_order=up", "sort_order"),
        ("is_active=maybe", "is_active"),
    ] {
        let bad = app.get_auth(&format!("/api/v1/users?{query}"), &root).await;
        assert_eq!(bad.error(422, "VAL_001")["field"], field, "{query}");
    }
});

db_test!(users_over_grpc_share_the_codes, |app| {
    let (token, id) = app.member("grpc-user@example.com").await;
    let mut users = app.user_client().await;
    let me = users
        .get_user(with_bearer(
            pb::GetUserRequest {
                user_id: id.clone(),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(me.email, "grpc-user@example.com");
    let bad = users
        .get_user(with_bearer(
            pb::GetUserRequest {
                user_id: "nope".into(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(reason(&bad), "VAL_001");
    let listing = users
        .list_users(with_bearer(pb::ListUsersRequest::default(), &token))
        .await
        .unwrap_err();
    assert_eq!(reason(&listing), "AUTH_004");
    let update = pb::UserUpdate {
        first_name: Some(prost_types::Value {
            kind: Some(prost_types::value::Kind::StringValue("Linus".into())),
        }),
        ..Default::default()
    };
    let updated = users
        .update_me(with_bearer(
            pb::UpdateMeRequest {
                update: Some(update),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.first_name, "Linus");
    let changed = users
        .change_password(with_bearer(
            pb::ChangePasswordRequest {
                current_password: Some(PASSWORD.into()),
                new_password: Some("Another-Pass-789!".into()),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(changed.success);
});

db_test!(preferences_numbers_are_stored_exactly_or_refused, |app| {
    let (token, _) = app.member("numbers@example.com").await;
    let answer = app
        .call(
            "PATCH",
            "/api/v1/users/me",
            Some(&token),
            Some(json!({"preferences": {"id": 12_345_678_901_234_567_890_u64}})),
        )
        .await;
    assert_eq!(answer.error(422, "VAL_001")["field"], "preferences.id");
    let answer = app
        .call(
            "PATCH",
            "/api/v1/users/me",
            Some(&token),
            Some(json!({"preferences": {"id": 9_007_199_254_740_991_u64, "ratio": 0.1}})),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let me = app.get_auth("/api/v1/users/me", &token).await;
    assert_eq!(
        me.body["preferences"],
        json!({"id": 9_007_199_254_740_991_u64, "ratio": 0.1})
    );
});
