//! The outbox: every message also goes by mail to the addressed groups'
//! mailboxes and the users who asked for its topic, and every event to the
//! webhook subscriptions that want it. Rows are written in the transaction of
//! the change; a dispatcher claims due rows under a lease, sends, and marks
//! them sent, retried with exponential backoff, failed or bounced. A dead
//! mail server or receiver costs the API nothing.

use crate::config::{Settings, SmtpTls};
use crate::db::messages::MessageRow;
use crate::db::outbox::{self as rows, OutboxRow, Outcome};
use crate::db::{self, audit, Db, DbConn};
use crate::domain::Actor;
use crate::error::{AppError, ErrorCode};
use base64::Engine;
use chrono::{Duration, NaiveDateTime};
use hmac::{Hmac, Mac};
use std::collections::BTreeSet;

pub use crate::db::outbox::{Filter, OutboxRow as Row, SubscriptionRow};

impl SubscriptionRow {
    pub fn new(url: String, secret: String, event_types: String, allow_http: bool) -> Self {
        Self {
            id: db::new_id(),
            url,
            secret,
            event_types,
            allow_http,
            created_at: db::now(),
        }
    }
}

/// Queues the mails of one message, in the caller's transaction: to the
/// addressed group's mailbox, and to each reached user who gave an address
/// and chose the message's topic. Each address gets it once.
pub fn queue_mails(conn: &mut DbConn, m: &MessageRow) -> diesel::QueryResult<usize> {
    let mut addresses = BTreeSet::new();
    if let Some(g) = &m.recipient_group_id {
        if let Some(a) = rows::group_mailbox(conn, g)? {
            addresses.insert(a);
        }
    }
    for (address, topics) in rows::mail_users_reached(
        conn,
        m.recipient_user_id.as_deref(),
        m.recipient_group_id.as_deref(),
        m.recipient_role.as_deref(),
    )? {
        if topics.split(',').any(|t| t == m.topic) {
            addresses.insert(address);
        }
    }
    if addresses.is_empty() {
        return Ok(0);
    }
    let number = match &m.customer_id {
        Some(id) => rows::customer_number(conn, id)?,
        None => None,
    };
    let (subject, body) = if m.topic == super::messages::CONVERSATION {
        conversation_mail(conn, m, number.as_deref())?
    } else {
        (m.subject.clone(), without_free_text(&m.body))
    };
    let now = db::now();
    for address in &addresses {
        rows::insert(
            conn,
            &OutboxRow {
                id: db::new_id(),
                channel: rows::EMAIL.into(),
                event_type: m.topic.clone(),
                message_id: Some(m.id.clone()),
                subscription_id: None,
                customer_number: number.clone(),
                order_id: m.order_id.clone(),
                target: address.clone(),
                subject: subject.clone(),
                body: body.clone(),
                state: rows::PENDING.into(),
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
    Ok(addresses.len())
}

/// A person's message leaves the system only as the news that it came: who
/// wrote, about which customer number; its subject and text are free text
/// that could name anyone, so they stay in Larmkoll.
fn conversation_mail(
    conn: &mut DbConn,
    m: &MessageRow,
    number: Option<&str>,
) -> diesel::QueryResult<(String, String)> {
    let writer = match &m.sender_id {
        Some(id) => db::users::find(conn, id)?.map(|u| u.display_name),
        None => None,
    }
    .unwrap_or_else(|| "En kollega".into());
    let about = number.map(|n| format!(" om kund {n}")).unwrap_or_default();
    let answer = if m.thread_id == m.post_id {
        ""
    } else {
        "Svar: "
    };
    Ok((
        format!("{answer}Meddelande från {writer}{about}"),
        format!(
            "{writer} har skrivit{about} till {}. Läs och svara i Larmkoll (texten skickas inte med e-post).",
            if m.recipient_user_id.is_some() { "dig" } else { "din grupp eller roll" }
        ),
    ))
}

/// A message's text as it may leave the system: a reason a person typed
/// ("Orsak: …", the messages' only free text) could name someone, so the mail
/// points to the message in Larmkoll instead.
pub fn without_free_text(body: &str) -> String {
    match body.find("Orsak:") {
        Some(at) => format!(
            "{}Orsak: står i meddelandet i Larmkoll (fritext skickas inte med e-post).",
            &body[..at]
        ),
        None => body.to_string(),
    }
}

/// The mail's text: what happened (the message, Swedish, customer number
/// only), the customer number again and a link into the desk.
pub fn mail_text(row: &OutboxRow, public_url: &str) -> String {
    let mut text = format!("{}\n\n{}\n\n", row.subject, row.body);
    if let Some(n) = &row.customer_number {
        text += &format!("Kundnummer: {n}\n");
    }
    text += &format!(
        "Öppna Larmkoll: {}/desk/#messages\n",
        public_url.trim_end_matches('/')
    );
    text += "\nDetta meddelande skickades automatiskt av Larmkoll. Svara inte på det; \
             logga in för att se ärendet.\n";
    text
}

/// The Standard Webhooks signature of one delivery: `v1,` + base64 of
/// HMAC-SHA256 over `id.timestamp.body`, keyed with the secret's bytes.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Result<String, String> {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .map_err(|_| "the secret is not whsec_ + base64".to_string())?;
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).map_err(|e| e.to_string())?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Ok(format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// A new secret: `whsec_` + base64 of 24 random bytes.
pub fn new_secret() -> String {
    use rand::RngCore;
    let mut key = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut key);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

/// Wait before the next attempt: the base, doubled per attempt made, at most an hour.
fn backoff(base_millis: i64, attempts: i32) -> Duration {
    let doublings = (attempts.max(1) - 1).min(20) as u32;
    Duration::milliseconds(base_millis.saturating_mul(1i64 << doublings).min(3_600_000))
}

enum Sent {
    Ok,
    /// Try again later.
    Transient(String),
    /// Never again (SMTP 5xx, an address that cannot be a mailbox).
    Permanent(String),
}

struct Mailer {
    transport: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    from: lettre::message::Mailbox,
    domain: String,
    public_url: String,
}

impl Mailer {
    fn new(settings: &Settings) -> anyhow::Result<Option<Self>> {
        use lettre::transport::smtp::authentication::Credentials;
        use lettre::{AsyncSmtpTransport, Tokio1Executor};
        let Some(host) = settings.smtp_host.clone() else {
            return Ok(None);
        };
        let loopback = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if settings.smtp_tls == SmtpTls::None && !loopback {
            anyhow::bail!(
                "LARMKOLL_SMTP_TLS=none sends mail unencrypted: allowed only for a mail server on loopback, not {host}"
            );
        }
        let builder = match settings.smtp_tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host),
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host)?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&host)?,
        };
        let mut builder = builder
            .port(u16::try_from(settings.smtp_port)?)
            .timeout(Some(std::time::Duration::from_secs(20)));
        if let (Ok(user), Ok(password)) = (
            std::env::var("LARMKOLL_SMTP_USERNAME"),
            std::env::var("LARMKOLL_SMTP_PASSWORD"),
        ) {
            builder = builder.credentials(Credentials::new(user, password));
        }
        let from_text = settings
            .mail_from
            .clone()
            .unwrap_or_else(|| format!("larmkoll@{host}"));
        let from: lettre::message::Mailbox = from_text
            .parse()
            .map_err(|e| anyhow::anyhow!("LARMKOLL_MAIL_FROM {from_text:?}: {e}"))?;
        let domain = from.email.domain().to_string();
        Ok(Some(Self {
            transport: builder.build(),
            from,
            domain,
            public_url: settings.public_url(),
        }))
    }

    async fn send(&self, row: &OutboxRow) -> Sent {
        use lettre::message::header::ContentType;
        use lettre::AsyncTransport;
        let to: lettre::message::Mailbox = match row.target.parse() {
            Ok(to) => to,
            Err(e) => return Sent::Permanent(format!("address: {e}")),
        };
        let mail = lettre::Message::builder()
            // Stable per outbox row: a resend after a crash is recognisably the same mail.
            .message_id(Some(format!("<{}@{}>", row.id, self.domain)))
            .from(self.from.clone())
            .to(to)
            .subject(row.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(mail_text(row, &self.public_url));
        let mail = match mail {
            Ok(m) => m,
            Err(e) => return Sent::Permanent(format!("mail: {e}")),
        };
        match self.transport.send(mail).await {
            Ok(_) => Sent::Ok,
            Err(e) if e.is_permanent() => Sent::Permanent(format!("smtp: {e}")),
            Err(e) => Sent::Transient(format!("smtp: {e}")),
        }
    }
}

