//! `POST /import/key-register`: the alarm team's existing key register, as
//! .xlsx or CSV (the import itself is `app::import`).

use super::query::Query;
use crate::app::import::{self, ImportReport, Mapping};
use crate::auth::{Action, Actor};
use crate::error::{AppError, Problem};
use crate::state::AppState;
use actix_web::post;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

/// The largest sheet accepted, in bytes.
pub const MAX_BYTES: usize = crate::sheet::MAX_BODY_BYTES;
pub use import::MAX_APPLY_ROWS;

/// A sheet may be larger than other bodies: its own scope takes `MAX_BYTES`.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(
        utoipa_actix_web::scope("/import")
            .app_data(web::PayloadConfig::new(MAX_BYTES))
            .service(import_key_register)
            .default_service(web::to(super::unrouted)),
    );
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// `false` writes the rows (all or nothing, at most 2000 keys); default
    /// `true`: only report, with reads only (other users are not held up).
    pub dry_run: Option<bool>,
    /// Which column is which, when the headings are not recognised:
    /// comma-separated `field:column` pairs, a column by its letters or its
    /// heading, e.g. `key_number:A,customer_number:C,cabinet_hook:D`. Fields:
    /// key_number, customer_number, supplier_customer_number, count, cabinet,
    /// hook, cabinet_hook (`2/14` or `Skåp 2 krok 14`), night, serial.
    #[param(example = "key_number:A,customer_number:B,cabinet_hook:C")]
    pub mapping: Option<String>,
    /// The row holding the headings (as the sheet numbers it); default: the
    /// first row naming a key-number column.
    #[param(value_type = Option<usize>, minimum = 1)]
    pub header_row: Option<std::num::NonZeroUsize>,
}

/// The sheet's bytes (.xlsx or CSV), not empty.
pub struct SheetBytes;

impl utoipa::PartialSchema for SheetBytes {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        super::file_bytes("The sheet: .xlsx or CSV, not empty, at most 5 MiB.")
    }
}
impl utoipa::ToSchema for SheetBytes {}

/// Imports the existing key register from .xlsx or CSV (admin, coordinator).
/// Columns by heading, in any order, case and punctuation ignored:
/// Nyckelnummer/Nyckelnr, Kundnummer/Kundnr, Antal, Skåp, Krok (or one
/// Skåp/krok column: `2/14`, `Skåp 2 krok 14`), Nattskåp, Serienummer; a
/// supplier's customer number (Brukarnr Phoniro) is recognised but cannot be
/// matched. Other headings: say which column is which with `mapping`. Every
/// row is reported, with a code and what to do in English and Swedish.
///
/// Limits (422 `sheet_too_large`, the limit named in `errors[0].field`): body
/// 5 MiB; an .xlsx at most 256 parts, 16 MiB per part and 32 MiB in all
/// unzipped, each part at most 100× its packed size (past 1 MiB), XML nested
/// at most 64 deep, 100000 shared strings; the sheet at most 10000 rows and
/// 64 columns (A–BL). Applying writes at most 2000 keys (422
/// `import_too_large`). Key numbers are stored upper-case with every run of
/// spaces and dashes as one `-`.
#[utoipa::path(tag = "keys", security(("bearer" = [])),
    params(ImportQuery),
    request_body(content = inline(SheetBytes), description = "The sheet: .xlsx or CSV, not empty, at most 5 MiB", content_type = "application/octet-stream"),
    responses(
        (status = 200, description = "The row-by-row report (and, without dry run, the rows written)", body = ImportReport),
        (status = 413, description = "The body is over 5 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The file is unreadable or over a limit, the mapping is wrong, or (applying) some rows are wrong or too many: nothing was written", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/key-register")]
pub async fn import_key_register(
    state: web::Data<AppState>,
    user: Actor,
    query: Query<ImportQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    user.require(
        Action::ImportKeyRegister,
        "import the key register",
        "importera nyckelregistret",
    )?;
    let query = query.into_inner();
    if body.is_empty() {
        let mut p = crate::app::validation::Problems::default();
        p.add(
            "body",
            "required",
            "send the .xlsx or CSV file as the request body",
            "filen saknas; skicka med nyckelregistret som .xlsx eller CSV",
        );
        p.finish()?;
    }
    let mapping = Mapping::parse(query.mapping.as_deref().unwrap_or_default())?;
    let header_row = query.header_row.map(std::num::NonZeroUsize::get);
    let apply_it = !query.dry_run.unwrap_or(true);
    let report = import::import(&state.db, user, body, mapping, header_row, apply_it).await?;
    Ok(HttpResponse::Ok().json(report))
}
