//! Equipment: the catalogue of kinds and models, items by serial number and
//! their custody from stock to the customer and back.

use super::concurrency::{etag, expected_version};
use super::json::Json;
use super::query::Query;
use crate::app;
use crate::app::equipment::{ItemRecord, ItemStep};
use crate::app::validation::Problems;
use crate::auth::{Action, Actor};
use crate::domain::custody::{EquipmentKind, ItemState};
use crate::error::{AppError, Problem};
use crate::state::AppState;
use actix_web::{get, post};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_models)
        .service(create_model)
        .service(list_items)
        .service(create_item)
        .service(export_items)
        .service(get_item)
        .service(hand_out)
        .service(restock)
        .service(scrap)
        .service(collect_item)
        .service(link)
        .service(unlink);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Model {
    pub id: String,
    pub kind: EquipmentKind,
    #[schema(example = "Tunstall")]
    pub supplier: String,
    #[schema(example = "Lifeline Vi+")]
    pub model: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Item {
    pub id: String,
    pub model_id: String,
    pub kind: EquipmentKind,
    pub supplier: String,
    pub serial: String,
    pub state: ItemState,
    /// The customer it is at (or to be collected from).
    pub customer_id: Option<String>,
    pub customer_number: Option<String>,
    /// A mounted lock linked to its customer by the admin (seed 002).
    pub linked_customer_id: Option<String>,
    pub version: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ItemMoveEntry {
    pub seq: i32,
    pub at: DateTime<Utc>,
    pub user_id: String,
    /// `new` for the first entry.
    pub from: String,
    pub to: String,
    pub customer_id: Option<String>,
    pub order_id: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ItemDetail {
    pub item: Item,
    pub history: Vec<ItemMoveEntry>,
}

fn item_dto(i: app::equipment::ItemRow, number: Option<String>) -> Result<Item, AppError> {
    Ok(Item {
        kind: i.kind,
        state: i.state,
        id: i.id,
        model_id: i.model_id,
        supplier: i.supplier,
        serial: i.serial,
        customer_id: i.customer_id,
        customer_number: number,
        linked_customer_id: i.linked_customer_id,
        version: i.version,
    })
}

fn detail_dto(record: ItemRecord) -> Result<ItemDetail, AppError> {
    let ItemRecord {
        item,
        customer_number: number,
        moves,
    } = record;
    let history = moves
        .into_iter()
        .map(|m| ItemMoveEntry {
            seq: m.seq,
            at: m.at.and_utc(),
            user_id: m.user_id,
            from: m.from_state,
            to: m.to_state,
            customer_id: m.customer_id,
            order_id: m.order_id,
            note: m.note,
        })
        .collect();
    Ok(ItemDetail {
        item: item_dto(item, number)?,
        history,
    })
}

/// The catalogue.
#[utoipa::path(tag = "equipment", security(("bearer" = [])),
    responses((status = 200, description = "Models", body = Vec<Model>)))]
#[get("/equipment/models")]
pub async fn list_models(
    state: web::Data<AppState>,
    _user: Actor,
) -> Result<HttpResponse, AppError> {
    let rows = app::equipment::models(&state.db).await?;
    let list = rows
        .into_iter()
        .map(|m| {
            Ok(Model {
                kind: m.kind,
                id: m.id,
                supplier: m.supplier,
                model: m.model,
            })
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    Ok(HttpResponse::Ok().json(list))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "digital_lock", "supplier": "Phoniro", "model": "Phoniro Lock 3"}))]
pub struct NewModel {
    pub kind: EquipmentKind,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000]*[^\u0000\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000]*$"
    )]
    pub supplier: String,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000]*[^\u0000\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000]*$"
    )]
    pub model: String,
}

/// Adds a model to the catalogue (admin).
#[utoipa::path(tag = "equipment", security(("bearer" = [])),
    request_body = NewModel,
    responses(
        (status = 201, description = "Added", body = Model),
        (status = 409, description = "Already in the catalogue", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/equipment/models")]
pub async fn create_model(
    state: web::Data<AppState>,
    user: Actor,
    body: Json<NewModel>,
) -> Result<HttpResponse, AppError> {
    user.require(
        Action::CreateEquipmentModel,
        "manage the equipment catalogue",
        "hantera utrustningskatalogen",
    )?;
    let mut p = Problems::default();
    let supplier = p.text("supplier", &body.supplier, 100);
    let model = p.text("model", &body.model, 100);
    p.finish()?;
    let row = app::equipment::add_model(&state.db, user, body.kind, supplier, model).await?;
    Ok(HttpResponse::Created().json(Model {
        kind: row.kind,
        id: row.id,
        supplier: row.supplier,
        model: row.model,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"model_id": "6b1f0c52-2d8e-4f6a-9c1e-0a7d3e5b9f21", "serial": "TX-4471-0098"}))]
pub struct NewItem {
    /// Id of an existing equipment model (`GET /api/v1/equipment/models`;
    /// otherwise 422 `unknown`).
    pub model_id: Uuid,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000]*[^\u0000\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000]*$"
    )]
    pub serial: String,
}

