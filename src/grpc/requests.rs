//! Whole requests to validated service inputs: each function takes one
//! protobuf request (or its path values) and returns what the service needs,
//! or every problem at once (422 / `INVALID_ARGUMENT`). Field-level parsing
//! is in [`super::input`].

use tonic::Status;

use super::input::Patch;
use super::{convert, input, pb};
use crate::domain::listing::UserFilter;
use crate::domain::organization::{parse_description, parse_name, parse_slug};
use crate::domain::types::Id;
use crate::error::{Error, Violations};
use crate::service::admin::{BulkAction, NewOrganization, NewUser};
use crate::service::users::UserQuery;

pub(super) fn new_user(req: pb::CreateUserRequest) -> Result<NewUser, Error> {
    let account = convert::new_account(pb::RegisterRequest {
        email: req.email,
        password: req.password,
        first_name: req.first_name,
        last_name: req.last_name,
        phone_number: req.phone_number,
    })?;
    Ok(NewUser {
        account,
        is_superuser: req.is_superuser.unwrap_or(false),
        is_active: req.is_active.unwrap_or(true),
    })
}

pub(super) fn new_organization(
    req: pb::CreateOrganizationRequest,
) -> Result<NewOrganization, Error> {
    let mut v = Violations::new();
    let name = v
        .required("name", req.name)
        .and_then(|n| v.check("name", parse_name(&n)));
    let slug = v
        .required("slug", req.slug)
        .and_then(|s| v.check("slug", parse_slug(&s)));
    let description = req
        .description
        .and_then(|d| v.check("description", parse_description(&d)));
    let settings = match req.settings {
        None => Some(Some("{}".to_owned())),
        Some(value) => input::patch_object(&mut v, "settings", Some(value)).map(|p| match p {
            Patch::Set(text) => Some(text),
            Patch::Null | Patch::Absent => None,
        }),
    };
    v.finish()?;
    match (name, slug, settings) {
        (Some(name), Some(slug), Some(settings)) => Ok(NewOrganization {
            name,
            slug,
            description,
            is_active: req.is_active.unwrap_or(true),
            settings,
        }),
        _ => Err(Error::internal(anyhow::anyhow!(
            "validation passed with a missing field"
        ))),
    }
}

pub(super) fn bulk(req: pb::BulkActionRequest) -> Result<(BulkAction, Vec<Id>), Error> {
    let mut v = Violations::new();
    let action = match req.action.as_deref() {
        None => {
            v.add("action", "Field required");
            None
        }
        Some("activate") => Some(BulkAction::Activate),
        Some("deactivate") => Some(BulkAction::Deactivate),
        Some("delete") => Some(BulkAction::Delete),
        Some(_) => {
            v.add(
                "action",
                "Input should be 'activate', 'deactivate' or 'delete'",
            );
            None
        }
    };
    if req.user_ids.is_empty() {
        v.add("user_ids", "List should have at least 1 item");
    } else if req.user_ids.len() > 100 {
        v.add("user_ids", "List should have at most 100 items");
    }
    // Too many ids are refused as a whole, not checked one by one.
    let ids: Vec<_> = req
        .user_ids
        .iter()
        .take_while(|_| req.user_ids.len() <= 100)
        .enumerate()
        .filter_map(|(i, raw)| input::id(&mut v, &format!("user_ids.{i}"), raw))
        .collect();
    v.finish()?;
    let action = action.ok_or_else(|| Error::internal(anyhow::anyhow!("missing action")))?;
    Ok((action, ids))
}

pub(super) fn page_and(
    page: Option<i32>,
    limit: Option<i32>,
    id: Option<(&str, &str)>,
) -> Result<(crate::domain::page::PageRequest, Option<Id>), Status> {
    let mut v = Violations::new();
    let id = id.and_then(|(field, raw)| input::id(&mut v, field, raw));
    let page = input::page(&mut v, page, limit);
    v.finish()?;
    Ok((page.unwrap_or_default(), id))
}

pub(super) fn ids(pairs: &[(&str, &str)]) -> Result<Vec<Id>, Status> {
    let mut v = Violations::new();
    let parsed: Vec<_> = pairs
        .iter()
        .filter_map(|(field, raw)| input::id(&mut v, field, raw))
        .collect();
    v.finish()?;
    Ok(parsed)
}

/// A validated user listing (shared with the admin listing).
pub(super) fn user_query(
    req: pb::ListUsersRequest,
    with_search: bool,
) -> Result<UserQuery, Status> {
    let mut v = Violations::new();
    let page = input::page(&mut v, req.page, req.limit);
    let (sort, order) = input::user_sort(&mut v, req.sort_by.as_deref(), req.sort_order.as_deref());
    let search = if with_search {
        input::search(&mut v, req.search)
    } else {
        None
    };
    v.finish()?;
    Ok(UserQuery {
        filter: UserFilter {
            is_active: req.is_active,
            is_superuser: req.is_superuser,
            search,
        },
        sort,
        order,
        page: page.unwrap_or_default(),
    })
}

/// A validated path id.
pub(super) fn path_id(field: &str, raw: &str) -> Result<Id, Status> {
    let mut v = Violations::new();
    let id = input::id(&mut v, field, raw);
    v.finish()?;
    id.ok_or_else(|| Status::invalid_argument(field.to_owned()))
}
