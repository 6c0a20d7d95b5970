//! Photographed documents (nyckelkvittens, ansvarsavtal, låskvittens): upload
//! by a client-chosen id, stored as proof, served as display copy and thumbnail.

use super::concurrency::etag;
use super::customers::load_visible;
use super::validation::Problems;
use crate::auth::CurrentUser;
use crate::db::{self, audit, documents, lifecycle, DbConn};
use crate::domain::Role;
use crate::error::{AppError, Problem};
use crate::media::{self, pipeline};
use crate::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub fn routes(cfg: &mut web::ServiceConfig, limit: usize) {
    cfg.service(
        web::resource("/documents/{id}")
            .app_data(web::PayloadConfig::new(limit))
            .route(web::put().to(upload))
            .route(web::get().to(get_document)),
    );
    cfg.service(web::resource("/documents/{id}/display").route(web::get().to(display)));
    cfg.service(web::resource("/documents/{id}/thumbnail").route(web::get().to(thumbnail)));
    cfg.service(web::resource("/documents/{id}/original").route(web::get().to(original)));
    cfg.service(web::resource("/documents/{id}/supersede").route(web::post().to(supersede)));
    cfg.service(
        web::resource("/customers/{id}/documents").route(web::get().to(customer_documents)),
    );
    cfg.service(web::resource("/orders/{id}/documents").route(web::get().to(order_documents)));
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
    pub signed_by: String,
    pub signed_at: NaiveDate,
}

fn media_error(e: pipeline::MediaError) -> AppError {
    use pipeline::MediaError::*;
    let (status, code) = match &e {
        NotAnImage | Heic | Mismatch { .. } => {
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_image")
        }
        TooLarge { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "image_too_large"),
        Corrupt(_) => (StatusCode::UNPROCESSABLE_ENTITY, "image_corrupt"),
    };
    AppError::new(
        status,
        code,
        format!("The photo was not accepted: {e}. Take it again."),
        format!("Fotot togs inte emot: {e}. Ta om bilden."),
    )
}

fn not_found() -> AppError {
    AppError::not_found("document_not_found", "document", "dokument")
}

fn check_existing(existing: &documents::DocumentRow, sha: &str) -> Result<(), AppError> {
    if existing.sha256 == sha {
        return Ok(());
    }
    Err(AppError::new(
        StatusCode::CONFLICT,
        "document_id_taken",
        "A different photo is already stored under this document id. Use a new id for a new photo.",
        "Ett annat foto finns redan under detta dokument-id. Använd ett nytt id för ett nytt foto.",
    ))
}

// Binary in the spec, so client generators take a file or bytes for it.
/// The photo's bytes (JPEG, PNG or WebP).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct PhotoBytes(pub Vec<u8>);

