//! The classic attacks, each tried against a real server: forged token
//! headers (`alg: none`, algorithm switches), tokens from the future, login
//! timing that would tell known emails from unknown ones, and header
//! injection through the authorization server's redirects.
//!
//! Attacks tested next to the feature they target: token type confusion,
//! tampering and expiry (`tokens.rs`), cross-user access to sessions
//! (`sessions.rs`), users (`users.rs`) and organizations (`organizations.rs`),
//! open redirects and CSRF on the authorization pages (`oauth_provider.rs`);
//! docs/security.md lists them all.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac as _};
use identityd::grpc::pb;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::db_test;
use crate::helpers::{PASSWORD, SECRET_KEY, TestApp, with_bearer};
use crate::oauth_provider::{NATIVE_REDIRECT, authorize_url, query_of, register};

/// The claims of a token we issued.
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// `claims` signed with the server's own key under `algorithm`.
fn signed(claims: &Value, algorithm: Algorithm) -> String {
    let key = EncodingKey::from_secret(SECRET_KEY.as_bytes());
    jsonwebtoken::encode(&Header::new(algorithm), claims, &key).unwrap()
}

/// A token assembled by hand: any header, the claims, and an HMAC-SHA256
/// signature under the server's key (or none).
fn forged(header: &Value, claims: &Value, sign: bool) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    let input = format!("{}.{}", part(header), part(claims));
    if !sign {
        return format!("{input}.");
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET_KEY.as_bytes()).unwrap();
    mac.update(input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{input}.{signature}")
}

/// `GET /users/me` with `token` must be refused as unverifiable, over REST
/// and over gRPC.
async fn refused(app: &TestApp, token: &str, what: &str) {
    let answer = app.get_auth("/api/v1/users/me", token).await;
    assert_eq!(answer.status, 401, "{what}: {}", answer.body);
    assert_eq!(answer.body["errors"][0]["code"], "AUTH_006", "{what}");
    let status = app
        .user_client()
        .await
        .get_me(with_bearer(pb::GetMeRequest {}, token))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{what}");
}

db_test!(forged_algorithms_are_refused, |app| {
    let token = app.user("alg@example.com").await;
    let claims = claims_of(token["access_token"].as_str().unwrap());
    // The same claims, correctly signed, are accepted: what follows fails
    // only because of what was changed.
    let genuine = signed(&claims, Algorithm::HS256);
    assert_eq!(app.get_auth("/api/v1/users/me", &genuine).await.status, 200);

    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = json!({"alg": alg, "typ": "JWT"});
        refused(&app, &forged(&header, &claims, false), alg).await;
        refused(&app, &forged(&header, &claims, true), alg).await;
    }
    // Another HMAC under the same key, and asymmetric algorithm names over
    // an HMAC signature (the confusion that lets a public key sign).
    refused(&app, &signed(&claims, Algorithm::HS384), "HS384").await;
    refused(&app, &signed(&claims, Algorithm::HS512), "HS512").await;
    for alg in ["RS256", "ES256", "PS256", "EdDSA", "HS256 ", "hs256"] {
        let header = json!({"alg": alg, "typ": "JWT"});
        refused(&app, &forged(&header, &claims, true), alg).await;
    }
    // Headers that point verifiers at other keys change nothing here: the
    // key is fixed. A critical extension we do not understand is refused.
    let pointed = json!({"alg": "HS256", "typ": "JWT", "kid": "../../dev/null",
        "jku": "https://attacker.example/jwks.json"});
    assert_eq!(
        app.get_auth("/api/v1/users/me", &forged(&pointed, &claims, true))
            .await
            .status,
        200
    );
    let critical = json!({"alg": "HS256", "crit": ["exp"]});
    refused(&app, &forged(&critical, &claims, true), "crit").await;
    // No signature, a signature of nothing, and segments that are not JWT.
    let plain = json!({"alg": "HS256", "typ": "JWT"});
    let unsigned = forged(&plain, &claims, false);
    refused(&app, &unsigned, "empty signature").await;
    refused(&app, &format!("{unsigned}.extra"), "four segments").await;
    refused(&app, "..", "empty segments").await;
});

