//! Organization roles.

/// A member's role in an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Full control, including the owner role itself.
    Owner,
    /// Manages the organization and its non-owner members.
    Admin,
    /// Sees the organization and its members.
    Member,
    /// Sees the organization and their own membership only.
    Guest,
}

impl Role {
    /// The stored and JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Member => "member",
            Self::Guest => "guest",
        }
    }

    /// Parses the stored form.
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "owner" => Self::Owner,
            "admin" => Self::Admin,
            "member" => Self::Member,
            "guest" => Self::Guest,
            _ => return None,
        })
    }

    /// Owners and admins manage the organization.
    pub fn manages(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }
}
