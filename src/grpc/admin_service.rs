//! `identity.v1.AdminService`: decode, call `service::admin`, encode. Every
//! method needs a superuser: the authentication layer refuses others
//! before the request is decoded, and the service checks again.

use tonic::{Request, Response, Status};

use super::authn::require_user;
use super::input::{self, UpdateMode};
use super::requests::{bulk, new_organization, new_user, page_and, path_id, user_query};
use super::{convert, pb};
use crate::domain::role::Role;
use crate::error::Violations;
use crate::service::admin;
use crate::state::AppState;

/// The AdminService implementation.
pub struct AdminApi {
    state: AppState,
}

impl AdminApi {
    /// Serves with `state`.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl pb::admin_service_server::AdminService for AdminApi {
    async fn get_stats(
        &self,
        request: Request<pb::GetStatsRequest>,
    ) -> Result<Response<pb::AdminStats>, Status> {
        let caller = require_user(&request)?;
        let stats = admin::stats(&self.state, &caller).await?;
        Ok(Response::new(convert::stats(stats)))
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::UserList>, Status> {
        let caller = require_user(&request)?;
        let query = user_query(request.into_inner(), true)?;
        let page = crate::service::users::list_users(&self.state, &caller, query).await?;
        Ok(Response::new(convert::user_list(page)))
    }

    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let caller = require_user(&request)?;
        let new = new_user(request.into_inner())?;
        let user = admin::create_user(&self.state, &caller, new).await?;
        Ok(Response::new(convert::user(&user)))
    }

    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let caller = require_user(&request)?;
        let id = path_id("user_id", &request.get_ref().user_id)?;
        Ok(Response::new(convert::user(
            &admin::get_user(&self.state, &caller, id).await?,
        )))
    }

    async fn update_user(
        &self,
        request: Request<pb::UpdateUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let caller = require_user(&request)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        let id = input::id(&mut v, "user_id", &req.user_id);
        let changes = input::user_changes(&mut v, req.update, UpdateMode::Admin);
        v.finish()?;
        let id = id.ok_or_else(|| Status::invalid_argument("user_id"))?;
        Ok(Response::new(convert::user(
            &admin::update_user(&self.state, &caller, id, changes).await?,
        )))
    }

    async fn delete_user(
        &self,
        request: Request<pb::DeleteUserRequest>,
    ) -> Result<Response<pb::MessageResponse>, Status> {
        let caller = require_user(&request)?;
        let id = path_id("user_id", &request.get_ref().user_id)?;
        let user = admin::delete_user(&self.state, &caller, id).await?;
        Ok(Response::new(convert::message(format!(
            "User {} has been deleted",
            user.email
        ))))
    }

    async fn activate_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::MessageResponse>, Status> {
        let caller = require_user(&request)?;
        let id = path_id("user_id", &request.get_ref().user_id)?;
        let user = admin::activate_user(&self.state, &caller, id).await?;
        Ok(Response::new(convert::message(format!(
            "User {} has been activated",
            user.email
        ))))
    }

    async fn deactivate_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::MessageResponse>, Status> {
        let caller = require_user(&request)?;
        let id = path_id("user_id", &request.get_ref().user_id)?;
        let user = admin::deactivate_user(&self.state, &caller, id).await?;
        Ok(Response::new(convert::message(format!(
            "User {} has been deactivated",
            user.email
        ))))
    }

    async fn bulk_action(
        &self,
        request: Request<pb::BulkActionRequest>,
    ) -> Result<Response<pb::BulkActionResult>, Status> {
        let caller = require_user(&request)?;
        let (action, ids) = bulk(request.into_inner())?;
        let outcome = admin::bulk_action(&self.state, &caller, action, ids).await?;
        Ok(Response::new(convert::bulk_result(action, &outcome)))
    }

    async fn list_organizations(
        &self,
        request: Request<pb::AdminListOrganizationsRequest>,
    ) -> Result<Response<pb::OrganizationPage>, Status> {
        let caller = require_user(&request)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        let page = input::page(&mut v, req.page, req.limit);
        let search = input::search(&mut v, req.search);
        v.finish()?;
        let page = admin::list_organizations(
            &self.state,
            &caller,
            req.is_active,
            search,
            page.unwrap_or_default(),
        )
        .await?;
        Ok(Response::new(pb::OrganizationPage {
            pagination: Some(convert::pagination(&page)),
            data: page.items.iter().map(convert::organization).collect(),
        }))
    }

    async fn create_organization(
        &self,
        request: Request<pb::CreateOrganizationRequest>,
    ) -> Result<Response<pb::Organization>, Status> {
        let caller = require_user(&request)?;
        let new = new_organization(request.into_inner())?;
        let view = admin::create_organization(&self.state, &caller, new).await?;
        Ok(Response::new(convert::organization(&view)))
    }

    async fn get_organization(
        &self,
        request: Request<pb::AdminOrganizationRequest>,
    ) -> Result<Response<pb::Organization>, Status> {
        let caller = require_user(&request)?;
        let id = path_id("org_id", &request.get_ref().org_id)?;
        Ok(Response::new(convert::organization(
            &admin::get_organization(&self.state, &caller, id).await?,
        )))
    }

    async fn update_organization(
        &self,
        request: Request<pb::AdminUpdateOrganizationRequest>,
    ) -> Result<Response<pb::Organization>, Status> {
        let caller = require_user(&request)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        let id = input::id(&mut v, "org_id", &req.org_id);
        let changes = input::org_changes(&mut v, req.update);
        v.finish()?;
        let id = id.ok_or_else(|| Status::invalid_argument("org_id"))?;
        let view = admin::update_organization(&self.state, &caller, id, changes).await?;
        Ok(Response::new(convert::organization(&view)))
    }

    async fn delete_organization(
        &self,
        request: Request<pb::AdminOrganizationRequest>,
    ) -> Result<Response<pb::MessageResponse>, Status> {
        let caller = require_user(&request)?;
        let id = path_id("org_id", &request.get_ref().org_id)?;
        let name = admin::delete_organization(&self.state, &caller, id).await?;
        Ok(Response::new(convert::message(format!(
            "Organization {name} has been deleted"
        ))))
    }

    async fn list_organization_members(
        &self,
        request: Request<pb::AdminListMembersRequest>,
    ) -> Result<Response<pb::MemberList>, Status> {
        let caller = require_user(&request)?;
        let req = request.into_inner();
        let (page, id) = page_and(req.page, req.limit, Some(("org_id", &req.org_id)))?;
        let id = id.ok_or_else(|| Status::invalid_argument("org_id"))?;
        let members = admin::list_members(
            &self.state,
            &caller,
            id,
            req.is_active.unwrap_or(true),
            page,
        )
        .await?;
        Ok(Response::new(convert::member_list(members)))
    }

    async fn add_organization_member(
        &self,
        request: Request<pb::AdminAddMemberRequest>,
    ) -> Result<Response<pb::MessageResponse>, Status> {
        let caller = require_user(&request)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        let id = input::id(&mut v, "org_id", &req.org_id);
        let user_id = v
            .required("user_id", req.user_id)
            .and_then(|raw| input::id(&mut v, "user_id", &raw));
        let role = input::role(&mut v, req.role);
        v.finish()?;
        let (Some(id), Some(user_id)) = (id, user_id) else {
            return Err(Status::invalid_argument("user_id"));
        };
        let (email, name) = admin::add_member(
            &self.state,
            &caller,
            id,
            user_id,
            role.unwrap_or(Role::Member),
        )
        .await?;
        Ok(Response::new(convert::message(format!(
            "User {email} added to organization {name}"
        ))))
    }

    async fn remove_organization_member(
        &self,
        request: Request<pb::AdminRemoveMemberRequest>,
    ) -> Result<Response<pb::MessageResponse>, Status> {
        let caller = require_user(&request)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        let id = input::id(&mut v, "org_id", &req.org_id);
        let user_id = input::id(&mut v, "user_id", &req.user_id);
        v.finish()?;
        let (Some(id), Some(user_id)) = (id, user_id) else {
            return Err(Status::invalid_argument("user_id"));
        };
        let (email, name) = admin::remove_member(&self.state, &caller, id, user_id).await?;
        Ok(Response::new(convert::message(format!(
            "User {email} removed from organization {name}"
        ))))
    }

    async fn list_sessions(
        &self,
        request: Request<pb::AdminListSessionsRequest>,
    ) -> Result<Response<pb::AdminSessionPage>, Status> {
        let caller = require_user(&request)?;
        let req = request.into_inner();
        let (page, _) = page_and(req.page, req.limit, None)?;
        let sessions =
            admin::list_sessions(&self.state, &caller, req.is_active.unwrap_or(true), page).await?;
        Ok(Response::new(pb::AdminSessionPage {
            pagination: Some(convert::pagination(&sessions)),
            data: sessions.items.iter().map(convert::admin_session).collect(),
        }))
    }
}