/// Where people open Larmkoll, for links.
async fn deliver_webhook(client: &reqwest::Client, secret: Option<&str>, row: &OutboxRow) -> Sent {
    let Some(secret) = secret else {
        return Sent::Permanent("the subscription was deleted".into());
    };
    let timestamp = chrono::Utc::now().timestamp();
    let signature = match sign(secret, &row.id, timestamp, &row.body) {
        Ok(s) => s,
        Err(e) => return Sent::Permanent(e),
    };
    let sent = client
        .post(&row.target)
        .header("content-type", "application/json")
        .header("webhook-id", &row.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(row.body.clone())
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => Sent::Ok,
        Ok(r) => Sent::Transient(format!("receiver answered {}", r.status().as_u16())),
        Err(e) if e.is_timeout() => Sent::Transient("receiver timed out".into()),
        Err(e) if e.is_connect() => Sent::Transient("receiver unreachable".into()),
        Err(_) => Sent::Transient("request failed".into()),
    }
}

/// Stops the dispatcher when dropped.
pub struct Dispatcher(tokio::task::JoinHandle<()>);

impl Drop for Dispatcher {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts the dispatcher on the current runtime. Mails wait (pending) while
/// no SMTP host is configured; webhooks always go.
pub fn spawn_dispatcher(db: Db, settings: Settings) -> anyhow::Result<Dispatcher> {
    let mailer = Mailer::new(&settings)?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(
            settings.webhook_timeout_seconds,
        ))
        .build()?;
    let handle = tokio::spawn(async move {
        let poll = std::time::Duration::from_millis(settings.outbox_poll_millis.max(10));
        loop {
            let busy = match dispatch_once(&db, &settings, mailer.as_ref(), &client).await {
                Ok(n) => n > 0,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox: dispatch round failed");
                    false
                }
            };
            if !busy {
                tokio::time::sleep(poll).await;
            }
        }
    });
    Ok(Dispatcher(handle))
}

