//! Queries on `users`.

use diesel::{
    AsChangeset, BoolExpressionMethods as _, EscapeExpressionMethods as _, ExpressionMethods as _,
    Insertable, OptionalExtension as _, QueryDsl as _, Queryable, Selectable,
    SelectableHelper as _, TextExpressionMethods as _,
};
use diesel_async::RunQueryDsl as _;

use super::schema::{user_counts, users};
use super::types::{Id, Timestamp};
use super::{DbConn, DbResult, map_err};
pub use crate::domain::listing::{UserFilter, UserSortField};
use crate::domain::page::{PageRequest, SortOrder};
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

/// The user with this id, its row locked until the transaction ends
/// (`FOR UPDATE` on PostgreSQL; SQLite's `BEGIN IMMEDIATE` already serialises).
pub async fn lock_user(conn: &mut DbConn, id: Id) -> DbResult<Option<UserRow>> {
    map_err(match conn.backend() {
        super::Backend::Pg(c) => users::table
            .find(id)
            .select(UserRow::as_select())
            .for_update()
            .first(c)
            .await
            .optional(),
        super::Backend::Sqlite(c) => users::table
            .find(id)
            .select(UserRow::as_select())
            .first(c)
            .await
            .optional(),
    })
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

/// Changes to a user; `None` leaves a column alone, `Some(None)` clears it.
#[derive(Debug, Default, Clone, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChangeset {
    /// New given name.
    pub first_name: Option<String>,
    /// New family name.
    pub last_name: Option<Option<String>>,
    /// New phone number.
    pub phone_number: Option<Option<String>>,
    /// New locale.
    pub locale: Option<Option<String>>,
    /// New preferences (JSON object text).
    pub preferences: Option<Option<String>>,
    /// Activation state.
    pub is_active: Option<bool>,
    /// Superuser status.
    pub is_superuser: Option<bool>,
    /// New password hash.
    pub password_hash: Option<Option<String>>,
    /// Soft-delete mark.
    pub deleted_at: Option<Option<Timestamp>>,
    /// Always set by [`update_user`].
    pub updated_at: Option<Timestamp>,
}

/// Applies `changes` (and `updated_at` = `now`) to a user.
pub async fn update_user(
    conn: &mut DbConn,
    id: Id,
    mut changes: UserChangeset,
    now: Timestamp,
) -> DbResult<()> {
    changes.updated_at = Some(now);
    map_err(with_backend!(conn, c => {
        diesel::update(users::table.find(id)).set(&changes).execute(c).await
    }))
    .map(drop)
}

/// Escapes `%`, `_` and `\` so that a search term matches literally.
pub fn like_pattern(term: &str) -> String {
    let mut pattern = String::with_capacity(term.len() + 2);
    pattern.push('%');
    for ch in term.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    pattern
}

/// One page of non-deleted users and the total matching the filter. The
/// search compares `lower(column)` with the lower-cased pattern on both
/// backends; on PostgreSQL trigram indexes on those expressions serve it.
pub async fn list_users(
    conn: &mut DbConn,
    filter: &UserFilter,
    sort: UserSortField,
    order: SortOrder,
    page: PageRequest,
) -> DbResult<(Vec<UserRow>, i64)> {
    use UserSortField as F;
    let pattern = filter
        .search
        .as_deref()
        .map(|s| like_pattern(&s.to_lowercase()));
    macro_rules! base {
        () => {{
            let mut query = users::table
                .filter(users::deleted_at.is_null())
                .into_boxed();
            if let Some(active) = filter.is_active {
                query = query.filter(users::is_active.eq(active));
            }
            if let Some(superuser) = filter.is_superuser {
                query = query.filter(users::is_superuser.eq(superuser));
            }
            if let Some(p) = pattern.clone() {
                query = query.filter(
                    lower(users::email)
                        .like(p.clone())
                        .escape('\\')
                        .or(lower(users::first_name).like(p.clone()).escape('\\'))
                        .or(lower_nullable(users::last_name).like(p).escape('\\')),
                );
            }
            query
        }};
    }
    // Ordering: the chosen column, nulls after values ascending (before them
    // descending), ties by id ascending so pages are stable.
    map_err(with_backend!(conn, c => {
        // Without a search the total comes from the trigger-maintained
        // counts (at most four rows), not from counting every user.
        let total: i64 = if pattern.is_none() {
            let mut counts = user_counts::table.select(user_counts::live).into_boxed();
            if let Some(active) = filter.is_active {
                counts = counts.filter(user_counts::is_active.eq(active));
            }
            if let Some(superuser) = filter.is_superuser {
                counts = counts.filter(user_counts::is_superuser.eq(superuser));
            }
            counts.load::<i64>(c).await?.into_iter().sum()
        } else {
            base!().count().get_result(c).await?
        };
        let query = match (sort, order) {
            (F::CreatedAt, SortOrder::Asc) => base!().order(users::created_at.asc()),
            (F::CreatedAt, SortOrder::Desc) => base!().order(users::created_at.desc()),
            (F::UpdatedAt, SortOrder::Asc) => base!().order(users::updated_at.asc()),
            (F::UpdatedAt, SortOrder::Desc) => base!().order(users::updated_at.desc()),
            (F::Email, SortOrder::Asc) => base!().order(users::email.asc()),
            (F::Email, SortOrder::Desc) => base!().order(users::email.desc()),
            (F::FirstName, SortOrder::Asc) => base!().order(users::first_name.asc()),
            (F::FirstName, SortOrder::Desc) => base!().order(users::first_name.desc()),
            (F::LastName, SortOrder::Asc) => base!()
                .order(users::last_name.is_null().asc())
                .then_order_by(users::last_name.asc()),
            (F::LastName, SortOrder::Desc) => base!()
                .order(users::last_name.is_null().desc())
                .then_order_by(users::last_name.desc()),
        };
        let rows = query
            .then_order_by(users::id.asc())
            .select(UserRow::as_select())
            .offset(page.offset())
            .limit(page.limit())
            .load(c)
            .await?;
        Ok::<_, diesel::result::Error>((rows, total))
    }))
}

diesel::define_sql_function! {
    /// SQL `lower()`: Unicode-aware on PostgreSQL and, through the Rust
    /// implementation registered on every SQLite connection, on SQLite.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

diesel::define_sql_function! {
    /// SQL `lower()` on a nullable column.
    #[sql_name = "lower"]
    fn lower_nullable(x: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

/// Non-deleted users, optionally only those created before `before` and in
/// activation state `active`.
pub async fn count_users(
    conn: &mut DbConn,
    before: Option<Timestamp>,
    active: Option<bool>,
) -> DbResult<i64> {
    map_err(with_backend!(conn, c => {
        let mut q = users::table.filter(users::deleted_at.is_null()).into_boxed();
        if let Some(before) = before {
            q = q.filter(users::created_at.lt(before));
        }
        if let Some(active) = active {
            q = q.filter(users::is_active.eq(active));
        }
        q.count().get_result(c).await
    }))
}

/// (created_at, is_active) of non-deleted users created at or after `since`.
pub async fn created_since(
    conn: &mut DbConn,
    since: Timestamp,
) -> DbResult<Vec<(Timestamp, bool)>> {
    map_err(with_backend!(conn, c => {
        users::table
            .filter(users::deleted_at.is_null())
            .filter(users::created_at.ge(since))
            .select((users::created_at, users::is_active))
            .load(c)
            .await
    }))
}
