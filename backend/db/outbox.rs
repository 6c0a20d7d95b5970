//! The outbox: mails and webhook deliveries written with the change that
//! causes them, claimed by a dispatcher under a lease, marked when done.
//! Also who gets mail (group mailboxes, users' addresses and topics) and the
//! webhook subscriptions.

use super::schema::{
    customers, group_mailboxes, group_members, outbox, user_mail, users, webhook_subscriptions,
};
use super::DbConn;
use chrono::NaiveDateTime;
use diesel::prelude::*;

pub const EMAIL: &str = "email";
pub const WEBHOOK: &str = "webhook";

/// Waiting for its (next) attempt.
pub const PENDING: &str = "pending";
/// Claimed by a dispatcher until `lease_until`; after that anyone may retake it.
pub const SENDING: &str = "sending";
pub const SENT: &str = "sent";
/// Out of attempts (mail) or of time (webhooks).
pub const FAILED: &str = "failed";
/// The mail server refused it for good (SMTP 5xx).
pub const BOUNCED: &str = "bounced";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = outbox)]
pub struct OutboxRow {
    pub id: String,
    pub channel: String,
    /// The message topic (mail) or the event type (webhook).
    pub event_type: String,
    pub message_id: Option<String>,
    pub subscription_id: Option<String>,
    pub customer_number: Option<String>,
    pub order_id: Option<String>,
    /// A mail address or a URL.
    pub target: String,
    pub subject: String,
    /// The mail's text, or the webhook's JSON payload exactly as signed.
    pub body: String,
    pub state: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub lease_until: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub sent_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConn, row: &OutboxRow) -> QueryResult<()> {
    diesel::insert_into(outbox::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// Claims up to `limit` due rows of these channels until `lease_until`, in
/// the caller's transaction: each gets `state = sending` and one attempt more.
/// On PostgreSQL the rows are picked `FOR UPDATE SKIP LOCKED`, so instances
/// never claim the same row; SQLite has one writer at a time.
pub fn claim(
    conn: &mut DbConn,
    channels: &[&str],
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<OutboxRow>> {
    let wanted: Vec<String> = channels.iter().map(|c| c.to_string()).collect();
    // Due now: pending and its time come, or claimed and the lease run out
    // (the dispatcher holding it died).
    macro_rules! due {
        () => {
            outbox::table
                .filter(outbox::channel.eq_any(wanted.clone()))
                .filter(
                    outbox::state
                        .eq(PENDING)
                        .and(outbox::next_attempt_at.le(now))
                        .or(outbox::state.eq(SENDING).and(outbox::lease_until.lt(now))),
                )
                .order((outbox::next_attempt_at, outbox::id))
                .select(outbox::id)
                .limit(limit)
        };
    }
    let locked: Option<Vec<String>> = match &mut *conn {
        DbConn::Postgres(pg) => Some(due!().for_update().skip_locked().load(pg)?),
        DbConn::Sqlite(_) => None,
    };
    let ids = match locked {
        Some(ids) => ids,
        None => due!().load(conn)?,
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(outbox::table.filter(outbox::id.eq_any(&ids)))
        .set((
            outbox::state.eq(SENDING),
            outbox::lease_until.eq(Some(lease_until)),
            outbox::attempts.eq(outbox::attempts + 1),
            outbox::updated_at.eq(now),
        ))
        .execute(conn)?;
    outbox::table
        .filter(outbox::id.eq_any(&ids))
        .select(OutboxRow::as_select())
        .order((outbox::next_attempt_at, outbox::id))
        .load(conn)
}

/// Marks the outcome of the claim that made attempt `attempt`; a claim that
/// was taken over meanwhile (its lease ran out) changes nothing. Returns
/// whether the row was still ours.
pub fn finish(
    conn: &mut DbConn,
    id: &str,
    attempt: i32,
    outcome: Outcome<'_>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let mine = outbox::table.filter(
        outbox::id
            .eq(id)
            .and(outbox::state.eq(SENDING))
            .and(outbox::attempts.eq(attempt)),
    );
    let n = match outcome {
        Outcome::Sent => diesel::update(mine)
            .set((
                outbox::state.eq(SENT),
                outbox::sent_at.eq(Some(now)),
                outbox::lease_until.eq(None::<NaiveDateTime>),
                outbox::updated_at.eq(now),
            ))
            .execute(conn)?,
        Outcome::Retry { error, at } => diesel::update(mine)
            .set((
                outbox::state.eq(PENDING),
                outbox::next_attempt_at.eq(at),
                outbox::last_error.eq(Some(error)),
                outbox::lease_until.eq(None::<NaiveDateTime>),
                outbox::updated_at.eq(now),
            ))
            .execute(conn)?,
        Outcome::GiveUp { state, error } => diesel::update(mine)
            .set((
                outbox::state.eq(state),
                outbox::last_error.eq(Some(error)),
                outbox::lease_until.eq(None::<NaiveDateTime>),
                outbox::updated_at.eq(now),
            ))
            .execute(conn)?,
    };
    Ok(n == 1)
}

pub enum Outcome<'a> {
    Sent,
    Retry {
        error: &'a str,
        at: NaiveDateTime,
    },
    /// `FAILED` or `BOUNCED`.
    GiveUp {
        state: &'a str,
        error: &'a str,
    },
}

/// Puts a row back in the queue for a fresh round of attempts (the admin's
/// replay). A row being sent right now is left alone. Returns whether it was found.
pub fn replay(conn: &mut DbConn, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    diesel::update(outbox::table.filter(outbox::id.eq(id).and(outbox::state.ne(SENDING))))
        .set((
            outbox::state.eq(PENDING),
            outbox::attempts.eq(0),
            outbox::next_attempt_at.eq(now),
            outbox::updated_at.eq(now),
        ))
        .execute(conn)
        .map(|n| n == 1)
}

pub fn find(conn: &mut DbConn, id: &str) -> QueryResult<Option<OutboxRow>> {
    outbox::table
        .find(id)
        .select(OutboxRow::as_select())
        .first(conn)
        .optional()
}

pub struct Filter {
    pub channel: Option<String>,
    pub state: Option<String>,
    pub message_id: Option<String>,
    pub limit: i64,
}

/// Newest first.
pub fn list(conn: &mut DbConn, f: &Filter) -> QueryResult<Vec<OutboxRow>> {
    let mut q = outbox::table.select(OutboxRow::as_select()).into_boxed();
    if let Some(v) = &f.channel {
        q = q.filter(outbox::channel.eq(v.clone()));
    }
    if let Some(v) = &f.state {
        q = q.filter(outbox::state.eq(v.clone()));
    }
    if let Some(v) = &f.message_id {
        q = q.filter(outbox::message_id.eq(v.clone()));
    }
    q.order((outbox::created_at.desc(), outbox::id.desc()))
        .limit(f.limit)
        .load(conn)
}

pub fn customer_number(conn: &mut DbConn, customer_id: &str) -> QueryResult<Option<String>> {
    customers::table
        .find(customer_id)
        .select(customers::customer_number)
        .first(conn)
        .optional()
}

// --- who gets mail ---

pub fn set_group_mailbox(
    conn: &mut DbConn,
    group_id: &str,
    address: Option<&str>,
) -> QueryResult<()> {
    diesel::delete(group_mailboxes::table.find(group_id)).execute(conn)?;
    if let Some(address) = address {
        diesel::insert_into(group_mailboxes::table)
            .values((
                group_mailboxes::group_id.eq(group_id),
                group_mailboxes::address.eq(address),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn group_mailbox(conn: &mut DbConn, group_id: &str) -> QueryResult<Option<String>> {
    group_mailboxes::table
        .find(group_id)
        .select(group_mailboxes::address)
        .first(conn)
        .optional()
}

/// A user's address and topics (comma-separated), or none.
pub fn set_user_mail(
    conn: &mut DbConn,
    user_id: &str,
    mail: Option<(&str, &str)>,
) -> QueryResult<()> {
    diesel::delete(user_mail::table.find(user_id)).execute(conn)?;
    if let Some((address, topics)) = mail {
        diesel::insert_into(user_mail::table)
            .values((
                user_mail::user_id.eq(user_id),
                user_mail::address.eq(address),
                user_mail::topics.eq(topics),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn user_mail(conn: &mut DbConn, user_id: &str) -> QueryResult<Option<(String, String)>> {
    user_mail::table
        .find(user_id)
        .select((user_mail::address, user_mail::topics))
        .first(conn)
        .optional()
}

/// The (address, topics) of the active users a message reaches who gave an
/// address: the user it names, the members of the group it names, or
/// everyone with the role it names.
pub fn mail_users_reached(
    conn: &mut DbConn,
    user_id: Option<&str>,
    group_id: Option<&str>,
    role: Option<&str>,
) -> QueryResult<Vec<(String, String)>> {
    let base = user_mail::table
        .inner_join(users::table.on(users::id.eq(user_mail::user_id)))
        .filter(users::active.eq(true))
        .select((user_mail::address, user_mail::topics));
    if let Some(u) = user_id {
        return base.filter(users::id.eq(u.to_string())).load(conn);
    }
    if let Some(r) = role {
        return base.filter(users::role.eq(r.to_string())).load(conn);
    }
    if let Some(g) = group_id {
        let members = group_members::table
            .filter(group_members::group_id.eq(g.to_string()))
            .select(group_members::user_id);
        return base.filter(users::id.eq_any(members)).load(conn);
    }
    Ok(Vec::new())
}

// --- webhook subscriptions ---

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_subscriptions)]
pub struct SubscriptionRow {
    pub id: String,
    pub url: String,
    /// `whsec_` + base64 of the key.
    pub secret: String,
    /// Comma-separated event types; `*` for all.
    pub event_types: String,
    pub allow_http: bool,
    pub created_at: NaiveDateTime,
}

pub fn insert_subscription(conn: &mut DbConn, row: &SubscriptionRow) -> QueryResult<()> {
    diesel::insert_into(webhook_subscriptions::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn subscriptions(conn: &mut DbConn) -> QueryResult<Vec<SubscriptionRow>> {
    webhook_subscriptions::table
        .select(SubscriptionRow::as_select())
        .order((webhook_subscriptions::created_at, webhook_subscriptions::id))
        .load(conn)
}

pub fn find_subscription(conn: &mut DbConn, id: &str) -> QueryResult<Option<SubscriptionRow>> {
    webhook_subscriptions::table
        .find(id)
        .select(SubscriptionRow::as_select())
        .first(conn)
        .optional()
}

pub fn delete_subscription(conn: &mut DbConn, id: &str) -> QueryResult<bool> {
    diesel::delete(webhook_subscriptions::table.find(id))
        .execute(conn)
        .map(|n| n == 1)
}

// --- webhook events ---

/// Queues `event_type` for every subscription that wants it, in the
/// caller's transaction: one row per subscription, its id the `webhook-id`.
/// The payload carries ids and the customer number, nothing personal.
pub fn event(
    conn: &mut DbConn,
    event_type: &str,
    customer_id: Option<&str>,
    mut data: serde_json::Map<String, serde_json::Value>,
) -> QueryResult<()> {
    let wanted: Vec<SubscriptionRow> = subscriptions(conn)?
        .into_iter()
        .filter(|s| {
            s.event_types
                .split(',')
                .any(|t| t == "*" || t == event_type)
        })
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let number = match customer_id {
        Some(id) => customer_number(conn, id)?,
        None => None,
    };
    if let Some(n) = &number {
        data.insert("customer_number".into(), n.clone().into());
    }
    let order_id = data
        .get("order_id")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let now = super::now();
    let payload = serde_json::json!({
        "type": event_type,
        "timestamp": now.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "data": data,
    })
    .to_string();
    for s in wanted {
        insert(
            conn,
            &OutboxRow {
                id: super::new_id(),
                channel: WEBHOOK.into(),
                event_type: event_type.into(),
                message_id: data
                    .get("message_id")
                    .and_then(|v| v.as_str())
                    .map(str::to_string),
                subscription_id: Some(s.id),
                customer_number: number.clone(),
                order_id: order_id.clone(),
                target: s.url,
                subject: String::new(),
                body: payload.clone(),
                state: PENDING.into(),
                attempts: 0,
                next_attempt_at: now,
                lease_until: None,
                last_error: None,
                created_at: now,
                sent_at: None,
                updated_at: now,
            },
        )?;
    }
    Ok(())
}

/// An event's data from `key: value` pairs.
#[macro_export]
macro_rules! event_data {
    ($($k:literal : $v:expr),* $(,)?) => {{
        let mut m = serde_json::Map::new();
        $(m.insert($k.to_string(), serde_json::json!($v));)*
        m
    }};
}
