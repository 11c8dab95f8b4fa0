//! Errors of the protocol endpoints: RFC 6749 error codes with their HTTP
//! status and the envelope code that goes with them (docs/oauth.md#errors),
//! or a service failure (database, internal).

use std::borrow::Cow;

use crate::error::{Code, Error};

/// An OAuth protocol error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// HTTP status: 400, 401 or 422.
    pub status: u16,
    /// RFC 6749 / 7009 error code (`invalid_request`, `invalid_grant`…).
    pub error: &'static str,
    /// English description.
    pub description: Cow<'static, str>,
    /// The envelope code of the same answer.
    pub code: Code,
    /// For 422: the parameter at fault.
    pub field: Option<&'static str>,
}

impl OAuthError {
    fn new(status: u16, error: &'static str, description: impl Into<Cow<'static, str>>) -> Self {
        let code = match status {
            422 => Code::Validation,
            401 => Code::InvalidCredentials,
            _ => Code::InvalidInput,
        };
        Self {
            status,
            error,
            description: description.into(),
            code,
            field: None,
        }
    }

    /// 400 `invalid_request`.
    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(400, "invalid_request", description)
    }

    /// 422 `invalid_request` on `field`.
    pub fn invalid_field(field: &'static str, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            field: Some(field),
            ..Self::new(422, "invalid_request", description)
        }
    }

    /// 401 `invalid_client` (a client was named but failed).
    pub fn invalid_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(401, "invalid_client", description)
    }

    /// 401 `invalid_client` when the request names no client at all.
    pub fn no_client() -> Self {
        Self {
            code: Code::AuthenticationRequired,
            ..Self::new(401, "invalid_client", "client_id required")
        }
    }

    /// 400 `invalid_client` at the authorize endpoint (unknown client).
    pub fn unknown_client() -> Self {
        Self::new(400, "invalid_client", "Unknown client_id")
    }

    /// 400 `invalid_client` at the authorize endpoint: a client ID metadata
    /// document that cannot be used, and why.
    pub fn unusable_document(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(400, "invalid_client", description)
    }

    /// 400 `invalid_grant`.
    pub fn invalid_grant(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(400, "invalid_grant", description)
    }

    /// 400 `invalid_scope`.
    pub fn invalid_scope(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(400, "invalid_scope", description)
    }

    /// 400 `invalid_target` (RFC 8707): a resource the client may not ask
    /// tokens for.
    pub fn invalid_target(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(400, "invalid_target", description)
    }

    /// 400 `unauthorized_client`: a grant type the client may not use.
    pub fn unauthorized_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(400, "unauthorized_client", description)
    }

    /// 400 `invalid_client_metadata` (RFC 7591 §3.2.2).
    pub fn invalid_client_metadata(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(400, "invalid_client_metadata", description)
    }

    /// 400 `invalid_redirect_uri` (RFC 7591 §3.2.2).
    pub fn invalid_redirect_uri(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(400, "invalid_redirect_uri", description)
    }

    /// 400 `unsupported_grant_type`.
    pub fn unsupported_grant_type() -> Self {
        Self::new(
            400,
            "unsupported_grant_type",
            "Must be authorization_code, refresh_token or client_credentials",
        )
    }

    /// 400 `unsupported_response_type`.
    pub fn unsupported_response_type() -> Self {
        Self::new(
            400,
            "unsupported_response_type",
            "response_type must be 'code'",
        )
    }

    /// `<error>: <description>`, the envelope message.
    pub fn message(&self) -> String {
        format!("{}: {}", self.error, self.description)
    }
}

/// What a protocol endpoint can fail with.
#[derive(Debug)]
pub enum ProtocolError {
    /// Answered in OAuth's format.
    OAuth(OAuthError),
    /// A service failure (answered in the envelope: 403, 404, 503, 500…).
    Service(Error),
}

impl From<OAuthError> for ProtocolError {
    fn from(err: OAuthError) -> Self {
        Self::OAuth(err)
    }
}

impl From<Error> for ProtocolError {
    fn from(err: Error) -> Self {
        Self::Service(err)
    }
}

impl From<crate::db::DbError> for ProtocolError {
    fn from(err: crate::db::DbError) -> Self {
        Self::Service(err.into())
    }
}
