//! Photographed documents (nyckelkvittens, ansvarsavtal, låskvittens): upload
//! by a client-chosen id, stored as proof, served as display copy and thumbnail.

use super::concurrency::etag;
use super::json::Json;
use super::query::Query;
use crate::app;
use crate::app::documents::{Image, Stored};
use crate::app::validation::Problems;
use crate::auth::{allows, Action, Actor};
use crate::error::ErrorCode;
use crate::error::{AppError, Problem};
use crate::state::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{get, post, put};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(upload)
        .service(get_document)
        .service(display)
        .service(thumbnail)
        .service(original)
        .service(supersede)
        .service(customer_documents)
        .service(order_documents);
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// nyckelkvittens
    KeyReceipt,
    /// ansvarsavtal för larm och larmklocka
    ResponsibilityAgreement,
    /// låskvittens
    LockReceipt,
}

impl DocumentKind {
    fn as_str(self) -> &'static str {
        match self {
            DocumentKind::KeyReceipt => "key_receipt",
            DocumentKind::ResponsibilityAgreement => "responsibility_agreement",
            DocumentKind::LockReceipt => "lock_receipt",
        }
    }

    fn parse(s: &str) -> Result<Self, AppError> {
        serde_json::from_value(serde_json::Value::String(s.into()))
            .map_err(|e| AppError::internal(anyhow::anyhow!(e)))
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Document {
    /// Chosen by the client before upload, so a resend is recognised.
    pub id: String,
    pub customer_id: String,
    pub order_id: Option<String>,
    pub kind: DocumentKind,
    /// Who signed the paper.
    pub signed_by: String,
    /// Not later than today.
    pub signed_at: NaiveDate,
    /// The user who photographed and uploaded it.
    pub taken_by: String,
    /// SHA-256 of the original bytes, kept unchanged as proof: anyone can verify it.
    pub sha256: String,
    pub content_type: String,
    pub byte_size: i64,
    /// Upright size of the photo.
    pub width: i32,
    pub height: i32,
    /// A better photo of the same paper replaced this one.
    pub superseded_by: Option<String>,
    pub created_at: DateTime<Utc>,
}

fn dto(d: app::documents::DocumentRow) -> Result<Document, AppError> {
    Ok(Document {
        kind: DocumentKind::parse(&d.kind)?,
        id: d.id,
        customer_id: d.customer_id,
        order_id: d.order_id,
        signed_by: d.signed_by,
        signed_at: d.signed_at,
        taken_by: d.taken_by,
        sha256: d.sha256,
        content_type: d.content_type,
        byte_size: d.byte_size,
        width: d.width,
        height: d.height,
        superseded_by: d.superseded_by,
        created_at: d.created_at.and_utc(),
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UploadQuery {
    pub kind: DocumentKind,
    pub customer_id: Uuid,
    pub order_id: Option<Uuid>,
    /// Who signed the paper (the customer, a relative…).
    #[param(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000]*[^\u0000\t-\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000]*$"
    )]
    pub signed_by: String,
    pub signed_at: NaiveDate,
}

/// The body, refused with 413 before reading when its declared length is
/// over the limit, and as soon as it grows past it otherwise.
async fn read_photo(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, AppError> {
    use futures_util::StreamExt;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(app::documents::photo_too_large(limit));
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            AppError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::IncompleteBody,
                format!("The photo did not arrive whole ({e}); send it again."),
                "Fotot kom inte fram helt; skicka det igen.",
            )
        })?;
        if body.len() + chunk.len() > limit {
            return Err(app::documents::photo_too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

// Binary in the spec, so client generators take a file or bytes for it.
/// The photo's bytes (JPEG, PNG or WebP), not empty.
pub struct PhotoBytes(pub Vec<u8>);

impl utoipa::PartialSchema for PhotoBytes {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        super::file_bytes("The photo's bytes (JPEG, PNG or WebP), not empty.")
    }
}
impl utoipa::ToSchema for PhotoBytes {}

/// Uploads the photo of a signed document under a client-chosen id (installer,
/// care staff, coordinator). The body is the JPEG, PNG or WebP itself. The same
/// id with the same bytes, customer, kind, signer, date and order again answers
/// with the stored document (no duplicate); anything else under the same id is
/// refused without telling whose it is. Over the size limit: 413 before the
/// body is read. A photo whose header says it needs more memory than one photo
/// may have is refused before it is decoded.
#[utoipa::path(tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Document id chosen by the client"), UploadQuery),
    request_body(
        description = "The image bytes: JPEG, PNG or WebP as itself, or as `application/octet-stream` (the format is then read from the bytes)",
        content((inline(PhotoBytes) = "image/jpeg"), (inline(PhotoBytes) = "image/png"), (inline(PhotoBytes) = "image/webp"), (inline(PhotoBytes) = "application/octet-stream")),
    ),
    responses(
        (status = 201, description = "Stored", body = Document),
        (status = 200, description = "Already stored with these bytes and the same customer, kind, signer, date and order", body = Document),
        (status = 403, description = "Your role does not photograph documents", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`document_id_conflict`: another document (other bytes, customer, kind, signer, date or order) is stored under this id; nothing of it is shown", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than the configured limit (default 15 MB); the detail states the limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not a JPEG, PNG or WebP, or not the format sent as (`unsupported_image`); a HEIC/HEIF photo (`heic_not_supported`, with how to set the phone to JPEG)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameters or an unknown order (`validation_failed`); more than 12,000 pixels a side or more than the 512 MB one photo may need to process (`image_too_large`, the limit stated); a damaged file (`image_corrupt`)", body = Problem, content_type = "application/problem+json"),
    ))]
