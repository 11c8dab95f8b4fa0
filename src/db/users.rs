//! Queries on `users`.

use diesel::{
    ExpressionMethods as _, Insertable, OptionalExtension as _, QueryDsl as _, Queryable,
    Selectable, SelectableHelper as _,
};
use diesel_async::RunQueryDsl as _;

use super::schema::users;
use super::types::{Id, Timestamp};
use super::{DbConn, DbResult, map_err};
use crate::with_backend;

/// A `users` row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct UserRow {
    /// Primary key.
    pub id: Id,
    /// Normalised email (trimmed, lower case).
    pub email: String,
    /// bcrypt hash; `None` for accounts without a password.
    pub password_hash: Option<String>,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: Option<String>,
    /// Cleaned phone number.
    pub phone_number: Option<String>,
    /// Inactive users cannot log in or use tokens.
    pub is_active: bool,
    /// Superusers pass every role check.
    pub is_superuser: bool,
    /// JSON object text, or `None`.
    pub preferences: Option<String>,
    /// Lower-case locale.
    pub locale: Option<String>,
    /// Soft-delete mark.
    pub deleted_at: Option<Timestamp>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

impl UserRow {
    /// Active and not deleted: may log in and use tokens.
    pub fn is_usable(&self) -> bool {
        self.is_active && self.deleted_at.is_none()
    }
}

/// Inserts a user. A taken email is `UniqueViolation("ix_users_email")`.
pub async fn insert_user(conn: &mut DbConn, row: &UserRow) -> DbResult<()> {
    map_err(with_backend!(conn, c => {
        diesel::insert_into(users::table).values(row).execute(c).await
    }))
    .map(drop)
}

/// The user with this id, deleted or not.
pub async fn find_user_by_id(conn: &mut DbConn, id: Id) -> DbResult<Option<UserRow>> {
    map_err(with_backend!(conn, c => {
        users::table
            .find(id)
            .select(UserRow::as_select())
            .first(c)
            .await
            .optional()
    }))
}

/// The user holding this normalised email, deleted or not.
pub async fn find_user_by_email(conn: &mut DbConn, email: &str) -> DbResult<Option<UserRow>> {
    map_err(with_backend!(conn, c => {
        users::table
            .filter(users::email.eq(email))
            .select(UserRow::as_select())
            .first(c)
            .await
            .optional()
    }))
}

/// Replaces the password hash.
pub async fn set_password_hash(
    conn: &mut DbConn,
    id: Id,
    hash: &str,
    now: Timestamp,
) -> DbResult<()> {
    map_err(with_backend!(conn, c => {
        diesel::update(users::table.find(id))
            .set((users::password_hash.eq(hash), users::updated_at.eq(now)))
            .execute(c)
            .await
    }))
    .map(drop)
}

/// Replaces the password hash only if it is still `expected` (compare and
/// swap): of two concurrent uses of one reset token, exactly one wins.
pub async fn swap_password_hash(
    conn: &mut DbConn,
    id: Id,
    expected: Option<&str>,
    hash: &str,
    now: Timestamp,
) -> DbResult<bool> {
    let changed = map_err(with_backend!(conn, c => {
        let target = users::table.find(id);
        let set = (users::password_hash.eq(hash), users::updated_at.eq(now));
        match expected {
            Some(old) => {
                diesel::update(target.filter(users::password_hash.eq(old)))
                    .set(set)
                    .execute(c)
                    .await
            }
            None => {
                diesel::update(target.filter(users::password_hash.is_null()))
                    .set(set)
                    .execute(c)
                    .await
            }
        }
    }))?;
    Ok(changed == 1)
}
