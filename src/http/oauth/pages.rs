//! The authorization server's HTML pages: login, consent and errors. Plain
//! HTML, no scripts, no external resources; every value escaped.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};

use crate::domain::oauth::{redirect_host, scope_description};
use crate::http::html_escape;
use crate::service::oauth::authorize::Pending;

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}\
    h1{font-size:1.3rem}label{display:block;margin:.8rem 0 .2rem}input[type=email],input[type=password]{width:100%;padding:.4rem}\
    button{margin:1rem .5rem 0 0;padding:.5rem 1rem}.error{color:#a00}.muted{color:#666;font-size:.9rem}ul{padding-left:1.2rem}";

/// An HTML answer with the provider pages' referrer policy.
pub fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>",
        html_escape(title)
    );
    let mut response = Response::new(Body::from(page));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The login form for a pending request.
pub fn login(
    status: StatusCode,
    action: &str,
    pending: &Pending,
    csrf: &str,
    error: Option<&str>,
) -> Response {
    let error = error.map_or_else(String::new, |e| {
        format!("<p class=\"error\" role=\"alert\">{}</p>", html_escape(e))
    });
    let body = format!(
        "<h1>Sign in</h1><p>to continue to <strong>{client}</strong></p>{error}\
         <form method=\"post\" action=\"{action}\">\
         <label for=\"email\">Email</label><input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required>\
         <label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <input type=\"hidden\" name=\"request_id\" value=\"{request_id}\">\
         <input type=\"hidden\" name=\"csrf_token\" value=\"{csrf}\">\
         <button type=\"submit\">Sign in</button></form>",
        client = html_escape(&pending.client_name),
        action = html_escape(action),
        request_id = pending.request.id,
        csrf = html_escape(csrf),
    );
    html(status, "Sign in", &body)
}

/// The consent form for a pending request.
pub fn consent(action: &str, pending: &Pending, csrf: Option<&str>) -> Response {
    let request = &pending.request;
    let scopes: String = request
        .scope
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(|scope| {
            let text = scope_description(scope).map_or_else(|| html_escape(scope), str::to_owned);
            format!(
                "<li>{text} <span class=\"muted\">({})</span></li>",
                html_escape(scope)
            )
        })
        .collect();
    let mut hidden = vec![
        ("request_id", request.id.to_string()),
        ("client_id", request.client_id.clone()),
        ("redirect_uri", request.redirect_uri.clone()),
        ("scope", request.scope.clone()),
        ("state", request.state.clone()),
    ];
    for (name, value) in [
        ("code_challenge", &request.code_challenge),
        ("code_challenge_method", &request.code_challenge_method),
        ("nonce", &request.nonce),
    ] {
        if let Some(value) = value {
            hidden.push((name, value.clone()));
        }
    }
    if let Some(csrf) = csrf {
        hidden.push(("csrf_token", csrf.to_owned()));
    }
    let hidden: String = hidden
        .iter()
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                html_escape(value)
            )
        })
        .collect();
    let origin = pending
        .document_url
        .as_deref()
        .map_or_else(String::new, |url| {
            format!(
                "<p class=\"muted\">Identified by its metadata at <strong>{}</strong>.</p>",
                html_escape(url)
            )
        });
    let warning = if pending.local_only {
        "<p class=\"error\">This application runs on your own computer or phone (it \
         receives the answer on this device). Anyone can give such an application any name: \
         allow it only if you started it yourself just now.</p>"
    } else {
        ""
    };
    let body = format!(
        "<h1>Allow access?</h1><p><strong>{client}</strong> wants to:</p><ul>{scopes}</ul>\
         {origin}{warning}\
         <p class=\"muted\">You will be sent back to <strong>{host}</strong> \
         (<code>{target}</code>).</p>\
         <form method=\"post\" action=\"{action}\">{hidden}\
         <button type=\"submit\" name=\"approved\" value=\"true\">Allow</button>\
         <button type=\"submit\" name=\"approved\" value=\"false\">Deny</button></form>",
        client = html_escape(&pending.client_name),
        host = html_escape(&redirect_host(&request.redirect_uri)),
        target = html_escape(&request.redirect_uri),
        action = html_escape(action),
    );
    html(StatusCode::OK, "Allow access", &body)
}

/// An error page.
pub fn error(status: StatusCode, message: &str) -> Response {
    let body = format!(
        "<h1>Something is wrong with this request</h1><p class=\"error\">{}</p>\
         <p class=\"muted\">Go back to the application and try again.</p>",
        html_escape(message)
    );
    html(status, "Error", &body)
}
