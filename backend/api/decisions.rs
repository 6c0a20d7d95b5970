//! Decisions (beslut): an assessor grants a service for a period; an extension
//! follows an earlier decision; ending one starts the uninstall.

use super::concurrency::{etag, expected_version};
use super::dto::{order_dto, Order};
use super::json::Json;
use crate::app::customers::{load_visible, read_of_customer};
use crate::app::notify::{self, About};
use crate::app::orders::new_order;
use crate::app::validation::Problems;
use crate::auth::{Action, Actor};
use crate::db::{self, audit, lifecycle, DbConn};
use crate::domain::messages::{self, Topic};
use crate::domain::{OrderKind, Period, PeriodError, Service};
use crate::error::ErrorCode;
use crate::error::{AppError, Problem};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/customers/{id}/decisions")
            .route(web::get().to(list_decisions))
            .route(web::post().to(grant)),
    );
    cfg.service(web::resource("/decisions/{id}/end").route(web::post().to(end_decision)));
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

fn decision_dto(d: lifecycle::DecisionRow) -> Result<Decision, AppError> {
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
#[utoipa::path(get, path = "/api/v1/customers/{id}/decisions", tag = "lifecycle", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Customer id")),
    responses(
        (status = 200, description = "Decisions", body = Vec<Decision>),
        (status = 404, description = "No such customer, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_decisions(
    state: web::Data<AppState>,
    user: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let rows = read_of_customer(
        &state.db,
        user,
        id.into_inner().to_string(),
        "decision.list",
        |conn, id| Ok(lifecycle::decisions_of(conn, id)?),
    )
    .await?;
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

fn rule(code: ErrorCode, en: String, sv: String) -> AppError {
    AppError::new(StatusCode::UNPROCESSABLE_ENTITY, code, en, sv)
}

/// Grants a service (assessor). Creates the decision and its order — an install
/// order, or an extension order when `follows_id` names an earlier decision,
/// whose period must be followed without gap or overlap.
#[utoipa::path(post, path = "/api/v1/customers/{id}/decisions", tag = "lifecycle", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Customer id")),
    request_body = NewDecision,
    responses(
        (status = 201, description = "Granted; the order is created", body = Granted),
        (status = 404, description = "No such customer, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The service is already ordered, or the earlier decision already has an extension", body = Problem, content_type = "application/problem+json"),
    ))]
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
    let customer_id = id.into_inner().to_string();
    let rules = state.settings.message_rules.clone();
    let (decision, order) = state
        .db
        .transaction(move |conn| {
            let (customer, groups) = load_visible(conn, &user, &customer_id, "decision.create")?;
            if new.service == Service::DigitalLock {
                if customer.other_municipality {
                    return Err(rule(
                        ErrorCode::OtherMunicipalityNoLock,
                        "This customer's case comes from another municipality: no digital lock or receipt product (seed 002).".into(),
                        "Kundens ärende kommer från en annan kommun: inget digitalt lås eller kvittensprodukt.".into(),
                    ));
                }
                if !customer.consent_digital_lock {
                    return Err(rule(
                        ErrorCode::ConsentMissing,
                        "Record the customer's consent to a digital lock before granting it.".into(),
                        "Registrera kundens samtycke till digitalt lås innan det beviljas.".into(),
                    ));
                }
            }
            let follows = match new.follows_id {
                Some(prev_id) => Some(check_extension(conn, &customer_id, new.service, &period, &prev_id.to_string())?),
                None => {
                    ensure_not_already_ordered(conn, &customer_id, new.service)?;
                    None
                }
            };
            let now = db::now();
            let decision = lifecycle::DecisionRow {
                id: db::new_id(),
                customer_id: customer_id.clone(),
                service: new.service,
                valid_from: period.from,
                valid_to: period.to,
                follows_id: follows,
                decided_by: user.id.clone(),
                ended_on: None,
                version: 1,
                created_at: now,
                updated_at: now,
            };
            lifecycle::insert_decision(conn, &decision)?;
            let kind = if decision.follows_id.is_some() { OrderKind::Extension } else { OrderKind::Install };
            let team = match new.team_group_id {
                Some(t) => Some(t.to_string()),
                None => crate::app::orders::default_team(conn, &customer, &groups)?,
            };
            let order = new_order(&decision, &customer_id, kind, new.service, team, None);
            lifecycle::insert_order(conn, &order)?;
            audit::record(conn, &user, audit::Entry::new("decision.create", "decision", Some(&decision.id)).customer(&customer_id))?;
            if kind == OrderKind::Install {
                let text = messages::ordered(&customer.customer_number, new.service.sv(), period.from);
                let about = About { customer: &customer, customer_groups: &groups, order_id: Some(&order.id), sender_id: Some(&user.id) };
                notify::send(conn, &rules, Topic::Ordered, &about, text)?;
            }
            Ok((decision, order))
        })
        .await?;
    Ok(HttpResponse::Created().json(Granted {
        decision: decision_dto(decision)?,
        order: order_dto(order)?,
    }))
}

