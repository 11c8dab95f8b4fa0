//! Password reset over REST: no enumeration, single-use tokens, every
//! session ended.

use serde_json::json;

use crate::db_test;
use crate::helpers::PASSWORD;

const NEW_PASSWORD: &str = "Brand-New-Pass-77!";

db_test!(reset_request_answers_the_same_for_unknown_emails, |app| {
    app.register("real@example.com").await;
    let known = app
        .post(
            "/api/v1/auth/password-reset/request",
            json!({"email": "Real@example.com"}),
        )
        .await;
    let unknown = app
        .post(
            "/api/v1/auth/password-reset/request",
            json!({"email": "nobody@example.com"}),
        )
        .await;
    assert_eq!(known.status, 200);
    assert_eq!(known.body, unknown.body);
    assert_eq!(
        known.body["message"],
        "If your email is registered, you will receive a password reset link shortly"
    );
    let token = app.reset_token().await;
    assert!(!token.is_empty());
    let mails = app.mailer.sent();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, "real@example.com");
    assert_eq!(mails[0].subject, "Password Reset Request");
    assert!(
        mails[0]
            .text
            .contains("http://localhost:3000/reset-password?token=")
    );
    let bad = app
        .post(
            "/api/v1/auth/password-reset/request",
            json!({"email": "nope"}),
        )
        .await;
    assert_eq!(bad.error(422, "VAL_001")["field"], "email");
});

db_test!(
    reset_confirm_sets_the_password_once_and_ends_every_session,
    |app| {
        let session = app.user("forgot@example.com").await;
        app.post(
            "/api/v1/auth/password-reset/request",
            json!({"email": "forgot@example.com"}),
        )
        .await;
        let token = app.reset_token().await;

        let weak = app
            .post(
                "/api/v1/auth/password-reset/confirm",
                json!({"token": token, "new_password": "weak"}),
            )
            .await;
        assert_eq!(weak.error(422, "VAL_001")["field"], "new_password");

        let done = app
            .post(
                "/api/v1/auth/password-reset/confirm",
                json!({"token": token, "new_password": NEW_PASSWORD}),
            )
            .await;
        assert_eq!(done.status, 200, "{}", done.body);
        assert_eq!(
            done.body["message"],
            "Password has been reset successfully. All devices have been logged out."
        );

        app.get_auth(
            "/api/v1/users/me",
            session["access_token"].as_str().unwrap(),
        )
        .await
        .error(401, "AUTH_003");
        app.post(
            "/api/v1/auth/login",
            json!({"email": "forgot@example.com", "password": PASSWORD}),
        )
        .await
        .error(401, "AUTH_001");
        app.login("forgot@example.com", NEW_PASSWORD).await;

        let again = app
            .post(
                "/api/v1/auth/password-reset/confirm",
                json!({"token": token, "new_password": "Another-Pass-88!"}),
            )
            .await;
        assert_eq!(
            again.error(400, "VAL_006")["message"],
            "Invalid or expired password reset token"
        );
        let forged = app
            .post(
                "/api/v1/auth/password-reset/confirm",
                json!({"token": "abc.def", "new_password": NEW_PASSWORD}),
            )
            .await;
        forged.error(400, "VAL_006");
    }
);

db_test!(reset_token_expires, |app| {
    app.register("late@example.com").await;
    app.post(
        "/api/v1/auth/password-reset/request",
        json!({"email": "late@example.com"}),
    )
    .await;
    let token = app.reset_token().await;
    app.clock.advance(chrono::Duration::minutes(61));
    let late = app
        .post(
            "/api/v1/auth/password-reset/confirm",
            json!({"token": token, "new_password": NEW_PASSWORD}),
        )
        .await;
    late.error(400, "VAL_006");
});
