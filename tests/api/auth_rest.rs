//! Auth over REST: register, login (JSON and form), refresh, logout.

use serde_json::json;

use crate::db_test;
use crate::helpers::PASSWORD;

fn is_timestamp(value: &serde_json::Value) -> bool {
    let s = value.as_str().unwrap_or_default();
    // 2025-01-05T10:20:30.123456Z
    s.len() == 27 && s.ends_with('Z') && s.as_bytes()[19] == b'.'
}

db_test!(register_returns_the_user_and_never_a_superuser, |app| {
    let answer = app
        .post(
            "/api/v1/auth/register",
            json!({"email": "  Ada@Example.COM ", "password": PASSWORD, "first_name": " Ada ",
                   "last_name": "", "phone_number": "+44 (20) 7946-0958",
                   "is_superuser": true, "is_active": false}),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let user = &answer.body;
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["first_name"], "Ada");
    assert_eq!(user["last_name"], json!(null));
    assert_eq!(user["phone_number"], "+442079460958");
    assert_eq!(user["is_superuser"], json!(false));
    assert_eq!(user["is_active"], json!(true));
    assert_eq!(user["locale"], json!(null));
    assert_eq!(user["preferences"], json!({}));
    assert!(is_timestamp(&user["created_at"]), "{}", user["created_at"]);
    assert!(is_timestamp(&user["updated_at"]));
    let id = user["id"].as_str().unwrap();
    assert_eq!(id, id.to_lowercase());
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().to_string(), id);
    let keys: Vec<_> = user.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys.len(), 11, "{keys:?}");
    assert_eq!(answer.header("content-type"), Some("application/json"));
});

db_test!(duplicate_email_is_409_whatever_the_case, |app| {
    app.register("dup@example.com").await;
    let answer = app
        .post(
            "/api/v1/auth/register",
            json!({"email": "DUP@example.com", "password": PASSWORD, "first_name": "B"}),
        )
        .await;
    let item = answer.error(409, "USER_002");
    assert_eq!(item["field"], "email");
    assert_eq!(item["message"], "A user with this email already exists");
});

db_test!(invalid_registration_lists_every_problem, |app| {
    let answer = app
        .post(
            "/api/v1/auth/register",
            json!({"email": "not-an-email", "password": "short", "first_name": "A"}),
        )
        .await;
    assert_eq!(answer.status, 422, "{}", answer.body);
    let errors = answer.body["errors"].as_array().unwrap();
    let fields: Vec<_> = errors
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["email", "password"]);
    assert!(errors.iter().all(|e| e["code"] == "VAL_001"));
    assert_eq!(
        errors[1]["message"],
        "Password must be at least 12 characters long"
    );

    let answer = app.post("/api/v1/auth/register", json!({})).await;
    let errors = answer.body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 3);
    assert!(errors.iter().all(|e| e["message"] == "Field required"));

    let weak = app
        .post(
            "/api/v1/auth/register",
            json!({"email": "w@example.com", "password": "alllowercaseonly", "first_name": "A"}),
        )
        .await;
    let item = weak.error(422, "VAL_001");
    assert_eq!(item["field"], "password");
    assert_eq!(
        item["message"],
        "Password must contain at least one uppercase letter, one digit, one special character"
    );

    let wrong_type = app
        .post(
            "/api/v1/auth/register",
            json!({"email": 42, "password": PASSWORD, "first_name": "A"}),
        )
        .await;
    assert_eq!(wrong_type.error(422, "VAL_001")["field"], "email");

    let nul = app
        .post(
            "/api/v1/auth/register",
            json!({"email": "n@example.com", "password": PASSWORD, "first_name": "A\u{0}B"}),
        )
        .await;
    assert_eq!(nul.error(422, "VAL_001")["field"], "first_name");
});

