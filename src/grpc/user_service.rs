//! `identity.v1.UserService`: decode, call `service::users`, encode.

use tonic::{Request, Response, Status};

use super::authn::require_user;
use super::input::{self, UpdateMode};
use super::requests::{path_id, user_query};
use super::{convert, pb};
use crate::error::Violations;
use crate::service::users;
use crate::state::AppState;

/// The UserService implementation.
pub struct UserApi {
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
    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::UserList>, Status> {
        let caller = require_user(&request)?;
        let query = user_query(request.into_inner(), true)?;
        let page = users::list_users(&self.state, &caller, query).await?;
        Ok(Response::new(convert::user_list(page)))
    }

    async fn get_me(
        &self,
        request: Request<pb::GetMeRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let caller = require_user(&request)?;
        Ok(Response::new(convert::user(&users::get_me(&caller))))
    }

    async fn update_me(
        &self,
        request: Request<pb::UpdateMeRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let caller = require_user(&request)?;
        let mut v = Violations::new();
        let changes = input::user_changes(&mut v, request.into_inner().update, UpdateMode::User);
        v.finish()?;
        let user = users::update_user(&self.state, &caller, caller.user_id(), changes).await?;
        Ok(Response::new(convert::user(&user)))
    }

    async fn change_password(
        &self,
        request: Request<pb::ChangePasswordRequest>,
    ) -> Result<Response<pb::MessageResponse>, Status> {
        let caller = require_user(&request)?;
        let (current, new) = convert::password_change(request.into_inner())?;
        users::change_password(&self.state, &caller, current, new).await?;
        Ok(Response::new(convert::message(
            "Password changed successfully",
        )))
    }

    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let caller = require_user(&request)?;
        let id = path_id("user_id", &request.get_ref().user_id)?;
        let user = users::get_user(&self.state, &caller, id).await?;
        Ok(Response::new(convert::user(&user)))
    }

    async fn update_user(
        &self,
        request: Request<pb::UpdateUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let caller = require_user(&request)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        let id = input::id(&mut v, "user_id", &req.user_id);
        let changes = input::user_changes(&mut v, req.update, UpdateMode::User);
        v.finish()?;
        let id = id.ok_or_else(|| Status::invalid_argument("user_id"))?;
        let user = users::update_user(&self.state, &caller, id, changes).await?;
        Ok(Response::new(convert::user(&user)))
    }

    async fn delete_user(
        &self,
        request: Request<pb::DeleteUserRequest>,
    ) -> Result<Response<pb::MessageResponse>, Status> {
        let caller = require_user(&request)?;
        let id = path_id("user_id", &request.get_ref().user_id)?;
        users::delete_user(&self.state, &caller, id).await?;
        Ok(Response::new(convert::message(format!(
            "User {id} deleted successfully"
        ))))
    }
}
