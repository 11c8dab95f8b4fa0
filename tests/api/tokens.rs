//! Token lifecycle over REST: refresh rotation, reuse detection, expiry with
//! an injected clock, absolute session lifetime, tampering and type confusion.

use chrono::Duration;
use serde_json::json;

use crate::db_test;

fn access(token: &serde_json::Value) -> &str {
    token["access_token"].as_str().unwrap()
}

db_test!(refresh_rotates_and_reuse_ends_the_session, |app| {
    let first = app.user("rot@example.com").await;
    let second = app
        .post(
            "/api/v1/auth/refresh",
            json!({"refresh_token": first["refresh_token"]}),
        )
        .await;
    assert_eq!(second.status, 200, "{}", second.body);
    let second = second.body;
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_ne!(second["access_token"], first["access_token"]);
    assert_eq!(second["token_type"], "bearer");
    assert_eq!(
        app.get_auth("/api/v1/users/me", access(&second))
            .await
            .status,
        200
    );

    // The rotated token again: reuse detected, the session ends.
    let reuse = app
        .post(
            "/api/v1/auth/refresh",
            json!({"refresh_token": first["refresh_token"]}),
        )
        .await;
    assert_eq!(
        reuse.error(401, "AUTH_003")["message"],
        "Refresh token reuse detected. The session has been ended. Please log in again."
    );
    app.get_auth("/api/v1/users/me", access(&second))
        .await
        .error(401, "AUTH_003");
    let after = app
        .post(
            "/api/v1/auth/refresh",
            json!({"refresh_token": second["refresh_token"]}),
        )
        .await;
    assert_eq!(
        after.error(401, "AUTH_003")["message"],
        "Session has been revoked. Please log in again."
    );
});

db_test!(token_types_cannot_be_swapped, |app| {
    let token = app.user("swap@example.com").await;
    let as_access = app
        .get_auth("/api/v1/users/me", token["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(
        as_access.error(401, "AUTH_003")["message"],
        "Invalid token type"
    );
    let as_refresh = app
        .post(
            "/api/v1/auth/refresh",
            json!({"refresh_token": token["access_token"]}),
        )
        .await;
    assert_eq!(
        as_refresh.error(401, "AUTH_003")["message"],
        "Invalid refresh token"
    );
});

db_test!(tampered_and_foreign_tokens_cannot_be_verified, |app| {
    let token = app.user("tamper@example.com").await;
    let real = access(&token);
    let (head, rest) = real.split_once('.').unwrap();
    let (payload, sig) = rest.split_once('.').unwrap();
    // Flip one character of the payload.
    let mut bytes = payload.as_bytes().to_vec();
    bytes[5] = if bytes[5] == b'A' { b'B' } else { b'A' };
    let forged = format!("{head}.{}.{sig}", String::from_utf8(bytes).unwrap());
    let answer = app.get_auth("/api/v1/users/me", &forged).await;
    assert_eq!(
        answer.error(401, "AUTH_006")["message"],
        "Could not validate credentials"
    );
    assert_eq!(
        answer.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\"")
    );

    let garbage = app.get_auth("/api/v1/users/me", "not-a-token").await;
    garbage.error(401, "AUTH_006");
    let basic = app
        .send(
            app.http
                .get(app.url("/api/v1/users/me"))
                .header("authorization", "Basic Zm9vOmJhcg=="),
        )
        .await;
    assert_eq!(basic.error(401, "AUTH_006")["message"], "Not authenticated");

    let refresh = app
        .post("/api/v1/auth/refresh", json!({"refresh_token": forged}))
        .await;
    assert_eq!(
        refresh.error(401, "AUTH_003")["message"],
        "Invalid refresh token"
    );
});

