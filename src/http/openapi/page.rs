//! `/docs`: the OpenAPI document rendered by Swagger UI, served from the
//! binary (the vendored copy in `assets/swagger-ui/`, version 5.36.0), so
//! the page works with no network beyond identityd itself.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};

/// The page's own policy: scripts, styles and images from this origin only
/// (Swagger UI sets inline styles); never framed.
const DOCS_CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
                        base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const BUNDLE: &[u8] = include_bytes!("../../../assets/swagger-ui/swagger-ui-bundle.js");
const STYLE: &[u8] = include_bytes!("../../../assets/swagger-ui/swagger-ui.css");
const INIT: &str = "window.addEventListener('load', function () {\n  \
    window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', \
    deepLinking: true, validatorUrl: null });\n});\n";

/// The answer for a path under `/docs`, or `None` when it is not one.
pub fn serve(path: &str, title: &str) -> Option<Response> {
    let (content_type, body): (&str, Body) = match path {
        "/docs" => ("text/html; charset=utf-8", Body::from(html(title))),
        "/docs/swagger-ui-bundle.js" => ("text/javascript; charset=utf-8", Body::from(BUNDLE)),
        "/docs/swagger-ui.css" => ("text/css; charset=utf-8", Body::from(STYLE)),
        "/docs/init.js" => ("text/javascript; charset=utf-8", Body::from(INIT)),
        _ => return None,
    };
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(DOCS_CSP),
    );
    if path != "/docs" {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=86400"),
        );
    }
    Some(response)
}

fn html(title: &str) -> String {
    let title = crate::http::html_escape(title);
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{title} API</title><link rel=\"stylesheet\" href=\"/docs/swagger-ui.css\">\
         </head><body><div id=\"swagger-ui\"></div>\
         <script src=\"/docs/swagger-ui-bundle.js\"></script>\
         <script src=\"/docs/init.js\"></script></body></html>"
    )
}
