//! Demo data (docs/configuration.md#demo-mode): with `DEMO_MODE`, the
//! organizations, users and memberships of `demo_data.json` are created
//! when absent, so a new installation shows a populated admin view. Runs at
//! every start; creates only what is missing and never changes what exists.

use secrecy::SecretString;
use serde::Deserialize;

use crate::db::organizations::{self, OrgRow};
use crate::db::users;
use crate::domain::email::Email;
use crate::domain::types::Id;
use crate::error::Error;
use crate::service::auth::{NewAccount, create_account};
use crate::service::connection;
use crate::state::AppState;

const DATA: &str = include_str!("demo_data.json");

#[derive(Debug, Deserialize)]
struct DemoData {
    organizations: Vec<DemoOrg>,
    users: Vec<DemoUser>,
    memberships: Vec<DemoMembership>,
}

#[derive(Debug, Deserialize)]
struct DemoOrg {
    name: String,
    slug: String,
    description: String,
}

#[derive(Debug, Deserialize)]
struct DemoUser {
    email: String,
    password: String,
    first_name: String,
    last_name: String,
}

#[derive(Debug, Deserialize)]
struct DemoMembership {
    email: String,
    slug: String,
    role: String,
}

/// What the seed created.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Seeded {
    /// New organizations.
    pub organizations: usize,
    /// New users.
    pub users: usize,
    /// New memberships.
    pub memberships: usize,
}

/// Creates whatever of the demo data is missing.
pub async fn seed(state: &AppState) -> Result<Seeded, Error> {
    let data: DemoData = serde_json::from_str(DATA).map_err(Error::internal)?;
    let mut seeded = Seeded::default();
    for user in data.users {
        let email = Email::parse(&user.email).map_err(|e| Error::internal(anyhow::anyhow!(e)))?;
        let exists = users::find_user_by_email(&mut connection(state).await?, email.as_str())
            .await?
            .is_some();
        if exists {
            continue;
        }
        let account = NewAccount {
            email,
            password: SecretString::from(user.password),
            first_name: user.first_name,
            last_name: Some(user.last_name),
            phone_number: None,
        };
        match create_account(state, account, false, true).await {
            Ok(_) => seeded.users += 1,
            // Another replica seeded it first.
            Err(Error::EmailTaken) => {}
            Err(other) => return Err(other),
        }
    }
    let mut conn = connection(state).await?;
    let now = state.clock.now();
    for org in data.organizations {
        if organizations::find_org_by_slug(&mut conn, &org.slug)
            .await?
            .is_some()
        {
            continue;
        }
        let row = OrgRow {
            id: Id::new_random(),
            name: org.name,
            slug: org.slug,
            description: Some(org.description),
            is_active: true,
            settings: Some("{}".to_owned()),
            created_at: now,
            updated_at: now,
        };
        match organizations::insert_org(&mut conn, &row).await {
            Ok(()) => seeded.organizations += 1,
            Err(crate::db::DbError::UniqueViolation(_)) => {}
            Err(other) => return Err(other.into()),
        }
    }
    for membership in data.memberships {
        let user = users::find_user_by_email(&mut conn, &membership.email).await?;
        let org = organizations::find_org_by_slug(&mut conn, &membership.slug).await?;
        let (Some(user), Some(org)) = (user, org) else {
            continue;
        };
        if organizations::find_membership(&mut conn, org.id, user.id)
            .await?
            .is_none()
        {
            organizations::upsert_membership(&mut conn, org.id, user.id, &membership.role, now)
                .await?;
            seeded.memberships += 1;
        }
    }
    Ok(seeded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_file_is_consistent() {
        let data: DemoData = serde_json::from_str(DATA).unwrap();
        for m in &data.memberships {
            assert!(data.users.iter().any(|u| u.email == m.email), "{}", m.email);
            assert!(
                data.organizations.iter().any(|o| o.slug == m.slug),
                "{}",
                m.slug
            );
            assert!(
                crate::domain::role::Role::parse(&m.role).is_some(),
                "{}",
                m.role
            );
        }
        for u in &data.users {
            assert!(crate::domain::password::DEMO_PASSWORDS.contains(&u.password.as_str()));
        }
    }
}
