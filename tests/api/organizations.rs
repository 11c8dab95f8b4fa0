//! Organizations over REST (and a gRPC sample): the permission matrix of
//! guest, member, admin, owner and superuser; owner and last-owner rules.

use identityd::grpc::pb;
use serde_json::{Value, json};

use crate::db_test;
use crate::helpers::{TestApp, reason, with_bearer};

/// An organization with an owner, an admin, a member and a guest.
struct Org {
    id: String,
    root: String,
    owner: (String, String),
    admin: (String, String),
    member: (String, String),
    guest: (String, String),
    outsider: (String, String),
}

async fn org(app: &TestApp) -> Org {
    let root = app.superuser().await;
    let created = app
        .call(
            "POST",
            "/api/v1/admin/organizations",
            Some(&root),
            Some(json!({"name": " Acme ", "slug": "acme", "description": "Widgets"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let mut people = Vec::new();
    for (name, role) in [
        ("owner", "owner"),
        ("admin", "admin"),
        ("member", "member"),
        ("guest", "guest"),
    ] {
        let person = app.member(&format!("{name}@acme.test")).await;
        let added = app
            .call(
                "POST",
                &format!("/api/v1/admin/organizations/{id}/members"),
                Some(&root),
                Some(json!({"user_id": person.1, "role": role})),
            )
            .await;
        assert_eq!(added.status, 200, "{}", added.body);
        people.push(person);
    }
    let outsider = app.member("outsider@acme.test").await;
    let mut people = people.into_iter();
    let mut next = || people.next().unwrap();
    Org {
        id,
        root,
        owner: next(),
        admin: next(),
        member: next(),
        guest: next(),
        outsider,
    }
}

fn members(answer: &crate::helpers::Answer) -> Vec<String> {
    answer.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap().to_owned())
        .collect()
}

db_test!(viewing_follows_membership, |app| {
    let o = org(&app).await;
    let path = format!("/api/v1/organizations/{}", o.id);
    for token in [&o.owner.0, &o.admin.0, &o.member.0, &o.guest.0, &o.root] {
        let seen = app.get_auth(&path, token).await;
        assert_eq!(seen.status, 200, "{}", seen.body);
        assert_eq!(seen.body["name"], "Acme");
        assert_eq!(seen.body["member_count"], json!(4));
        assert_eq!(seen.body["settings"], json!({}));
        assert!(
            seen.body.get("role").is_none(),
            "role only in /organizations/me"
        );
    }
    let outsider = app.get_auth(&path, &o.outsider.0).await;
    assert_eq!(
        outsider.error(403, "AUTH_004")["message"],
        "Not a member of this organization"
    );
    let unknown = format!("/api/v1/organizations/{}", uuid::Uuid::new_v4());
    app.get_auth(&unknown, &o.outsider.0)
        .await
        .error(403, "AUTH_004");
    assert_eq!(
        app.get_auth(&unknown, &o.root).await.error(404, "SYS_002")["message"],
        "Organization not found"
    );
    assert_eq!(
        app.get_auth("/api/v1/organizations/bad", &o.root)
            .await
            .error(422, "VAL_001")["field"],
        "organization_id"
    );

    let mine = app.get_auth("/api/v1/organizations/me", &o.admin.0).await;
    assert_eq!(mine.status, 200, "{}", mine.body);
    assert_eq!(mine.body.as_array().unwrap().len(), 1);
    assert_eq!(mine.body[0]["role"], "admin");
    assert_eq!(mine.body[0]["slug"], "acme");
    let none = app
        .get_auth("/api/v1/organizations/me", &o.outsider.0)
        .await;
    assert_eq!(none.body, json!([]));

    let list = app.get_auth(&format!("{path}/members"), &o.member.0).await;
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(list.body["pagination"]["total"], json!(4));
    let first: &Value = &list.body["data"][0];
    for key in [
        "user_id",
        "email",
        "first_name",
        "last_name",
        "role",
        "is_active",
        "joined_at",
    ] {
        assert!(first.get(key).is_some(), "{key}");
    }
    let guest_view = app.get_auth(&format!("{path}/members"), &o.guest.0).await;
    assert_eq!(members(&guest_view), ["guest@acme.test"]);
    assert_eq!(guest_view.body["pagination"]["total"], json!(1));
});

db_test!(updating_needs_owner_or_admin_and_a_free_slug, |app| {
    let o = org(&app).await;
    let path = format!("/api/v1/organizations/{}", o.id);
    for token in [&o.member.0, &o.guest.0] {
        let refused = app
            .call("PUT", &path, Some(token), Some(json!({"name": "X"})))
            .await;
        assert_eq!(
            refused.error(403, "AUTH_004")["message"],
            "Requires role owner or admin in this organization"
        );
    }
    let updated = app
        .call(
            "PUT",
            &path,
            Some(&o.admin.0),
            Some(json!({"name": "Acme Corp", "description": null, "settings": {"tier": 2}})),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.body["name"], "Acme Corp");
    assert_eq!(updated.body["description"], json!(null));
    assert_eq!(updated.body["settings"], json!({"tier": 2}));
    assert_eq!(updated.body["slug"], "acme");

    app.call(
        "POST",
        "/api/v1/admin/organizations",
        Some(&o.root),
        Some(json!({"name": "Other", "slug": "other"})),
    )
    .await;
    let taken = app
        .call(
            "PUT",
            &path,
            Some(&o.owner.0),
            Some(json!({"slug": "other"})),
        )
        .await;
    let item = taken.error(409, "SYS_005");
    assert_eq!(
        item["message"],
        "Organization with slug 'other' already exists"
    );
    assert_eq!(item["field"], "slug");
    let bad = app
        .call(
            "PUT",
            &path,
            Some(&o.owner.0),
            Some(json!({"slug": "Bad Slug", "name": "  "})),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    let fields: Vec<_> = bad.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["name", "slug"]);
});

db_test!(member_management_follows_the_owner_rules, |app| {
    let o = org(&app).await;
    let members_path = format!("/api/v1/organizations/{}/members", o.id);
    let newcomer = app.member("new@acme.test").await;

    let by_member = app
        .call(
            "POST",
            &members_path,
            Some(&o.member.0),
            Some(json!({"user_id": newcomer.1})),
        )
        .await;
    by_member.error(403, "AUTH_004");
    let owner_by_admin = app
        .call(
            "POST",
            &members_path,
            Some(&o.admin.0),
            Some(json!({"user_id": newcomer.1, "role": "owner"})),
        )
        .await;
    assert_eq!(
        owner_by_admin.error(403, "AUTH_004")["message"],
        "Only owners can grant, change or remove the owner role"
    );
    let added = app
        .call(
            "POST",
            &members_path,
            Some(&o.admin.0),
            Some(json!({"email": "NEW@acme.test"})),
        )
        .await;
    assert_eq!(added.status, 201, "{}", added.body);
    assert_eq!(added.body["role"], "member");
    assert_eq!(added.body["email"], "new@acme.test");
    let again = app
        .call(
            "POST",
            &members_path,
            Some(&o.admin.0),
            Some(json!({"email": "new@acme.test"})),
        )
        .await;
    assert_eq!(again.error(409, "USER_002")["field"], "email");
    let both = app
        .call(
            "POST",
            &members_path,
            Some(&o.admin.0),
            Some(json!({"email": "a@b.co", "user_id": newcomer.1})),
        )
        .await;
    assert_eq!(
        both.error(422, "VAL_001")["message"],
        "Provide exactly one of user_id or email"
    );
    let ghost = app
        .call(
            "POST",
            &members_path,
            Some(&o.admin.0),
            Some(json!({"user_id": uuid::Uuid::new_v4()})),
        )
        .await;
    assert_eq!(ghost.error(404, "SYS_002")["message"], "User not found");
    let bad_role = app
        .call(
            "POST",
            &members_path,
            Some(&o.admin.0),
            Some(json!({"user_id": newcomer.1, "role": "king"})),
        )
        .await;
    assert_eq!(bad_role.error(422, "VAL_001")["field"], "role");

    let promote = app
        .call(
            "PATCH",
            &format!("{members_path}/{}", newcomer.1),
            Some(&o.admin.0),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(promote.status, 200, "{}", promote.body);
    assert_eq!(promote.body["role"], "admin");
    let demote_owner = app
        .call(
            "PATCH",
            &format!("{members_path}/{}", o.owner.1),
            Some(&o.admin.0),
            Some(json!({"role": "member"})),
        )
        .await;
    demote_owner.error(403, "AUTH_004");
    let last_owner = app
        .call(
            "PATCH",
            &format!("{members_path}/{}", o.owner.1),
            Some(&o.owner.0),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!(
        last_owner.error(409, "ORG_001")["message"],
        "An organization must keep at least one active owner"
    );
    let leave_last = app
        .call(
            "DELETE",
            &format!("{members_path}/{}", o.owner.1),
            Some(&o.owner.0),
            None,
        )
        .await;
    leave_last.error(409, "ORG_001");
    let missing_role = app
        .call(
            "PATCH",
            &format!("{members_path}/{}", newcomer.1),
            Some(&o.owner.0),
            Some(json!({})),
        )
        .await;
    assert_eq!(missing_role.error(422, "VAL_001")["field"], "role");

    // Two owners: one may now step down.
    let second = app
        .call(
            "PATCH",
            &format!("{members_path}/{}", o.admin.1),
            Some(&o.owner.0),
            Some(json!({"role": "owner"})),
        )
        .await;
    assert_eq!(second.body["role"], "owner");
    let step_down = app
        .call(
            "PATCH",
            &format!("{members_path}/{}", o.owner.1),
            Some(&o.owner.0),
            Some(json!({"role": "member"})),
        )
        .await;
    assert_eq!(step_down.status, 200, "{}", step_down.body);

    // Removal: admins remove non-owners, anyone may leave, removal is soft.
    let remove_guest = app
        .call(
            "DELETE",
            &format!("{members_path}/{}", o.guest.1),
            Some(&newcomer.0),
            None,
        )
        .await;
    assert_eq!(remove_guest.status, 200, "{}", remove_guest.body);
    assert_eq!(
        remove_guest.body["message"],
        "User guest@acme.test removed from organization Acme"
    );
    let by_plain = app
        .call(
            "DELETE",
            &format!("{members_path}/{}", newcomer.1),
            Some(&o.member.0),
            None,
        )
        .await;
    assert_eq!(
        by_plain.error(403, "AUTH_004")["message"],
        "Requires role owner or admin in this organization"
    );
    let leave = app
        .call(
            "DELETE",
            &format!("{members_path}/{}", o.member.1),
            Some(&o.member.0),
            None,
        )
        .await;
    assert_eq!(leave.status, 200);
    let gone = app
        .call(
            "DELETE",
            &format!("{members_path}/{}", o.member.1),
            Some(&newcomer.0),
            None,
        )
        .await;
    assert_eq!(
        gone.error(404, "SYS_002")["message"],
        "User is not a member of this organization"
    );
    let removed = app
        .get_auth(&format!("{members_path}?is_active=false"), &newcomer.0)
        .await;
    let mut emails = members(&removed);
    emails.sort();
    assert_eq!(emails, ["guest@acme.test", "member@acme.test"]);
    // Re-adding reactivates with the new role and keeps joined_at.
    let before = removed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == "guest@acme.test")
        .unwrap()["joined_at"]
        .clone();
    let readd = app
        .call(
            "POST",
            &members_path,
            Some(&newcomer.0),
            Some(json!({"user_id": o.guest.1, "role": "member"})),
        )
        .await;
    assert_eq!(readd.status, 201, "{}", readd.body);
    assert_eq!(readd.body["joined_at"], before);
    assert_eq!(readd.body["role"], "member");
    app.get_auth(&format!("/api/v1/organizations/{}", o.id), &o.member.0)
        .await
        .error(403, "AUTH_004");
});

db_test!(organizations_over_grpc, |app| {
    let o = org(&app).await;
    let mut client =
        pb::organization_service_client::OrganizationServiceClient::new(app.grpc_channel().await);
    let mine = client
        .list_my_organizations(with_bearer(
            pb::ListMyOrganizationsRequest { is_active: None },
            &o.owner.0,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mine.organizations.len(), 1);
    assert_eq!(mine.organizations[0].role, pb::Role::Owner as i32);
    let denied = client
        .get_organization(with_bearer(
            pb::GetOrganizationRequest {
                organization_id: o.id.clone(),
            },
            &o.outsider.0,
        ))
        .await
        .unwrap_err();
    assert_eq!(reason(&denied), "AUTH_004");
    let last = client
        .remove_member(with_bearer(
            pb::RemoveMemberRequest {
                organization_id: o.id.clone(),
                user_id: o.owner.1.clone(),
            },
            &o.owner.0,
        ))
        .await
        .unwrap_err();
    assert_eq!(reason(&last), "ORG_001");
    assert_eq!(last.code(), tonic::Code::FailedPrecondition);
});

db_test!(concurrent_adds_of_one_member_give_one_201_and_409s, |app| {
    let o = org(&app).await;
    let (_, newcomer) = app.member("racer@acme.test").await;
    let path = format!("/api/v1/organizations/{}/members", o.id);
    let attempts = (0..6).map(|_| {
        app.call(
            "POST",
            &path,
            Some(&o.owner.0),
            Some(json!({"user_id": newcomer})),
        )
    });
    let statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|a| a.status)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
});
