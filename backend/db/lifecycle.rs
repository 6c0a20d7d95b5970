//! Decisions, orders (with transitions and contact log), executions and
//! billing events.

use super::schema::{
    billing_events, customers, decisions, executions, order_contacts, order_transitions, orders,
};
use super::DbConn;
use crate::domain::CustomerScope;
use crate::domain::{OrderEvent, OrderKind, OrderState, Service};
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = decisions, treat_none_as_null = true)]
pub struct DecisionRow {
    pub id: String,
    pub customer_id: String,
    pub service: Service,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub follows_id: Option<String>,
    pub decided_by: String,
    pub ended_on: Option<NaiveDate>,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = orders, treat_none_as_null = true)]
pub struct OrderRow {
    pub id: String,
    pub customer_id: String,
    pub decision_id: String,
    pub kind: OrderKind,
    pub service: Service,
    pub state: OrderState,
    pub team_group_id: Option<String>,
    pub assigned_installer_id: Option<String>,
    pub visit_at: Option<NaiveDateTime>,
    pub visit_date: Option<NaiveDate>,
    pub installation_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub serials: Option<String>,
    pub state_reason: Option<String>,
    pub supplier: Option<String>,
    pub supplier_reference: Option<String>,
    pub supplier_ordered_on: Option<NaiveDate>,
    /// `left` by the lock fitter, then `collected` by staff.
    pub lock_receipt: Option<String>,
    pub lock_receipt_collected_on: Option<NaiveDate>,
    pub received_at: NaiveDateTime,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// What the team noted the order waits for; cleared when it moves on.
    pub waiting_reason: Option<String>,
    pub waiting_since: Option<NaiveDateTime>,
    /// The alarm platform's reference, recorded by the alarm centre.
    pub platform_reference: Option<String>,
    pub platform_registered_on: Option<NaiveDate>,
    pub platform_deregistered_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = order_transitions)]
pub struct TransitionRow {
    pub id: String,
    pub order_id: String,
    pub at: NaiveDateTime,
    pub user_id: String,
    pub event: OrderEvent,
    pub from_state: OrderState,
    pub to_state: OrderState,
    pub reason: Option<String>,
    pub details: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = order_contacts)]
pub struct ContactRow {
    pub id: String,
    pub order_id: String,
    pub at: NaiveDateTime,
    pub user_id: String,
    pub kind: String,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = executions)]
pub struct ExecutionRow {
    pub id: String,
    pub customer_id: String,
    pub order_id: Option<String>,
    pub decision_id: Option<String>,
    pub service: Service,
    pub kind: String,
    pub billable: bool,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = billing_events)]
pub struct BillingEventRow {
    pub id: String,
    pub customer_id: String,
    pub execution_id: String,
    pub service: Service,
    pub kind: String,
    pub event_date: NaiveDate,
    pub own_invoice_line: bool,
    pub created_at: NaiveDateTime,
}

pub fn insert_decision(conn: &mut DbConn, row: &DecisionRow) -> QueryResult<()> {
    diesel::insert_into(decisions::table)
        .values(row)
        .execute(conn)?;
    // Webhook events are queued where the change is written: same transaction, none forgotten.
    let kind = match row.follows_id {
        Some(_) => "decision.extended",
        None => "decision.granted",
    };
    super::outbox::event(
        conn,
        kind,
        Some(&row.customer_id),
        crate::event_data!("decision_id": row.id, "service": row.service, "valid_from": row.valid_from, "valid_to": row.valid_to, "follows_id": row.follows_id),
    )
}

pub fn find_decision(conn: &mut DbConn, id: &str) -> QueryResult<Option<DecisionRow>> {
    decisions::table
        .find(id)
        .select(DecisionRow::as_select())
        .first(conn)
        .optional()
}

pub fn decisions_of(conn: &mut DbConn, customer_id: &str) -> QueryResult<Vec<DecisionRow>> {
    decisions::table
        .filter(decisions::customer_id.eq(customer_id))
        .select(DecisionRow::as_select())
        .order((decisions::valid_from, decisions::id))
        .load(conn)
}

/// The decision that already follows `id`, if any (an extension exists).
pub fn successor_of(conn: &mut DbConn, id: &str) -> QueryResult<Option<DecisionRow>> {
    decisions::table
        .filter(decisions::follows_id.eq(id))
        .select(DecisionRow::as_select())
        .first(conn)
        .optional()
}

pub fn update_decision_if_version(
    conn: &mut DbConn,
    row: &DecisionRow,
    expected: i32,
) -> QueryResult<bool> {
    diesel::update(
        decisions::table.filter(
            decisions::id
                .eq(&row.id)
                .and(decisions::version.eq(expected)),
        ),
    )
    .set(row)
    .execute(conn)
    .map(|n| n == 1)
}

