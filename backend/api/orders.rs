//! Orders and their transitions. Each event of the state machine is its own
//! operation with a typed body; all of them go through `transition`, which
//! checks visibility, role, version and state in that order.

use super::concurrency::{etag, expected_version};
use super::dto::{order_dto, Order};
use super::json::Json;
use super::pagination::{self, Page};
use super::query::Query;
use crate::app::orders::{self, Effect, OrderRecord};
use crate::app::validation::Problems;
use crate::auth::{Action, Actor};
use crate::domain::custody::{KeyCount, KeyNumber, KeyOutcome, KeyPosition};
use crate::domain::order::ContactKind;
use crate::domain::{OrderEvent, OrderKind, OrderState};
use crate::error::{AppError, Problem};
use crate::state::AppState;
use actix_web::{get, post};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_orders)
        .service(get_order)
        .service(log_contact)
        .service(return_to_assessor)
        .service(resubmit)
        .service(book)
        .service(receive_keys)
        .service(install)
        .service(execute)
        .service(collect_equipment)
        .service(return_keys)
        .service(end)
        .service(decline)
        .service(cancel)
        .service(order_from_supplier)
        .service(collect_lock_receipt)
        .service(register_in_platform)
        .service(deregister_from_platform);
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
#[utoipa::path(tag = "lifecycle", security(("bearer" = [])),
    params(OrderQuery),
    responses((status = 200, description = "One page of orders", body = Page<Order>)))]
#[get("/orders")]
pub async fn list_orders(
    state: web::Data<AppState>,
    user: Actor,
    query: Query<OrderQuery>,
) -> Result<HttpResponse, AppError> {
    let q = query.into_inner();
    let limit = pagination::limit(q.limit)?;
    let after = q
        .cursor
        .as_deref()
        .map(pagination::decode_time)
        .transpose()?;
    let filter = orders::OrderFilter {
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
        limit,
    };
    let (rows, more) = orders::list(&state.db, user, filter, limit).await?;
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
fn detail_dto(record: OrderRecord) -> Result<OrderDetail, AppError> {
    let OrderRecord {
        order,
        transitions,
        contacts,
    } = record;
    let history = transitions
        .into_iter()
        .map(|t| {
            Ok(Transition {
                at: t.at.and_utc(),
                user_id: t.user_id,
                event: t.event,
                from: t.from_state,
                to: t.to_state,
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
#[utoipa::path(tag = "lifecycle", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 200, description = "The order", body = OrderDetail, headers(("ETag" = String, description = "Version for If-Match"))),
        (status = 404, description = "No such order, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/orders/{id}")]
pub async fn get_order(
    state: web::Data<AppState>,
    user: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner().to_string();
    let d = orders::read(&state.db, user, id).await?;
    let d = detail_dto(d)?;
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
/// Kind `waiting` notes why the open order waits (its `note`, required): the
/// order shows it as `waiting_reason` until its next step, and the one-month
/// follow-up and the stalled-order reports carry it. 409 on a closed order.
#[utoipa::path(tag = "lifecycle", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id")),
    request_body = NewContact,
    responses(
        (status = 201, description = "Logged", body = Contact),
        (status = 404, description = "No such order, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`waiting` on a closed order (`invalid_transition`)", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/orders/{id}/contacts")]
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
    if body.kind == ContactKind::Waiting && note.is_none() {
        p.add(
            "note",
            "required",
            "say what the order is waiting for",
            "skriv vad beställningen väntar på",
        );
    }
    p.finish()?;
    let row = orders::log_contact(
        &state.db,
        user,
        id.into_inner().to_string(),
        body.kind,
        note,
    )
    .await?;
    Ok(HttpResponse::Created().json(Contact {
        at: row.at.and_utc(),
        user_id: row.user_id,
        kind: row.kind,
        note: row.note,
    }))
}

/// The one path every transition takes: the step itself is `app::orders::fire`.
async fn transition(
    state: &AppState,
    req: &HttpRequest,
    user: Actor,
    id: Uuid,
    event: OrderEvent,
    effect: Effect,
) -> Result<HttpResponse, AppError> {
    let expected = expected_version(req)?;
    let rules = state.settings.message_rules.clone();
    let record = orders::fire(
        &state.db,
        rules,
        user,
        id.to_string(),
        expected,
        event,
        effect,
    )
    .await?;
    let d = detail_dto(record)?;
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

/// What every step of an order answers.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code, clippy::large_enum_variant)] // never built: only its documentation is used
enum TransitionAnswers {
    #[response(status = 200, description = "Done; the order as it is now", headers(("ETag" = String, description = "New version")))]
    Done(OrderDetail),
    #[response(
        status = 404,
        description = "No such order, or not one you may see",
        content_type = "application/problem+json"
    )]
    NotFound(Problem),
    #[response(
        status = 409,
        description = "Not allowed in the order's state (the message lists what is), or a rule of the routine refuses it",
        content_type = "application/problem+json"
    )]
    Refused(Problem),
    #[response(
        status = 412,
        description = "The order changed since you read it",
        content_type = "application/problem+json"
    )]
    Stale(Problem),
    #[response(
        status = 428,
        description = "If-Match missing",
        content_type = "application/problem+json"
    )]
    IfMatchMissing(Problem),
}

