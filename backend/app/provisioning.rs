//! Provisioning by the identity provider (SCIM 2.0): users created ahead,
//! changed, switched off, and their group memberships. The provider acts as
//! itself (`scim` in the audit log); a switched-off user's sessions end at once.
//! Users are never deleted: the audit log and the key custody name them.

use crate::app::org::{change_user, create_user, user_not_found, UserDraft, UserEdit};
use crate::app::validation::Problems;
use crate::db::{audit, org, users, Db, DbConn};
use crate::domain::{RequestContext, Role};
use crate::error::{AppError, ErrorCode};

pub use crate::db::org::GroupRow;
pub use crate::db::users::UserRow;

/// One field's problem as a 422 validation error.
fn invalid(field: &str, code: &str, en: impl Into<String>, sv: impl Into<String>) -> AppError {
    let mut p = Problems::default();
    p.add(field, code, en, sv);
    p.finish().expect_err("a problem was added")
}

/// Who the audit log names for what the provider did.
const ACTOR: &str = "scim";

fn record(
    conn: &mut DbConn,
    ctx: &RequestContext,
    action: &str,
    entity: &str,
    id: &str,
) -> Result<(), AppError> {
    audit::record_as(
        conn,
        None,
        ACTOR,
        ctx,
        audit::Entry::new(action, entity, Some(id)),
    )?;
    Ok(())
}

/// A user with their groups.
pub type Provisioned = (UserRow, Vec<GroupRow>);

fn with_groups(conn: &mut DbConn, user: UserRow) -> Result<Provisioned, AppError> {
    let ids: Vec<String> = users::memberships_of(conn, &user.id)?
        .into_iter()
        .map(|m| m.group_id)
        .collect();
    let groups = org::find_groups(conn, &ids)?;
    Ok((user, groups))
}

/// Which users a provider asks for.
pub enum UserFilter {
    All,
    UserName(String),
    ExternalId(String),
}

pub async fn users(db: &Db, filter: UserFilter) -> Result<Vec<Provisioned>, AppError> {
    db.run(move |conn| {
        let rows = match filter {
            UserFilter::All => users::list(conn)?,
            UserFilter::UserName(name) => {
                users::find_by_username(conn, &name)?.into_iter().collect()
            }
            UserFilter::ExternalId(id) => {
                users::find_by_external_id(conn, &id)?.into_iter().collect()
            }
        };
        rows.into_iter().map(|u| with_groups(conn, u)).collect()
    })
    .await
}

pub async fn user(db: &Db, id: String) -> Result<Provisioned, AppError> {
    db.run(move |conn| {
        let user = users::find(conn, &id)?.ok_or_else(user_not_found)?;
        with_groups(conn, user)
    })
    .await
}

/// A user as the provider describes them.
pub struct Described {
    pub username: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub role: Option<Role>,
    pub active: bool,
}

fn role_required() -> AppError {
    invalid(
        "roles",
        "required",
        "give the user's role in Larmkoll (roles[].value: installer, coordinator, assessor, care_staff, billing, alarm_center or admin)",
        "ange användarens roll i Larmkoll (roles[].value: installer, coordinator, assessor, care_staff, billing, alarm_center eller admin)",
    )
}

/// Creates a user who signs in through the provider (no password).
pub async fn create(db: &Db, ctx: RequestContext, new: Described) -> Result<Provisioned, AppError> {
    let role = new.role.ok_or_else(role_required)?;
    db.transaction(move |conn| {
        let draft = UserDraft {
            username: new.username,
            display_name: new.display_name,
            password: None,
            role,
            alarm_lead: false,
            group_ids: Vec::new(),
            external_id: new.external_id,
        };
        if draft.external_id.is_none() {
            return Err(invalid(
                "externalId",
                "required",
                "give the identity the user signs in with (externalId)",
                "ange identiteten användaren loggar in med (externalId)",
            ));
        }
        let (row, _) = create_user(conn, draft, None)?;
        record(conn, &ctx, "user.create", "user", &row.id)?;
        if !new.active {
            change_user(conn, &row.id, None, edit_active(false))?;
        }
        let row = users::find(conn, &row.id)?.ok_or_else(user_not_found)?;
        with_groups(conn, row)
    })
    .await
}

fn edit_active(active: bool) -> UserEdit {
    UserEdit {
        display_name: None,
        role: None,
        alarm_lead: None,
        active: Some(active),
        external_id: None,
    }
}

