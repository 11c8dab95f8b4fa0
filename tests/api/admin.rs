//! Administration over REST (and a gRPC sample).

use identityd::grpc::pb;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{PASSWORD, reason, with_bearer};

db_test!(admin_routes_need_a_superuser_before_anything_else, |app| {
    let (plain, _) = app.member("plain@example.com").await;
    for (method, path) in [
        ("GET", "/api/v1/admin/stats"),
        ("GET", "/api/v1/admin/users?page=0"),
        ("POST", "/api/v1/admin/users"),
        ("GET", "/api/v1/admin/users/not-a-uuid"),
        ("GET", "/api/v1/admin/sessions"),
        ("DELETE", "/api/v1/admin/organizations/x"),
    ] {
        let answer = app.call(method, path, Some(&plain), Some(json!({}))).await;
        assert_eq!(
            answer.error(403, "AUTH_004")["message"],
            "Superuser privileges required",
            "{method} {path}"
        );
        app.call(method, path, None, None)
            .await
            .error(401, "AUTH_006");
    }
});

db_test!(admin_creates_updates_and_deletes_users, |app| {
    let root = app.superuser().await;
    let created = app
        .call("POST", "/api/v1/admin/users", Some(&root),
              Some(json!({"email": "Staff@Example.com", "password": PASSWORD, "first_name": "Staff", "is_superuser": true, "is_active": false})))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["is_superuser"], json!(true));
    assert_eq!(created.body["is_active"], json!(false));
    assert_eq!(created.body["preferences"], json!({}));
    let id = created.body["id"].as_str().unwrap().to_owned();
    let dup = app
        .call(
            "POST",
            "/api/v1/admin/users",
            Some(&root),
            Some(json!({"email": "staff@example.com", "password": PASSWORD, "first_name": "S"})),
        )
        .await;
    let item = dup.error(409, "USER_002");
    assert_eq!(
        item["message"],
        "User with email staff@example.com already exists"
    );
    assert_eq!(item["field"], "email");

    let path = format!("/api/v1/admin/users/{id}");
    let updated = app
        .call(
            "PUT",
            &path,
            Some(&root),
            Some(
                json!({"is_active": true, "is_superuser": false, "password": "Admin-Set-Pass-1!"}),
            ),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.body["is_superuser"], json!(false));
    app.login("staff@example.com", "Admin-Set-Pass-1!").await;

    let me = app.get_auth("/api/v1/users/me", &root).await;
    let me_path = format!("/api/v1/admin/users/{}", me.body["id"].as_str().unwrap());
    for (body, message) in [
        (
            json!({"is_superuser": false}),
            "Cannot change your own superuser status",
        ),
        (
            json!({"is_active": false}),
            "Cannot deactivate your own account",
        ),
        (
            json!({"password": "Another-Pass-123!"}),
            "Use PATCH /users/me/password to change your own password",
        ),
    ] {
        assert_eq!(
            app.call("PUT", &me_path, Some(&root), Some(body))
                .await
                .error(403, "AUTH_007")["message"],
            message
        );
    }
    assert_eq!(
        app.call(
            "PUT",
            &me_path,
            Some(&root),
            Some(json!({"is_superuser": true}))
        )
        .await
        .status,
        200
    );

    let deactivated = app
        .call("POST", &format!("{path}/deactivate"), Some(&root), None)
        .await;
    assert_eq!(
        deactivated.body["message"],
        "User staff@example.com has been deactivated"
    );
    app.post(
        "/api/v1/auth/login",
        json!({"email": "staff@example.com", "password": "Admin-Set-Pass-1!"}),
    )
    .await
    .error(401, "AUTH_005");
    let activated = app
        .call("POST", &format!("{path}/activate"), Some(&root), None)
        .await;
    assert_eq!(
        activated.body["message"],
        "User staff@example.com has been activated"
    );
    let self_off = app
        .call("POST", &format!("{me_path}/deactivate"), Some(&root), None)
        .await;
    self_off.error(403, "AUTH_007");
    let deleted = app.call("DELETE", &path, Some(&root), None).await;
    assert_eq!(
        deleted.body["message"],
        "User staff@example.com has been deleted"
    );
    assert_eq!(
        app.get_auth(&path, &root).await.body["is_active"],
        json!(false)
    );
    app.call("POST", &format!("{path}/activate"), Some(&root), None)
        .await
        .error(404, "SYS_002");
    app.call(
        "PUT",
        &path,
        Some(&root),
        Some(json!({"first_name": "Zombie"})),
    )
    .await
    .error(404, "SYS_002");
});

