//! Sends the messages of a transition to the recipients the rules name.

use crate::db::{self, customers::CustomerRow, messages, org, DbConn};
use crate::domain::messages::{MessageRules, Recipient, Text, Topic};
use crate::domain::GroupKind;
use crate::error::AppError;

pub struct About<'a> {
    pub customer: &'a CustomerRow,
    pub customer_groups: &'a [String],
    pub order_id: Option<&'a str>,
    pub sender_id: Option<&'a str>,
}

/// Writes one message per recipient, in the caller's transaction. Returns how
/// many were written.
pub fn send(
    conn: &mut DbConn,
    rules: &MessageRules,
    topic: Topic,
    about: &About<'_>,
    text: Text,
) -> Result<usize, AppError> {
    let mut sent = 0;
    // One notice, one post: a reply to any of its copies reaches them all.
    let post_id = db::new_id();
    for recipient in rules.recipients(topic) {
        let (group, user, role) = match recipient {
            Recipient::Role(role) => (Vec::new(), None, Some(role.as_str().to_string())),
            Recipient::OrdinaryAssessor => match &about.customer.ordinary_assessor_id {
                Some(id) => (Vec::new(), Some(id.clone()), None),
                None => continue,
            },
            Recipient::CustomerGroup(kind) => {
                (customer_groups_of_kind(conn, about, *kind)?, None, None)
            }
        };
        let targets: Vec<(Option<String>, Option<String>, Option<String>)> = if group.is_empty() {
            vec![(None, user, role)]
        } else {
            group.into_iter().map(|g| (Some(g), None, None)).collect()
        };
        for (group_id, user_id, role) in targets {
            if group_id.is_none() && user_id.is_none() && role.is_none() {
                continue;
            }
            write(
                conn,
                &Addressed {
                    group_id,
                    user_id,
                    role,
                    customer_id: Some(&about.customer.id),
                    order_id: about.order_id,
                    sender_id: about.sender_id,
                    topic: topic.as_str(),
                    post_id: &post_id,
                    thread_id: None,
                    copy: false,
                },
                &text,
            )?;
            sent += 1;
        }
    }
    Ok(sent)
}

/// One message's envelope: to whom (a group, a user or a role) and about what.
pub struct Addressed<'a> {
    pub group_id: Option<String>,
    pub user_id: Option<String>,
    pub role: Option<String>,
    pub customer_id: Option<&'a str>,
    pub order_id: Option<&'a str>,
    /// None: the system (the follow-up rules).
    pub sender_id: Option<&'a str>,
    pub topic: &'a str,
    /// Shared by the rows of one post (one row per addressee).
    pub post_id: &'a str,
    /// The conversation it answers; None starts one (with the post's id).
    pub thread_id: Option<&'a str>,
    /// In copy (kopia).
    pub copy: bool,
}

/// Writes one message, in the caller's transaction: the one place a message
/// is made, for the transitions' rules and the follow-up rules alike.
pub fn write(conn: &mut DbConn, to: &Addressed<'_>, text: &Text) -> diesel::QueryResult<()> {
    let row = messages::MessageRow {
        id: db::new_id(),
        created_at: db::now(),
        sender_id: to.sender_id.map(str::to_string),
        recipient_group_id: to.group_id.clone(),
        recipient_user_id: to.user_id.clone(),
        recipient_role: to.role.clone(),
        customer_id: to.customer_id.map(str::to_string),
        order_id: to.order_id.map(str::to_string),
        topic: to.topic.to_string(),
        subject: text.subject.clone(),
        body: text.body.clone(),
        thread_id: to.thread_id.unwrap_or(to.post_id).to_string(),
        post_id: to.post_id.to_string(),
        copy: to.copy,
    };
    messages::insert(conn, &row)?;
    // The same message by mail and as an event, in the same transaction.
    super::outbox::queue_mails(conn, &row)?;
    db::outbox::event(
        conn,
        "message.created",
        to.customer_id,
        crate::event_data!("message_id": row.id, "thread_id": row.thread_id, "topic": row.topic, "order_id": row.order_id, "recipient_group_id": row.recipient_group_id, "recipient_user_id": row.recipient_user_id, "recipient_role": row.recipient_role),
    )
}

/// The customer's serving groups of a kind; if none serves them, the area's.
fn customer_groups_of_kind(
    conn: &mut DbConn,
    about: &About<'_>,
    kind: GroupKind,
) -> Result<Vec<String>, AppError> {
    let serving: Vec<String> = org::find_groups(conn, about.customer_groups)?
        .into_iter()
        .filter(|g| g.kind == kind)
        .map(|g| g.id)
        .collect();
    if !serving.is_empty() {
        return Ok(serving);
    }
    Ok(org::list_groups(conn, Some(&about.customer.area_id))?
        .into_iter()
        .filter(|g| g.kind == kind)
        .map(|g| g.id)
        .collect())
}