pub fn insert_order(conn: &mut DbConn, row: &OrderRow) -> QueryResult<()> {
    diesel::insert_into(orders::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn find_order(conn: &mut DbConn, id: &str) -> QueryResult<Option<OrderRow>> {
    orders::table
        .find(id)
        .select(OrderRow::as_select())
        .first(conn)
        .optional()
}

/// Writes the order only if nobody changed it since `expected`: of two
/// concurrent transitions exactly one matches.
pub fn update_order_if_version(
    conn: &mut DbConn,
    row: &OrderRow,
    expected: i32,
) -> QueryResult<bool> {
    diesel::update(orders::table.filter(orders::id.eq(&row.id).and(orders::version.eq(expected))))
        .set(row)
        .execute(conn)
        .map(|n| n == 1)
}

/// Notes why the order waits, without touching its version (a phone's queued
/// step still applies).
pub fn set_waiting_reason(
    conn: &mut DbConn,
    order_id: &str,
    reason: Option<&str>,
    since: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(orders::table.find(order_id))
        .set((
            orders::waiting_reason.eq(reason),
            orders::waiting_since.eq(Some(since)),
        ))
        .execute(conn)
        .map(|_| ())
}

/// An order still under way: the one SQL form of "open" (not in
/// [`OrderState::FINAL`]).
pub fn order_is_open() -> diesel::dsl::NeAny<orders::state, [&'static str; 4]> {
    orders::state.ne_all(OrderState::final_names())
}

/// Whether the alarm an install order put in is cancelled or terminated: the
/// order itself cancelled or declined, or an uninstall order (not cancelled)
/// of the same customer and service received after it.
pub fn alarm_terminated(conn: &mut DbConn, install: &OrderRow) -> QueryResult<bool> {
    if matches!(install.state, OrderState::Cancelled | OrderState::Declined) {
        return Ok(true);
    }
    let uninstalls: i64 = orders::table
        .filter(orders::customer_id.eq(&install.customer_id))
        .filter(orders::service.eq(install.service))
        .filter(orders::kind.eq(OrderKind::Uninstall))
        .filter(orders::state.ne(OrderState::Cancelled))
        .filter(orders::received_at.ge(install.received_at))
        .count()
        .get_result(conn)?;
    Ok(uninstalls > 0)
}

pub fn open_orders_of_decision(conn: &mut DbConn, decision_id: &str) -> QueryResult<Vec<OrderRow>> {
    orders::table
        .filter(orders::decision_id.eq(decision_id))
        .filter(order_is_open())
        .select(OrderRow::as_select())
        .load(conn)
}

#[derive(Debug, Default, Clone)]
pub struct OrderFilter {
    pub state: Option<String>,
    pub kind: Option<String>,
    pub team_group_id: Option<String>,
    pub area_id: Option<String>,
    pub customer_id: Option<String>,
    pub assigned_installer_id: Option<String>,
    pub visit_from: Option<NaiveDate>,
    pub visit_to: Option<NaiveDate>,
    pub open_only: bool,
    pub after: Option<(NaiveDateTime, String)>,
    pub limit: i64,
}

pub fn list_orders(
    conn: &mut DbConn,
    scope: &CustomerScope,
    f: &OrderFilter,
) -> QueryResult<Vec<OrderRow>> {
    let mut q = orders::table.select(OrderRow::as_select()).into_boxed();
    q = visible_to!(q, scope, orders::customer_id);
    if let Some(v) = &f.state {
        q = q.filter(orders::state.eq(v.clone()));
    }
    if let Some(v) = &f.kind {
        q = q.filter(orders::kind.eq(v.clone()));
    }
    if let Some(v) = &f.team_group_id {
        q = q.filter(orders::team_group_id.eq(v.clone()));
    }
    if let Some(v) = &f.area_id {
        let in_area = customers::table
            .filter(customers::area_id.eq(v.clone()))
            .select(customers::id);
        q = q.filter(orders::customer_id.eq_any(in_area));
    }
    if let Some(v) = &f.customer_id {
        q = q.filter(orders::customer_id.eq(v.clone()));
    }
    if let Some(v) = &f.assigned_installer_id {
        q = q.filter(orders::assigned_installer_id.eq(v.clone()));
    }
    if let Some(v) = f.visit_from {
        q = q.filter(orders::visit_date.ge(v));
    }
    if let Some(v) = f.visit_to {
        q = q.filter(orders::visit_date.le(v));
    }
    if f.open_only {
        q = q.filter(order_is_open());
    }
    if let Some((at, id)) = &f.after {
        q = q.filter(
            orders::received_at
                .gt(*at)
                .or(orders::received_at.eq(*at).and(orders::id.gt(id.clone()))),
        );
    }
    q.order((orders::received_at.asc(), orders::id.asc()))
        .limit(f.limit)
        .load(conn)
}

pub fn insert_transition(conn: &mut DbConn, row: &TransitionRow) -> QueryResult<()> {
    diesel::insert_into(order_transitions::table)
        .values(row)
        .execute(conn)?;
    let customer_id: String = orders::table
        .find(&row.order_id)
        .select(orders::customer_id)
        .first(conn)?;
    super::outbox::event(
        conn,
        "order.transitioned",
        Some(&customer_id),
        crate::event_data!("order_id": row.order_id, "transition_id": row.id, "event": row.event, "from_state": row.from_state, "to_state": row.to_state),
    )
}

pub fn transitions_of(conn: &mut DbConn, order_id: &str) -> QueryResult<Vec<TransitionRow>> {
    order_transitions::table
        .filter(order_transitions::order_id.eq(order_id))
        .select(TransitionRow::as_select())
        .order((order_transitions::at, order_transitions::id))
        .load(conn)
}

pub fn insert_contact(conn: &mut DbConn, row: &ContactRow) -> QueryResult<()> {
    diesel::insert_into(order_contacts::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

pub fn contacts_of(conn: &mut DbConn, order_id: &str) -> QueryResult<Vec<ContactRow>> {
    order_contacts::table
        .filter(order_contacts::order_id.eq(order_id))
        .select(ContactRow::as_select())
        .order((order_contacts::at, order_contacts::id))
        .load(conn)
}

pub fn insert_execution(conn: &mut DbConn, row: &ExecutionRow) -> QueryResult<()> {
    diesel::insert_into(executions::table)
        .values(row)
        .execute(conn)?;
    super::outbox::event(
        conn,
        "execution.started",
        Some(&row.customer_id),
        crate::event_data!("execution_id": row.id, "order_id": row.order_id, "service": row.service, "kind": row.kind, "start_date": row.start_date),
    )
}

pub fn executions_of(conn: &mut DbConn, customer_id: &str) -> QueryResult<Vec<ExecutionRow>> {
    executions::table
        .filter(executions::customer_id.eq(customer_id))
        .select(ExecutionRow::as_select())
        .order((executions::start_date, executions::id))
        .load(conn)
}

/// The running (not ended) execution of a service for a customer, of a kind.
pub fn running_execution(
    conn: &mut DbConn,
    customer_id: &str,
    service: Service,
    kind: &str,
) -> QueryResult<Option<ExecutionRow>> {
    executions::table
        .filter(executions::customer_id.eq(customer_id))
        .filter(executions::service.eq(service))
        .filter(executions::kind.eq(kind))
        .filter(executions::end_date.is_null())
        .select(ExecutionRow::as_select())
        .first(conn)
        .optional()
}

pub fn end_execution(conn: &mut DbConn, id: &str, end: NaiveDate) -> QueryResult<bool> {
    let ended = diesel::update(
        executions::table.filter(executions::id.eq(id).and(executions::end_date.is_null())),
    )
    .set(executions::end_date.eq(Some(end)))
    .execute(conn)?
        == 1;
    if ended {
        let customer_id: String = executions::table
            .find(id)
            .select(executions::customer_id)
            .first(conn)?;
        super::outbox::event(
            conn,
            "execution.ended",
            Some(&customer_id),
            crate::event_data!("execution_id": id, "end_date": end),
        )?;
    }
    Ok(ended)
}

pub fn insert_billing_event(conn: &mut DbConn, row: &BillingEventRow) -> QueryResult<()> {
    diesel::insert_into(billing_events::table)
        .values(row)
        .execute(conn)?;
    super::outbox::event(
        conn,
        &format!("billing.{}", row.kind),
        Some(&row.customer_id),
        crate::event_data!("billing_event_id": row.id, "execution_id": row.execution_id, "service": row.service, "date": row.event_date, "own_invoice_line": row.own_invoice_line),
    )
}

pub fn billing_events_between(
    conn: &mut DbConn,
    from: NaiveDate,
    to: NaiveDate,
) -> QueryResult<Vec<BillingEventRow>> {
    billing_events::table
        .filter(
            billing_events::event_date
                .ge(from)
                .and(billing_events::event_date.le(to)),
        )
        .select(BillingEventRow::as_select())
        .order((
            billing_events::event_date,
            billing_events::created_at,
            billing_events::id,
        ))
        .load(conn)
}

pub fn billing_events_of(
    conn: &mut DbConn,
    customer_id: &str,
) -> QueryResult<Vec<BillingEventRow>> {
    billing_events::table
        .filter(billing_events::customer_id.eq(customer_id))
        .select(BillingEventRow::as_select())
        .order((billing_events::event_date, billing_events::created_at))
        .load(conn)
}
