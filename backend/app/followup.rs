//! Follow-up of stalled orders (seed 004), run by a scheduler inside the
//! server and by `larmkoll follow-up`. Each rule fires once per order and
//! period: the `followups` row is the claim, so several server instances on one
//! PostgreSQL database still send one message.

use crate::db::{self, customers, lifecycle, messages, org, users, DbConn};
use crate::domain::followup::{
    keys_outstanding, month_of, one_month_after, registration_overdue, three_months_after, Rule,
};
use crate::domain::messages::Text;
use crate::domain::CustomerScope;
use crate::domain::{GroupKind, OrderKind};
use crate::error::AppError;
use crate::error::ErrorCode;
use chrono::{Duration, NaiveDate};
use diesel::prelude::*;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Fired {
    pub rule: &'static str,
    pub subject_id: String,
    pub period: String,
    pub messages: usize,
}

/// Claims (rule, subject, period) and sends its messages in one transaction;
/// false when it had already fired (here or in another instance).
fn fire(
    conn: &mut DbConn,
    at: chrono::NaiveDateTime,
    rule: Rule,
    subject: &str,
    period: &str,
    send: impl FnOnce(&mut DbConn) -> Result<usize, AppError>,
) -> Result<Option<Fired>, AppError> {
    use db::schema::followups::dsl as f;
    let result = conn.transaction(|c| {
        diesel::insert_into(f::followups)
            .values((
                f::id.eq(db::new_id()),
                f::rule.eq(rule.as_str()),
                f::subject_id.eq(subject),
                f::period.eq(period),
                f::fired_at.eq(at),
            ))
            .execute(c)?;
        send(c)
    });
    match result {
        Ok(n) => Ok(Some(Fired {
            rule: rule.as_str(),
            subject_id: subject.into(),
            period: period.into(),
            messages: n,
        })),
        Err(e) if e.code() == ErrorCode::AlreadyExists => Ok(None),
        Err(e) => Err(e),
    }
}

fn fired_at(
    conn: &mut DbConn,
    rule: Rule,
    subject: &str,
) -> QueryResult<Option<chrono::NaiveDateTime>> {
    use db::schema::followups::dsl as f;
    f::followups
        .filter(f::rule.eq(rule.as_str()).and(f::subject_id.eq(subject)))
        .select(f::fired_at)
        .first(conn)
        .optional()
}

/// What a follow-up message says and what it is about.
struct Note<'a> {
    /// The post its rows share (one per firing of a rule).
    post: &'a str,
    customer: &'a str,
    order: Option<&'a str>,
    topic: &'a str,
    subject: &'a str,
    body: &'a str,
}

fn message(
    conn: &mut DbConn,
    to_group: Option<String>,
    to_user: Option<String>,
    note: &Note<'_>,
) -> QueryResult<()> {
    super::notify::write(
        conn,
        &super::notify::Addressed {
            group_id: to_group,
            user_id: to_user,
            role: None,
            customer_id: Some(note.customer),
            order_id: note.order,
            sender_id: None,
            topic: note.topic,
            post_id: note.post,
            thread_id: None,
            copy: false,
        },
        &Text {
            subject: note.subject.to_string(),
            body: note.body.to_string(),
        },
    )
}

fn alarm_leads(conn: &mut DbConn) -> QueryResult<Vec<users::UserRow>> {
    Ok(users::list(conn)?
        .into_iter()
        .filter(|u| u.alarm_lead && u.active)
        .collect())
}

