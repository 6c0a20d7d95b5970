//! Mail and webhooks (admin): group mailboxes, users' mail topics, webhook
//! subscriptions, and the outbox's state per delivery with a replay.

use super::json::Json;
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

/// A plausible mail address: one `@`, something on each side, no spaces.
fn address(p: &mut Problems, field: &str, value: &str) -> String {
    let v = value.trim();
    let ok = v.len() <= 254
        && !v.chars().any(|c| c.is_whitespace() || c == '<' || c == '>')
        && v.split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.contains('@'));
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"address": "anna.handlaggare@nacka.se", "topics": ["declined", "equipment_collected"]}))]
pub struct UserMail {
    /// The user's own address; `null` stops all mail to them.
    pub address: Option<String>,
    /// The message topics they want by mail (ordered, installed, declined,
    /// returned_to_assessor, equipment_collected, cancelled, terminated,
    /// lock_mounted, lock_removed).
    #[serde(default)]
    pub topics: Vec<String>,
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
    let mut topics = Vec::new();
    for (i, t) in body.topics.iter().enumerate() {
        match t.parse::<Topic>() {
            Ok(t) => topics.push(t),
            Err(_) => p.add(
                &format!("topics[{i}]"),
                "unknown",
                format!("unknown topic '{t}'"),
                format!("okänt ämne '{t}'"),
            ),
        }
    }
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
    responses((status = 200, description = "Deliveries", body = Vec<Delivery>)))]
#[get("/outbox")]
pub async fn list_outbox(
    state: web::Data<AppState>,
    user: Actor,
    q: web::Query<OutboxQuery>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let q = q.into_inner();
    let rows = app::outbox::list(
        &state.db,
        app::outbox::Filter {
            channel: q.channel,
            state: q.state,
            message_id: q.message_id.map(|m| m.to_string()),
            limit: q.limit.unwrap_or(200).clamp(1, 1000),
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
    /// `https://…`; `http://` only with `allow_http`.
    pub url: String,
    /// `whsec_` + base64 of at least 24 bytes; left out, one is made.
    pub secret: Option<String>,
    /// Event types (see the document's `webhooks`), or `*` for all.
    pub event_types: Vec<String>,
    /// Allows an `http://` URL (a receiver on loopback or inside the network).
    #[serde(default)]
    pub allow_http: bool,
}

/// Every event type a subscription may name.
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
    let body = body.into_inner();
    let mut p = Problems::default();
    let url = body.url.trim().to_string();
    let scheme_ok = url.starts_with("https://") || (body.allow_http && url.starts_with("http://"));
    let host_ok = url
        .split_once("://")
        .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(""))
        .is_some_and(|h| !h.is_empty() && !h.contains('@') && !h.contains(char::is_whitespace));
    if !scheme_ok || !host_ok || url.len() > 2000 {
        p.add(
            "url",
            "invalid_url",
            "must be an https:// URL (http:// only with allow_http)",
            "ska vara en https://-adress (http:// bara med allow_http)",
        );
    }
    let secret = match body.secret {
        Some(s) => {
            let key = s.strip_prefix("whsec_").and_then(|k| {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.decode(k).ok()
            });
            if !key.is_some_and(|k| (24..=64).contains(&k.len())) {
                p.add(
                    "secret",
                    "invalid_secret",
                    "must be whsec_ followed by base64 of 24 to 64 bytes",
                    "ska vara whsec_ följt av base64 för 24 till 64 byte",
                );
            }
            s
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
    for (i, t) in body.event_types.iter().enumerate() {
        if t != "*" && !EVENT_TYPES.contains(&t.as_str()) {
            p.add(
                &format!("event_types[{i}]"),
                "unknown",
                format!("unknown event type '{t}'"),
                format!("okänd händelsetyp '{t}'"),
            );
        }
    }
    p.finish()?;
    let row = app::outbox::subscribe(
        &state.db,
        user,
        app::outbox::SubscriptionRow::new(url, secret, body.event_types.join(","), body.allow_http),
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
