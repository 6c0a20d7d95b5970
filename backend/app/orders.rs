//! The order lifecycle's steps (domain.md, "The lifecycle"): every event goes
//! through [`fire`], which checks visibility, role, version and state in that
//! order, applies the event's effects, records the transition and sends the
//! messages the rules name, all in one transaction.

use crate::app::customers::load_visible;
use crate::app::notify::{self, About};
use crate::app::validation::Problems;
use crate::auth::permissions::{may_hold, roles_allowed, Duty};
use crate::auth::{allows, Action};
use crate::db::{self, audit, customers, lifecycle, Db, DbConn};
use crate::domain::custody::{KeyCount, KeyCustody, KeyNumber, KeyOutcome, KeyPosition};
use crate::domain::messages::{self, MessageRules, Text, Topic};
use crate::domain::order::{allowed_events_of, next_state, ContactKind, PlatformRecord};
use crate::domain::{Actor, GroupKind, OrderEvent, OrderKind, OrderState, Period, Service};
use crate::error::ErrorCode;
use crate::error::{AppError, FieldError};
use actix_web::http::StatusCode;
use chrono::{NaiveDate, NaiveTime};

/// An order as a step left it, with its history and contact log.
pub struct OrderRecord {
    pub order: lifecycle::OrderRow,
    pub transitions: Vec<lifecycle::TransitionRow>,
    pub contacts: Vec<lifecycle::ContactRow>,
}

