//! Errors: the code table (docs/errors.md#codes) and the service error type.
//!
//! [`Code`] is the one table mapping each envelope code to its `tonic::Code`
//! and HTTP status. [`Error`] has one variant per cause; each knows its code,
//! message and field. There are two exits: into a `tonic::Status` (carrying
//! `google.rpc.ErrorInfo` with reason = envelope code, and `BadRequest` field
//! violations) here, and from that status into the REST envelope in
//! `http::envelope`. Internal errors are logged once, at the exit.

use std::collections::HashMap;

use http::StatusCode;
use tonic_types::{ErrorDetails, StatusExt as _};

use crate::db::DbError;

/// Domain of every `google.rpc.ErrorInfo` we emit.
pub const ERROR_DOMAIN: &str = "identityd";
/// ErrorInfo metadata key holding the field of a non-validation error.
pub const META_FIELD: &str = "field";
/// ErrorInfo metadata key holding the REST `WWW-Authenticate` challenge.
pub const META_CHALLENGE: &str = "www_authenticate";

/// Defines [`Code`] and its one table: each code is declared together with
/// its envelope code, gRPC code and HTTP status, so none can be missing.
macro_rules! codes {
    ($($(#[$doc:meta])* $variant:ident => ($envelope:literal, $grpc:ident, $http:literal),)*) => {
        /// An error code of the API (docs/errors.md).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Code {
            $($(#[$doc])* $variant,)*
        }

        impl Code {
            /// Every code, in table order.
            pub const ALL: &[Code] = &[$(Code::$variant,)*];

            /// (envelope code, gRPC code, HTTP status).
            const fn row(self) -> (&'static str, tonic::Code, u16) {
                match self {
                    $(Code::$variant => ($envelope, tonic::Code::$grpc, $http),)*
                }
            }
        }
    };
}

codes! {
    /// AUTH_001 as 401: bad login credentials.
    InvalidCredentials => ("AUTH_001", Unauthenticated, 401),
    /// AUTH_001 as 403: wrong current password on password change.
    WrongCurrentPassword => ("AUTH_001", PermissionDenied, 403),
    /// AUTH_002.
    TokenExpired => ("AUTH_002", Unauthenticated, 401),
    /// AUTH_003.
    TokenInvalid => ("AUTH_003", Unauthenticated, 401),
    /// AUTH_004.
    InsufficientPermissions => ("AUTH_004", PermissionDenied, 403),
    /// AUTH_005.
    UserInactive => ("AUTH_005", Unauthenticated, 401),
    /// AUTH_006.
    AuthenticationRequired => ("AUTH_006", Unauthenticated, 401),
    /// AUTH_007.
    OperationForbidden => ("AUTH_007", PermissionDenied, 403),
    /// AUTH_008.
    ExternalAuthFailed => ("AUTH_008", Unauthenticated, 401),
    /// USER_002.
    UserAlreadyExists => ("USER_002", AlreadyExists, 409),
    /// VAL_001.
    Validation => ("VAL_001", InvalidArgument, 422),
    /// VAL_006.
    InvalidInput => ("VAL_006", InvalidArgument, 400),
    /// VAL_007.
    PayloadTooLarge => ("VAL_007", ResourceExhausted, 413),
    /// ORG_001.
    LastOwner => ("ORG_001", FailedPrecondition, 409),
    /// SYS_001.
    Internal => ("SYS_001", Internal, 500),
    /// SYS_002.
    NotFound => ("SYS_002", NotFound, 404),
    /// SYS_003.
    MethodNotAllowed => ("SYS_003", Unimplemented, 405),
    /// SYS_004.
    RateLimited => ("SYS_004", ResourceExhausted, 429),
    /// SYS_005.
    AlreadyExists => ("SYS_005", AlreadyExists, 409),
    /// SYS_006.
    Unavailable => ("SYS_006", Unavailable, 503),
}

impl Code {
    /// The envelope code, e.g. `AUTH_001`.
    pub fn envelope(self) -> &'static str {
        self.row().0
    }

    /// The gRPC status code.
    pub fn grpc(self) -> tonic::Code {
        self.row().1
    }

    /// The HTTP status.
    pub fn http_status(self) -> StatusCode {
        StatusCode::from_u16(self.row().2).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// Recovers the code from a status' ErrorInfo reason and gRPC code (the
    /// gRPC code tells apart the two uses of `AUTH_001`).
    pub fn from_parts(reason: &str, grpc: tonic::Code) -> Option<Self> {
        let mut candidates = Self::ALL.iter().filter(|c| c.envelope() == reason);
        let first = *candidates.next()?;
        Some(
            std::iter::once(first)
                .chain(candidates.copied())
                .find(|c| c.grpc() == grpc)
                .unwrap_or(first),
        )
    }

    /// The code a bare gRPC status (without ErrorInfo) stands for.
    pub fn from_grpc(grpc: tonic::Code) -> Self {
        match grpc {
            tonic::Code::InvalidArgument => Self::Validation,
            tonic::Code::NotFound => Self::NotFound,
            tonic::Code::Unimplemented => Self::NotFound,
            tonic::Code::Unauthenticated => Self::AuthenticationRequired,
            tonic::Code::PermissionDenied => Self::InsufficientPermissions,
            tonic::Code::AlreadyExists => Self::AlreadyExists,
            tonic::Code::ResourceExhausted => Self::RateLimited,
            tonic::Code::Unavailable => Self::Unavailable,
            _ => Self::Internal,
        }
    }
}

/// One validation problem: the field path and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Field path (`email`, `user_ids.0`), or `None` for the body as a whole.
    pub field: Option<String>,
    /// English description.
    pub message: String,
}

impl FieldViolation {
    /// A problem with the body as a whole (field null).
    pub fn body(message: impl Into<String>) -> Self {
        Self {
            field: None,
            message: message.into(),
        }
    }
}

/// Most problems one answer lists: gRPC carries them in a header, which
/// clients refuse past a few kilobytes.
pub const MAX_LISTED_VIOLATIONS: usize = 20;

/// At most [`MAX_LISTED_VIOLATIONS`] problems; when some are left out, the
/// last item says how many.
pub fn listed(violations: &[FieldViolation]) -> Vec<FieldViolation> {
    if violations.len() <= MAX_LISTED_VIOLATIONS {
        return violations.to_vec();
    }
    let shown = MAX_LISTED_VIOLATIONS - 1;
    let mut out = violations[..shown].to_vec();
    out.push(FieldViolation {
        field: None,
        message: format!("{} more problems not listed", violations.len() - shown),
    });
    out
}

/// Collects validation problems so one answer lists all of them.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// No problems yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a problem on `field`.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldViolation {
            field: Some(field.to_owned()),
            message: message.into(),
        });
    }

    /// Records a problem with the body as a whole (field null).
    pub fn add_body(&mut self, message: impl Into<String>) {
        self.0.push(FieldViolation {
            field: None,
            message: message.into(),
        });
    }

    /// Returns the value of `result`, recording its error on `field`.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(message) => {
                self.add(field, message);
                None
            }
        }
    }

    /// A required field: `None` is "Field required".
    pub fn required<T>(&mut self, field: &str, value: Option<T>) -> Option<T> {
        if value.is_none() {
            self.add(field, "Field required");
        }
        value
    }

    /// `Err(Error::Validation)` when anything was recorded.
    pub fn finish(self) -> Result<(), Error> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self.0))
        }
    }
}

