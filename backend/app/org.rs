//! The organisation's steps that the API and the command line share.

use crate::app::validation::{unknown_reference, Problems};
use crate::auth::password;
use crate::auth::permissions::{may_hold, Duty};
use crate::db::{self, audit, org, tokens, users, DbConn};
use crate::domain::{Actor, Role};
use crate::error::AppError;
use crate::error::ErrorCode;
use actix_web::http::StatusCode;

/// Only a role that may hold the duty can be alarm lead (larmansvarig).
pub fn check_alarm_lead(p: &mut Problems, alarm_lead: bool, role: Role) {
    if alarm_lead && !may_hold(role, Duty::AlarmLead) {
        p.add(
            "alarm_lead",
            "invalid",
            "only an assessor can be alarm lead (larmansvarig)",
            "bara en handläggare kan vara larmansvarig",
        );
    }
}

/// A user to create, as the admin (or the command line) gave it.
pub struct UserDraft {
    pub username: String,
    pub display_name: String,
    pub password: String,
    pub role: Role,
    pub alarm_lead: bool,
    pub group_ids: Vec<String>,
}

/// Validates and creates a user with memberships, in the caller's
/// transaction; returns the user and their group ids.
pub fn create_user(
    conn: &mut db::DbConn,
    new: UserDraft,
    actor: Option<&Actor>,
) -> Result<(users::UserRow, Vec<String>), AppError> {
    let mut p = Problems::default();
    let username = p.text("username", &new.username, 64).to_lowercase();
    if !username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        p.add(
            "username",
            "invalid",
            "letters a–z, digits, '.', '_' and '-' only",
            "bara bokstäverna a–z, siffror, '.', '_' och '-'",
        );
    }
    let display_name = p.text("display_name", &new.display_name, 100);
    if let Err(why) = password::check_strength(&new.password) {
        p.add("password", "too_weak", why.en, why.sv);
    }
    check_alarm_lead(&mut p, new.alarm_lead, new.role);
    p.finish()?;
    let group_ids = new.group_ids;
    if org::find_groups(conn, &group_ids)?.len() != group_ids.len() {
        return Err(unknown_reference("group_ids", "group", "gruppen"));
    }
    let now = db::now();
    let row = users::UserRow {
        id: db::new_id(),
        username,
        display_name,
        password_hash: password::hash(&new.password)?,
        role: new.role,
        alarm_lead: new.alarm_lead,
        active: true,
        token_version: 0,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    users::insert(conn, &row).map_err(|e| match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => AppError::new(
            StatusCode::CONFLICT,
            ErrorCode::UsernameTaken,
            "That username is taken; choose another.",
            "Användarnamnet är upptaget; välj ett annat.",
        ),
        other => other.into(),
    })?;
    for g in &group_ids {
        users::add_membership(conn, g, &row.id)?;
    }
    if let Some(actor) = actor {
        audit::record(
            conn,
            actor,
            audit::Entry::new("user.create", "user", Some(&row.id)),
        )?;
    }
    Ok((row, group_ids))
}

/// Revokes every refresh token and bumps the token version, so access tokens
/// already out stop working at their next request.
pub fn cut_sessions(conn: &mut DbConn, user_id: &str) -> Result<(), AppError> {
    let now = db::now();
    tokens::revoke_all_of_user(conn, user_id, now)?;
    let user = users::find(conn, user_id)?
        .ok_or_else(|| AppError::not_found(ErrorCode::UserNotFound, "user", "användare"))?;
    let changes = users::UserChanges {
        display_name: None,
        role: None,
        alarm_lead: None,
        active: None,
        password_hash: None,
        token_version: Some(user.token_version + 1),
        version: user.version + 1,
        updated_at: now,
    };
    users::update_if_version(conn, user_id, user.version, &changes)?;
    Ok(())
}
