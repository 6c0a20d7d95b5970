//! Photographed documents: the upload (files first, then the record), the
//! audited reads and the supersede mark; and the housekeeping: whether the
//! files and the records agree, and the retention rule (gallring).

use crate::app::customers::{load_visible, read_of_customer};
use crate::app::validation::unknown_reference;
use crate::db::{self, audit, documents, lifecycle, Db, DbConn};
use crate::domain::Actor;
use crate::error::{AppError, ErrorCode};
use crate::media::storage::BlobStore;
use crate::media::{self, pipeline, InFlight};
use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use chrono::NaiveDate;
use serde::Serialize;
use std::sync::Arc;

pub use crate::db::documents::DocumentRow;

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

/// The refusal of a photo over the configured size limit, the limit stated.
pub fn photo_too_large(limit: usize) -> AppError {
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

fn not_found() -> AppError {
    AppError::not_found(ErrorCode::DocumentNotFound, "document", "dokument")
}

/// What an upload says about its paper.
pub struct Paper {
    pub customer_id: String,
    pub order_id: Option<String>,
    /// `key_receipt`, `responsibility_agreement` or `lock_receipt`.
    pub kind: &'static str,
    /// Who signed it.
    pub signed_by: String,
    pub signed_at: NaiveDate,
}

/// What an upload says about its paper and its photo. A resend under an
/// existing id must say the same about everything, or it is another document.
struct Claim {
    paper: Paper,
    sha256: String,
}

impl Claim {
    fn matches(&self, d: &documents::DocumentRow) -> bool {
        let p = &self.paper;
        d.customer_id == p.customer_id
            && d.order_id == p.order_id
            && d.kind == p.kind
            && d.signed_by == p.signed_by
            && d.signed_at == p.signed_at
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

fn upload_in_progress() -> AppError {
    AppError::new(
        StatusCode::CONFLICT,
        ErrorCode::UploadInProgress,
        "The same document is being uploaded right now; send it again in a moment.",
        "Samma dokument laddas upp just nu; skicka igen om en stund.",
    )
}

/// How the record of an upload ended.
pub enum Stored {
    /// Ours, new.
    New(documents::DocumentRow),
    /// The same document, stored earlier or by a concurrent resend.
    Already(documents::DocumentRow),
}

/// Where an upload's photo goes and what processing it may take: the store,
/// the uploads between their files and their record, and the photos' memory
/// budget (in MiB) and cores.
pub struct Photos {
    pub store: Arc<dyn BlobStore>,
    pub in_flight: Arc<InFlight>,
    pub memory: Arc<tokio::sync::Semaphore>,
    pub cores: Arc<tokio::sync::Semaphore>,
}

/// Stores the photo of a signed paper under the client's `id` for a customer
/// the actor may see. A resend (same id, same photo and paper) is answered
/// with the stored record without processing; anything else under the id is
/// refused. The photo's header is checked against the memory budget before it
/// is decoded. Files first, then the record: a crash in between leaves an
/// orphan file the start-up check reports, never a record without its files;
/// a refused upload removes its files unless a record or an upload in flight
/// uses them.
pub async fn upload(
    db: &Db,
    photos: Photos,
    user: Actor,
    id: String,
    paper: Paper,
    content_type: &str,
    body: Bytes,
) -> Result<Stored, AppError> {
    if pipeline::is_heic_type(content_type) {
        return Err(media_error(pipeline::MediaError::Heic));
    }
    let claimed = pipeline::claimed_format(content_type);
    if claimed.is_none() && !content_type.is_empty() && content_type != "application/octet-stream" {
        return Err(media_error(pipeline::MediaError::NotAnImage));
    }
    let claim = Arc::new(Claim {
        paper,
        sha256: media::sha256_hex(&body),
    });

    // Access and idempotency first: a resend is answered without processing.
    let (check_user, check_id, c) = (user.clone(), id.clone(), claim.clone());
    let existing = db
        .transaction(move |conn| {
            let paper = &c.paper;
            load_visible(conn, &check_user, &paper.customer_id, "document.upload")?;
            if let Some(o) = &paper.order_id {
                lifecycle::find_order(conn, o)?
                    .filter(|o| o.customer_id == paper.customer_id)
                    .ok_or_else(|| {
                        unknown_reference(
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
        return Ok(Stored::Already(d));
    }

    // The header says what decoding will need; admitted by memory, then by core.
    let bytes = body.clone();
    let plan = actix_web::web::block(move || pipeline::plan(&bytes, claimed))
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("photo task failed: {e}")))?
        .map_err(media_error)?;
    let mib = plan.memory.div_ceil(pipeline::MIB) as u32;
    let memory = photos
        .memory
        .clone()
        .acquire_many_owned(mib)
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!(e)))?;
    let core = photos
        .cores
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!(e)))?;
    let bytes = body.clone();
    let processed = actix_web::web::block(move || {
        let _permits = (memory, core);
        pipeline::process(&bytes, claimed)
    })
    .await
    .map_err(|e| AppError::internal(anyhow::anyhow!("photo task failed: {e}")))?
    .map_err(media_error)?;

    // Files first, then the row: a crash in between leaves an orphan file the
    // start-up check reports, never a row without its files.
    let (store, in_flight, sha) = (
        photos.store.clone(),
        photos.in_flight.clone(),
        claim.sha256.clone(),
    );
    let original_bytes = body.clone();
    let hold = actix_web::web::block(move || -> std::io::Result<media::Hold> {
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

    let paper = &claim.paper;
    let row = documents::DocumentRow {
        id: id.clone(),
        customer_id: paper.customer_id.clone(),
        order_id: paper.order_id.clone(),
        kind: paper.kind.into(),
        signed_by: paper.signed_by.clone(),
        signed_at: paper.signed_at,
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
    let inserted = db
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
            db.run(move |conn| match documents::find(conn, &sid)? {
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
            Ok(Stored::New(stored))
        }
        refused => {
            // Not ours: remove the files unless a record or an upload in flight uses them.
            let (db, store, sha) = (db.clone(), photos.store.clone(), claim.sha256.clone());
            let cleaned = actix_web::web::block(move || {
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
                Stored::Already(d) | Stored::New(d) => Ok(Stored::Already(d)),
            }
        }
    }
}

/// Loads a document whose customer the caller may see, recording the look as
/// `action`; one the caller may not see is not found (the attempt recorded).
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

/// Reads a document's record, audited as `document.read`.
pub async fn read(db: &Db, user: Actor, id: String) -> Result<documents::DocumentRow, AppError> {
    db.transaction(move |conn| load(conn, &user, &id, "document.read"))
        .await
}

/// The three images kept of a document's photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Image {
    /// Upright, at most 2048 px, no metadata.
    Display,
    /// Upright, at most 320 px, no metadata.
    Thumbnail,
    /// The bytes as received, the proof, with the phone's metadata.
    Original,
}

impl Image {
    /// As the image's path and ETag name it.
    pub fn name(self) -> &'static str {
        match self {
            Image::Display => "display",
            Image::Thumbnail => "thumbnail",
            Image::Original => "original",
        }
    }

    fn action(self) -> &'static str {
        match self {
            Image::Display => "document.display",
            Image::Thumbnail => "document.thumbnail",
            Image::Original => "document.original",
        }
    }

    fn key(self, sha256: &str) -> String {
        match self {
            Image::Display => media::display_key(sha256),
            Image::Thumbnail => media::thumb_key(sha256),
            Image::Original => media::original_key(sha256),
        }
    }
}

/// Opens a document to look at one of its images, audited as
/// `document.display`, `document.thumbnail` or `document.original`.
pub async fn open_image(
    db: &Db,
    user: Actor,
    id: String,
    image: Image,
) -> Result<documents::DocumentRow, AppError> {
    db.transaction(move |conn| load(conn, &user, &id, image.action()))
        .await
}

/// The bytes of one of a document's images, from the store.
pub async fn image_bytes(
    store: Arc<dyn BlobStore>,
    d: &documents::DocumentRow,
    image: Image,
) -> Result<Vec<u8>, AppError> {
    let key = image.key(&d.sha256);
    actix_web::web::block(move || store.get(&key))
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!(e)))?
        .map_err(AppError::storage_unavailable)?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("document file missing")))
}

