//! Token, revocation and introspection (form in, JSON out, RFC 6749 errors
//! with the envelope beside them), the metadata document (RFC 8414) and the
//! JWK Set.

use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::{Value as Json, json};

use super::{Form, error_response};
use crate::domain::client_ip::ClientIp;
use crate::domain::oauth::SUPPORTED_SCOPES;
use crate::http::envelope::json_response;
use crate::service::oauth::tokens::{
    self, ClientAuth, Introspection, Origin, TokenForm, UserinfoError,
};
use crate::service::oauth::{OAuthError, ProtocolError};
use crate::state::AppState;

/// Token, revoke and introspect answers are never cached.
fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// Public documents, cacheable for five minutes.
fn public(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// The client credentials of a request: `Authorization: Basic` (its parts
/// form-decoded, RFC 6749 §2.3.1) and the form's fields. A Basic header that
/// does not decode is kept as `Some(Err(()))`: "Malformed client credentials".
fn client_auth(headers: &HeaderMap, form: &Form) -> ClientAuth {
    let basic = headers.get(header::AUTHORIZATION).and_then(|v| {
        let value = v.as_bytes();
        let scheme_end = value.iter().position(|b| *b == b' ').unwrap_or(value.len());
        value[..scheme_end]
            .eq_ignore_ascii_case(b"basic")
            .then(|| basic_credentials(&value[scheme_end..]))
    });
    ClientAuth {
        basic,
        client_id: form.get("client_id"),
        client_secret: form.get("client_secret"),
    }
}

/// `base64(form-encoded id ":" form-encoded secret)`.
fn basic_credentials(encoded: &[u8]) -> Result<(String, String), ()> {
    let decoded = STANDARD.decode(encoded.trim_ascii()).map_err(drop)?;
    let text = String::from_utf8(decoded).map_err(drop)?;
    let (id, secret) = text.split_once(':').ok_or(())?;
    Ok((form_decode(id)?, form_decode(secret)?))
}

/// `application/x-www-form-urlencoded` decoding of one value: `+` is a
/// space, `%XX` a byte; the result must be UTF-8.
fn form_decode(part: &str) -> Result<String, ()> {
    let spaced = part.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
        .map_err(drop)
}

/// The request's form, which must be urlencoded (RFC 6749 §3.2).
fn protocol_form(headers: &HeaderMap, body: &[u8]) -> Result<Form, ProtocolError> {
    let urlencoded = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !urlencoded {
        return Err(OAuthError::invalid_request(
            "Content-Type must be application/x-www-form-urlencoded",
        )
        .into());
    }
    Form::parse(Some("application/x-www-form-urlencoded"), body)
}

fn origin(headers: &HeaderMap, ip: Option<ClientIp>) -> Origin {
    Origin {
        user_agent: headers
            .get(header::USER_AGENT)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        ip_address: ip.map(|ip| ip.0.to_canonical().to_string()),
    }
}

/// `POST /token`.
pub async fn token(
    state: &AppState,
    headers: &HeaderMap,
    ip: Option<ClientIp>,
    body: &[u8],
) -> Response {
    let result = async {
        let form = protocol_form(headers, body)?;
        let auth = client_auth(headers, &form);
        let request = TokenForm {
            grant_type: form.get("grant_type"),
            code: form.get("code"),
            redirect_uri: form.get("redirect_uri"),
            code_verifier: form.get("code_verifier"),
            refresh_token: form.get("refresh_token"),
            scope: form.get("scope"),
            resource: form.get("resource"),
        };
        tokens::token(state, auth, request, origin(headers, ip)).await
    }
    .await;
    no_store(match result {
        Ok(set) => {
            let mut body = json!({
                "access_token": set.access_token,
                "token_type": "Bearer",
                "expires_in": set.expires_in,
                "scope": set.scope,
            });
            if let Some(refresh) = set.refresh_token {
                body["refresh_token"] = Json::from(refresh);
            }
            if let Some(id_token) = set.id_token {
                body["id_token"] = Json::from(id_token);
            }
            json_response(StatusCode::OK, &body)
        }
        Err(err) => error_response(err, false),
    })
}

/// `POST /revoke`.
pub async fn revoke(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Response {
    let result = async {
        let form = protocol_form(headers, body)?;
        let auth = client_auth(headers, &form);
        let hint = form.get("token_type_hint");
        tokens::revoke(state, auth, form.get("token"), hint.as_deref()).await
    }
    .await;
    no_store(match result {
        Ok(()) => json_response(StatusCode::OK, &json!({"status": "ok"})),
        Err(err) => error_response(err, false),
    })
}

/// `POST /introspect`.
pub async fn introspect(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Response {
    let result = async {
        let form = protocol_form(headers, body)?;
        let auth = client_auth(headers, &form);
        let hint = form.get("token_type_hint");
        tokens::introspect(state, auth, form.get("token"), hint.as_deref()).await
    }
    .await;
    no_store(match result {
        Ok(Introspection::Inactive) => json_response(StatusCode::OK, &json!({"active": false})),
        Ok(Introspection::Active(members)) => json_response(StatusCode::OK, &Json::Object(members)),
        Err(err) => error_response(err, false),
    })
}

/// The authorization server's metadata: RFC 8414 at
/// `/.well-known/oauth-authorization-server`, and with the OpenID Connect
/// Discovery members at `/.well-known/openid-configuration` (one document
/// serves both).
pub fn metadata(state: &AppState) -> Response {
    let provider = &state.config.provider;
    let issuer = &provider.issuer;
    let base = format!("{issuer}{}/oauth/provider", state.config.api_prefix);
    let auth_methods = json!(["client_secret_basic", "client_secret_post", "none"]);
    // Only the configured algorithm signs (relying parties cannot choose).
    let algorithms = [provider.signing_algorithm.name()];
    let mut document = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "revocation_endpoint": format!("{base}/revoke"),
        "introspection_endpoint": format!("{base}/introspect"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "scopes_supported": SUPPORTED_SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "client_id_metadata_document_supported": provider.metadata_documents,
        "token_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algorithms,
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid", "azp",
            "name", "given_name", "family_name", "locale", "updated_at", "email", "email_verified",
        ],
        "claims_parameter_supported": false,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    });
    if provider.registration.enabled() {
        document["registration_endpoint"] = Json::from(format!("{base}/register"));
    }
    public(json_response(StatusCode::OK, &document))
}

/// The protected-resource metadata of identityd's own API (RFC 9728).
pub fn resource_metadata(state: &AppState) -> Response {
    let provider = &state.config.provider;
    let scopes: Vec<&str> = SUPPORTED_SCOPES
        .iter()
        .copied()
        .filter(|s| !crate::domain::oauth::is_openid_scope(s))
        .collect();
    public(json_response(
        StatusCode::OK,
        &json!({
            "resource": provider.api_resource(&state.config.api_prefix),
            "authorization_servers": [provider.issuer],
            "scopes_supported": scopes,
            "bearer_methods_supported": ["header"],
            "resource_name": "identityd API",
        }),
    ))
}

/// `GET` or `POST /userinfo` (OpenID Connect Core §5.3): the bearer token
/// in the header, or `access_token` in a POSTed form (RFC 6750 §2.2).
pub async fn userinfo(state: &AppState, headers: &HeaderMap, body: &[u8], post: bool) -> Response {
    let header_token = crate::grpc::authn::bearer_token(headers).map(Result::ok);
    let form_token = if post && !body.is_empty() {
        match protocol_form(headers, body) {
            Ok(form) => form.get("access_token"),
            Err(err) => return no_store(error_response(err, false)),
        }
    } else {
        None
    };
    let token = match (header_token, form_token) {
        (Some(Some(token)), None) | (None, Some(token)) => token,
        (None, None) => {
            return bearer_refusal(StatusCode::UNAUTHORIZED, None, "Bearer token required");
        }
        _ => {
            return bearer_refusal(
                StatusCode::BAD_REQUEST,
                Some("invalid_request"),
                "Exactly one bearer token, in the Authorization header or the form",
            );
        }
    };
    no_store(match tokens::userinfo(state, &token).await {
        Ok(claims) => json_response(StatusCode::OK, &Json::Object(claims)),
        Err(UserinfoError::InvalidToken) => bearer_refusal(
            StatusCode::UNAUTHORIZED,
            Some("invalid_token"),
            "The access token is invalid, expired or revoked",
        ),
        Err(UserinfoError::InsufficientScope) => bearer_refusal(
            StatusCode::FORBIDDEN,
            Some("insufficient_scope"),
            "The access token does not carry the openid scope",
        ),
        Err(UserinfoError::Service(err)) => error_response(err.into(), false),
    })
}

/// An RFC 6750 refusal: `WWW-Authenticate: Bearer` with the error, and the
/// error in the body.
fn bearer_refusal(status: StatusCode, error: Option<&str>, description: &str) -> Response {
    let body = match error {
        Some(error) => json!({"error": error, "error_description": description}),
        None => json!({"error": "invalid_request", "error_description": description}),
    };
    let mut response = json_response(status, &body);
    let challenge = match error {
        Some(error) => format!("Bearer error=\"{error}\", error_description=\"{description}\""),
        None => "Bearer".to_owned(),
    };
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    no_store(response)
}

/// The JWK Set of the signing keys.
pub fn jwks(state: &AppState) -> Response {
    let keys = state
        .provider_keys
        .as_ref()
        .map_or_else(|| json!({"keys": []}), |ring| ring.get().jwks());
    public(json_response(StatusCode::OK, &keys))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded_exactly() {
        let encode = |text: &str| STANDARD.encode(text);
        assert_eq!(
            basic_credentials(encode("my%20app:a%2Bb+c&d").as_bytes()),
            Ok(("my app".to_owned(), "a+b c&d".to_owned()))
        );
        assert!(basic_credentials(b"not base64!").is_err());
        assert!(basic_credentials(encode("no-colon").as_bytes()).is_err());
        assert!(basic_credentials(encode("id:%FF").as_bytes()).is_err());
        assert!(basic_credentials(b"").is_err());
    }
}
