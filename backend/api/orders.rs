//! Orders and their transitions. Each event of the state machine is its own
//! operation with a typed body; all of them go through `transition`, which
//! checks visibility, role, version and state in that order.

use super::concurrency::{etag, expected_version};
use super::customers::load_visible;
use super::json::Json;
use super::notify::{self, About};
use super::pagination::{self, Page};
use super::validation::Problems;
use crate::auth::permissions::{roles_allowed, stored_role_may_hold, Duty};
use crate::auth::{allows, Action, Actor};
use crate::db::{self, audit, customers, lifecycle, DbConn};
use crate::domain::custody::{KeyCount, KeyNumber, KeyPosition};
use crate::domain::messages::{self, Text, Topic};
use crate::domain::order::{allowed_events_for, next_state};
use crate::domain::{GroupKind, OrderEvent, OrderKind, OrderState, Service};
use crate::error::{AppError, Problem};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/orders").route(web::get().to(list_orders)));
    cfg.service(web::resource("/orders/{id}").route(web::get().to(get_order)));
    cfg.service(web::resource("/orders/{id}/contacts").route(web::post().to(log_contact)));
    cfg.service(
        web::resource("/orders/{id}/return-to-assessor").route(web::post().to(return_to_assessor)),
    );
    cfg.service(web::resource("/orders/{id}/resubmit").route(web::post().to(resubmit)));
    cfg.service(web::resource("/orders/{id}/book").route(web::post().to(book)));
    cfg.service(web::resource("/orders/{id}/receive-keys").route(web::post().to(receive_keys)));
    cfg.service(web::resource("/orders/{id}/install").route(web::post().to(install)));
    cfg.service(web::resource("/orders/{id}/execute").route(web::post().to(execute)));
    cfg.service(
        web::resource("/orders/{id}/collect-equipment").route(web::post().to(collect_equipment)),
    );
    cfg.service(web::resource("/orders/{id}/return-keys").route(web::post().to(return_keys)));
    cfg.service(web::resource("/orders/{id}/end").route(web::post().to(end)));
    cfg.service(web::resource("/orders/{id}/decline").route(web::post().to(decline)));
    cfg.service(web::resource("/orders/{id}/cancel").route(web::post().to(cancel)));
    cfg.service(
        web::resource("/orders/{id}/order-from-supplier")
            .route(web::post().to(order_from_supplier)),
    );
    cfg.service(
        web::resource("/orders/{id}/collect-lock-receipt")
            .route(web::post().to(collect_lock_receipt)),
    );
}

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
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SupplierOrder {
    #[schema(example = "Tunstall")]
    pub supplier: String,
    pub reference: Option<String>,
    /// Not later than today.
    pub ordered_on: NaiveDate,
}

pub fn order_dto(o: lifecycle::OrderRow) -> Result<Order, AppError> {
    let kind: OrderKind = AppError::parse_stored(&o.kind)?;
    let state: OrderState = AppError::parse_stored(&o.state)?;
    let service: Service = AppError::parse_stored(&o.service)?;
    Ok(Order {
        allowed_events: allowed_events_for(kind, service, state),
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
    })
}

