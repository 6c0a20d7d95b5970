//! The organisation's steps that the API and the command line share.

use crate::app::validation::{unknown_reference, Problems};
use crate::auth::password;
use crate::auth::permissions::{may_hold, Duty};
use crate::db::{self, audit, org, tokens, users, Db, DbConn};
use crate::domain::{Actor, GroupKind, Role};
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
    /// `None`: the user signs in only through the identity provider, as
    /// `external_id`, which then must be given.
    pub password: Option<String>,
    pub role: Role,
    pub alarm_lead: bool,
    pub group_ids: Vec<String>,
    pub external_id: Option<String>,
}

/// The stored hash of a user without a password: no password verifies against it.
const NO_PASSWORD: &str = "!";

/// Whether the user can log in with a password at all.
pub fn has_password(user: &UserRow) -> bool {
    user.password_hash != NO_PASSWORD
}

/// An external identity as stored: trimmed, at most 256 characters; empty is none.
fn external_identity(p: &mut Problems, given: Option<&str>) -> Option<String> {
    let given = given?.trim();
    if given.is_empty() {
        return None;
    }
    Some(p.text("external_id", given, 256))
}

fn identity_taken(e: diesel::result::Error) -> AppError {
    match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            info,
        ) if info.message().contains("external_id") => AppError::new(
            StatusCode::CONFLICT,
            ErrorCode::ExternalIdTaken,
            "Another user already signs in with this external identity.",
            "En annan användare loggar redan in med den här externa identiteten.",
        ),
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
    }
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
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        p.add(
            "username",
            "invalid",
            "letters a–z, digits, '.', '_', '-' and '@' only",
            "bara bokstäverna a–z, siffror, '.', '_', '-' och '@'",
        );
    }
    let display_name = p.text("display_name", &new.display_name, 100);
    let external_id = external_identity(&mut p, new.external_id.as_deref());
    match &new.password {
        Some(given) => {
            if let Err(why) = password::check_strength(given) {
                p.add("password", "too_weak", why.en, why.sv);
            }
        }
        None if external_id.is_none() => p.add(
            "password",
            "required",
            "give a password, or the external identity the user signs in with",
            "ange ett lösenord eller den externa identitet användaren loggar in med",
        ),
        None => {}
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
        password_hash: match &new.password {
            Some(given) => password::hash(given)?,
            None => NO_PASSWORD.to_string(),
        },
        role: new.role,
        alarm_lead: new.alarm_lead,
        active: true,
        token_version: 0,
        version: 1,
        created_at: now,
        updated_at: now,
        external_id,
    };
    users::insert(conn, &row).map_err(identity_taken)?;
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
    let user = users::find(conn, user_id)?.ok_or_else(user_not_found)?;
    let changes = users::UserChanges {
        token_version: Some(user.token_version + 1),
        updated_at: now,
        ..users::UserChanges::next_version(&user)
    };
    users::update_if_version(conn, user_id, user.version, &changes)?;
    Ok(())
}

pub use crate::db::org::{AreaRow, GroupRow};
pub use crate::db::users::UserRow;

/// Every area.
pub async fn areas(db: &Db) -> Result<Vec<AreaRow>, AppError> {
    db.run(|conn| Ok(org::list_areas(conn)?)).await
}

/// Every group, or those of one area.
pub async fn groups(db: &Db, area_id: Option<String>) -> Result<Vec<GroupRow>, AppError> {
    db.run(move |conn| Ok(org::list_groups(conn, area_id.as_deref())?))
        .await
}

/// Every user, each with the ids of their groups.
pub async fn users(db: &Db) -> Result<Vec<(UserRow, Vec<String>)>, AppError> {
    db.run(|conn| {
        let rows = users::list(conn)?;
        let ids: Vec<String> = rows.iter().map(|u| u.id.clone()).collect();
        let memberships = users::group_ids_of(conn, &ids)?;
        Ok(rows
            .into_iter()
            .map(|u| {
                let groups = memberships
                    .iter()
                    .filter(|(uid, _)| *uid == u.id)
                    .map(|(_, g)| g.clone())
                    .collect();
                (u, groups)
            })
            .collect())
    })
    .await
}

