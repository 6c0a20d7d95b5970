//! Mail and webhooks (admin): group mailboxes, users' mail topics, webhook
//! subscriptions, and the outbox's state per delivery with a replay.

use super::json::Json;
use super::query::Query;
use crate::app;
use crate::app::validation::Problems;
use crate::auth::{Action, Actor};
use crate::domain::messages::Topic;
use crate::error::{AppError, Problem};
use crate::state::AppState;
use actix_web::{delete, get, post, put};
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(set_group_mailbox)
        .service(set_user_mail)
        .service(list_outbox)
        .service(replay)
        .service(list_webhooks)
        .service(create_webhook)
        .service(delete_webhook);
}

fn require_admin(user: &Actor) -> Result<(), AppError> {
    user.require(
        Action::ManageOrganisation,
        "manage mail and webhooks",
        "administrera e-post och webhooks",
    )
}

/// What the schemas' patterns say, checked the same way: the document and
/// the server agree on what is valid. A pattern's `$` also matches before one
/// final newline, so one is tolerated (and dropped).
fn one_line(v: &str) -> &str {
    v.strip_suffix('\n').unwrap_or(v)
}

/// A mail address: `local@label.label…`, ASCII letters, digits and a few marks.
fn address(p: &mut Problems, field: &str, value: &str) -> String {
    let v = one_line(value);
    let local_ok = |l: &str| {
        !l.is_empty()
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._%+-".contains(c))
    };
    let label_ok =
        |l: &str| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    let ok = v.len() <= 254
        && v.split_once('@').is_some_and(|(l, d)| {
            local_ok(l) && d.split('.').count() >= 2 && d.split('.').all(label_ok)
        });
    if !ok {
        p.add(
            field,
            "invalid_address",
            "must be a mail address such as larmgrupp@kommun.se",
            "ska vara en e-postadress, t.ex. larmgrupp@kommun.se",
        );
    }
    v.to_string()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"address": "larmpatrullen@nacka.se"}))]
pub struct Mailbox {
    /// The group's mailbox; `null` removes it.
    #[schema(
        max_length = 254,
        pattern = r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$"
    )]
    pub address: Option<String>,
}

/// Sets or removes a group's mailbox (admin): every message to the group
/// also goes there by mail.
#[utoipa::path(tag = "mail", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Group id")),
    request_body = Mailbox,
    responses(
        (status = 204, description = "Set"),
        (status = 404, description = "No such group", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a mail address", body = Problem, content_type = "application/problem+json"),
    ))]
#[put("/groups/{id}/mailbox")]
pub async fn set_group_mailbox(
    state: web::Data<AppState>,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<Mailbox>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let mut p = Problems::default();
    let a = body
        .address
        .as_deref()
        .map(|a| address(&mut p, "address", a));
    p.finish()?;
    app::outbox::set_group_mailbox(&state.db, user, id.to_string(), a).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A message topic, as in the `[messages]` table.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MailTopic {
    Ordered,
    Installed,
    Declined,
    ReturnedToAssessor,
    EquipmentCollected,
    Cancelled,
    Terminated,
    LockMounted,
    LockRemoved,
    /// Messages people write to you, your group or your role (only the news
    /// that one came; the text stays in Larmkoll).
    Conversation,
}

impl MailTopic {
    /// The code stored with the user's choice: a notice's topic, or
    /// `conversation` for messages people write.
    fn as_str(self) -> &'static str {
        match self {
            MailTopic::Ordered => Topic::Ordered.as_str(),
            MailTopic::Installed => Topic::Installed.as_str(),
            MailTopic::Declined => Topic::Declined.as_str(),
            MailTopic::ReturnedToAssessor => Topic::ReturnedToAssessor.as_str(),
            MailTopic::EquipmentCollected => Topic::EquipmentCollected.as_str(),
            MailTopic::Cancelled => Topic::Cancelled.as_str(),
            MailTopic::Terminated => Topic::Terminated.as_str(),
            MailTopic::LockMounted => Topic::LockMounted.as_str(),
            MailTopic::LockRemoved => Topic::LockRemoved.as_str(),
            MailTopic::Conversation => app::messages::CONVERSATION,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"address": "anna.handlaggare@nacka.se", "topics": ["declined", "equipment_collected"]}))]
pub struct UserMail {
    /// The user's own address; `null` stops all mail to them.
    #[schema(
        max_length = 254,
        pattern = r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$"
    )]
    pub address: Option<String>,
    /// The message topics they want by mail.
    #[serde(default)]
    pub topics: Vec<MailTopic>,
}

/// Sets a user's mail address and the topics they want by mail (admin).
#[utoipa::path(tag = "mail", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    request_body = UserMail,
    responses(
        (status = 204, description = "Set"),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a mail address, or an unknown topic", body = Problem, content_type = "application/problem+json"),
    ))]
