//! No input reaches a 500: every REST endpoint, as a superuser (so requests
//! get past the permission checks), with hostile bodies and path values.

use serde_json::{Value, json};

use crate::db_test;

const ENDPOINTS: &[(&str, &str)] = &[
    ("POST", "/api/v1/auth/register"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/password-reset/request"),
    ("POST", "/api/v1/auth/password-reset/confirm"),
    ("POST", "/api/v1/auth/logout"),
    ("GET", "/api/v1/users"),
    ("PATCH", "/api/v1/users/me"),
    ("PATCH", "/api/v1/users/me/password"),
    ("GET", "/api/v1/users/{id}"),
    ("PATCH", "/api/v1/users/{id}"),
    ("DELETE", "/api/v1/users/{id}"),
    ("GET", "/api/v1/sessions/me"),
    ("DELETE", "/api/v1/sessions/{id}"),
    ("GET", "/api/v1/organizations/me"),
    ("GET", "/api/v1/organizations/{id}"),
    ("PUT", "/api/v1/organizations/{id}"),
    ("GET", "/api/v1/organizations/{id}/members"),
    ("POST", "/api/v1/organizations/{id}/members"),
    ("PATCH", "/api/v1/organizations/{id}/members/{id}"),
    ("DELETE", "/api/v1/organizations/{id}/members/{id}"),
    ("GET", "/api/v1/admin/stats"),
    ("GET", "/api/v1/admin/users"),
    ("POST", "/api/v1/admin/users"),
    ("GET", "/api/v1/admin/users/{id}"),
    ("PUT", "/api/v1/admin/users/{id}"),
    ("POST", "/api/v1/admin/users/{id}/activate"),
    ("POST", "/api/v1/admin/users/{id}/deactivate"),
    ("POST", "/api/v1/admin/users/bulk-action"),
    ("GET", "/api/v1/admin/organizations"),
    ("POST", "/api/v1/admin/organizations"),
    ("GET", "/api/v1/admin/organizations/{id}"),
    ("PUT", "/api/v1/admin/organizations/{id}"),
    ("GET", "/api/v1/admin/organizations/{id}/members"),
    ("POST", "/api/v1/admin/organizations/{id}/members"),
    ("DELETE", "/api/v1/admin/organizations/{id}/members/{id}"),
    ("GET", "/api/v1/admin/sessions"),
];

const FIELDS: &[&str] = &[
    "email",
    "password",
    "first_name",
    "last_name",
    "phone_number",
    "locale",
    "preferences",
    "is_active",
    "is_superuser",
    "name",
    "slug",
    "description",
    "settings",
    "role",
    "user_id",
    "user_ids",
    "action",
    "refresh_token",
    "token",
    "new_password",
    "current_password",
];

fn hostile_values() -> Vec<Value> {
    vec![
        json!(123),
        json!(-1.5e300),
        json!(true),
        json!("x\u{0}y"),
        json!(""),
        json!("é".repeat(70_000)),
        json!({"deep": {"er": [1, {"x": null}]}}),
        json!([]),
        json!(null),
        json!("' OR 1=1; DROP TABLE users; --"),
        json!(["not-a-uuid", 7]),
    ]
}

const PATH_VALUES: &[&str] = &[
    "not-a-uuid",
    "00000000-0000-0000-0000-000000000000",
    "%00",
    "me",
    "ZZZZZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZZZZZZZZZ",
];

const QUERIES: &[&str] = &[
    "page=100000000000000000000",
    "page=-1",
    "limit=0",
    "limit=abc",
    "sort_by=password_hash",
    "sort_order=sideways",
    "is_active=maybe",
    "search=%25%5F%5C",
    "search=a%00b",
    "is_superuser=2",
];

db_test!(no_input_reaches_a_500, |app| {
    let root = app.superuser().await;
    let mut failures = Vec::new();
    for (method, template) in ENDPOINTS {
        for path_value in PATH_VALUES {
            let path = template.replace("{id}", path_value);
            let mut bodies: Vec<Value> = vec![json!({}), json!([]), json!("text"), json!(null)];
            for field in FIELDS {
                for value in hostile_values() {
                    bodies.push(json!({ *field: value }));
                }
            }
            // Full variety on the canonical path value only, to keep the test quick.
            if *path_value != "00000000-0000-0000-0000-000000000000" {
                bodies.truncate(4);
            }
            for body in bodies {
                let answer = app
                    .call(method, &path, Some(&root), Some(body.clone()))
                    .await;
                if answer.status >= 500 {
                    failures.push(format!(
                        "{method} {path} {body:.80} -> {} {}",
                        answer.status, answer.body
                    ));
                }
            }
            for query in QUERIES {
                let answer = app
                    .call(method, &format!("{path}?{query}"), Some(&root), None)
                    .await;
                if answer.status >= 500 {
                    failures.push(format!(
                        "{method} {path}?{query} -> {} {}",
                        answer.status, answer.body
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} answers >= 500:\n{}",
        failures.len(),
        failures.join("\n")
    );
});
