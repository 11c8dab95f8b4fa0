//! The generated OpenAPI document, the `/docs` page, and the route table of
//! `docs/api.md`, which must list exactly the routes the document (and so
//! the transcoder) serves.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::helpers::{Db, TestApp};

async fn spawn(env: &[(&str, &str)]) -> TestApp {
    let mut builder = TestApp::builder(Db::Sqlite);
    for (key, value) in env {
        builder = builder.env(key, value);
    }
    builder.spawn().await.unwrap()
}

/// (gRPC method, HTTP method, path with `{API}`) of every operation.
fn operations(document: &Value) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap();
            if id.starts_with("OAuthProtocol_") {
                continue;
            }
            let (service, rpc) = id.split_once('_').unwrap();
            out.insert((
                format!("identity.v1.{service}/{rpc}"),
                method.to_ascii_uppercase(),
                path.replacen("/api/v1", "{API}", 1),
            ));
        }
    }
    out
}

/// The same triples, read from the route table of `docs/api.md`.
fn documented_routes() -> BTreeSet<(String, String, String)> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/api.md")).unwrap();
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 3 || !cells[1].starts_with("`identity.v1.") {
            continue;
        }
        let method = cells[1].trim_matches('`').to_owned();
        let route = cells[2].trim_start_matches('`');
        let route = &route[..route.find('`').unwrap()];
        let (verb, path) = route.split_once(' ').unwrap();
        out.insert((method, verb.to_owned(), path.to_owned()));
    }
    out
}

#[tokio::test]
async fn the_document_describes_every_route_and_matches_the_docs() {
    let app = spawn(&[("OAUTH_PROVIDER_ENABLED", "true")]).await;
    let document = app.send(app.http.get(app.url("/openapi.json"))).await;
    assert_eq!(document.status, 200);
    assert_eq!(document.header("content-type"), Some("application/json"));
    let prefixed = app
        .send(app.http.get(app.url("/api/v1/openapi.json")))
        .await;
    assert_eq!(prefixed.body, document.body);
    let document = document.body;
    assert_eq!(document["openapi"], "3.1.0");

    let served = operations(&document);
    assert_eq!(served.len(), 56, "{served:#?}");
    for path in [
        "/.well-known/oauth-authorization-server",
        "/api/v1/oauth/provider/token",
        "/api/v1/oauth/provider/authorize/consent",
    ] {
        assert!(document["paths"][path].is_object(), "{path} not described");
    }
    // Without the authorization server, its routes are not described.
    let off = spawn(&[]).await;
    let off = off.send(off.http.get(off.url("/openapi.json"))).await.body;
    assert_eq!(operations(&off).len(), 49);
    assert!(off["paths"]["/api/v1/oauth/provider/token"].is_null());
    assert_eq!(
        served,
        documented_routes(),
        "docs/api.md's route table and the served routes differ"
    );

    // A sample of what the document says.
    let me = &document["paths"]["/api/v1/users/me"]["get"];
    assert_eq!(me["security"], serde_json::json!([{"bearer": []}]));
    assert_eq!(
        me["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/User"
    );
    assert_eq!(
        me["responses"]["401"]["$ref"],
        "#/components/responses/E401"
    );
    assert!(me["summary"].as_str().is_some_and(|s| !s.is_empty()));
    let user = &document["components"]["schemas"]["User"];
    assert_eq!(user["properties"]["created_at"]["format"], "date-time");
    assert_eq!(
        user["properties"]["last_name"]["type"],
        serde_json::json!(["string", "null"])
    );
    assert!(
        user["required"]
            .as_array()
            .unwrap()
            .contains(&Value::from("preferences"))
    );
    let register = &document["paths"]["/api/v1/auth/register"]["post"];
    assert!(register.get("security").is_none());
    assert!(register["responses"]["201"].is_object());
    assert!(register["responses"]["409"].is_object());
    let form = &document["paths"]["/api/v1/auth/login/oauth"]["post"]["requestBody"]["content"];
    assert!(form["application/x-www-form-urlencoded"].is_object());
    let list = &document["paths"]["/api/v1/admin/users"]["get"]["parameters"];
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for expected in ["page", "limit", "sort_by", "search", "is_active"] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let envelope = &document["components"]["schemas"]["ErrorResponse"];
    assert!(
        envelope["properties"]["errors"]["items"]["properties"]["code"]["enum"]
            .as_array()
            .unwrap()
            .contains(&Value::from("VAL_001"))
    );
}

#[tokio::test]
async fn the_docs_page_is_served_from_the_binary() {
    let app = spawn(&[]).await;
    let page = app.send(app.http.get(app.url("/docs"))).await;
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let html = page.body.as_str().unwrap();
    for asset in [
        "/docs/swagger-ui.css",
        "/docs/swagger-ui-bundle.js",
        "/docs/init.js",
    ] {
        assert!(html.contains(asset), "{asset} not referenced");
        let response = app.http.get(app.url(asset)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{asset}");
        assert!(
            response.bytes().await.unwrap().len() > 100,
            "{asset} is empty"
        );
    }
    // Nothing outside the server is referenced.
    assert!(!html.contains("http"), "{html}");
    let missing = app.send(app.http.get(app.url("/docs/nope.js"))).await;
    missing.error(404, "SYS_002");
    let post = app.send(app.http.post(app.url("/openapi.json"))).await;
    post.error(405, "SYS_003");
}

#[tokio::test]
async fn the_docs_can_be_switched_off() {
    let app = spawn(&[("API_DOCS_ENABLED", "false")]).await;
    for path in ["/openapi.json", "/api/v1/openapi.json", "/docs"] {
        let answer = app.send(app.http.get(app.url(path))).await;
        answer.error(404, "SYS_002");
    }
}
