//! Importing the alarm team's existing key register (an Excel sheet or CSV of
//! key numbers, customers and lock serials, seed 003): a dry run reports row by
//! row what would be created and what is wrong; applying is all or nothing.

use super::validation::Problems;
use crate::auth::CurrentUser;
use crate::db::{custody, customers, DbConn};
use crate::domain::custody::{closest, ItemMove, ItemState};
use crate::domain::Role;
use crate::error::{AppError, FieldError, Problem};
use crate::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use calamine::Reader;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::{IntoParams, ToSchema};

pub const MAX_BYTES: usize = 5 * 1024 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/import/key-register")
            .app_data(web::PayloadConfig::new(MAX_BYTES))
            .route(web::post().to(import_key_register)),
    );
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RowOutcome {
    /// Would be (or was) created.
    Create,
    /// Nothing to do (an empty row).
    Skip,
    /// Wrong; see `problems`.
    Error,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RowReport {
    /// The row number as the spreadsheet shows it.
    pub row: usize,
    pub outcome: RowOutcome,
    pub key_number: Option<String>,
    pub customer_number: Option<String>,
    pub serial: Option<String>,
    pub problems: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReport {
    pub dry_run: bool,
    /// True when the rows were written (never partly).
    pub applied: bool,
    pub rows: Vec<RowReport>,
    pub keys_to_create: usize,
    pub items_to_place: usize,
    pub errors: usize,
}

/// One row of the sheet, parsed.
#[derive(Debug, Clone)]
struct Row {
    line: usize,
    key_number: String,
    customer_number: String,
    count: i32,
    cabinet: String,
    hook: String,
    night: bool,
    serial: Option<String>,
}

/// Reads an .xlsx (first sheet) or a CSV (`;` or `,`, UTF-8 or Windows-1252)
/// into rows of cells, with the sheet's row numbers.
pub fn read_table(bytes: &[u8]) -> Result<Vec<(usize, Vec<String>)>, AppError> {
    if bytes.starts_with(b"PK\x03\x04") {
        let mut book: calamine::Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec()))
                .map_err(|e| unreadable(&format!("not a readable .xlsx: {e}")))?;
        let range = book
            .worksheet_range_at(0)
            .ok_or_else(|| unreadable("the workbook has no sheet"))?
            .map_err(|e| unreadable(&format!("the first sheet cannot be read: {e}")))?;
        let first = range.start().map(|(r, _)| r as usize).unwrap_or(0);
        return Ok(range
            .rows()
            .enumerate()
            .map(|(i, cells)| {
                (
                    first + i + 1,
                    cells
                        .iter()
                        .map(|c| c.to_string().trim().to_string())
                        .collect(),
                )
            })
            .collect());
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t.trim_start_matches('\u{feff}').to_string(),
        // Excel's CSV export in Sweden is often Windows-1252; å, ä, ö are the same bytes as in Latin-1.
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    };
    let first_line = text.lines().next().unwrap_or_default();
    let sep = if first_line.matches(';').count() >= first_line.matches(',').count() {
        ';'
    } else {
        ','
    };
    Ok(text
        .lines()
        .enumerate()
        .map(|(i, line)| (i + 1, split_csv_line(line, sep)))
        .collect())
}

fn split_csv_line(line: &str, sep: char) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.trim_end_matches('\r').chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            c if c == sep && !quoted => cells.push(std::mem::take(&mut cur).trim().to_string()),
            c => cur.push(c),
        }
    }
    cells.push(cur.trim().to_string());
    cells
}

fn unreadable(why: &str) -> AppError {
    AppError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "unreadable_sheet",
        format!("The file cannot be read as a key register: {why}. Send .xlsx or CSV."),
        format!("Filen kan inte läsas som ett nyckelregister: {why}. Skicka .xlsx eller CSV."),
    )
}

