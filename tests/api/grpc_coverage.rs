//! Every RPC of the Users, Sessions, Organizations and Admin services over
//! native gRPC at least once (the REST tests cover the rules in depth).

use identityd::grpc::pb;
use prost_types::value::Kind;

use crate::db_test;
use crate::helpers::{PASSWORD, reason, with_bearer};

fn string(value: &str) -> Option<prost_types::Value> {
    Some(prost_types::Value {
        kind: Some(Kind::StringValue(value.to_owned())),
    })
}

db_test!(every_admin_and_organization_rpc_over_grpc, |app| {
    let root = app.superuser().await;
    let channel = app.grpc_channel().await;
    let mut admin = pb::admin_service_client::AdminServiceClient::new(channel.clone());
    let mut orgs = pb::organization_service_client::OrganizationServiceClient::new(channel.clone());
    let mut users = pb::user_service_client::UserServiceClient::new(channel.clone());
    let mut sessions = pb::session_service_client::SessionServiceClient::new(channel);

    let created = admin
        .create_user(with_bearer(
            pb::CreateUserRequest {
                email: Some("rpc@example.com".into()),
                password: Some(PASSWORD.into()),
                first_name: Some("Rpc".into()),
                ..Default::default()
            },
            &root,
        ))
        .await
        .unwrap()
        .into_inner();
    let uid = created.id.clone();
    let fetched = admin
        .get_user(with_bearer(
            pb::GetUserRequest {
                user_id: uid.clone(),
            },
            &root,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched.email, "rpc@example.com");
    let renamed = admin
        .update_user(with_bearer(
            pb::UpdateUserRequest {
                user_id: uid.clone(),
                update: Some(pb::UserUpdate {
                    last_name: string("Call"),
                    ..Default::default()
                }),
            },
            &root,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(renamed.last_name.as_deref(), Some("Call"));
    let updated = users
        .update_user(with_bearer(
            pb::UpdateUserRequest {
                user_id: uid.clone(),
                update: Some(pb::UserUpdate {
                    first_name: string("Remote"),
                    ..Default::default()
                }),
            },
            &root,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.first_name, "Remote");
    admin
        .deactivate_user(with_bearer(
            pb::GetUserRequest {
                user_id: uid.clone(),
            },
            &root,
        ))
        .await
        .unwrap();
    admin
        .activate_user(with_bearer(
            pb::GetUserRequest {
                user_id: uid.clone(),
            },
            &root,
        ))
        .await
        .unwrap();

    let org = admin
        .create_organization(with_bearer(
            pb::CreateOrganizationRequest {
                name: Some("Rpc Org".into()),
                slug: Some("rpc-org".into()),
                ..Default::default()
            },
            &root,
        ))
        .await
        .unwrap()
        .into_inner();
    let org_id = org.id.clone();
    let got = admin
        .get_organization(with_bearer(
            pb::AdminOrganizationRequest {
                org_id: org_id.clone(),
            },
            &root,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.slug, "rpc-org");
    let page = admin
        .list_organizations(with_bearer(
            pb::AdminListOrganizationsRequest::default(),
            &root,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.pagination.unwrap().total, 1);
    admin
        .update_organization(with_bearer(
            pb::AdminUpdateOrganizationRequest {
                org_id: org_id.clone(),
                update: Some(pb::OrganizationUpdate {
                    description: string("via gRPC"),
                    ..Default::default()
                }),
            },
            &root,
        ))
        .await
        .unwrap();
    admin
        .add_organization_member(with_bearer(
            pb::AdminAddMemberRequest {
                org_id: org_id.clone(),
                user_id: Some(uid.clone()),
                role: Some(pb::Role::Owner as i32),
            },
            &root,
        ))
        .await
        .unwrap();
    let members = admin
        .list_organization_members(with_bearer(
            pb::AdminListMembersRequest {
                org_id: org_id.clone(),
                ..Default::default()
            },
            &root,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(members.data[0].role, pb::Role::Owner as i32);

    // Member-facing RPCs as the new owner.
    let owner = app.login("rpc@example.com", PASSWORD).await;
    let owner = owner["access_token"].as_str().unwrap().to_owned();
    let (_, helper_id) = app.member("helper@example.com").await;
    let added = orgs
        .add_member(with_bearer(
            pb::AddMemberRequest {
                organization_id: org_id.clone(),
                user_id: Some(helper_id.clone()),
                email: None,
                role: Some(pb::Role::Guest as i32),
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(added.role, pb::Role::Guest as i32);
    let promoted = orgs
        .update_member(with_bearer(
            pb::UpdateMemberRequest {
                organization_id: org_id.clone(),
                user_id: helper_id.clone(),
                role: Some(pb::Role::Admin as i32),
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(promoted.role, pb::Role::Admin as i32);
    let listed = orgs
        .list_members(with_bearer(
            pb::ListMembersRequest {
                organization_id: org_id.clone(),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.pagination.unwrap().total, 2);
    orgs.update_organization(with_bearer(
        pb::UpdateOrganizationRequest {
            organization_id: org_id.clone(),
            update: Some(pb::OrganizationUpdate {
                name: string("Rpc Org 2"),
                ..Default::default()
            }),
        },
        &owner,
    ))
    .await
    .unwrap();
    let got = orgs
        .get_organization(with_bearer(
            pb::GetOrganizationRequest {
                organization_id: org_id.clone(),
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((got.name.as_str(), got.member_count), ("Rpc Org 2", 2));
    orgs.remove_member(with_bearer(
        pb::RemoveMemberRequest {
            organization_id: org_id.clone(),
            user_id: helper_id.clone(),
        },
        &owner,
    ))
    .await
    .unwrap();
    admin
        .remove_organization_member(with_bearer(
            pb::AdminRemoveMemberRequest {
                org_id: org_id.clone(),
                user_id: uid.clone(),
            },
            &root,
        ))
        .await
        .unwrap();

    let stats = admin
        .get_stats(with_bearer(pb::GetStatsRequest {}, &root))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stats.user_growth.len(), 30);
    let all = admin
        .list_sessions(with_bearer(pb::AdminListSessionsRequest::default(), &root))
        .await
        .unwrap()
        .into_inner();
    assert!(all.pagination.unwrap().total >= 3);
    let cleaned = sessions
        .delete_expired_sessions(with_bearer(pb::DeleteExpiredSessionsRequest {}, &owner))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cleaned.message, "Cleaned up 0 expired sessions");

    admin
        .delete_organization(with_bearer(
            pb::AdminOrganizationRequest {
                org_id: org_id.clone(),
            },
            &root,
        ))
        .await
        .unwrap();
    users
        .delete_user(with_bearer(
            pb::DeleteUserRequest { user_id: helper_id },
            &root,
        ))
        .await
        .unwrap();
    admin
        .delete_user(with_bearer(
            pb::DeleteUserRequest {
                user_id: uid.clone(),
            },
            &root,
        ))
        .await
        .unwrap();
    let gone = admin
        .delete_user(with_bearer(pb::DeleteUserRequest { user_id: uid }, &root))
        .await
        .unwrap_err();
    assert_eq!(reason(&gone), "SYS_002");
    assert_eq!(gone.code(), tonic::Code::NotFound);
});
