//! Client ID Metadata Documents against a local https document server
//! (its certificate trusted through `OAUTH_CIMD_CA_FILE`): a client known
//! only by its document URL completes the flow; the document is cached and
//! fetched again when stale; and the fetcher refuses private addresses,
//! oversized and slow documents, redirects, secrets, and documents whose
//! `client_id` is not their URL.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use oauth2::PkceCodeChallenge;
use serde_json::json;
use tokio_rustls::rustls;

use crate::helpers::{Db, PASSWORD, TestApp, run_built};
use crate::oauth_provider::{Browser, NATIVE_REDIRECT, hidden_fields, location, query_of};
use crate::oidc::API;

/// A local https server of metadata documents, counting requests per path.
#[derive(Clone)]
pub struct DocumentServer {
    pub addr: SocketAddr,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    /// The PEM of its (self-signed) certificate.
    pub certificate: String,
}

impl DocumentServer {
    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    pub async fn start() -> Self {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let certificate = certified.cert.pem();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![certified.cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(certified.key_pair.serialize_der().into()),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = Self {
            addr,
            hits: Arc::default(),
            certificate,
        };
        let handle = server.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (acceptor, handle) = (acceptor.clone(), handle.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |request| {
                        let handle = handle.clone();
                        async move { Ok::<_, std::convert::Infallible>(handle.answer(request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        server
    }

    async fn answer(
        &self,
        request: http::Request<hyper::body::Incoming>,
    ) -> http::Response<Full<Bytes>> {
        let path = request.uri().path().to_owned();
        *self.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
        let document = |id: &str, extra: serde_json::Value| {
            let mut doc = json!({
                "client_id": id,
                "client_name": "Demo <App>",
                "redirect_uris": [NATIVE_REDIRECT],
                "grant_types": ["authorization_code", "refresh_token"],
                "token_endpoint_auth_method": "none",
                "scope": "openid read:users",
            });
            for (k, v) in extra.as_object().unwrap() {
                doc[k] = v.clone();
            }
            doc.to_string()
        };
        let me = self.url(&path);
        let ok = |body: String| {
            http::Response::builder()
                .header("content-type", "application/json")
                .header("cache-control", "max-age=600")
                .body(Full::new(Bytes::from(body)))
                .unwrap()
        };
        match path.as_str() {
            "/client.json" | "/other.json" => ok(document(&me, json!({}))),
            "/big.json" => ok(document(&me, json!({"padding": "x".repeat(8 * 1024)}))),
            "/slow.json" => {
                tokio::time::sleep(Duration::from_secs(3)).await;
                ok(document(&me, json!({})))
            }
            "/mismatch.json" => ok(document(&self.url("/client.json"), json!({}))),
            "/secret.json" => ok(document(&me, json!({"client_secret": "shared"}))),
            "/redirect.json" => http::Response::builder()
                .status(302)
                .header("location", "/client.json")
                .body(Full::new(Bytes::new()))
                .unwrap(),
            _ => http::Response::builder()
                .status(404)
                .body(Full::new(Bytes::new()))
                .unwrap(),
        }
    }
}

/// Runs `body` against an app that trusts `docs`' certificate, with
/// private addresses allowed when `allow_private`.
async fn with_documents<F>(db: Db, allow_private: bool, body: F)
where
    F: FnOnce(
            TestApp,
            DocumentServer,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>
        + Send
        + 'static,
{
    let docs = DocumentServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &docs.certificate).unwrap();
    let builder = TestApp::builder(db)
        .env("OAUTH_PROVIDER_ENABLED", "true")
        .env("OAUTH_CIMD_CA_FILE", ca.to_str().unwrap())
        .env("OAUTH_CIMD_TIMEOUT_SECONDS", "0.5")
        .env(
            "OAUTH_CIMD_ALLOW_PRIVATE_ADDRESSES",
            if allow_private { "true" } else { "false" },
        );
    run_built(builder, move |app| {
        Box::pin(async move {
            body(app, docs).await;
            drop(dir);
        })
    })
    .await;
}

macro_rules! cimd_test {
    ($name:ident, allow_private: $allow:expr, |$app:ident, $docs:ident| $body:block) => {
        mod $name {
            use super::*;

            async fn run($app: TestApp, $docs: DocumentServer) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                with_documents(Db::Sqlite, $allow, |app, docs| Box::pin(run(app, docs))).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                with_documents(Db::Postgres, $allow, |app, docs| Box::pin(run(app, docs))).await;
            }
        }
    };
}

/// The authorize URL of a public client `client_id` with PKCE.
fn authorize_url(app: &TestApp, client_id: &str, challenge: &PkceCodeChallenge) -> String {
    identityd::domain::oauth::with_query(
        &app.url(&format!("{API}/authorize")),
        &[
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", NATIVE_REDIRECT),
            ("scope", "openid read:users"),
            ("state", "st"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
    )
}

/// The error page's text for an authorize request.
async fn refusal(app: &TestApp, client_id: &str) -> (u16, String) {
    let (challenge, _) = PkceCodeChallenge::new_random_sha256();
    let response = Browser::new()
        .get(&authorize_url(app, client_id, &challenge))
        .await;
    (response.status().as_u16(), response.text().await.unwrap())
}

cimd_test!(a_client_known_by_its_document_url_completes_the_flow, allow_private: true, |app, docs| {
    app.register("ada@example.com").await;
    let client_id = docs.url("/client.json");
    let browser = Browser::new();
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let first = browser.get(&authorize_url(&app, &client_id, &challenge)).await;
    assert_eq!(first.status(), 302, "{}", first.text().await.unwrap());
    assert_eq!(docs.hits("/client.json"), 1);
    // Log in, then the consent page: the document URL is shown, and the
    // loopback-only warning.
    let login = browser.get(&location(&first)).await;
    let mut form = hidden_fields(&login.text().await.unwrap());
    form.push(("email".into(), "ada@example.com".into()));
    form.push(("password".into(), PASSWORD.into()));
    let after = browser.post(&app.url(&format!("{API}/authorize/login")), &form).await;
    let back = browser.get(&app.url(&location(&after))).await;
    let consent = browser.get(&location(&back)).await;
    let html = consent.text().await.unwrap();
    assert!(html.contains("Demo &lt;App&gt;"), "{html}");
    assert!(html.contains(&format!("Identified by its metadata at <strong>{client_id}</strong>")), "{html}");
    assert!(html.contains("runs on your own computer"), "{html}");
    assert!(html.contains(NATIVE_REDIRECT), "{html}");
    let mut form = hidden_fields(&html);
    form.push(("approved".into(), "true".into()));
    let decision = browser.post(&app.url(&format!("{API}/authorize/consent")), &form).await;
    let params = query_of(&location(&decision));
    // The token endpoint knows the client by the same URL, without a
    // secret, and without fetching again.
    let answer = app
        .send(app.http.post(app.url(&format!("{API}/token"))).form(&[
            ("grant_type", "authorization_code"),
            ("code", params["code"].as_str()),
            ("redirect_uri", NATIVE_REDIRECT),
            ("code_verifier", verifier.secret().as_str()),
            ("client_id", client_id.as_str()),
        ]))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body["id_token"].is_string());
    assert!(answer.body["refresh_token"].is_string());
    assert_eq!(docs.hits("/client.json"), 1);
    // Within the document's max-age no fetch; after it, one more.
    let (again, _) = PkceCodeChallenge::new_random_sha256();
    assert_eq!(browser.get(&authorize_url(&app, &client_id, &again)).await.status(), 302);
    assert_eq!(docs.hits("/client.json"), 1);
    app.clock.advance(chrono::Duration::seconds(601));
    assert_eq!(browser.get(&authorize_url(&app, &client_id, &again)).await.status(), 302);
    assert_eq!(docs.hits("/client.json"), 2);
    // A redirect URI the document does not list is refused.
    let wrong = browser
        .get(&authorize_url(&app, &client_id, &again).replace("8765", "9999"))
        .await;
    assert_eq!(wrong.status(), 400);
    // The cleanup job drops a document's client nothing refers to (its
    // copy is a cache) and keeps one with a consent.
    let (other, _) = PkceCodeChallenge::new_random_sha256();
    let first = Browser::new()
        .get(&authorize_url(&app, &docs.url("/other.json"), &other))
        .await;
    assert_eq!(first.status(), 302);
    app.clock.advance(chrono::Duration::days(8));
    let now = identityd::clock::Clock::now(app.clock.as_ref());
    let report = identityd::service::cleanup::run_once(&app.state, "test", now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(report.document_clients, 1, "{report:?}");
    let root = app.superuser().await;
    let listed = app.get_auth(&format!("{API}/clients"), &root).await;
    let ids: Vec<&str> = listed.body.as_array().unwrap().iter().map(|c| c["client_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [client_id.as_str()]);
});

cimd_test!(documents_that_cannot_be_used_are_refused, allow_private: true, |app, docs| {
    for (path, reason) in [
        ("/big.json", "larger than 5120 bytes"),
        ("/slow.json", "could not be fetched"),
        ("/mismatch.json", "client_id is not its URL"),
        ("/secret.json", "client secret"),
        ("/redirect.json", "answered 302"),
        ("/missing.json", "answered 404"),
    ] {
        let (status, page) = refusal(&app, &docs.url(path)).await;
        assert_eq!(status, 400, "{path}");
        assert!(page.contains(reason), "{path}: {page}");
        assert!(page.contains("Client metadata document refused"), "{page}");
    }
    // A refusal is remembered for a minute: no second fetch.
    let before = docs.hits("/mismatch.json");
    let (status, _) = refusal(&app, &docs.url("/mismatch.json")).await;
    assert_eq!(status, 400);
    assert_eq!(docs.hits("/mismatch.json"), before);
    // URLs that are not acceptable client ids are never fetched.
    for bad in [
        format!("https://localhost:{}/", docs.addr.port()),
        format!("https://localhost:{}/a/../client.json", docs.addr.port()),
        format!("https://user@localhost:{}/client.json", docs.addr.port()),
    ] {
        let (status, page) = refusal(&app, &bad).await;
        assert_eq!(status, 400, "{bad}: {page}");
    }
    // A host's fetch budget: ten a minute.
    for i in 0..12 {
        let _ = refusal(&app, &docs.url(&format!("/n{i}.json"))).await;
    }
    let (_, page) = refusal(&app, &docs.url("/other.json")).await;
    assert!(page.contains("too many metadata document fetches"), "{page}");
});

cimd_test!(private_addresses_are_refused, allow_private: false, |app, docs| {
    // The name resolves to a loopback address: refused before connecting.
    let (status, page) = refusal(&app, &docs.url("/client.json")).await;
    assert_eq!(status, 400);
    assert!(page.contains("not on a public address"), "{page}");
    assert_eq!(docs.hits("/client.json"), 0);
    // So is an address literal.
    let (status, page) = refusal(&app, &format!("https://127.0.0.1:{}/client.json", docs.addr.port())).await;
    assert_eq!(status, 400);
    assert!(page.contains("not on a public address"), "{page}");
    let (_, page) = refusal(&app, &format!("https://[::1]:{}/client.json", docs.addr.port())).await;
    assert!(page.contains("not on a public address"), "{page}");
    assert_eq!(docs.hits("/client.json"), 0);
});
