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
            messages::insert(
                conn,
                &messages::MessageRow {
                    id: db::new_id(),
                    created_at: db::now(),
                    sender_id: about.sender_id.map(str::to_string),
                    recipient_group_id: group_id,
                    recipient_user_id: user_id,
                    recipient_role: role,
                    customer_id: Some(about.customer.id.clone()),
                    order_id: about.order_id.map(str::to_string),
                    topic: topic.as_str().to_string(),
                    subject: text.subject.clone(),
                    body: text.body.clone(),
                },
            )?;
            sent += 1;
        }
    }
    Ok(sent)
}

/// The customer's serving groups of a kind; if none serves them, the area's.
fn customer_groups_of_kind(
    conn: &mut DbConn,
    about: &About<'_>,
    kind: GroupKind,
) -> Result<Vec<String>, AppError> {
    let serving: Vec<String> = org::find_groups(conn, about.customer_groups)?
        .into_iter()
        .filter(|g| g.kind == kind.as_str())
        .map(|g| g.id)
        .collect();
    if !serving.is_empty() {
        return Ok(serving);
    }
    Ok(org::list_groups(conn, Some(&about.customer.area_id))?
        .into_iter()
        .filter(|g| g.kind == kind.as_str())
        .map(|g| g.id)
        .collect())
}