/// Uploads the photo of a signed document under a client-chosen id (installer,
/// care staff, coordinator). The body is the JPEG, PNG or WebP itself. The same
/// id and bytes again answer with the stored document (no duplicate); other
/// bytes under the same id are refused. Over the size limit: 413 before the
/// body is read.
#[utoipa::path(put, path = "/api/v1/documents/{id}", tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Document id chosen by the client"), UploadQuery),
    request_body(
        description = "The image bytes: JPEG, PNG or WebP as itself, or as `application/octet-stream` (the format is then read from the bytes)",
        content(("image/jpeg"), ("image/png"), ("image/webp"), (inline(PhotoBytes) = "application/octet-stream")),
    ),
    responses(
        (status = 201, description = "Stored", body = Document),
        (status = 200, description = "Already stored with these bytes", body = Document),
        (status = 404, description = "No such customer or order, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Other bytes are stored under this id", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than the configured limit (default 15 MB)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not a JPEG, PNG or WebP, HEIC, or not the format sent as", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn upload(
    state: web::Data<AppState>,
    req: HttpRequest,
    user: CurrentUser,
    id: web::Path<Uuid>,
    query: web::Query<UploadQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    if !matches!(
        user.role,
        Role::Installer | Role::CareStaff | Role::Coordinator
    ) {
        return Err(AppError::forbidden(
            "upload documents",
            "ladda upp dokument",
        ));
    }
    let q = query.into_inner();
    let mut p = Problems::default();
    let signed_by = p.text("signed_by", &q.signed_by, 200);
    if q.signed_at > crate::domain::calendar::today() {
        p.add("signed_at", "in_future", "cannot be later than today");
    }
    if body.is_empty() {
        p.add("body", "required", "send the photo as the request body");
    }
    p.finish()?;
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let claimed = pipeline::claimed_format(&content_type);
    if claimed.is_none() && !content_type.is_empty() && content_type != "application/octet-stream" {
        return Err(media_error(pipeline::MediaError::NotAnImage));
    }
    let id = id.into_inner().to_string();
    let sha = media::sha256_hex(&body);

    // Access and idempotency first: a resend is answered without processing.
    let (check_user, check_id, check_sha) = (user.clone(), id.clone(), sha.clone());
    let customer_id = q.customer_id.to_string();
    let order_id = q.order_id.map(|u| u.to_string());
    let (cid, oid) = (customer_id.clone(), order_id.clone());
    let existing = state
        .db
        .transaction(move |conn| {
            load_visible(conn, &check_user, &cid, "document.upload")?;
            if let Some(o) = &oid {
                lifecycle::find_order(conn, o)?
                    .filter(|o| o.customer_id == cid)
                    .ok_or_else(|| {
                        super::org::unknown_reference(
                            "order_id",
                            "order of this customer",
                            "beställning för denna kund",
                        )
                    })?;
            }
            match documents::find(conn, &check_id)? {
                Some(d) => check_existing(&d, &check_sha).map(|_| Some(d)),
                None => Ok(None),
            }
        })
        .await?;
    if let Some(d) = existing {
        return Ok(HttpResponse::Ok().json(dto(d)?));
    }

    // Bounded: photo decoding takes a core and memory; the API must not starve.
    let permit = state
        .media_slots
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!(e)))?;
    let bytes = body.clone();
    let processed = web::block(move || {
        let _permit = permit;
        pipeline::process(&bytes, claimed)
    })
    .await
    .map_err(|e| AppError::internal(anyhow::anyhow!("photo task failed: {e}")))?
    .map_err(media_error)?;

    // Files first, then the row: a crash in between leaves an orphan file the
    // start-up check reports, never a row without its files.
    let store = state.store.clone();
    let (s2, sha2) = (store.clone(), sha.clone());
    let original = body.clone();
    web::block(move || -> std::io::Result<()> {
        if !s2.exists(&media::original_key(&sha2))? {
            s2.put(&media::original_key(&sha2), &original)?;
        }
        s2.put(&media::display_key(&sha2), &processed.display_jpeg)?;
        s2.put(&media::thumb_key(&sha2), &processed.thumb_jpeg)?;
        Ok(())
    })
    .await
    .map_err(|e| AppError::internal(anyhow::anyhow!("storage task failed: {e}")))?
    .map_err(AppError::storage_unavailable)?;

    let row = documents::DocumentRow {
        id: id.clone(),
        customer_id,
        order_id,
        kind: q.kind.as_str().into(),
        signed_by,
        signed_at: q.signed_at,
        taken_by: user.id.clone(),
        sha256: sha.clone(),
        content_type: pipeline::mime(processed.format).into(),
        byte_size: body.len() as i64,
        width: processed.width as i32,
        height: processed.height as i32,
        superseded_by: None,
        version: 1,
        created_at: db::now(),
    };
    let stored = state
        .db
        .transaction(move |conn| {
            if let Some(d) = documents::find(conn, &row.id)? {
                // A concurrent upload of the same id got here first.
                check_existing(&d, &row.sha256)?;
                return Ok(None);
            }
            documents::insert(conn, &row).map_err(|e| match e {
                diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                ) => AppError::new(
                    StatusCode::CONFLICT,
                    "upload_in_progress",
                    "The same document is being uploaded right now; send it again in a moment.",
                    "Samma dokument laddas upp just nu; skicka igen om en stund.",
                ),
                other => other.into(),
            })?;
            audit::record(
                conn,
                &user,
                audit::Entry::new("document.upload", "document", Some(&row.id))
                    .customer(&row.customer_id),
            )?;
            Ok(Some(row))
        })
        .await?;
    let Some(stored) = stored else {
        let sid = id.clone();
        let d = state
            .db
            .run(move |conn| documents::find(conn, &sid)?.ok_or_else(not_found))
            .await?;
        return Ok(HttpResponse::Ok().json(dto(d)?));
    };
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/documents/{id}")))
        .json(dto(stored)?))
}

