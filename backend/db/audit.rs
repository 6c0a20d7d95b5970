//! The append-only audit log: every change and every read of personal data.

use super::schema::audit_log;
use super::DbConn;
use crate::domain::{Actor, RequestContext};
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_log)]
// A missing value is NULL, not DEFAULT: SQLite then takes many rows in one INSERT.
#[diesel(treat_none_as_default_value = false)]
pub struct AuditRow {
    pub id: String,
    pub at: NaiveDateTime,
    pub user_id: Option<String>,
    pub username: String,
    pub action: String,
    pub outcome: String,
    pub entity: String,
    pub entity_id: Option<String>,
    pub customer_id: Option<String>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    pub reason: Option<String>,
}

/// One audit entry. Never holds personal data itself: ids, not values.
pub struct Entry<'a> {
    pub action: &'a str,
    pub outcome: Outcome,
    pub entity: &'a str,
    pub entity_id: Option<&'a str>,
    pub customer_id: Option<&'a str>,
    pub reason: Option<&'a str>,
}

#[derive(Debug, Clone, Copy)]
pub enum Outcome {
    Ok,
    Denied,
    Failed,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
        }
    }
}

impl<'a> Entry<'a> {
    pub fn new(action: &'a str, entity: &'a str, entity_id: Option<&'a str>) -> Self {
        Self {
            action,
            outcome: Outcome::Ok,
            entity,
            entity_id,
            customer_id: None,
            reason: None,
        }
    }

    pub fn customer(mut self, customer_id: &'a str) -> Self {
        self.customer_id = Some(customer_id);
        self
    }

    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }

    pub fn reason(mut self, reason: Option<&'a str>) -> Self {
        self.reason = reason;
        self
    }
}

/// Records what a signed-in user did.
pub fn record(conn: &mut DbConn, user: &Actor, entry: Entry<'_>) -> QueryResult<()> {
    record_as(conn, Some(&user.id), &user.username, &user.ctx, entry)
}

/// Records many entries of one user in a few multi-row inserts: a report that
/// shows a thousand customers logs a thousand reads without a thousand round trips.
pub fn record_many<'a>(
    conn: &mut DbConn,
    user: &Actor,
    entries: impl IntoIterator<Item = Entry<'a>>,
) -> QueryResult<()> {
    insert_rows(conn, &rows_of(user, entries))
}

/// The rows of many entries of one user at one instant, to insert now
/// ([`record_many`]) or through the [`ReadLog`].
pub fn rows_of<'a>(user: &Actor, entries: impl IntoIterator<Item = Entry<'a>>) -> Vec<AuditRow> {
    let at = super::now();
    entries
        .into_iter()
        .map(|entry| AuditRow {
            id: super::new_id(),
            at,
            user_id: Some(user.id.clone()),
            username: user.username.clone(),
            action: entry.action.to_string(),
            outcome: entry.outcome.as_str().to_string(),
            entity: entry.entity.to_string(),
            entity_id: entry.entity_id.map(str::to_string),
            customer_id: entry.customer_id.map(str::to_string),
            ip: user.ctx.ip.clone(),
            request_id: user.ctx.request_id.clone(),
            reason: entry.reason.map(str::to_string),
        })
        .collect()
}

/// Inserts rows 500 at a time: 12 columns × 500 stays well under both
/// databases' limits on bound parameters.
fn insert_rows(conn: &mut DbConn, rows: &[AuditRow]) -> QueryResult<()> {
    for chunk in rows.chunks(500) {
        match conn {
            DbConn::Postgres(c) => diesel::insert_into(audit_log::table)
                .values(chunk)
                .execute(c)?,
            DbConn::Sqlite(c) => diesel::insert_into(audit_log::table)
                .values(chunk)
                .execute(c)?,
        };
    }
    Ok(())
}

/// The audit entries of reads, written for many requests in one transaction
/// (group commit). A read is answered only after [`ReadLog::write`] returns:
/// its entries are committed then, with those of every request that waited
/// meanwhile. One writer thread per server process; with SQLite's single
/// writer, a transaction per request made every list wait its turn behind
/// every other.
pub struct ReadLog {
    queue: std::sync::mpsc::Sender<Pending>,
}

struct Pending {
    rows: Vec<AuditRow>,
    written: tokio::sync::oneshot::Sender<Result<(), WriteFailed>>,
}