db_test!(admin_user_search_is_literal_and_case_insensitive, |app| {
    let root = app.superuser().await;
    for (email, first) in [
        ("ann@example.com", "Ann"),
        ("an_n@example.com", "Bob"),
        ("zoe@example.com", "Annabel"),
        ("emile@example.com", "Émile"),
    ] {
        app.clock.advance(chrono::Duration::seconds(1));
        app.call(
            "POST",
            "/api/v1/admin/users",
            Some(&root),
            Some(json!({"email": email, "password": PASSWORD, "first_name": first})),
        )
        .await;
    }
    let search = |term: &str| {
        let term: String = form_urlencoded::byte_serialize(term.as_bytes()).collect();
        format!("/api/v1/admin/users?search={term}&sort_by=email")
    };
    let found = app.get_auth(&search("ANN"), &root).await;
    let emails: Vec<_> = found.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(emails, ["ann@example.com", "zoe@example.com"]);
    let unicode = app.get_auth(&search("éMILE"), &root).await;
    assert_eq!(
        unicode.body["pagination"]["total"],
        json!(1),
        "{}",
        unicode.body
    );
    let underscore = app.get_auth(&search("n_n"), &root).await;
    assert_eq!(underscore.body["pagination"]["total"], json!(1));
    let percent = app.get_auth(&search("%"), &root).await;
    assert_eq!(percent.body["pagination"]["total"], json!(0));
    let sql = app.get_auth(&search("' OR 1=1 --"), &root).await;
    assert_eq!(sql.status, 200);
    assert_eq!(sql.body["pagination"]["total"], json!(0));
    let long = app.get_auth(&search(&"x".repeat(256)), &root).await;
    assert_eq!(long.error(422, "VAL_001")["field"], "search");
    let nul = app
        .get_auth("/api/v1/admin/users?search=a%00b", &root)
        .await;
    assert_eq!(nul.error(422, "VAL_001")["field"], "search");
    let default_order = app.get_auth("/api/v1/admin/users", &root).await;
    assert_eq!(default_order.body["data"][0]["email"], "emile@example.com");
});

db_test!(bulk_actions_skip_the_caller_and_unknown_ids, |app| {
    let root = app.superuser().await;
    let me = app.get_auth("/api/v1/users/me", &root).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (victim, victim_id) = app.member("bulk@example.com").await;
    let ghost = uuid::Uuid::new_v4().to_string();
    let result = app
        .call(
            "POST",
            "/api/v1/admin/users/bulk-action",
            Some(&root),
            Some(json!({"action": "deactivate", "user_ids": [victim_id, victim_id, ghost, me]})),
        )
        .await;
    assert_eq!(result.status, 200, "{}", result.body);
    assert_eq!(
        result.body,
        json!({"success": false, "affected_count": 1, "failed_count": 2,
        "message": "Bulk deactivate: 1 users affected, 2 skipped", "failed_ids": [ghost, me]})
    );
    app.get_auth("/api/v1/users/me", &victim)
        .await
        .error(401, "AUTH_003");
    let activate = app
        .call(
            "POST",
            "/api/v1/admin/users/bulk-action",
            Some(&root),
            Some(json!({"action": "activate", "user_ids": [victim_id]})),
        )
        .await;
    assert_eq!(activate.body["success"], json!(true));
    for (body, field) in [
        (
            json!({"action": "explode", "user_ids": [victim_id]}),
            "action",
        ),
        (json!({"action": "delete", "user_ids": []}), "user_ids"),
        (
            json!({"action": "delete", "user_ids": [victim_id, "nope"]}),
            "user_ids.1",
        ),
        (json!({"user_ids": [victim_id]}), "action"),
    ] {
        let bad = app
            .call(
                "POST",
                "/api/v1/admin/users/bulk-action",
                Some(&root),
                Some(body),
            )
            .await;
        assert_eq!(bad.error(422, "VAL_001")["field"], field);
    }
    let many: Vec<String> = (0..101).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let too_many = app
        .call(
            "POST",
            "/api/v1/admin/users/bulk-action",
            Some(&root),
            Some(json!({"action": "delete", "user_ids": many})),
        )
        .await;
    assert_eq!(too_many.error(422, "VAL_001")["field"], "user_ids");
});

