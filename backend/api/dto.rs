//! The representations more than one resource answers with.

use crate::app::orders::platform_record;
use crate::app::orders::OrderRow;
use crate::domain::order::allowed_events_of;
use crate::domain::{OrderEvent, OrderKind, OrderState, Service};
use crate::error::AppError;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct Order {
    pub id: String,
    pub customer_id: String,
    pub decision_id: String,
    pub kind: OrderKind,
    pub service: Service,
    pub state: OrderState,
    /// The events possible from this state.
    pub allowed_events: Vec<OrderEvent>,
    /// The team doing the work.
    pub team_group_id: Option<String>,
    pub assigned_installer_id: Option<String>,
    /// Booked visit, local date.
    pub visit_date: Option<NaiveDate>,
    /// Booked visit, local time (HH:MM), if agreed.
    pub visit_time: Option<String>,
    /// Recorded at `installed`; execution and billing start use it.
    pub installation_date: Option<NaiveDate>,
    /// For an uninstall: the end date the assessor gave.
    pub end_date: Option<NaiveDate>,
    pub serials: Vec<String>,
    /// Why the order is in its state (return, decline, cancel).
    pub state_reason: Option<String>,
    /// A digital lock ordered from its supplier (seed 001 step 6).
    pub supplier_order: Option<SupplierOrder>,
    /// The lock receipt (låskvittens): `left` at the customer's by the fitter,
    /// then `collected` by staff at their next visit.
    pub lock_receipt: Option<String>,
    pub lock_receipt_collected_on: Option<NaiveDate>,
    pub received_at: DateTime<Utc>,
    /// Pass as `If-Match: "<version>"` with each transition.
    pub version: i32,
    pub updated_at: DateTime<Utc>,
    /// What the open order waits for (väntar-orsak), noted by the team as a
    /// contact of kind `waiting`; cleared when the order moves on. Noting it
    /// does not change `version`.
    #[schema(example = "Kunden är på korttidsboende till den 15 januari")]
    pub waiting_reason: Option<String>,
    /// When that was noted.
    pub waiting_since: Option<DateTime<Utc>>,
    /// An alarm's registration in the alarm-receiving platform (seed 000
    /// steps 3 and 12), recorded by the alarm centre on the install order.
    pub platform_registration: Option<PlatformRegistration>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlatformRegistration {
    /// The platform's own reference for the customer's alarm.
    #[schema(example = "PNC-448812")]
    pub reference: String,
    pub registered_on: NaiveDate,
    /// Set once the alarm is deregistered after cancellation or termination.
    pub deregistered_on: Option<NaiveDate>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SupplierOrder {
    #[schema(example = "Tunstall")]
    pub supplier: String,
    pub reference: Option<String>,
    /// Not later than today.
    pub ordered_on: NaiveDate,
}

pub fn order_dto(o: OrderRow) -> Result<Order, AppError> {
    let (kind, state, service) = (o.kind, o.state, o.service);
    Ok(Order {
        allowed_events: allowed_events_of(kind, service, state, platform_record(&o)),
        service,
        kind,
        state,
        id: o.id,
        customer_id: o.customer_id,
        decision_id: o.decision_id,
        team_group_id: o.team_group_id,
        assigned_installer_id: o.assigned_installer_id,
        visit_date: o.visit_date,
        visit_time: o.visit_at.map(|t| t.format("%H:%M").to_string()),
        installation_date: o.installation_date,
        end_date: o.end_date,
        serials: o
            .serials
            .map(|s| {
                s.split('\n')
                    .filter(|x| !x.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        state_reason: o.state_reason,
        supplier_order: match (o.supplier, o.supplier_ordered_on) {
            (Some(supplier), Some(ordered_on)) => Some(SupplierOrder {
                supplier,
                reference: o.supplier_reference,
                ordered_on,
            }),
            _ => None,
        },
        lock_receipt: o.lock_receipt,
        lock_receipt_collected_on: o.lock_receipt_collected_on,
        received_at: o.received_at.and_utc(),
        version: o.version,
        updated_at: o.updated_at.and_utc(),
        waiting_reason: o.waiting_reason,
        waiting_since: o.waiting_since.map(|t| t.and_utc()),
        platform_registration: match (o.platform_reference, o.platform_registered_on) {
            (Some(reference), Some(registered_on)) => Some(PlatformRegistration {
                reference,
                registered_on,
                deregistered_on: o.platform_deregistered_on,
            }),
            _ => None,
        },
    })
}