/// Runs every rule as of `today`; returns what fired now.
pub fn run(
    conn: &mut DbConn,
    today: NaiveDate,
    escalation_days: i64,
) -> Result<Vec<Fired>, AppError> {
    let open = lifecycle::list_orders(
        conn,
        &CustomerScope::All,
        &lifecycle::OrderFilter {
            kind: Some(OrderKind::Install.as_str().into()),
            open_only: true,
            limit: i64::from(i32::MAX),
            ..Default::default()
        },
    )?;
    // Stamped with the day evaluated, so "days since the first message" counts in the same calendar.
    let at = today.and_hms_opt(0, 0, 0).expect("midnight exists");
    let mut fired = Vec::new();
    let mut three_months = Vec::new();
    for order in &open {
        let received = order.received_at.date();
        let Some(customer) = customers::find(conn, &order.customer_id)? else {
            continue;
        };
        let group_ids = customers::groups_of(conn, &customer.id)?;
        let groups = org::find_groups(conn, &group_ids)?;
        let (service, state) = (order.service, order.state);
        let (number, svc) = (customer.customer_number.clone(), service.sv());
        if today >= three_months_after(received) {
            three_months.push((order.clone(), number.clone()));
        }
        if today < one_month_after(received) {
            continue;
        }
        // Seed 004: the area group and the ordinary assessor; only the group for the reception team's customers.
        let reception: Vec<String> = groups
            .iter()
            .filter(|g| g.kind == GroupKind::ReceptionTeam)
            .map(|g| g.id.clone())
            .collect();
        let home: Vec<String> = groups
            .iter()
            .filter(|g| g.kind == GroupKind::HomeCare)
            .map(|g| g.id.clone())
            .collect();
        // What the team noted it waits for; else why it is in its state.
        let reason = order
            .waiting_reason
            .clone()
            .or_else(|| order.state_reason.clone())
            .unwrap_or_else(|| "ingen orsak angiven".into());
        let (subject, body) = (
            format!("Ej verkställt efter en månad – {number}"),
            format!("{svc} för kund {number}, mottagen {received}, är inte verkställt efter en månad. Läge: {}. Orsak: {reason}.", state.sv()),
        );
        let assessor = customer.ordinary_assessor_id.clone();
        if let Some(f) = fire(conn, at, Rule::NotExecuted, &order.id, "1m", |c| {
            let post = db::new_id();
            let mut n = 0;
            let to_groups = if reception.is_empty() {
                home.clone()
            } else {
                reception.clone()
            };
            for g in to_groups {
                message(
                    c,
                    Some(g),
                    None,
                    &Note {
                        post: &post,
                        customer: &customer.id,
                        order: Some(&order.id),
                        topic: "not_executed",
                        subject: &subject,
                        body: &body,
                    },
                )?;
                n += 1;
            }
            if reception.is_empty() {
                if let Some(a) = &assessor {
                    message(
                        c,
                        None,
                        Some(a.clone()),
                        &Note {
                            post: &post,
                            customer: &customer.id,
                            order: Some(&order.id),
                            topic: "not_executed",
                            subject: &subject,
                            body: &body,
                        },
                    )?;
                    n += 1;
                }
            }
            Ok(n)
        })? {
            fired.push(f);
        }
        if keys_outstanding(state) {
            let to = assessor
                .clone()
                .map(|a| (None, Some(a)))
                .or_else(|| reception.first().map(|g| (Some(g.clone()), None)));
            if let Some((group, user)) = to {
                let (s, b) = (
                    format!("Nycklar ej inkomna efter en månad – {number}"),
                    format!("Nycklar för kund {number} har inte kommit in en månad efter beställningen ({received}). Kontakta kunden och hör varför."),
                );
                if let Some(f) = fire(conn, at, Rule::KeysNotReceived, &order.id, "1m", |c| {
                    let post = db::new_id();
                    message(
                        c,
                        group,
                        user,
                        &Note {
                            post: &post,
                            customer: &customer.id,
                            order: Some(&order.id),
                            topic: "keys_not_received",
                            subject: &s,
                            body: &b,
                        },
                    )?;
                    Ok(1)
                })? {
                    fired.push(f);
                }
            }
        }
        // No answer: the order has not moved since the first message and no assessor has written about it; the alarm leads hear, naming the ordinary assessor.
        if let Some(first) = fired_at(conn, Rule::NotExecuted, &order.id)? {
            // An assessor's answer about the order counts as movement (issue 14).
            if today >= first.date() + Duration::days(escalation_days)
                && order.updated_at < first
                && !messages::assessor_wrote_since(conn, &order.id, first)?
            {
                let ordinary = match &assessor {
                    Some(a) => users::find(conn, a)?
                        .map(|u| u.display_name)
                        .unwrap_or_default(),
                    None => "ingen ordinarie handläggare".into(),
                };
                let (s, b) = (
                    format!("Eskalering: ej verkställt – {number}"),
                    format!("{svc} för kund {number} (mottagen {received}) är fortfarande inte verkställt och ordinarie handläggare {ordinary} har inte återkopplat."),
                );
                let leads = alarm_leads(conn)?;
                if let Some(f) = fire(conn, at, Rule::Escalation, &order.id, "1", |c| {
                    let post = db::new_id();
                    for l in &leads {
                        message(
                            c,
                            None,
                            Some(l.id.clone()),
                            &Note {
                                post: &post,
                                customer: &customer.id,
                                order: Some(&order.id),
                                topic: "escalation",
                                subject: &s,
                                body: &b,
                            },
                        )?;
                    }
                    Ok(leads.len())
                })? {
                    fired.push(f);
                }
            }
        }
    }
    fired.extend(platform_registrations(conn, at, today)?);
    if !three_months.is_empty() {
        let leads = alarm_leads(conn)?;
        let lines: Vec<String> = three_months
            .iter()
            .map(|(o, n)| format!("{n} (mottagen {})", o.received_at.date()))
            .collect();
        let body = format!(
            "Beslut som inte verkställts inom tre månader ({}): {}. Underlag för rapport till IVO.",
            lines.len(),
            lines.join(", ")
        );
        let first_customer = three_months[0].0.customer_id.clone();
        if let Some(f) = fire(
            conn,
            at,
            Rule::ThreeMonthList,
            "all",
            &month_of(today),
            |c| {
                let post = db::new_id();
                for l in &leads {
                    message(
                        c,
                        None,
                        Some(l.id.clone()),
                        &Note {
                            post: &post,
                            customer: &first_customer,
                            order: None,
                            topic: "three_month_list",
                            subject: "Ej verkställda beslut efter tre månader",
                            body: &body,
                        },
                    )?;
                }
                Ok(leads.len())
            },
        )? {
            fired.push(f);
        }
    }
    Ok(fired)
}