db_test!(admin_organizations_crud_and_members, |app| {
    let root = app.superuser().await;
    let (_, user_id) = app.member("orgy@example.com").await;
    let created = app
        .call(
            "POST",
            "/api/v1/admin/organizations",
            Some(&root),
            Some(json!({"name": "Beta", "slug": "beta", "settings": null})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["member_count"], json!(0));
    assert_eq!(created.body["settings"], json!(null));
    assert_eq!(created.body["is_active"], json!(true));
    let id = created.body["id"].as_str().unwrap().to_owned();
    let dup = app
        .call(
            "POST",
            "/api/v1/admin/organizations",
            Some(&root),
            Some(json!({"name": "B2", "slug": "beta"})),
        )
        .await;
    dup.error(409, "SYS_005");
    let missing = app
        .call(
            "POST",
            "/api/v1/admin/organizations",
            Some(&root),
            Some(json!({"name": "B3"})),
        )
        .await;
    assert_eq!(missing.error(422, "VAL_001")["field"], "slug");

    let base = format!("/api/v1/admin/organizations/{id}");
    let added = app
        .call(
            "POST",
            &format!("{base}/members"),
            Some(&root),
            Some(json!({"user_id": user_id, "role": "owner"})),
        )
        .await;
    assert_eq!(
        added.body["message"],
        "User orgy@example.com added to organization Beta"
    );
    let dup_member = app
        .call(
            "POST",
            &format!("{base}/members"),
            Some(&root),
            Some(json!({"user_id": user_id})),
        )
        .await;
    assert_eq!(dup_member.error(409, "USER_002")["field"], "user_id");
    let listed = app.get_auth(&format!("{base}/members"), &root).await;
    assert_eq!(listed.body["pagination"]["total"], json!(1));
    assert_eq!(listed.body["data"][0]["role"], "owner");
    // The admin endpoint ignores the last-owner rule.
    let removed = app
        .call(
            "DELETE",
            &format!("{base}/members/{user_id}"),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(
        removed.body["message"],
        "User orgy@example.com removed from organization Beta"
    );
    let not_member = app
        .call(
            "DELETE",
            &format!("{base}/members/{}", uuid::Uuid::new_v4()),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(
        not_member.error(404, "SYS_002")["message"],
        "User not found"
    );

    let updated = app
        .call("PUT", &base, Some(&root), Some(json!({"is_active": false})))
        .await;
    assert_eq!(updated.body["is_active"], json!(false));
    let list = app
        .get_auth(
            "/api/v1/admin/organizations?is_active=false&search=BET",
            &root,
        )
        .await;
    assert_eq!(list.body["pagination"]["total"], json!(1));
    let deleted = app.call("DELETE", &base, Some(&root), None).await;
    assert_eq!(
        deleted.body["message"],
        "Organization Beta has been deleted"
    );
    app.get_auth(&base, &root).await.error(404, "SYS_002");
});

db_test!(admin_sessions_and_stats, |app| {
    let root = app.superuser().await;
    app.register("s1@example.com").await;
    let t1 = app.login("s1@example.com", PASSWORD).await;
    app.post_auth(
        "/api/v1/auth/logout",
        t1["access_token"].as_str().unwrap(),
        json!({"refresh_token": t1["refresh_token"]}),
    )
    .await;
    let active = app.get_auth("/api/v1/admin/sessions", &root).await;
    assert_eq!(active.status, 200, "{}", active.body);
    assert!(
        active.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["is_active"] == json!(true))
    );
    let ended = app
        .get_auth("/api/v1/admin/sessions?is_active=false", &root)
        .await;
    let ended = ended.body["data"].as_array().unwrap().clone();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0]["user_email"], "s1@example.com");
    assert_eq!(ended[0]["user_full_name"], "Ada");
    assert_eq!(ended[0]["is_active"], json!(false));

    let stats = app.get_auth("/api/v1/admin/stats", &root).await;
    assert_eq!(stats.status, 200, "{}", stats.body);
    let growth = stats.body["user_growth"].as_array().unwrap();
    assert_eq!(growth.len(), 30);
    assert_eq!(growth[29]["total_users"], json!(2));
    let today = identityd::clock::Clock::now(app.clock.as_ref())
        .as_datetime()
        .format("%b %d")
        .to_string();
    assert_eq!(growth[29]["date"], json!(today));
    assert_eq!(
        stats.body["registration_activity"]
            .as_array()
            .unwrap()
            .len(),
        14
    );
    assert_eq!(
        stats.body["registration_activity"][13]["registrations"],
        json!(2)
    );
    assert_eq!(
        stats.body["user_status"],
        json!([{"name": "Active", "value": 2}, {"name": "Inactive", "value": 0}])
    );
    assert_eq!(stats.body["organization_distribution"], json!([]));
    // Deleted users leave every figure.
    let (_, gone) = app.member("gone-stats@example.com").await;
    app.call(
        "DELETE",
        &format!("/api/v1/admin/users/{gone}"),
        Some(&root),
        None,
    )
    .await;
    let after = app.get_auth("/api/v1/admin/stats", &root).await;
    assert_eq!(after.body["user_growth"][29]["total_users"], json!(2));
    assert_eq!(
        after.body["registration_activity"][13]["registrations"],
        json!(2)
    );
    assert_eq!(after.body["user_status"], stats.body["user_status"]);
});

