//! Conversions between protobuf messages and domain values. Validation of
//! incoming requests happens here (every problem collected, one 422 or one
//! `InvalidArgument` listing them all), so services get validated input.

use secrecy::SecretString;

use super::pb;
use crate::domain::client_ip::ClientIp;
use crate::domain::device::DeviceInfo;
use crate::domain::email::{Email, normalize_email};
use crate::domain::password::check_new_password;
use crate::domain::profile::{self, check_no_nul};
use crate::domain::types::Timestamp;
use crate::error::{Error, Violations};
use crate::service::auth::{NewAccount, TokenPair};
use crate::service::views::{Session, User};

/// A domain user as the API returns it.
pub fn user(row: &User) -> pb::User {
    pb::User {
        id: row.id.to_string(),
        email: row.email.clone(),
        first_name: row.first_name.clone(),
        last_name: row.last_name.clone(),
        phone_number: row.phone_number.clone(),
        is_active: row.is_active,
        is_superuser: row.is_superuser,
        created_at: Some(timestamp(row.created_at)),
        updated_at: Some(timestamp(row.updated_at)),
        locale: row.locale.clone(),
        preferences: row.preferences.as_deref().and_then(json_object),
    }
}

/// A token pair as the API returns it.
pub fn token(pair: &TokenPair) -> pb::Token {
    pb::Token {
        access_token: pair.access_token.clone(),
        refresh_token: pair.refresh_token.clone(),
        token_type: "bearer".to_owned(),
        expires_in: i32::try_from(pair.expires_in).unwrap_or(i32::MAX),
        user: Some(user(&pair.user)),
    }
}

/// `{ "success": true, "message": ... }`.
pub fn message(text: impl Into<String>) -> pb::MessageResponse {
    pb::MessageResponse {
        success: true,
        message: text.into(),
    }
}

/// A protobuf timestamp.
pub fn timestamp(at: Timestamp) -> prost_types::Timestamp {
    let at = at.as_datetime();
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// Parses stored JSON object text into a `google.protobuf.Struct`.
pub fn json_object(text: &str) -> Option<prost_types::Struct> {
    match serde_json::from_str::<serde_json::Value>(text).ok()? {
        serde_json::Value::Object(map) => Some(prost_types::Struct {
            fields: map.into_iter().map(|(k, v)| (k, json_value(v))).collect(),
        }),
        _ => None,
    }
}

/// A `google.protobuf.Struct` as a JSON object; integral numbers stay integers.
pub fn struct_to_json(object: prost_types::Struct) -> serde_json::Value {
    serde_json::Value::Object(
        object
            .fields
            .into_iter()
            .map(|(k, v)| (k, value_to_json(v)))
            .collect(),
    )
}

fn value_to_json(value: prost_types::Value) -> serde_json::Value {
    use prost_types::value::Kind;
    match value.kind {
        None | Some(Kind::NullValue(_)) => serde_json::Value::Null,
        Some(Kind::BoolValue(b)) => serde_json::Value::Bool(b),
        Some(Kind::NumberValue(n)) => {
            if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
                #[expect(clippy::cast_possible_truncation, reason = "integral and below 2^53")]
                serde_json::Value::from(n as i64)
            } else {
                serde_json::Number::from_f64(n)
                    .map_or(serde_json::Value::Null, serde_json::Value::Number)
            }
        }
        Some(Kind::StringValue(s)) => serde_json::Value::String(s),
        Some(Kind::ListValue(list)) => {
            serde_json::Value::Array(list.values.into_iter().map(value_to_json).collect())
        }
        Some(Kind::StructValue(object)) => struct_to_json(object),
    }
}

