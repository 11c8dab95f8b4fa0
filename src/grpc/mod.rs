//! gRPC transport: the tonic services (also reached through grpc-web and the
//! REST transcoder), the authentication layer in front of them, and the
//! conversions between protobuf and domain types. Generated types stop here.

mod admin_service;
mod auth_service;
pub mod authn;
pub mod codec;
pub mod convert;
mod framing;
pub mod input;
mod oauth_provider_service;
mod organization_service;
mod requests;
mod session_service;
mod social_service;
mod user_service;

use tonic::codec::CompressionEncoding;
use tonic::service::Routes;

use crate::state::AppState;

/// Generated protobuf and tonic code of `identity.v1`.
pub mod pb {
    #![expect(clippy::all, clippy::pedantic, missing_docs, reason = "generated code")]
    tonic::include_proto!("identity.v1");

    /// The encoded descriptor set of every served service, with imports and
    /// `google.api.http` options (for reflection and the transcoder).
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/identity_descriptor.bin"));

    /// The `google.rpc` error detail messages (`ErrorInfo`, `BadRequest`,
    /// `RetryInfo`, `Status`), so reflection clients can decode details.
    pub const RPC_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/rpc_descriptor.bin"));
}

/// Every identity service as tonic routes, without any layer. The HTTP body
/// limit (`MAX_REQUEST_BODY_BYTES`) bounds messages, so tonic's own 4 MiB
/// decoding limit is lifted to it: a message under the body limit is never
/// refused with an opaque error. Requests may be gzip-compressed; answers
/// are compressed for clients that accept gzip.
pub fn services(state: &AppState) -> Routes {
    let limit = state.config.max_request_body_bytes;
    macro_rules! tuned {
        ($server:path, $api:expr) => {
            <$server>::new($api)
                .max_decoding_message_size(limit)
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
        };
    }
    let s = || state.clone();
    Routes::new(tuned!(
        pb::auth_service_server::AuthServiceServer<_>,
        auth_service::AuthApi::new(s())
    ))
    .add_service(tuned!(
        pb::user_service_server::UserServiceServer<_>,
        user_service::UserApi::new(s())
    ))
    .add_service(tuned!(
        pb::session_service_server::SessionServiceServer<_>,
        session_service::SessionApi::new(s())
    ))
    .add_service(tuned!(
        pb::organization_service_server::OrganizationServiceServer<_>,
        organization_service::OrganizationApi::new(s())
    ))
    .add_service(tuned!(
        pb::social_login_service_server::SocialLoginServiceServer<_>,
        social_service::SocialApi::new(s())
    ))
    .add_service(tuned!(
        pb::o_auth_provider_service_server::OAuthProviderServiceServer<_>,
        oauth_provider_service::OAuthProviderApi::new(s())
    ))
    .add_service(tuned!(
        pb::admin_service_server::AdminServiceServer<_>,
        admin_service::AdminApi::new(s())
    ))
}

/// gRPC health (`grpc.health.v1`) and reflection (v1 and v1alpha).
pub fn infrastructure(routes: Routes) -> anyhow::Result<Routes> {
    let (reporter, health) = tonic_health::server::health_reporter();
    // The process serves every service as long as it runs; `/health` checks
    // the database for orchestrators.
    drop(reporter);
    // Reflection describes the identity services, the error details they
    // attach and the health service, so tools decode everything they meet.
    let descriptor_sets = [
        pb::FILE_DESCRIPTOR_SET,
        pb::RPC_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
    ];
    let mut v1 = tonic_reflection::server::Builder::configure();
    let mut v1alpha = tonic_reflection::server::Builder::configure();
    for set in descriptor_sets {
        v1 = v1.register_encoded_file_descriptor_set(set);
        v1alpha = v1alpha.register_encoded_file_descriptor_set(set);
    }
    let reflection_v1 = v1.build_v1()?;
    let reflection_v1alpha = v1alpha.build_v1alpha()?;
    Ok(routes
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha))
}