#[put("/users/{id}/mail")]
pub async fn set_user_mail(
    state: web::Data<AppState>,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<UserMail>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let mut p = Problems::default();
    let a = body
        .address
        .as_deref()
        .map(|a| address(&mut p, "address", a));
    let topics: Vec<&'static str> = body.topics.iter().map(|&t| t.as_str()).collect();
    p.finish()?;
    app::outbox::set_user_mail(&state.db, user, id.to_string(), a.map(|a| (a, topics))).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, ToSchema)]
pub struct Delivery {
    /// Also the mail's Message-ID (`<id@sender domain>`) or the `webhook-id`.
    pub id: Uuid,
    /// `email` or `webhook`.
    pub channel: String,
    /// The message topic (mail) or the event type (webhook).
    pub event_type: String,
    /// The message it carries, if any.
    pub message_id: Option<String>,
    pub subscription_id: Option<String>,
    pub customer_number: Option<String>,
    pub order_id: Option<String>,
    /// The mail address or URL.
    pub target: String,
    /// `pending`, `sending`, `sent`, `failed` or `bounced`.
    pub state: String,
    /// The same in Swedish.
    pub state_sv: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

fn state_sv(state: &str) -> &'static str {
    match state {
        "pending" => "väntar",
        "sending" => "skickas",
        "sent" => "skickat",
        "failed" => "misslyckat",
        "bounced" => "studsat",
        _ => "okänt",
    }
}

fn delivery(r: app::outbox::Row) -> Delivery {
    Delivery {
        id: Uuid::parse_str(&r.id).unwrap_or_default(),
        state_sv: state_sv(&r.state).into(),
        channel: r.channel,
        event_type: r.event_type,
        message_id: r.message_id,
        subscription_id: r.subscription_id,
        customer_number: r.customer_number,
        order_id: r.order_id,
        target: r.target,
        state: r.state,
        attempts: r.attempts,
        next_attempt_at: app::outbox::utc(r.next_attempt_at),
        last_error: r.last_error,
        created_at: app::outbox::utc(r.created_at),
        sent_at: r.sent_at.map(app::outbox::utc),
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    /// `email` or `webhook`.
    pub channel: Option<String>,
    /// `pending`, `sending`, `sent`, `failed` or `bounced`.
    pub state: Option<String>,
    /// The deliveries of one message.
    pub message_id: Option<Uuid>,
    /// 1–1000, default 200.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// The outbox (admin): every mail and webhook delivery with its state,
/// newest first.
#[utoipa::path(tag = "mail", security(("bearer" = [])),
    params(OutboxQuery),
    responses(
        (status = 200, description = "Deliveries", body = Vec<Delivery>),
        (status = 422, description = "A limit outside 1–1000", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/outbox")]
pub async fn list_outbox(
    state: web::Data<AppState>,
    user: Actor,
    q: Query<OutboxQuery>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let q = q.into_inner();
    if q.limit.is_some_and(|l| !(1..=1000).contains(&l)) {
        let mut p = Problems::default();
        p.add(
            "limit",
            "out_of_range",
            "must be from 1 to 1000",
            "ska vara från 1 till 1000",
        );
        p.finish()?;
    }
    let rows = app::outbox::list(
        &state.db,
        app::outbox::Filter {
            channel: q.channel,
            state: q.state,
            message_id: q.message_id.map(|m| m.to_string()),
            limit: q.limit.unwrap_or(200),
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(delivery).collect::<Vec<_>>()))
}

/// Sends a delivery again (admin): back to `pending` with a fresh round of
/// attempts, under the same id (a receiver recognises it as the same).
#[utoipa::path(tag = "mail", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Delivery id")),
    responses(
        (status = 200, description = "Queued again", body = Delivery),
        (status = 404, description = "No such delivery", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Being sent right now", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/outbox/{id}/replay")]
pub async fn replay(
    state: web::Data<AppState>,
    user: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let row = app::outbox::replay(&state.db, user, id.to_string()).await?;
    Ok(HttpResponse::Ok().json(delivery(row)))
}

#[derive(Serialize, ToSchema)]
pub struct Webhook {
    pub id: Uuid,
    pub url: String,
    /// `whsec_` + base64: the key of the deliveries' signatures.
    pub secret: String,
    pub event_types: Vec<String>,
    pub allow_http: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://verksamhetssystem.kommun.se/larmkoll", "event_types": ["order.transitioned", "billing.start", "billing.stop"]}))]
pub struct NewWebhook {
    /// `https://host[:port][/path]`; `http://` only with `allow_http`.
    #[schema(
        max_length = 2000,
        pattern = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%!$&'()*+,;=:@/-]*)?$"
    )]
    pub url: String,
    /// `whsec_` + base64 (no padding) of 24 to 66 bytes; left out, one is made.
    #[schema(pattern = r"^whsec_([A-Za-z0-9+/]{4}){8,22}$")]
    pub secret: Option<String>,
    /// Event types (see README "Mail and webhooks"), or `*` for all.
    #[schema(min_items = 1)]
    pub event_types: Vec<EventType>,
    /// Allows an `http://` URL (a receiver on loopback or inside the network).
    #[serde(default)]
    pub allow_http: bool,
}

/// What a subscription wants.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
pub enum EventType {
    #[serde(rename = "*")]
    All,
    #[serde(rename = "order.transitioned")]
    OrderTransitioned,
    #[serde(rename = "decision.granted")]
    DecisionGranted,
    #[serde(rename = "decision.extended")]
    DecisionExtended,
    #[serde(rename = "decision.ended")]
    DecisionEnded,
    #[serde(rename = "execution.started")]
    ExecutionStarted,
    #[serde(rename = "execution.ended")]
    ExecutionEnded,
    #[serde(rename = "billing.start")]
    BillingStart,
    #[serde(rename = "billing.stop")]
    BillingStop,
    #[serde(rename = "equipment.moved")]
    EquipmentMoved,
    #[serde(rename = "key.moved")]
    KeyMoved,
    #[serde(rename = "document.stored")]
    DocumentStored,
    #[serde(rename = "message.created")]
    MessageCreated,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::All => "*",
            other => EVENT_TYPES[other as usize - 1],
        }
    }
}

/// Every event type a subscription may name, in `EventType`'s order.
pub const EVENT_TYPES: &[&str] = &[
    "order.transitioned",
    "decision.granted",
    "decision.extended",
    "decision.ended",
    "execution.started",
    "execution.ended",
    "billing.start",
    "billing.stop",
    "equipment.moved",
    "key.moved",
    "document.stored",
    "message.created",
];

fn webhook(s: app::outbox::SubscriptionRow) -> Webhook {
    Webhook {
        id: Uuid::parse_str(&s.id).unwrap_or_default(),
        event_types: s.event_types.split(',').map(str::to_string).collect(),
        url: s.url,
        secret: s.secret,
        allow_http: s.allow_http,
        created_at: app::outbox::utc(s.created_at),
    }
}

/// The webhook subscriptions (admin).
#[utoipa::path(tag = "mail", security(("bearer" = [])),
    responses((status = 200, description = "Subscriptions", body = Vec<Webhook>)))]
