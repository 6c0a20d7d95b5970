//! The assessor's steps on a decision (beslut): granting a service, which
//! orders it, and ending it, which cancels what is not done and orders the
//! equipment's collection.

use crate::app::customers::load_visible;
use crate::app::equipment::mark_to_collect;
use crate::app::notify::{self, About};
use crate::app::orders::{default_team, new_order, record_transition};
use crate::app::validation::Problems;
use crate::db::{self, audit, lifecycle, Db, DbConn};
use crate::domain::lifecycle::capitalised;
use crate::domain::messages::{self, MessageRules, Topic};
use crate::domain::order::next_state;
use crate::domain::{Actor, OrderEvent, OrderKind, Period, PeriodError, Service};
use crate::error::{AppError, ErrorCode};
use actix_web::http::StatusCode;
use chrono::NaiveDate;

pub use crate::db::lifecycle::DecisionRow;

/// A customer's decisions, oldest first; the look audited.
pub async fn of_customer(
    db: &Db,
    user: Actor,
    customer_id: String,
) -> Result<Vec<DecisionRow>, AppError> {
    crate::app::customers::read_of_customer(db, user, customer_id, "decision.list", |conn, id| {
        Ok(lifecycle::decisions_of(conn, id)?)
    })
    .await
}

/// A decision to grant, as the assessor gave it.
pub struct Grant {
    pub service: Service,
    pub period: Period,
    /// An extension (förlängning) of this decision.
    pub follows_id: Option<String>,
    /// The team that will do the work; default: the customer's alarm team.
    pub team_group_id: Option<String>,
}

/// Grants a service: the decision and its order (an install order, or an
/// extension order following an earlier decision without gap or overlap);
/// a new install is announced as the rules say.
pub async fn grant(
    db: &Db,
    rules: MessageRules,
    user: Actor,
    customer_id: String,
    new: Grant,
) -> Result<(lifecycle::DecisionRow, lifecycle::OrderRow), AppError> {
    let period = new.period;
    db.transaction(move |conn| {
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
            None => default_team(conn, &customer, &groups)?,
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
    .await
}

/// Ends a decision on `end_date`: open orders of it are cancelled through the
/// state machine, a running service gets an uninstall order carrying that
/// date and its equipment is marked to collect.
pub async fn end(
    db: &Db,
    rules: MessageRules,
    user: Actor,
    decision_id: String,
    expected: i32,
    end_date: NaiveDate,
) -> Result<
    (
        lifecycle::DecisionRow,
        Option<lifecycle::OrderRow>,
        Vec<String>,
    ),
    AppError,
> {
    db.transaction(move |conn| {
        let mut d = lifecycle::find_decision(conn, &decision_id)?.ok_or_else(|| {
            AppError::not_found(ErrorCode::DecisionNotFound, "decision", "beslut")
        })?;
        let (customer, groups) = load_visible(conn, &user, &d.customer_id, "decision.end")
            .map_err(|e| {
                if e.code() == ErrorCode::CustomerNotFound {
                    AppError::not_found(ErrorCode::DecisionNotFound, "decision", "beslut").denied()
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
        db::outbox::event(
            conn,
            "decision.ended",
            Some(&d.customer_id),
            crate::event_data!("decision_id": d.id, "service": d.service, "end_date": end_date),
        )?;
        let mut cancelled = Vec::new();
        for mut o in lifecycle::open_orders_of_decision(conn, &d.id)? {
            let from = o.state;
            let v = o.version;
            // Through the state machine, like every other transition.
            let Some(next) = next_state(o.kind, from, OrderEvent::Cancel) else {
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
            record_transition(
                conn,
                &user,
                &o,
                OrderEvent::Cancel,
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
                let team = default_team(conn, &customer, &groups)?;
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
                mark_to_collect(conn, &user, &d.customer_id, service, &order.id)?;
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
                messages::cancelled(&customer.customer_number, service.sv(), "beslutet avslutat"),
            )?;
        }
        if let Some(order) = &uninstall {
            let about = About {
                customer: &customer,
                customer_groups: &groups,
                order_id: Some(&order.id),
                sender_id: Some(&user.id),
            };
            notify::send(
                conn,
                &rules,
                Topic::Terminated,
                &about,
                messages::terminated(&customer.customer_number, service.sv(), end_date),
            )?;
        }
        audit::record(
            conn,
            &user,
            audit::Entry::new("decision.end", "decision", Some(&d.id)).customer(&d.customer_id),
        )?;
        Ok((d, uninstall, cancelled))
    })
    .await
}

fn rule(code: ErrorCode, en: String, sv: String) -> AppError {
    AppError::new(StatusCode::UNPROCESSABLE_ENTITY, code, en, sv)
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
            PeriodError::EndsBeforeStart { .. } => (ErrorCode::PeriodInvalid, capitalised(&e.sv())),
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
