//! Photographed documents (nyckelkvittens, ansvarsavtal, låskvittens): upload
//! by a client-chosen id, stored as proof, served as display copy and thumbnail.

use super::concurrency::etag;
use super::json::Json;
use crate::app::customers::load_visible;
use crate::app::validation::Problems;
use crate::auth::{allows, Action, Actor};
use crate::db::{self, audit, documents, lifecycle, DbConn};
use crate::error::ErrorCode;
use crate::error::{AppError, Problem};
use crate::media::{self, pipeline};
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

fn dto(d: documents::DocumentRow) -> Result<Document, AppError> {
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

/// A size in MiB as people read it: "15 MB", "0,5 MB" in Swedish.
fn megabytes(bytes: u64, decimal: char) -> String {
    let mb = bytes as f64 / pipeline::MIB as f64;
    let text = if bytes.is_multiple_of(pipeline::MIB) {
        format!("{mb:.0}")
    } else {
        format!("{mb:.1}")
    };
    format!("{} MB", text.replace('.', &decimal.to_string()))
}

fn format_name(mime: &str) -> &str {
    match mime {
        "image/jpeg" => "JPEG",
        "image/png" => "PNG",
        "image/webp" => "WebP",
        other => other,
    }
}

fn media_error(e: pipeline::MediaError) -> AppError {
    use pipeline::MediaError::*;
    let retake_en = "Take the photo again, or send it as JPEG.";
    let retake_sv = "Ta om bilden, eller skicka den som JPEG.";
    match e {
        NotAnImage => AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedImage,
            format!("The file is not a JPEG, PNG or WebP photo. {retake_en}"),
            format!("Filen är inget foto i formatet JPEG, PNG eller WebP. {retake_sv}"),
        ),
        Heic => AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::HeicNotSupported,
            "The phone saves photos as HEIC, which is not accepted. Choose 'Most Compatible' under Settings › Camera › Formats, or send the photo as JPEG.",
            "Telefonen sparar bilder som HEIC. Välj 'Mest kompatibel' under Inställningar › Kamera › Format, eller skicka som JPEG.",
        ),
        Mismatch { claimed, actual } => {
            let (claimed, actual) = (format_name(&claimed), format_name(&actual));
            AppError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::UnsupportedImage,
                format!("The file is a {actual} image but was sent as {claimed}. Send it with its own format as Content-Type."),
                format!("Filen är en {actual}-bild men skickades som {claimed}. Skicka den med rätt format angivet."),
            )
        }
        TooLarge { width, height } => AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ImageTooLarge,
            format!("The photo is {width}×{height} pixels; at most {} pixels per side is accepted. Take it again at a lower resolution.", pipeline::MAX_EDGE),
            format!("Bilden är {width}×{height} bildpunkter; högst {} bildpunkter per sida tas emot. Ta om bilden med lägre upplösning.", pipeline::MAX_EDGE),
        ),
        OverMemoryBudget { width, height, needed } => AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ImageTooLarge,
            format!(
                "The photo is {width}×{height} pixels and would need {} of memory to process; at most {} per photo is allowed. Take it again at a lower resolution.",
                megabytes(needed, '.'),
                megabytes(pipeline::IMAGE_MEMORY_BUDGET, '.'),
            ),
            format!(
                "Bilden är {width}×{height} bildpunkter och skulle kräva {} minne att behandla; högst {} per bild är tillåtet. Ta om bilden med lägre upplösning.",
                megabytes(needed, ','),
                megabytes(pipeline::IMAGE_MEMORY_BUDGET, ','),
            ),
        ),
        Corrupt(cause) => AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ImageCorrupt,
            format!("The photo is damaged or incomplete ({cause}). {retake_en}"),
            format!("Bilden är skadad eller ofullständig, kanske avbruten under sändningen. {retake_sv}"),
        ),
    }
}

