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
    pub committed_at: Option<NaiveDateTime>,
    /// The first response's ETag, replayed with it.
    pub etag: Option<String>,
}

/// The request a transaction runs for, when it carries an Idempotency-Key.
#[derive(Debug, Clone)]
pub struct Claim {
    pub scope: String,
    pub key: String,
}

tokio::task_local! {
    /// Set by the idempotency middleware around the handler, read by
    /// `Db::transaction`, so the key is marked in the action's own transaction.
    pub static CURRENT: Claim;
}

/// Marks the claim as acted upon, inside the transaction that acts.
pub fn mark_committed(conn: &mut DbConn, claim: &Claim, at: NaiveDateTime) -> QueryResult<()> {
    diesel::update(
        idempotency_keys::table
            .find((&claim.scope, &claim.key))
            .filter(idempotency_keys::committed_at.is_null()),
    )
    .set(idempotency_keys::committed_at.eq(Some(at)))
    .execute(conn)
    .map(|_| ())
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
    etag: Option<String>,
    body: Vec<u8>,
) -> QueryResult<()> {
    diesel::update(idempotency_keys::table.find((scope, key)))
        .set((
            idempotency_keys::status.eq(Some(status)),
            idempotency_keys::content_type.eq(content_type),
            idempotency_keys::etag.eq(etag),
            idempotency_keys::response_body.eq(Some(body)),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Frees a claim whose request changed nothing, so the client may retry with
/// the same key. A claim whose action committed is kept: a retry must not act twice.
pub fn release(conn: &mut DbConn, scope: &str, key: &str) -> QueryResult<()> {
    diesel::delete(
        idempotency_keys::table
            .find((scope, key))
            .filter(idempotency_keys::committed_at.is_null()),
    )
    .execute(conn)
    .map(|_| ())
}
