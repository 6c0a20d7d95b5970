//! Customers (brukare). Every read of personal data and every change is
//! access-checked through `auth::permissions` and written to the audit log.

use super::concurrency::{etag, expected_version};
use super::json::Json;
use super::pagination::{self, Page};
use super::query::Query;
use crate::app;
use crate::app::validation::{nullable, Problems};
use crate::auth::{Action, Actor};
use crate::domain::Personnummer;
use crate::error::{AppError, Problem};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{get, patch, post};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_customers)
        .service(create_customer)
        .service(get_customer)
        .service(update_customer)
        .service(reveal_personnummer);
}

#[derive(Debug, Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct Address {
    #[schema(example = "Storgatan 1")]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000]*[^\u0000\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000]*$"
    )]
    pub street: String,
    #[schema(example = "132 30")]
    #[schema(
        min_length = 5,
        max_length = 10,
        pattern = r"^[\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*(?:[0-9][\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*){5}$"
    )]
    pub postal_code: String,
    #[schema(example = "Saltsjö-Boo")]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000]*[^\u0000\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000]*$"
    )]
    pub city: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Consent {
    pub given: bool,
    pub recorded_at: Option<DateTime<Utc>>,
    /// The user who recorded it.
    pub recorded_by: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Consents {
    /// Consent to a digital lock (låsvred).
    pub digital_lock: Consent,
    /// Consent to staff unlocking the door with it.
    pub staff_unlock: Consent,
}

/// A customer as every list and card shows it: the personnummer masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct Customer {
    pub id: String,
    #[schema(example = "K-100001")]
    pub customer_number: String,
    /// Masked; reveal with GET /customers/{id}/personnummer (audited).
    #[schema(example = "19121212-XXXX")]
    pub personnummer: String,
    pub birth_date: NaiveDate,
    /// A samordningsnummer rather than a personnummer.
    pub coordination_number: bool,
    pub first_name: String,
    pub last_name: String,
    pub address: Address,
    pub phone: Option<String>,
    pub area_id: String,
    /// The groups that serve this customer (home care, alarm team, night patrol…).
    pub group_ids: Vec<String>,
    /// The ordinary assessor (ordinarie biståndshandläggare).
    pub ordinary_assessor_id: Option<String>,
    /// Where the customer's key hangs (nyckelposition).
    pub key_position: Option<String>,
    /// Door and entry notes.
    pub entry_notes: Option<String>,
    /// The case comes from another municipality: no lock, no receipt product, own billing line.
    pub other_municipality: bool,
    pub consent: Consents,
    /// Pass as `If-Match: "<version>"` when changing the customer.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

fn customer_dto(row: app::customers::CustomerRow, group_ids: Vec<String>) -> Customer {
    let pnr = Personnummer::from_canonical(row.personnummer);
    Customer {
        id: row.id,
        customer_number: row.customer_number,
        personnummer: pnr.masked(),
        birth_date: row.birth_date,
        coordination_number: pnr.is_coordination_number(),
        first_name: row.first_name,
        last_name: row.last_name,
        address: Address {
            street: row.street,
            postal_code: row.postal_code,
            city: row.city,
        },
        phone: row.phone,
        area_id: row.area_id,
        group_ids,
        ordinary_assessor_id: row.ordinary_assessor_id,
        key_position: row.key_position,
        entry_notes: row.entry_notes,
        other_municipality: row.other_municipality,
        consent: Consents {
            digital_lock: Consent {
                given: row.consent_digital_lock,
                recorded_at: row.consent_digital_lock_at.map(utc),
                recorded_by: row.consent_digital_lock_by,
            },
            staff_unlock: Consent {
                given: row.consent_staff_unlock,
                recorded_at: row.consent_staff_unlock_at.map(utc),
                recorded_by: row.consent_staff_unlock_by,
            },
        },
        version: row.version,
        created_at: utc(row.created_at),
        updated_at: utc(row.updated_at),
    }
}

/// Personal data must not linger in shared caches or the browser's disk cache.
fn private(mut resp: HttpResponse) -> HttpResponse {
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    resp
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CustomerQuery {
    /// Free text: a name (part of first or last name), a customer number
    /// (`K-100001`) or a personnummer in any common form (exact match).
    #[param(pattern = r"^[^\u0000]*$")]
    pub q: Option<String>,
    pub area_id: Option<Uuid>,
    /// Customers served by this group.
    pub group_id: Option<Uuid>,
    pub ordinary_assessor_id: Option<Uuid>,
    pub other_municipality: Option<bool>,
    /// `next_cursor` from the previous page.
    #[param(min_length = 1, pattern = r"^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// Customers you may see, sorted by name, filtered and paginated by cursor.
/// Each customer returned is recorded in the audit log as read.
#[utoipa::path(tag = "customers", security(("bearer" = [])),
    params(CustomerQuery),
    responses((status = 200, description = "One page of customers", body = Page<Customer>)))]
#[get("/customers")]
pub async fn list_customers(
    state: web::Data<AppState>,
    user: Actor,
    query: Query<CustomerQuery>,
) -> Result<HttpResponse, AppError> {
    let q = query.into_inner();
    let limit = pagination::limit(q.limit)?;
    let mut filter = app::customers::ListFilter {
        area_id: q.area_id.map(|u| u.to_string()),
        group_id: q.group_id.map(|u| u.to_string()),
        ordinary_assessor_id: q.ordinary_assessor_id.map(|u| u.to_string()),
        other_municipality: q.other_municipality,
        ..Default::default()
    };
    let text = crate::app::validation::query_text("q", q.q)?;
    if let Some(text) = text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let upper = text.to_uppercase();
        if upper.starts_with("K-") {
            filter.customer_number = Some(upper);
        } else if let Ok(p) = Personnummer::parse(text, crate::domain::calendar::today()) {
            filter.personnummer = Some(p.canonical().to_string());
        } else {
            filter.name = Some(text.to_lowercase());
        }
    }
    if let Some(cursor) = &q.cursor {
        let mut parts = pagination::decode(cursor, 2)?;
        let id = parts.pop().unwrap_or_default();
        filter.after = Some((parts.pop().unwrap_or_default(), id));
    }
    let (rows, groups, more) = app::customers::list(&state.db, user, filter, limit).await?;
    let next_cursor = more
        .then(|| {
            rows.last()
                .map(|r| pagination::encode(&[&r.search_name, &r.id]))
        })
        .flatten();
    let items = rows
        .into_iter()
        .map(|r| {
            let g = groups
                .iter()
                .filter(|(c, _)| *c == r.id)
                .map(|(_, g)| g.clone())
                .collect();
            customer_dto(r, g)
        })
        .collect();
    Ok(private(
        HttpResponse::Ok().json(Page { items, next_cursor }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "personnummer": "19121212-1212",
    "first_name": "Tolvan",
    "last_name": "Tolvansson",
    "address": {"street": "Storgatan 1", "postal_code": "132 30", "city": "Saltsjö-Boo"},
    "phone": "070-123 45 67",
    "area_id": "6a1c0e0e-0000-4000-8000-000000000001",
    "group_ids": [],
    "key_position": "Skåp 2, krok 14",
    "entry_notes": "Portkod 1234. Hund.",
    "consent_digital_lock": true,
    "consent_staff_unlock": true
}))]
pub struct NewCustomer {
    /// 10 or 12 digits (`YYMMDD-NNNC` or `YYYYMMDD-NNNC`; the separator `-` may be
    /// left out, `+` in the 10-digit form marks someone 100 or older; whitespace is
    /// ignored). The digits must name a real day, not later than today (day + 60 for
    /// a samordningsnummer), and the last one must be the Luhn check digit of the
    /// ten digits from `YY`. Otherwise 422 `invalid`.
    pub personnummer: String,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000]*[^\u0000\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000]*$"
    )]
    pub first_name: String,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000]*[^\u0000\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000]*$"
    )]
    pub last_name: String,
    pub address: Address,
    #[schema(max_length = 40, pattern = r"^[^\u0000]*$")]
    pub phone: Option<String>,
    /// Id of an existing area (`GET /api/v1/areas`; otherwise 422 `unknown`),
    /// and one of your own areas (those of your groups, `GET /api/v1/auth/me`)
    /// unless you are an admin (otherwise 422 `outside_scope`).
    pub area_id: Uuid,
    /// Ids of existing groups (`GET /api/v1/groups`; otherwise 422 `unknown`).
    #[serde(default)]
    pub group_ids: Vec<Uuid>,
    /// An active user with the role `assessor` (otherwise 422 `not_an_assessor`).
    pub ordinary_assessor_id: Option<Uuid>,
    #[schema(max_length = 200, pattern = r"^[^\u0000]*$")]
    pub key_position: Option<String>,
    #[schema(max_length = 2000, pattern = r"^[^\u0000]*$")]
    pub entry_notes: Option<String>,
    #[serde(default)]
    pub other_municipality: bool,
    #[serde(default)]
    pub consent_digital_lock: bool,
    #[serde(default)]
    pub consent_staff_unlock: bool,
}

