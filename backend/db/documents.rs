//! Document rows; the files themselves are in `media::storage`.

use super::schema::documents;
use super::DbConn;
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = documents, treat_none_as_null = true)]
pub struct DocumentRow {
    pub id: String,
    pub customer_id: String,
    pub order_id: Option<String>,
    pub kind: String,
    pub signed_by: String,
    pub signed_at: NaiveDate,
    pub taken_by: String,
    pub sha256: String,
    pub content_type: String,
    pub byte_size: i64,
    pub width: i32,
    pub height: i32,
    pub superseded_by: Option<String>,
    pub version: i32,
    pub created_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConn, row: &DocumentRow) -> QueryResult<()> {
    diesel::insert_into(documents::table)
        .values(row)
        .execute(conn)?;
    super::outbox::event(
        conn,
        "document.stored",
        Some(&row.customer_id),
        crate::event_data!("document_id": row.id, "kind": row.kind, "order_id": row.order_id),
    )
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<DocumentRow>> {
    documents::table
        .find(id)
        .select(DocumentRow::as_select())
        .first(conn)
        .optional()
}

pub fn of_customer(conn: &mut DbConn, customer_id: &str) -> QueryResult<Vec<DocumentRow>> {
    documents::table
        .filter(documents::customer_id.eq(customer_id))
        .select(DocumentRow::as_select())
        .order((documents::created_at, documents::id))
        .load(conn)
}

pub fn of_order(conn: &mut DbConn, order_id: &str) -> QueryResult<Vec<DocumentRow>> {
    documents::table
        .filter(documents::order_id.eq(order_id))
        .select(DocumentRow::as_select())
        .order((documents::created_at, documents::id))
        .load(conn)
}

pub fn all_hashes(conn: &mut DbConn) -> QueryResult<Vec<String>> {
    documents::table
        .select(documents::sha256)
        .distinct()
        .load(conn)
}

pub fn update_if_version(conn: &mut DbConn, row: &DocumentRow, expected: i32) -> QueryResult<bool> {
    diesel::update(
        documents::table.filter(
            documents::id
                .eq(&row.id)
                .and(documents::version.eq(expected)),
        ),
    )
    .set(row)
    .execute(conn)
    .map(|n| n == 1)
}

pub fn customers_with_documents(conn: &mut DbConn) -> QueryResult<Vec<String>> {
    documents::table
        .select(documents::customer_id)
        .distinct()
        .load(conn)
}

/// Deletes a customer's document rows; returns their hashes.
pub fn delete_of_customer(conn: &mut DbConn, customer_id: &str) -> QueryResult<Vec<String>> {
    let hashes: Vec<String> = documents::table
        .filter(documents::customer_id.eq(customer_id))
        .select(documents::sha256)
        .load(conn)?;
    // Superseding links point within the customer's own documents.
    diesel::update(documents::table.filter(documents::customer_id.eq(customer_id)))
        .set(documents::superseded_by.eq(None::<String>))
        .execute(conn)?;
    diesel::delete(documents::table.filter(documents::customer_id.eq(customer_id)))
        .execute(conn)?;
    Ok(hashes)
}

pub fn sha_in_use(conn: &mut DbConn, sha: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        documents::table.filter(documents::sha256.eq(sha)),
    ))
    .get_result(conn)
}