pub fn new_order(
    decision: &lifecycle::DecisionRow,
    customer_id: &str,
    kind: OrderKind,
    service: Service,
    team: Option<String>,
    end_date: Option<NaiveDate>,
) -> lifecycle::OrderRow {
    let now = db::now();
    lifecycle::OrderRow {
        id: db::new_id(),
        customer_id: customer_id.to_string(),
        decision_id: decision.id.clone(),
        kind: kind.as_str().to_string(),
        service: service.as_str().to_string(),
        state: OrderState::Received.as_str().to_string(),
        team_group_id: team,
        assigned_installer_id: None,
        visit_at: None,
        visit_date: None,
        installation_date: None,
        end_date,
        serials: None,
        state_reason: None,
        supplier: None,
        supplier_reference: None,
        supplier_ordered_on: None,
        lock_receipt: None,
        lock_receipt_collected_on: None,
        received_at: now,
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

/// The customer's alarm team, or their area's.
pub fn default_team(
    conn: &mut DbConn,
    customer: &customers::CustomerRow,
    groups: &[String],
) -> Result<Option<String>, AppError> {
    let serving = db::org::find_groups(conn, groups)?;
    if let Some(g) = serving
        .into_iter()
        .find(|g| g.kind == GroupKind::AlarmTeam.as_str())
    {
        return Ok(Some(g.id));
    }
    Ok(db::org::list_groups(conn, Some(&customer.area_id))?
        .into_iter()
        .find(|g| g.kind == GroupKind::AlarmTeam.as_str())
        .map(|g| g.id))
}

pub fn record_transition(
    conn: &mut DbConn,
    user: &Actor,
    order: &lifecycle::OrderRow,
    event: OrderEvent,
    from: &str,
    reason: Option<&str>,
    details: Option<serde_json::Value>,
) -> Result<(), AppError> {
    lifecycle::insert_transition(
        conn,
        &lifecycle::TransitionRow {
            id: db::new_id(),
            order_id: order.id.clone(),
            at: db::now(),
            user_id: user.id.clone(),
            event: event.as_str().to_string(),
            from_state: from.to_string(),
            to_state: order.state.clone(),
            reason: reason.map(str::to_string),
            details: details.map(|d| d.to_string()),
        },
    )?;
    audit::record(
        conn,
        user,
        audit::Entry::new(
            &format!("order.{}", event.as_str()),
            "order",
            Some(&order.id),
        )
        .customer(&order.customer_id)
        .reason(reason),
    )?;
    Ok(())
}

fn order_not_found() -> AppError {
    AppError::not_found("order_not_found", "order", "beställning")
}

/// Loads an order whose customer the caller may see (a denial is audited).
fn load_visible_order(
    conn: &mut DbConn,
    user: &Actor,
    id: &str,
    action: &str,
) -> Result<(lifecycle::OrderRow, customers::CustomerRow, Vec<String>), AppError> {
    let order = lifecycle::find_order(conn, id)?.ok_or_else(order_not_found)?;
    let (customer, groups) = load_visible(conn, user, &order.customer_id, action).map_err(|e| {
        if e.code() == "customer_not_found" {
            order_not_found().denied()
        } else {
            e
        }
    })?;
    Ok((order, customer, groups))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OrderQuery {
    pub state: Option<OrderState>,
    pub kind: Option<OrderKind>,
    /// The team doing the work.
    pub team_group_id: Option<Uuid>,
    pub area_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    pub assigned_installer_id: Option<Uuid>,
    /// Only orders booked to the caller: with `visit_from`/`visit_to`, "my visits today".
    #[serde(default)]
    pub mine: bool,
    /// Booked visits on or after this date.
    pub visit_from: Option<NaiveDate>,
    /// Booked visits on or before this date.
    pub visit_to: Option<NaiveDate>,
    /// Only orders not yet executed, ended, declined or cancelled.
    #[serde(default)]
    pub open: bool,
    #[param(min_length = 1, pattern = r"^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// Orders you may see, oldest first, filtered. The installer's "my visits
/// today" is `?mine=true&visit_from=<today>&visit_to=<today>`.
#[utoipa::path(get, path = "/api/v1/orders", tag = "lifecycle", security(("bearer" = [])),
    params(OrderQuery),
    responses((status = 200, description = "One page of orders", body = Page<Order>)))]
pub async fn list_orders(
    state: web::Data<AppState>,
    user: Actor,
    query: web::Query<OrderQuery>,
) -> Result<HttpResponse, AppError> {
    let q = query.into_inner();
    let limit = pagination::limit(q.limit)?;
    let after = q
        .cursor
        .as_deref()
        .map(pagination::decode_time)
        .transpose()?;
    let filter = lifecycle::OrderFilter {
        state: q.state.map(|s| s.as_str().to_string()),
        kind: q.kind.map(|k| k.as_str().to_string()),
        team_group_id: q.team_group_id.map(|u| u.to_string()),
        area_id: q.area_id.map(|u| u.to_string()),
        customer_id: q.customer_id.map(|u| u.to_string()),
        assigned_installer_id: if q.mine {
            Some(user.id.clone())
        } else {
            q.assigned_installer_id.map(|u| u.to_string())
        },
        visit_from: q.visit_from,
        visit_to: q.visit_to,
        open_only: q.open,
        after,
        limit: limit + 1,
    };
    let scope = user.scope();
    let (rows, more) = state
        .db
        .transaction(move |conn| {
            let mut rows = lifecycle::list_orders(conn, &scope, &filter)?;
            let more = rows.len() as i64 > limit;
            rows.truncate(limit as usize);
            // Each order listed is a read of its customer's case, like `GET /orders/{id}`.
            audit::record_many(
                conn,
                &user,
                rows.iter().map(|o| {
                    audit::Entry::new("order.list", "order", Some(&o.id)).customer(&o.customer_id)
                }),
            )?;
            Ok((rows, more))
        })
        .await?;
    let next_cursor = more
        .then(|| {
            rows.last()
                .map(|o| pagination::encode_time(&o.received_at, &o.id))
        })
        .flatten();
    let items = rows
        .into_iter()
        .map(order_dto)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(Page { items, next_cursor }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Transition {
    pub at: DateTime<Utc>,
    pub user_id: String,
    pub event: OrderEvent,
    pub from: OrderState,
    pub to: OrderState,
    pub reason: Option<String>,
    /// What the event recorded: visit, keys, serials, items…
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ContactKind {
    /// Called the customer.
    Call,
    /// Called; nobody answered.
    NoAnswer,
    /// Agreed a visit.
    VisitBooked,
    Note,
}

impl ContactKind {
    fn as_str(self) -> &'static str {
        match self {
            ContactKind::Call => "call",
            ContactKind::NoAnswer => "no_answer",
            ContactKind::VisitBooked => "visit_booked",
            ContactKind::Note => "note",
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Contact {
    pub at: DateTime<Utc>,
    pub user_id: String,
    pub kind: String,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderDetail {
    pub order: Order,
    /// Every transition: who, when, from, to, why.
    pub history: Vec<Transition>,
    /// Calls, no-answer attempts, visits booked (seed 000 step 2).
    pub contacts: Vec<Contact>,
}

/// The order with its history and contact log, read in the caller's transaction.
fn detail_in(conn: &mut DbConn, order: lifecycle::OrderRow) -> Result<OrderDetail, AppError> {
    let transitions = lifecycle::transitions_of(conn, &order.id)?;
    let contacts = lifecycle::contacts_of(conn, &order.id)?;
    let history = transitions
        .into_iter()
        .map(|t| {
            Ok(Transition {
                at: t.at.and_utc(),
                user_id: t.user_id,
                event: AppError::parse_stored(&t.event)?,
                from: AppError::parse_stored(&t.from_state)?,
                to: AppError::parse_stored(&t.to_state)?,
                reason: t.reason,
                details: t.details.and_then(|d| serde_json::from_str(&d).ok()),
            })
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    let contacts = contacts
        .into_iter()
        .map(|c| Contact {
            at: c.at.and_utc(),
            user_id: c.user_id,
            kind: c.kind,
            note: c.note,
        })
        .collect();
    Ok(OrderDetail {
        order: order_dto(order)?,
        history,
        contacts,
    })
}

/// One order with its history and contact log.
#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "lifecycle", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order", body = OrderDetail, headers(("ETag" = String, description = "Version for If-Match"))),
        (status = 404, description = "No such order, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_order(
    state: web::Data<AppState>,
    user: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner().to_string();
    let d = state
        .db
        .transaction(move |conn| {
            let (order, _, _) = load_visible_order(conn, &user, &id, "order.read")?;
            audit::record(
                conn,
                &user,
                audit::Entry::new("order.read", "order", Some(&id)).customer(&order.customer_id),
            )?;
            detail_in(conn, order)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(d.order.version))
        .json(d))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "no_answer", "note": "Ringde 09:10, inget svar"}))]
pub struct NewContact {
    pub kind: ContactKind,
    #[schema(max_length = 2000, pattern = r"^[^\u0000]*$")]
    pub note: Option<String>,
}

/// Adds to the order's contact log (installer, coordinator). Append-only.
#[utoipa::path(post, path = "/api/v1/orders/{id}/contacts", tag = "lifecycle", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id")),
    request_body = NewContact,
    responses(
        (status = 201, description = "Logged", body = Contact),
        (status = 404, description = "No such order, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn log_contact(
    state: web::Data<AppState>,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<NewContact>,
) -> Result<HttpResponse, AppError> {
    user.require(
        Action::LogOrderContact,
        "log contacts on orders",
        "logga kontakter på beställningar",
    )?;
    let mut p = Problems::default();
    let note = p.optional_text("note", body.note.as_deref(), 2000);
    p.finish()?;
    let kind = body.kind;
    let id = id.into_inner().to_string();
    let row = state
        .db
        .transaction(move |conn| {
            let (order, _, _) = load_visible_order(conn, &user, &id, "order.contact")?;
            let row = lifecycle::ContactRow {
                id: db::new_id(),
                order_id: order.id.clone(),
                at: db::now(),
                user_id: user.id.clone(),
                kind: kind.as_str().to_string(),
                note,
            };
            lifecycle::insert_contact(conn, &row)?;
            audit::record(
                conn,
                &user,
                audit::Entry::new("order.contact", "order", Some(&order.id))
                    .customer(&order.customer_id),
            )?;
            Ok(row)
        })
        .await?;
    Ok(HttpResponse::Created().json(Contact {
        at: row.at.and_utc(),
        user_id: row.user_id,
        kind: row.kind,
        note: row.note,
    }))
}

/// What an event carries, validated before the transaction.
enum Effect {
    Reason(String),
    Note(Option<String>),
    Book {
        date: NaiveDate,
        time: Option<NaiveTime>,
        installer: Option<String>,
    },
    Keys {
        numbers: Vec<KeyNumber>,
        count: KeyCount,
        position: KeyPosition,
        receipt_document_id: Option<String>,
    },
    Install {
        date: NaiveDate,
        serials: Vec<String>,
        lock_receipt_left: bool,
    },
    Supplier {
        supplier: String,
        reference: Option<String>,
        ordered_on: NaiveDate,
    },
    LockReceipt {
        collected_on: NaiveDate,
    },
    Execute,
    Collect {
        date: NaiveDate,
        items: Vec<String>,
        missing: Vec<String>,
    },
    ReturnKeys {
        outcome: KeyOutcome,
        note: Option<String>,
    },
    End,
}

struct Ctx<'a> {
    user: &'a Actor,
    customer: &'a mut customers::CustomerRow,
}

/// What an applied event leaves: the reason and details for the history, and
/// the messages to send.
type Applied = (
    Option<String>,
    Option<serde_json::Value>,
    Vec<(Topic, Text)>,
);

/// Applies an event's effects to the order (and what hangs off it); returns
/// the reason, the details for the history, and the messages to send.
fn apply(
    conn: &mut DbConn,
    ctx: &mut Ctx<'_>,
    order: &mut lifecycle::OrderRow,
    effect: Effect,
) -> Result<Applied, AppError> {
    let service: Service = AppError::parse_stored(&order.service)?;
    let number = ctx.customer.customer_number.clone();
    let svc = service.sv();
    let kind: OrderKind = AppError::parse_stored(&order.kind)?;
    Ok(match effect {
        Effect::Reason(reason) => {
            order.state_reason = Some(reason.clone());
            let msgs = match AppError::parse_stored::<OrderState>(&order.state)? {
                OrderState::Declined => {
                    vec![(Topic::Declined, messages::declined(&number, svc, &reason))]
                }
                OrderState::ReturnedToAssessor => vec![(
                    Topic::ReturnedToAssessor,
                    messages::returned(&number, svc, &reason),
                )],
                OrderState::Cancelled => {
                    vec![(Topic::Cancelled, messages::cancelled(&number, svc, &reason))]
                }
                _ => vec![],
            };
            (Some(reason), None, msgs)
        }
        Effect::Note(note) => {
            order.state_reason = None;
            (note, None, vec![])
        }
        Effect::Book {
            date,
            time,
            installer,
        } => {
            let installer = installer.unwrap_or_else(|| ctx.user.id.clone());
            let ok = db::users::find(conn, &installer)?
                .is_some_and(|u| u.active && stored_role_may_hold(&u.role, Duty::BookedInstaller));
            if !ok {
                let mut p = Problems::default();
                p.add(
                    "installer_id",
                    "not_an_installer",
                    "must be an active user with the role installer",
                    "ska vara en aktiv användare med rollen installatör",
                );
                p.finish()?;
            }
            order.assigned_installer_id = Some(installer.clone());
            order.visit_date = Some(date);
            order.visit_at = time.map(|t| date.and_time(t));
            let details = serde_json::json!({"visit_date": date, "visit_time": time.map(|t| t.format("%H:%M").to_string()), "installer_id": installer});
            lifecycle::insert_contact(
                conn,
                &lifecycle::ContactRow {
                    id: db::new_id(),
                    order_id: order.id.clone(),
                    at: db::now(),
                    user_id: ctx.user.id.clone(),
                    kind: ContactKind::VisitBooked.as_str().to_string(),
                    note: Some(format!(
                        "Besök bokat {date}{}",
                        time.map(|t| format!(" {}", t.format("%H:%M")))
                            .unwrap_or_default()
                    )),
                },
            )?;
            (None, Some(details), vec![])
        }
        Effect::Keys {
            numbers,
            count,
            position: at,
            receipt_document_id,
        } => {
            for n in &numbers {
                super::keys::register_key(
                    conn,
                    ctx.user,
                    &order.customer_id,
                    n,
                    count,
                    &at,
                    Some(&order.id),
                    receipt_document_id.clone(),
                )?;
            }
            let numbers: Vec<&str> = numbers.iter().map(KeyNumber::as_str).collect();
            let count = count.get();
            // The key position is what the night patrol looks up; keep it on the customer card.
            let position = format!(
                "{}, krok {}{}",
                at.cabinet,
                at.hook,
                if at.night_cabinet { " (nattskåp)" } else { "" }
            );
            ctx.customer.key_position = Some(position.clone());
            ctx.customer.version += 1;
            ctx.customer.updated_at = db::now();
            if !customers::update_if_version(conn, ctx.customer, ctx.customer.version - 1)? {
                return Err(AppError::stale_version(ctx.customer.version));
            }
            (
                None,
                Some(
                    serde_json::json!({"key_numbers": numbers, "count": count, "position": position}),
                ),
                vec![],
            )
        }
        Effect::Install {
            date,
            serials,
            lock_receipt_left,
        } => {
            if lock_receipt_left {
                require_lock(service)?;
                order.lock_receipt = Some("left".into());
            }
            super::equipment::install_serials(
                conn,
                ctx.user,
                ctx.customer,
                &order.id,
                service,
                &serials,
            )?;
            order.installation_date = Some(date);
            order.serials = Some(serials.join("\n"));
            let text = messages::installed(&number, svc, date);
            (
                None,
                Some(serde_json::json!({"installation_date": date, "serials": serials})),
                vec![(Topic::Installed, text)],
            )
        }
        Effect::Execute => {
            if kind == OrderKind::Install {
                let start = order.installation_date.ok_or_else(|| {
                    AppError::internal(anyhow::anyhow!("installed order without date"))
                })?;
                if lifecycle::running_execution(
                    conn,
                    &order.customer_id,
                    &order.service,
                    "regular",
                )?
                .is_some()
                {
                    return Err(AppError::new(
                        StatusCode::CONFLICT,
                        "already_executed",
                        "The customer already has a running execution of this service.",
                        "Kunden har redan en pågående verkställighet av denna insats.",
                    ));
                }
                let execution = lifecycle::ExecutionRow {
                    id: db::new_id(),
                    customer_id: order.customer_id.clone(),
                    order_id: Some(order.id.clone()),
                    decision_id: Some(order.decision_id.clone()),
                    service: order.service.clone(),
                    kind: "regular".into(),
                    billable: true,
                    start_date: start,
                    end_date: None,
                    created_at: db::now(),
                };
                lifecycle::insert_execution(conn, &execution)?;
                lifecycle::insert_billing_event(
                    conn,
                    &lifecycle::BillingEventRow {
                        id: db::new_id(),
                        customer_id: order.customer_id.clone(),
                        execution_id: execution.id.clone(),
                        service: order.service.clone(),
                        kind: "start".into(),
                        event_date: start,
                        own_invoice_line: ctx.customer.other_municipality,
                        created_at: db::now(),
                    },
                )?;
                (
                    None,
                    Some(serde_json::json!({"execution_id": execution.id, "start_date": start})),
                    vec![],
                )
            } else {
                // An extension continues the running execution; billing goes on unchanged.
                let running = lifecycle::running_execution(
                    conn,
                    &order.customer_id,
                    &order.service,
                    "regular",
                )?;
                (
                    None,
                    Some(serde_json::json!({"execution_id": running.map(|e| e.id)})),
                    vec![],
                )
            }
        }
        Effect::Collect {
            date,
            items,
            missing,
        } => {
            super::equipment::collect(
                conn,
                ctx.user,
                &order.customer_id,
                &order.id,
                &items,
                &missing,
            )?;
            let text = messages::collected(&number, svc, date, &missing);
            (
                None,
                Some(serde_json::json!({"collected_on": date, "items": items, "missing": missing})),
                vec![(Topic::EquipmentCollected, text)],
            )
        }
        Effect::Supplier {
            supplier,
            reference,
            ordered_on,
        } => {
            require_lock(service)?;
            let details = serde_json::json!({"supplier": supplier, "reference": reference, "ordered_on": ordered_on});
            order.supplier = Some(supplier);
            order.supplier_reference = reference;
            order.supplier_ordered_on = Some(ordered_on);
            (None, Some(details), vec![])
        }
        Effect::LockReceipt { collected_on } => {
            if order.lock_receipt.as_deref() != Some("left") {
                return Err(AppError::new(
                    StatusCode::CONFLICT,
                    "no_lock_receipt_left",
                    "No lock receipt is waiting at the customer's (the installation did not record one, or it was already collected).",
                    "Ingen låskvittens väntar hos kunden (installationen angav ingen, eller så är den redan hämtad).",
                ));
            }
            order.lock_receipt = Some("collected".into());
            order.lock_receipt_collected_on = Some(collected_on);
            (
                None,
                Some(serde_json::json!({"collected_on": collected_on})),
                vec![],
            )
        }
        Effect::ReturnKeys { outcome, note } => {
            let mut returned = Vec::new();
            if matches!(outcome, KeyOutcome::Returned) {
                for mut k in crate::db::custody::keys_of_customer(conn, &order.customer_id)? {
                    if k.custody == "returned" {
                        continue;
                    }
                    let change = super::keys::KeyChange {
                        mv: crate::domain::custody::KeyMove::ReturnToCustomer,
                        to_group: None,
                        to_user: None,
                        cabinet: None,
                        order_id: Some(&order.id),
                        receipt_document_id: None,
                        note: None,
                    };
                    super::keys::move_key(conn, ctx.user, &mut k, change)?;
                    returned.push(k.key_number);
                }
            }
            (
                note,
                Some(serde_json::json!({"outcome": outcome, "keys_returned": returned})),
                vec![],
            )
        }
        Effect::End => {
            let end = order.end_date.ok_or_else(|| {
                AppError::internal(anyhow::anyhow!("uninstall order without end date"))
            })?;
            let running =
                lifecycle::running_execution(conn, &order.customer_id, &order.service, "regular")?
                    .ok_or_else(|| {
                        AppError::new(
                            StatusCode::CONFLICT,
                            "no_running_execution",
                            "There is no running execution of this service to end.",
                            "Det finns ingen pågående verkställighet av insatsen att avsluta.",
                        )
                    })?;
            lifecycle::end_execution(conn, &running.id, end)?;
            lifecycle::insert_billing_event(
                conn,
                &lifecycle::BillingEventRow {
                    id: db::new_id(),
                    customer_id: order.customer_id.clone(),
                    execution_id: running.id.clone(),
                    service: order.service.clone(),
                    kind: "stop".into(),
                    event_date: end,
                    own_invoice_line: ctx.customer.other_municipality,
                    created_at: db::now(),
                },
            )?;
            // The night patrol's visibility ends with the service.
            if let Some(night) = lifecycle::running_execution(
                conn,
                &order.customer_id,
                &order.service,
                "night_visibility",
            )? {
                lifecycle::end_execution(conn, &night.id, end)?;
            }
            (
                None,
                Some(serde_json::json!({"execution_id": running.id, "end_date": end})),
                vec![],
            )
        }
    })
}

fn require_lock(service: Service) -> Result<(), AppError> {
    if service == Service::DigitalLock {
        return Ok(());
    }
    Err(AppError::new(
        StatusCode::CONFLICT,
        "not_a_lock_order",
        "This applies only to digital-lock orders.",
        "Detta gäller bara beställningar av digitalt lås.",
    ))
}

/// The one path every transition takes.
async fn transition(
    state: &AppState,
    req: &HttpRequest,
    user: Actor,
    id: Uuid,
    event: OrderEvent,
    effect: Effect,
) -> Result<HttpResponse, AppError> {
    let expected = expected_version(req)?;
    let id = id.to_string();
    let rules = state.settings.message_rules.clone();
    let action = format!("order.{}", event.as_str());
    let d = state
        .db
        .transaction(move |conn| {
            let (mut order, mut customer, groups) = load_visible_order(conn, &user, &id, &action)?;
            if !allows(user.role, Action::Order(event)) {
                let roles: Vec<&str> = roles_allowed(Action::Order(event))
                    .iter()
                    .map(|r| r.as_str())
                    .collect();
                return Err(AppError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    format!(
                        "Only {} may {} an order.",
                        roles.join(" or "),
                        event.as_str().replace('_', " ")
                    ),
                    format!(
                        "Endast {} får utföra {} på en beställning.",
                        roles.join(" eller "),
                        event.as_str()
                    ),
                ));
            }
            if order.version != expected {
                return Err(AppError::stale_version(order.version));
            }
            let kind: OrderKind = AppError::parse_stored(&order.kind)?;
            let from: OrderState = AppError::parse_stored(&order.state)?;
            let Some(to) = next_state(kind, from, event) else {
                let allowed =
                    allowed_events_for(kind, AppError::parse_stored(&order.service)?, from);
                let list = |name: fn(&OrderEvent) -> &'static str, none: &str| {
                    if allowed.is_empty() {
                        none.to_string()
                    } else {
                        allowed.iter().map(name).collect::<Vec<_>>().join(", ")
                    }
                };
                return Err(AppError::new(
                    StatusCode::CONFLICT,
                    "invalid_transition",
                    format!(
                        "A {} order in state '{}' cannot {}. Allowed from here: {}.",
                        kind.as_str(),
                        from.as_str(),
                        event.as_str(),
                        list(|e| e.as_str(), "nothing (the order is closed)")
                    ),
                    format!(
                        "Beställningen ({}) är {} och kan inte {}. Det som går härifrån: {}.",
                        kind.sv(),
                        from.sv(),
                        event.sv(),
                        list(|e| e.sv(), "inget (beställningen är avslutad)")
                    ),
                ));
            };
            order.state = to.as_str().to_string();
            let (reason, details, outgoing) = apply(
                conn,
                &mut Ctx {
                    user: &user,
                    customer: &mut customer,
                },
                &mut order,
                effect,
            )?;
            order.version += 1;
            order.updated_at = db::now();
            if !lifecycle::update_order_if_version(conn, &order, expected)? {
                return Err(AppError::stale_version(expected + 1));
            }
            record_transition(
                conn,
                &user,
                &order,
                event,
                from.as_str(),
                reason.as_deref(),
                details,
            )?;
            let about = About {
                customer: &customer,
                customer_groups: &groups,
                order_id: Some(&order.id),
                sender_id: Some(&user.id),
            };
            for (topic, text) in outgoing {
                notify::send(conn, &rules, topic, &about, text)?;
            }
            detail_in(conn, order)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(d.order.version))
        .json(d))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "Fel insats angiven i beställningen"}))]
pub struct ReasonBody {
    #[schema(
        min_length = 1,
        max_length = 1000,
        pattern = r"^[^\u0000]*[^\u0000\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000]*$"
    )]
    pub reason: String,
}