/// Creates a customer (assessor, admin).
#[utoipa::path(tag = "customers", security(("bearer" = [])),
    request_body = NewCustomer,
    responses(
        (status = 201, description = "Created", body = Customer, headers(("ETag" = String, description = "Version for If-Match"))),
        (status = 409, description = "A customer with this personnummer exists", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/customers")]
pub async fn create_customer(
    state: web::Data<AppState>,
    user: Actor,
    body: Json<NewCustomer>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::CreateCustomer, "create customers", "skapa brukare")?;
    let new = body.into_inner();
    let mut p = Problems::default();
    let pnr = match Personnummer::parse(&new.personnummer, crate::domain::calendar::today()) {
        Ok(pnr) => Some(pnr),
        Err(e) => {
            p.add("personnummer", "invalid", e.to_string(), e.sv());
            None
        }
    };
    let first_name = p.text("first_name", &new.first_name, 100);
    let last_name = p.text("last_name", &new.last_name, 100);
    let address = address(&mut p, &new.address);
    let phone = p.optional_text("phone", new.phone.as_deref(), 40);
    let key_position = p.optional_text("key_position", new.key_position.as_deref(), 200);
    let entry_notes = p.optional_text("entry_notes", new.entry_notes.as_deref(), 2000);
    let area_id = new.area_id.to_string();
    if !user.scope().admits(&area_id, &[]) {
        p.add(
            "area_id",
            "outside_scope",
            "you may only create customers in your own areas",
            "du får bara lägga upp brukare i dina egna områden",
        );
    }
    p.finish()?;
    let new = app::customers::NewCustomer {
        personnummer: pnr.expect("validated above"),
        first_name,
        last_name,
        address: (address.street, address.postal_code, address.city),
        phone,
        area_id,
        ordinary_assessor_id: new.ordinary_assessor_id.map(|u| u.to_string()),
        key_position,
        entry_notes,
        other_municipality: new.other_municipality,
        consent_digital_lock: new.consent_digital_lock,
        consent_staff_unlock: new.consent_staff_unlock,
        group_ids: new.group_ids.iter().map(Uuid::to_string).collect(),
    };
    let (row, groups) = app::customers::register(&state.db, user, new).await?;
    let version = row.version;
    Ok(private(
        HttpResponse::Created()
            .insert_header(etag(version))
            .insert_header((header::LOCATION, format!("/api/v1/customers/{}", row.id)))
            .json(customer_dto(row, groups)),
    ))
}

fn address(p: &mut Problems, a: &Address) -> Address {
    let street = p.text("address.street", &a.street, 200);
    let postal_code: String = p.text("address.postal_code", &a.postal_code, 10);
    let digits: String = postal_code.chars().filter(|c| !c.is_whitespace()).collect();
    if !postal_code.is_empty() && (digits.len() != 5 || !digits.chars().all(|c| c.is_ascii_digit()))
    {
        p.add(
            "address.postal_code",
            "invalid",
            "a Swedish postal code has five digits, e.g. 132 30",
            "ett postnummer har fem siffror, till exempel 132 30",
        );
    }
    let city = p.text("address.city", &a.city, 100);
    let postal_code = if digits.len() == 5 {
        format!("{} {}", &digits[..3], &digits[3..])
    } else {
        postal_code
    };
    Address {
        street,
        postal_code,
        city,
    }
}

/// One customer's card. Recorded in the audit log.
#[utoipa::path(tag = "customers", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Customer id")),
    responses(
        (status = 200, description = "The customer", body = Customer, headers(("ETag" = String, description = "Version for If-Match"))),
        (status = 404, description = "No such customer, or not one you may see (the attempt is audited)", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/customers/{id}")]
pub async fn get_customer(
    state: web::Data<AppState>,
    user: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner().to_string();
    let (row, groups) = app::customers::read(&state.db, user, id).await?;
    Ok(private(
        HttpResponse::Ok()
            .insert_header(etag(row.version))
            .json(customer_dto(row, groups)),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"key_position": "Skåp 1, krok 7", "entry_notes": null}))]
pub struct CustomerUpdate {
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000]*[^\u0000\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000]*$"
    )]
    pub first_name: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000]*[^\u0000\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000]*$"
    )]
    pub last_name: Option<String>,
    pub address: Option<Address>,
    /// `null` clears.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    #[schema(value_type = Option<String>)]
    #[schema(max_length = 40, pattern = r"^[^\u0000]*$")]
    pub phone: Option<Option<String>>,
    /// Id of an existing area (`GET /api/v1/areas`; otherwise 422 `unknown`),
    /// and one of your own areas (those of your groups, `GET /api/v1/auth/me`)
    /// unless you are an admin (otherwise 422 `outside_scope`).
    pub area_id: Option<Uuid>,
    /// Replaces the serving groups: ids of existing groups (`GET /api/v1/groups`;
    /// otherwise 422 `unknown`).
    pub group_ids: Option<Vec<Uuid>>,
    /// An active user with the role `assessor` (otherwise 422 `not_an_assessor`); `null` clears.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    #[schema(value_type = Option<Uuid>)]
    pub ordinary_assessor_id: Option<Option<Uuid>>,
    /// `null` clears.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    #[schema(value_type = Option<String>)]
    #[schema(max_length = 200, pattern = r"^[^\u0000]*$")]
    pub key_position: Option<Option<String>>,
    /// `null` clears.
    #[serde(default, deserialize_with = "nullable::deserialize")]
    #[schema(value_type = Option<String>)]
    #[schema(max_length = 2000, pattern = r"^[^\u0000]*$")]
    pub entry_notes: Option<Option<String>>,
    pub other_municipality: Option<bool>,
    pub consent_digital_lock: Option<bool>,
    pub consent_staff_unlock: Option<bool>,
}