db_test!(tokens_from_the_future_are_refused, |app| {
    let token = app.user("future@example.com").await;
    let access = claims_of(token["access_token"].as_str().unwrap());
    let iat = access["iat"].as_i64().unwrap();
    let with = |claims: &Value, key: &str, value: i64| {
        let mut claims = claims.clone();
        claims[key] = json!(value);
        claims["exp"] = json!(value + 900);
        signed(&claims, Algorithm::HS256)
    };
    // Within the documented clock skew: another replica's fast clock.
    let skewed = with(&access, "iat", iat + 30);
    assert_eq!(app.get_auth("/api/v1/users/me", &skewed).await.status, 200);
    refused(&app, &with(&access, "iat", iat + 3600), "iat in an hour").await;
    refused(&app, &with(&access, "nbf", iat + 3600), "nbf in an hour").await;
    let mut text = access.clone();
    text["nbf"] = json!("soon");
    refused(&app, &signed(&text, Algorithm::HS256), "nbf as text").await;
    // Once its time has come, the same token works.
    let later = with(&access, "nbf", iat + 3600);
    app.clock.advance(chrono::Duration::minutes(59));
    assert_eq!(app.get_auth("/api/v1/users/me", &later).await.status, 200);

    // A refresh token valid only in the future is refused and rotates
    // nothing; the genuine one still rotates afterwards.
    let refresh = claims_of(token["refresh_token"].as_str().unwrap());
    let early = with(&refresh, "nbf", iat + 7200);
    let answer = app
        .post("/api/v1/auth/refresh", json!({"refresh_token": early}))
        .await;
    assert_eq!(
        answer.error(401, "AUTH_003")["message"],
        "Invalid refresh token"
    );
    let rotated = app
        .post(
            "/api/v1/auth/refresh",
            json!({"refresh_token": token["refresh_token"]}),
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
});

/// Median of the durations of `runs` calls.
fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

// A login for an unknown email must cost what a wrong password costs (one
// bcrypt verification), or response times would tell which emails have
// accounts. Cost 8 makes a verification (about 15 ms) stand well above the
// request's own time; medians of interleaved samples absorb the noise of
// other tests on the same cores. Without the dummy verification the unknown
// email answers more than ten times faster, far outside the bounds.
db_test!(login_takes_as_long_for_unknown_emails, env: [("BCRYPT_COST", "8")], |app| {
    app.register("timed@example.com").await;
    let login = |email: &'static str| {
        let app = app.clone();
        async move {
            let started = Instant::now();
            let answer = app
                .post(
                    "/api/v1/auth/login",
                    json!({"email": email, "password": "Wrong-Password-1!"}),
                )
                .await;
            assert_eq!(answer.status, 401, "{}", answer.body);
            started.elapsed()
        }
    };
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for round in 0..23 {
        let k = login("timed@example.com").await;
        let u = login("nobody-here@example.com").await;
        if round >= 3 {
            known.push(k);
            unknown.push(u);
        }
    }
    let (known, unknown) = (median(known), median(unknown));
    let ratio = unknown.as_secs_f64() / known.as_secs_f64();
    assert!(
        (0.6..=1.7).contains(&ratio),
        "unknown email {unknown:?} against known {known:?} (ratio {ratio:.2})"
    );
    // The right password still logs in: the samples were real verifications.
    app.login("timed@example.com", PASSWORD).await;
});

db_test!(redirects_cannot_carry_injected_headers, env: [("OAUTH_PROVIDER_ENABLED", "true")], |app| {
    // Registration refuses redirect URIs with control characters, raw or
    // percent-encoded line breaks in the host part cannot be stored either.
    let root = app.superuser().await;
    for uri in [
        "https://app.example.com/cb\r\nSet-Cookie: evil=1",
        "https://app.example.com/cb\nLocation: https://evil.example/",
        "https://app.example.com/cb\u{0}",
        "https://app.example.com%0d%0aSet-Cookie:evil=1/cb",
    ] {
        let answer = app
            .send(
                app.http
                    .post(app.url("/api/v1/oauth/provider/clients"))
                    .bearer_auth(&root)
                    .form(&[
                        ("client_name", "Injector"),
                        ("redirect_uris", uri),
                        ("client_type", "public"),
                        ("scopes", "openid"),
                    ]),
            )
            .await;
        assert_eq!(answer.status, 422, "{uri:?}: {}", answer.body);
        assert_eq!(answer.body["errors"][0]["field"], "redirect_uris", "{uri:?}");
    }

    let client = register(&app, "public", NATIVE_REDIRECT, "openid").await;
    // A state with a line break comes back in the redirect percent-encoded,
    // whole, and adds no header of its own.
    let state = "x\r\nSet-Cookie: evil=1\r\n\r\n<script>";
    let url = authorize_url(
        &app,
        &[
            ("response_type", "code"),
            ("client_id", &client.id),
            ("redirect_uri", NATIVE_REDIRECT),
            ("state", state),
        ],
    );
    let answer = app.send(app.http.get(url)).await;
    assert_eq!(answer.status, 302, "{}", answer.body);
    let location = answer.header("location").unwrap();
    assert!(location.starts_with(NATIVE_REDIRECT), "{location}");
    assert!(!location.contains(['\r', '\n', ' ', '<']), "{location}");
    assert_eq!(query_of(location)["state"], state);
    assert!(answer.header("set-cookie").is_none_or(|c| !c.contains("evil")));

    // A registered URI with a line break appended is another URI: refused
    // without a redirect.
    for suffix in ["\r\nSet-Cookie: evil=1", "%0d%0aSet-Cookie:%20evil=1"] {
        let redirect = format!("{NATIVE_REDIRECT}{suffix}");
        let url = authorize_url(
            &app,
            &[
                ("response_type", "code"),
                ("client_id", &client.id),
                ("redirect_uri", &redirect),
                ("state", "s"),
            ],
        );
        let answer = app.send(app.http.get(url)).await;
        assert_eq!(answer.status, 400, "{suffix:?}: {}", answer.body);
        assert_eq!(answer.body["error_description"], "Invalid redirect_uri");
        assert!(answer.header("location").is_none());
    }
});
