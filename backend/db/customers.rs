//! Customers (brukare) and the groups that serve them. Visibility is applied
//! inside the queries, from the caller's `CustomerScope`.

use super::schema::{counters, customer_groups, customers};
use super::DbConn;
use crate::domain::CustomerScope;
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = customers, treat_none_as_null = true)]
pub struct CustomerRow {
    pub id: String,
    pub customer_number: String,
    pub personnummer: String,
    pub birth_date: NaiveDate,
    pub first_name: String,
    pub last_name: String,
    pub search_name: String,
    pub street: String,
    pub postal_code: String,
    pub city: String,
    pub phone: Option<String>,
    pub area_id: String,
    pub ordinary_assessor_id: Option<String>,
    pub key_position: Option<String>,
    pub entry_notes: Option<String>,
    pub other_municipality: bool,
    pub consent_digital_lock: bool,
    pub consent_digital_lock_at: Option<NaiveDateTime>,
    pub consent_digital_lock_by: Option<String>,
    pub consent_staff_unlock: bool,
    pub consent_staff_unlock_at: Option<NaiveDateTime>,
    pub consent_staff_unlock_by: Option<String>,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Lower-cased "first last" and "last first", so one LIKE finds either order
/// the same way on both backends.
pub fn search_name(first: &str, last: &str) -> String {
    format!("{} {}|{} {}", last, first, first, last).to_lowercase()
}

/// The next customer number, `K-100001` upward, allocated inside the caller's
/// transaction.
pub fn next_customer_number(conn: &mut DbConn) -> QueryResult<String> {
    let updated = diesel::update(counters::table.find("customer_number"))
        .set(counters::value.eq(counters::value + 1))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(counters::table)
            .values((
                counters::name.eq("customer_number"),
                counters::value.eq(100_001_i64),
            ))
            .execute(conn)?;
    }
    let value: i64 = counters::table
        .find("customer_number")
        .select(counters::value)
        .first(conn)?;
    Ok(format!("K-{value}"))
}

pub fn insert(conn: &mut DbConn, row: &CustomerRow, group_ids: &[String]) -> QueryResult<()> {
    diesel::insert_into(customers::table)
        .values(row)
        .execute(conn)?;
    set_groups(conn, &row.id, group_ids)
}

pub fn set_groups(conn: &mut DbConn, customer_id: &str, group_ids: &[String]) -> QueryResult<()> {
    diesel::delete(customer_groups::table.filter(customer_groups::customer_id.eq(customer_id)))
        .execute(conn)?;
    for g in group_ids {
        diesel::insert_into(customer_groups::table)
            .values((
                customer_groups::customer_id.eq(customer_id),
                customer_groups::group_id.eq(g),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn groups_of(conn: &mut DbConn, customer_id: &str) -> QueryResult<Vec<String>> {
    customer_groups::table
        .filter(customer_groups::customer_id.eq(customer_id))
        .select(customer_groups::group_id)
        .order(customer_groups::group_id)
        .load(conn)
}

pub fn groups_of_many(
    conn: &mut DbConn,
    customer_ids: &[String],
) -> QueryResult<Vec<(String, String)>> {
    customer_groups::table
        .filter(customer_groups::customer_id.eq_any(customer_ids))
        .select((customer_groups::customer_id, customer_groups::group_id))
        .order((customer_groups::customer_id, customer_groups::group_id))
        .load(conn)
}

/// The row regardless of scope; callers check visibility and audit a denial.
pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<CustomerRow>> {
    customers::table
        .find(id)
        .select(CustomerRow::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_personnummer(
    conn: &mut DbConn,
    canonical: &str,
) -> QueryResult<Option<CustomerRow>> {
    customers::table
        .filter(customers::personnummer.eq(canonical))
        .select(CustomerRow::as_select())
        .first(conn)
        .optional()
}

/// Replaces the row if it is still at `expected_version`; returns whether it was.
pub fn update_if_version(
    conn: &mut DbConn,
    row: &CustomerRow,
    expected_version: i32,
) -> QueryResult<bool> {
    let n = diesel::update(
        customers::table.filter(
            customers::id
                .eq(&row.id)
                .and(customers::version.eq(expected_version)),
        ),
    )
    .set(row)
    .execute(conn)?;
    Ok(n == 1)
}

#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    pub area_id: Option<String>,
    pub group_id: Option<String>,
    pub ordinary_assessor_id: Option<String>,
    pub other_municipality: Option<bool>,
    /// Lower-cased name fragment.
    pub name: Option<String>,
    pub customer_number: Option<String>,
    /// Any of these customer numbers (the key-register import's batch lookup).
    pub customer_numbers: Option<Vec<String>>,
    /// Canonical personnummer: exact match only.
    pub personnummer: Option<String>,
    /// Keyset cursor: rows after (search_name, id).
    pub after: Option<(String, String)>,
    /// Only these customers.
    pub ids: Option<Vec<String>>,
    pub limit: i64,
}

pub fn list(
    conn: &mut DbConn,
    scope: &CustomerScope,
    f: &ListFilter,
) -> QueryResult<Vec<CustomerRow>> {
    let mut q = customers::table
        .select(CustomerRow::as_select())
        .into_boxed();
    q = visible_to!(q, scope, customers);
    if let Some(area) = &f.area_id {
        q = q.filter(customers::area_id.eq(area.clone()));
    }
    if let Some(group) = &f.group_id {
        let served = customer_groups::table
            .filter(customer_groups::group_id.eq(group.clone()))
            .select(customer_groups::customer_id);
        q = q.filter(customers::id.eq_any(served));
    }
    if let Some(a) = &f.ordinary_assessor_id {
        q = q.filter(customers::ordinary_assessor_id.eq(a.clone()));
    }
    if let Some(o) = f.other_municipality {
        q = q.filter(customers::other_municipality.eq(o));
    }
    if let Some(name) = &f.name {
        q = q.filter(
            customers::search_name
                .like(format!("%{}%", escape_like(name)))
                .escape('\\'),
        );
    }
    if let Some(number) = &f.customer_number {
        q = q.filter(customers::customer_number.eq(number.clone()));
    }
    if let Some(ns) = &f.customer_numbers {
        q = q.filter(customers::customer_number.eq_any(ns.clone()));
    }
    if let Some(p) = &f.personnummer {
        q = q.filter(customers::personnummer.eq(p.clone()));
    }
    if let Some(ids) = &f.ids {
        q = q.filter(customers::id.eq_any(ids.clone()));
    }
    if let Some((name, id)) = &f.after {
        q = q.filter(
            customers::search_name
                .gt(name.clone())
                .or(customers::search_name
                    .eq(name.clone())
                    .and(customers::id.gt(id.clone()))),
        );
    }
    q.order((customers::search_name.asc(), customers::id.asc()))
        .limit(f.limit)
        .load(conn)
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

pub fn count(conn: &mut DbConn) -> QueryResult<i64> {
    customers::table.count().get_result(conn)
}

/// (id, customer number) of the given customers.
pub fn numbers_of(conn: &mut DbConn, ids: &[String]) -> QueryResult<Vec<(String, String)>> {
    customers::table
        .filter(customers::id.eq_any(ids))
        .select((customers::id, customers::customer_number))
        .load(conn)
}
