//! The coordinator's own execution: night visibility (seed 003), fee-free,
//! so the night patrol can see the customer.

use crate::app::customers::load_visible;
use crate::db::{self, audit, lifecycle, Db};
use crate::domain::Period;
use crate::domain::{Actor, Service};
use crate::error::{AppError, ErrorCode, FieldError};
use actix_web::http::StatusCode;
use chrono::NaiveDate;

pub use crate::db::lifecycle::{BillingEventRow, ExecutionRow};

/// A customer's executions; the look audited.
pub async fn of_customer(
    db: &Db,
    user: Actor,
    customer_id: String,
) -> Result<Vec<ExecutionRow>, AppError> {
    crate::app::customers::read_of_customer(db, user, customer_id, "execution.list", |conn, id| {
        Ok(lifecycle::executions_of(conn, id)?)
    })
    .await
}

/// Billing starts and stops dated `from` to `to`, each with its customer's
/// number, read as `action` in the audit log (the list or its CSV).
pub async fn billing_events(
    db: &Db,
    user: Actor,
    from: NaiveDate,
    to: NaiveDate,
    action: &'static str,
) -> Result<Vec<(BillingEventRow, String)>, AppError> {
    db.transaction(move |conn| {
        let events = lifecycle::billing_events_between(conn, from, to)?;
        let ids: Vec<String> = events.iter().map(|e| e.customer_id.clone()).collect();
        let numbers = crate::db::customers::numbers_of(conn, &ids)?;
        audit::record(conn, &user, audit::Entry::new(action, "billing", None))?;
        Ok(events
            .into_iter()
            .map(|e| {
                let number = numbers
                    .iter()
                    .find(|(id, _)| *id == e.customer_id)
                    .map(|(_, n)| n.clone())
                    .unwrap_or_default();
                (e, number)
            })
            .collect())
    })
    .await
}

/// Starts the night-visibility execution of a customer's safety alarm on
/// `start`; 409 while one runs.
pub async fn start_night_visibility(
    db: &Db,
    user: Actor,
    id: String,
    start: NaiveDate,
) -> Result<lifecycle::ExecutionRow, AppError> {
    db.transaction(move |conn| {
        load_visible(conn, &user, &id, "execution.night_visibility")?;
        let service = Service::SafetyAlarm;
        check_within_an_alarm_decision(conn, &id, start)?;
        if lifecycle::running_execution(conn, &id, service, "night_visibility")?.is_some() {
            return Err(AppError::new(
                StatusCode::CONFLICT,
                ErrorCode::AlreadyRunning,
                "The night-visibility execution is already running.",
                "Nattens verkställighet pågår redan.",
            ));
        }
        let row = lifecycle::ExecutionRow {
            id: db::new_id(),
            customer_id: id.clone(),
            order_id: None,
            decision_id: None,
            service,
            kind: "night_visibility".into(),
            billable: false,
            start_date: start,
            end_date: None,
            created_at: db::now(),
        };
        lifecycle::insert_execution(conn, &row)?;
        audit::record(
            conn,
            &user,
            audit::Entry::new("execution.night_visibility", "execution", Some(&row.id))
                .customer(&id),
        )?;
        Ok(row)
    })
    .await
}

/// The night visibility belongs to the customer's safety alarm: it starts on
/// a day one of its decisions covers, not later than today (422 on
/// `start_date`, naming the days allowed).
fn check_within_an_alarm_decision(
    conn: &mut crate::db::DbConn,
    customer_id: &str,
    start: NaiveDate,
) -> Result<(), AppError> {
    let today = crate::domain::calendar::today();
    let mut refusal = None;
    for d in lifecycle::decisions_of(conn, customer_id)? {
        if d.service != Service::SafetyAlarm {
            continue;
        }
        let period = Period::new(d.valid_from, d.valid_to)
            .map_err(|e| AppError::internal(anyhow::anyhow!(e)))?;
        match period.check_dated(start, today) {
            Ok(()) => return Ok(()),
            Err(e) => refusal = Some((e.en(), e.sv())),
        }
    }
    let (en, sv) = refusal.unwrap_or_else(|| {
        (
            "the customer has no safety-alarm decision, so no day is allowed".to_string(),
            "kunden har inget beslut om trygghetslarm, så inget datum går".to_string(),
        )
    });
    Err(AppError::validation(vec![FieldError::new(
        "start_date",
        "outside_decision_period",
        en,
        sv,
    )]))
}
