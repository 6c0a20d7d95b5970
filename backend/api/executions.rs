//! Executions (verkställigheter), the night patrol's visibility execution, and
//! billing events with their CSV export for the billing officers.

use super::json::Json;
use super::query::Query;
use crate::app;
use crate::app::validation::Problems;
use crate::auth::{Action, Actor};
use crate::domain::Service;
use crate::error::{AppError, Problem};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{get, post};
use actix_web::{web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_executions)
        .service(start_night_visibility)
        .service(billing_events)
        .service(billing_csv);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Execution {
    pub id: String,
    pub customer_id: String,
    pub order_id: Option<String>,
    pub service: Service,
    /// `regular`, or `night_visibility`: lets the night patrol see the customer, no fee (seed 003).
    pub kind: String,
    pub billable: bool,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
}

fn execution_dto(e: app::executions::ExecutionRow) -> Result<Execution, AppError> {
    Ok(Execution {
        service: e.service,
        id: e.id,
        customer_id: e.customer_id,
        order_id: e.order_id,
        kind: e.kind,
        billable: e.billable,
        start_date: e.start_date,
        end_date: e.end_date,
        created_at: e.created_at.and_utc(),
    })
}

/// A customer's executions.
#[utoipa::path(tag = "lifecycle", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Customer id")),
    responses(
        (status = 200, description = "Executions", body = Vec<Execution>),
        (status = 404, description = "No such customer, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/customers/{id}/executions")]
pub async fn list_executions(
    state: web::Data<AppState>,
    user: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let rows = app::executions::of_customer(&state.db, user, id.into_inner().to_string()).await?;
    Ok(HttpResponse::Ok().json(
        rows.into_iter()
            .map(execution_dto)
            .collect::<Result<Vec<_>, _>>()?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"start_date": "2026-11-24"}))]
pub struct NightVisibility {
    /// A day one of the customer's safety-alarm decisions covers, not later than
    /// today (otherwise 422 `outside_decision_period`, naming the days allowed).
    pub start_date: NaiveDate,
}

/// Starts the night coordinator's visibility execution for the safety alarm
/// (coordinator): the night patrol sees the customer; no fee, no billing event.
#[utoipa::path(tag = "lifecycle", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Customer id")),
    request_body = NightVisibility,
    responses(
        (status = 201, description = "Started", body = Execution),
        (status = 404, description = "No such customer, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already running", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/customers/{id}/night-visibility")]
pub async fn start_night_visibility(
    state: web::Data<AppState>,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<NightVisibility>,
) -> Result<HttpResponse, AppError> {
    user.require(
        Action::StartNightVisibility,
        "start executions",
        "starta verkställigheter",
    )?;
    let id = id.into_inner().to_string();
    let row = app::executions::start_night_visibility(&state.db, user, id, body.start_date).await?;
    Ok(HttpResponse::Created().json(execution_dto(row)?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    /// First day (inclusive).
    pub from: NaiveDate,
    /// Last day (inclusive); not before `from`.
    pub to: NaiveDate,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BillingEvent {
    pub id: String,
    /// `start` or `stop`.
    pub kind: String,
    /// The date billing starts or stops: the installation date, or the assessor's end date.
    pub date: NaiveDate,
    pub customer_id: String,
    pub customer_number: String,
    pub service: Service,
    pub execution_id: String,
    /// The case comes from another municipality: bill on its own line (seed 002).
    pub own_invoice_line: bool,
}

async fn load_events(
    state: &AppState,
    user: Actor,
    q: PeriodQuery,
    action: &'static str,
) -> Result<Vec<BillingEvent>, AppError> {
    user.require(
        Action::ReadBilling,
        "read billing events",
        "läsa debiteringshändelser",
    )?;
    if q.to < q.from {
        let mut p = Problems::default();
        p.add(
            "to",
            "before_from",
            "the period ends before it starts",
            "perioden slutar innan den börjar",
        );
        p.finish()?;
    }
    let events = app::executions::billing_events(&state.db, user, q.from, q.to, action).await?;
    events
        .into_iter()
        .map(|(e, customer_number)| {
            Ok(BillingEvent {
                customer_number,
                service: e.service,
                id: e.id,
                kind: e.kind,
                date: e.event_date,
                customer_id: e.customer_id,
                execution_id: e.execution_id,
                own_invoice_line: e.own_invoice_line,
            })
        })
        .collect()
}

/// Billing starts and stops with their dates, for a period (billing, admin).
#[utoipa::path(tag = "billing", security(("bearer" = [])),
    params(PeriodQuery),
    responses(
        (status = 200, description = "Events in date order", body = Vec<BillingEvent>),
        (status = 422, description = "The period ends before it starts", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/billing/events")]
pub async fn billing_events(
    state: web::Data<AppState>,
    user: Actor,
    q: Query<PeriodQuery>,
) -> Result<HttpResponse, AppError> {
    let events = load_events(&state, user, q.into_inner(), "billing.list").await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(events))
}

/// The same as CSV (semicolon-separated, UTF-8), as the billing officers import it.
#[utoipa::path(tag = "billing", security(("bearer" = [])),
    params(PeriodQuery),
    responses(
        (status = 200, description = "CSV: datum;händelse;kundnummer;insats;egen_rad;verkställighet", content_type = "text/csv", body = String),
        (status = 422, description = "The period ends before it starts", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/billing/events.csv")]
pub async fn billing_csv(
    state: web::Data<AppState>,
    user: Actor,
    q: Query<PeriodQuery>,
) -> Result<HttpResponse, AppError> {
    let (from, to) = (q.from, q.to);
    let events = load_events(&state, user, q.into_inner(), "billing.export").await?;
    let rows = events.into_iter().map(|e| {
        vec![
            e.date.to_string(),
            if e.kind == "start" { "start" } else { "stopp" }.to_string(),
            e.customer_number,
            e.service.sv().to_string(),
            if e.own_invoice_line { "ja" } else { "nej" }.to_string(),
            e.execution_id,
        ]
    });
    super::export::csv_response(
        &format!("debitering-{from}-{to}.csv"),
        &[
            "datum",
            "händelse",
            "kundnummer",
            "insats",
            "egen_rad",
            "verkställighet",
        ],
        rows,
    )
}
