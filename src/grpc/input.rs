//! Parsing of request members shared by several services: ids, pages,
//! sorting, and the `google.protobuf.Value` members of partial updates
//! (absent = unchanged, `null` = clear). Every problem is recorded in a
//! [`Violations`] so one answer lists all of them.

use prost_types::value::Kind;
use secrecy::SecretString;

use crate::domain::listing::UserSortField;
use crate::domain::page::{PageRequest, SortOrder};
use crate::domain::password::check_new_password;
use crate::domain::profile::{self, check_no_nul};
use crate::domain::role::Role;
use crate::domain::types::Id;
use crate::error::Violations;
use crate::service::organizations::OrgChanges;
use crate::service::users::UserChanges;

/// Largest serialized size of `preferences` and `settings`.
const MAX_JSON_OBJECT_BYTES: usize = 16 * 1024;

/// A UUID: 32 hex digits, with or without the canonical hyphens, any case.
pub fn id(v: &mut Violations, field: &str, raw: &str) -> Option<Id> {
    let bytes = raw.as_bytes();
    let canonical = bytes.len() == 36
        && [8, 13, 18, 23].iter().all(|&i| bytes[i] == b'-')
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| [8, 13, 18, 23].contains(&i) || b.is_ascii_hexdigit());
    let simple = bytes.len() == 32 && bytes.iter().all(u8::is_ascii_hexdigit);
    if !(canonical || simple) {
        v.add(field, "Input should be a valid UUID");
        return None;
    }
    uuid::Uuid::parse_str(raw).ok().map(Id)
}

/// `page` and `limit` (section 1.8).
pub fn page(v: &mut Violations, page: Option<i32>, limit: Option<i32>) -> Option<PageRequest> {
    match PageRequest::parse(page, limit) {
        Ok(request) => Some(request),
        Err(problems) => {
            for (field, message) in problems {
                v.add(field, message);
            }
            None
        }
    }
}

/// `sort_by` (allow-list) and `sort_order`; the default order is desc
/// without `sort_by` and asc with it.
pub fn user_sort(
    v: &mut Violations,
    sort_by: Option<&str>,
    sort_order: Option<&str>,
) -> (UserSortField, SortOrder) {
    let field = match sort_by {
        None | Some("created_at") => UserSortField::CreatedAt,
        Some("updated_at") => UserSortField::UpdatedAt,
        Some("email") => UserSortField::Email,
        Some("first_name") => UserSortField::FirstName,
        Some("last_name") => UserSortField::LastName,
        Some(_) => {
            v.add(
                "sort_by",
                "Input should be 'created_at', 'updated_at', 'email', 'first_name' or 'last_name'",
            );
            UserSortField::CreatedAt
        }
    };
    let order = match sort_order {
        None if sort_by.is_some() => SortOrder::Asc,
        None => SortOrder::Desc,
        Some("asc") => SortOrder::Asc,
        Some("desc") => SortOrder::Desc,
        Some(_) => {
            v.add("sort_order", "Input should be 'asc' or 'desc'");
            SortOrder::Desc
        }
    };
    (field, order)
}

/// An optional search term: at most 255 characters, no NUL.
pub fn search(v: &mut Violations, raw: Option<String>) -> Option<String> {
    let raw = raw?;
    if raw.chars().count() > 255 {
        v.add("search", "String should have at most 255 characters");
        return None;
    }
    v.check("search", check_no_nul(&raw))
        .map(|()| raw)
        .filter(|s| !s.is_empty())
}

/// A member of a partial update.
#[derive(Debug, Clone, PartialEq)]
pub enum Patch<T> {
    /// Not sent: unchanged.
    Absent,
    /// Sent as `null`.
    Null,
    /// Sent with a value.
    Set(T),
}

impl<T> Patch<T> {
    /// `Absent` → None, `Null` → Some(None), `Set(x)` → Some(Some(x)).
    pub fn into_change(self) -> Option<Option<T>> {
        match self {
            Self::Absent => None,
            Self::Null => Some(None),
            Self::Set(value) => Some(Some(value)),
        }
    }
}

fn kind(value: Option<prost_types::Value>) -> Option<Kind> {
    value.map(|v| v.kind.unwrap_or(Kind::NullValue(0)))
}

