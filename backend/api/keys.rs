//! The key register: where each customer's key is, who moved it, and when.
//! Replaces the alarm team's Excel sheet (seed 003).

use super::concurrency::{etag, expected_version};
use super::json::Json;
use super::query::Query;
use crate::app;
use crate::app::keys::KeyChange;
use crate::app::keys::KeyRecord;
use crate::app::validation::Problems;
use crate::auth::{Action, Actor};
use crate::domain::custody::{KeyCount, KeyCustody, KeyMove, KeyNumber, KeyPosition};
use crate::error::{AppError, Problem};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{get, post};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_keys)
        .service(receive_key)
        .service(export_keys)
        .service(get_key)
        .service(sign_out)
        .service(sign_in)
        .service(return_to_customer)
        .service(report_lost)
        .service(receive_again)
        .service(customer_keys);
}

fn may_handle_keys(user: &Actor) -> Result<(), AppError> {
    user.require(Action::HandleKeys, "move keys", "flytta nycklar")
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Key {
    pub id: String,
    #[schema(example = "B-1042")]
    pub key_number: String,
    pub customer_id: String,
    /// The customer number; a key list never shows the personnummer.
    pub customer_number: String,
    pub count: i32,
    #[schema(example = "Skåp 2")]
    pub cabinet: String,
    #[schema(example = "14")]
    pub hook: String,
    /// In the separate night cabinet.
    pub night_cabinet: bool,
    pub custody: KeyCustody,
    pub holder_group_id: Option<String>,
    pub holder_user_id: Option<String>,
    /// Since when the key is where it is.
    pub since: DateTime<Utc>,
    /// Signed out longer than allowed.
    pub overdue: bool,
    pub version: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyMoveEntry {
    pub seq: i32,
    pub at: DateTime<Utc>,
    pub user_id: String,
    /// receive, sign_out, sign_in, return_to_customer, report_lost
    #[serde(rename = "move")]
    pub move_kind: String,
    /// `customer`, `cabinet:<cabinet>/<hook>`, `group:<id>`, `user:<id>`, `lost`
    pub from: String,
    pub to: String,
    pub order_id: Option<String>,
    pub receipt_document_id: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyDetail {
    pub key: Key,
    /// Every move since the key was received, oldest first: each starts where the one before ended.
    pub history: Vec<KeyMoveEntry>,
}

pub(crate) fn key_dto(
    k: app::keys::KeyRow,
    customer_number: String,
    overdue_hours: i64,
) -> Result<Key, AppError> {
    let overdue = app::keys::is_overdue(&k, overdue_hours);
    let custody: KeyCustody = k.custody;
    Ok(Key {
        id: k.id,
        key_number: k.key_number,
        customer_id: k.customer_id,
        customer_number,
        count: k.key_count,
        cabinet: k.cabinet,
        hook: k.hook,
        night_cabinet: k.night_cabinet,
        custody,
        holder_group_id: k.holder_group_id,
        holder_user_id: k.holder_user_id,
        since: k.since.and_utc(),
        overdue,
        version: k.version,
    })
}

fn detail_dto(record: KeyRecord, hours: i64) -> Result<KeyDetail, AppError> {
    let KeyRecord {
        key: k,
        customer_number: number,
        moves,
    } = record;
    let history = moves
        .into_iter()
        .map(|m| KeyMoveEntry {
            seq: m.seq,
            at: m.at.and_utc(),
            user_id: m.user_id,
            move_kind: m.move_kind,
            from: m.from_place,
            to: m.to_place,
            order_id: m.order_id,
            receipt_document_id: m.receipt_document_id,
            note: m.note,
        })
        .collect();
    Ok(KeyDetail {
        key: key_dto(k, number, hours)?,
        history,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"key_number": "B-1042", "customer_id": "0f3c9a4e-7b21-4d6e-8a55-2c9e1b7d4f60", "count": 2, "cabinet": "Skåp 2", "hook": "14"}))]
pub struct NewKey {
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"^[\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[ \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\-\u2010-\u2015\u2212\uFE63\uFF0D]*[0-9A-Za-zÅÄÖÆØÜÉåäöæøüé/.](?:[ \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\-\u2010-\u2015\u2212\uFE63\uFF0D]*[0-9A-Za-zÅÄÖÆØÜÉåäöæøüé/.])*[ \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\-\u2010-\u2015\u2212\uFE63\uFF0D]*[\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub key_number: String,
    /// A customer you may see (otherwise 404).
    pub customer_id: Uuid,
    #[schema(minimum = 1, maximum = 20)]
    pub count: i32,
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
    #[serde(default)]
    pub night_cabinet: bool,
    /// The signed nyckelkvittens, once photographed: the id of a document of this
    /// customer (otherwise 422 `unknown`).
    pub receipt_document_id: Option<Uuid>,
}

/// Registers a key received from a customer (installer, care staff, coordinator, admin).
#[utoipa::path(tag = "keys", security(("bearer" = [])),
    request_body = NewKey,
    responses(
        (status = 201, description = "In the cabinet", body = KeyDetail),
        (status = 404, description = "No such customer, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The key number is taken", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/keys")]
pub async fn receive_key(
    state: web::Data<AppState>,
    user: Actor,
    body: Json<NewKey>,
) -> Result<HttpResponse, AppError> {
    may_handle_keys(&user)?;
    let b = body.into_inner();
    let mut p = Problems::default();
    let number = p.key(KeyNumber::parse(&b.key_number), None);
    let count = p.key(KeyCount::new(b.count), None);
    let position = p.key_position(KeyPosition::parse(&b.cabinet, &b.hook, b.night_cabinet));
    let ((number, count), position) = p.finish_with(number.zip(count).zip(position))?;
    let hours = state.settings.key_sign_out_hours;
    let received = app::keys::Received {
        customer_id: b.customer_id.to_string(),
        number,
        count,
        position,
        receipt_document_id: b.receipt_document_id.map(|u| u.to_string()),
    };
    let d = detail_dto(app::keys::receive(&state.db, user, received).await?, hours)?;
    Ok(HttpResponse::Created()
        .insert_header(etag(d.key.version))
        .json(d))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct KeyQuery {
    pub customer_id: Option<Uuid>,
    /// The key with this number, written as on its tag (case, blanks and
    /// dashes as the register normalises them: `b 1042` finds `B-1042`); what
    /// cannot be a key number finds nothing.
    pub key_number: Option<String>,
    /// Keys signed out to this group.
    pub holder_group_id: Option<Uuid>,
    /// Keys signed out to this person.
    pub holder_user_id: Option<Uuid>,
    pub custody: Option<KeyCustody>,
    /// Only keys signed out longer than allowed.
    #[serde(default)]
    pub overdue: bool,
    /// Only keys that cannot be accounted for: lost, or signed out longer than allowed.
    #[serde(default)]
    pub unaccounted: bool,
    /// 1–1000, default 200.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

async fn query_keys(state: &AppState, user: Actor, q: KeyQuery) -> Result<Vec<Key>, AppError> {
    let limit = super::pagination::limit_within(q.limit, 200, 1000)?;
    let hours = state.settings.key_sign_out_hours;
    // A search: what cannot be a key number finds no key.
    let key_number = match q.key_number.as_deref().map(KeyNumber::parse) {
        Some(Ok(number)) => Some(number.as_str().to_string()),
        Some(Err(_)) => return Ok(Vec::new()),
        None => None,
    };
    let rows = app::keys::list(
        &state.db,
        user,
        app::keys::KeyQuery {
            customer_id: q.customer_id.map(|u| u.to_string()),
            key_number,
            holder_group_id: q.holder_group_id.map(|u| u.to_string()),
            holder_user_id: q.holder_user_id.map(|u| u.to_string()),
            custody: q.custody,
            overdue: q.overdue,
            unaccounted: q.unaccounted,
            overdue_hours: hours,
            limit,
        },
    )
    .await?;
    rows.into_iter()
        .map(|(k, n)| key_dto(k, n, hours))
        .collect()
}

/// The key register, filtered: a group's signed-out keys, overdue keys, keys
/// that cannot be accounted for.
#[utoipa::path(tag = "keys", security(("bearer" = [])),
    params(KeyQuery),
    responses((status = 200, description = "Keys, by key number", body = Vec<Key>)))]
#[get("/keys")]
pub async fn list_keys(
    state: web::Data<AppState>,
    user: Actor,
    q: Query<KeyQuery>,
) -> Result<HttpResponse, AppError> {
    let keys = query_keys(&state, user, q.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(keys))
}

/// The key register as CSV (semicolon-separated, UTF-8), with the same filters.
#[utoipa::path(tag = "keys", security(("bearer" = [])),
    params(KeyQuery),
    responses((status = 200, description = "CSV: nyckelnummer;kundnummer;antal;skåp;krok;nattskåp;var;sedan", content_type = "text/csv", body = String)))]
#[get("/keys.csv")]
pub async fn export_keys(
    state: web::Data<AppState>,
    user: Actor,
    q: Query<KeyQuery>,
) -> Result<HttpResponse, AppError> {
    let keys = query_keys(&state, user, q.into_inner()).await?;
    let rows = keys.into_iter().map(|k| {
        vec![
            k.key_number,
            k.customer_number,
            k.count.to_string(),
            k.cabinet,
            k.hook,
            if k.night_cabinet { "ja" } else { "nej" }.to_string(),
            k.custody.sv().to_string(),
            k.since.format("%Y-%m-%d %H:%M").to_string(),
        ]
    });
    super::export::csv_response(
        "nyckelregister.csv",
        &[
            "nyckelnummer",
            "kundnummer",
            "antal",
            "skåp",
            "krok",
            "nattskåp",
            "var",
            "sedan",
        ],
        rows,
    )
}

/// Where is this customer's key right now.
#[utoipa::path(tag = "keys", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Customer id")),
    responses(
        (status = 200, description = "The customer's keys", body = Vec<Key>),
        (status = 404, description = "No such customer, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/customers/{id}/keys")]
pub async fn customer_keys(
    state: web::Data<AppState>,
    user: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let hours = state.settings.key_sign_out_hours;
    let id = id.into_inner().to_string();
    let (rows, number) = app::keys::of_customer(&state.db, user, id).await?;
    let keys = rows
        .into_iter()
        .map(|k| key_dto(k, number.clone(), hours))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(keys))
}

/// One key and its whole custody chain.
#[utoipa::path(tag = "keys", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Key id")),
    responses(
        (status = 200, description = "The key", body = KeyDetail, headers(("ETag" = String, description = "Version for If-Match"))),
        (status = 404, description = "No such key, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/keys/{id}")]
pub async fn get_key(
    state: web::Data<AppState>,
    user: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let hours = state.settings.key_sign_out_hours;
    let id = id.into_inner().to_string();
    let d = detail_dto(app::keys::read(&state.db, user, id).await?, hours)?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(d.key.version))
        .json(d))
}

