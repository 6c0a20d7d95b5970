//! Users and their group memberships.

use super::schema::{group_members, groups, users};
use super::DbConn;
use crate::domain::{Membership, Role};
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: Role,
    pub alarm_lead: bool,
    pub active: bool,
    pub token_version: i32,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The identity the user signs in with at the identity provider.
    pub external_id: Option<String>,
}

pub fn find_by_username(conn: &mut DbConn, username: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .filter(users::username.eq(username.to_lowercase()))
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

/// The user who signs in at the identity provider as `external_id`.
pub fn find_by_external_id(conn: &mut DbConn, external_id: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .filter(users::external_id.eq(external_id))
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

/// The user and their memberships, as the auth extractor needs them.
pub fn load_session(
    conn: &mut DbConn,
    id: &str,
) -> QueryResult<Option<(UserRow, Vec<Membership>)>> {
    let Some(user) = find(conn, id)? else {
        return Ok(None);
    };
    let memberships = memberships_of(conn, id)?;
    Ok(Some((user, memberships)))
}

pub fn memberships_of(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<Membership>> {
    let rows: Vec<(String, String)> = group_members::table
        .inner_join(groups::table)
        .filter(group_members::user_id.eq(user_id))
        .select((groups::id, groups::area_id))
        .order(groups::id)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(group_id, area_id)| Membership { group_id, area_id })
        .collect())
}

pub fn group_ids_of(conn: &mut DbConn, user_ids: &[String]) -> QueryResult<Vec<(String, String)>> {
    group_members::table
        .filter(group_members::user_id.eq_any(user_ids))
        .select((group_members::user_id, group_members::group_id))
        .order((group_members::user_id, group_members::group_id))
        .load(conn)
}

pub fn insert(conn: &mut DbConn, row: &UserRow) -> QueryResult<()> {
    diesel::insert_into(users::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn list(conn: &mut DbConn) -> QueryResult<Vec<UserRow>> {
    users::table
        .select(UserRow::as_select())
        .order(users::username)
        .load(conn)
}

#[derive(Debug, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    pub alarm_lead: Option<bool>,
    pub active: Option<bool>,
    pub password_hash: Option<String>,
    pub token_version: Option<i32>,
    /// `Some(None)` clears it.
    pub external_id: Option<Option<String>>,
    pub version: i32,
    pub updated_at: NaiveDateTime,
}

impl UserChanges {
    /// Nothing changed yet but the version, one past `current`'s, stamped now.
    pub fn next_version(current: &UserRow) -> Self {
        Self {
            display_name: None,
            role: None,
            alarm_lead: None,
            active: None,
            password_hash: None,
            token_version: None,
            external_id: None,
            version: current.version + 1,
            updated_at: super::now(),
        }
    }
}

/// Applies changes only if the row is still at `expected_version`; returns
/// whether it was.
pub fn update_if_version(
    conn: &mut DbConn,
    id: &str,
    expected_version: i32,
    changes: &UserChanges,
) -> QueryResult<bool> {
    let n = diesel::update(
        users::table.filter(users::id.eq(id).and(users::version.eq(expected_version))),
    )
    .set(changes)
    .execute(conn)?;
    Ok(n == 1)
}

pub fn add_membership(conn: &mut DbConn, group_id: &str, user_id: &str) -> QueryResult<()> {
    diesel::insert_into(group_members::table)
        .values((
            group_members::group_id.eq(group_id),
            group_members::user_id.eq(user_id),
        ))
        .execute(conn)
        .map(|_| ())
}

pub fn remove_membership(conn: &mut DbConn, group_id: &str, user_id: &str) -> QueryResult<bool> {
    diesel::delete(
        group_members::table.filter(
            group_members::group_id
                .eq(group_id)
                .and(group_members::user_id.eq(user_id)),
        ),
    )
    .execute(conn)
    .map(|n| n == 1)
}

pub fn count(conn: &mut DbConn) -> QueryResult<i64> {
    users::table.count().get_result(conn)
}

/// The users in a group, by username.
pub fn members_of_group(conn: &mut DbConn, group_id: &str) -> QueryResult<Vec<UserRow>> {
    users::table
        .inner_join(group_members::table)
        .filter(group_members::group_id.eq(group_id))
        .select(UserRow::as_select())
        .order(users::username)
        .load(conn)
}
