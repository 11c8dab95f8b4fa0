//! What services hand to transports: owned views of stored data, without
//! what a client must never see (password hashes, refresh-token ids, user
//! agents, custom permission blobs). Database rows stop in `service/`.

use crate::db::organizations::{MembershipRow, OrgRow};
use crate::db::sessions::SessionRow;
use crate::db::users::UserRow;
use crate::domain::types::{Id, Timestamp};

/// A user as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Id.
    pub id: Id,
    /// Normalised email.
    pub email: String,
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: Option<String>,
    /// Cleaned phone number.
    pub phone_number: Option<String>,
    /// May log in.
    pub is_active: bool,
    /// Superuser.
    pub is_superuser: bool,
    /// Lower-case locale.
    pub locale: Option<String>,
    /// Preferences, a serialised JSON object.
    pub preferences: Option<String>,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        Self {
            id: row.id,
            email: row.email,
            first_name: row.first_name,
            last_name: row.last_name,
            phone_number: row.phone_number,
            is_active: row.is_active,
            is_superuser: row.is_superuser,
            locale: row.locale,
            preferences: row.preferences,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// A session as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Id (the `sid` of its tokens).
    pub id: Id,
    /// Its user.
    pub user_id: Id,
    /// Derived from the User-Agent.
    pub device_name: Option<String>,
    /// `X-Device-Id` as sent.
    pub device_id: Option<String>,
    /// Client IP.
    pub ip_address: Option<String>,
    /// Always null (no geolocation).
    pub location_city: Option<String>,
    /// Always null (no geolocation).
    pub location_country: Option<String>,
    /// Last login or refresh.
    pub last_used_at: Timestamp,
    /// Created.
    pub created_at: Timestamp,
    /// End of the current refresh token.
    pub expires_at: Timestamp,
    /// Not ended.
    pub is_active: bool,
}

impl From<SessionRow> for Session {
    fn from(row: SessionRow) -> Self {
        Self {
            id: row.id,
            user_id: row.user_id,
            device_name: row.device_name,
            device_id: row.device_id,
            ip_address: row.ip_address,
            location_city: row.location_city,
            location_country: row.location_country,
            last_used_at: row.last_used_at,
            created_at: row.created_at,
            expires_at: row.expires_at,
            is_active: row.is_active,
        }
    }
}

/// An organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    /// Id.
    pub id: Id,
    /// Display name.
    pub name: String,
    /// Unique slug.
    pub slug: String,
    /// Free text.
    pub description: Option<String>,
    /// Active.
    pub is_active: bool,
    /// Settings, a serialised JSON object.
    pub settings: Option<String>,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

impl From<OrgRow> for Organization {
    fn from(row: OrgRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            slug: row.slug,
            description: row.description,
            is_active: row.is_active,
            settings: row.settings,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// A membership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// `owner`, `admin`, `member` or `guest`.
    pub role: String,
    /// Not removed.
    pub is_active: bool,
    /// Joined.
    pub created_at: Timestamp,
}

impl From<MembershipRow> for Membership {
    fn from(row: MembershipRow) -> Self {
        Self {
            role: row.role,
            is_active: row.is_active,
            created_at: row.created_at,
        }
    }
}

/// A social identity linked to a user; never its provider tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedAccount {
    /// Link id.
    pub id: Id,
    /// `google`, `github` or `oidc`.
    pub provider: String,
    /// The email the provider reported.
    pub provider_email: Option<String>,
    /// Linked.
    pub created_at: Timestamp,
}

impl From<crate::db::social::AccountRow> for LinkedAccount {
    fn from(row: crate::db::social::AccountRow) -> Self {
        Self {
            id: row.id,
            provider: row.provider,
            provider_email: row.provider_email,
            created_at: row.created_at,
        }
    }
}