db_test!(admin_over_grpc, |app| {
    let root = app.superuser().await;
    let mut admin = pb::admin_service_client::AdminServiceClient::new(app.grpc_channel().await);
    let users = admin
        .list_users(with_bearer(pb::ListUsersRequest::default(), &root))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(users.pagination.unwrap().total, 1);
    let (plain, _) = app.member("g@example.com").await;
    let denied = admin
        .get_stats(with_bearer(pb::GetStatsRequest {}, &plain))
        .await
        .unwrap_err();
    assert_eq!(reason(&denied), "AUTH_004");
    let bad = admin
        .bulk_action(with_bearer(
            pb::BulkActionRequest {
                action: Some("delete".into()),
                user_ids: vec!["x".into()],
            },
            &root,
        ))
        .await
        .unwrap_err();
    assert_eq!(reason(&bad), "VAL_001");
});

#[tokio::test]
async fn demo_mode_shows_synthetic_stats_on_an_empty_database() {
    let app = crate::helpers::TestApp::builder(crate::helpers::Db::Sqlite)
        .env("DEMO_MODE", "true")
        .spawn()
        .await
        .unwrap();
    let root = app.superuser().await;
    // Demo mode seeds demo users: the figures are real ones then.
    let seeded = app.get_auth("/api/v1/admin/stats", &root).await;
    assert_eq!(seeded.body["user_growth"][29]["total_users"], json!(7));
    // Once they are deleted again, an (almost) empty database shows synthetic figures.
    let users = app.get_auth("/api/v1/admin/users?limit=100", &root).await;
    let demo_ids: Vec<String> = users.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["is_superuser"] == json!(false))
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(demo_ids.len(), 6);
    let deleted = app
        .call(
            "POST",
            "/api/v1/admin/users/bulk-action",
            Some(&root),
            Some(json!({"action": "delete", "user_ids": demo_ids})),
        )
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    let stats = app.get_auth("/api/v1/admin/stats", &root).await;
    assert_eq!(stats.body["user_growth"].as_array().unwrap().len(), 30);
    assert!(
        stats.body["user_growth"][29]["total_users"]
            .as_i64()
            .unwrap()
            > 1
    );
    assert_eq!(
        stats.body["organization_distribution"][0]["name"],
        "Acme Corp"
    );
    // With real users the real figures come back.
    app.register("real@example.com").await;
    let real = app.get_auth("/api/v1/admin/stats", &root).await;
    assert_eq!(real.body["user_growth"][29]["total_users"], json!(2));
}