fn reason(body: &ReasonBody) -> Result<Effect, AppError> {
    let mut p = Problems::default();
    let r = p.text("reason", &body.reason, 1000);
    p.finish()?;
    Ok(Effect::Reason(r))
}

macro_rules! transition_doc {
    ($fn:ident, $seg:literal, $event:expr, $body:ty, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = concat!("/api/v1/orders/{id}/", $seg), tag = "lifecycle", security(("bearer" = [])),
            params(("id" = Uuid, Path, description = "Order id"), ("If-Match" = String, Header, description = "The order's version")),
            request_body = $body,
            responses(
                (status = 200, description = "Done; the order as it is now", body = OrderDetail, headers(("ETag" = String, description = "New version"))),
                (status = 404, description = "No such order, or not one you may see", body = Problem, content_type = "application/problem+json"),
                (status = 409, description = "Not allowed in the order's state (the message lists what is), or a rule of the routine refuses it", body = Problem, content_type = "application/problem+json"),
                (status = 412, description = "The order changed since you read it", body = Problem, content_type = "application/problem+json"),
                (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json"),
            ))]
        pub async fn $fn(
            state: web::Data<AppState>,
            req: HttpRequest,
            user: Actor,
            id: web::Path<Uuid>,
            body: Json<$body>,
        ) -> Result<HttpResponse, AppError> {
            let effect = effect_of(body.into_inner())?;
            transition(&state, &req, user, id.into_inner(), $event, effect).await
        }
    };
}