const BATCH: i64 = 16;

/// Records one attempt's outcome: sent, retried later, or given up.
fn mark(
    conn: &mut DbConn,
    row: &OutboxRow,
    sent: &Sent,
    base: i64,
    mail_attempts: i32,
    window: i64,
) -> Result<(), AppError> {
    let now = db::now();
    let next = now + backoff(base, row.attempts);
    let outcome = match sent {
        Sent::Ok => Outcome::Sent,
        Sent::Permanent(e) => Outcome::GiveUp {
            state: if row.channel == rows::EMAIL {
                rows::BOUNCED
            } else {
                rows::FAILED
            },
            error: e,
        },
        Sent::Transient(e) => {
            let out_of_budget = if row.channel == rows::EMAIL {
                row.attempts >= mail_attempts
            } else {
                next > row.created_at + Duration::seconds(window)
            };
            if out_of_budget {
                Outcome::GiveUp {
                    state: rows::FAILED,
                    error: e,
                }
            } else {
                Outcome::Retry { error: e, at: next }
            }
        }
    };
    // Ids and states only: the target is an address, not for the log.
    match sent {
        Sent::Ok => tracing::debug!(outbox_id = %row.id, channel = %row.channel, "outbox: sent"),
        Sent::Transient(e) | Sent::Permanent(e) => tracing::info!(
            outbox_id = %row.id, channel = %row.channel, attempts = row.attempts, error = %e,
            "outbox: delivery failed"
        ),
    }
    if !rows::finish(conn, &row.id, row.attempts, outcome, now)? {
        tracing::warn!(outbox_id = %row.id, "outbox: the claim ran out before the mark; it may be sent again");
    }
    Ok(())
}

