//! Refresh tokens: stored hashed, rotated on use, revoked by family.

use super::schema::refresh_tokens;
use super::DbConn;
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshTokenRow {
    pub id: String,
    pub user_id: String,
    pub family_id: String,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

pub fn insert(conn: &mut DbConn, row: &RefreshTokenRow) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn find_by_hash(conn: &mut DbConn, hash: &str) -> QueryResult<Option<RefreshTokenRow>> {
    refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(hash))
        .select(RefreshTokenRow::as_select())
        .first(conn)
        .optional()
}

/// Marks the token used, only if nobody used it first; false means a race or reuse.
pub fn mark_used(conn: &mut DbConn, id: &str, at: NaiveDateTime) -> QueryResult<bool> {
    let n = diesel::update(
        refresh_tokens::table.filter(
            refresh_tokens::id
                .eq(id)
                .and(refresh_tokens::used_at.is_null())
                .and(refresh_tokens::revoked_at.is_null()),
        ),
    )
    .set(refresh_tokens::used_at.eq(Some(at)))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn revoke_family(conn: &mut DbConn, family_id: &str, at: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table.filter(
            refresh_tokens::family_id
                .eq(family_id)
                .and(refresh_tokens::revoked_at.is_null()),
        ),
    )
    .set(refresh_tokens::revoked_at.eq(Some(at)))
    .execute(conn)
}

/// Revokes a family only if it is this user's (a token of someone else's session changes nothing).
pub fn revoke_family_of_user(
    conn: &mut DbConn,
    family_id: &str,
    user_id: &str,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table.filter(
            refresh_tokens::family_id
                .eq(family_id)
                .and(refresh_tokens::user_id.eq(user_id))
                .and(refresh_tokens::revoked_at.is_null()),
        ),
    )
    .set(refresh_tokens::revoked_at.eq(Some(at)))
    .execute(conn)
}

/// A session is open while its family holds a token nobody revoked.
pub fn session_is_open(conn: &mut DbConn, family_id: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        refresh_tokens::table.filter(
            refresh_tokens::family_id
                .eq(family_id)
                .and(refresh_tokens::revoked_at.is_null()),
        ),
    ))
    .get_result(conn)
}

pub fn revoke_all_of_user(
    conn: &mut DbConn,
    user_id: &str,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table.filter(
            refresh_tokens::user_id
                .eq(user_id)
                .and(refresh_tokens::revoked_at.is_null()),
        ),
    )
    .set(refresh_tokens::revoked_at.eq(Some(at)))
    .execute(conn)
}