trait IntoEffect {
    fn into_effect(self) -> Result<Effect, AppError>;
}

fn effect_of<B: IntoEffect>(b: B) -> Result<Effect, AppError> {
    b.into_effect()
}

impl IntoEffect for ReasonBody {
    fn into_effect(self) -> Result<Effect, AppError> {
        reason(&self)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    #[schema(max_length = 1000, pattern = r"^[^\u0000]*$")]
    pub note: Option<String>,
}

impl IntoEffect for NoteBody {
    fn into_effect(self) -> Result<Effect, AppError> {
        let mut p = Problems::default();
        let n = p.optional_text("note", self.note.as_deref(), 1000);
        p.finish()?;
        Ok(Effect::Note(n))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"visit_date": "2026-11-24", "visit_time": "09:30"}))]
pub struct BookBody {
    /// The visit's local date.
    pub visit_date: NaiveDate,
    /// Local time, HH:MM.
    pub visit_time: Option<String>,
    /// The installer who goes; default: you.
    pub installer_id: Option<Uuid>,
}

impl IntoEffect for BookBody {
    fn into_effect(self) -> Result<Effect, AppError> {
        let mut p = Problems::default();
        let time = match self.visit_time.as_deref() {
            None => None,
            Some(t) => match NaiveTime::parse_from_str(t, "%H:%M") {
                Ok(t) => Some(t),
                Err(_) => {
                    p.add(
                        "visit_time",
                        "invalid",
                        "a time of day as HH:MM, e.g. 09:30",
                        "ett klockslag som TT:MM, till exempel 09:30",
                    );
                    None
                }
            },
        };
        p.finish()?;
        Ok(Effect::Book {
            date: self.visit_date,
            time,
            installer: self.installer_id.map(|u| u.to_string()),
        })
    }
}