/// Why a group of entries was not written; every request of the group gets it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteFailed {
    #[error("no database connection for the audit log: {0}")]
    Unavailable(String),
    #[error("writing the audit log: {0}")]
    Failed(String),
}

/// Entries of this many rows at most go in one transaction.
const GROUP_ROWS: usize = 5_000;

impl ReadLog {
    /// Starts the writer thread; it ends when the last sender is dropped.
    pub fn start(connector: super::Connector) -> Self {
        let (queue, pending) = std::sync::mpsc::channel::<Pending>();
        std::thread::Builder::new()
            .name("audit-reads".into())
            .spawn(move || {
                while let Ok(first) = pending.recv() {
                    let mut group = vec![first];
                    let mut rows = group[0].rows.len();
                    while rows < GROUP_ROWS {
                        match pending.try_recv() {
                            Ok(next) => {
                                rows += next.rows.len();
                                group.push(next);
                            }
                            Err(_) => break,
                        }
                    }
                    let result = write_group(&connector, &group);
                    for p in group {
                        // A request that gave up waiting has nobody to tell.
                        let _ = p.written.send(result.clone());
                    }
                }
            })
            .expect("spawning the audit writer");
        Self { queue }
    }

    /// Commits `rows` (with whatever else is waiting) and returns once they
    /// are durable.
    pub async fn write(&self, rows: Vec<AuditRow>) -> Result<(), WriteFailed> {
        if rows.is_empty() {
            return Ok(());
        }
        let (written, done) = tokio::sync::oneshot::channel();
        let stopped = || WriteFailed::Failed("the audit writer has stopped".into());
        self.queue
            .send(Pending { rows, written })
            .map_err(|_| stopped())?;
        done.await.map_err(|_| stopped())?
    }
}

fn write_group(connector: &super::Connector, group: &[Pending]) -> Result<(), WriteFailed> {
    let mut conn = connector
        .connect()
        .map_err(|e| WriteFailed::Unavailable(e.to_string()))?;
    connector
        .write_transaction(&mut conn, |c| {
            for p in group {
                insert_rows(c, &p.rows)?;
            }
            Ok(Ok(()))
        })
        .map_err(|e: diesel::result::Error| WriteFailed::Failed(e.to_string()))
}

/// Records an event whose actor may be unknown (a failed login, the system).
pub fn record_as(
    conn: &mut DbConn,
    user_id: Option<&str>,
    username: &str,
    ctx: &RequestContext,
    entry: Entry<'_>,
) -> QueryResult<()> {
    let row = AuditRow {
        id: super::new_id(),
        at: super::now(),
        user_id: user_id.map(str::to_string),
        username: username.to_string(),
        action: entry.action.to_string(),
        outcome: entry.outcome.as_str().to_string(),
        entity: entry.entity.to_string(),
        entity_id: entry.entity_id.map(str::to_string),
        customer_id: entry.customer_id.map(str::to_string),
        ip: ctx.ip.clone(),
        request_id: ctx.request_id.clone(),
        reason: entry.reason.map(str::to_string),
    };
    diesel::insert_into(audit_log::table)
        .values(&row)
        .execute(conn)
        .map(|_| ())
}

#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub customer_id: Option<String>,
    pub user_id: Option<String>,
    pub action: Option<String>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    /// Keyset cursor: entries strictly older than (at, id).
    pub before: Option<(NaiveDateTime, String)>,
    pub limit: i64,
}

/// Newest first.
pub fn query(conn: &mut DbConn, f: &Filter) -> QueryResult<Vec<AuditRow>> {
    let mut q = audit_log::table.select(AuditRow::as_select()).into_boxed();
    if let Some(c) = &f.customer_id {
        q = q.filter(audit_log::customer_id.eq(c.clone()));
    }
    if let Some(u) = &f.user_id {
        q = q.filter(audit_log::user_id.eq(u.clone()));
    }
    if let Some(a) = &f.action {
        q = q.filter(audit_log::action.eq(a.clone()));
    }
    if let Some(from) = f.from {
        q = q.filter(audit_log::at.ge(from));
    }
    if let Some(to) = f.to {
        q = q.filter(audit_log::at.lt(to));
    }
    if let Some((at, id)) = &f.before {
        q = q.filter(
            audit_log::at
                .lt(*at)
                .or(audit_log::at.eq(*at).and(audit_log::id.lt(id.clone()))),
        );
    }
    q.order((audit_log::at.desc(), audit_log::id.desc()))
        .limit(f.limit)
        .load(conn)
}