/// One round: claims a batch, sends it (concurrently), marks each. Returns
/// how many rows it claimed.
async fn dispatch_once(
    db: &Db,
    settings: &Settings,
    mailer: Option<&Mailer>,
    client: &reqwest::Client,
) -> Result<usize, AppError> {
    let channels: Vec<&'static str> = match mailer {
        Some(_) => vec![rows::EMAIL, rows::WEBHOOK],
        None => vec![rows::WEBHOOK],
    };
    let lease = settings.outbox_lease_seconds;
    let connector = db.connector();
    let (claimed, subscriptions) = db
        .run(move |conn| {
            let now = db::now();
            let claimed = connector.write_transaction(conn, |c| {
                rows::claim(c, &channels, now, now + Duration::seconds(lease), BATCH).map(Ok)
            })?;
            let subscriptions = if claimed.iter().any(|r| r.channel == rows::WEBHOOK) {
                rows::subscriptions(conn)?
            } else {
                Vec::new()
            };
            Ok((claimed, subscriptions))
        })
        .await?;
    let n = claimed.len();
    let (base, mail_attempts, window) = (
        settings.outbox_retry_base_millis,
        settings.mail_attempts,
        settings.webhook_retry_seconds,
    );
    let sends = claimed.into_iter().map(|row| {
        let subscriptions: &[SubscriptionRow] = &subscriptions;
        async move {
            let sent = if row.channel == rows::EMAIL {
                match mailer {
                    Some(m) => m.send(&row).await,
                    None => Sent::Transient("no mail server configured".into()),
                }
            } else {
                let secret = subscriptions
                    .iter()
                    .find(|s| Some(&s.id) == row.subscription_id.as_ref())
                    .map(|s| s.secret.as_str());
                deliver_webhook(client, secret, &row).await
            };
            // Marked as soon as it is sent, not after the batch: a kill
            // mid-batch resends only what was in flight.
            db.run(move |conn| mark(conn, &row, &sent, base, mail_attempts, window))
                .await
        }
    });
    for marked in futures_util::future::join_all(sends).await {
        marked?;
    }
    Ok(n)
}

// --- the admin's side ---

pub async fn list(db: &Db, filter: Filter) -> Result<Vec<Row>, AppError> {
    db.run(move |conn| Ok(rows::list(conn, &filter)?)).await
}

/// Puts a delivery back in the queue for a fresh round of attempts.
pub async fn replay(db: &Db, user: Actor, id: String) -> Result<Row, AppError> {
    db.transaction(move |conn| {
        if rows::find(conn, &id)?.is_none() {
            return Err(not_found());
        }
        if !rows::replay(conn, &id, db::now())? {
            return Err(AppError::new(
                actix_web::http::StatusCode::CONFLICT,
                ErrorCode::OutboxBusy,
                "the delivery is being sent right now",
                "leveransen skickas just nu",
            ));
        }
        audit::record(
            conn,
            &user,
            audit::Entry::new("outbox.replay", "outbox", Some(&id)),
        )?;
        rows::find(conn, &id)?.ok_or_else(not_found)
    })
    .await
}

fn not_found() -> AppError {
    AppError::new(
        actix_web::http::StatusCode::NOT_FOUND,
        ErrorCode::OutboxNotFound,
        "no such delivery in the outbox",
        "ingen sådan leverans i utkorgen",
    )
}

pub async fn set_group_mailbox(
    db: &Db,
    user: Actor,
    group_id: String,
    address: Option<String>,
) -> Result<(), AppError> {
    db.transaction(move |conn| {
        if db::org::find_groups(conn, std::slice::from_ref(&group_id))?.is_empty() {
            return Err(AppError::new(
                actix_web::http::StatusCode::NOT_FOUND,
                ErrorCode::GroupNotFound,
                "no such group",
                "gruppen finns inte",
            ));
        }
        rows::set_group_mailbox(conn, &group_id, address.as_deref())?;
        audit::record(
            conn,
            &user,
            audit::Entry::new("group.mailbox", "group", Some(&group_id)),
        )?;
        Ok(())
    })
    .await
}

