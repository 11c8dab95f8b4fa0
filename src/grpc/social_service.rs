//! `identity.v1.SocialLoginService`: decode, call `service::social`, encode.

use tonic::{Request, Response, Status};

use super::authn::{optional_user, require_user};
use super::requests::{redirect_uri, social_callback};
use super::{convert, pb};
use crate::service::social;
use crate::state::AppState;

/// The SocialLoginService implementation.
pub struct SocialApi {
    state: AppState,
}

impl SocialApi {
    /// Serves with `state`.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl pb::social_login_service_server::SocialLoginService for SocialApi {
    async fn list_providers(
        &self,
        _request: Request<pb::ListProvidersRequest>,
    ) -> Result<Response<pb::ProviderList>, Status> {
        Ok(Response::new(convert::provider_list(social::providers(
            &self.state,
        ))))
    }

    async fn get_authorization_url(
        &self,
        request: Request<pb::AuthorizationUrlRequest>,
    ) -> Result<Response<pb::AuthorizationUrl>, Status> {
        let caller = optional_user(&request);
        let req = request.into_inner();
        let provider = social::usable_provider(&self.state, &req.provider)?;
        let uri = redirect_uri(req.redirect_uri)?;
        let start = social::start(&self.state, provider, uri, caller.as_ref()).await?;
        Ok(Response::new(convert::authorization_url(start)))
    }

    async fn callback(
        &self,
        request: Request<pb::CallbackRequest>,
    ) -> Result<Response<pb::SocialToken>, Status> {
        let device = convert::device(&request);
        let caller = optional_user(&request);
        let req = request.into_inner();
        let provider = social::usable_provider(&self.state, &req.provider)?;
        let input = social_callback(req)?;
        let login = social::callback(&self.state, provider, input, caller.as_ref(), device).await?;
        Ok(Response::new(convert::social_token(&login)))
    }

    async fn list_linked_accounts(
        &self,
        request: Request<pb::ListLinkedAccountsRequest>,
    ) -> Result<Response<pb::LinkedAccountList>, Status> {
        let caller = require_user(&request)?;
        let accounts = social::list_accounts(&self.state, &caller).await?;
        Ok(Response::new(pb::LinkedAccountList {
            accounts: accounts.into_iter().map(convert::linked_account).collect(),
        }))
    }

    async fn unlink_account(
        &self,
        request: Request<pb::UnlinkAccountRequest>,
    ) -> Result<Response<pb::MessageResponse>, Status> {
        let caller = require_user(&request)?;
        let provider = social::known_provider(&request.get_ref().provider)?;
        let name = social::unlink(&self.state, &caller, provider).await?;
        Ok(Response::new(convert::message(format!(
            "{name} account unlinked successfully"
        ))))
    }

    async fn start_link(
        &self,
        request: Request<pb::AuthorizationUrlRequest>,
    ) -> Result<Response<pb::AuthorizationUrl>, Status> {
        let caller = require_user(&request)?;
        let req = request.into_inner();
        let provider = social::usable_provider(&self.state, &req.provider)?;
        let uri = redirect_uri(req.redirect_uri)?;
        let start = social::start_link(&self.state, provider, uri, &caller).await?;
        Ok(Response::new(convert::authorization_url(start)))
    }
}