const COLUMNS: &[(&str, &[&str])] = &[
    (
        "key_number",
        &["nyckelnummer", "nyckelnr", "nyckel nr", "nyckel"],
    ),
    (
        "customer_number",
        &["kundnummer", "kundnr", "brukarnummer", "kund"],
    ),
    ("count", &["antal", "antal nycklar"]),
    ("cabinet", &["skåp", "skap", "nyckelskåp"]),
    ("hook", &["krok", "krok nr", "kroknummer"]),
    ("night", &["nattskåp", "natt"]),
    (
        "serial",
        &["serienummer", "låsets serienummer", "lås", "las", "serienr"],
    ),
];

fn parse_rows(table: &[(usize, Vec<String>)]) -> Result<(Vec<Row>, Vec<RowReport>), AppError> {
    // The header is the first row naming the key-number column; sheets often have a title above it.
    let key_names = COLUMNS[0].1;
    let Some((header_line, header)) = table.iter().find(|(_, cells)| {
        cells
            .iter()
            .any(|c| key_names.contains(&c.to_lowercase().as_str()))
    }) else {
        return Err(unreadable(
            "no header row naming a Nyckelnummer column was found",
        ));
    };
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, cell) in header.iter().enumerate() {
        let name = cell.to_lowercase();
        if let Some((field, _)) = COLUMNS
            .iter()
            .find(|(_, names)| names.contains(&name.as_str()))
        {
            index.entry(field).or_insert(i);
        }
    }
    let missing: Vec<&str> = ["key_number", "customer_number", "cabinet", "hook"]
        .into_iter()
        .filter(|f| !index.contains_key(f))
        .map(|f| {
            COLUMNS
                .iter()
                .find(|(n, _)| *n == f)
                .map(|(_, names)| names[0])
                .unwrap_or(f)
        })
        .collect();
    if !missing.is_empty() {
        return Err(unreadable(&format!(
            "the header row (row {header_line}) lacks the column(s) {}; it has: {}",
            missing.join(", "),
            header.join(", ")
        )));
    }
    let mut rows = Vec::new();
    let mut reports = Vec::new();
    for (line, cells) in table.iter().filter(|(l, _)| l > header_line) {
        let get = |f: &str| {
            index
                .get(f)
                .and_then(|i| cells.get(*i))
                .cloned()
                .unwrap_or_default()
        };
        if cells.iter().all(|c| c.is_empty()) {
            reports.push(RowReport {
                row: *line,
                outcome: RowOutcome::Skip,
                key_number: None,
                customer_number: None,
                serial: None,
                problems: vec!["tom rad / empty row".into()],
            });
            continue;
        }
        let mut problems = Vec::new();
        let count = match get("count").as_str() {
            "" => 1,
            c => match c.trim_end_matches(".0").parse::<i32>() {
                Ok(n) if (1..=20).contains(&n) => n,
                _ => {
                    problems.push(format!("antal '{c}' is not a number from 1 to 20"));
                    1
                }
            },
        };
        let night = matches!(
            get("night").to_lowercase().as_str(),
            "ja" | "j" | "x" | "1" | "true" | "yes"
        );
        let serial = Some(get("serial")).filter(|s| !s.is_empty());
        let row = Row {
            line: *line,
            key_number: get("key_number"),
            customer_number: get("customer_number").to_uppercase(),
            count,
            cabinet: get("cabinet"),
            hook: get("hook").trim_end_matches(".0").to_string(),
            night,
            serial,
        };
        for (value, name) in [
            (&row.key_number, "nyckelnummer"),
            (&row.customer_number, "kundnummer"),
            (&row.cabinet, "skåp"),
            (&row.hook, "krok"),
        ] {
            if value.is_empty() {
                problems.push(format!("{name} is missing"));
            }
        }
        reports.push(RowReport {
            row: *line,
            outcome: if problems.is_empty() {
                RowOutcome::Create
            } else {
                RowOutcome::Error
            },
            key_number: Some(row.key_number.clone()).filter(|s| !s.is_empty()),
            customer_number: Some(row.customer_number.clone()).filter(|s| !s.is_empty()),
            serial: row.serial.clone(),
            problems,
        });
        rows.push(row);
    }
    Ok((rows, reports))
}