/// One user and the ids of their groups.
pub async fn user(db: &Db, id: String) -> Result<(UserRow, Vec<String>), AppError> {
    db.run(move |conn| {
        let row = users::find(conn, &id)?.ok_or_else(user_not_found)?;
        let groups = users::memberships_of(conn, &id)?
            .into_iter()
            .map(|m| m.group_id)
            .collect();
        Ok((row, groups))
    })
    .await
}

/// Creates a user as an admin does; see [`create_user`].
pub async fn add_user(
    db: &Db,
    user: Actor,
    draft: UserDraft,
) -> Result<(UserRow, Vec<String>), AppError> {
    db.transaction(move |conn| create_user(conn, draft, Some(&user)))
        .await
}

/// Creates an area; its name must be free.
pub async fn create_area(db: &Db, user: Actor, name: String) -> Result<AreaRow, AppError> {
    let row = AreaRow {
        id: db::new_id(),
        name,
        created_at: db::now(),
    };
    db.transaction(move |conn| {
        org::insert_area(conn, &row)
            .map_err(|e| duplicate(e, ErrorCode::AreaExists, "area", "område"))?;
        audit::record(
            conn,
            &user,
            audit::Entry::new("area.create", "area", Some(&row.id)),
        )?;
        Ok(row)
    })
    .await
}

/// Creates a group of a kind in an existing area; its name must be free there.
pub async fn create_group(
    db: &Db,
    user: Actor,
    area_id: String,
    name: String,
    kind: GroupKind,
) -> Result<GroupRow, AppError> {
    let row = GroupRow {
        id: db::new_id(),
        area_id,
        name,
        kind,
        created_at: db::now(),
    };
    db.transaction(move |conn| {
        if org::find_area(conn, &row.area_id)?.is_none() {
            return Err(unknown_reference("area_id", "area", "området"));
        }
        org::insert_group(conn, &row)
            .map_err(|e| duplicate(e, ErrorCode::GroupExists, "group", "grupp"))?;
        audit::record(
            conn,
            &user,
            audit::Entry::new("group.create", "group", Some(&row.id)),
        )?;
        Ok(row)
    })
    .await
}

/// What an admin changes on a user; `None` leaves a field as it is.
pub struct UserEdit {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    pub alarm_lead: Option<bool>,
    pub active: Option<bool>,
    /// `Some("")` removes it.
    pub external_id: Option<String>,
}

/// Changes a user at version `expected`; a deactivation or a new role ends
/// their sessions at once.
pub async fn update_user(
    db: &Db,
    user: Actor,
    target: String,
    expected: i32,
    edit: UserEdit,
) -> Result<(), AppError> {
    db.transaction(move |conn| {
        change_user(conn, &target, Some(expected), edit)?;
        audit::record(
            conn,
            &user,
            audit::Entry::new("user.update", "user", Some(&target)),
        )?;
        Ok(())
    })
    .await
}