async fn do_move(
    state: &AppState,
    req: &HttpRequest,
    user: Actor,
    id: Uuid,
    change: KeyChange<'static>,
) -> Result<HttpResponse, AppError> {
    may_handle_keys(&user)?;
    let expected = expected_version(req)?;
    let hours = state.settings.key_sign_out_hours;
    let record = app::keys::move_visible(&state.db, user, id.to_string(), expected, change).await?;
    let d = detail_dto(record, hours)?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(d.key.version))
        .json(d))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"group_id": "9d2e4b71-5c3a-4f8e-b6d0-7e1a2c9f3b58"}))]
pub struct SignOut {
    /// To a group (e.g. the night patrol; an existing group, `GET /api/v1/groups`)…
    pub group_id: Option<Uuid>,
    /// …or to a person (an existing user). Exactly one; a group or user that does
    /// not exist is 422 `unknown`.
    pub user_id: Option<Uuid>,
    #[schema(max_length = 500, pattern = r"^[^\u0000]*$")]
    pub note: Option<String>,
}

/// Signs a key out of the cabinet to a group or a person. Needs `If-Match`.
#[utoipa::path(tag = "keys", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Key id"), ("If-Match" = String, Header, description = "The key's version")),
    request_body = SignOut,
    responses(
        (status = 200, description = "Signed out", body = KeyDetail),
        (status = 404, description = "No such key, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The key is not in the cabinet; the message says where the register has it", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The key moved since you read it", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/keys/{id}/sign-out")]