fn ensure_not_already_ordered(
    conn: &mut DbConn,
    customer_id: &str,
    service: Service,
) -> Result<(), AppError> {
    let running = lifecycle::running_execution(conn, customer_id, service, "regular")?.is_some();
    let open = lifecycle::list_orders(
        conn,
        &crate::auth::CustomerScope::All,
        &lifecycle::OrderFilter {
            customer_id: Some(customer_id.to_string()),
            kind: Some(OrderKind::Install.as_str().to_string()),
            open_only: true,
            limit: 1000,
            ..Default::default()
        },
    )?
    .iter()
    .any(|o| o.service == service);
    if running || open {
        return Err(AppError::new(
            StatusCode::CONFLICT,
            ErrorCode::ServiceAlreadyOrdered,
            "The customer already has this service or an open order for it. Extend the current decision instead.",
            "Kunden har redan denna insats eller en öppen beställning av den. Förläng nuvarande beslut i stället.",
        ));
    }
    Ok(())
}

/// Checks an extension against the decision it follows; returns that id.
fn check_extension(
    conn: &mut DbConn,
    customer_id: &str,
    service: Service,
    period: &Period,
    prev_id: &str,
) -> Result<String, AppError> {
    let prev = lifecycle::find_decision(conn, prev_id)?
        .filter(|d| d.customer_id == customer_id && d.service == service)
        .ok_or_else(|| {
            crate::app::validation::unknown_reference(
                "follows_id",
                "decision of this customer and service",
                "beslut för denna kund och insats",
            )
        })?;
    if lifecycle::successor_of(conn, prev_id)?.is_some() {
        return Err(AppError::new(
            StatusCode::CONFLICT,
            ErrorCode::AlreadyExtended,
            "That decision already has an extension; extend the newest one.",
            "Det beslutet är redan förlängt; förläng det senaste.",
        ));
    }
    let prev_period = Period::new(prev.valid_from, prev.valid_to)
        .map_err(|e| AppError::internal(anyhow::anyhow!(e)))?;
    prev_period.check_followed_by(period).map_err(|e| {
        let (code, sv) = match &e {
            PeriodError::Gap { first, last, days } => (
                ErrorCode::PeriodGap,
                format!("Glapp på {days} dag(ar): {first} till {last} täcks inte av något beslut."),
            ),
            PeriodError::Overlap { first, last, days } => (
                ErrorCode::PeriodOverlap,
                format!("Överlapp på {days} dag(ar): {first} till {last} täcks av båda besluten."),
            ),
            PeriodError::PreviousOpenEnded => (
                ErrorCode::PeriodOverlap,
                "Det tidigare beslutet gäller tills vidare, så förlängningen överlappar det."
                    .to_string(),
            ),
            PeriodError::EndsBeforeStart { .. } => (ErrorCode::PeriodInvalid, e.to_string()),
        };
        AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
            format!(
                "The extension does not follow the earlier decision ({}–{}): {e}.",
                prev.valid_from,
                prev.valid_to.map(|d| d.to_string()).unwrap_or_default()
            ),
            sv,
        )
    })?;
    Ok(prev.id)
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
#[utoipa::path(post, path = "/api/v1/decisions/{id}/end", tag = "lifecycle", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Decision id"), ("If-Match" = String, Header, description = "The decision's version")),
    request_body = EndDecision,
    responses(
        (status = 200, description = "Ended", body = Ended),
        (status = 404, description = "No such decision, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already ended", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since you read it", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json"),
    ))]
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
    let end_date = body.end_date;
    let rules = state.settings.message_rules.clone();
    let (decision, uninstall, cancelled) = state
        .db
        .transaction(move |conn| {
            let mut d = lifecycle::find_decision(conn, &decision_id)?.ok_or_else(|| {
                AppError::not_found(ErrorCode::DecisionNotFound, "decision", "beslut")
            })?;
            let (customer, groups) = load_visible(conn, &user, &d.customer_id, "decision.end")
                .map_err(|e| {
                    if e.code() == ErrorCode::CustomerNotFound {
                        AppError::not_found(ErrorCode::DecisionNotFound, "decision", "beslut")
                            .denied()
                    } else {
                        e
                    }
                })?;
            if d.version != expected {
                return Err(AppError::stale_version(d.version));
            }
            if d.ended_on.is_some() {
                return Err(AppError::new(
                    StatusCode::CONFLICT,
                    ErrorCode::DecisionAlreadyEnded,
                    "This decision is already ended.",
                    "Beslutet är redan avslutat.",
                ));
            }
            if end_date < d.valid_from {
                let mut p = Problems::default();
                p.add(
                    "end_date",
                    "before_valid_from",
                    format!("must be on or after {}", d.valid_from),
                    format!("ska vara samma dag som eller efter {}", d.valid_from),
                );
                p.finish()?;
            }
            d.valid_to = Some(d.valid_to.map_or(end_date, |t| t.min(end_date)));
            d.ended_on = Some(end_date);
            d.version += 1;
            d.updated_at = db::now();
            if !lifecycle::update_decision_if_version(conn, &d, expected)? {
                return Err(AppError::stale_version(expected + 1));
            }
            let mut cancelled = Vec::new();
            for mut o in lifecycle::open_orders_of_decision(conn, &d.id)? {
                let from = o.state;
                let v = o.version;
                // Through the state machine, like every other transition.
                let Some(next) = crate::domain::order::next_state(
                    o.kind,
                    from,
                    crate::domain::OrderEvent::Cancel,
                ) else {
                    return Err(AppError::internal(anyhow::anyhow!(
                        "open order {} in {} cannot be cancelled",
                        o.id,
                        from.as_str()
                    )));
                };
                o.state = next;
                o.state_reason = Some("Beslutet avslutat".into());
                o.version += 1;
                o.updated_at = db::now();
                if !lifecycle::update_order_if_version(conn, &o, v)? {
                    return Err(AppError::stale_version(v + 1));
                }
                crate::app::orders::record_transition(
                    conn,
                    &user,
                    &o,
                    crate::domain::OrderEvent::Cancel,
                    from,
                    Some("Beslutet avslutat"),
                    None,
                )?;
                cancelled.push(o.id);
            }
            let service: Service = d.service;
            let running = lifecycle::running_execution(conn, &d.customer_id, d.service, "regular")?;
            let uninstall = match running {
                Some(_) => {
                    let team = crate::app::orders::default_team(conn, &customer, &groups)?;
                    let order = new_order(
                        &d,
                        &d.customer_id,
                        OrderKind::Uninstall,
                        service,
                        team,
                        Some(end_date),
                    );
                    lifecycle::insert_order(conn, &order)?;
                    // Ending the service marks its equipment at the customer's to be collected.
                    crate::app::equipment::mark_to_collect(
                        conn,
                        &user,
                        &d.customer_id,
                        service,
                        &order.id,
                    )?;
                    Some(order)
                }
                None => None,
            };
            if !cancelled.is_empty() {
                let about = About {
                    customer: &customer,
                    customer_groups: &groups,
                    order_id: cancelled.first().map(String::as_str),
                    sender_id: Some(&user.id),
                };
                notify::send(
                    conn,
                    &rules,
                    Topic::Cancelled,
                    &about,
                    messages::cancelled(
                        &customer.customer_number,
                        service.sv(),
                        "beslutet avslutat",
                    ),
                )?;
            }
            audit::record(
                conn,
                &user,
                audit::Entry::new("decision.end", "decision", Some(&d.id)).customer(&d.customer_id),
            )?;
            Ok((d, uninstall, cancelled))
        })
        .await?;
    let version = decision.version;
    Ok(HttpResponse::Ok().insert_header(etag(version)).json(Ended {
        decision: decision_dto(decision)?,
        uninstall_order: uninstall.map(order_dto).transpose()?,
        cancelled_orders: cancelled,
    }))
}