trait IntoEffect {
    fn into_effect(self) -> Result<Effect, AppError>;
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
    /// The day it was installed: within the decision's period and not later than today
    /// (otherwise 422 `outside_decision_period`, naming the days allowed). Execution and
    /// billing start on this date.
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
        p.not_after_today("installation_date", self.installation_date);
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
        p.not_after_today("collected_on", self.collected_on);
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
        p.not_after_today("ordered_on", self.ordered_on);
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
        p.not_after_today("collected_on", self.collected_on);
        p.finish()?;
        Ok(Effect::LockReceipt {
            collected_on: self.collected_on,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"platform_reference": "PNC-448812", "registered_on": "2026-11-25"}))]
pub struct RegisterInPlatformBody {
    /// The alarm-receiving platform's reference for the customer's alarm.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000]*[^\u0000\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000]*$"
    )]
    pub platform_reference: String,
    /// Not before the installation, not later than today.
    pub registered_on: NaiveDate,
}

impl IntoEffect for RegisterInPlatformBody {
    fn into_effect(self) -> Result<Effect, AppError> {
        let mut p = Problems::default();
        let reference = p.text("platform_reference", &self.platform_reference, 100);
        p.not_after_today("registered_on", self.registered_on);
        p.finish()?;
        Ok(Effect::Register {
            reference,
            registered_on: self.registered_on,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"deregistered_on": "2026-12-01"}))]
pub struct DeregisterFromPlatformBody {
    /// Not before the registration, not later than today.
    pub deregistered_on: NaiveDate,
}

impl IntoEffect for DeregisterFromPlatformBody {
    fn into_effect(self) -> Result<Effect, AppError> {
        let mut p = Problems::default();
        p.not_after_today("deregistered_on", self.deregistered_on);
        p.finish()?;
        Ok(Effect::Deregister {
            deregistered_on: self.deregistered_on,
        })
    }
}

/// The alarm centre registered the installed alarm in the alarm-receiving platform, with the platform's reference (seed 000 step 3). The order keeps its state; its history records it.
#[utoipa::path(tag = "lifecycle", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id"), ("If-Match" = String, Header, description = "The order's version")),
    request_body = RegisterInPlatformBody, responses(TransitionAnswers))]
#[post("/orders/{id}/register-in-platform")]
pub async fn register_in_platform(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<RegisterInPlatformBody>,
) -> Result<HttpResponse, AppError> {
    let effect = body.into_inner().into_effect()?;
    transition(
        &state,
        &req,
        user,
        id.into_inner(),
        OrderEvent::RegisterInPlatform,
        effect,
    )
    .await
}

/// The alarm centre deregistered the alarm from the platform after its cancellation or termination (seed 000 step 12); 409 `alarm_still_running` before that. The order keeps its state; its history records it.
#[utoipa::path(tag = "lifecycle", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id"), ("If-Match" = String, Header, description = "The order's version")),
    request_body = DeregisterFromPlatformBody, responses(TransitionAnswers))]
