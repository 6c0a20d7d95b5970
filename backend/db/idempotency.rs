//! Stored responses for `Idempotency-Key`: the server half of an offline outbox.

use super::schema::idempotency_keys;
use super::DbConn;
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = idempotency_keys)]
pub struct IdempotencyRow {
    pub scope: String,
    pub idempotency_key: String,
    pub method: String,
    pub path: String,
    pub request_hash: String,
    pub status: Option<i32>,
    pub content_type: Option<String>,
    pub response_body: Option<Vec<u8>>,
    pub created_at: NaiveDateTime,
}

pub fn find(conn: &mut DbConn, scope: &str, key: &str) -> QueryResult<Option<IdempotencyRow>> {
    idempotency_keys::table
        .find((scope, key))
        .select(IdempotencyRow::as_select())
        .first(conn)
        .optional()
}

/// Claims a key before the request runs; false when someone holds it already.
pub fn claim(conn: &mut DbConn, row: &IdempotencyRow) -> QueryResult<bool> {
    match diesel::insert_into(idempotency_keys::table)
        .values(row)
        .execute(conn)
    {
        Ok(_) => Ok(true),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(e) => Err(e),
    }
}

pub fn complete(
    conn: &mut DbConn,
    scope: &str,
    key: &str,
    status: i32,
    content_type: Option<String>,
    body: Vec<u8>,
) -> QueryResult<()> {
    diesel::update(idempotency_keys::table.find((scope, key)))
        .set((
            idempotency_keys::status.eq(Some(status)),
            idempotency_keys::content_type.eq(content_type),
            idempotency_keys::response_body.eq(Some(body)),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Frees a claim whose request failed before it changed anything, so the
/// client may retry with the same key.
pub fn release(conn: &mut DbConn, scope: &str, key: &str) -> QueryResult<()> {
    diesel::delete(idempotency_keys::table.find((scope, key)))
        .execute(conn)
        .map(|_| ())
}