fn json_value(value: serde_json::Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match value {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(b) => Kind::BoolValue(b),
        serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Kind::StringValue(s),
        serde_json::Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.into_iter().map(json_value).collect(),
        }),
        serde_json::Value::Object(map) => Kind::StructValue(prost_types::Struct {
            fields: map.into_iter().map(|(k, v)| (k, json_value(v))).collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}

/// Device information of the request that opens a session.
pub fn device<T>(request: &tonic::Request<T>) -> DeviceInfo {
    let headers = request.metadata();
    let ip = request
        .extensions()
        .get::<ClientIp>()
        .map(|ip| ip.0)
        .or_else(|| request.remote_addr().map(|a| a.ip()));
    DeviceInfo::from_request(
        headers.get("user-agent").map(|v| v.as_bytes()),
        headers.get("x-device-id").map(|v| v.as_bytes()),
        ip,
    )
}

/// A string field bounded in characters and free of NUL.
pub(super) fn bounded(
    v: &mut Violations,
    field: &str,
    value: Option<String>,
    min: usize,
    max: usize,
) -> Option<String> {
    let value = v.required(field, value)?;
    let chars = value.chars().count();
    let result = if chars < min {
        Err(format!(
            "String should have at least {min} character{}",
            if min == 1 { "" } else { "s" }
        ))
    } else if chars > max {
        Err(format!("String should have at most {max} characters"))
    } else {
        check_no_nul(&value).map(|()| value)
    };
    v.check(field, result)
}

/// A sign-up (section 2.1.5).
pub fn new_account(req: pb::RegisterRequest) -> Result<NewAccount, Error> {
    let mut v = Violations::new();
    let email = v
        .required("email", req.email)
        .and_then(|e| v.check("email", Email::parse(&e)));
    let password = v.required("password", req.password).and_then(|p| {
        let checked = check_no_nul(&p).and_then(|()| check_new_password(&p, true));
        v.check("password", checked).map(|()| SecretString::from(p))
    });
    let first_name = v
        .required("first_name", req.first_name)
        .and_then(|f| v.check("first_name", profile::parse_first_name(&f)));
    let last_name = v.check(
        "last_name",
        profile::parse_last_name(req.last_name.as_deref()),
    );
    let phone = v.check(
        "phone_number",
        profile::parse_phone_number(req.phone_number.as_deref()),
    );
    v.finish()?;
    match (email, password, first_name, last_name, phone) {
        (Some(email), Some(password), Some(first_name), Some(last_name), Some(phone_number)) => {
            Ok(NewAccount {
                email,
                password,
                first_name,
                last_name,
                phone_number,
            })
        }
        _ => Err(Error::internal(anyhow::anyhow!(
            "validation passed with a missing field"
        ))),
    }
}

/// Login credentials: (normalised email, password).
pub fn login(req: pb::LoginRequest) -> Result<(String, SecretString), Error> {
    let mut v = Violations::new();
    let email = v
        .required("email", req.email)
        .and_then(|e| v.check("email", Email::parse(&e)));
    let password = bounded(&mut v, "password", req.password, 0, 1024);
    v.finish()?;
    match (email, password) {
        (Some(email), Some(password)) => Ok((email.into_inner(), password.into())),
        _ => Err(Error::internal(anyhow::anyhow!(
            "validation passed with a missing field"
        ))),
    }
}

/// OAuth2 password-form credentials (section 2.1.7).
pub fn login_form(req: pb::LoginFormRequest) -> Result<(String, SecretString), Error> {
    let mut v = Violations::new();
    let username = bounded(&mut v, "username", req.username, 0, 320);
    let password = bounded(&mut v, "password", req.password, 0, 1024);
    if req
        .grant_type
        .as_deref()
        .is_some_and(|grant| grant != "password")
    {
        v.add("grant_type", "Input should be 'password'");
    }
    v.finish()?;
    match (username, password) {
        (Some(username), Some(password)) => Ok((normalize_email(&username), password.into())),
        _ => Err(Error::internal(anyhow::anyhow!(
            "validation passed with a missing field"
        ))),
    }
}

/// A refresh token for `/auth/refresh` (at most 4096 characters).
pub fn refresh_token(token: Option<String>, min: usize) -> Result<String, Error> {
    let mut v = Violations::new();
    let token = bounded(&mut v, "refresh_token", token, min, 4096);
    v.finish()?;
    token.ok_or_else(|| Error::internal(anyhow::anyhow!("validation passed with a missing field")))
}

/// The email of a password-reset request.
pub fn reset_email(req: pb::PasswordResetRequest) -> Result<Email, Error> {
    let mut v = Violations::new();
    let email = v
        .required("email", req.email)
        .and_then(|e| v.check("email", Email::parse(&e)));
    v.finish()?;
    email.ok_or_else(|| Error::internal(anyhow::anyhow!("validation passed with a missing field")))
}

/// A password-reset confirmation: (token, new password).
pub fn reset_confirm(
    req: pb::PasswordResetConfirmRequest,
) -> Result<(String, SecretString), Error> {
    let mut v = Violations::new();
    let token = bounded(&mut v, "token", req.token, 1, 2048);
    let password = v.required("new_password", req.new_password).and_then(|p| {
        let checked = check_no_nul(&p).and_then(|()| check_new_password(&p, true));
        v.check("new_password", checked)
            .map(|()| SecretString::from(p))
    });
    v.finish()?;
    match (token, password) {
        (Some(token), Some(password)) => Ok((token, password)),
        _ => Err(Error::internal(anyhow::anyhow!(
            "validation passed with a missing field"
        ))),
    }
}

/// The `pagination` member of a page.
pub fn pagination<T>(page: &crate::domain::page::Page<T>) -> pb::Pagination {
    let clamp = |n: i64| i32::try_from(n).unwrap_or(i32::MAX);
    let total_pages = page.total_pages();
    pb::Pagination {
        total: clamp(page.total),
        page: clamp(page.request.page()),
        page_size: clamp(i64::try_from(page.items.len()).unwrap_or(i64::MAX)),
        total_pages: clamp(total_pages),
        has_next: page.request.page() < total_pages,
        has_prev: page.request.page() > 1,
    }
}

/// A page of users.
pub fn user_list(page: crate::domain::page::Page<User>) -> pb::UserList {
    pb::UserList {
        pagination: Some(pagination(&page)),
        data: page.items.iter().map(user).collect(),
    }
}

/// A password change (section 2.4.4): (current, new).
pub fn password_change(
    req: pb::ChangePasswordRequest,
) -> Result<(SecretString, SecretString), Error> {
    let mut v = Violations::new();
    let current = bounded(&mut v, "current_password", req.current_password, 0, 1024);
    let new = v.required("new_password", req.new_password).and_then(|p| {
        let checked = check_no_nul(&p).and_then(|()| check_new_password(&p, true));
        v.check("new_password", checked)
            .map(|()| SecretString::from(p))
    });
    v.finish()?;
    match (current, new) {
        (Some(current), Some(new)) => Ok((current.into(), new)),
        _ => Err(Error::internal(anyhow::anyhow!(
            "validation passed with a missing field"
        ))),
    }
}

/// A session as its owner sees it.
pub fn session(row: &Session, is_current: bool) -> pb::Session {
    pb::Session {
        id: row.id.to_string(),
        device_name: row.device_name.clone(),
        device_id: row.device_id.clone(),
        ip_address: row.ip_address.clone(),
        location_city: row.location_city.clone(),
        location_country: row.location_country.clone(),
        last_used_at: Some(timestamp(row.last_used_at)),
        created_at: Some(timestamp(row.created_at)),
        expires_at: Some(timestamp(row.expires_at)),
        is_current,
    }
}

/// A domain role as the protobuf enum.
pub fn role(role: crate::domain::role::Role) -> pb::Role {
    use crate::domain::role::Role;
    match role {
        Role::Owner => pb::Role::Owner,
        Role::Admin => pb::Role::Admin,
        Role::Member => pb::Role::Member,
        Role::Guest => pb::Role::Guest,
    }
}

/// An organization as the API returns it.
pub fn organization(view: &crate::service::organizations::OrgView) -> pb::Organization {
    let org = &view.org;
    pb::Organization {
        id: org.id.to_string(),
        name: org.name.clone(),
        slug: org.slug.clone(),
        description: org.description.clone(),
        is_active: org.is_active,
        settings: org.settings.as_deref().and_then(json_object),
        created_at: Some(timestamp(org.created_at)),
        updated_at: Some(timestamp(org.updated_at)),
        member_count: i32::try_from(view.member_count).unwrap_or(i32::MAX),
    }
}

/// One of the caller's organizations, with the caller's role.
pub fn my_organization(view: &crate::service::organizations::OrgView) -> pb::MyOrganization {
    let org = organization(view);
    pb::MyOrganization {
        id: org.id,
        name: org.name,
        slug: org.slug,
        description: org.description,
        is_active: org.is_active,
        settings: org.settings,
        created_at: org.created_at,
        updated_at: org.updated_at,
        member_count: org.member_count,
        role: view.role.map_or(pb::Role::Unspecified, role) as i32,
    }
}

/// A membership as the API returns it.
pub fn member(view: &crate::service::organizations::MemberView) -> pb::Member {
    let parsed = crate::domain::role::Role::parse(&view.membership.role);
    pb::Member {
        user_id: view.user.id.to_string(),
        email: view.user.email.clone(),
        first_name: view.user.first_name.clone(),
        last_name: view.user.last_name.clone(),
        role: parsed.map_or(pb::Role::Unspecified, role) as i32,
        is_active: view.membership.is_active,
        joined_at: Some(timestamp(view.membership.created_at)),
    }
}

/// A page of members.
pub fn member_list(
    page: crate::domain::page::Page<crate::service::organizations::MemberView>,
) -> pb::MemberList {
    pb::MemberList {
        pagination: Some(pagination(&page)),
        data: page.items.iter().map(member).collect(),
    }
}

/// Dashboard figures.
pub fn stats(stats: crate::service::admin::Stats) -> pb::AdminStats {
    let n = |v: i64| i32::try_from(v).unwrap_or(i32::MAX);
    pb::AdminStats {
        user_growth: stats
            .user_growth
            .into_iter()
            .map(|(date, total, active)| pb::UserGrowthPoint {
                date,
                total_users: n(total),
                active_users: n(active),
            })
            .collect(),
        organization_distribution: stats
            .organization_distribution
            .into_iter()
            .map(|(name, value)| pb::NamedValue {
                name,
                value: n(value),
            })
            .collect(),
        registration_activity: stats
            .registration_activity
            .into_iter()
            .map(|(date, count)| pb::RegistrationPoint {
                date,
                registrations: n(count),
            })
            .collect(),
        user_status: vec![
            pb::NamedValue {
                name: "Active".to_owned(),
                value: n(stats.user_status.0),
            },
            pb::NamedValue {
                name: "Inactive".to_owned(),
                value: n(stats.user_status.1),
            },
        ],
    }
}

/// A bulk action's result.
pub fn bulk_result(
    action: crate::service::admin::BulkAction,
    outcome: &crate::service::admin::BulkOutcome,
) -> pb::BulkActionResult {
    let (affected, failed) = (outcome.affected.len(), outcome.skipped.len());
    pb::BulkActionResult {
        success: failed == 0,
        affected_count: i32::try_from(affected).unwrap_or(i32::MAX),
        failed_count: i32::try_from(failed).unwrap_or(i32::MAX),
        message: format!(
            "Bulk {}: {affected} users affected, {failed} skipped",
            action.as_str()
        ),
        failed_ids: outcome.skipped.iter().map(ToString::to_string).collect(),
    }
}

/// A session as administrators see it.
pub fn admin_session(view: &crate::service::admin::AdminSessionView) -> pb::AdminSession {
    let (s, u) = (&view.session, &view.user);
    let full_name = format!("{} {}", u.first_name, u.last_name.as_deref().unwrap_or(""))
        .trim()
        .to_owned();
    pb::AdminSession {
        id: s.id.to_string(),
        user_id: u.id.to_string(),
        user_email: u.email.clone(),
        user_full_name: (!full_name.is_empty()).then_some(full_name),
        device_name: s.device_name.clone(),
        device_id: s.device_id.clone(),
        ip_address: s.ip_address.clone(),
        location_city: s.location_city.clone(),
        location_country: s.location_country.clone(),
        last_used_at: Some(timestamp(s.last_used_at)),
        created_at: Some(timestamp(s.created_at)),
        expires_at: Some(timestamp(s.expires_at)),
        is_active: view.is_live,
    }
}

/// A registered client.
pub fn client(client: crate::service::oauth::clients::Client) -> pb::Client {
    pb::Client {
        id: client.id.to_string(),
        client_id: client.client_id,
        client_name: client.client_name,
        client_description: client.client_description,
        client_type: client.client_type,
        redirect_uris: client.redirect_uris,
        allowed_scopes: client.allowed_scopes,
        is_active: client.is_active,
        created_at: Some(timestamp(client.created_at)),
    }
}

/// A client with its one-time secret.
pub fn created_client(created: crate::service::oauth::clients::WithSecret) -> pb::CreatedClient {
    let warning = created
        .secret
        .as_ref()
        .map(|_| crate::service::oauth::clients::SECRET_WARNING.to_owned());
    let client = created.client;
    pb::CreatedClient {
        client_id: client.client_id,
        client_name: client.client_name,
        client_type: client.client_type,
        redirect_uris: client.redirect_uris,
        allowed_scopes: client.allowed_scopes,
        client_secret: created.secret,
        warning,
    }
}

/// A consent.
pub fn consent(consent: crate::service::oauth::consents::Consent) -> pb::Consent {
    pb::Consent {
        client_id: consent.client_id,
        client_name: consent.client_name,
        client_description: consent.client_description,
        granted_scopes: consent.granted_scopes,
        granted_at: Some(timestamp(consent.granted_at)),
    }
}

/// The social-login providers list.
pub fn provider_list(list: crate::service::social::ProviderList) -> pb::ProviderList {
    pb::ProviderList {
        enabled: list.enabled,
        providers: list
            .providers
            .into_iter()
            .map(|p| pb::SocialProvider {
                provider: p.id.as_str().to_owned(),
                name: p.name,
                icon: p.icon.to_owned(),
            })
            .collect(),
    }
}

/// Where a social-login flow starts.
pub fn authorization_url(
    start: crate::service::social::AuthorizationStart,
) -> pb::AuthorizationUrl {
    pb::AuthorizationUrl {
        authorization_url: start.authorization_url,
        state: start.state,
    }
}

/// The tokens of a social login.
pub fn social_token(login: &crate::service::social::SocialLogin) -> pb::SocialToken {
    let pair = &login.tokens;
    pb::SocialToken {
        access_token: pair.access_token.clone(),
        refresh_token: pair.refresh_token.clone(),
        token_type: "bearer".to_owned(),
        expires_in: i32::try_from(pair.expires_in).unwrap_or(i32::MAX),
        is_new_user: login.is_new_user,
    }
}

/// A linked social identity.
pub fn linked_account(account: crate::service::views::LinkedAccount) -> pb::LinkedAccount {
    pb::LinkedAccount {
        id: account.id.to_string(),
        provider: account.provider,
        provider_email: account.provider_email,
        created_at: Some(timestamp(account.created_at)),
    }
}