/// Registers an item in stock (admin, coordinator). Serials are unique per supplier and kind.
#[utoipa::path(tag = "equipment", security(("bearer" = [])),
    request_body = NewItem,
    responses(
        (status = 201, description = "In stock", body = ItemDetail),
        (status = 409, description = "The serial is already registered for this supplier and kind", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/equipment/items")]
pub async fn create_item(
    state: web::Data<AppState>,
    user: Actor,
    body: Json<NewItem>,
) -> Result<HttpResponse, AppError> {
    user.require(
        Action::CreateEquipmentItem,
        "register equipment",
        "registrera utrustning",
    )?;
    let mut p = Problems::default();
    let serial = p.text("serial", &body.serial, 100);
    p.finish()?;
    let d = app::equipment::register(&state.db, user, body.model_id.to_string(), serial).await?;
    let d = detail_dto(d)?;
    Ok(HttpResponse::Created()
        .insert_header(etag(d.item.version))
        .json(d))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ItemQuery {
    /// `to_collect` is the list of alarms to fetch, so none is forgotten (seed 003).
    pub state: Option<ItemState>,
    pub kind: Option<EquipmentKind>,
    pub customer_id: Option<Uuid>,
    #[param(pattern = r"^[^\u0000]*$")]
    pub serial: Option<String>,
    /// 1–1000, default 200.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

async fn query_items(state: &AppState, user: Actor, q: ItemQuery) -> Result<Vec<Item>, AppError> {
    user.require(Action::ListEquipment, "list equipment", "lista utrustning")?;
    let limit = super::pagination::limit_within(q.limit, 200, 1000)?;
    let rows = app::equipment::list(
        &state.db,
        user,
        app::equipment::ItemQuery {
            state: q.state,
            kind: q.kind,
            customer_id: q.customer_id.map(|u| u.to_string()),
            serial: crate::app::validation::query_text("serial", q.serial)?,
            limit,
        },
    )
    .await?;
    rows.into_iter().map(|(i, n)| item_dto(i, n)).collect()
}

/// Items, filtered: stock, what is at a customer, the list to collect.
#[utoipa::path(tag = "equipment", security(("bearer" = [])),
    params(ItemQuery),
    responses((status = 200, description = "Items", body = Vec<Item>)))]
#[get("/equipment/items")]
pub async fn list_items(
    state: web::Data<AppState>,
    user: Actor,
    q: Query<ItemQuery>,
) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(query_items(&state, user, q.into_inner()).await?))
}

/// The equipment list as CSV, with the same filters (the printable list to collect: `?state=to_collect`).
#[utoipa::path(tag = "equipment", security(("bearer" = [])),
    params(ItemQuery),
    responses((status = 200, description = "CSV: typ;leverantör;serienummer;läge;kundnummer", content_type = "text/csv", body = String)))]
#[get("/equipment/items.csv")]
pub async fn export_items(
    state: web::Data<AppState>,
    user: Actor,
    q: Query<ItemQuery>,
) -> Result<HttpResponse, AppError> {
    let items = query_items(&state, user, q.into_inner()).await?;
    let rows = items.into_iter().map(|i| {
        vec![
            i.kind.sv().to_string(),
            i.supplier,
            i.serial,
            i.state.sv().to_string(),
            i.customer_number.unwrap_or_default(),
        ]
    });
    super::export::csv_response(
        "utrustning.csv",
        &["typ", "leverantör", "serienummer", "läge", "kundnummer"],
        rows,
    )
}

/// One item and its custody chain.
#[utoipa::path(tag = "equipment", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Item id")),
    responses(
        (status = 200, description = "The item", body = ItemDetail, headers(("ETag" = String, description = "Version for If-Match"))),
        (status = 404, description = "No such item", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/equipment/items/{id}")]
pub async fn get_item(
    state: web::Data<AppState>,
    user: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner().to_string();
    let d = app::equipment::read(&state.db, user, id).await?;
    let d = detail_dto(d)?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(d.item.version))
        .json(d))
}

