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
use crate::service::social::Callback;
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

/// Redirect URIs from a list whose entries may hold several, comma-separated.
fn redirect_uri_list(v: &mut Violations, raw: &[String], production: bool) -> Vec<String> {
    let uris: Vec<String> = raw
        .iter()
        .flat_map(|entry| entry.split(','))
        .map(str::trim)
        .filter(|uri| !uri.is_empty())
        .map(str::to_owned)
        .collect();
    if uris.len() > 20 {
        v.add("redirect_uris", "At most 20 redirect URIs");
    }
    for uri in &uris {
        if let Err(message) = crate::domain::oauth::check_redirect_uri(uri, production) {
            v.add("redirect_uris", message);
        }
    }
    uris
}

fn client_scopes(v: &mut Violations, raw: &str) -> Option<Vec<String>> {
    match crate::domain::oauth::parse_scope(raw) {
        Ok(scopes) if scopes.is_empty() => {
            v.add("scopes", "At least one scope is required");
            None
        }
        Ok(scopes) if scopes.len() > 50 => {
            v.add("scopes", "At most 50 scopes");
            None
        }
        Ok(scopes) => Some(scopes),
        Err(message) => {
            v.add("scopes", message);
            None
        }
    }
}

fn bounded_text(
    v: &mut Violations,
    field: &str,
    raw: Option<String>,
    max: usize,
) -> Option<String> {
    let text = raw?.trim().to_owned();
    if text.chars().count() > max {
        v.add(field, format!("At most {max} characters"));
    }
    if text.contains('\0') {
        v.add(field, crate::domain::profile::NUL_MESSAGE);
    }
    (!text.is_empty()).then_some(text)
}

fn mcp_server_url(v: &mut Violations, raw: Option<String>) -> Option<String> {
    let url = bounded_text(v, "mcp_server_url", raw, 2048)?;
    let absolute = (url.starts_with("https://") || url.starts_with("http://"))
        && url.split_once("://").is_some_and(|(_, rest)| {
            rest.split(['/', '?', '#'])
                .next()
                .is_some_and(|host| !host.is_empty())
        });
    if !absolute {
        v.add("mcp_server_url", "Must be an absolute http(s) URL");
    }
    Some(url)
}

fn client_name(v: &mut Violations, raw: Option<String>, required: bool) -> Option<String> {
    let name = bounded_text(v, "client_name", raw, 255);
    if required && name.is_none() {
        v.add("client_name", "Field required");
    }
    name
}

/// A client registration.
pub(super) fn new_client(
    req: pb::CreateClientRequest,
    production: bool,
) -> Result<crate::service::oauth::clients::NewClient, Error> {
    let mut v = Violations::new();
    let name = client_name(&mut v, req.client_name, true);
    let redirect_uris = redirect_uri_list(&mut v, &req.redirect_uris, production);
    if redirect_uris.is_empty() {
        v.add("redirect_uris", "At least one redirect_uri is required");
    }
    let confidential = match req.client_type.as_deref().map(str::trim) {
        None | Some("") | Some("public") => false,
        Some("confidential") => true,
        Some(_) => {
            v.add("client_type", "Input should be 'public' or 'confidential'");
            false
        }
    };
    let scopes = match req
        .scopes
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(raw) => client_scopes(&mut v, raw),
        None => client_scopes(&mut v, crate::domain::oauth::DEFAULT_SCOPES),
    };
    let description = bounded_text(&mut v, "client_description", req.client_description, 1000);
    let mcp_server_url = mcp_server_url(&mut v, req.mcp_server_url);
    v.finish()?;
    Ok(crate::service::oauth::clients::NewClient {
        name: name.unwrap_or_default(),
        redirect_uris,
        confidential,
        scopes: scopes.unwrap_or_default(),
        description,
        mcp_server_url,
    })
}

/// A client update.
pub(super) fn client_update(
    req: pb::UpdateClientRequest,
    production: bool,
) -> Result<(String, crate::service::oauth::clients::ClientUpdate), Error> {
    let mut v = Violations::new();
    let client_id = client_id(&mut v, &req.client_id);
    let name = client_name(&mut v, req.client_name, false);
    let redirect_uris = (!req.redirect_uris.is_empty())
        .then(|| redirect_uri_list(&mut v, &req.redirect_uris, production))
        .filter(|uris| !uris.is_empty());
    let scopes = req
        .scopes
        .as_deref()
        .and_then(|raw| client_scopes(&mut v, raw));
    let description = req
        .client_description
        .map(|raw| bounded_text(&mut v, "client_description", Some(raw), 1000));
    let mcp = req
        .mcp_server_url
        .map(|raw| mcp_server_url(&mut v, Some(raw)));
    v.finish()?;
    Ok((
        client_id,
        crate::service::oauth::clients::ClientUpdate {
            name,
            description,
            redirect_uris,
            scopes,
            mcp_server_url: mcp,
        },
    ))
}

/// A `client_id` from a path: 1–255 characters.
pub(super) fn client_id(v: &mut Violations, raw: &str) -> String {
    if raw.is_empty() || raw.chars().count() > 255 || raw.contains('\0') {
        v.add("client_id", "Must be 1 to 255 characters");
    }
    raw.to_owned()
}

fn social_redirect_uri(v: &mut Violations, raw: Option<String>) -> Option<String> {
    let uri = v.required("redirect_uri", raw)?;
    let checked = crate::domain::oauth::check_social_redirect_uri(&uri).map(|()| uri);
    v.check("redirect_uri", checked)
}

/// The `redirect_uri` of a social-login start.
pub(super) fn redirect_uri(raw: Option<String>) -> Result<String, Status> {
    let mut v = Violations::new();
    let uri = social_redirect_uri(&mut v, raw);
    v.finish()?;
    Ok(uri.unwrap_or_default())
}

/// A social-login callback: the query's `redirect_uri`, the body's code
/// and state.
pub(super) fn social_callback(req: pb::CallbackRequest) -> Result<Callback, Status> {
    let mut v = Violations::new();
    let redirect_uri = social_redirect_uri(&mut v, req.redirect_uri);
    let body = req.body.unwrap_or_default();
    let code = convert::bounded(&mut v, "code", body.code, 1, 2048);
    let state = convert::bounded(&mut v, "state", body.state, 1, 255);
    v.finish()?;
    Ok(Callback {
        redirect_uri: redirect_uri.unwrap_or_default(),
        code: code.unwrap_or_default(),
        state: state.unwrap_or_default(),
    })
}