/// The order with its history and contact log, read in the caller's transaction.
pub fn record_of(conn: &mut DbConn, order: lifecycle::OrderRow) -> Result<OrderRecord, AppError> {
    Ok(OrderRecord {
        transitions: lifecycle::transitions_of(conn, &order.id)?,
        contacts: lifecycle::contacts_of(conn, &order.id)?,
        order,
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
        kind,
        service,
        state: OrderState::Received,
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
        waiting_reason: None,
        waiting_since: None,
        platform_reference: None,
        platform_registered_on: None,
        platform_deregistered_on: None,
    }
}

/// The customer's alarm team, or their area's.
pub fn default_team(
    conn: &mut DbConn,
    customer: &customers::CustomerRow,
    groups: &[String],
) -> Result<Option<String>, AppError> {
    let serving = db::org::find_groups(conn, groups)?;
    if let Some(g) = serving.into_iter().find(|g| g.kind == GroupKind::AlarmTeam) {
        return Ok(Some(g.id));
    }
    Ok(db::org::list_groups(conn, Some(&customer.area_id))?
        .into_iter()
        .find(|g| g.kind == GroupKind::AlarmTeam)
        .map(|g| g.id))
}

pub fn record_transition(
    conn: &mut DbConn,
    user: &Actor,
    order: &lifecycle::OrderRow,
    event: OrderEvent,
    from: OrderState,
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
            event,
            from_state: from,
            to_state: order.state,
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

pub fn order_not_found() -> AppError {
    AppError::not_found(ErrorCode::OrderNotFound, "order", "beställning")
}

/// Loads an order whose customer the caller may see (a denial is audited).
pub fn load_visible_order(
    conn: &mut DbConn,
    user: &Actor,
    id: &str,
    action: &str,
) -> Result<(lifecycle::OrderRow, customers::CustomerRow, Vec<String>), AppError> {
    let order = lifecycle::find_order(conn, id)?.ok_or_else(order_not_found)?;
    let (customer, groups) = load_visible(conn, user, &order.customer_id, action).map_err(|e| {
        if e.code() == ErrorCode::CustomerNotFound {
            order_not_found().denied()
        } else {
            e
        }
    })?;
    Ok((order, customer, groups))
}

/// What an event carries, validated before the transaction.
pub enum Effect {
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
    Register {
        reference: String,
        registered_on: NaiveDate,
    },
    Deregister {
        deregistered_on: NaiveDate,
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

/// Fires `event` on order `id` with what the event carries: the one path every
/// step of the lifecycle takes. `expected` is the version the caller read.
pub async fn fire(
    db: &Db,
    rules: MessageRules,
    user: Actor,
    id: String,
    expected: i32,
    event: OrderEvent,
    effect: Effect,
) -> Result<OrderRecord, AppError> {
    let action = format!("order.{}", event.as_str());
    db.transaction(move |conn| {
        let (mut order, mut customer, groups) = load_visible_order(conn, &user, &id, &action)?;
        if !allows(user.role, Action::Order(event)) {
            let roles: Vec<&str> = roles_allowed(Action::Order(event))
                .iter()
                .map(|r| r.as_str())
                .collect();
            return Err(AppError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
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
        let (kind, from) = (order.kind, order.state);
        let Some(to) = next_state(kind, from, event) else {
            let allowed = allowed_events_of(kind, order.service, from, platform_record(&order));
            let list = |name: fn(&OrderEvent) -> &'static str, none: &str| {
                if allowed.is_empty() {
                    none.to_string()
                } else {
                    allowed.iter().map(name).collect::<Vec<_>>().join(", ")
                }
            };
            return Err(AppError::new(
                StatusCode::CONFLICT,
                ErrorCode::InvalidTransition,
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
        order.state = to;
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
        // What it waited for was about the state it leaves.
        order.waiting_reason = None;
        order.waiting_since = None;
        if !lifecycle::update_order_if_version(conn, &order, expected)? {
            return Err(AppError::stale_version(expected + 1));
        }
        record_transition(conn, &user, &order, event, from, reason.as_deref(), details)?;
        let about = About {
            customer: &customer,
            customer_groups: &groups,
            order_id: Some(&order.id),
            sender_id: Some(&user.id),
        };
        for (topic, text) in outgoing {
            notify::send(conn, &rules, topic, &about, text)?;
        }
        record_of(conn, order)
    })
    .await
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
    let service = order.service;
    let number = ctx.customer.customer_number.clone();
    let svc = service.sv();
    let kind = order.kind;
    Ok(match effect {
        Effect::Reason(reason) => {
            order.state_reason = Some(reason.clone());
            let msgs = match order.state {
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
                .is_some_and(|u| u.active && may_hold(u.role, Duty::BookedInstaller));
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
                crate::app::keys::register_key(
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
            check_dated(conn, order, "installation_date", date)?;
            crate::app::equipment::install_serials(
                conn,
                ctx.user,
                ctx.customer,
                &order.id,
                service,
                &serials,
            )?;
            order.installation_date = Some(date);
            order.serials = Some(serials.join("\n"));
            let mut notices = vec![(Topic::Installed, messages::installed(&number, svc, date))];
            if service == Service::DigitalLock {
                notices.push((Topic::LockMounted, messages::lock_mounted(&number, date)));
            }
            (
                None,
                Some(serde_json::json!({"installation_date": date, "serials": serials})),
                notices,
            )
        }
        Effect::Execute => {
            if kind == OrderKind::Install {
                let start = order.installation_date.ok_or_else(|| {
                    AppError::internal(anyhow::anyhow!("installed order without date"))
                })?;
                // The decision may have been shortened since the installation.
                check_dated(conn, order, "installation_date", start)?;
                if lifecycle::running_execution(conn, &order.customer_id, order.service, "regular")?
                    .is_some()
                {
                    return Err(AppError::new(
                        StatusCode::CONFLICT,
                        ErrorCode::AlreadyExecuted,
                        "The customer already has a running execution of this service.",
                        "Kunden har redan en pågående verkställighet av denna insats.",
                    ));
                }
                let execution = lifecycle::ExecutionRow {
                    id: db::new_id(),
                    customer_id: order.customer_id.clone(),
                    order_id: Some(order.id.clone()),
                    decision_id: Some(order.decision_id.clone()),
                    service: order.service,
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
                        service: order.service,
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
                    order.service,
                    "regular",
                )?;
                let Some(running) = running else {
                    return Err(not_running_to_extend(conn, order)?);
                };
                (
                    None,
                    Some(
                        serde_json::json!({"execution_id": running.id, "running_since": running.start_date}),
                    ),
                    vec![],
                )
            }
        }
        Effect::Collect {
            date,
            items,
            missing,
        } => {
            crate::app::equipment::collect(
                conn,
                ctx.user,
                &order.customer_id,
                &order.id,
                &items,
                &missing,
            )?;
            let mut notices = vec![(
                Topic::EquipmentCollected,
                messages::collected(&number, svc, date, &missing),
            )];
            if service == Service::DigitalLock {
                notices.push((Topic::LockRemoved, messages::lock_removed(&number, date)));
            }
            (
                None,
                Some(serde_json::json!({"collected_on": date, "items": items, "missing": missing})),
                notices,
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
                    ErrorCode::NoLockReceiptLeft,
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
        Effect::Register {
            reference,
            registered_on,
        } => {
            require_alarm(service)?;
            if let Some(on) = order.platform_registered_on {
                return Err(AppError::new(
                    StatusCode::CONFLICT,
                    ErrorCode::AlreadyRecorded,
                    format!("The alarm was already registered in the platform on {on}."),
                    format!("Larmet registrerades redan i larmplattformen {on}."),
                ));
            }
            let installed = order.installation_date.unwrap_or(registered_on);
            if registered_on < installed {
                let mut p = Problems::default();
                p.add(
                    "registered_on",
                    "before_installation",
                    format!("cannot be before the installation ({installed})"),
                    format!("kan inte vara före installationen ({installed})"),
                );
                p.finish()?;
            }
            order.platform_reference = Some(reference.clone());
            order.platform_registered_on = Some(registered_on);
            (
                None,
                Some(
                    serde_json::json!({"platform_reference": reference, "registered_on": registered_on}),
                ),
                vec![],
            )
        }
        Effect::Deregister { deregistered_on } => {
            require_alarm(service)?;
            let Some(registered_on) = order.platform_registered_on else {
                return Err(AppError::new(
                    StatusCode::CONFLICT,
                    ErrorCode::NotRegistered,
                    "The alarm was never registered in the platform, so there is nothing to deregister.",
                    "Larmet har aldrig registrerats i larmplattformen, så det finns inget att avregistrera.",
                ));
            };
            if let Some(on) = order.platform_deregistered_on {
                return Err(AppError::new(
                    StatusCode::CONFLICT,
                    ErrorCode::AlreadyRecorded,
                    format!("The alarm was already deregistered from the platform on {on}."),
                    format!("Larmet avregistrerades redan i larmplattformen {on}."),
                ));
            }
            if !lifecycle::alarm_terminated(conn, order)? {
                return Err(AppError::new(
                    StatusCode::CONFLICT,
                    ErrorCode::AlarmStillRunning,
                    "The alarm is neither cancelled nor terminated: deregister it once its decision is ended.",
                    "Larmet är varken makulerat eller avslutat: avregistrera det när beslutet har avslutats.",
                ));
            }
            if deregistered_on < registered_on {
                let mut p = Problems::default();
                p.add(
                    "deregistered_on",
                    "before_registration",
                    format!("cannot be before the registration ({registered_on})"),
                    format!("kan inte vara före registreringen ({registered_on})"),
                );
                p.finish()?;
            }
            order.platform_deregistered_on = Some(deregistered_on);
            (
                None,
                Some(
                    serde_json::json!({"platform_reference": order.platform_reference, "deregistered_on": deregistered_on}),
                ),
                vec![],
            )
        }
        Effect::ReturnKeys { outcome, note } => {
            let mut returned = Vec::new();
            if matches!(outcome, KeyOutcome::Returned) {
                for mut k in crate::db::custody::keys_of_customer(conn, &order.customer_id)? {
                    if k.custody == KeyCustody::Returned {
                        continue;
                    }
                    let change = crate::app::keys::KeyChange {
                        mv: crate::domain::custody::KeyMove::ReturnToCustomer,
                        to_group: None,
                        to_user: None,
                        cabinet: None,
                        order_id: Some(&order.id),
                        receipt_document_id: None,
                        note: None,
                    };
                    crate::app::keys::move_key(conn, ctx.user, &mut k, change)?;
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
                lifecycle::running_execution(conn, &order.customer_id, order.service, "regular")?
                    .ok_or_else(|| {
                    AppError::new(
                        StatusCode::CONFLICT,
                        ErrorCode::NoRunningExecution,
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
                    service: order.service,
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
                order.service,
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

/// Refuses (422, naming `field` and the allowed days) a date of the order
/// outside its decision's period or later than today.
fn check_dated(
    conn: &mut DbConn,
    order: &lifecycle::OrderRow,
    field: &str,
    day: NaiveDate,
) -> Result<(), AppError> {
    let decision = lifecycle::find_decision(conn, &order.decision_id)?.ok_or_else(|| {
        AppError::internal(anyhow::anyhow!("order {} without its decision", order.id))
    })?;
    let period = Period::new(decision.valid_from, decision.valid_to)
        .map_err(|e| AppError::internal(anyhow::anyhow!(e)))?;
    period
        .check_dated(day, crate::domain::calendar::today())
        .map_err(|e| {
            AppError::validation(vec![FieldError::new(
                field,
                "outside_decision_period",
                e.en(),
                e.sv(),
            )])
        })
}

/// An extension continues a running service; with none running (the alarm
/// never installed and executed, or already ended) there is nothing to extend.
fn not_running_to_extend(
    conn: &mut DbConn,
    order: &lifecycle::OrderRow,
) -> Result<AppError, AppError> {
    let open_install = lifecycle::list_orders(
        conn,
        &crate::auth::CustomerScope::All,
        &lifecycle::OrderFilter {
            customer_id: Some(order.customer_id.clone()),
            kind: Some(OrderKind::Install.as_str().to_string()),
            open_only: true,
            limit: 1000,
            ..Default::default()
        },
    )?
    .into_iter()
    .find(|o| o.service == order.service);
    let (en, sv) = match open_install {
        Some(o) => (
            format!(
                "the service is not running: its install order is {} and not executed; execute it first, then the extension",
                o.state.as_str()
            ),
            format!(
                "insatsen pågår inte: installationsbeställningen är {} och inte verkställd; verkställ den först, sedan förlängningen",
                o.state.sv()
            ),
        ),
        _ => (
            "the service is not running (never executed, or already ended): no day is allowed".to_string(),
            "insatsen pågår inte (aldrig verkställd, eller redan avslutad), så förlängningen kan inte verkställas någon dag".to_string(),
        ),
    };
    Ok(AppError::validation(vec![FieldError::new(
        "follows_id",
        "service_not_running",
        en,
        sv,
    )]))
}

/// How far the order's alarm got in the alarm platform.
pub fn platform_record(order: &lifecycle::OrderRow) -> PlatformRecord {
    PlatformRecord {
        registered: order.platform_registered_on.is_some(),
        deregistered: order.platform_deregistered_on.is_some(),
    }
}

fn require_alarm(service: Service) -> Result<(), AppError> {
    if service == Service::SafetyAlarm {
        return Ok(());
    }
    Err(AppError::new(
        StatusCode::CONFLICT,
        ErrorCode::NotAnAlarmOrder,
        "Only a safety alarm is registered in the alarm platform.",
        "Bara trygghetslarm registreras i larmplattformen.",
    ))
}

fn require_lock(service: Service) -> Result<(), AppError> {
    if service == Service::DigitalLock {
        return Ok(());
    }
    Err(AppError::new(
        StatusCode::CONFLICT,
        ErrorCode::NotALockOrder,
        "This applies only to digital-lock orders.",
        "Detta gäller bara beställningar av digitalt lås.",
    ))
}

pub use crate::db::lifecycle::{ContactRow, OrderFilter, OrderRow, TransitionRow};

/// One page of the orders the filter selects among the customers the actor
/// may see, and whether more follow; each order listed is a look at its
/// customer's case, audited like [`read`].
pub async fn list(
    db: &Db,
    user: Actor,
    mut filter: OrderFilter,
    limit: i64,
) -> Result<(Vec<OrderRow>, bool), AppError> {
    let scope = user.scope();
    filter.limit = limit + 1;
    db.read_audited(move |conn| {
        let mut rows = lifecycle::list_orders(conn, &scope, &filter)?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let seen = audit::rows_of(
            &user,
            rows.iter().map(|o| {
                audit::Entry::new("order.list", "order", Some(&o.id)).customer(&o.customer_id)
            }),
        );
        Ok(((rows, more), seen))
    })
    .await
}

/// One order with its history and contact log; the look audited.
pub async fn read(db: &Db, user: Actor, id: String) -> Result<OrderRecord, AppError> {
    db.transaction(move |conn| {
        let (order, _, _) = load_visible_order(conn, &user, &id, "order.read")?;
        audit::record(
            conn,
            &user,
            audit::Entry::new("order.read", "order", Some(&id)).customer(&order.customer_id),
        )?;
        record_of(conn, order)
    })
    .await
}

/// Adds a call or visit attempt to the order's contact log (append-only).
pub async fn log_contact(
    db: &Db,
    user: Actor,
    id: String,
    kind: ContactKind,
    note: Option<String>,
) -> Result<ContactRow, AppError> {
    db.transaction(move |conn| {
        let (order, _, _) = load_visible_order(conn, &user, &id, "order.contact")?;
        let row = ContactRow {
            id: db::new_id(),
            order_id: order.id.clone(),
            at: db::now(),
            user_id: user.id.clone(),
            kind: kind.as_str().to_string(),
            note,
        };
        if kind == ContactKind::Waiting && order.state.is_final() {
            return Err(AppError::new(
                StatusCode::CONFLICT,
                ErrorCode::InvalidTransition,
                format!(
                    "The order is {}: only an open order can wait for something.",
                    order.state.as_str()
                ),
                format!(
                    "Beställningen är {}: bara en pågående beställning kan vänta på något.",
                    order.state.sv()
                ),
            ));
        }
        lifecycle::insert_contact(conn, &row)?;
        if kind == ContactKind::Waiting {
            lifecycle::set_waiting_reason(conn, &order.id, row.note.as_deref(), row.at)?;
        }
        audit::record(
            conn,
            &user,
            audit::Entry::new("order.contact", "order", Some(&order.id))
                .customer(&order.customer_id),
        )?;
        Ok(row)
    })
    .await
}