fn photo_too_large(limit: usize) -> AppError {
    let limit = limit as u64;
    AppError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
        format!(
            "The photo is larger than the {} ({limit} bytes) accepted. Let the app shrink it, or take it again at a lower resolution.",
            megabytes(limit, '.')
        ),
        format!(
            "Fotot är större än de {} ({limit} byte) som tas emot. Låt appen förminska det, eller ta om bilden med lägre upplösning.",
            megabytes(limit, ',')
        ),
    )
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
        return Err(photo_too_large(limit));
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
            return Err(photo_too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn not_found() -> AppError {
    AppError::not_found(ErrorCode::DocumentNotFound, "document", "dokument")
}

/// What an upload says about its paper. A resend under an existing id must
/// say the same about everything, or it is another document.
struct Claim {
    customer_id: String,
    order_id: Option<String>,
    kind: &'static str,
    signed_by: String,
    signed_at: NaiveDate,
    sha256: String,
}

impl Claim {
    fn matches(&self, d: &documents::DocumentRow) -> bool {
        d.customer_id == self.customer_id
            && d.order_id == self.order_id
            && d.kind == self.kind
            && d.signed_by == self.signed_by
            && d.signed_at == self.signed_at
            && d.sha256 == self.sha256
    }
}

/// The same answer whoever's document holds the id and whether the caller may
/// see it: nothing of the other record is told.
fn id_conflict() -> AppError {
    AppError::new(
        StatusCode::CONFLICT,
        ErrorCode::DocumentIdConflict,
        "Another document is already stored under this document id (another photo, customer, kind, signer, date or order). Nothing was stored: send this photo under a new id.",
        "Ett annat dokument finns redan under detta dokument-id (annat foto, annan kund, typ, undertecknare, datum eller beställning). Inget sparades: skicka fotot under ett nytt id.",
    )
}

/// How the row of an upload ended.
enum Stored {
    /// Ours: 201.
    New(documents::DocumentRow),
    /// The same document, stored earlier or by a concurrent resend: 200.
    Already(documents::DocumentRow),
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
    query: web::Query<UploadQuery>,
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
    if q.signed_at > crate::domain::calendar::today() {
        p.add(
            "signed_at",
            "in_future",
            "cannot be later than today",
            "kan inte vara senare än i dag",
        );
    }
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
    if pipeline::is_heic_type(&content_type) {
        return Err(media_error(pipeline::MediaError::Heic));
    }
    let claimed = pipeline::claimed_format(&content_type);
    if claimed.is_none() && !content_type.is_empty() && content_type != "application/octet-stream" {
        return Err(media_error(pipeline::MediaError::NotAnImage));
    }
    let id = id.into_inner().to_string();
    let claim = std::sync::Arc::new(Claim {
        customer_id: q.customer_id.to_string(),
        order_id: q.order_id.map(|u| u.to_string()),
        kind: q.kind.as_str(),
        signed_by,
        signed_at: q.signed_at,
        sha256: media::sha256_hex(&body),
    });

    // Access and idempotency first: a resend is answered without processing.
    let (check_user, check_id, c) = (user.clone(), id.clone(), claim.clone());
    let existing = state
        .db
        .transaction(move |conn| {
            load_visible(conn, &check_user, &c.customer_id, "document.upload")?;
            if let Some(o) = &c.order_id {
                lifecycle::find_order(conn, o)?
                    .filter(|o| o.customer_id == c.customer_id)
                    .ok_or_else(|| {
                        crate::app::validation::unknown_reference(
                            "order_id",
                            "order of this customer",
                            "beställning för denna kund",
                        )
                    })?;
            }
            match documents::find(conn, &check_id)? {
                Some(d) if c.matches(&d) => Ok(Some(d)),
                Some(_) => Err(id_conflict()),
                None => Ok(None),
            }
        })
        .await?;
    if let Some(d) = existing {
        return Ok(HttpResponse::Ok().json(dto(d)?));
    }

    // The header says what decoding will need; admitted by memory, then by core.
    let bytes = body.clone();
    let plan = web::block(move || pipeline::plan(&bytes, claimed))
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("photo task failed: {e}")))?
        .map_err(media_error)?;
    let mib = plan.memory.div_ceil(pipeline::MIB) as u32;
    let memory = state
        .media_memory
        .clone()
        .acquire_many_owned(mib)
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!(e)))?;
    let core = state
        .media_slots
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!(e)))?;
    let bytes = body.clone();
    let processed = web::block(move || {
        let _permits = (memory, core);
        pipeline::process(&bytes, claimed)
    })
    .await
    .map_err(|e| AppError::internal(anyhow::anyhow!("photo task failed: {e}")))?
    .map_err(media_error)?;

    // Files first, then the row: a crash in between leaves an orphan file the
    // start-up check reports, never a row without its files.
    let (store, in_flight, sha) = (
        state.store.clone(),
        state.uploads_in_flight.clone(),
        claim.sha256.clone(),
    );
    let original_bytes = body.clone();
    let hold = web::block(move || -> std::io::Result<media::Hold> {
        let hold = media::InFlight::hold(&in_flight, &sha);
        if !store.exists(&media::original_key(&sha))? {
            store.put(&media::original_key(&sha), &original_bytes)?;
        }
        store.put(&media::display_key(&sha), &processed.display_jpeg)?;
        store.put(&media::thumb_key(&sha), &processed.thumb_jpeg)?;
        Ok(hold)
    })
    .await
    .map_err(|e| AppError::internal(anyhow::anyhow!("storage task failed: {e}")))?
    .map_err(AppError::storage_unavailable)?;

    let row = documents::DocumentRow {
        id: id.clone(),
        customer_id: claim.customer_id.clone(),
        order_id: claim.order_id.clone(),
        kind: claim.kind.into(),
        signed_by: claim.signed_by.clone(),
        signed_at: claim.signed_at,
        taken_by: user.id.clone(),
        sha256: claim.sha256.clone(),
        content_type: pipeline::mime(processed.format).into(),
        byte_size: body.len() as i64,
        width: processed.width as i32,
        height: processed.height as i32,
        superseded_by: None,
        version: 1,
        created_at: db::now(),
    };
    let c = claim.clone();
    let inserted = state
        .db
        .transaction(move |conn| {
            if let Some(d) = documents::find(conn, &row.id)? {
                // A concurrent upload of the same id got here first.
                return if c.matches(&d) {
                    Ok(Stored::Already(d))
                } else {
                    Err(id_conflict())
                };
            }
            documents::insert(conn, &row).map_err(|e| match e {
                diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                ) => upload_in_progress(),
                other => other.into(),
            })?;
            audit::record(
                conn,
                &user,
                audit::Entry::new("document.upload", "document", Some(&row.id))
                    .customer(&row.customer_id),
            )?;
            Ok(Stored::New(row))
        })
        .await;
    // Both inserted at once: the other committed before this one failed.
    let outcome = match inserted {
        Err(e) if e.code() == ErrorCode::UploadInProgress => {
            let (sid, c) = (id.clone(), claim.clone());
            state
                .db
                .run(move |conn| match documents::find(conn, &sid)? {
                    Some(d) if c.matches(&d) => Ok(Stored::Already(d)),
                    Some(_) => Err(id_conflict()),
                    None => Err(upload_in_progress()),
                })
                .await
        }
        other => other,
    };
    match outcome {
        Ok(Stored::New(stored)) => {
            drop(hold);
            Ok(HttpResponse::Created()
                .insert_header((header::LOCATION, format!("/api/v1/documents/{id}")))
                .json(dto(stored)?))
        }
        refused => {
            // Not ours: remove the files unless a record or an upload in flight uses them.
            let (db, store, sha) = (state.db.clone(), state.store.clone(), claim.sha256.clone());
            let cleaned = web::block(move || {
                hold.discard(store.as_ref(), || {
                    let mut conn = db.get()?;
                    Ok(documents::sha_in_use(&mut conn, &sha)?)
                })
            })
            .await;
            let failed = match cleaned {
                Ok(Ok(_)) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(e) => Some(e.to_string()),
            };
            if let Some(error) = failed {
                tracing::warn!(%error, "files of a refused upload were not removed; check-documents lists them");
            }
            match refused? {
                Stored::Already(d) | Stored::New(d) => Ok(HttpResponse::Ok().json(dto(d)?)),
            }
        }
    }
}

