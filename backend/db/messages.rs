//! Messages to groups, roles and persons, and who has read them.

use super::schema::{message_reads, messages};
use super::DbConn;
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = messages)]
pub struct MessageRow {
    pub id: String,
    pub created_at: NaiveDateTime,
    pub sender_id: Option<String>,
    pub recipient_group_id: Option<String>,
    pub recipient_user_id: Option<String>,
    pub recipient_role: Option<String>,
    pub customer_id: Option<String>,
    pub order_id: Option<String>,
    pub topic: String,
    pub subject: String,
    pub body: String,
    /// The first post's id: every post of one conversation shares it.
    pub thread_id: String,
    /// The rows of one post (one per addressee) share it.
    pub post_id: String,
    /// The addressee has it in copy (kopia).
    pub copy: bool,
}

pub fn insert(conn: &mut DbConn, row: &MessageRow) -> QueryResult<()> {
    diesel::insert_into(messages::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// Who a user is, as far as addressing goes.
pub struct Addressee<'a> {
    pub user_id: &'a str,
    pub role: &'a str,
    pub group_ids: &'a [String],
}

/// The user's inbox, newest first, with when they read each message.
pub fn inbox(
    conn: &mut DbConn,
    a: &Addressee<'_>,
    unread_only: bool,
    limit: i64,
) -> QueryResult<Vec<(MessageRow, Option<NaiveDateTime>)>> {
    let rows: Vec<MessageRow> = addressed(a, unread_only)
        .select(MessageRow::as_select())
        .order((messages::created_at.desc(), messages::id.desc()))
        .limit(limit)
        .load(conn)?;
    let ids: Vec<String> = rows.iter().map(|m| m.id.clone()).collect();
    let reads: Vec<(String, NaiveDateTime)> = message_reads::table
        .filter(message_reads::user_id.eq(a.user_id.to_string()))
        .filter(message_reads::message_id.eq_any(ids))
        .select((message_reads::message_id, message_reads::read_at))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|m| {
            let read = reads.iter().find(|(id, _)| *id == m.id).map(|(_, at)| *at);
            (m, read)
        })
        .collect())
}

pub fn unread_count(conn: &mut DbConn, a: &Addressee<'_>) -> QueryResult<i64> {
    addressed(a, true).count().get_result(conn)
}

fn addressed<'a>(
    a: &Addressee<'_>,
    unread_only: bool,
) -> messages::BoxedQuery<'a, super::MultiBackend> {
    let mut q = messages::table
        .filter(
            messages::recipient_user_id
                .eq(a.user_id.to_string())
                .or(messages::recipient_role.eq(a.role.to_string()))
                .or(messages::recipient_group_id.eq_any(a.group_ids.to_vec())),
        )
        .into_boxed();
    if unread_only {
        let read = message_reads::table
            .filter(message_reads::user_id.eq(a.user_id.to_string()))
            .select(message_reads::message_id);
        q = q.filter(diesel::dsl::not(messages::id.eq_any(read)));
    }
    q
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<MessageRow>> {
    messages::table
        .find(id)
        .select(MessageRow::as_select())
        .first(conn)
        .optional()
}

pub fn is_addressed_to(m: &MessageRow, a: &Addressee<'_>) -> bool {
    m.recipient_user_id.as_deref() == Some(a.user_id)
        || m.recipient_role.as_deref() == Some(a.role)
        || m.recipient_group_id
            .as_ref()
            .is_some_and(|g| a.group_ids.contains(g))
}

pub fn mark_read(
    conn: &mut DbConn,
    message_id: &str,
    user_id: &str,
    at: NaiveDateTime,
) -> QueryResult<()> {
    let already = message_reads::table
        .find((message_id, user_id))
        .select(message_reads::read_at)
        .first::<NaiveDateTime>(conn)
        .optional()?;
    if already.is_none() {
        diesel::insert_into(message_reads::table)
            .values((
                message_reads::message_id.eq(message_id),
                message_reads::user_id.eq(user_id),
                message_reads::read_at.eq(at),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn for_order(conn: &mut DbConn, order_id: &str) -> QueryResult<Vec<MessageRow>> {
    messages::table
        .filter(messages::order_id.eq(order_id))
        .select(MessageRow::as_select())
        .order((messages::created_at, messages::id))
        .load(conn)
}

/// Every row of a thread, oldest first.
pub fn thread(conn: &mut DbConn, thread_id: &str) -> QueryResult<Vec<MessageRow>> {
    messages::table
        .filter(messages::thread_id.eq(thread_id))
        .select(MessageRow::as_select())
        .order((messages::created_at, messages::post_id, messages::id))
        .load(conn)
}

/// The threads about an order that the addressee takes part in (wrote in or
/// was addressed by), newest activity first.
pub fn threads_about_order(
    conn: &mut DbConn,
    a: &Addressee<'_>,
    order_id: &str,
) -> QueryResult<Vec<String>> {
    let rows: Vec<(String, NaiveDateTime)> = addressed(a, false)
        .or_filter(messages::sender_id.eq(a.user_id.to_string()))
        .filter(messages::order_id.eq(order_id.to_string()))
        .select((messages::thread_id, messages::created_at))
        .order(messages::created_at.desc())
        .load(conn)?;
    let mut threads: Vec<String> = Vec::new();
    for (t, _) in rows {
        if !threads.contains(&t) {
            threads.push(t);
        }
    }
    Ok(threads)
}

/// Whether an assessor wrote about the order since `since` (an answer to the
/// follow-up, which stops the escalation); the notices of their own steps do not count.
pub fn assessor_wrote_since(
    conn: &mut DbConn,
    order_id: &str,
    since: NaiveDateTime,
) -> QueryResult<bool> {
    use super::schema::users;
    let assessors = users::table
        .filter(users::role.eq("assessor"))
        .select(users::id.nullable());
    diesel::select(diesel::dsl::exists(
        messages::table
            .filter(messages::order_id.eq(order_id.to_string()))
            .filter(messages::created_at.ge(since))
            .filter(messages::topic.eq(crate::domain::messages::CONVERSATION))
            .filter(messages::sender_id.eq_any(assessors)),
    ))
    .get_result(conn)
}
