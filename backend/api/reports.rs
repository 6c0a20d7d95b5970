//! Reports for the desk: JSON for clients, CSV (`?format=csv`) for spreadsheets.
//! Every report is filtered to the customers the caller may see, and none shows
//! a personnummer.

use super::query::Query;
use crate::app;
use crate::app::reports::FollowUpOf;
use crate::app::validation::Problems;
use crate::auth::{Action, Actor};
use crate::domain::custody::{EquipmentKind, ItemState, KeyCustody};
use crate::domain::{OrderKind, OrderState, Period, PeriodError, Service};
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
        .service(extensions)
        .service(platform_registration);
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
    /// Why the order is in its state (a return, a decline).
    pub reason: Option<String>,
    /// What the team noted the order waits for (väntar-orsak).
    pub waiting_reason: Option<String>,
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

/// A stored code as the Swedish word a person reads (the code itself if unknown).
fn sv_word(word: Option<&'static str>, code: &str) -> String {
    word.map_or_else(|| code.to_string(), str::to_string)
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
    q: Query<NotExecutedQuery>,
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
    let rows: Vec<NotExecutedRow> = app::reports::not_executed(&state.db, user, months, as_of)
        .await?
        .into_iter()
        .map(|o| NotExecutedRow {
            order_id: o.order_id,
            customer_number: o.customer_number,
            area: o.area,
            service: o.service.as_str().to_string(),
            received: o.received_at.date(),
            state: o.state.as_str().to_string(),
            reason: o.state_reason,
            waiting_reason: o.waiting_reason,
            ordinary_assessor: o.ordinary_assessor,
        })
        .collect();
    if as_csv {
        return csv(
            &[
                "kundnummer",
                "område",
                "insats",
                "mottagen",
                "läge",
                "orsak",
                "väntar på",
                "ordinarie handläggare",
            ],
            rows.into_iter().map(|r| {
                vec![
                    r.customer_number,
                    r.area,
                    sv_word(
                        r.service.parse::<Service>().ok().map(Service::sv),
                        &r.service,
                    ),
                    r.received.to_string(),
                    sv_word(
                        r.state.parse::<OrderState>().ok().map(OrderState::sv),
                        &r.state,
                    ),
                    r.reason.unwrap_or_default(),
                    r.waiting_reason.unwrap_or_default(),
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
    /// Where each of those keys is.
    pub keys: Vec<PickupKey>,
    /// The day the service ends: the assessor's end date on the uninstall order.
    pub end_date: Option<NaiveDate>,
    /// How to get in (door code, key safe…), for the team at the door.
    pub entry_notes: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PickupKey {
    pub key_number: String,
    pub cabinet: String,
    pub hook: String,
    pub custody: KeyCustody,
}

/// "B-1042 (Skåp 2, krok 14)", or where the key is when not on its hook.
fn key_place_sv(k: &PickupKey) -> String {
    match k.custody {
        KeyCustody::InCabinet => format!("{} ({}, krok {})", k.key_number, k.cabinet, k.hook),
        other => format!("{} ({})", k.key_number, other.sv()),
    }
}

/// "alarm_unit TX-1001" in words: "Larmenhet TX-1001".
fn item_sv(item: &str) -> String {
    match item.split_once(' ') {
        Some((kind, serial)) => match kind.parse::<EquipmentKind>() {
            Ok(k) => format!("{} {serial}", k.sv()),
            Err(_) => item.to_string(),
        },
        None => item.to_string(),
    }
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
    q: Query<FormatQuery>,
) -> Result<HttpResponse, AppError> {
    may_read_reports(&user)?;
    let as_csv = wants_csv(&q.format)?;
    let rows: Vec<ToCollectRow> = app::reports::to_collect(&state.db, user)
        .await?
        .into_iter()
        .map(|p| ToCollectRow {
            area: p.area,
            customer_number: p.customer_number,
            name: p.name,
            street: p.street,
            postal_code: p.postal_code,
            city: p.city,
            phone: p.phone,
            items: p.items,
            key_numbers: p.key_numbers,
            keys: p
                .keys
                .into_iter()
                .map(|k| PickupKey {
                    key_number: k.key_number,
                    cabinet: k.cabinet,
                    hook: k.hook,
                    custody: k.custody,
                })
                .collect(),
            end_date: p.end_date,
            entry_notes: p.entry_notes,
        })
        .collect();
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
                "slutdatum",
                "utrustning",
                "nycklar",
                "portkod och tillträde",
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
                    r.end_date.map(|d| d.to_string()).unwrap_or_default(),
                    r.items
                        .iter()
                        .map(|i| item_sv(i))
                        .collect::<Vec<_>>()
                        .join(", "),
                    r.keys
                        .iter()
                        .map(key_place_sv)
                        .collect::<Vec<_>>()
                        .join(", "),
                    r.entry_notes.unwrap_or_default(),
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
    q: Query<AuditFollowUpQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(
        crate::auth::Action::ReadAuditLog,
        "read the audit log",
        "läsa granskningsloggen",
    )?;
    let q = q.into_inner();
    let as_csv = wants_csv(&q.format)?;
    let of = match (q.customer_id, q.user_id) {
        (Some(c), None) => FollowUpOf::Customer(c.to_string()),
        (None, Some(u)) => FollowUpOf::User(u.to_string()),
        _ => {
            let mut p = Problems::default();
            p.add(
                "customer_id",
                "exactly_one",
                "give either customer_id or user_id",
                "ange antingen en brukare eller en användare, inte båda",
            );
            return Err(p.finish().unwrap_err());
        }
    };
    let today = crate::domain::calendar::today();
    let this_month = today.with_day(1).expect("day 1");
    let from = q.from.unwrap_or_else(|| {
        this_month
            .checked_sub_months(chrono::Months::new(1))
            .expect("a month back")
    });
    let to =
        q.to.unwrap_or_else(|| this_month.pred_opt().expect("a day back"));
    let by_customer = matches!(of, FollowUpOf::Customer(_));
    let rows: Vec<AuditFollowUpRow> = app::reports::audit_follow_up(&state.db, user, of, from, to)
        .await?
        .into_iter()
        .map(|a| AuditFollowUpRow {
            who_or_whom: a.who_or_whom,
            first_at: a.first_at,
            last_at: a.last_at,
            reads: a.reads,
            changes: a.changes,
            denied: a.denied,
        })
        .collect();
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
    q: Query<DeliveryQuery>,
) -> Result<HttpResponse, AppError> {
    may_read_reports(&user)?;
    let q = q.into_inner();
    let as_csv = wants_csv(&q.format)?;
    let from = q.from.unwrap_or_else(crate::domain::calendar::today);
    let to = q.to.unwrap_or(from + chrono::Duration::days(7));
    let rows: Vec<DeliveryRow> = app::reports::deliveries(&state.db, user, from, to)
        .await?
        .into_iter()
        .map(|v| DeliveryRow {
            visit_date: v.visit_date,
            visit_time: v.visit_time,
            installer: v.installer,
            kind: v.kind,
            service: v.service,
            customer_number: v.customer_number,
            name: v.name,
            street: v.street,
            postal_code: v.postal_code,
            city: v.city,
            phone: v.phone,
            key_position: v.key_position,
            entry_notes: v.entry_notes,
        })
        .collect();
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
                    sv_word(r.kind.parse::<OrderKind>().ok().map(OrderKind::sv), &r.kind),
                    sv_word(
                        r.service.parse::<Service>().ok().map(Service::sv),
                        &r.service,
                    ),
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
    /// What the team noted the order waits for (väntar-orsak).
    pub waiting_reason: Option<String>,
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
    q: Query<AsOfQuery>,
) -> Result<HttpResponse, AppError> {
    may_read_reports(&user)?;
    let q = q.into_inner();
    let as_csv = wants_csv(&q.format)?;
    let as_of = q.as_of.unwrap_or_else(crate::domain::calendar::today);
    let rows: Vec<KeysNotReceivedRow> = app::reports::keys_not_received(&state.db, user, as_of)
        .await?
        .into_iter()
        .map(
            |app::reports::KeysLate { order: o, due }| KeysNotReceivedRow {
                order_id: o.order_id,
                customer_number: o.customer_number,
                area: o.area,
                service: o.service,
                received: o.received_at.date(),
                due,
                state: o.state.as_str().to_string(),
                reason: o.state_reason,
                waiting_reason: o.waiting_reason,
                ordinary_assessor: o.ordinary_assessor,
            },
        )
        .collect();
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
                "väntar på",
                "ordinarie handläggare",
            ],
            rows.into_iter().map(|r| {
                vec![
                    r.customer_number,
                    r.area,
                    r.service.sv().to_string(),
                    r.received.to_string(),
                    r.due.to_string(),
                    sv_word(
                        r.state.parse::<OrderState>().ok().map(OrderState::sv),
                        &r.state,
                    ),
                    r.reason.unwrap_or_default(),
                    r.waiting_reason.unwrap_or_default(),
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
    q: Query<FormatQuery>,
) -> Result<HttpResponse, AppError> {
    may_read_reports(&user)?;
    let as_csv = wants_csv(&q.format)?;
    let rows: Vec<KeyOutRow> =
        app::reports::keys_out(&state.db, user, state.settings.key_sign_out_hours)
            .await?
            .into_iter()
            .map(|app::reports::KeyOut { key: k, hours_out }| KeyOutRow {
                holder: k
                    .holder_group
                    .or(k.holder_user)
                    .unwrap_or_else(|| "okänd".into()),
                hours_out,
                since: k.since.and_utc(),
                key_id: k.key_id,
                key_number: k.key_number,
                customer_number: k.customer_number,
                area: k.area,
                cabinet: k.cabinet,
                hook: k.hook,
            })
            .collect();
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
    q: Query<EquipmentReportQuery>,
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
    let listed = match q.item_state {
        None => vec![ItemState::ToCollect, ItemState::Missing],
        Some(s @ (ItemState::AtCustomer | ItemState::ToCollect | ItemState::Missing)) => vec![s],
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
    let found = app::reports::equipment(&state.db, user, listed, limit).await?;
    let report = EquipmentReport {
        summary: found
            .summary
            .into_iter()
            .map(|m| EquipmentSummaryRow {
                kind: m.kind,
                supplier: m.supplier,
                model: m.model,
                in_stock: m.in_stock,
                at_customer: m.at_customer,
                to_collect: m.to_collect,
                collected: m.collected,
                missing: m.missing,
                scrapped: m.scrapped,
            })
            .collect(),
        items: found
            .items
            .into_iter()
            .map(|i| EquipmentOutRow {
                kind: i.kind,
                supplier: i.supplier,
                model: i.model,
                serial: i.serial,
                state: i.state,
                customer_number: i.customer_number,
                area: i.area,
            })
            .collect(),
    };
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
    q: Query<FormatQuery>,
) -> Result<HttpResponse, AppError> {
    may_read_reports(&user)?;
    let as_csv = wants_csv(&q.format)?;
    let rows: Vec<ExtensionCheckRow> = app::reports::extensions(&state.db, user)
        .await?
        .into_iter()
        .map(|e| {
            let (check, first, last, days, note_sv) = match e.check {
                Ok(()) => (
                    "ok",
                    None,
                    None,
                    None,
                    "Förlängningen tar vid dagen efter: inget glapp, ingen överlappning."
                        .to_string(),
                ),
                Err(PeriodError::Gap { first, last, days }) => (
                    "gap",
                    Some(first),
                    Some(last),
                    Some(days),
                    format!(
                        "Glapp på {days} dag(ar): {first} – {last} täcks inte av något beslut."
                    ),
                ),
                Err(PeriodError::Overlap { first, last, days }) => (
                    "overlap",
                    Some(first),
                    Some(last),
                    Some(days),
                    format!(
                        "Överlappning på {days} dag(ar): {first} – {last} täcks av båda besluten."
                    ),
                ),
                Err(_) => (
                    "previous_open_ended",
                    None,
                    None,
                    None,
                    "Det tidigare beslutet gäller tills vidare, så förlängningen överlappar det."
                        .to_string(),
                ),
            };
            ExtensionCheckRow {
                order_id: e.order.id,
                order_version: e.order.version,
                order_state: e.order.state.as_str().to_string(),
                customer_id: e.customer_id,
                customer_number: e.customer_number,
                area: e.area,
                service: e.order.service,
                previous: e.previous,
                next: e.next,
                check: check.into(),
                first,
                last,
                days,
                note_sv,
            }
        })
        .collect();
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

#[derive(Debug, Serialize, ToSchema)]
pub struct PlatformRegistrationRow {
    /// `not_registered`: installed, the alarm runs, and nobody registered it in
    /// the alarm platform (a button nobody answers); `not_deregistered`:
    /// cancelled or terminated but still registered.
    pub problem: String,
    pub order_id: String,
    pub customer_id: String,
    pub customer_number: String,
    pub area: String,
    /// The install order's state.
    pub state: OrderState,
    pub installation_date: Option<NaiveDate>,
    pub platform_reference: Option<String>,
    pub registered_on: Option<NaiveDate>,
}

/// Alarms the alarm centre must register in, or deregister from, the
/// alarm-receiving platform (seed 000 steps 3 and 12), oldest order first; no
/// personnummer. The follow-up messages the alarm centre about each one.
#[utoipa::path(tag = "reports", security(("bearer" = [])),
    params(FormatQuery),
    responses(
        (status = 200, description = "One row per alarm (JSON, or CSV with format=csv)", content((Vec<PlatformRegistrationRow> = "application/json"), (String = "text/csv"))),
        (status = 422, description = "Bad format", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/reports/platform-registration")]
pub async fn platform_registration(
    state: web::Data<AppState>,
    user: Actor,
    q: Query<FormatQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(
        Action::ReadPlatformRegistrations,
        "read the alarm platform's registrations",
        "läsa larmplattformens registreringar",
    )?;
    let as_csv = wants_csv(&q.format)?;
    let rows: Vec<PlatformRegistrationRow> = app::reports::platform_registration(&state.db, user)
        .await?
        .into_iter()
        .map(|r| PlatformRegistrationRow {
            problem: if r.registered_on.is_none() {
                "not_registered"
            } else {
                "not_deregistered"
            }
            .to_string(),
            order_id: r.order_id,
            customer_id: r.customer_id,
            customer_number: r.customer_number,
            area: r.area,
            state: r.state,
            installation_date: r.installation_date,
            platform_reference: r.platform_reference,
            registered_on: r.registered_on,
        })
        .collect();
    if as_csv {
        return csv(
            &[
                "område",
                "kundnummer",
                "att göra",
                "beställningens läge",
                "installerat",
                "referens i larmplattformen",
                "registrerat",
            ],
            rows.into_iter().map(|r| {
                vec![
                    r.area,
                    r.customer_number,
                    if r.registered_on.is_none() {
                        "Registrera i larmplattformen"
                    } else {
                        "Avregistrera i larmplattformen"
                    }
                    .to_string(),
                    r.state.label(),
                    r.installation_date
                        .map(|d| d.to_string())
                        .unwrap_or_default(),
                    r.platform_reference.unwrap_or_default(),
                    r.registered_on.map(|d| d.to_string()).unwrap_or_default(),
                ]
            }),
            "larmplattformen.csv",
        );
    }
    Ok(HttpResponse::Ok().json(rows))
}