pub async fn set_user_mail(
    db: &Db,
    user: Actor,
    user_id: String,
    mail: Option<(String, Vec<&'static str>)>,
) -> Result<(), AppError> {
    db.transaction(move |conn| {
        if db::users::find(conn, &user_id)?.is_none() {
            return Err(AppError::new(
                actix_web::http::StatusCode::NOT_FOUND,
                ErrorCode::UserNotFound,
                "no such user",
                "användaren finns inte",
            ));
        }
        let topics = mail.as_ref().map(|(_, t)| t.join(","));
        rows::set_user_mail(
            conn,
            &user_id,
            mail.as_ref()
                .map(|(a, _)| a.as_str())
                .zip(topics.as_deref()),
        )?;
        audit::record(
            conn,
            &user,
            audit::Entry::new("user.mail", "user", Some(&user_id)),
        )?;
        Ok(())
    })
    .await
}

pub async fn subscriptions(db: &Db) -> Result<Vec<SubscriptionRow>, AppError> {
    db.run(|conn| Ok(rows::subscriptions(conn)?)).await
}

pub async fn subscribe(
    db: &Db,
    user: Actor,
    row: SubscriptionRow,
) -> Result<SubscriptionRow, AppError> {
    db.transaction(move |conn| {
        rows::insert_subscription(conn, &row)?;
        audit::record(
            conn,
            &user,
            audit::Entry::new("webhook.create", "webhook", Some(&row.id)),
        )?;
        Ok(row)
    })
    .await
}

pub async fn unsubscribe(db: &Db, user: Actor, id: String) -> Result<(), AppError> {
    db.transaction(move |conn| match rows::delete_subscription(conn, &id)? {
        true => Ok(audit::record(
            conn,
            &user,
            audit::Entry::new("webhook.delete", "webhook", Some(&id)),
        )?),
        false => Err(AppError::new(
            actix_web::http::StatusCode::NOT_FOUND,
            ErrorCode::WebhookNotFound,
            "no such webhook subscription",
            "prenumerationen finns inte",
        )),
    })
    .await
}

/// When a time was, for the admin's view.
pub fn utc(t: NaiveDateTime) -> chrono::DateTime<chrono::Utc> {
    t.and_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_reason_never_leaves_by_mail() {
        let body = "Kund K-1001 vill inte ha insatsen Trygghetslarm. Orsak: Anna Lind på Storgatan 3 tackar nej";
        let mailed = without_free_text(body);
        assert!(mailed.starts_with(
            "Kund K-1001 vill inte ha insatsen Trygghetslarm. Orsak: står i meddelandet"
        ));
        assert!(!mailed.contains("Anna") && !mailed.contains("Storgatan"));
        assert_eq!(without_free_text("Inget saknas."), "Inget saknas.");
    }

    /// The Standard Webhooks specification's own example.
    #[test]
    fn signs_like_the_specification_example() {
        let sig = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn plain_smtp_only_to_loopback() {
        let mut s = Settings {
            smtp_host: Some("mail.kommun.se".into()),
            smtp_tls: SmtpTls::None,
            ..Settings::default()
        };
        let refused = Mailer::new(&s).err().expect("refused").to_string();
        assert!(refused.contains("loopback"), "{refused}");
        s.smtp_host = Some("127.0.0.1".into());
        assert!(Mailer::new(&s).unwrap().is_some());
        s.smtp_host = Some("mail.kommun.se".into());
        s.smtp_tls = SmtpTls::Starttls;
        assert!(Mailer::new(&s).unwrap().is_some());
        s.smtp_host = None;
        assert!(Mailer::new(&s).unwrap().is_none());
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff(1000, 1), Duration::seconds(1));
        assert_eq!(backoff(1000, 3), Duration::seconds(4));
        assert_eq!(backoff(30_000, 30), Duration::hours(1));
    }
}