/// Changes a customer (assessor, coordinator, admin). Fields left out stay as
/// they are. Needs `If-Match` with the ETag you read; a stale one gets 412.
#[utoipa::path(tag = "customers", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Customer id"),
           ("If-Match" = String, Header, description = "ETag from GET")),
    request_body = CustomerUpdate,
    responses(
        (status = 200, description = "Updated", body = Customer, headers(("ETag" = String, description = "New version"))),
        (status = 404, description = "No such customer, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed by someone else since you read it", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json"),
    ))]
#[patch("/customers/{id}")]
pub async fn update_customer(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<CustomerUpdate>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::UpdateCustomer, "change customers", "ändra brukare")?;
    let expected = expected_version(&req)?;
    let id = id.into_inner().to_string();
    let u = body.into_inner();
    let mut p = Problems::default();
    let first_name = u.first_name.map(|v| p.text("first_name", &v, 100));
    let last_name = u.last_name.map(|v| p.text("last_name", &v, 100));
    let address = u.address.map(|a| address(&mut p, &a));
    let phone = u.phone.map(|v| p.optional_text("phone", v.as_deref(), 40));
    let key_position = u
        .key_position
        .map(|v| p.optional_text("key_position", v.as_deref(), 200));
    let entry_notes = u
        .entry_notes
        .map(|v| p.optional_text("entry_notes", v.as_deref(), 2000));
    let new_area = u.area_id.map(|a| a.to_string());
    if let Some(area) = &new_area {
        if !user.scope().admits(area, &[]) {
            p.add(
                "area_id",
                "outside_scope",
                "you may only move customers to your own areas",
                "du får bara flytta brukare till dina egna områden",
            );
        }
    }
    p.finish()?;
    let changes = app::customers::Changes {
        first_name,
        last_name,
        address: address.map(|a| (a.street, a.postal_code, a.city)),
        phone,
        key_position,
        entry_notes,
        area_id: new_area,
        ordinary_assessor_id: u.ordinary_assessor_id.map(|v| v.map(|x| x.to_string())),
        other_municipality: u.other_municipality,
        consent_digital_lock: u.consent_digital_lock,
        consent_staff_unlock: u.consent_staff_unlock,
        group_ids: u.group_ids.map(|g| g.iter().map(Uuid::to_string).collect()),
    };
    let (row, groups) = app::customers::change(&state.db, user, id, expected, changes).await?;
    Ok(private(
        HttpResponse::Ok()
            .insert_header(etag(row.version))
            .json(customer_dto(row, groups)),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RevealQuery {
    /// Why you need the full number; kept in the audit log.
    #[param(pattern = r"\S", max_length = 200)]
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RevealedPersonnummer {
    #[schema(example = "19121212-1212")]
    pub personnummer: String,
}

/// The full personnummer, for roles that may see it. Needs a reason; the
/// reveal is recorded in the audit log with it.
#[utoipa::path(tag = "customers", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Customer id"), RevealQuery),
    responses(
        (status = 200, description = "The full number", body = RevealedPersonnummer),
        (status = 404, description = "No such customer, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No reason given, or one over 200 characters", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/customers/{id}/personnummer")]
pub async fn reveal_personnummer(
    state: web::Data<AppState>,
    user: Actor,
    id: web::Path<Uuid>,
    query: Query<RevealQuery>,
) -> Result<HttpResponse, AppError> {
    user.require(
        Action::RevealPersonnummer,
        "see full personnummer",
        "se hela personnummer",
    )?;
    let mut p = Problems::default();
    let reason = p.text("reason", &query.reason, 200);
    p.finish()?;
    let id = id.into_inner().to_string();
    let shown = app::customers::reveal_personnummer(&state.db, user, id, reason)
        .await?
        .display();
    Ok(private(HttpResponse::Ok().json(RevealedPersonnummer {
        personnummer: shown,
    })))
}