/// A key number as written on the tag: the rules of `key_number` on
/// `POST /api/v1/keys` (letters, digits, `/` and `.`, grouped by spaces or dashes).
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct KeyNumberText(pub String);

impl utoipa::PartialSchema for KeyNumberText {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        text_item(
            50,
            r"^[\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[ \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\-\u2010-\u2015\u2212\uFE63\uFF0D]*[0-9A-Za-zÅÄÖÆØÜÉåäöæøüé/.](?:[ \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\-\u2010-\u2015\u2212\uFE63\uFF0D]*[0-9A-Za-zÅÄÖÆØÜÉåäöæøüé/.])*[ \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\-\u2010-\u2015\u2212\uFE63\uFF0D]*[\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$",
            "A key number as on the tag.",
        )
    }
}
impl utoipa::ToSchema for KeyNumberText {}

/// A serial number: not blank, at most 100 characters.
#[derive(Debug, Deserialize)]
#[serde(transparent)]
pub struct SerialText(pub String);

impl utoipa::PartialSchema for SerialText {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        text_item(
            100,
            r"^[^\u0000]*[^\u0000\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000]*$",
            "A serial number, not blank.",
        )
    }
}
impl utoipa::ToSchema for SerialText {}

/// A string item of a list, with what the server refuses stated.
fn text_item(
    max: usize,
    pattern: &str,
    description: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(pattern))
        .description(Some(description))
        .into()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"key_numbers": ["B-1042"], "count": 2, "cabinet": "Skåp 2", "hook": "14"}))]
