//! Reports for the desk: JSON for clients, CSV (`?format=csv`) for spreadsheets.
//! Every report is filtered to the customers the caller may see, and none shows
//! a personnummer.

use crate::app::validation::Problems;
use crate::auth::{Action, Actor};
use crate::db::{audit, custody, customers, lifecycle, org, reports};
use crate::domain::custody::{EquipmentKind, ItemState};
use crate::domain::followup::{keys_outstanding, one_month_after, three_months_after};
use crate::domain::{OrderState, Period, PeriodError, Service};
use crate::error::{AppError, Problem};
use crate::state::AppState;
use actix_web::get;
use actix_web::{web, HttpResponse};
use chrono::{Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};
use utoipa::{IntoParams, ToSchema};

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(not_executed)
        .service(to_collect)
        .service(audit_follow_up)
        .service(deliveries)
        .service(keys_not_received)
        .service(keys_out)
        .service(equipment)
        .service(extensions);
}

fn may_read_reports(user: &Actor) -> Result<(), AppError> {
    user.require(
        Action::ReadDeskReports,
        "read these reports",
        "läsa dessa rapporter",
    )
}

/// Semicolon-separated, CRLF, quoted and formula-safe: what Excel in Sweden opens.
fn csv(
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
    filename: &str,
) -> Result<HttpResponse, AppError> {
    super::export::csv_response(filename, header, rows)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct NotExecutedQuery {
    /// 1 (the follow-up after a month) or 3 (the IVO basis). Default 1.
    #[param(schema_with = months_param)]
    pub months: Option<u32>,
    /// Evaluate as of this day; default today.
    pub as_of: Option<NaiveDate>,
    /// `json` (default) or `csv`.
    #[param(schema_with = format_param)]
    pub format: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NotExecutedRow {
    pub order_id: String,
    pub customer_number: String,
    pub area: String,
    pub service: String,
    pub received: NaiveDate,
    pub state: String,
    pub reason: Option<String>,
    pub ordinary_assessor: Option<String>,
}

/// The spec's `format`: exactly the values `wants_csv` takes.
fn format_param() -> Object {
    enum_param(
        Type::String,
        ["json", "csv"].map(serde_json::Value::from),
        "`json` (default) or `csv`.",
    )
}

/// The spec's `part` of the equipment report.
fn part_param() -> Object {
    enum_param(
        Type::String,
        ["summary", "items"].map(serde_json::Value::from),
        "For CSV: `summary` (default, one row per model) or `items` (one row per item out).",
    )
}

/// The item states the equipment report lists.
fn listed_item_state_param() -> Object {
    enum_param(
        Type::String,
        ["to_collect", "missing", "at_customer"].map(serde_json::Value::from),
        "List the items in this state. Default: those to collect and those missing.",
    )
}

/// The spec's `months` of the not-executed report.
fn months_param() -> Object {
    enum_param(
        Type::Integer,
        [1, 3].map(serde_json::Value::from),
        "1 (the follow-up after a month) or 3 (the IVO basis). Default 1.",
    )
}

fn enum_param<const N: usize>(
    kind: Type,
    values: [serde_json::Value; N],
    description: &str,
) -> Object {
    ObjectBuilder::new()
        .schema_type(kind)
        .description(Some(description))
        .enum_values(Some(values))
        .build()
}

fn wants_csv(format: &Option<String>) -> Result<bool, AppError> {
    match format.as_deref() {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(_) => {
            let mut p = Problems::default();
            p.add("format", "invalid", "json or csv", "json eller csv");
            Err(p.finish().unwrap_err())
        }
    }
}

/// Install orders not executed one (or three) months after they were received,
/// with the reason and the ordinary assessor (seed 004).
#[utoipa::path(tag = "reports", security(("bearer" = [])),
    params(NotExecutedQuery),
    responses(
        (status = 200, description = "Rows, oldest first (JSON, or CSV with format=csv)", content((Vec<NotExecutedRow> = "application/json"), (String = "text/csv"))),
        (status = 422, description = "Bad months or format", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/reports/not-executed")]
pub async fn not_executed(
    state: web::Data<AppState>,
    user: Actor,
    q: web::Query<NotExecutedQuery>,
) -> Result<HttpResponse, AppError> {
    may_read_reports(&user)?;
    let q = q.into_inner();
    let months = q.months.unwrap_or(1);
    let as_csv = wants_csv(&q.format)?;
    if months != 1 && months != 3 {
        let mut p = Problems::default();
        p.add("months", "invalid", "1 or 3", "1 eller 3");
        p.finish()?;
    }
    let as_of = q.as_of.unwrap_or_else(crate::domain::calendar::today);
    let scope = user.scope();
    let rows = state
        .db
        .transaction(move |conn| {
            let found = reports::stalled_install_orders(
                conn,
                &scope,
                &OrderState::open_install_states()
                    .into_iter()
                    .map(OrderState::as_str)
                    .collect::<Vec<_>>(),
                reports::received_before_for(as_of, months),
            )?;
            let rows = found
                .into_iter()
                .filter(|o| {
                    let received = o.received_at.date();
                    let due = if months == 3 {
                        three_months_after(received)
                    } else {
                        one_month_after(received)
                    };
                    as_of >= due
                })
                .map(|o| NotExecutedRow {
                    order_id: o.order_id,
                    customer_number: o.customer_number,
                    area: o.area,
                    service: o.service.as_str().to_string(),
                    received: o.received_at.date(),
                    state: o.state.as_str().to_string(),
                    reason: o.state_reason,
                    ordinary_assessor: o.ordinary_assessor,
                })
                .collect::<Vec<_>>();
            audit::record(
                conn,
                &user,
                audit::Entry::new("report.not_executed", "report", None),
            )?;
            Ok(rows)
        })
        .await?;
    if as_csv {
        return csv(
            &[
                "kundnummer",
                "område",
                "insats",
                "mottagen",
                "läge",
                "orsak",
                "ordinarie handläggare",
            ],
            rows.into_iter().map(|r| {
                vec![
                    r.customer_number,
                    r.area,
                    r.service,
                    r.received.to_string(),
                    r.state,
                    r.reason.unwrap_or_default(),
                    r.ordinary_assessor.unwrap_or_default(),
                ]
            }),
            &format!("ej-verkstallda-{months}-man.csv"),
        );
    }
    Ok(HttpResponse::Ok().json(rows))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FormatQuery {
    /// `json` (default) or `csv`.
    #[param(schema_with = format_param)]
    pub format: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ToCollectRow {
    pub area: String,
    pub customer_number: String,
    pub name: String,
    pub street: String,
    pub postal_code: String,
    pub city: String,
    pub phone: Option<String>,
    /// Equipment to fetch: kind and serial.
    pub items: Vec<String>,
    /// The customer's keys the organisation still holds.
    pub key_numbers: Vec<String>,
}

/// The pick-up list (seed 003): alarms and locks to collect, grouped by area and
/// sorted by address, with key numbers and no personnummer.
#[utoipa::path(tag = "reports", security(("bearer" = [])),
    params(FormatQuery),
    responses(
        (status = 200, description = "One row per customer (JSON, or CSV with format=csv)", content((Vec<ToCollectRow> = "application/json"), (String = "text/csv"))),
        (status = 422, description = "Bad format", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/reports/to-collect")]
pub async fn to_collect(
    state: web::Data<AppState>,
    user: Actor,
    q: web::Query<FormatQuery>,
) -> Result<HttpResponse, AppError> {
    may_read_reports(&user)?;
    let as_csv = wants_csv(&q.format)?;
    let scope = user.scope();
    let rows = state
        .db
        .transaction(move |conn| {
            let found = reports::to_collect(conn, &scope)?;
            let mut rows: Vec<ToCollectRow> = Vec::new();
            let mut ids: Vec<String> = Vec::new();
            for i in found {
                let item = format!("{} {}", i.kind, i.serial);
                if ids.last() == Some(&i.customer_id) {
                    rows.last_mut().expect("a row per id").items.push(item);
                    continue;
                }
                ids.push(i.customer_id);
                rows.push(ToCollectRow {
                    area: i.area,
                    customer_number: i.customer_number,
                    name: format!("{} {}", i.first_name, i.last_name),
                    street: i.street,
                    postal_code: i.postal_code,
                    city: i.city,
                    phone: i.phone,
                    items: vec![item],
                    key_numbers: Vec::new(),
                });
            }
            let held = reports::held_key_numbers(conn, &ids)?;
            for (row, id) in rows.iter_mut().zip(&ids) {
                row.key_numbers = held
                    .iter()
                    .filter(|(c, _)| c == id)
                    .map(|(_, n)| n.clone())
                    .collect();
            }
            audit::record_many(
                conn,
                &user,
                ids.iter().map(|id| {
                    audit::Entry::new("report.to_collect", "customer", Some(id)).customer(id)
                }),
            )?;
            rows.sort_by(|a, b| (&a.area, &a.city, &a.street).cmp(&(&b.area, &b.city, &b.street)));
            Ok(rows)
        })
        .await?;
    if as_csv {
        return csv(
            &[
                "område",
                "adress",
                "postnummer",
                "ort",
                "kundnummer",
                "namn",
                "telefon",
                "utrustning",
                "nycklar",
            ],
            rows.into_iter().map(|r| {
                vec![
                    r.area,
                    r.street,
                    r.postal_code,
                    r.city,
                    r.customer_number,
                    r.name,
                    r.phone.unwrap_or_default(),
                    r.items.join(", "),
                    r.key_numbers.join(", "),
                ]
            }),
            "att-hamta.csv",
        );
    }
    Ok(HttpResponse::Ok().json(rows))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditFollowUpQuery {
    /// Every user who opened this customer's record…
    pub customer_id: Option<uuid::Uuid>,
    /// …or every customer this user opened. Exactly one.
    pub user_id: Option<uuid::Uuid>,
    /// First day (inclusive); default: the first of last month.
    pub from: Option<NaiveDate>,
    /// Last day (inclusive); default: the last of last month.
    pub to: Option<NaiveDate>,
    /// `json` (default) or `csv`.
    #[param(schema_with = format_param)]
    pub format: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditFollowUpRow {
    /// The user (for a customer's follow-up) or the customer number (for a user's).
    pub who_or_whom: String,
    pub first_at: chrono::DateTime<Utc>,
    pub last_at: chrono::DateTime<Utc>,
    /// Reads of personal data.
    pub reads: usize,
    /// Changes.
    pub changes: usize,
    /// Attempts refused by the access rules.
    pub denied: usize,
}

/// The monthly log follow-up (logguppföljning) the law expects: for a customer,
/// every user who opened the record and when; for a user, every customer they
/// opened (admin).
#[utoipa::path(tag = "reports", security(("bearer" = [])),
    params(AuditFollowUpQuery),
    responses(
        (status = 200, description = "One row per user or customer (JSON, or CSV with format=csv)", content((Vec<AuditFollowUpRow> = "application/json"), (String = "text/csv"))),
        (status = 422, description = "Neither or both of customer_id and user_id", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/reports/audit-follow-up")]
pub async fn audit_follow_up(
    state: web::Data<AppState>,
    user: Actor,
    q: web::Query<AuditFollowUpQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(
        crate::auth::Action::ReadAuditLog,
        "read the audit log",
        "läsa granskningsloggen",
    )?;
    let q = q.into_inner();
    let as_csv = wants_csv(&q.format)?;
    if q.customer_id.is_some() == q.user_id.is_some() {
        let mut p = Problems::default();
        p.add(
            "customer_id",
            "exactly_one",
            "give either customer_id or user_id",
            "ange antingen en brukare eller en användare, inte båda",
        );
        p.finish()?;
    }
    let today = crate::domain::calendar::today();
    let this_month = today.with_day(1).expect("day 1");
    let from = q.from.unwrap_or_else(|| {
        this_month
            .checked_sub_months(chrono::Months::new(1))
            .expect("a month back")
    });
    let to =
        q.to.unwrap_or_else(|| this_month.pred_opt().expect("a day back"));
    let by_customer = q.customer_id.is_some();
    let filter = audit::Filter {
        customer_id: q.customer_id.map(|u| u.to_string()),
        user_id: q.user_id.map(|u| u.to_string()),
        from: Some(from.and_hms_opt(0, 0, 0).expect("midnight")),
        to: Some(
            (to + chrono::Duration::days(1))
                .and_hms_opt(0, 0, 0)
                .expect("midnight"),
        ),
        limit: i64::from(i32::MAX),
        ..Default::default()
    };
    let rows = state
        .db
        .transaction(move |conn| {
            let entries = audit::query(conn, &filter)?;
            let mut groups: std::collections::BTreeMap<String, AuditFollowUpRow> =
                Default::default();
            let ids: Vec<String> = entries
                .iter()
                .filter_map(|e| e.customer_id.clone())
                .collect();
            let numbers = customers::numbers_of(conn, &ids)?;
            for e in entries.iter().rev() {
                let key = if by_customer {
                    e.username.clone()
                } else {
                    let Some(c) = &e.customer_id else { continue };
                    numbers
                        .iter()
                        .find(|(id, _)| id == c)
                        .map(|(_, n)| n.clone())
                        .unwrap_or_else(|| c.clone())
                };
                let at = e.at.and_utc();
                let row = groups.entry(key.clone()).or_insert(AuditFollowUpRow {
                    who_or_whom: key,
                    first_at: at,
                    last_at: at,
                    reads: 0,
                    changes: 0,
                    denied: 0,
                });
                row.last_at = at;
                if e.outcome == "denied" {
                    row.denied += 1;
                } else if [
                    ".read",
                    ".list",
                    ".reveal_personnummer",
                    ".display",
                    ".thumbnail",
                    ".original",
                ]
                .iter()
                .any(|s| e.action.ends_with(s))
                {
                    row.reads += 1;
                } else {
                    row.changes += 1;
                }
            }
            audit::record(
                conn,
                &user,
                audit::Entry::new("report.audit_follow_up", "audit", None),
            )?;
            Ok(groups.into_values().collect::<Vec<_>>())
        })
        .await?;
    if as_csv {
        return csv(
            &[
                if by_customer {
                    "användare"
                } else {
                    "kundnummer"
                },
                "första",
                "senaste",
                "läsningar",
                "ändringar",
                "nekade",
            ],
            rows.into_iter().map(|r| {
                vec![
                    r.who_or_whom,
                    r.first_at.format("%Y-%m-%d %H:%M").to_string(),
                    r.last_at.format("%Y-%m-%d %H:%M").to_string(),
                    r.reads.to_string(),
                    r.changes.to_string(),
                    r.denied.to_string(),
                ]
            }),
            "logguppfoljning.csv",
        );
    }
    Ok(HttpResponse::Ok().json(rows))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// First visit day (inclusive); default today.
    pub from: Option<NaiveDate>,
    /// Last visit day (inclusive); default a week from `from`.
    pub to: Option<NaiveDate>,
    /// `json` (default) or `csv`.
    #[param(schema_with = format_param)]
    pub format: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryRow {
    pub visit_date: NaiveDate,
    pub visit_time: Option<String>,
    pub installer: Option<String>,
    pub kind: String,
    pub service: String,
    pub customer_number: String,
    pub name: String,
    pub street: String,
    pub postal_code: String,
    pub city: String,
    pub phone: Option<String>,
    pub key_position: Option<String>,
    pub entry_notes: Option<String>,
}

/// The delivery list: booked visits (installations and collections) by day and
/// time, with address, phone, key position and entry notes.
#[utoipa::path(tag = "reports", security(("bearer" = [])),
    params(DeliveryQuery),
    responses(
        (status = 200, description = "Booked visits in order (JSON, or CSV with format=csv)", content((Vec<DeliveryRow> = "application/json"), (String = "text/csv"))),
        (status = 422, description = "Bad format", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/reports/deliveries")]
pub async fn deliveries(
    state: web::Data<AppState>,
    user: Actor,
    q: web::Query<DeliveryQuery>,
) -> Result<HttpResponse, AppError> {
    may_read_reports(&user)?;
    let q = q.into_inner();
    let as_csv = wants_csv(&q.format)?;
    let from = q.from.unwrap_or_else(crate::domain::calendar::today);
    let to = q.to.unwrap_or(from + chrono::Duration::days(7));
    let scope = user.scope();
    let rows = state
        .db
        .transaction(move |conn| {
            let found = reports::deliveries(conn, &scope, from, to)?;
            audit::record_many(
                conn,
                &user,
                found.iter().map(|d| {
                    audit::Entry::new("report.deliveries", "customer", Some(&d.customer_id))
                        .customer(&d.customer_id)
                }),
            )?;
            let mut rows: Vec<DeliveryRow> = found
                .into_iter()
                .map(|d| DeliveryRow {
                    visit_date: d.visit_date.unwrap_or(from),
                    visit_time: d.visit_at.map(|t| t.format("%H:%M").to_string()),
                    installer: d.installer,
                    kind: d.kind,
                    service: d.service,
                    customer_number: d.customer_number,
                    name: format!("{} {}", d.first_name, d.last_name),
                    street: d.street,
                    postal_code: d.postal_code,
                    city: d.city,
                    phone: d.phone,
                    key_position: d.key_position,
                    entry_notes: d.entry_notes,
                })
                .collect();
            rows.sort_by(|a, b| {
                (a.visit_date, &a.visit_time, &a.street).cmp(&(
                    b.visit_date,
                    &b.visit_time,
                    &b.street,
                ))
            });
            Ok(rows)
        })
        .await?;
    if as_csv {
        return csv(
            &[
                "datum",
                "tid",
                "installatör",
                "typ",
                "insats",
                "kundnummer",
                "namn",
                "adress",
                "postnummer",
                "ort",
                "telefon",
                "nyckel",
                "portinfo",
            ],
            rows.into_iter().map(|r| {
                vec![
                    r.visit_date.to_string(),
                    r.visit_time.unwrap_or_default(),
                    r.installer.unwrap_or_default(),
                    r.kind,
                    r.service,
                    r.customer_number,
                    r.name,
                    r.street,
                    r.postal_code,
                    r.city,
                    r.phone.unwrap_or_default(),
                    r.key_position.unwrap_or_default(),
                    r.entry_notes.unwrap_or_default(),
                ]
            }),
            "leveranslista.csv",
        );
    }
    Ok(HttpResponse::Ok().json(rows))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AsOfQuery {
    /// Evaluate as of this day; default today.
    pub as_of: Option<NaiveDate>,
    /// `json` (default) or `csv`.
    #[param(schema_with = format_param)]
    pub format: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeysNotReceivedRow {
    pub order_id: String,
    pub customer_number: String,
    pub area: String,
    pub service: Service,
    /// The day the order was received.
    pub received: NaiveDate,
    /// A month after the order: from this day the keys are overdue (seed 004).
    pub due: NaiveDate,
    pub state: String,
    pub reason: Option<String>,
    pub ordinary_assessor: Option<String>,
}

/// Install orders whose keys have not come in a month after the order (seed
/// 004): the same rule the follow-up messages the assessor by.
#[utoipa::path(tag = "reports", security(("bearer" = [])),
    params(AsOfQuery),
    responses(
        (status = 200, description = "Rows, oldest order first (JSON, or CSV with format=csv)", content((Vec<KeysNotReceivedRow> = "application/json"), (String = "text/csv"))),
        (status = 422, description = "Bad format", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/reports/keys-not-received")]
pub async fn keys_not_received(
    state: web::Data<AppState>,
    user: Actor,
    q: web::Query<AsOfQuery>,
) -> Result<HttpResponse, AppError> {
    may_read_reports(&user)?;
    let q = q.into_inner();
    let as_csv = wants_csv(&q.format)?;
    let as_of = q.as_of.unwrap_or_else(crate::domain::calendar::today);
    let scope = user.scope();
    let waiting: Vec<&'static str> = OrderState::open_install_states()
        .into_iter()
        .filter(|s| keys_outstanding(*s))
        .map(OrderState::as_str)
        .collect();
    let rows = state
        .db
        .transaction(move |conn| {
            let found = reports::stalled_install_orders(
                conn,
                &scope,
                &waiting,
                reports::received_before_for(as_of, 1),
            )?;
            let mut rows = Vec::new();
            for o in found {
                let received = o.received_at.date();
                let due = one_month_after(received);
                if as_of < due {
                    continue;
                }
                rows.push(KeysNotReceivedRow {
                    order_id: o.order_id,
                    customer_number: o.customer_number,
                    area: o.area,
                    service: o.service,
                    received,
                    due,
                    state: o.state.as_str().to_string(),
                    reason: o.state_reason,
                    ordinary_assessor: o.ordinary_assessor,
                });
            }
            audit::record(
                conn,
                &user,
                audit::Entry::new("report.keys_not_received", "report", None),
            )?;
            Ok(rows)
        })
        .await?;
    if as_csv {
        return csv(
            &[
                "kundnummer",
                "område",
                "insats",
                "beställd",
                "försenad från",
                "läge",
                "orsak",
                "ordinarie handläggare",
            ],
            rows.into_iter().map(|r| {
                vec![
                    r.customer_number,
                    r.area,
                    r.service.sv().to_string(),
                    r.received.to_string(),
                    r.due.to_string(),
                    r.state,
                    r.reason.unwrap_or_default(),
                    r.ordinary_assessor.unwrap_or_default(),
                ]
            }),
            "nycklar-ej-inkomna.csv",
        );
    }
    Ok(HttpResponse::Ok().json(rows))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyOutRow {
    pub key_id: String,
    pub key_number: String,
    pub customer_number: String,
    pub area: String,
    /// Where the key belongs.
    pub cabinet: String,
    pub hook: String,
    /// The group or person it is signed out to.
    pub holder: String,
    /// Signed out since.
    pub since: chrono::DateTime<Utc>,
    /// Hours out so far.
    pub hours_out: i64,
}

/// Keys signed out longer than allowed (`LARMKOLL_KEY_SIGN_OUT_HOURS`), with
/// who holds them and since when: a key that cannot be accounted for is an incident.
#[utoipa::path(tag = "reports", security(("bearer" = [])),
    params(FormatQuery),
    responses(
        (status = 200, description = "Overdue keys, longest out first (JSON, or CSV with format=csv)", content((Vec<KeyOutRow> = "application/json"), (String = "text/csv"))),
        (status = 422, description = "Bad format", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/reports/keys-out")]
pub async fn keys_out(
    state: web::Data<AppState>,
    user: Actor,
    q: web::Query<FormatQuery>,
) -> Result<HttpResponse, AppError> {
    may_read_reports(&user)?;
    let as_csv = wants_csv(&q.format)?;
    let now = crate::db::now();
    let before = now - chrono::Duration::hours(state.settings.key_sign_out_hours);
    let scope = user.scope();
    let rows = state
        .db
        .transaction(move |conn| {
            let found = reports::overdue_keys(conn, &scope, before)?;
            audit::record_many(
                conn,
                &user,
                found.iter().map(|k| {
                    audit::Entry::new("report.keys_out", "key", Some(&k.key_id))
                        .customer(&k.customer_id)
                }),
            )?;
            let mut rows = Vec::new();
            for k in found {
                rows.push(KeyOutRow {
                    holder: k
                        .holder_group
                        .or(k.holder_user)
                        .unwrap_or_else(|| "okänd".into()),
                    hours_out: (now - k.since).num_hours(),
                    since: k.since.and_utc(),
                    key_id: k.key_id,
                    key_number: k.key_number,
                    customer_number: k.customer_number,
                    area: k.area,
                    cabinet: k.cabinet,
                    hook: k.hook,
                });
            }
            Ok(rows)
        })
        .await?;
    if as_csv {
        return csv(
            &[
                "nyckelnummer",
                "kundnummer",
                "område",
                "skåp",
                "krok",
                "utlämnad till",
                "sedan",
                "timmar",
            ],
            rows.into_iter().map(|r| {
                vec![
                    r.key_number,
                    r.customer_number,
                    r.area,
                    r.cabinet,
                    r.hook,
                    r.holder,
                    r.since.format("%Y-%m-%d %H:%M").to_string(),
                    r.hours_out.to_string(),
                ]
            }),
            "nycklar-ute.csv",
        );
    }
    Ok(HttpResponse::Ok().json(rows))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EquipmentReportQuery {
    /// `json` (default) or `csv`.
    #[param(schema_with = format_param)]
    pub format: Option<String>,
    /// For CSV: `summary` (default, one row per model) or `items` (one row per item out).
    #[param(schema_with = part_param)]
    pub part: Option<String>,
    /// List the items in this state: `to_collect`, `missing` or `at_customer`.
    /// Default: those to collect and those missing, the ones that need doing.
    #[param(schema_with = listed_item_state_param)]
    pub item_state: Option<ItemState>,
    /// Items listed at most (1–100000, default 1000); the summary counts all.
    #[param(minimum = 1, maximum = 100_000)]
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EquipmentSummaryRow {
    pub kind: EquipmentKind,
    pub supplier: String,
    pub model: String,
    pub in_stock: i64,
    pub at_customer: i64,
    pub to_collect: i64,
    pub collected: i64,
    pub missing: i64,
    pub scrapped: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EquipmentOutRow {
    pub kind: EquipmentKind,
    pub supplier: String,
    pub model: String,
    pub serial: String,
    /// `at_customer`, `to_collect` or `missing`.
    pub state: ItemState,
    pub customer_number: String,
    pub area: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EquipmentReport {
    /// Per model: how many are in stock and out.
    pub summary: Vec<EquipmentSummaryRow>,
    /// Items out at customers you may see: to collect and missing, or those
    /// in `item_state`.
    pub items: Vec<EquipmentOutRow>,
}

/// Equipment in stock and out: per model, how many are in stock, at customers,
/// to collect, missing; and the list of items to collect and missing (or at
/// customers, with `item_state=at_customer`).
#[utoipa::path(tag = "reports", security(("bearer" = [])),
    params(EquipmentReportQuery),
    responses(
        (status = 200, description = "Summary and items (JSON, or CSV with format=csv)", content((EquipmentReport = "application/json"), (String = "text/csv"))),
        (status = 422, description = "Bad format, part or limit", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/reports/equipment")]
pub async fn equipment(
    state: web::Data<AppState>,
    user: Actor,
    q: web::Query<EquipmentReportQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(
        Action::ReadEquipmentReport,
        "read the equipment report",
        "läsa utrustningsrapporten",
    )?;
    let q = q.into_inner();
    let as_csv = wants_csv(&q.format)?;
    let items_csv = match q.part.as_deref() {
        None | Some("summary") => false,
        Some("items") => true,
        Some(_) => {
            let mut p = Problems::default();
            p.add(
                "part",
                "invalid",
                "summary or items",
                "summary (sammanställning) eller items (utrustning)",
            );
            return Err(p.finish().unwrap_err());
        }
    };
    let limit = super::pagination::limit_within(q.limit, 1000, 100_000)?;
    let listed: Vec<&'static str> = match q.item_state {
        None => vec![ItemState::ToCollect.as_str(), ItemState::Missing.as_str()],
        Some(s @ (ItemState::AtCustomer | ItemState::ToCollect | ItemState::Missing)) => {
            vec![s.as_str()]
        }
        Some(_) => {
            let mut p = Problems::default();
            p.add(
                "item_state",
                "invalid",
                "to_collect, missing or at_customer",
                "to_collect (att hämta), missing (saknas) eller at_customer (hos brukaren)",
            );
            return Err(p.finish().unwrap_err());
        }
    };
    let scope = user.scope();
    let report = state
        .db
        .transaction(move |conn| {
            let counts = reports::equipment_counts(conn)?;
            let mut summary = Vec::new();
            // The catalogue is sorted by kind, supplier and model; every model gets a row, also an empty one.
            for m in custody::list_models(conn)? {
                let mut row = EquipmentSummaryRow {
                    kind: m.kind,
                    supplier: m.supplier,
                    model: m.model,
                    in_stock: 0,
                    at_customer: 0,
                    to_collect: 0,
                    collected: 0,
                    missing: 0,
                    scrapped: 0,
                };
                for (_, item_state, n) in counts.iter().filter(|(id, _, _)| *id == m.id) {
                    let slot = match item_state {
                        ItemState::InStock => &mut row.in_stock,
                        ItemState::AtCustomer => &mut row.at_customer,
                        ItemState::ToCollect => &mut row.to_collect,
                        ItemState::Collected => &mut row.collected,
                        ItemState::Missing => &mut row.missing,
                        ItemState::Scrapped => &mut row.scrapped,
                    };
                    *slot += n;
                }
                summary.push(row);
            }
            let found = reports::items_out(conn, &scope, &listed, limit)?;
            let mut seen = std::collections::HashSet::new();
            audit::record_many(
                conn,
                &user,
                found
                    .iter()
                    .filter(|i| seen.insert(i.customer_id.as_str()))
                    .map(|i| {
                        audit::Entry::new("report.equipment", "customer", Some(&i.customer_id))
                            .customer(&i.customer_id)
                    }),
            )?;
            let mut items = Vec::new();
            for i in found {
                items.push(EquipmentOutRow {
                    kind: i.kind,
                    supplier: i.supplier,
                    model: i.model,
                    serial: i.serial,
                    state: i.state,
                    customer_number: i.customer_number,
                    area: i.area,
                });
            }
            Ok(EquipmentReport { summary, items })
        })
        .await?;
    if as_csv && items_csv {
        return csv(
            &[
                "typ",
                "leverantör",
                "modell",
                "serienummer",
                "läge",
                "kundnummer",
                "område",
            ],
            report.items.into_iter().map(|i| {
                vec![
                    i.kind.sv().to_string(),
                    i.supplier,
                    i.model,
                    i.serial,
                    i.state.sv().to_string(),
                    i.customer_number,
                    i.area,
                ]
            }),
            "utrustning-ute.csv",
        );
    }
    if as_csv {
        return csv(
            &[
                "typ",
                "leverantör",
                "modell",
                "i lager",
                "hos kund",
                "att hämta",
                "hämtad",
                "saknas",
                "kasserad",
            ],
            report.summary.into_iter().map(|r| {
                vec![
                    r.kind.sv().to_string(),
                    r.supplier,
                    r.model,
                    r.in_stock.to_string(),
                    r.at_customer.to_string(),
                    r.to_collect.to_string(),
                    r.collected.to_string(),
                    r.missing.to_string(),
                    r.scrapped.to_string(),
                ]
            }),
            "utrustning.csv",
        );
    }
    Ok(HttpResponse::Ok().json(report))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExtensionCheckRow {
    /// The extension order to execute.
    pub order_id: String,
    /// Its version, for `If-Match`.
    pub order_version: i32,
    pub order_state: String,
    pub customer_id: String,
    pub customer_number: String,
    pub area: String,
    pub service: Service,
    /// The decision being extended.
    pub previous: Period,
    /// The extension.
    pub next: Period,
    /// `ok`, `gap`, `overlap` or `previous_open_ended`.
    pub check: String,
    /// The first and last day of the gap or overlap, and how many days.
    pub first: Option<NaiveDate>,
    pub last: Option<NaiveDate>,
    pub days: Option<i64>,
    /// The check in words, in Swedish.
    pub note_sv: String,
}

/// Open extension orders with the two periods side by side and the check that
/// the extension follows without a gap or an overlap (seed 003), for the
/// coordinator to execute. The check is redone now: a decision ended early
/// after its extension was granted leaves a gap.
#[utoipa::path(tag = "reports", security(("bearer" = [])),
    params(FormatQuery),
    responses(
        (status = 200, description = "Open extension orders, oldest first (JSON, or CSV with format=csv)", content((Vec<ExtensionCheckRow> = "application/json"), (String = "text/csv"))),
        (status = 422, description = "Bad format", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/reports/extensions")]
pub async fn extensions(
    state: web::Data<AppState>,
    user: Actor,
    q: web::Query<FormatQuery>,
) -> Result<HttpResponse, AppError> {
    may_read_reports(&user)?;
    let as_csv = wants_csv(&q.format)?;
    let scope = user.scope();
    let rows = state
        .db
        .transaction(move |conn| {
            let orders = reports::open_extension_orders(conn, &scope)?;
            let areas = org::list_areas(conn)?;
            let mut rows = Vec::new();
            for o in orders {
                let Some(next) = lifecycle::find_decision(conn, &o.decision_id)? else {
                    continue;
                };
                let Some(prev_id) = &next.follows_id else {
                    continue;
                };
                let Some(prev) = lifecycle::find_decision(conn, prev_id)? else {
                    continue;
                };
                let Some(c) = customers::find(conn, &o.customer_id)? else {
                    continue;
                };
                let previous = Period {
                    from: prev.valid_from,
                    to: prev.valid_to,
                };
                let next = Period {
                    from: next.valid_from,
                    to: next.valid_to,
                };
                let (check, first, last, days, note_sv) = match previous.check_followed_by(&next) {
                    Ok(()) => ("ok", None, None, None, "Förlängningen tar vid dagen efter: inget glapp, ingen överlappning.".to_string()),
                    Err(PeriodError::Gap { first, last, days }) => ("gap", Some(first), Some(last), Some(days), format!("Glapp på {days} dag(ar): {first} – {last} täcks inte av något beslut.")),
                    Err(PeriodError::Overlap { first, last, days }) => ("overlap", Some(first), Some(last), Some(days), format!("Överlappning på {days} dag(ar): {first} – {last} täcks av båda besluten.")),
                    Err(_) => ("previous_open_ended", None, None, None, "Det tidigare beslutet gäller tills vidare, så förlängningen överlappar det.".to_string()),
                };
                audit::record(
                    conn,
                    &user,
                    audit::Entry::new("report.extensions", "customer", Some(&c.id))
                        .customer(&c.id),
                )?;
                rows.push(ExtensionCheckRow {
                    order_id: o.id,
                    order_version: o.version,
                    order_state: o.state.as_str().to_string(),
                    customer_id: c.id,
                    customer_number: c.customer_number,
                    area: areas
                        .iter()
                        .find(|a| a.id == c.area_id)
                        .map(|a| a.name.clone())
                        .unwrap_or_default(),
                    service: o.service,
                    previous,
                    next,
                    check: check.into(),
                    first,
                    last,
                    days,
                    note_sv,
                });
            }
            Ok(rows)
        })
        .await?;
    if as_csv {
        let date = |d: Option<NaiveDate>| {
            d.map(|d| d.to_string())
                .unwrap_or_else(|| "tills vidare".into())
        };
        return csv(
            &[
                "kundnummer",
                "område",
                "insats",
                "tidigare från",
                "tidigare till",
                "förlängning från",
                "förlängning till",
                "kontroll",
            ],
            rows.into_iter().map(|r| {
                vec![
                    r.customer_number,
                    r.area,
                    r.service.sv().to_string(),
                    r.previous.from.to_string(),
                    date(r.previous.to),
                    r.next.from.to_string(),
                    date(r.next.to),
                    r.note_sv,
                ]
            }),
            "forlangningar.csv",
        );
    }
    Ok(HttpResponse::Ok().json(rows))
}