fn upload_in_progress() -> AppError {
    AppError::new(
        StatusCode::CONFLICT,
        ErrorCode::UploadInProgress,
        "The same document is being uploaded right now; send it again in a moment.",
        "Samma dokument laddas upp just nu; skicka igen om en stund.",
    )
}

/// Loads a document whose customer the caller may see; audited.
fn load(
    conn: &mut DbConn,
    user: &Actor,
    id: &str,
    action: &str,
) -> Result<documents::DocumentRow, AppError> {
    let d = documents::find(conn, id)?.ok_or_else(not_found)?;
    load_visible(conn, user, &d.customer_id, action).map_err(|e| {
        if e.code() == ErrorCode::CustomerNotFound {
            not_found().denied()
        } else {
            e
        }
    })?;
    audit::record(
        conn,
        user,
        audit::Entry::new(action, "document", Some(id)).customer(&d.customer_id),
    )?;
    Ok(d)
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
    let d = state
        .db
        .transaction(move |conn| load(conn, &user, &id, "document.read"))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(etag(d.version))
        .json(dto(d)?))
}

async fn serve_file(
    state: &AppState,
    req: &HttpRequest,
    user: Actor,
    id: Uuid,
    variant: &'static str,
) -> Result<HttpResponse, AppError> {
    // Asked before the document is looked up: a refusal tells nothing of it.
    if variant == "original" && !allows(user.role, Action::ReadDocumentOriginal) {
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
    let id = id.to_string();
    let action = format!("document.{variant}");
    let d = state
        .db
        .transaction(move |conn| load(conn, &user, &id, &action))
        .await?;
    let (key, content_type) = match variant {
        "display" => (media::display_key(&d.sha256), "image/jpeg".to_string()),
        "thumbnail" => (media::thumb_key(&d.sha256), "image/jpeg".to_string()),
        _ => (media::original_key(&d.sha256), d.content_type.clone()),
    };
    let tag = format!("\"{}-{variant}\"", &d.sha256[..32]);
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
    let store = state.store.clone();
    let bytes = web::block(move || store.get(&key))
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!(e)))?
        .map_err(AppError::storage_unavailable)?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("document file missing")))?;
    let mut resp = HttpResponse::Ok();
    resp.insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::ETAG, tag))
        .insert_header((header::CACHE_CONTROL, "private, max-age=3600"));
    if variant == "original" {
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
    serve_file(&state, &req, user, id.into_inner(), "display").await
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
    serve_file(&state, &req, user, id.into_inner(), "thumbnail").await
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
    serve_file(&state, &req, user, id.into_inner(), "original").await
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
    let d = state
        .db
        .transaction(move |conn| {
            let mut d = load(conn, &user, &id, "document.supersede")?;
            let better = documents::find(conn, &by)?
                .filter(|b| b.customer_id == d.customer_id && b.id != d.id);
            if better.is_none() {
                return Err(crate::app::validation::unknown_reference(
                    "superseded_by",
                    "other document of this customer",
                    "annat dokument för kunden",
                ));
            }
            if d.superseded_by.is_some() {
                return Err(AppError::new(
                    StatusCode::CONFLICT,
                    ErrorCode::AlreadySuperseded,
                    "This document is already superseded.",
                    "Dokumentet är redan ersatt.",
                ));
            }
            let v = d.version;
            d.superseded_by = Some(by);
            d.version += 1;
            if !documents::update_if_version(conn, &d, v)? {
                return Err(AppError::stale_version(v + 1));
            }
            Ok(d)
        })
        .await?;
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
    let rows = crate::app::customers::read_of_customer(
        &state.db,
        user,
        id.into_inner().to_string(),
        "document.list",
        |conn, id| Ok(documents::of_customer(conn, id)?),
    )
    .await?;
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
    let id = id.into_inner().to_string();
    let rows = state
        .db
        .transaction(move |conn| {
            let order = lifecycle::find_order(conn, &id)?.ok_or_else(|| {
                AppError::not_found(ErrorCode::OrderNotFound, "order", "beställning")
            })?;
            load_visible(conn, &user, &order.customer_id, "document.list").map_err(|e| {
                if e.code() == ErrorCode::CustomerNotFound {
                    AppError::not_found(ErrorCode::OrderNotFound, "order", "beställning").denied()
                } else {
                    e
                }
            })?;
            audit::record(
                conn,
                &user,
                audit::Entry::new("document.list", "order", Some(&id)).customer(&order.customer_id),
            )?;
            Ok(documents::of_order(conn, &id)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(dto).collect::<Result<Vec<_>, _>>()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_megabytes_in_either_language() {
        assert_eq!(megabytes(15 * pipeline::MIB, '.'), "15 MB");
        assert_eq!(megabytes(pipeline::MIB / 2, ','), "0,5 MB");
        assert_eq!(megabytes(pipeline::IMAGE_MEMORY_BUDGET, ','), "512 MB");
    }

    #[test]
    fn every_photo_refusal_has_its_own_swedish_text() {
        use pipeline::MediaError::*;
        for e in [
            NotAnImage,
            Heic,
            Mismatch {
                claimed: "image/jpeg".into(),
                actual: "image/png".into(),
            },
            TooLarge {
                width: 50_000,
                height: 50_000,
            },
            OverMemoryBudget {
                width: 12_000,
                height: 12_000,
                needed: 600 * pipeline::MIB,
            },
            Corrupt("unexpected end of file".into()),
        ] {
            let p = media_error(e).to_problem();
            assert_ne!(p.detail, p.detail_sv);
            assert!(!p.detail_sv.contains("image/"), "{}", p.detail_sv);
            assert!(!p.detail_sv.contains("unexpected"), "{}", p.detail_sv);
        }
    }
}