/// Loads a document whose customer the caller may see; audited.
fn load(
    conn: &mut DbConn,
    user: &CurrentUser,
    id: &str,
    action: &str,
) -> Result<documents::DocumentRow, AppError> {
    let d = documents::find(conn, id)?.ok_or_else(not_found)?;
    load_visible(conn, user, &d.customer_id, action).map_err(|e| {
        if e.code() == "customer_not_found" {
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
#[utoipa::path(get, path = "/api/v1/documents/{id}", tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Document id")),
    responses(
        (status = 200, description = "The document", body = Document),
        (status = 404, description = "No such document, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_document(
    state: web::Data<AppState>,
    user: CurrentUser,
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
    user: CurrentUser,
    id: Uuid,
    variant: &'static str,
) -> Result<HttpResponse, AppError> {
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

macro_rules! variant {
    ($fn:ident, $variant:literal, $path:literal, $doc:literal, $($content:tt)+) => {
        #[doc = $doc]
        #[utoipa::path(get, path = $path, tag = "documents", security(("bearer" = [])),
            params(("id" = Uuid, Path, description = "Document id")),
            responses(
                (status = 200, description = "The image", content($($content)+)),
                (status = 304, description = "Not modified (If-None-Match)"),
                (status = 404, description = "No such document, or not one you may see", body = Problem, content_type = "application/problem+json"),
            ))]
        pub async fn $fn(state: web::Data<AppState>, req: HttpRequest, user: CurrentUser, id: web::Path<Uuid>) -> Result<HttpResponse, AppError> {
            serve_file(&state, &req, user, id.into_inner(), $variant).await
        }
    };
}

variant!(
    display,
    "display",
    "/api/v1/documents/{id}/display",
    "The display copy: upright, at most 2048 px, no metadata.",
    (String = "image/jpeg")
);
variant!(
    thumbnail,
    "thumbnail",
    "/api/v1/documents/{id}/thumbnail",
    "The thumbnail: upright, at most 320 px, no metadata.",
    (String = "image/jpeg")
);
variant!(
    original,
    "original",
    "/api/v1/documents/{id}/original",
    "The original bytes as received, the proof (with its EXIF); header `X-Content-SHA256`.",
    (String = "image/jpeg"),
    (String = "image/png"),
    (String = "image/webp")
);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Supersede {
    /// The better photo of the same paper.
    pub superseded_by: Uuid,
}

/// Marks a document as replaced by a better photo of the same customer's paper
/// (installer, care staff, coordinator). Nothing is deleted.
#[utoipa::path(post, path = "/api/v1/documents/{id}/supersede", tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Document id")),
    request_body = Supersede,
    responses(
        (status = 200, description = "Marked", body = Document),
        (status = 404, description = "No such document, or not one you may see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already superseded", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn supersede(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<Uuid>,
    body: web::Json<Supersede>,
) -> Result<HttpResponse, AppError> {
    if !matches!(
        user.role,
        Role::Installer | Role::CareStaff | Role::Coordinator
    ) {
        return Err(AppError::forbidden("change documents", "ändra dokument"));
    }
    let (id, by) = (id.into_inner().to_string(), body.superseded_by.to_string());
    let d = state
        .db
        .transaction(move |conn| {
            let mut d = load(conn, &user, &id, "document.supersede")?;
            let better = documents::find(conn, &by)?
                .filter(|b| b.customer_id == d.customer_id && b.id != d.id);
            if better.is_none() {
                return Err(super::org::unknown_reference(
                    "superseded_by",
                    "other document of this customer",
                    "annat dokument för kunden",
                ));
            }
            if d.superseded_by.is_some() {
                return Err(AppError::new(
                    StatusCode::CONFLICT,
                    "already_superseded",
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
#[utoipa::path(get, path = "/api/v1/customers/{id}/documents", tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Customer id")),
    responses(
        (status = 200, description = "Documents", body = Vec<Document>),
        (status = 404, description = "No such customer, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn customer_documents(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let rows = super::customers::read_of_customer(
        &state,
        user,
        id.into_inner().to_string(),
        "document.list",
        |conn, id| Ok(documents::of_customer(conn, id)?),
    )
    .await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(dto).collect::<Result<Vec<_>, _>>()?))
}

/// An order's documents.
#[utoipa::path(get, path = "/api/v1/orders/{id}/documents", tag = "documents", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 200, description = "Documents", body = Vec<Document>),
        (status = 404, description = "No such order, or not one you may see", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn order_documents(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner().to_string();
    let rows = state
        .db
        .transaction(move |conn| {
            let order = lifecycle::find_order(conn, &id)?
                .ok_or_else(|| AppError::not_found("order_not_found", "order", "beställning"))?;
            load_visible(conn, &user, &order.customer_id, "document.list").map_err(|e| {
                if e.code() == "customer_not_found" {
                    AppError::not_found("order_not_found", "order", "beställning").denied()
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

/// The start-up check: files without a row (a crash between the two) and rows
/// whose files are missing.
#[derive(Debug, Default, Serialize)]
pub struct StorageCheck {
    pub orphan_files: Vec<String>,
    pub missing_files: Vec<String>,
}

pub fn check_storage(
    conn: &mut DbConn,
    store: &dyn media::storage::BlobStore,
) -> anyhow::Result<StorageCheck> {
    let hashes: std::collections::HashSet<String> =
        documents::all_hashes(conn)?.into_iter().collect();
    let mut report = StorageCheck::default();
    // Three listings, not a request per file: an object store answers a
    // listing of thousands of keys in one round trip.
    let mut stored = std::collections::HashSet::new();
    for prefix in ["originals", "display", "thumbs"] {
        for key in store.list(prefix)? {
            let name = key
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .trim_end_matches(".jpg");
            if !hashes.contains(name) {
                report.orphan_files.push(key.clone());
            }
            stored.insert(key);
        }
    }
    for sha in &hashes {
        for key in [
            media::original_key(sha),
            media::display_key(sha),
            media::thumb_key(sha),
        ] {
            if !stored.contains(&key) {
                report.missing_files.push(key);
            }
        }
    }
    report.missing_files.sort();
    Ok(report)
}

#[derive(Debug, Default, Serialize)]
pub struct WeedReport {
    /// Customers whose case closed more than the retention period ago.
    pub customers: Vec<String>,
    pub documents: usize,
    /// Files no remaining document uses, deleted after the rows are committed
    /// (a crash in between leaves orphans the start-up check reports, never a
    /// record without its files).
    pub files: Vec<String>,
    pub applied: bool,
}

/// The retention rule (gallring): documents of a customer whose case closed —
/// no open order, no running execution — more than `retention_days` ago are
/// deleted with their files. Nothing else ever deletes a document. The day the
/// case closed is the last execution's end date (or, with no execution, the
/// last closed order's date).
pub fn weed(
    conn: &mut DbConn,
    retention_days: i64,
    today: NaiveDate,
    apply: bool,
) -> anyhow::Result<WeedReport> {
    let mut report = WeedReport {
        applied: apply,
        ..Default::default()
    };
    for customer_id in documents::customers_with_documents(conn)? {
        let orders = lifecycle::list_orders(
            conn,
            &crate::auth::CustomerScope::All,
            &lifecycle::OrderFilter {
                customer_id: Some(customer_id.clone()),
                limit: 10_000,
                ..Default::default()
            },
        )?;
        let executions = lifecycle::executions_of(conn, &customer_id)?;
        let open = orders.iter().any(|o| {
            o.state
                .parse::<crate::domain::OrderState>()
                .map(|s| !s.is_final())
                .unwrap_or(true)
        }) || executions.iter().any(|e| e.end_date.is_none());
        let closed_on = if executions.is_empty() {
            orders.iter().map(|o| o.updated_at.date()).max()
        } else {
            executions.iter().filter_map(|e| e.end_date).max()
        };
        let Some(closed_on) = closed_on.filter(|_| !open) else {
            continue;
        };
        if (today - closed_on).num_days() <= retention_days {
            continue;
        }
        report.documents += documents::of_customer(conn, &customer_id)?.len();
        if apply {
            let ctx = crate::auth::RequestContext {
                ip: None,
                request_id: Some("retention".into()),
            };
            for sha in documents::delete_of_customer(conn, &customer_id)? {
                if !documents::sha_in_use(conn, &sha)? {
                    report.files.extend([
                        media::original_key(&sha),
                        media::display_key(&sha),
                        media::thumb_key(&sha),
                    ]);
                }
            }
            audit::record_as(
                conn,
                None,
                "system",
                &ctx,
                audit::Entry::new("document.weed", "customer", Some(&customer_id))
                    .customer(&customer_id),
            )?;
        }
        report.customers.push(customer_id);
    }
    Ok(report)
}
