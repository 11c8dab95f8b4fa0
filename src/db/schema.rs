//! The one diesel schema, written with the portable types of [`super::types`].

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::{SqlUuid, SqlTimestamp};

    users (id) {
        id -> SqlUuid,
        email -> Text,
        password_hash -> Nullable<Text>,
        first_name -> Text,
        last_name -> Nullable<Text>,
        phone_number -> Nullable<Text>,
        is_active -> Bool,
        is_superuser -> Bool,
        preferences -> Nullable<Text>,
        locale -> Nullable<Text>,
        deleted_at -> Nullable<SqlTimestamp>,
        created_at -> SqlTimestamp,
        updated_at -> SqlTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::{SqlUuid, SqlTimestamp};

    user_sessions (id) {
        id -> SqlUuid,
        user_id -> SqlUuid,
        refresh_token_jti -> Text,
        device_name -> Nullable<Text>,
        device_id -> Nullable<Text>,
        ip_address -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        last_used_at -> SqlTimestamp,
        expires_at -> SqlTimestamp,
        is_active -> Bool,
        location_city -> Nullable<Text>,
        location_country -> Nullable<Text>,
        created_at -> SqlTimestamp,
        updated_at -> SqlTimestamp,
    }
}

diesel::joinable!(user_sessions -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(users, user_sessions);

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::{SqlUuid, SqlTimestamp};

    organizations (id) {
        id -> SqlUuid,
        name -> Text,
        slug -> Text,
        description -> Nullable<Text>,
        is_active -> Bool,
        settings -> Nullable<Text>,
        created_at -> SqlTimestamp,
        updated_at -> SqlTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::{SqlUuid, SqlTimestamp};

    user_organizations (user_id, organization_id) {
        user_id -> SqlUuid,
        organization_id -> SqlUuid,
        role -> Text,
        is_active -> Bool,
        custom_permissions -> Nullable<Text>,
        created_at -> SqlTimestamp,
        updated_at -> SqlTimestamp,
    }
}

diesel::joinable!(user_organizations -> users (user_id));
diesel::joinable!(user_organizations -> organizations (organization_id));
diesel::allow_tables_to_appear_in_same_query!(users, organizations, user_organizations);

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::{SqlUuid, SqlTimestamp};

    oauth_clients (id) {
        id -> SqlUuid,
        client_id -> Text,
        client_secret_hash -> Nullable<Text>,
        client_name -> Text,
        client_description -> Nullable<Text>,
        client_type -> Text,
        redirect_uris -> Text,
        allowed_scopes -> Text,
        access_token_lifetime -> Integer,
        refresh_token_lifetime -> Integer,
        is_active -> Bool,
        owner_user_id -> Nullable<SqlUuid>,
        mcp_server_url -> Nullable<Text>,
        created_at -> SqlTimestamp,
        updated_at -> SqlTimestamp,
        application_type -> Text,
        grant_types -> Text,
        registration -> Text,
        registration_token_hash -> Nullable<Text>,
        metadata_expires_at -> Nullable<SqlTimestamp>,
        client_uri -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::{SqlUuid, SqlTimestamp};

    oauth_authorization_requests (id) {
        id -> SqlUuid,
        client_id -> Text,
        user_id -> Nullable<SqlUuid>,
        redirect_uri -> Text,
        requested_scope -> Text,
        scope -> Text,
        state -> Text,
        code_challenge -> Nullable<Text>,
        code_challenge_method -> Nullable<Text>,
        nonce -> Nullable<Text>,
        expires_at -> SqlTimestamp,
        consumed_at -> Nullable<SqlTimestamp>,
        created_at -> SqlTimestamp,
        updated_at -> SqlTimestamp,
        resource -> Nullable<Text>,
        prompt -> Nullable<Text>,
        max_age -> Nullable<Integer>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::{SqlUuid, SqlTimestamp};

    oauth_authorization_codes (id) {
        id -> SqlUuid,
        code_hash -> Text,
        client_id -> Text,
        user_id -> SqlUuid,
        redirect_uri -> Text,
        scope -> Text,
        code_challenge -> Nullable<Text>,
        code_challenge_method -> Nullable<Text>,
        state -> Nullable<Text>,
        nonce -> Nullable<Text>,
        expires_at -> SqlTimestamp,
        used -> Bool,
        created_at -> SqlTimestamp,
        updated_at -> SqlTimestamp,
        resource -> Nullable<Text>,
        auth_time -> Nullable<SqlTimestamp>,
        sid -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::{SqlUuid, SqlTimestamp};

    oauth_provider_refresh_tokens (id) {
        id -> SqlUuid,
        token_hash -> Text,
        jti -> Text,
        family_id -> SqlUuid,
        client_id -> Text,
        user_id -> SqlUuid,
        scope -> Text,
        nonce -> Nullable<Text>,
        expires_at -> SqlTimestamp,
        revoked -> Bool,
        revoked_at -> Nullable<SqlTimestamp>,
        last_used_at -> Nullable<SqlTimestamp>,
        device_info -> Nullable<Text>,
        ip_address -> Nullable<Text>,
        created_at -> SqlTimestamp,
        updated_at -> SqlTimestamp,
        resource -> Nullable<Text>,
        auth_time -> Nullable<SqlTimestamp>,
        sid -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::{SqlUuid, SqlTimestamp};

    oauth_consents (id) {
        id -> SqlUuid,
        user_id -> SqlUuid,
        client_id -> Text,
        granted_scopes -> Text,
        created_at -> SqlTimestamp,
        updated_at -> SqlTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlTimestamp;

    oauth_signing_keys (kid) {
        kid -> Text,
        algorithm -> Text,
        public_jwk -> Text,
        private_key_encrypted -> Text,
        created_at -> SqlTimestamp,
        active_from -> SqlTimestamp,
        retire_after -> Nullable<SqlTimestamp>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    oauth_clients,
    oauth_consents,
    oauth_provider_refresh_tokens,
    oauth_authorization_codes,
    oauth_authorization_requests,
    users
);

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::{SqlUuid, SqlTimestamp};

    oauth_accounts (id) {
        id -> SqlUuid,
        user_id -> SqlUuid,
        provider -> Text,
        provider_user_id -> Text,
        provider_email -> Nullable<Text>,
        access_token_encrypted -> Nullable<Text>,
        refresh_token_encrypted -> Nullable<Text>,
        token_expires_at -> Nullable<SqlTimestamp>,
        created_at -> SqlTimestamp,
        updated_at -> SqlTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::{SqlUuid, SqlTimestamp};

    oauth_states (id) {
        id -> SqlUuid,
        state -> Text,
        code_verifier -> Nullable<Text>,
        nonce -> Nullable<Text>,
        provider -> Text,
        redirect_uri -> Nullable<Text>,
        user_id -> Nullable<SqlUuid>,
        expires_at -> SqlTimestamp,
        created_at -> SqlTimestamp,
        updated_at -> SqlTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::SqlTimestamp;

    job_leases (job_name) {
        job_name -> Text,
        locked_by -> Nullable<Text>,
        locked_until -> Nullable<SqlTimestamp>,
        last_started_at -> Nullable<SqlTimestamp>,
        last_success_at -> Nullable<SqlTimestamp>,
        created_at -> SqlTimestamp,
        updated_at -> SqlTimestamp,
    }
}

diesel::table! {
    user_counts (is_active, is_superuser) {
        is_active -> Bool,
        is_superuser -> Bool,
        live -> BigInt,
    }
}
