//! `identity.v1.OrganizationService`: decode, call `service::organizations`,
//! encode.

use tonic::{Request, Response, Status};

use super::authn::require_user;
use super::input;
use super::requests::ids;
use super::{convert, pb};
use crate::domain::email::Email;
use crate::domain::role::Role;
use crate::error::Violations;
use crate::service::organizations::{self, UserRef};
use crate::state::AppState;

/// The OrganizationService implementation.
pub struct OrganizationApi {
    state: AppState,
}

impl OrganizationApi {
    /// Serves with `state`.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl pb::organization_service_server::OrganizationService for OrganizationApi {
    async fn list_my_organizations(
        &self,
        request: Request<pb::ListMyOrganizationsRequest>,
    ) -> Result<Response<pb::OrganizationList>, Status> {
        let caller = require_user(&request)?;
        let active = request.get_ref().is_active.unwrap_or(true);
        let views = organizations::list_my_organizations(&self.state, &caller, active).await?;
        Ok(Response::new(pb::OrganizationList {
            organizations: views.iter().map(convert::my_organization).collect(),
        }))
    }

    async fn get_organization(
        &self,
        request: Request<pb::GetOrganizationRequest>,
    ) -> Result<Response<pb::Organization>, Status> {
        let caller = require_user(&request)?;
        let [id] = ids(&[("organization_id", &request.get_ref().organization_id)])?[..] else {
            return Err(Status::invalid_argument("organization_id"));
        };
        let view = organizations::get_organization(&self.state, &caller, id).await?;
        Ok(Response::new(convert::organization(&view)))
    }

    async fn update_organization(
        &self,
        request: Request<pb::UpdateOrganizationRequest>,
    ) -> Result<Response<pb::Organization>, Status> {
        let caller = require_user(&request)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        let id = input::id(&mut v, "organization_id", &req.organization_id);
        let changes = input::org_changes(&mut v, req.update);
        v.finish()?;
        let id = id.ok_or_else(|| Status::invalid_argument("organization_id"))?;
        let view = organizations::update_organization(&self.state, &caller, id, changes).await?;
        Ok(Response::new(convert::organization(&view)))
    }

    async fn list_members(
        &self,
        request: Request<pb::ListMembersRequest>,
    ) -> Result<Response<pb::MemberList>, Status> {
        let caller = require_user(&request)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        let id = input::id(&mut v, "organization_id", &req.organization_id);
        let page = input::page(&mut v, req.page, req.limit);
        v.finish()?;
        let (Some(id), Some(page)) = (id, page) else {
            return Err(Status::invalid_argument("organization_id"));
        };
        let active = req.is_active.unwrap_or(true);
        let members = organizations::list_members(&self.state, &caller, id, active, page).await?;
        Ok(Response::new(convert::member_list(members)))
    }

    async fn add_member(
        &self,
        request: Request<pb::AddMemberRequest>,
    ) -> Result<Response<pb::Member>, Status> {
        let caller = require_user(&request)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        let id = input::id(&mut v, "organization_id", &req.organization_id);
        let target = match (req.user_id, req.email) {
            (Some(user_id), None) => input::id(&mut v, "user_id", &user_id).map(UserRef::Id),
            (None, Some(email)) => v
                .check("email", Email::parse(&email))
                .map(|e| UserRef::Email(e.into_inner())),
            _ => {
                v.add_body("Provide exactly one of user_id or email");
                None
            }
        };
        let role = input::role(&mut v, req.role);
        v.finish()?;
        let (Some(id), Some(target)) = (id, target) else {
            return Err(Status::invalid_argument("organization_id"));
        };
        let member = organizations::add_member(
            &self.state,
            &caller,
            id,
            target,
            role.unwrap_or(Role::Member),
        )
        .await?;
        Ok(Response::new(convert::member(&member)))
    }

    async fn update_member(
        &self,
        request: Request<pb::UpdateMemberRequest>,
    ) -> Result<Response<pb::Member>, Status> {
        let caller = require_user(&request)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        let id = input::id(&mut v, "organization_id", &req.organization_id);
        let user_id = input::id(&mut v, "user_id", &req.user_id);
        let role = v
            .required("role", req.role)
            .and_then(|r| input::role(&mut v, Some(r)));
        v.finish()?;
        let (Some(id), Some(user_id), Some(role)) = (id, user_id, role) else {
            return Err(Status::invalid_argument("role"));
        };
        let member = organizations::update_member(&self.state, &caller, id, user_id, role).await?;
        Ok(Response::new(convert::member(&member)))
    }

    async fn remove_member(
        &self,
        request: Request<pb::RemoveMemberRequest>,
    ) -> Result<Response<pb::MessageResponse>, Status> {
        let caller = require_user(&request)?;
        let req = request.get_ref();
        let [id, user_id] = ids(&[
            ("organization_id", &req.organization_id),
            ("user_id", &req.user_id),
        ])?[..] else {
            return Err(Status::invalid_argument("user_id"));
        };
        let (email, name) = organizations::remove_member(&self.state, &caller, id, user_id).await?;
        Ok(Response::new(convert::message(format!(
            "User {email} removed from organization {name}"
        ))))
    }
}