pub struct ReceiveKeysBody {
    /// The numbers on the key tags (nyckelnummer); each goes into the key register.
    #[schema(inline, min_items = 1)]
    pub key_numbers: Vec<KeyNumberText>,
    /// How many physical keys each number stands for.
    #[schema(minimum = 1, maximum = 20)]
    pub count: i32,
    /// Where they hang; becomes the customer's key position.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u001F\u007F-\u009F\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub cabinet: String,
    #[schema(
        min_length = 1,
        max_length = 20,
        pattern = r"^[\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u001F\u007F-\u009F\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub hook: String,
    /// In the separate night cabinet.
    #[serde(default)]
    pub night_cabinet: bool,
    /// The signed nyckelkvittens, once photographed: the id of a document of this
    /// customer (otherwise 422 `unknown`).
    pub receipt_document_id: Option<Uuid>,
}

impl IntoEffect for ReceiveKeysBody {
    fn into_effect(self) -> Result<Effect, AppError> {
        let mut p = Problems::default();
        let mut numbers: Vec<KeyNumber> = Vec::new();
        for (i, KeyNumberText(n)) in self.key_numbers.iter().enumerate() {
            if let Some(n) = p.key(KeyNumber::parse(n), Some(&format!("key_numbers[{i}]"))) {
                if numbers.contains(&n) {
                    p.add(
                        &format!("key_numbers[{i}]"),
                        "duplicate",
                        format!("{n} is already in the list (key numbers are compared without regard to case, spaces or dashes); give each key number once"),
                        format!("{n} finns redan i listan (stora och små bokstäver, mellanslag och bindestreck räknas inte); ange varje nyckelnummer en gång"),
                    );
                } else {
                    numbers.push(n);
                }
            }
        }
        if self.key_numbers.is_empty() {
            p.add(
                "key_numbers",
                "required",
                "at least one key number",
                "ange minst ett nyckelnummer",
            );
        }
        let count = p.key(KeyCount::new(self.count), None);
        let position = p.key_position(KeyPosition::parse(
            &self.cabinet,
            &self.hook,
            self.night_cabinet,
        ));
        let (count, position) = p.finish_with(count.zip(position))?;
        Ok(Effect::Keys {
            numbers,
            count,
            position,
            receipt_document_id: self.receipt_document_id.map(|u| u.to_string()),
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"installation_date": "2026-11-24", "serials": ["TX-4471-0098", "WB-22-31877"]}))]
pub struct InstallBody {
    /// The day it was installed, not later than today. Execution and billing start on this date.
    pub installation_date: NaiveDate,
    /// Serial numbers of the equipment left at the customer's, each not blank.
    #[schema(inline, min_items = 1)]
    pub serials: Vec<SerialText>,
    /// For a digital lock: the fitter left the lock receipt (låskvittens) at the customer's.
    #[serde(default)]
    pub lock_receipt_left: bool,
}