/// Marks a document the actor may see as replaced by a better photo (`by`) of
/// the same customer's paper, once. Nothing is deleted.
pub async fn supersede(
    db: &Db,
    user: Actor,
    id: String,
    by: String,
) -> Result<documents::DocumentRow, AppError> {
    db.transaction(move |conn| {
        let mut d = load(conn, &user, &id, "document.supersede")?;
        let better =
            documents::find(conn, &by)?.filter(|b| b.customer_id == d.customer_id && b.id != d.id);
        if better.is_none() {
            return Err(unknown_reference(
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
    .await
}

/// The documents of a customer the actor may see, audited as `document.list`.
pub async fn of_customer(
    db: &Db,
    user: Actor,
    customer_id: String,
) -> Result<Vec<documents::DocumentRow>, AppError> {
    read_of_customer(db, user, customer_id, "document.list", |conn, id| {
        Ok(documents::of_customer(conn, id)?)
    })
    .await
}

/// The documents of an order whose customer the actor may see, audited as
/// `document.list`; an order the actor may not see is not found.
pub async fn of_order(
    db: &Db,
    user: Actor,
    order_id: String,
) -> Result<Vec<documents::DocumentRow>, AppError> {
    db.transaction(move |conn| {
        let order = lifecycle::find_order(conn, &order_id)?
            .ok_or_else(|| AppError::not_found(ErrorCode::OrderNotFound, "order", "beställning"))?;
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
            audit::Entry::new("document.list", "order", Some(&order_id))
                .customer(&order.customer_id),
        )?;
        Ok(documents::of_order(conn, &order_id)?)
    })
    .await
}

/// The start-up check: files without a row (a crash between the two) and rows
/// whose files are missing.
#[derive(Debug, Default, Serialize)]
pub struct StorageCheck {
    pub orphan_files: Vec<String>,
    pub missing_files: Vec<String>,
}

impl StorageCheck {
    /// `check-documents` exits with this: 0 all agree, 1 records lack files
    /// (proof lost: restore from backup), 2 only files without a record
    /// (an interrupted upload: safe to remove).
    pub fn exit_code(&self) -> i32 {
        if !self.missing_files.is_empty() {
            1
        } else if !self.orphan_files.is_empty() {
            2
        } else {
            0
        }
    }
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
            &crate::domain::CustomerScope::All,
            &lifecycle::OrderFilter {
                customer_id: Some(customer_id.clone()),
                limit: 10_000,
                ..Default::default()
            },
        )?;
        let executions = lifecycle::executions_of(conn, &customer_id)?;
        let open = orders.iter().any(|o| !o.state.is_final())
            || executions.iter().any(|e| e.end_date.is_none());
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
            let ctx = crate::domain::RequestContext {
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