#[get("/webhooks")]
pub async fn list_webhooks(
    state: web::Data<AppState>,
    user: Actor,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let rows = app::outbox::subscriptions(&state.db).await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(webhook).collect::<Vec<_>>()))
}

/// Subscribes a URL to event types (admin). Deliveries are signed as the
/// Standard Webhooks specification says and never follow redirects.
#[utoipa::path(tag = "mail", security(("bearer" = [])),
    request_body = NewWebhook,
    responses(
        (status = 201, description = "Subscribed", body = Webhook),
        (status = 422, description = "A wrong URL, secret or event type", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/webhooks")]
pub async fn create_webhook(
    state: web::Data<AppState>,
    user: Actor,
    body: Json<NewWebhook>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let mut p = Problems::default();
    let url = one_line(&body.url).to_string();
    if !url_ok(&url) || (url.starts_with("http://") && !body.allow_http) {
        p.add(
            "url",
            "invalid_url",
            "must be an https:// URL (http:// only with allow_http)",
            "ska vara en https://-adress (http:// bara med allow_http)",
        );
    }
    let secret = match &body.secret {
        Some(s) => {
            let s = one_line(s);
            let key = s.strip_prefix("whsec_").unwrap_or("");
            let ok = s.starts_with("whsec_")
                && key.len().is_multiple_of(4)
                && (32..=88).contains(&key.len())
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/');
            if !ok {
                p.add(
                    "secret",
                    "invalid_secret",
                    "must be whsec_ followed by base64 (no padding) of 24 to 66 bytes",
                    "ska vara whsec_ följt av base64 (utan utfyllnad) för 24 till 66 byte",
                );
            }
            s.to_string()
        }
        None => app::outbox::new_secret(),
    };
    if body.event_types.is_empty() {
        p.add(
            "event_types",
            "required",
            "name at least one event type, or *",
            "ange minst en händelsetyp, eller *",
        );
    }
    p.finish()?;
    let row = app::outbox::subscribe(
        &state.db,
        user,
        app::outbox::SubscriptionRow::new(
            url,
            secret,
            body.event_types
                .iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(","),
            body.allow_http,
        ),
    )
    .await?;
    Ok(HttpResponse::Created().json(webhook(row)))
}

/// Ends a subscription (admin); its pending deliveries fail.
#[utoipa::path(tag = "mail", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Subscription id")),
    responses(
        (status = 204, description = "Ended"),
        (status = 404, description = "No such subscription", body = Problem, content_type = "application/problem+json"),
    ))]
#[delete("/webhooks/{id}")]
pub async fn delete_webhook(
    state: web::Data<AppState>,
    user: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    app::outbox::unsubscribe(&state.db, user, id.to_string()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `https?://host[:port][/path]` as the schema's pattern says.
fn url_ok(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return false;
    };
    if url.len() > 2000 {
        return false;
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        && port.is_none_or(|p| (1..=5).contains(&p.len()) && p.chars().all(|c| c.is_ascii_digit()))
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._~%!$&'()*+,;=:@/-".contains(c))
}
