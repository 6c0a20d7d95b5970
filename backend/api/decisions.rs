//! Decisions (beslut): an assessor grants a service for a period; an extension
//! follows an earlier decision; ending one starts the uninstall.

use super::concurrency::{etag, expected_version};
use super::dto::{order_dto, Order};
use super::json::Json;
use crate::app;
use crate::app::validation::Problems;
use crate::auth::{Action, Actor};
use crate::domain::{Period, Service};
use crate::error::{AppError, Problem};
use crate::state::AppState;
use actix_web::{get, post};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_decisions)
        .service(grant)
        .service(end_decision);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Decision {
    pub id: String,
    pub customer_id: String,
    pub service: Service,
    pub valid_from: NaiveDate,
    /// Absent: until further notice.
    pub valid_to: Option<NaiveDate>,
    /// The decision this one extends.
    pub follows_id: Option<String>,
    pub decided_by: String,
    /// Set when the assessor ended it.
    pub ended_on: Option<NaiveDate>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
}

fn decision_dto(d: app::decisions::DecisionRow) -> Result<Decision, AppError> {
    Ok(Decision {
        service: d.service,
        id: d.id,
        customer_id: d.customer_id,
        valid_from: d.valid_from,
        valid_to: d.valid_to,
        follows_id: d.follows_id,
        decided_by: d.decided_by,
        ended_on: d.ended_on,
        version: d.version,
        created_at: d.created_at.and_utc(),
    })
}

/// A customer's decisions, oldest first.
#[utoipa::path(tag = "lifecycle", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Customer id")),
    responses(
        (status = 200, description = "Decisions", body = Vec<Decision>),
        (status = 404, description = "No such customer, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/customers/{id}/decisions")]
pub async fn list_decisions(
    state: web::Data<AppState>,
    user: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let rows = app::decisions::of_customer(&state.db, user, id.into_inner().to_string()).await?;
    let list = rows
        .into_iter()
        .map(decision_dto)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(list))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"service": "safety_alarm", "valid_from": "2026-12-01", "valid_to": null}))]
pub struct NewDecision {
    pub service: Service,
    pub valid_from: NaiveDate,
    /// Leave out for "until further notice".
    pub valid_to: Option<NaiveDate>,
    /// Makes this an extension (förlängning) of that decision: it must start the
    /// day after the earlier one ends.
    pub follows_id: Option<Uuid>,
    /// The team that will do the work; default: the customer's alarm team.
    pub team_group_id: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Granted {
    pub decision: Decision,
    /// The install order, or for an extension the extension order.
    pub order: Order,
}

/// Grants a service (assessor). Creates the decision and its order — an install
/// order, or an extension order when `follows_id` names an earlier decision,
/// whose period must be followed without gap or overlap.
#[utoipa::path(tag = "lifecycle", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Customer id")),
    request_body = NewDecision,
    responses(
        (status = 201, description = "Granted; the order is created", body = Granted),
        (status = 404, description = "No such customer, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The service is already ordered, or the earlier decision already has an extension", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/customers/{id}/decisions")]
pub async fn grant(
    state: web::Data<AppState>,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<NewDecision>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::GrantDecision, "grant decisions", "fatta beslut")?;
    let new = body.into_inner();
    let period = Period::new(new.valid_from, new.valid_to).map_err(|e| {
        let mut p = Problems::default();
        p.add("valid_to", "before_valid_from", e.to_string(), e.sv());
        p.finish().unwrap_err()
    })?;
    let grant = app::decisions::Grant {
        service: new.service,
        period,
        follows_id: new.follows_id.map(|id| id.to_string()),
        team_group_id: new.team_group_id.map(|id| id.to_string()),
    };
    let rules = state.settings.message_rules.clone();
    let customer_id = id.into_inner().to_string();
    let (decision, order) =
        app::decisions::grant(&state.db, rules, user, customer_id, grant).await?;
    Ok(HttpResponse::Created().json(Granted {
        decision: decision_dto(decision)?,
        order: order_dto(order)?,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"end_date": "2026-12-31"}))]
pub struct EndDecision {
    /// The last day of the service, as the assessor decided it.
    pub end_date: NaiveDate,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Ended {
    pub decision: Decision,
    /// The uninstall order, when the service was running.
    pub uninstall_order: Option<Order>,
    /// Open orders of the decision that were cancelled.
    pub cancelled_orders: Vec<String>,
}

/// Ends a decision (assessor) with the end date. A running service gets an
/// uninstall order carrying that date; orders not yet done are cancelled.
/// Needs `If-Match` with the decision's version.
#[utoipa::path(tag = "lifecycle", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Decision id"), ("If-Match" = String, Header, description = "The decision's version")),
    request_body = EndDecision,
    responses(
        (status = 200, description = "Ended", body = Ended),
        (status = 404, description = "No such decision, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already ended", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since you read it", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/decisions/{id}/end")]
pub async fn end_decision(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<EndDecision>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::EndDecision, "end decisions", "avsluta beslut")?;
    let expected = expected_version(&req)?;
    let decision_id = id.into_inner().to_string();
    let rules = state.settings.message_rules.clone();
    let (decision, uninstall, cancelled) =
        app::decisions::end(&state.db, rules, user, decision_id, expected, body.end_date).await?;
    let version = decision.version;
    Ok(HttpResponse::Ok().insert_header(etag(version)).json(Ended {
        decision: decision_dto(decision)?,
        uninstall_order: uninstall.map(order_dto).transpose()?,
        cancelled_orders: cancelled,
    }))
}