/// Checks every row against the register (and the other rows); with `apply`,
/// writes them all in the caller's transaction, or nothing.
pub fn run(
    conn: &mut DbConn,
    user: &CurrentUser,
    bytes: &[u8],
    apply: bool,
) -> Result<ImportReport, AppError> {
    let table = read_table(bytes)?;
    let (rows, mut reports) = parse_rows(&table)?;
    let scope = user.scope();
    let mut seen_keys: HashMap<String, usize> = HashMap::new();
    let mut seen_serials: HashMap<String, usize> = HashMap::new();
    let all_serials = custody::all_serials(conn)?;
    let mut plan = Vec::new();
    for row in &rows {
        let report = reports
            .iter_mut()
            .find(|r| r.row == row.line)
            .expect("a report per row");
        if !row.key_number.is_empty() {
            if let Some(first) = seen_keys.insert(row.key_number.clone(), row.line) {
                report.problems.push(format!(
                    "key number {} is also on row {first}",
                    row.key_number
                ));
            } else if let Some(existing) = custody::find_key_by_number(conn, &row.key_number)? {
                let whose =
                    customers::numbers_of(conn, std::slice::from_ref(&existing.customer_id))?
                        .pop()
                        .map(|(_, n)| n)
                        .unwrap_or_default();
                report.problems.push(format!(
                    "key number {} is already in the register (customer {whose})",
                    row.key_number
                ));
            }
        }
        let customer = if row.customer_number.is_empty() {
            None
        } else {
            let found = customers::list(
                conn,
                &scope,
                &customers::ListFilter {
                    customer_number: Some(row.customer_number.clone()),
                    limit: 1,
                    ..Default::default()
                },
            )?
            .pop();
            if found.is_none() {
                report.problems.push(format!(
                    "no customer {} (or not one you may see)",
                    row.customer_number
                ));
            }
            found
        };
        let mut item = None;
        if let Some(serial) = &row.serial {
            if let Some(first) = seen_serials.insert(serial.clone(), row.line) {
                report
                    .problems
                    .push(format!("serial {serial} is also on row {first}"));
            }
            let mut found = custody::items_by_serial(conn, serial)?;
            match found.len() {
                0 => {
                    report.problems.push(format!(
                        "unknown serial {serial}; closest known: {}",
                        closest(&all_serials, serial, 3).join(", ")
                    ));
                }
                1 => {
                    let it = found.remove(0);
                    let here = customer
                        .as_ref()
                        .is_some_and(|c| it.customer_id.as_deref() == Some(c.id.as_str()));
                    if it.state != ItemState::InStock.as_str() && !here {
                        let at = match &it.customer_id {
                            Some(c) => format!(
                                " at customer {}",
                                customers::numbers_of(conn, std::slice::from_ref(c))?
                                    .pop()
                                    .map(|(_, n)| n)
                                    .unwrap_or_default()
                            ),
                            None => String::new(),
                        };
                        let state = match it.state.as_str() {
                            "at_customer" => "installed".to_string(),
                            other => other.replace('_', " "),
                        };
                        report
                            .problems
                            .push(format!("serial {serial} is already {state}{at}"));
                    } else if !here {
                        item = Some(it);
                    }
                }
                _ => report
                    .problems
                    .push(format!("serial {serial} belongs to several items")),
            }
            if customer.as_ref().is_some_and(|c| c.other_municipality) {
                report.problems.push("the customer's case comes from another municipality: no lock or receipt product".into());
            }
        }
        if report.problems.is_empty() {
            if let Some(c) = customer {
                plan.push((row.clone(), c, item));
            }
        } else {
            report.outcome = RowOutcome::Error;
        }
    }
    let errors = reports
        .iter()
        .filter(|r| r.outcome == RowOutcome::Error)
        .count();
    let mut report = ImportReport {
        dry_run: !apply,
        applied: false,
        keys_to_create: plan.len(),
        items_to_place: plan.iter().filter(|(_, _, i)| i.is_some()).count(),
        errors,
        rows: reports,
    };
    if !apply {
        return Ok(report);
    }
    if errors > 0 {
        let details = report
            .rows
            .iter()
            .filter(|r| r.outcome == RowOutcome::Error)
            .map(|r| FieldError {
                field: format!("row {}", r.row),
                code: "invalid_row".into(),
                detail: r.problems.join("; "),
            })
            .collect();
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "import_has_errors",
            format!("{errors} row(s) are wrong, so nothing was imported. Fix them (see `errors`, or run a dry run) and send the file again."),
            format!("{errors} rad(er) är felaktiga, så inget importerades. Rätta dem och skicka filen igen."),
        )
        .with_field_errors(details));
    }
    for (row, customer, item) in plan {
        let (cabinet, hook) = (row.cabinet.clone(), row.hook.clone());
        super::keys::register_key(
            conn,
            user,
            &customer.id,
            &row.key_number,
            row.count,
            &cabinet,
            &hook,
            row.night,
            None,
            None,
        )?;
        if let Some(mut it) = item {
            super::equipment::move_item(
                conn,
                user,
                &mut it,
                ItemMove::Install,
                Some(customer.id.clone()),
                None,
                Some(format!("Import rad {}", row.line)),
            )?;
        }
    }
    report.applied = true;
    Ok(report)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// `false` writes the rows (all or nothing); default `true`: only report.
    pub dry_run: Option<bool>,
}

