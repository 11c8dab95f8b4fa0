//! `identity.v1.UserService`: decode, call `service::users`, encode.

use tonic::{Request, Response, Status};

use super::authn::require_user;
use super::{convert, pb};
use crate::service;
use crate::state::AppState;

/// The UserService implementation.
pub struct UserApi {
    #[expect(dead_code, reason = "the Users area (next issue) reads it")]
    state: AppState,
}

impl UserApi {
    /// Serves with `state`.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl pb::user_service_server::UserService for UserApi {
    async fn get_me(
        &self,
        request: Request<pb::GetMeRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let caller = require_user(&request)?;
        Ok(Response::new(convert::user(&service::users::get_me(
            &caller,
        ))))
    }
}