/// Everything a service call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No usable `Authorization: Bearer` header.
    #[error("Not authenticated")]
    NotAuthenticated,
    /// A bearer token that cannot be verified at all.
    #[error("Could not validate credentials")]
    CredentialsUnverifiable,
    /// A verified token that is not an access token.
    #[error("Invalid token type")]
    WrongTokenType,
    /// A verified access token past `exp`.
    #[error("Token expired")]
    AccessTokenExpired,
    /// The token's session is ended, unknown or expired.
    #[error("Session has been revoked or has expired")]
    SessionEnded,
    /// The user behind a valid credential (a password, a refresh token) is
    /// inactive or deleted.
    #[error("User account is inactive")]
    UserInactive,
    /// The user behind a valid bearer token is inactive or deleted (the same
    /// code, with the bearer challenge).
    #[error("User account is inactive")]
    BearerUserInactive,
    /// A provider access token without the scope the method needs (the
    /// scope, when the method has one).
    #[error("The access token does not grant the scope this method needs")]
    InsufficientScope(Option<String>),
    /// Password login failed (any reason but an inactive account).
    #[error("Invalid email or password")]
    InvalidCredentials,
    /// Sign-up with an email already held by an account.
    #[error("A user with this email already exists")]
    EmailTaken,
    /// A refresh token that cannot be used (unreadable, wrong type).
    #[error("Invalid refresh token")]
    RefreshTokenInvalid,
    /// A refresh token past `exp`.
    #[error("Refresh token has expired. Please log in again.")]
    RefreshTokenExpired,
    /// The refresh token's session is ended or unknown.
    #[error("Session has been revoked. Please log in again.")]
    RefreshSessionRevoked,
    /// An already-rotated refresh token: the session has been ended.
    #[error("Refresh token reuse detected. The session has been ended. Please log in again.")]
    RefreshTokenReused,
    /// The session is older than its absolute lifetime.
    #[error("Session has reached its maximum lifetime. Please log in again.")]
    SessionLifetimeExceeded,
    /// Any password-reset token problem.
    #[error("Invalid or expired password reset token")]
    ResetTokenInvalid,
    /// Logout with another user's refresh token.
    #[error("You can only logout your own sessions")]
    NotYourSession,
    /// A role or ownership check failed (AUTH_004).
    #[error("{message}")]
    Forbidden {
        /// What was refused.
        message: &'static str,
        /// The field that asked for it, if one did.
        field: Option<&'static str>,
    },
    /// A superuser tried something on their own account (AUTH_007).
    #[error("{message}")]
    SelfAction {
        /// What was refused.
        message: &'static str,
        /// The field that asked for it, if one did.
        field: Option<&'static str>,
    },
    /// `PATCH /users/me/password` with a wrong current password (403).
    #[error("Current password is incorrect")]
    WrongCurrentPassword,
    /// An unknown resource (SYS_002).
    #[error("{0}")]
    NotFound(&'static str),
    /// Admin create with a taken email.
    #[error("User with email {0} already exists")]
    EmailTakenBy(String),
    /// Adding a user who is already an active member.
    #[error("User is already a member of this organization")]
    AlreadyMember {
        /// `user_id` or `email`, as the request named the user.
        field: &'static str,
    },
    /// An organization slug already taken.
    #[error("Organization with slug '{0}' already exists")]
    SlugTaken(String),
    /// The operation would leave an organization without an active owner.
    #[error("An organization must keep at least one active owner")]
    LastOwner,
    /// Social login is switched off (VAL_006).
    #[error("OAuth is not enabled")]
    SocialLoginDisabled,
    /// A social provider name that is not one of ours (VAL_006 on `provider`).
    #[error("Unknown OAuth provider: {0}")]
    UnknownProvider(String),
    /// A known social provider without credentials (VAL_006 on `provider`).
    #[error("OAuth provider {0} is not configured")]
    ProviderNotConfigured(&'static str),
    /// The social-login callback cannot establish an identity (AUTH_008);
    /// the text says why.
    #[error("{0}")]
    ExternalAuthFailed(String),
    /// A social identity or provider already linked (SYS_005).
    #[error("{0}")]
    AlreadyLinked(String),
    /// Social sign-up with an email another account holds, auto-linking off.
    #[error("An account with this email already exists. Sign in and link {0} from your account.")]
    SocialEmailTaken(String),
    /// Unlinking a provider the caller has no link for.
    #[error("No {0} account found to unlink")]
    NoLinkToUnlink(String),
    /// Unlinking the caller's last way to log in.
    #[error(
        "Cannot unlink OAuth account. You must have either a password set or at least one other OAuth provider linked."
    )]
    LastLoginMethod,
    /// A rate limit or the login throttle refused the request (SYS_004).
    #[error("{message}")]
    RateLimited {
        /// What was exceeded.
        message: String,
        /// Whole seconds until a request would be admitted.
        retry_after: u64,
    },
    /// An upstream service the request needs (an OpenID provider's
    /// discovery document) cannot be reached (SYS_006).
    #[error("{0}")]
    UpstreamUnavailable(&'static str),
    /// Request validation failed.
    #[error("Validation error")]
    Validation(Vec<FieldViolation>),
    /// The request body is over the route's limit (VAL_007).
    #[error("Request body too large. Maximum size is {}", size_text(*.limit))]
    BodyTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The request body cannot be read or is not one well-formed message
    /// (VAL_006); the text says why.
    #[error("{0}")]
    BodyUnreadable(&'static str),
    /// The database cannot be reached or no connection is free.
    #[error("Service temporarily unavailable")]
    Unavailable(#[source] DbError),
    /// Anything unexpected; opaque to clients.
    #[error("An internal error occurred. Please try again later.")]
    Internal(#[source] anyhow::Error),
}

impl Error {
    /// The API error code.
    pub fn code(&self) -> Code {
        match self {
            Self::NotAuthenticated | Self::CredentialsUnverifiable => Code::AuthenticationRequired,
            Self::WrongTokenType
            | Self::SessionEnded
            | Self::RefreshTokenInvalid
            | Self::RefreshSessionRevoked
            | Self::RefreshTokenReused => Code::TokenInvalid,
            Self::AccessTokenExpired
            | Self::RefreshTokenExpired
            | Self::SessionLifetimeExceeded => Code::TokenExpired,
            Self::UserInactive | Self::BearerUserInactive => Code::UserInactive,
            Self::InvalidCredentials => Code::InvalidCredentials,
            Self::EmailTaken | Self::EmailTakenBy(_) | Self::AlreadyMember { .. } => {
                Code::UserAlreadyExists
            }
            Self::Forbidden { .. } | Self::InsufficientScope(_) => Code::InsufficientPermissions,
            Self::SelfAction { .. } => Code::OperationForbidden,
            Self::WrongCurrentPassword => Code::WrongCurrentPassword,
            Self::NotFound(_) => Code::NotFound,
            Self::SlugTaken(_) => Code::AlreadyExists,
            Self::LastOwner => Code::LastOwner,
            Self::ResetTokenInvalid
            | Self::SocialLoginDisabled
            | Self::UnknownProvider(_)
            | Self::ProviderNotConfigured(_)
            | Self::LastLoginMethod => Code::InvalidInput,
            Self::ExternalAuthFailed(_) => Code::ExternalAuthFailed,
            Self::AlreadyLinked(_) => Code::AlreadyExists,
            Self::SocialEmailTaken(_) => Code::UserAlreadyExists,
            Self::NoLinkToUnlink(_) => Code::NotFound,
            Self::UpstreamUnavailable(_) => Code::Unavailable,
            Self::RateLimited { .. } => Code::RateLimited,
            Self::NotYourSession => Code::InsufficientPermissions,
            Self::Validation(_) => Code::Validation,
            Self::BodyTooLarge { .. } => Code::PayloadTooLarge,
            Self::BodyUnreadable(_) => Code::InvalidInput,
            Self::Unavailable(_) => Code::Unavailable,
            Self::Internal(_) => Code::Internal,
        }
    }

    fn field(&self) -> Option<&'static str> {
        match self {
            Self::EmailTaken | Self::EmailTakenBy(_) => Some("email"),
            Self::SlugTaken(_) => Some("slug"),
            Self::UnknownProvider(_) | Self::ProviderNotConfigured(_) => Some("provider"),
            Self::AlreadyMember { field } => Some(field),
            Self::Forbidden { field, .. } | Self::SelfAction { field, .. } => *field,
            _ => None,
        }
    }

    /// 403 AUTH_004 with `message`.
    pub fn forbidden(message: &'static str) -> Self {
        Self::Forbidden {
            message,
            field: None,
        }
    }

    /// The `WWW-Authenticate` challenge of a 401 raised by bearer validation.
    pub fn challenge(&self) -> Option<String> {
        match self {
            Self::NotAuthenticated => Some("Bearer".to_owned()),
            Self::CredentialsUnverifiable
            | Self::WrongTokenType
            | Self::AccessTokenExpired
            | Self::SessionEnded
            | Self::BearerUserInactive => Some("Bearer error=\"invalid_token\"".to_owned()),
            Self::InsufficientScope(Some(scope)) => Some(format!(
                "Bearer error=\"insufficient_scope\", scope=\"{scope}\""
            )),
            Self::InsufficientScope(None) => Some("Bearer error=\"insufficient_scope\"".to_owned()),
            _ => None,
        }
    }

    /// The database is unavailable, for `cause`.
    pub fn unavailable(cause: impl Into<String>) -> Self {
        Self::Unavailable(DbError::Unavailable(cause.into()))
    }

    /// Wraps an unexpected failure.
    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(err.into())
    }
}

impl From<crate::auth::password::PasswordError> for Error {
    fn from(err: crate::auth::password::PasswordError) -> Self {
        use crate::auth::password::PasswordError;
        match err {
            PasswordError::Busy { retry_after } => Self::RateLimited {
                message: "Too many sign-in attempts are being processed. Please try again shortly."
                    .to_owned(),
                retry_after,
            },
            PasswordError::Failed(err) => Self::Internal(err),
        }
    }
}

/// A byte count as the 413 message states it: whole MiB as `10MB`, whole
/// KiB as `64KB`, anything else in bytes.
fn size_text(bytes: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * KIB;
    if bytes.is_multiple_of(MIB) {
        format!("{}MB", bytes / MIB)
    } else if bytes.is_multiple_of(KIB) {
        format!("{}KB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

impl From<DbError> for Error {
    fn from(err: DbError) -> Self {
        match err {
            // The one place where a database fact becomes a domain error.
            DbError::UniqueViolation(ref index) if index == "ix_users_email" => Self::EmailTaken,
            DbError::Unavailable(_) => Self::Unavailable(err),
            other => Self::Internal(other.into()),
        }
    }
}

impl From<Error> for tonic::Status {
    fn from(err: Error) -> Self {
        let code = err.code();
        match &err {
            Error::Internal(cause) => {
                tracing::error!(error = ?cause, "internal error");
            }
            Error::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
            }
            _ => {}
        }
        let mut metadata = HashMap::new();
        if let Some(field) = err.field() {
            metadata.insert(META_FIELD.to_owned(), field.to_owned());
        }
        if let Some(challenge) = err.challenge() {
            metadata.insert(META_CHALLENGE.to_owned(), challenge);
        }
        let mut details = ErrorDetails::with_error_info(code.envelope(), ERROR_DOMAIN, metadata);
        if let Error::RateLimited { retry_after, .. } = &err {
            details.set_retry_info(Some(std::time::Duration::from_secs(*retry_after)));
        }
        if let Error::Validation(violations) = &err {
            for v in &listed(violations) {
                details.add_bad_request_violation(v.field.clone().unwrap_or_default(), &v.message);
            }
        }
        tonic::Status::with_error_details(code.grpc(), err.to_string(), details)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_reason_and_grpc_code() {
        for code in Code::ALL {
            assert_eq!(Code::from_parts(code.envelope(), code.grpc()), Some(*code));
            assert!(code.http_status().is_client_error() || code.http_status().is_server_error());
        }
        assert_eq!(Code::from_parts("NOPE", tonic::Code::Internal), None);
    }

    #[test]
    fn status_carries_error_info_and_violations() {
        let mut v = Violations::new();
        v.add("email", "value is not a valid email address");
        v.add("password", "Password must be at least 12 characters long");
        let status = tonic::Status::from(v.finish().unwrap_err());
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        let details = status.get_error_details();
        assert_eq!(details.error_info().unwrap().reason, "VAL_001");
        let violations = &details.bad_request().unwrap().field_violations;
        assert_eq!(violations.len(), 2);
        assert_eq!(violations[1].field, "password");
    }

    #[test]
    fn taken_email_maps_from_the_named_index() {
        let err = Error::from(DbError::UniqueViolation("ix_users_email".into()));
        assert!(matches!(err, Error::EmailTaken));
        let status = tonic::Status::from(err);
        let info = status.get_error_details().error_info().cloned().unwrap();
        assert_eq!(info.reason, "USER_002");
        assert_eq!(
            info.metadata.get(META_FIELD).map(String::as_str),
            Some("email")
        );
    }
}