impl IntoEffect for InstallBody {
    fn into_effect(self) -> Result<Effect, AppError> {
        let mut p = Problems::default();
        if self.installation_date > crate::domain::calendar::today() {
            p.add(
                "installation_date",
                "in_future",
                "cannot be later than today",
                "kan inte vara senare än i dag",
            );
        }
        let mut serials: Vec<String> = Vec::new();
        for (i, SerialText(s)) in self.serials.iter().enumerate() {
            match s.trim() {
                "" => p.add(
                    &format!("serials[{i}]"),
                    "required",
                    "the serial number is missing; fill it in",
                    "serienumret saknas; fyll i det",
                ),
                s if s.chars().count() > 100 => p.add(
                    &format!("serials[{i}]"),
                    "too_long",
                    "at most 100 characters",
                    "högst 100 tecken",
                ),
                s => serials.push(s.to_string()),
            }
        }
        if self.serials.is_empty() {
            p.add(
                "serials",
                "required",
                "name the serial number of at least one unit",
                "ange serienumret för minst en enhet",
            );
        }
        p.finish()?;
        Ok(Effect::Install {
            date: self.installation_date,
            serials,
            lock_receipt_left: self.lock_receipt_left,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyBody {}

impl IntoEffect for EmptyBody {
    fn into_effect(self) -> Result<Effect, AppError> {
        Ok(Effect::Execute)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndBody {}

impl IntoEffect for EndBody {
    fn into_effect(self) -> Result<Effect, AppError> {
        Ok(Effect::End)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"collected_on": "2026-11-25", "items": ["TX-4471-0098"], "missing": ["WB-22-31877"]}))]
pub struct CollectBody {
    /// Not later than today.
    pub collected_on: NaiveDate,
    /// Serials brought back. `items` and `missing` may not both be empty.
    pub items: Vec<String>,
    /// Serials that could not be found.
    #[serde(default)]
    pub missing: Vec<String>,
}

impl IntoEffect for CollectBody {
    fn into_effect(self) -> Result<Effect, AppError> {
        let mut p = Problems::default();
        if self.collected_on > crate::domain::calendar::today() {
            p.add(
                "collected_on",
                "in_future",
                "cannot be later than today",
                "kan inte vara senare än i dag",
            );
        }
        if self.items.is_empty() && self.missing.is_empty() {
            p.add(
                "items",
                "required",
                "list what was collected, or what is missing",
                "ange vad som hämtades eller vad som saknas",
            );
        }
        p.finish()?;
        Ok(Effect::Collect {
            date: self.collected_on,
            items: self.items,
            missing: self.missing,
        })
    }
}

#[derive(Debug, Deserialize, Serialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum KeyOutcome {
    /// Handed back to the customer.
    Returned,
    /// Kept, because other services go on (seed 003).
    Kept,
    /// The organisation held no keys.
    NoneHeld,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"outcome": "returned"}))]
