//! What a user listing may ask for: filters and the sort allow-list
//! (docs/api.md#pagination-sorting-and-search).

/// Sortable user columns (the API's allow-list, docs/api.md#sorting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSortField {
    /// `created_at`.
    CreatedAt,
    /// `updated_at`.
    UpdatedAt,
    /// `email`.
    Email,
    /// `first_name`.
    FirstName,
    /// `last_name` (nullable).
    LastName,
}

/// Filters of a user listing; deleted users are always excluded.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Only users in this activation state.
    pub is_active: Option<bool>,
    /// Only users with this superuser status.
    pub is_superuser: Option<bool>,
    /// Case-insensitive literal substring of email, first or last name.
    pub search: Option<String>,
}