/// A member whose value `extract` accepts; anything else records `message`.
fn patch<T>(
    v: &mut Violations,
    field: &str,
    value: Option<prost_types::Value>,
    extract: fn(Kind) -> Option<T>,
    message: &str,
) -> Option<Patch<T>> {
    match kind(value) {
        None => Some(Patch::Absent),
        Some(Kind::NullValue(_)) => Some(Patch::Null),
        Some(other) => {
            let value = extract(other);
            if value.is_none() {
                v.add(field, message);
            }
            value.map(Patch::Set)
        }
    }
}

/// A string member.
pub fn patch_string(
    v: &mut Violations,
    field: &str,
    value: Option<prost_types::Value>,
) -> Option<Patch<String>> {
    let string = |k| match k {
        Kind::StringValue(s) => Some(s),
        _ => None,
    };
    patch(v, field, value, string, "Input should be a valid string")
}

/// A boolean member.
pub fn patch_bool(
    v: &mut Violations,
    field: &str,
    value: Option<prost_types::Value>,
) -> Option<Patch<bool>> {
    let boolean = |k| match k {
        Kind::BoolValue(b) => Some(b),
        _ => None,
    };
    patch(v, field, value, boolean, "Input should be a valid boolean")
}

/// A JSON-object member (`preferences`, `settings`) as JSON text, at most 16 KiB.
pub fn patch_object(
    v: &mut Violations,
    field: &str,
    value: Option<prost_types::Value>,
) -> Option<Patch<String>> {
    match kind(value) {
        None => Some(Patch::Absent),
        Some(Kind::NullValue(_)) => Some(Patch::Null),
        Some(Kind::StructValue(object)) => {
            let text = crate::grpc::convert::struct_to_json(object).to_string();
            if text.len() > MAX_JSON_OBJECT_BYTES {
                v.add(field, "Object must not exceed 16 KiB when serialized");
                return None;
            }
            if text.contains("\\u0000") {
                v.add(field, crate::domain::profile::NUL_MESSAGE);
                return None;
            }
            Some(Patch::Set(text))
        }
        Some(_) => {
            v.add(field, "Input should be a valid dictionary");
            None
        }
    }
}

/// Which endpoint a user update comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateMode {
    /// `PATCH /users/...`: no password, no superuser status.
    User,
    /// `PUT /admin/users/{id}`: both allowed.
    Admin,
}

/// Validates a UserUpdate (section 2.4) or an admin update (2.7.5).
pub fn user_changes(
    v: &mut Violations,
    update: Option<crate::grpc::pb::UserUpdate>,
    mode: UpdateMode,
) -> UserChanges {
    let update = update.unwrap_or_default();
    let mut changes = UserChanges::default();
    match patch_string(v, "first_name", update.first_name) {
        Some(Patch::Null) => v.add("first_name", "Input should be a valid string"),
        Some(Patch::Set(name)) => {
            changes.first_name = v.check("first_name", profile::parse_first_name(&name))
        }
        _ => {}
    }
    match patch_string(v, "last_name", update.last_name) {
        Some(Patch::Null) => changes.last_name = Some(None),
        Some(Patch::Set(name)) => {
            changes.last_name = v.check("last_name", profile::parse_last_name(Some(&name)));
        }
        _ => {}
    }
    match patch_string(v, "phone_number", update.phone_number) {
        Some(Patch::Null) => changes.phone_number = Some(None),
        Some(Patch::Set(phone)) => {
            changes.phone_number =
                v.check("phone_number", profile::parse_phone_number(Some(&phone)));
        }
        _ => {}
    }
    match patch_string(v, "locale", update.locale) {
        Some(Patch::Null) => changes.locale = Some(None),
        Some(Patch::Set(locale)) => {
            changes.locale = v.check("locale", profile::parse_locale(Some(&locale)))
        }
        _ => {}
    }
    if let Some(patch) = patch_object(v, "preferences", update.preferences) {
        changes.preferences = patch.into_change();
    }
    match patch_bool(v, "is_active", update.is_active) {
        Some(Patch::Null) => v.add("is_active", "Input should be a valid boolean"),
        Some(Patch::Set(active)) => changes.is_active = Some(active),
        _ => {}
    }
    match (mode, kind(update.is_superuser)) {
        (_, None) | (UpdateMode::User, Some(Kind::NullValue(_))) => {}
        (UpdateMode::User, Some(_)) => {
            v.add(
                "is_superuser",
                "Cannot modify superuser status through user update",
            );
        }
        (UpdateMode::Admin, Some(Kind::BoolValue(b))) => changes.is_superuser = Some(b),
        (UpdateMode::Admin, Some(_)) => v.add("is_superuser", "Input should be a valid boolean"),
    }
    match (mode, kind(update.password)) {
        (_, None) => {}
        (UpdateMode::User, Some(_)) => {
            v.add(
                "password",
                "Use PATCH /users/me/password to change the password",
            );
        }
        (UpdateMode::Admin, Some(Kind::StringValue(p))) => {
            let checked = check_no_nul(&p).and_then(|()| check_new_password(&p, true));
            changes.password = v.check("password", checked).map(|()| SecretString::from(p));
        }
        (UpdateMode::Admin, Some(_)) => v.add("password", "Input should be a valid string"),
    }
    changes
}