db_test!(stats_group_organizations_by_active_members, |app| {
    let root = app.superuser().await;
    let mut ids = Vec::new();
    for (name, slug) in [("Zeta", "zeta"), ("Alpha", "alpha")] {
        let org = app
            .call(
                "POST",
                "/api/v1/admin/organizations",
                Some(&root),
                Some(json!({"name": name, "slug": slug})),
            )
            .await;
        ids.push(org.body["id"].as_str().unwrap().to_owned());
    }
    for i in 0..3 {
        let (_, user) = app.member(&format!("m{i}@example.com")).await;
        // Zeta gets three members, Alpha one.
        let org = if i == 0 { &ids[1] } else { &ids[0] };
        app.call(
            "POST",
            &format!("/api/v1/admin/organizations/{org}/members"),
            Some(&root),
            Some(json!({"user_id": user})),
        )
        .await;
        if i == 0 {
            app.call(
                "POST",
                &format!("/api/v1/admin/organizations/{}/members", ids[0]),
                Some(&root),
                Some(json!({"user_id": user})),
            )
            .await;
        }
    }
    let stats = app.get_auth("/api/v1/admin/stats", &root).await;
    assert_eq!(
        stats.body["organization_distribution"],
        json!([{"name": "Zeta", "value": 3}, {"name": "Alpha", "value": 1}])
    );
});

db_test!(list_totals_follow_every_change_of_a_user, |app| {
    // The unfiltered and filtered totals come from counts kept by the
    // database; they must equal the rows a full listing returns after
    // registrations, (bulk) deactivation, promotion and (bulk) deletion.
    let root = app.superuser().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(app.member(&format!("count{i}@example.com")).await.1);
    }
    let admin = |method: &'static str, path: String, body: Option<Value>| {
        let (app, root) = (app.clone(), root.clone());
        async move {
            let answer = app.call(method, &path, Some(&root), body).await;
            assert_eq!(answer.status, 200, "{method} {path}: {}", answer.body);
        }
    };
    admin(
        "POST",
        format!("/api/v1/admin/users/{}/deactivate", ids[0]),
        None,
    )
    .await;
    admin(
        "PUT",
        format!("/api/v1/admin/users/{}", ids[1]),
        Some(json!({"is_superuser": true})),
    )
    .await;
    admin("DELETE", format!("/api/v1/admin/users/{}", ids[2]), None).await;
    admin(
        "POST",
        "/api/v1/admin/users/bulk-action".to_owned(),
        Some(json!({"action": "deactivate", "user_ids": [ids[3]]})),
    )
    .await;
    admin(
        "POST",
        "/api/v1/admin/users/bulk-action".to_owned(),
        Some(json!({"action": "delete", "user_ids": [ids[4]]})),
    )
    .await;
    // A change that moves nobody between counts.
    admin(
        "PUT",
        format!("/api/v1/admin/users/{}", ids[1]),
        Some(json!({"first_name": "Renamed"})),
    )
    .await;
    for filter in [
        "",
        "&is_active=true",
        "&is_active=false",
        "&is_superuser=true",
        "&is_superuser=false",
        "&is_active=true&is_superuser=false",
        "&is_active=false&is_superuser=true",
    ] {
        let list = app
            .get_auth(&format!("/api/v1/admin/users?limit=100{filter}"), &root)
            .await;
        assert_eq!(list.status, 200, "{}", list.body);
        let rows = list.body["data"].as_array().unwrap().len();
        assert_eq!(
            list.body["pagination"]["total"],
            json!(rows),
            "filter {filter:?}"
        );
    }
    let all = app.get_auth("/api/v1/admin/users?limit=100", &root).await;
    // root, and the three members neither deleted.
    assert_eq!(all.body["pagination"]["total"], json!(4), "{}", all.body);
});
