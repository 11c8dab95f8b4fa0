//! `identity.v1.OAuthProviderService`: decode, call `service::oauth`, encode.
//! The authentication layer answers 404 for the whole service while the
//! authorization server is switched off.

use tonic::{Request, Response, Status};

use super::authn::require_user;
use super::requests::{client_id, client_update, new_client};
use super::{convert, pb};
use crate::error::Violations;
use crate::service::oauth::{clients, consents};
use crate::state::AppState;

/// The OAuthProviderService implementation.
pub struct OAuthProviderApi {
    state: AppState,
}

impl OAuthProviderApi {
    /// Serves with `state`.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }

    fn production(&self) -> bool {
        self.state.config.is_production()
    }
}

fn path_client_id(raw: &str) -> Result<String, Status> {
    let mut v = Violations::new();
    let id = client_id(&mut v, raw);
    v.finish()?;
    Ok(id)
}

#[tonic::async_trait]
impl pb::o_auth_provider_service_server::OAuthProviderService for OAuthProviderApi {
    async fn create_client(
        &self,
        request: Request<pb::CreateClientRequest>,
    ) -> Result<Response<pb::CreatedClient>, Status> {
        let caller = require_user(&request)?;
        let new = new_client(request.into_inner(), self.production())?;
        let created = clients::register_client(&self.state, &caller, new).await?;
        Ok(Response::new(convert::created_client(created)))
    }

    async fn list_clients(
        &self,
        request: Request<pb::ListClientsRequest>,
    ) -> Result<Response<pb::ClientList>, Status> {
        let caller = require_user(&request)?;
        let list = clients::list_clients(&self.state, &caller).await?;
        Ok(Response::new(pb::ClientList {
            clients: list.into_iter().map(convert::client).collect(),
        }))
    }

    async fn update_client(
        &self,
        request: Request<pb::UpdateClientRequest>,
    ) -> Result<Response<pb::Client>, Status> {
        let caller = require_user(&request)?;
        let (id, update) = client_update(request.into_inner(), self.production())?;
        let client = clients::update_client(&self.state, &caller, &id, update).await?;
        Ok(Response::new(convert::client(client)))
    }

    async fn rotate_client_secret(
        &self,
        request: Request<pb::ClientRef>,
    ) -> Result<Response<pb::CreatedClient>, Status> {
        let caller = require_user(&request)?;
        let id = path_client_id(&request.get_ref().client_id)?;
        let rotated = clients::rotate_secret(&self.state, &caller, &id).await?;
        Ok(Response::new(convert::created_client(rotated)))
    }

    async fn delete_client(
        &self,
        request: Request<pb::ClientRef>,
    ) -> Result<Response<pb::Done>, Status> {
        let caller = require_user(&request)?;
        let id = path_client_id(&request.get_ref().client_id)?;
        clients::delete_client(&self.state, &caller, &id).await?;
        Ok(Response::new(pb::Done {}))
    }

    async fn list_consents(
        &self,
        request: Request<pb::ListConsentsRequest>,
    ) -> Result<Response<pb::ConsentList>, Status> {
        let caller = require_user(&request)?;
        let list = consents::list_consents(&self.state, &caller).await?;
        Ok(Response::new(pb::ConsentList {
            consents: list.into_iter().map(convert::consent).collect(),
        }))
    }

    async fn revoke_consent(
        &self,
        request: Request<pb::ClientRef>,
    ) -> Result<Response<pb::Done>, Status> {
        let caller = require_user(&request)?;
        let id = path_client_id(&request.get_ref().client_id)?;
        consents::revoke_consent(&self.state, &caller, &id).await?;
        Ok(Response::new(pb::Done {}))
    }
}
