//! `identity.v1.AuthService`: decode, call `service::auth`, encode.

use tonic::{Request, Response, Status};

use super::authn::require_user;
use super::{convert, pb};
use crate::service;
use crate::state::AppState;

/// The AuthService implementation.
pub struct AuthApi {
    state: AppState,
}

impl AuthApi {
    /// Serves with `state`.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl pb::auth_service_server::AuthService for AuthApi {
    async fn register(
        &self,
        request: Request<pb::RegisterRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let account = convert::new_account(request.into_inner())?;
        let user = service::auth::register(&self.state, account).await?;
        Ok(Response::new(convert::user(&user)))
    }

    async fn login(
        &self,
        request: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::Token>, Status> {
        let device = convert::device(&request);
        let (email, password) = convert::login(request.into_inner())?;
        let pair = service::auth::login(&self.state, &email, password, device).await?;
        Ok(Response::new(convert::token(&pair)))
    }

    async fn login_form(
        &self,
        request: Request<pb::LoginFormRequest>,
    ) -> Result<Response<pb::Token>, Status> {
        let device = convert::device(&request);
        let (email, password) = convert::login_form(request.into_inner())?;
        let pair = service::auth::login(&self.state, &email, password, device).await?;
        Ok(Response::new(convert::token(&pair)))
    }

    async fn refresh(
        &self,
        request: Request<pb::RefreshRequest>,
    ) -> Result<Response<pb::Token>, Status> {
        let token = convert::refresh_token(request.into_inner().refresh_token, 0)?;
        let pair = service::auth::refresh(&self.state, &token).await?;
        Ok(Response::new(convert::token(&pair)))
    }

    async fn logout(
        &self,
        request: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::MessageResponse>, Status> {
        let caller = require_user(&request)?;
        let token = convert::refresh_token(request.into_inner().refresh_token, 10)?;
        service::auth::logout(&self.state, &caller, &token).await?;
        Ok(Response::new(convert::message("Logged out successfully")))
    }

    async fn logout_all(
        &self,
        request: Request<pb::LogoutAllRequest>,
    ) -> Result<Response<pb::MessageResponse>, Status> {
        let caller = require_user(&request)?;
        let ended = service::auth::logout_all(&self.state, &caller).await?;
        Ok(Response::new(convert::message(format!(
            "Successfully logged out from all devices ({ended} sessions terminated)"
        ))))
    }

    async fn request_password_reset(
        &self,
        request: Request<pb::PasswordResetRequest>,
    ) -> Result<Response<pb::MessageResponse>, Status> {
        let email = convert::reset_email(request.into_inner())?;
        service::auth::request_password_reset(&self.state, email).await?;
        Ok(Response::new(convert::message(
            "If your email is registered, you will receive a password reset link shortly",
        )))
    }

    async fn confirm_password_reset(
        &self,
        request: Request<pb::PasswordResetConfirmRequest>,
    ) -> Result<Response<pb::MessageResponse>, Status> {
        let (token, password) = convert::reset_confirm(request.into_inner())?;
        service::auth::confirm_password_reset(&self.state, &token, password).await?;
        Ok(Response::new(convert::message(
            "Password has been reset successfully. All devices have been logged out.",
        )))
    }
}