db_test!(
    expired_access_token_is_auth_002_and_refresh_still_works,
    |app| {
        let token = app.user("clock@example.com").await;
        app.clock.advance(Duration::minutes(15));
        let expired = app.get_auth("/api/v1/users/me", access(&token)).await;
        assert_eq!(expired.error(401, "AUTH_002")["message"], "Token expired");
        let renewed = app
            .post(
                "/api/v1/auth/refresh",
                json!({"refresh_token": token["refresh_token"]}),
            )
            .await;
        assert_eq!(renewed.status, 200, "{}", renewed.body);
        assert_eq!(
            app.get_auth("/api/v1/users/me", access(&renewed.body))
                .await
                .status,
            200
        );
    }
);

db_test!(refresh_token_expires_after_the_sliding_window, |app| {
    let token = app.user("slide@example.com").await;
    app.clock.advance(Duration::days(7));
    let answer = app
        .post(
            "/api/v1/auth/refresh",
            json!({"refresh_token": token["refresh_token"]}),
        )
        .await;
    assert_eq!(
        answer.error(401, "AUTH_002")["message"],
        "Refresh token has expired. Please log in again."
    );
});

db_test!(
    sessions_end_at_the_absolute_lifetime_whatever_the_refreshes,
    |app| {
        let mut token = app.user("abs@example.com").await;
        for _ in 0..4 {
            app.clock.advance(Duration::days(6));
            let answer = app
                .post(
                    "/api/v1/auth/refresh",
                    json!({"refresh_token": token["refresh_token"]}),
                )
                .await;
            assert_eq!(answer.status, 200, "{}", answer.body);
            token = answer.body;
        }
        // Day 24: the refresh token now lives until day 30, not day 31.
        app.clock.advance(Duration::days(6));
        let answer = app
            .post(
                "/api/v1/auth/refresh",
                json!({"refresh_token": token["refresh_token"]}),
            )
            .await;
        answer.error(401, "AUTH_002");
    }
);

db_test!(
    lowered_absolute_lifetime_ends_old_sessions_at_refresh,
    |app| {
        let token = app.user("short@example.com").await;
        // Same database, a server configured with a one-day absolute lifetime.
        let config = crate::helpers::TestApp::builder(crate::helpers::Db::Sqlite)
            .env("SESSION_ABSOLUTE_LIFETIME_DAYS", "1")
            .config(&app.database.url);
        let clock = app.clock.clone();
        let state = identityd::app::prepare(
            config,
            clock,
            std::sync::Arc::new(identityd::mail::MemoryMailer::default()),
        )
        .await
        .unwrap();
        app.clock.advance(Duration::days(1));
        let result =
            identityd::service::auth::refresh(&state, token["refresh_token"].as_str().unwrap())
                .await;
        assert!(
            matches!(
                result,
                Err(identityd::error::Error::SessionLifetimeExceeded)
            ),
            "{result:?}"
        );
        // The session was ended: the normal server now refuses its refresh token.
        let answer = app
            .post(
                "/api/v1/auth/refresh",
                json!({"refresh_token": token["refresh_token"]}),
            )
            .await;
        assert_eq!(
            answer.error(401, "AUTH_003")["message"],
            "Session has been revoked. Please log in again."
        );
    }
);

db_test!(one_refresh_token_presented_at_once_rotates_once, |app| {
    // Eight requests race with the same refresh token: exactly one rotates,
    // the others are reuse (or find the session already ended), and the
    // session ends, so the winner's new tokens die with it.
    let first = app.user("race@example.com").await;
    let attempts: Vec<_> = (0..8)
        .map(|_| {
            let (app, token) = (app.clone(), first["refresh_token"].clone());
            tokio::spawn(async move {
                app.post("/api/v1/auth/refresh", json!({"refresh_token": token}))
                    .await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for attempt in attempts {
        let answer = attempt.await.unwrap();
        match answer.status {
            200 => winners.push(answer.body),
            _ => {
                answer.error(401, "AUTH_003");
            }
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    app.get_auth("/api/v1/users/me", access(&winners[0]))
        .await
        .error(401, "AUTH_003");
    let after = app
        .post(
            "/api/v1/auth/refresh",
            json!({"refresh_token": winners[0]["refresh_token"]}),
        )
        .await;
    assert_eq!(after.status, 401, "{}", after.body);
});
