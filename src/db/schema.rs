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