#[put("/documents/{id}")]
pub async fn upload(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
    query: Query<UploadQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    user.require(
        Action::UploadDocument,
        "upload documents",
        "ladda upp dokument",
    )?;
    let body = read_photo(&req, payload, state.settings.document_limit_bytes).await?;
    let q = query.into_inner();
    let mut p = Problems::default();
    let signed_by = p.text("signed_by", &q.signed_by, 200);
    p.not_after_today("signed_at", q.signed_at);
    if body.is_empty() {
        p.add(
            "body",
            "required",
            "send the photo as the request body",
            "fotot saknas; skicka med bilden",
        );
    }
    p.finish()?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let paper = app::documents::Paper {
        customer_id: q.customer_id.to_string(),
        order_id: q.order_id.map(|u| u.to_string()),
        kind: q.kind.as_str(),
        signed_by,
        signed_at: q.signed_at,
    };
    let photos = app::documents::Photos {
        store: state.store.clone(),
        in_flight: state.uploads_in_flight.clone(),
        memory: state.media_memory.clone(),
        cores: state.media_slots.clone(),
    };
    let id = id.into_inner().to_string();
    match app::documents::upload(
        &state.db,
        photos,
        user,
        id.clone(),
        paper,
        &content_type,
        body,
    )
    .await?
    {
        Stored::New(d) => Ok(HttpResponse::Created()
            .insert_header((header::LOCATION, format!("/api/v1/documents/{id}")))
            .json(dto(d)?)),
        Stored::Already(d) => Ok(HttpResponse::Ok().json(dto(d)?)),
    }
}

/// A document's record.
#[utoipa::path(tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Document id")),
    responses(
        (status = 200, description = "The document", body = Document),
        (status = 404, description = "No such document, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/documents/{id}")]
pub async fn get_document(
    state: web::Data<AppState>,
    user: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner().to_string();
    let d = app::documents::read(&state.db, user, id).await?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(d.version))
        .json(dto(d)?))
}