/// What a replace or a patch changes; `None` leaves it.
#[derive(Default)]
pub struct Changes {
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub external_id: Option<String>,
    pub role: Option<Role>,
    pub active: Option<bool>,
}

/// Changes a user; switching them off or giving them a new role or identity
/// ends their sessions. A new username is refused: Larmkoll's usernames are fixed.
pub async fn change(
    db: &Db,
    ctx: RequestContext,
    id: String,
    changes: Changes,
) -> Result<Provisioned, AppError> {
    db.transaction(move |conn| {
        let current = users::find(conn, &id)?.ok_or_else(user_not_found)?;
        if let Some(name) = &changes.username {
            if !name.trim().eq_ignore_ascii_case(&current.username) {
                return Err(invalid(
                    "userName",
                    "immutable",
                    "a user's username cannot change in Larmkoll; create a new user",
                    "en användares användarnamn kan inte ändras i Larmkoll; lägg upp en ny användare",
                ));
            }
        }
        let edit = UserEdit {
            display_name: changes.display_name,
            role: changes.role,
            alarm_lead: None,
            active: changes.active,
            external_id: changes.external_id,
        };
        // The role as the admin set it wins for the alarm lead flag: a new role drops it.
        let edit = match edit.role {
            Some(r) if r != current.role && current.alarm_lead => UserEdit {
                alarm_lead: Some(false),
                ..edit
            },
            _ => edit,
        };
        let row = change_user(conn, &id, None, edit)?;
        let action = if changes.active == Some(false) && current.active {
            "user.deactivate"
        } else {
            "user.update"
        };
        record(conn, &ctx, action, "user", &id)?;
        with_groups(conn, row)
    })
    .await
}

/// Groups, or the one with this name (in any area).
pub async fn groups(
    db: &Db,
    name: Option<String>,
) -> Result<Vec<(GroupRow, Vec<UserRow>)>, AppError> {
    db.run(move |conn| {
        let groups = org::list_groups(conn, None)?
            .into_iter()
            .filter(|g| name.as_ref().is_none_or(|n| g.name == *n))
            .collect::<Vec<_>>();
        groups
            .into_iter()
            .map(|g| {
                let members = users::members_of_group(conn, &g.id)?;
                Ok((g, members))
            })
            .collect()
    })
    .await
}

fn group_not_found() -> AppError {
    AppError::not_found(ErrorCode::GroupNotFound, "group", "grupp")
}

pub async fn group(db: &Db, id: String) -> Result<(GroupRow, Vec<UserRow>), AppError> {
    db.run(move |conn| {
        let group = org::find_group(conn, &id)?.ok_or_else(group_not_found)?;
        let members = users::members_of_group(conn, &id)?;
        Ok((group, members))
    })
    .await
}

/// A change of a group's members: all of them, or some in and some out.
pub enum Members {
    Replace(Vec<String>),
    Change {
        add: Vec<String>,
        remove: Vec<String>,
    },
}

pub async fn change_members(
    db: &Db,
    ctx: RequestContext,
    group_id: String,
    members: Members,
) -> Result<(GroupRow, Vec<UserRow>), AppError> {
    db.transaction(move |conn| {
        let group = org::find_group(conn, &group_id)?.ok_or_else(group_not_found)?;
        let now: Vec<String> = users::members_of_group(conn, &group_id)?
            .into_iter()
            .map(|u| u.id)
            .collect();
        let (add, remove) = match members {
            Members::Replace(wanted) => (
                wanted
                    .iter()
                    .filter(|w| !now.contains(w))
                    .cloned()
                    .collect(),
                now.iter()
                    .filter(|n| !wanted.contains(n))
                    .cloned()
                    .collect(),
            ),
            Members::Change { add, remove } => (add, remove),
        };
        for user_id in &add {
            if users::find(conn, user_id)?.is_none() {
                return Err(invalid(
                    "members",
                    "unknown",
                    format!("no user has the id {user_id}"),
                    format!("ingen användare har id {user_id}"),
                ));
            }
            if !now.contains(user_id) {
                users::add_membership(conn, &group_id, user_id)?;
                record(conn, &ctx, "group.add_member", "user", user_id)?;
            }
        }
        for user_id in &remove {
            if users::remove_membership(conn, &group_id, user_id)? {
                record(conn, &ctx, "group.remove_member", "user", user_id)?;
            }
        }
        let members = users::members_of_group(conn, &group_id)?;
        Ok((group, members))
    })
    .await
}