/// Applies an edit in the caller's transaction, at version `expected` if
/// given; a deactivation, a new role or a new external identity ends the
/// user's sessions (their access tokens fail at the next request). The caller audits.
pub fn change_user(
    conn: &mut DbConn,
    target: &str,
    expected: Option<i32>,
    edit: UserEdit,
) -> Result<UserRow, AppError> {
    let UserEdit {
        display_name,
        role,
        alarm_lead,
        active,
        external_id,
    } = edit;
    let current = users::find(conn, target)?.ok_or_else(user_not_found)?;
    if expected.is_some_and(|e| current.version != e) {
        return Err(AppError::stale_version(current.version));
    }
    let new_role = role;
    let lead = alarm_lead.unwrap_or(current.alarm_lead);
    let holder = new_role.unwrap_or(current.role);
    let mut p = Problems::default();
    check_alarm_lead(&mut p, lead, holder);
    let external_id = external_id.map(|given| external_identity(&mut p, Some(&given)));
    p.finish()?;
    // A new identity at the provider is a new person signing in: their sessions end too.
    let cuts = active == Some(false)
        || new_role.as_ref().is_some_and(|r| *r != current.role)
        || external_id
            .as_ref()
            .is_some_and(|e| *e != current.external_id);
    let changes = users::UserChanges {
        display_name,
        role: new_role,
        alarm_lead,
        active,
        external_id,
        token_version: cuts.then_some(current.token_version + 1),
        ..users::UserChanges::next_version(&current)
    };
    if !users::update_if_version(conn, target, current.version, &changes).map_err(identity_taken)? {
        return Err(AppError::stale_version(current.version + 1));
    }
    if cuts {
        crate::db::tokens::revoke_all_of_user(conn, target, db::now())?;
    }
    users::find(conn, target)?.ok_or_else(user_not_found)
}

/// Sets a user's password and ends their sessions.
pub async fn set_password(
    db: &Db,
    user: Actor,
    id: String,
    new_password: String,
) -> Result<(), AppError> {
    db.transaction(move |conn| {
        let current = users::find(conn, &id)?.ok_or_else(user_not_found)?;
        let changes = users::UserChanges {
            password_hash: Some(password::hash(&new_password)?),
            token_version: Some(current.token_version + 1),
            ..users::UserChanges::next_version(&current)
        };
        users::update_if_version(conn, &id, current.version, &changes)?;
        crate::db::tokens::revoke_all_of_user(conn, &id, db::now())?;
        audit::record(
            conn,
            &user,
            audit::Entry::new("user.set_password", "user", Some(&id)),
        )?;
        Ok(())
    })
    .await
}

/// Ends every session of a user (a lost phone).
pub async fn revoke_sessions(db: &Db, user: Actor, id: String) -> Result<(), AppError> {
    db.transaction(move |conn| {
        cut_sessions(conn, &id)?;
        audit::record(
            conn,
            &user,
            audit::Entry::new("user.revoke_sessions", "user", Some(&id)),
        )?;
        Ok(())
    })
    .await
}

/// Puts a user in a group (once).
pub async fn add_member(
    db: &Db,
    user: Actor,
    group_id: String,
    user_id: String,
) -> Result<(), AppError> {
    db.transaction(move |conn| {
        org::find_group(conn, &group_id)?
            .ok_or_else(|| AppError::not_found(ErrorCode::GroupNotFound, "group", "grupp"))?;
        users::find(conn, &user_id)?.ok_or_else(user_not_found)?;
        if !users::memberships_of(conn, &user_id)?
            .iter()
            .any(|m| m.group_id == group_id)
        {
            users::add_membership(conn, &group_id, &user_id)?;
            audit::record(
                conn,
                &user,
                audit::Entry::new("group.add_member", "user", Some(&user_id)),
            )?;
        }
        Ok(())
    })
    .await
}

/// Takes a user out of a group.
pub async fn remove_member(
    db: &Db,
    user: Actor,
    group_id: String,
    user_id: String,
) -> Result<(), AppError> {
    db.transaction(move |conn| {
        if !users::remove_membership(conn, &group_id, &user_id)? {
            return Err(AppError::not_found(
                ErrorCode::MembershipNotFound,
                "membership",
                "medlemskap",
            ));
        }
        audit::record(
            conn,
            &user,
            audit::Entry::new("group.remove_member", "user", Some(&user_id)),
        )?;
        Ok(())
    })
    .await
}

fn duplicate(e: diesel::result::Error, code: ErrorCode, en: &str, sv: &str) -> AppError {
    match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => AppError::new(
            StatusCode::CONFLICT,
            code,
            format!("A {en} with this name already exists."),
            format!("Det finns redan ett {sv} med detta namn."),
        ),
        other => other.into(),
    }
}

pub fn user_not_found() -> AppError {
    AppError::not_found(ErrorCode::UserNotFound, "user", "användare")
}
