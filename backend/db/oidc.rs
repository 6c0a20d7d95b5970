//! Logins at the identity provider in flight: from the redirect there to the
//! ticket the app redeems. Secrets are stored as their SHA-256.

use super::schema::oidc_logins;
use super::DbConn;
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = oidc_logins)]
pub struct OidcLoginRow {
    pub id: String,
    pub state_hash: Option<String>,
    pub browser_hash: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub app: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub called_back_at: Option<NaiveDateTime>,
    pub ticket_hash: Option<String>,
    pub user_id: Option<String>,
    pub refusal_code: Option<String>,
    pub refusal_en: Option<String>,
    pub refusal_sv: Option<String>,
    pub redeemed_at: Option<NaiveDateTime>,
    pub family_id: Option<String>,
    pub id_token: Option<String>,
}

pub fn insert(conn: &mut DbConn, row: &OidcLoginRow) -> QueryResult<()> {
    diesel::insert_into(oidc_logins::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn find_by_state(conn: &mut DbConn, state_hash: &str) -> QueryResult<Option<OidcLoginRow>> {
    oidc_logins::table
        .filter(oidc_logins::state_hash.eq(state_hash))
        .select(OidcLoginRow::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_ticket(conn: &mut DbConn, ticket_hash: &str) -> QueryResult<Option<OidcLoginRow>> {
    oidc_logins::table
        .filter(oidc_logins::ticket_hash.eq(ticket_hash))
        .select(OidcLoginRow::as_select())
        .first(conn)
        .optional()
}

/// The login that started session `family_id`, if it came through the provider.
pub fn find_by_family(conn: &mut DbConn, family_id: &str) -> QueryResult<Option<OidcLoginRow>> {
    oidc_logins::table
        .filter(oidc_logins::family_id.eq(family_id))
        .select(OidcLoginRow::as_select())
        .first(conn)
        .optional()
}

/// Marks the provider's answer as received, once: false when it already was
/// (a replayed callback).
pub fn mark_called_back(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    diesel::update(
        oidc_logins::table
            .filter(oidc_logins::id.eq(id))
            .filter(oidc_logins::called_back_at.is_null()),
    )
    .set((
        oidc_logins::called_back_at.eq(now),
        // The verifier has done its work; it is not kept.
        oidc_logins::pkce_verifier.eq(""),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// The outcome the ticket will tell: a user to sign in, or a refusal.
pub fn set_outcome(
    conn: &mut DbConn,
    id: &str,
    ticket_hash: &str,
    expires_at: NaiveDateTime,
    user_id: Option<&str>,
    refusal: Option<(&str, &str, &str)>,
    id_token: Option<&str>,
) -> QueryResult<()> {
    diesel::update(oidc_logins::table.filter(oidc_logins::id.eq(id)))
        .set((
            oidc_logins::ticket_hash.eq(ticket_hash),
            oidc_logins::expires_at.eq(expires_at),
            oidc_logins::user_id.eq(user_id),
            oidc_logins::refusal_code.eq(refusal.map(|r| r.0)),
            oidc_logins::refusal_en.eq(refusal.map(|r| r.1)),
            oidc_logins::refusal_sv.eq(refusal.map(|r| r.2)),
            oidc_logins::id_token.eq(id_token),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Redeems a ticket once: false when it already was.
pub fn redeem(
    conn: &mut DbConn,
    id: &str,
    now: NaiveDateTime,
    family_id: Option<&str>,
) -> QueryResult<bool> {
    diesel::update(
        oidc_logins::table
            .filter(oidc_logins::id.eq(id))
            .filter(oidc_logins::redeemed_at.is_null()),
    )
    .set((
        oidc_logins::redeemed_at.eq(now),
        oidc_logins::family_id.eq(family_id),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// Forgets logins that ended more than a day ago, except those that hold a
/// session's ID token (needed for the provider's logout) within the refresh
/// tokens' lifetime.
pub fn weed(
    conn: &mut DbConn,
    before: NaiveDateTime,
    sessions_before: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::delete(
        oidc_logins::table
            .filter(oidc_logins::expires_at.lt(before))
            .filter(
                oidc_logins::family_id
                    .is_null()
                    .or(oidc_logins::created_at.lt(sessions_before)),
            ),
    )
    .execute(conn)
}