async fn serve_file(
    state: &AppState,
    req: &HttpRequest,
    user: Actor,
    id: Uuid,
    image: Image,
) -> Result<HttpResponse, AppError> {
    // Asked before the document is looked up: a refusal tells nothing of it.
    if image == Image::Original && !allows(user.role, Action::ReadDocumentOriginal) {
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "Your role may not download the original photo of a signed document: it carries the phone's metadata (time, GPS position). Open the display copy (/display) instead.",
            "Din roll får inte hämta originalfotot av ett signerat dokument: det innehåller telefonens metadata (tid, GPS-position). Öppna visningskopian (/display) i stället.",
        ));
    }
    user.require(
        Action::ReadDocumentImage,
        "see photos of signed documents; the document's record (without the photo) is open to you",
        "se foton av signerade dokument; dokumentets uppgifter (utan foto) kan du se",
    )?;
    let d = app::documents::open_image(&state.db, user, id.to_string(), image).await?;
    let content_type = match image {
        Image::Display | Image::Thumbnail => "image/jpeg".to_string(),
        Image::Original => d.content_type.clone(),
    };
    let tag = format!("\"{}-{}\"", &d.sha256[..32], image.name());
    if req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(tag.as_str())
    {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, tag))
            .finish());
    }
    let bytes = app::documents::image_bytes(state.store.clone(), &d, image).await?;
    let mut resp = HttpResponse::Ok();
    resp.insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::ETAG, tag))
        .insert_header((header::CACHE_CONTROL, "private, max-age=3600"));
    if image == Image::Original {
        resp.insert_header(("X-Content-SHA256", d.sha256.clone()));
        resp.insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"{}.{}\"",
                d.id,
                d.content_type.trim_start_matches("image/")
            ),
        ));
    }
    Ok(resp.body(bytes))
}

/// The display copy: upright, at most 2048 px, no metadata (admin, assessor, coordinator, installer, care staff).
#[utoipa::path(tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Document id")),
    responses(
        (status = 200, description = "The image", content((String = "image/jpeg"))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 403, description = "Billing and the alarm centre see no photos of signed papers", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such document, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/documents/{id}/display")]
pub async fn display(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    serve_file(&state, &req, user, id.into_inner(), Image::Display).await
}

/// The thumbnail: upright, at most 320 px, no metadata (admin, assessor, coordinator, installer, care staff).
#[utoipa::path(tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Document id")),
    responses(
        (status = 200, description = "The image", content((String = "image/jpeg"))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 403, description = "Billing and the alarm centre see no photos of signed papers", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such document, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/documents/{id}/thumbnail")]
pub async fn thumbnail(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    serve_file(&state, &req, user, id.into_inner(), Image::Thumbnail).await
}

/// The original bytes as received, the proof, with its EXIF (phone, time, GPS); header `X-Content-SHA256`. Only for those who handle the paper: admin, assessor, coordinator, installer.
#[utoipa::path(tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Document id")),
    responses(
        (status = 200, description = "The image", content((String = "image/jpeg"), (String = "image/png"), (String = "image/webp"))),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 403, description = "Care staff, billing and the alarm centre do not get the original (care staff: use the display copy)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such document, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/documents/{id}/original")]
pub async fn original(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    serve_file(&state, &req, user, id.into_inner(), Image::Original).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Supersede {
    /// The better photo of the same paper.
    pub superseded_by: Uuid,
}

/// Marks a document as replaced by a better photo of the same customer's paper
/// (installer, care staff, coordinator). Nothing is deleted.
#[utoipa::path(tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Document id")),
    request_body = Supersede,
    responses(
        (status = 200, description = "Marked", body = Document),
        (status = 404, description = "No such document, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already superseded", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/documents/{id}/supersede")]
pub async fn supersede(
    state: web::Data<AppState>,
    user: Actor,
    id: web::Path<Uuid>,
    body: Json<Supersede>,
) -> Result<HttpResponse, AppError> {
    user.require(Action::UploadDocument, "change documents", "ändra dokument")?;
    let (id, by) = (id.into_inner().to_string(), body.superseded_by.to_string());
    let d = app::documents::supersede(&state.db, user, id, by).await?;
    Ok(HttpResponse::Ok().json(dto(d)?))
}

/// A customer's documents.
#[utoipa::path(tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Customer id")),
    responses(
        (status = 200, description = "Documents", body = Vec<Document>),
        (status = 404, description = "No such customer, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/customers/{id}/documents")]
pub async fn customer_documents(
    state: web::Data<AppState>,
    user: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let rows = app::documents::of_customer(&state.db, user, id.into_inner().to_string()).await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(dto).collect::<Result<Vec<_>, _>>()?))
}

/// An order's documents.
#[utoipa::path(tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 200, description = "Documents", body = Vec<Document>),
        (status = 404, description = "No such order, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/orders/{id}/documents")]
pub async fn order_documents(
    state: web::Data<AppState>,
    user: Actor,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let rows = app::documents::of_order(&state.db, user, id.into_inner().to_string()).await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(dto).collect::<Result<Vec<_>, _>>()?))
}