/// Validates an OrganizationUpdate (section 2.6.1).
pub fn org_changes(
    v: &mut Violations,
    update: Option<crate::grpc::pb::OrganizationUpdate>,
) -> OrgChanges {
    use crate::domain::organization::{parse_description, parse_name, parse_slug};
    let update = update.unwrap_or_default();
    let mut changes = OrgChanges::default();
    match patch_string(v, "name", update.name) {
        Some(Patch::Null) => v.add("name", "Input should be a valid string"),
        Some(Patch::Set(name)) => changes.name = v.check("name", parse_name(&name)),
        _ => {}
    }
    match patch_string(v, "slug", update.slug) {
        Some(Patch::Null) => v.add("slug", "Input should be a valid string"),
        Some(Patch::Set(slug)) => changes.slug = v.check("slug", parse_slug(&slug)),
        _ => {}
    }
    match patch_string(v, "description", update.description) {
        Some(Patch::Null) => changes.description = Some(None),
        Some(Patch::Set(text)) => {
            changes.description = v.check("description", parse_description(&text)).map(Some);
        }
        _ => {}
    }
    match patch_bool(v, "is_active", update.is_active) {
        Some(Patch::Null) => v.add("is_active", "Input should be a valid boolean"),
        Some(Patch::Set(active)) => changes.is_active = Some(active),
        _ => {}
    }
    if let Some(patch) = patch_object(v, "settings", update.settings) {
        changes.settings = patch.into_change();
    }
    changes
}

/// A role: `None` when absent; ROLE_UNSPECIFIED sent explicitly is refused.
pub fn role(v: &mut Violations, raw: Option<i32>) -> Option<Role> {
    use crate::grpc::pb;
    let parsed = match pb::Role::try_from(raw?) {
        Ok(pb::Role::Owner) => Some(Role::Owner),
        Ok(pb::Role::Admin) => Some(Role::Admin),
        Ok(pb::Role::Member) => Some(Role::Member),
        Ok(pb::Role::Guest) => Some(Role::Guest),
        Ok(pb::Role::Unspecified) | Err(_) => None,
    };
    if parsed.is_none() {
        v.add(
            "role",
            "Input should be 'owner', 'admin', 'member' or 'guest'",
        );
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_canonical_and_simple_forms_only() {
        let mut v = Violations::new();
        let lower = "0f8fad5b-d9cb-469f-a165-70867728950e";
        assert_eq!(id(&mut v, "id", lower).unwrap().to_string(), lower);
        assert_eq!(
            id(&mut v, "id", &lower.to_uppercase()).unwrap().to_string(),
            lower
        );
        assert_eq!(
            id(&mut v, "id", &lower.replace('-', ""))
                .unwrap()
                .to_string(),
            lower
        );
        assert!(v.finish().is_ok());
        let mut v = Violations::new();
        assert!(id(&mut v, "user_id", "me").is_none());
        assert!(id(&mut v, "user_id", &format!("{{{lower}}}")).is_none());
        assert!(id(&mut v, "user_id", &format!("urn:uuid:{lower}")).is_none());
        assert!(v.finish().is_err());
    }

    #[test]
    fn user_updates_refuse_password_and_superuser_on_user_endpoints() {
        let update = crate::grpc::pb::UserUpdate {
            password: Some(prost_types::Value {
                kind: Some(Kind::StringValue("x".into())),
            }),
            is_superuser: Some(prost_types::Value {
                kind: Some(Kind::BoolValue(true)),
            }),
            ..Default::default()
        };
        let mut v = Violations::new();
        user_changes(&mut v, Some(update), UpdateMode::User);
        let crate::error::Error::Validation(items) = v.finish().unwrap_err() else {
            panic!()
        };
        let fields: Vec<_> = items.iter().map(|i| i.field.clone().unwrap()).collect();
        assert_eq!(fields, ["is_superuser", "password"]);
    }
}