pub async fn sign_out(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<SignOut>,
) -> Result<HttpResponse, AppError> {
    let b = body.into_inner();
    let mut p = Problems::default();
    if b.group_id.is_some() == b.user_id.is_some() {
        p.add(
            "group_id",
            "exactly_one",
            "name either a group or a person",
            "ange antingen en grupp eller en person",
        );
    }
    let note = p.optional_text("note", b.note.as_deref(), 500);
    p.finish()?;
    let change = KeyChange {
        to_group: b.group_id.map(|u| u.to_string()),
        to_user: b.user_id.map(|u| u.to_string()),
        note,
        ..KeyChange::of(KeyMove::SignOut)
    };
    do_move(&state, &req, user, id.into_inner(), change).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// Hang it somewhere else than before: `cabinet` and `hook` together, or
    /// neither (one without the other is 422 `incomplete`); `night_cabinet` with them.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u001F\u007F-\u009F\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub cabinet: Option<String>,
    /// With `cabinet`.
    #[schema(
        min_length = 1,
        max_length = 20,
        pattern = r"^[\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u001F\u007F-\u009F\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$"
    )]
    pub hook: Option<String>,
    pub night_cabinet: Option<bool>,
}

/// Back in the cabinet (also: a lost key found). Needs `If-Match`.
#[utoipa::path(tag = "keys", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Key id"), ("If-Match" = String, Header, description = "The key's version")),
    request_body = SignIn,
    responses(
        (status = 200, description = "In the cabinet", body = KeyDetail),
        (status = 404, description = "No such key, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The key is not signed out or lost; the message says where the register has it", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The key moved since you read it", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/keys/{id}/sign-in")]
