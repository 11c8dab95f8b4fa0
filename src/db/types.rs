//! How each backend stores the shared value types of `domain::types`: a
//! UUID is native `uuid` on PostgreSQL and a 16-byte BLOB on SQLite; a
//! timestamp is `timestamptz` on PostgreSQL and fixed-width RFC 3339 text
//! (`YYYY-MM-DDTHH:MM:SS.ffffffZ`) on SQLite, so that text order is time
//! order and comparisons work in SQL.

use std::io::Write as _;

use chrono::{DateTime, Utc};
use diesel::deserialize::{self, FromSql};
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{Binary, Text, Timestamptz};
use diesel::sqlite::{Sqlite, SqliteValue};

pub use crate::domain::types::{Id, SqlTimestamp, SqlUuid, Timestamp};

impl ToSql<SqlUuid, Pg> for Id {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        out.write_all(self.0.as_bytes())?;
        Ok(IsNull::No)
    }
}

impl FromSql<SqlUuid, Pg> for Id {
    fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
        Ok(Self(uuid::Uuid::from_slice(bytes.as_bytes())?))
    }
}

impl ToSql<SqlUuid, Sqlite> for Id {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.as_bytes().as_slice());
        Ok(IsNull::No)
    }
}

impl FromSql<SqlUuid, Sqlite> for Id {
    fn from_sql(value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        let bytes = <Vec<u8> as FromSql<Binary, Sqlite>>::from_sql(value)?;
        Ok(Self(uuid::Uuid::from_slice(&bytes)?))
    }
}

impl ToSql<SqlTimestamp, Pg> for Timestamp {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <DateTime<Utc> as ToSql<Timestamptz, Pg>>::to_sql(self.as_ref(), out)
    }
}

impl FromSql<SqlTimestamp, Pg> for Timestamp {
    fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
        Ok(Self::from_datetime(<DateTime<Utc> as FromSql<
            Timestamptz,
            Pg,
        >>::from_sql(bytes)?))
    }
}

impl ToSql<SqlTimestamp, Sqlite> for Timestamp {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.to_fixed_text());
        Ok(IsNull::No)
    }
}

impl FromSql<SqlTimestamp, Sqlite> for Timestamp {
    fn from_sql(value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        let text = <String as FromSql<Text, Sqlite>>::from_sql(value)?;
        let at = DateTime::parse_from_rfc3339(&text)?;
        Ok(Self::from_datetime(at.with_timezone(&Utc)))
    }
}
