//! Reading the audit log: "who opened this customer's record, and why".

use super::pagination::{self, Page};
use super::query::Query;
use crate::app;
use crate::auth::{Action, Actor};
use crate::error::{AppError, Problem};
use crate::state::AppState;
use actix_web::get;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(query_audit);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: String,
    pub at: DateTime<Utc>,
    pub user_id: Option<String>,
    pub username: String,
    /// e.g. `customer.read`, `customer.update`, `auth.login`.
    #[schema(example = "customer.read")]
    pub action: String,
    /// `ok`, `denied` or `failed`.
    #[schema(example = "ok")]
    pub outcome: String,
    pub entity: String,
    pub entity_id: Option<String>,
    pub customer_id: Option<String>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Everything that touched this customer.
    pub customer_id: Option<Uuid>,
    /// Everything this user did.
    pub user_id: Option<Uuid>,
    #[param(pattern = r"^[^\u0000]*$")]
    pub action: Option<String>,
    /// From this instant (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Up to this instant (exclusive).
    pub to: Option<DateTime<Utc>>,
    #[param(min_length = 1, pattern = r"^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// The audit log, newest first (admin). The monthly log follow-up
/// (logguppföljning) starts here.
#[utoipa::path(tag = "audit", security(("bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "One page of entries", body = Page<AuditEntry>),
        (status = 403, description = "Only admins read the audit log", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/audit")]
pub async fn query_audit(
    state: web::Data<AppState>,
    user: Actor,
    query: Query<AuditQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(
        Action::ReadAuditLog,
        "read the audit log",
        "läsa granskningsloggen",
    )?;
    let q = query.into_inner();
    let limit = pagination::limit(q.limit)?;
    let before = q
        .cursor
        .as_deref()
        .map(pagination::decode_time)
        .transpose()?;
    let filter = app::audit::Filter {
        customer_id: q.customer_id.map(|u| u.to_string()),
        user_id: q.user_id.map(|u| u.to_string()),
        action: crate::app::validation::query_text("action", q.action)?,
        from: q.from.map(|t| t.naive_utc()),
        to: q.to.map(|t| t.naive_utc()),
        before,
        limit: limit + 1,
    };
    let mut rows = app::audit::entries(&state.db, filter).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = more
        .then(|| rows.last().map(|r| pagination::encode_time(&r.at, &r.id)))
        .flatten();
    let items = rows
        .into_iter()
        .map(|r| AuditEntry {
            id: r.id,
            at: r.at.and_utc(),
            user_id: r.user_id,
            username: r.username,
            action: r.action,
            outcome: r.outcome,
            entity: r.entity,
            entity_id: r.entity_id,
            customer_id: r.customer_id,
            ip: r.ip,
            request_id: r.request_id,
            reason: r.reason,
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(Page { items, next_cursor }))
}