#[post("/orders/{id}/deregister-from-platform")]
pub async fn deregister_from_platform(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<DeregisterFromPlatformBody>,
) -> Result<HttpResponse, AppError> {
    let effect = body.into_inner().into_effect()?;
    transition(
        &state,
        &req,
        user,
        id.into_inner(),
        OrderEvent::DeregisterFromPlatform,
        effect,
    )
    .await
}

/// Records that the digital lock was ordered from its supplier (coordinator; seed 001 step 6). The order keeps its state.
#[utoipa::path(tag = "lifecycle", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id"), ("If-Match" = String, Header, description = "The order's version")),
    request_body = SupplierOrderBody, responses(TransitionAnswers))]
#[post("/orders/{id}/order-from-supplier")]
pub async fn order_from_supplier(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<SupplierOrderBody>,
) -> Result<HttpResponse, AppError> {
    let effect = body.into_inner().into_effect()?;
    transition(
        &state,
        &req,
        user,
        id.into_inner(),
        OrderEvent::OrderFromSupplier,
        effect,
    )
    .await
}

/// Staff picked up the lock receipt the fitter left at the customer's (care staff, installer; seed 001 step 8), also after execution.
#[utoipa::path(tag = "lifecycle", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id"), ("If-Match" = String, Header, description = "The order's version")),
    request_body = LockReceiptBody, responses(TransitionAnswers))]
#[post("/orders/{id}/collect-lock-receipt")]
pub async fn collect_lock_receipt(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<LockReceiptBody>,
) -> Result<HttpResponse, AppError> {
    let effect = body.into_inner().into_effect()?;
    transition(
        &state,
        &req,
        user,
        id.into_inner(),
        OrderEvent::CollectLockReceipt,
        effect,
    )
    .await
}

/// The order is incorrect: back to the assessor with the reason (installer, coordinator). The assessor is messaged.
#[utoipa::path(tag = "lifecycle", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id"), ("If-Match" = String, Header, description = "The order's version")),
    request_body = ReasonBody, responses(TransitionAnswers))]
#[post("/orders/{id}/return-to-assessor")]
pub async fn return_to_assessor(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<ReasonBody>,
) -> Result<HttpResponse, AppError> {
    let effect = body.into_inner().into_effect()?;
    transition(
        &state,
        &req,
        user,
        id.into_inner(),
        OrderEvent::ReturnToAssessor,
        effect,
    )
    .await
}

/// The assessor has corrected a returned order (assessor).
#[utoipa::path(tag = "lifecycle", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id"), ("If-Match" = String, Header, description = "The order's version")),
    request_body = NoteBody, responses(TransitionAnswers))]
#[post("/orders/{id}/resubmit")]
pub async fn resubmit(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<NoteBody>,
) -> Result<HttpResponse, AppError> {
    let effect = body.into_inner().into_effect()?;
    transition(
        &state,
        &req,
        user,
        id.into_inner(),
        OrderEvent::Resubmit,
        effect,
    )
    .await
}

/// Books (or rebooks) the visit (installer). Also logged as a contact.
#[utoipa::path(tag = "lifecycle", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id"), ("If-Match" = String, Header, description = "The order's version")),
    request_body = BookBody, responses(TransitionAnswers))]
#[post("/orders/{id}/book")]
pub async fn book(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<BookBody>,
) -> Result<HttpResponse, AppError> {
    let effect = body.into_inner().into_effect()?;
    transition(
        &state,
        &req,
        user,
        id.into_inner(),
        OrderEvent::Book,
        effect,
    )
    .await
}

/// The customer's keys are received (installer); their position becomes the customer's key position.
#[utoipa::path(tag = "lifecycle", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id"), ("If-Match" = String, Header, description = "The order's version")),
    request_body = ReceiveKeysBody, responses(TransitionAnswers))]
#[post("/orders/{id}/receive-keys")]
pub async fn receive_keys(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<ReceiveKeysBody>,
) -> Result<HttpResponse, AppError> {
    let effect = body.into_inner().into_effect()?;
    transition(
        &state,
        &req,
        user,
        id.into_inner(),
        OrderEvent::ReceiveKeys,
        effect,
    )
    .await
}