pub struct ReturnKeysBody {
    pub outcome: KeyOutcome,
    #[schema(max_length = 1000, pattern = r"^[^\u0000]*$")]
    pub note: Option<String>,
}

impl IntoEffect for ReturnKeysBody {
    fn into_effect(self) -> Result<Effect, AppError> {
        let mut p = Problems::default();
        let note = p.optional_text("note", self.note.as_deref(), 1000);
        p.finish()?;
        Ok(Effect::ReturnKeys {
            outcome: self.outcome,
            note,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"supplier": "Tunstall", "reference": "WO-88812", "ordered_on": "2026-11-20"}))]
pub struct SupplierOrderBody {
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000]*[^\u0000\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000]*$"
    )]
    pub supplier: String,
    /// The supplier's order number.
    #[schema(max_length = 100, pattern = r"^[^\u0000]*$")]
    pub reference: Option<String>,
    pub ordered_on: NaiveDate,
}

impl IntoEffect for SupplierOrderBody {
    fn into_effect(self) -> Result<Effect, AppError> {
        let mut p = Problems::default();
        let supplier = p.text("supplier", &self.supplier, 100);
        let reference = p.optional_text("reference", self.reference.as_deref(), 100);
        if self.ordered_on > crate::domain::calendar::today() {
            p.add(
                "ordered_on",
                "in_future",
                "cannot be later than today",
                "kan inte vara senare än i dag",
            );
        }
        p.finish()?;
        Ok(Effect::Supplier {
            supplier,
            reference,
            ordered_on: self.ordered_on,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"collected_on": "2026-11-25"}))]
pub struct LockReceiptBody {
    /// Not later than today.
    pub collected_on: NaiveDate,
}

impl IntoEffect for LockReceiptBody {
    fn into_effect(self) -> Result<Effect, AppError> {
        let mut p = Problems::default();
        if self.collected_on > crate::domain::calendar::today() {
            p.add(
                "collected_on",
                "in_future",
                "cannot be later than today",
                "kan inte vara senare än i dag",
            );
        }
        p.finish()?;
        Ok(Effect::LockReceipt {
            collected_on: self.collected_on,
        })
    }
}

transition_doc!(order_from_supplier, "order-from-supplier", OrderEvent::OrderFromSupplier, SupplierOrderBody,
    "Records that the digital lock was ordered from its supplier (coordinator; seed 001 step 6). The order keeps its state.");
transition_doc!(collect_lock_receipt, "collect-lock-receipt", OrderEvent::CollectLockReceipt, LockReceiptBody,
    "Staff picked up the lock receipt the fitter left at the customer's (care staff, installer; seed 001 step 8), also after execution.");
transition_doc!(return_to_assessor, "return-to-assessor", OrderEvent::ReturnToAssessor, ReasonBody,
    "The order is incorrect: back to the assessor with the reason (installer, coordinator). The assessor is messaged.");
transition_doc!(
    resubmit,
    "resubmit",
    OrderEvent::Resubmit,
    NoteBody,
    "The assessor has corrected a returned order (assessor)."
);
transition_doc!(
    book,
    "book",
    OrderEvent::Book,
    BookBody,
    "Books (or rebooks) the visit (installer). Also logged as a contact."
);
transition_doc!(receive_keys, "receive-keys", OrderEvent::ReceiveKeys, ReceiveKeysBody,
    "The customer's keys are received (installer); their position becomes the customer's key position.");
transition_doc!(install, "install", OrderEvent::Install, InstallBody,
    "Installed on a date with serials (installer). Billing, the night patrol, the home-care group and the alarm team are messaged.");
transition_doc!(execute, "execute", OrderEvent::Execute, EmptyBody,
    "Executes the order (coordinator) with the installation date recorded at install, not today: the execution and billing start on it.");
transition_doc!(collect_equipment, "collect-equipment", OrderEvent::CollectEquipment, CollectBody,
    "Equipment collected (installer): which items came back, which are missing. Billing and the ordinary assessor are messaged.");
transition_doc!(
    return_keys,
    "return-keys",
    OrderEvent::ReturnKeys,
    ReturnKeysBody,
    "Keys handed back, or kept because other services go on (installer)."
);
transition_doc!(
    end,
    "end",
    OrderEvent::End,
    EndBody,
    "Ends the execution (coordinator) with the end date the assessor gave; billing stops on it."
);
transition_doc!(
    decline,
    "decline",
    OrderEvent::Decline,
    ReasonBody,
    "The customer does not want it (installer, coordinator). The assessor is messaged."
);
transition_doc!(
    cancel,
    "cancel",
    OrderEvent::Cancel,
    ReasonBody,
    "The decision was withdrawn (assessor)."
);