db_test!(login_returns_a_token_pair_and_records_the_device, |app| {
    app.register("dev@example.com").await;
    let answer = app
        .send(
            app.http
                .post(app.url("/api/v1/auth/login"))
                .header("user-agent", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36")
                .header("x-device-id", "device-123")
                .json(&json!({"email": "DEV@example.com", "password": PASSWORD})),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let token = &answer.body;
    assert_eq!(token["token_type"], "bearer");
    assert_eq!(token["expires_in"], json!(900));
    assert_eq!(token["user"]["email"], "dev@example.com");
    assert!(token["access_token"].as_str().unwrap().split('.').count() == 3);
    assert_eq!(answer.header("cache-control"), Some("no-store"));

    let me = app
        .get_auth("/api/v1/users/me", token["access_token"].as_str().unwrap())
        .await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["email"], "dev@example.com");

    let sessions = app.sessions_of(token).await;
    assert_eq!(sessions.len(), 1);
    let s = &sessions[0];
    assert_eq!(s.device_name.as_deref(), Some("Chrome on Mac"));
    assert_eq!(s.device_id.as_deref(), Some("device-123"));
    assert_eq!(s.ip_address.as_deref(), Some("127.0.0.1"));
    assert!(s.is_active);
});

db_test!(wrong_password_and_unknown_email_answer_the_same, |app| {
    app.register("known@example.com").await;
    let wrong = app
        .post(
            "/api/v1/auth/login",
            json!({"email": "known@example.com", "password": "Nope-Nope-123!"}),
        )
        .await;
    let unknown = app
        .post(
            "/api/v1/auth/login",
            json!({"email": "ghost@example.com", "password": PASSWORD}),
        )
        .await;
    let item = wrong.error(401, "AUTH_001");
    assert_eq!(item["message"], "Invalid email or password");
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.status, unknown.status);
    let demo = app
        .post(
            "/api/v1/auth/login",
            json!({"email": "known@example.com", "password": "Demo123!"}),
        )
        .await;
    assert_eq!(demo.body, unknown.body);
});

db_test!(
    inactive_account_with_the_right_password_is_auth_005,
    |app| {
        app.register("sleepy@example.com").await;
        app.exec("UPDATE users SET is_active = false WHERE email = 'sleepy@example.com'")
            .await;
        let right = app
            .post(
                "/api/v1/auth/login",
                json!({"email": "sleepy@example.com", "password": PASSWORD}),
            )
            .await;
        assert_eq!(
            right.error(401, "AUTH_005")["message"],
            "User account is inactive"
        );
        // The bearer challenge belongs to bearer validation only.
        assert_eq!(right.header("www-authenticate"), None);
        let wrong = app
            .post(
                "/api/v1/auth/login",
                json!({"email": "sleepy@example.com", "password": "Wrong-Pass-123!"}),
            )
            .await;
        wrong.error(401, "AUTH_001");
    }
);

db_test!(deleted_account_cannot_log_in_or_use_its_tokens, |app| {
    let token = app.user("gone@example.com").await;
    app.exec("UPDATE users SET deleted_at = created_at, is_active = false WHERE email = 'gone@example.com'").await;
    app.post(
        "/api/v1/auth/login",
        json!({"email": "gone@example.com", "password": PASSWORD}),
    )
    .await
    .error(401, "AUTH_001");
    let me = app
        .get_auth("/api/v1/users/me", token["access_token"].as_str().unwrap())
        .await;
    me.error(401, "AUTH_005");
    assert_eq!(
        me.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\"")
    );
    let refresh = app
        .post(
            "/api/v1/auth/refresh",
            json!({"refresh_token": token["refresh_token"]}),
        )
        .await;
    refresh.error(401, "AUTH_005");
    assert_eq!(refresh.header("www-authenticate"), None);
});