/// Installed on a date with serials (installer). Billing, the night patrol, the home-care group and the alarm team are messaged.
#[utoipa::path(tag = "lifecycle", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id"), ("If-Match" = String, Header, description = "The order's version")),
    request_body = InstallBody, responses(TransitionAnswers))]
#[post("/orders/{id}/install")]
pub async fn install(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<InstallBody>,
) -> Result<HttpResponse, AppError> {
    let effect = body.into_inner().into_effect()?;
    transition(
        &state,
        &req,
        user,
        id.into_inner(),
        OrderEvent::Install,
        effect,
    )
    .await
}

/// Executes the order (coordinator) with the installation date recorded at install, not today: the execution and billing start on it.
#[utoipa::path(tag = "lifecycle", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id"), ("If-Match" = String, Header, description = "The order's version")),
    request_body = EmptyBody, responses(TransitionAnswers))]
#[post("/orders/{id}/execute")]
pub async fn execute(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<EmptyBody>,
) -> Result<HttpResponse, AppError> {
    let effect = body.into_inner().into_effect()?;
    transition(
        &state,
        &req,
        user,
        id.into_inner(),
        OrderEvent::Execute,
        effect,
    )
    .await
}

/// Equipment collected (installer): which items came back, which are missing. Billing and the ordinary assessor are messaged.
#[utoipa::path(tag = "lifecycle", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id"), ("If-Match" = String, Header, description = "The order's version")),
    request_body = CollectBody, responses(TransitionAnswers))]
#[post("/orders/{id}/collect-equipment")]
pub async fn collect_equipment(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<CollectBody>,
) -> Result<HttpResponse, AppError> {
    let effect = body.into_inner().into_effect()?;
    transition(
        &state,
        &req,
        user,
        id.into_inner(),
        OrderEvent::CollectEquipment,
        effect,
    )
    .await
}

/// Keys handed back, or kept because other services go on (installer).
#[utoipa::path(tag = "lifecycle", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id"), ("If-Match" = String, Header, description = "The order's version")),
    request_body = ReturnKeysBody, responses(TransitionAnswers))]
#[post("/orders/{id}/return-keys")]
pub async fn return_keys(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<ReturnKeysBody>,
) -> Result<HttpResponse, AppError> {
    let effect = body.into_inner().into_effect()?;
    transition(
        &state,
        &req,
        user,
        id.into_inner(),
        OrderEvent::ReturnKeys,
        effect,
    )
    .await
}

/// Ends the execution (coordinator) with the end date the assessor gave; billing stops on it.
#[utoipa::path(tag = "lifecycle", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id"), ("If-Match" = String, Header, description = "The order's version")),
    request_body = EndBody, responses(TransitionAnswers))]
#[post("/orders/{id}/end")]
pub async fn end(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<EndBody>,
) -> Result<HttpResponse, AppError> {
    let effect = body.into_inner().into_effect()?;
    transition(&state, &req, user, id.into_inner(), OrderEvent::End, effect).await
}

/// The customer does not want it (installer, coordinator). The assessor is messaged.
#[utoipa::path(tag = "lifecycle", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id"), ("If-Match" = String, Header, description = "The order's version")),
    request_body = ReasonBody, responses(TransitionAnswers))]
#[post("/orders/{id}/decline")]
pub async fn decline(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<ReasonBody>,
) -> Result<HttpResponse, AppError> {
    let effect = body.into_inner().into_effect()?;
    transition(
        &state,
        &req,
        user,
        id.into_inner(),
        OrderEvent::Decline,
        effect,
    )
    .await
}

/// The decision was withdrawn (assessor).
#[utoipa::path(tag = "lifecycle", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id"), ("If-Match" = String, Header, description = "The order's version")),
    request_body = ReasonBody, responses(TransitionAnswers))]
#[post("/orders/{id}/cancel")]
pub async fn cancel(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<ReasonBody>,
) -> Result<HttpResponse, AppError> {
    let effect = body.into_inner().into_effect()?;
    transition(
        &state,
        &req,
        user,
        id.into_inner(),
        OrderEvent::Cancel,
        effect,
    )
    .await
}