/// Imports the existing key register from .xlsx or CSV (admin, coordinator).
/// Columns by header (any order): Nyckelnummer, Kundnummer, Antal, Skåp, Krok,
/// Nattskåp, Serienummer. A dry run (the default) reports every row; with
/// `dry_run=false` the rows are written all together, or, if any row is wrong,
/// not at all (422 naming the rows).
#[utoipa::path(post, path = "/api/v1/import/key-register", tag = "keys", security(("bearer" = [])),
    params(ImportQuery),
    request_body(content = String, description = "The sheet: .xlsx or CSV", content_type = "application/octet-stream"),
    responses(
        (status = 200, description = "The row-by-row report (and, without dry run, the rows written)", body = ImportReport),
        (status = 422, description = "The file is unreadable, or (applying) some rows are wrong: nothing was written", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn import_key_register(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<ImportQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    if !matches!(user.role, Role::Admin | Role::Coordinator) {
        return Err(AppError::forbidden(
            "import the key register",
            "importera nyckelregistret",
        ));
    }
    if body.is_empty() {
        let mut p = Problems::default();
        p.add(
            "body",
            "required",
            "send the .xlsx or CSV file as the request body",
        );
        p.finish()?;
    }
    let apply = !query.dry_run.unwrap_or(true);
    let report = state
        .db
        .transaction(move |conn| run(conn, &user, &body, apply))
        .await?;
    Ok(HttpResponse::Ok().json(report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_lines_split_with_quotes_and_either_separator() {
        assert_eq!(
            split_csv_line("a;\"b;c\";\"d \"\"e\"\"\"", ';'),
            ["a", "b;c", "d \"e\""]
        );
        assert_eq!(split_csv_line(" K-1 , 2 ", ','), ["K-1", "2"]);
    }

    #[test]
    fn windows_1252_csv_keeps_swedish_letters() {
        let bytes = b"Nyckelnummer;Kundnummer;Sk\xe5p;Krok\r\nB-1;K-100001;Sk\xe5p \xc5;3\r\n";
        let table = read_table(bytes).unwrap();
        assert_eq!(table[1].1, ["B-1", "K-100001", "Skåp Å", "3"]);
    }

    #[test]
    fn headers_are_found_in_any_order_and_missing_ones_named() {
        let table =
            read_table("Krok;Skåp;Kundnr;Nyckelnr\n1;A;k-100001;B-1\n;;;\n".as_bytes()).unwrap();
        let (rows, reports) = parse_rows(&table).unwrap();
        assert_eq!(
            (rows[0].hook.as_str(), rows[0].customer_number.as_str()),
            ("1", "K-100001")
        );
        assert_eq!(reports[1].outcome, RowOutcome::Skip);
        let err =
            parse_rows(&read_table(b"Nyckellista\nNyckelnummer;Antal\n").unwrap()).unwrap_err();
        assert!(err.to_string().contains("kundnummer"), "{err}");
    }
}