/// Seed 000 steps 3 and 12: the alarm centre is told, once per alarm, of an
/// alarm installed but not registered in the alarm platform (a button nobody
/// answers) and of one cancelled or terminated but still registered.
fn platform_registrations(
    conn: &mut DbConn,
    at: chrono::NaiveDateTime,
    today: NaiveDate,
) -> Result<Vec<Fired>, AppError> {
    let mut fired = Vec::new();
    for row in db::reports::platform_behind(conn, &CustomerScope::All)? {
        let number = &row.customer_number;
        let (rule, topic, subject, body) = match (&row.registered_on, &row.platform_reference) {
            (None, _) => {
                if !registration_overdue(row.installation_date, today) {
                    continue;
                }
                let installed = row
                    .installation_date
                    .map(|d| format!(" {d}"))
                    .unwrap_or_default();
                (
                    Rule::NotRegistered,
                    "not_registered",
                    format!("Larm ej registrerat i larmplattformen – {number}"),
                    format!("Trygghetslarmet för kund {number} installerades{installed} men är inte registrerat i larmplattformen: ingen tar emot kundens larm. Registrera det och ange plattformens referens på beställningen."),
                )
            }
            (Some(on), reference) => (
                Rule::NotDeregistered,
                "not_deregistered",
                format!("Larm ej avregistrerat i larmplattformen – {number}"),
                format!(
                    "Trygghetslarmet för kund {number} är makulerat eller avslutat men fortfarande registrerat i larmplattformen (sedan {on}{}). Avregistrera det och ange datumet på beställningen.",
                    reference
                        .as_deref()
                        .map(|r| format!(", referens {r}"))
                        .unwrap_or_default()
                ),
            ),
        };
        if let Some(f) = fire(conn, at, rule, &row.order_id, "1", |c| {
            let post = db::new_id();
            super::notify::write(
                c,
                &super::notify::Addressed {
                    group_id: None,
                    user_id: None,
                    role: Some(crate::domain::Role::AlarmCenter.as_str().to_string()),
                    customer_id: Some(&row.customer_id),
                    order_id: Some(&row.order_id),
                    sender_id: None,
                    topic,
                    post_id: &post,
                    thread_id: None,
                    copy: false,
                },
                &Text { subject, body },
            )?;
            Ok(1)
        })? {
            fired.push(f);
        }
    }
    Ok(fired)
}
