//! The coordinator's own execution: night visibility (seed 003), fee-free,
//! so the night patrol can see the customer.

use crate::app::customers::load_visible;
use crate::db::{self, audit, lifecycle, Db};
use crate::domain::{Actor, Service};
use crate::error::{AppError, ErrorCode};
use actix_web::http::StatusCode;
use chrono::NaiveDate;

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
