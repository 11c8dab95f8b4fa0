//! `identity.v1.SessionService`: decode, call `service::sessions`, encode.

use tonic::{Request, Response, Status};

use super::authn::require_user;
use super::requests::path_id;
use super::{convert, pb};
use crate::service::sessions;
use crate::state::AppState;

/// The SessionService implementation.
pub struct SessionApi {
    state: AppState,
}

impl SessionApi {
    /// Serves with `state`.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

#[tonic::async_trait]
impl pb::session_service_server::SessionService for SessionApi {
    async fn list_my_sessions(
        &self,
        request: Request<pb::ListMySessionsRequest>,
    ) -> Result<Response<pb::SessionList>, Status> {
        let caller = require_user(&request)?;
        let rows = sessions::list_my_sessions(&self.state, &caller).await?;
        let sessions: Vec<pb::Session> = rows
            .iter()
            .map(|s| convert::session(s, s.id == caller.session_id))
            .collect();
        Ok(Response::new(pb::SessionList {
            total: i32::try_from(sessions.len()).unwrap_or(i32::MAX),
            sessions,
        }))
    }

    async fn revoke_session(
        &self,
        request: Request<pb::RevokeSessionRequest>,
    ) -> Result<Response<pb::MessageResponse>, Status> {
        let caller = require_user(&request)?;
        let id = path_id("session_id", &request.get_ref().session_id)?;
        let session = sessions::revoke_session(&self.state, &caller, id).await?;
        let device = session.device_name.as_deref().unwrap_or("Unknown device");
        Ok(Response::new(convert::message(format!(
            "Session revoked: {device}"
        ))))
    }

    async fn delete_expired_sessions(
        &self,
        request: Request<pb::DeleteExpiredSessionsRequest>,
    ) -> Result<Response<pb::MessageResponse>, Status> {
        let caller = require_user(&request)?;
        let count = sessions::delete_expired_sessions(&self.state, &caller).await?;
        Ok(Response::new(convert::message(format!(
            "Cleaned up {count} expired sessions"
        ))))
    }
}