async fn act(
    state: &AppState,
    req: &HttpRequest,
    user: Actor,
    id: Uuid,
    action: Action,
    step: ItemStep,
) -> Result<HttpResponse, AppError> {
    user.require(
        action,
        "do this with equipment",
        "göra detta med utrustning",
    )?;
    let expected = expected_version(req)?;
    let record = app::equipment::step(&state.db, user, id.to_string(), expected, step).await?;
    let d = detail_dto(record)?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(d.item.version))
        .json(d))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerRef {
    pub customer_id: Uuid,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemNote {
    pub note: Option<String>,
}

/// Hands a receipt product out to a customer until a lock is mounted (seed 002).
/// Refused for a customer from another municipality. Needs `If-Match`.
#[utoipa::path(tag = "equipment", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Item id"), ("If-Match" = String, Header, description = "The item's version")),
    request_body = CustomerRef,
    responses(
        (status = 200, description = "At the customer's", body = ItemDetail),
        (status = 404, description = "No such item or customer", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The item is not in stock", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/equipment/items/{id}/hand-out")]
pub async fn hand_out(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<CustomerRef>,
) -> Result<HttpResponse, AppError> {
    let customer_id = body.customer_id.to_string();
    act(
        &state,
        &req,
        user,
        id.into_inner(),
        Action::HandOutReceiptProduct,
        ItemStep::HandOut { customer_id },
    )
    .await
}

/// Back in stock after collection (admin, coordinator, installer). Needs `If-Match`.
#[utoipa::path(tag = "equipment", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Item id"), ("If-Match" = String, Header, description = "The item's version")),
    request_body = ItemNote,
    responses(
        (status = 200, description = "In stock", body = ItemDetail),
        (status = 404, description = "No such item", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The item was not collected", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/equipment/items/{id}/restock")]
pub async fn restock(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<ItemNote>,
) -> Result<HttpResponse, AppError> {
    let note = body.into_inner().note;
    act(
        &state,
        &req,
        user,
        id.into_inner(),
        Action::RestockEquipment,
        ItemStep::Restock { note },
    )
    .await
}

/// Scrapped (admin, coordinator). Needs `If-Match`.
#[utoipa::path(tag = "equipment", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Item id"), ("If-Match" = String, Header, description = "The item's version")),
    request_body = ItemNote,
    responses(
        (status = 200, description = "Scrapped", body = ItemDetail),
        (status = 404, description = "No such item", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The item is at a customer's", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/equipment/items/{id}/scrap")]
pub async fn scrap(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<ItemNote>,
) -> Result<HttpResponse, AppError> {
    let note = body.into_inner().note;
    act(
        &state,
        &req,
        user,
        id.into_inner(),
        Action::ScrapEquipment,
        ItemStep::Scrap { note },
    )
    .await
}

/// Picked up from the customer outside an uninstall — a receipt product taken
/// away, a broken unit swapped — or a missing item that turned up (installer,
/// care staff, coordinator). Needs `If-Match`.
#[utoipa::path(tag = "equipment", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Item id"), ("If-Match" = String, Header, description = "The item's version")),
    request_body = ItemNote,
    responses(
        (status = 200, description = "Collected", body = ItemDetail),
        (status = 404, description = "No such item", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The item is not at a customer's or missing", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/equipment/items/{id}/collect")]
pub async fn collect_item(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<ItemNote>,
) -> Result<HttpResponse, AppError> {
    let note = body.into_inner().note;
    act(
        &state,
        &req,
        user,
        id.into_inner(),
        Action::CollectEquipment,
        ItemStep::Collect { note },
    )
    .await
}

/// Links a mounted digital lock to its customer (admin; seed 002). A provider
/// change leaves the link as it is. Needs `If-Match`.
#[utoipa::path(tag = "equipment", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Item id"), ("If-Match" = String, Header, description = "The item's version")),
    request_body = CustomerRef,
    responses(
        (status = 200, description = "Linked", body = ItemDetail),
        (status = 404, description = "No such item or customer", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a lock mounted at that customer's", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/equipment/items/{id}/link")]
pub async fn link(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<CustomerRef>,
) -> Result<HttpResponse, AppError> {
    let customer_id = body.customer_id.to_string();
    act(
        &state,
        &req,
        user,
        id.into_inner(),
        Action::LinkLock,
        ItemStep::Link { customer_id },
    )
    .await
}

/// Removes the lock's link to its customer at removal (admin). Needs `If-Match`.
#[utoipa::path(tag = "equipment", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Item id"), ("If-Match" = String, Header, description = "The item's version")),
    request_body = ItemNote,
    responses(
        (status = 200, description = "Unlinked", body = ItemDetail),
        (status = 404, description = "No such item", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not linked", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/equipment/items/{id}/unlink")]
pub async fn unlink(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<ItemNote>,
) -> Result<HttpResponse, AppError> {
    let note = body.into_inner().note;
    act(
        &state,
        &req,
        user,
        id.into_inner(),
        Action::UnlinkLock,
        ItemStep::Unlink { note },
    )
    .await
}