pub async fn sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<SignIn>,
) -> Result<HttpResponse, AppError> {
    let b = body.into_inner();
    let mut p = Problems::default();
    let position = match (&b.cabinet, &b.hook) {
        (Some(c), Some(h)) => p
            .key_position(KeyPosition::parse(c, h, b.night_cabinet.unwrap_or(false)))
            .map(|k| (k.cabinet, k.hook, k.night_cabinet)),
        (None, None) => None,
        _ => {
            p.add(
                "hook",
                "incomplete",
                "give cabinet and hook together",
                "ange skåp och krok tillsammans",
            );
            None
        }
    };
    p.finish()?;
    let change = KeyChange {
        cabinet: position,
        ..KeyChange::of(KeyMove::SignIn)
    };
    do_move(&state, &req, user, id.into_inner(), change).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnKey {
    /// The signed receipt for the returned key, once photographed: the id of a
    /// document of this customer (otherwise 422 `unknown`).
    pub receipt_document_id: Option<Uuid>,
}

/// Handed back to the customer. Needs `If-Match`.
#[utoipa::path(tag = "keys", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Key id"), ("If-Match" = String, Header, description = "The key's version")),
    request_body = ReturnKey,
    responses(
        (status = 200, description = "Returned", body = KeyDetail),
        (status = 404, description = "No such key, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The key is not in the cabinet; the message says where the register has it", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The key moved since you read it", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/keys/{id}/return-to-customer")]
pub async fn return_to_customer(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<ReturnKey>,
) -> Result<HttpResponse, AppError> {
    let doc = body.receipt_document_id.map(|u| u.to_string());
    let change = KeyChange {
        receipt_document_id: doc,
        ..KeyChange::of(KeyMove::ReturnToCustomer)
    };
    do_move(&state, &req, user, id.into_inner(), change).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"note": "Ej återlämnad efter nattpasset"}))]
pub struct ReportLost {
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"^[^\u0000]*[^\u0000\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000]*$"
    )]
    pub note: String,
}

/// Reports a key lost: an incident until it is found and signed in. Needs `If-Match`.
#[utoipa::path(tag = "keys", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Key id"), ("If-Match" = String, Header, description = "The key's version")),
    request_body = ReportLost,
    responses(
        (status = 200, description = "Reported lost", body = KeyDetail),
        (status = 404, description = "No such key, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The key is already returned or lost", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The key moved since you read it", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/keys/{id}/report-lost")]
pub async fn report_lost(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<ReportLost>,
) -> Result<HttpResponse, AppError> {
    let mut p = Problems::default();
    let note = p.text("note", &body.note, 500);
    p.finish()?;
    let change = KeyChange {
        note: Some(note),
        ..KeyChange::of(KeyMove::ReportLost)
    };
    do_move(&state, &req, user, id.into_inner(), change).await
}

/// A returned key received from the customer again. Needs `If-Match`.
#[utoipa::path(tag = "keys", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Key id"), ("If-Match" = String, Header, description = "The key's version")),
    request_body = ReturnKey,
    responses(
        (status = 200, description = "In the cabinet", body = KeyDetail),
        (status = 404, description = "No such key, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The key was not returned", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The key moved since you read it", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/keys/{id}/receive-again")]
pub async fn receive_again(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<ReturnKey>,
) -> Result<HttpResponse, AppError> {
    let doc = body.receipt_document_id.map(|u| u.to_string());
    let change = KeyChange {
        receipt_document_id: doc,
        ..KeyChange::of(KeyMove::Receive)
    };
    do_move(&state, &req, user, id.into_inner(), change).await
}