db_test!(form_login_works_and_checks_grant_type, |app| {
    app.register("form@example.com").await;
    let ok = app
        .send(
            app.http
                .post(app.url("/api/v1/auth/login/oauth"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!(
                    "username=FORM%40example.com&password={}&grant_type=password&scope=x",
                    urlencode(PASSWORD)
                )),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["user"]["email"], "form@example.com");

    let bad_grant = app
        .send(
            app.http
                .post(app.url("/api/v1/auth/login/oauth"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("username=form%40example.com&password=x&grant_type=client_credentials"),
        )
        .await;
    assert_eq!(bad_grant.error(422, "VAL_001")["field"], "grant_type");

    let json_body = app
        .post(
            "/api/v1/auth/login/oauth",
            json!({"username": "form@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(json_body.error(422, "VAL_001")["field"], json!(null));

    let wrong = app
        .send(
            app.http
                .post(app.url("/api/v1/auth/login/oauth"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("username=form%40example.com&password=wrong"),
        )
        .await;
    wrong.error(401, "AUTH_001");
});

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

db_test!(logout_ends_only_the_given_session, |app| {
    app.register("two@example.com").await;
    let phone = app.login("two@example.com", PASSWORD).await;
    let laptop = app.login("two@example.com", PASSWORD).await;
    let phone_access = phone["access_token"].as_str().unwrap();
    let laptop_access = laptop["access_token"].as_str().unwrap();

    let answer = app
        .post_auth(
            "/api/v1/auth/logout",
            laptop_access,
            json!({"refresh_token": phone["refresh_token"]}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body,
        json!({"success": true, "message": "Logged out successfully"})
    );

    let dead = app.get_auth("/api/v1/users/me", phone_access).await;
    assert_eq!(
        dead.error(401, "AUTH_003")["message"],
        "Session has been revoked or has expired"
    );
    assert_eq!(
        dead.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\"")
    );
    assert_eq!(
        app.get_auth("/api/v1/users/me", laptop_access).await.status,
        200
    );
    app.post(
        "/api/v1/auth/refresh",
        json!({"refresh_token": phone["refresh_token"]}),
    )
    .await
    .error(401, "AUTH_003");

    // Garbage is accepted silently; another user's token is 403.
    let garbage = app
        .post_auth(
            "/api/v1/auth/logout",
            laptop_access,
            json!({"refresh_token": "x".repeat(40)}),
        )
        .await;
    assert_eq!(garbage.status, 200);
    let other = app.user("other@example.com").await;
    let foreign = app
        .post_auth(
            "/api/v1/auth/logout",
            laptop_access,
            json!({"refresh_token": other["refresh_token"]}),
        )
        .await;
    assert_eq!(
        foreign.error(403, "AUTH_004")["message"],
        "You can only logout your own sessions"
    );
    let short = app
        .post_auth(
            "/api/v1/auth/logout",
            laptop_access,
            json!({"refresh_token": "short"}),
        )
        .await;
    assert_eq!(short.error(422, "VAL_001")["field"], "refresh_token");
    let anonymous = app
        .post(
            "/api/v1/auth/logout",
            json!({"refresh_token": other["refresh_token"]}),
        )
        .await;
    assert_eq!(
        anonymous.error(401, "AUTH_006")["message"],
        "Not authenticated"
    );
    assert_eq!(anonymous.header("www-authenticate"), Some("Bearer"));
});

db_test!(logout_all_ends_every_session_and_counts_them, |app| {
    app.register("many@example.com").await;
    let a = app.login("many@example.com", PASSWORD).await;
    let b = app.login("many@example.com", PASSWORD).await;
    app.login("many@example.com", PASSWORD).await;
    let access = a["access_token"].as_str().unwrap();
    let answer = app
        .send(
            app.http
                .post(app.url("/api/v1/auth/logout-all"))
                .bearer_auth(access)
                .body("ignored body"),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body["message"],
        "Successfully logged out from all devices (3 sessions terminated)"
    );
    app.get_auth("/api/v1/users/me", access)
        .await
        .error(401, "AUTH_003");
    app.get_auth("/api/v1/users/me", b["access_token"].as_str().unwrap())
        .await
        .error(401, "AUTH_003");
});

db_test!(bootstrap_superuser_can_log_in, |app| {
    let token = app.login("root@identityd.test", "Root-Password-123!").await;
    assert_eq!(token["user"]["is_superuser"], json!(true));
    assert_eq!(token["user"]["first_name"], "Admin");
    // A second bootstrap changes nothing.
    identityd::app::bootstrap(&app.state).await.unwrap();
    app.login("root@identityd.test", "Root-Password-123!").await;
});
