//! The inbox: what the routines told the actor, their groups and their role.

use crate::db::{self, messages, Db};
use crate::domain::Actor;
use crate::error::{AppError, ErrorCode};

/// The one the inbox is read for: the person, their groups, their role.
struct Addressee {
    user_id: String,
    role: String,
    group_ids: Vec<String>,
}

impl Addressee {
    fn of(user: &Actor) -> Self {
        Addressee {
            user_id: user.id.clone(),
            role: user.role.as_str().to_string(),
            group_ids: user.groups.iter().map(|g| g.group_id.clone()).collect(),
        }
    }

    fn as_query(&self) -> messages::Addressee<'_> {
        messages::Addressee {
            user_id: &self.user_id,
            role: &self.role,
            group_ids: &self.group_ids,
        }
    }
}

/// The actor's messages, newest first, each with when they read it.
pub async fn inbox(
    db: &Db,
    user: &Actor,
    unread_only: bool,
    limit: i64,
) -> Result<Vec<(messages::MessageRow, Option<chrono::NaiveDateTime>)>, AppError> {
    let to = Addressee::of(user);
    db.run(move |conn| Ok(messages::inbox(conn, &to.as_query(), unread_only, limit)?))
        .await
}

/// How many of the actor's messages they have not read.
pub async fn unread_count(db: &Db, user: &Actor) -> Result<i64, AppError> {
    let to = Addressee::of(user);
    db.run(move |conn| Ok(messages::unread_count(conn, &to.as_query())?))
        .await
}

/// Marks one of the actor's messages read (again: no change); another's is
/// answered as not found.
pub async fn mark_read(db: &Db, user: &Actor, id: String) -> Result<(), AppError> {
    let to = Addressee::of(user);
    db.transaction(move |conn| match messages::find(conn, &id)? {
        Some(m) if messages::is_addressed_to(&m, &to.as_query()) => {
            Ok(messages::mark_read(conn, &id, &to.user_id, db::now())?)
        }
        _ => Err(AppError::not_found(
            ErrorCode::MessageNotFound,
            "message",
            "meddelande",
        )),
    })
    .await
}
