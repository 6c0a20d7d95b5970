//! Areas and their groups.

use super::schema::{areas, groups};
use super::DbConn;
use crate::domain::GroupKind;
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = areas)]
pub struct AreaRow {
    pub id: String,
    pub name: String,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = groups)]
pub struct GroupRow {
    pub id: String,
    pub area_id: String,
    pub name: String,
    pub kind: GroupKind,
    pub created_at: NaiveDateTime,
}

pub fn insert_area(conn: &mut DbConn, row: &AreaRow) -> QueryResult<()> {
    diesel::insert_into(areas::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn list_areas(conn: &mut DbConn) -> QueryResult<Vec<AreaRow>> {
    areas::table
        .select(AreaRow::as_select())
        .order(areas::name)
        .load(conn)
}

pub fn find_area(conn: &mut DbConn, id: &str) -> QueryResult<Option<AreaRow>> {
    areas::table
        .find(id)
        .select(AreaRow::as_select())
        .first(conn)
        .optional()
}

pub fn insert_group(conn: &mut DbConn, row: &GroupRow) -> QueryResult<()> {
    diesel::insert_into(groups::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn find_group(conn: &mut DbConn, id: &str) -> QueryResult<Option<GroupRow>> {
    groups::table
        .find(id)
        .select(GroupRow::as_select())
        .first(conn)
        .optional()
}

pub fn list_groups(conn: &mut DbConn, area_id: Option<&str>) -> QueryResult<Vec<GroupRow>> {
    let mut query = groups::table.select(GroupRow::as_select()).into_boxed();
    if let Some(area) = area_id {
        query = query.filter(groups::area_id.eq(area.to_string()));
    }
    query.order((groups::area_id, groups::name)).load(conn)
}

pub fn find_groups(conn: &mut DbConn, ids: &[String]) -> QueryResult<Vec<GroupRow>> {
    groups::table
        .filter(groups::id.eq_any(ids))
        .select(GroupRow::as_select())
        .load(conn)
}
