//! The inbox: messages to the user, their groups and their role.

use super::query::Query;
use crate::app;
use crate::auth::Actor;
use crate::error::{AppError, Problem};
use crate::state::AppState;
use actix_web::{get, post};
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(inbox).service(unread_count).service(mark_read);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Message {
    pub id: String,
    pub created_at: DateTime<Utc>,
    /// ordered, installed, declined, returned_to_assessor, equipment_collected, cancelled,
    /// terminated, lock_mounted, lock_removed; from the follow-up: not_executed,
    /// keys_not_received, escalation, three_month_list
    pub topic: String,
    pub subject: String,
    pub body: String,
    pub customer_id: Option<String>,
    pub order_id: Option<String>,
    /// Addressed to this group…
    pub recipient_group_id: Option<String>,
    /// …or this person…
    pub recipient_user_id: Option<String>,
    /// …or everyone with this role.
    pub recipient_role: Option<String>,
    /// When you read it.
    pub read_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct InboxQuery {
    /// Only unread messages.
    #[serde(default)]
    pub unread: bool,
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnreadCount {
    pub unread: i64,
}

/// Your inbox, newest first: your own messages, your groups' and your role's.
#[utoipa::path(tag = "messages", security(("bearer" = [])),
    params(InboxQuery),
    responses((status = 200, description = "Messages", body = Vec<Message>)))]
#[get("/messages")]
pub async fn inbox(
    state: web::Data<AppState>,
    user: Actor,
    q: Query<InboxQuery>,
) -> Result<HttpResponse, AppError> {
    let limit = super::pagination::limit(q.limit)?;
    let rows = app::messages::inbox(&state.db, &user, q.unread, limit).await?;
    let list: Vec<Message> = rows
        .into_iter()
        .map(|(m, read)| Message {
            id: m.id,
            created_at: m.created_at.and_utc(),
            topic: m.topic,
            subject: m.subject,
            body: m.body,
            customer_id: m.customer_id,
            order_id: m.order_id,
            recipient_group_id: m.recipient_group_id,
            recipient_user_id: m.recipient_user_id,
            recipient_role: m.recipient_role,
            read_at: read.map(|t| t.and_utc()),
        })
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

/// How many messages you have not read.
#[utoipa::path(tag = "messages", security(("bearer" = [])),
    responses((status = 200, description = "Count", body = UnreadCount)))]
#[get("/messages/unread-count")]
pub async fn unread_count(
    state: web::Data<AppState>,
    user: Actor,
) -> Result<HttpResponse, AppError> {
    let n = app::messages::unread_count(&state.db, &user).await?;
    Ok(HttpResponse::Ok().json(UnreadCount { unread: n }))
}

/// Marks a message read, for you (idempotent).
#[utoipa::path(tag = "messages", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Message id")),
    responses(
        (status = 204, description = "Marked read"),
        (status = 404, description = "No such message in your inbox", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/messages/{id}/read")]
pub async fn mark_read(
    state: web::Data<AppState>,
    user: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    app::messages::mark_read(&state.db, &user, id.into_inner().to_string()).await?;
    Ok(HttpResponse::NoContent().finish())
}
