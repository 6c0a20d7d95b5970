//! Importing the alarm team's existing key register (an Excel sheet or CSV of
//! key numbers, customers and lock serials, seed 003): a dry run reports row by
//! row what would be created and what is wrong, with reads only; applying is
//! all or nothing, in one write transaction of at most `MAX_APPLY_ROWS` keys.

use crate::db::{custody, customers, Db, DbConn};
use crate::domain::custody::{closest, ItemMove, ItemState, KeyCount, KeyNumber, KeyPosition};
use crate::domain::Actor;
use crate::error::ErrorCode;
use crate::error::{AppError, FieldError};
use crate::sheet::{self, column_index, column_letters, SheetError};
use actix_web::http::StatusCode;
use actix_web::web;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use utoipa::ToSchema;

/// The most keys one apply writes: a bigger register goes in several files, so
/// the one SQLite writer is never held for long (a dry run takes no lock).
pub const MAX_APPLY_ROWS: usize = 2_000;

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

/// What the importer takes from a column.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// Nyckelnummer / Nyckelnr.
    KeyNumber,
    /// Kundnummer (K-…), what rows are matched on.
    CustomerNumber,
    /// A supplier's number for the customer (e.g. Brukarnr Phoniro). Larmkoll
    /// keeps none, so a row with only this is reported as unmatched.
    SupplierCustomerNumber,
    /// Antal.
    Count,
    /// Skåp.
    Cabinet,
    /// Krok.
    Hook,
    /// Skåp and krok in one column: `2/14`, `2:14` or `Skåp 2 krok 14`.
    CabinetHook,
    /// Nattskåp: ja / x / 1.
    Night,
    /// Serienummer of the lock to place at the customer.
    Serial,
}

impl Field {
    const ALL: [Field; 9] = [
        Field::KeyNumber,
        Field::CustomerNumber,
        Field::SupplierCustomerNumber,
        Field::Count,
        Field::Cabinet,
        Field::Hook,
        Field::CabinetHook,
        Field::Night,
        Field::Serial,
    ];

    fn name(self) -> &'static str {
        match self {
            Field::KeyNumber => "key_number",
            Field::CustomerNumber => "customer_number",
            Field::SupplierCustomerNumber => "supplier_customer_number",
            Field::Count => "count",
            Field::Cabinet => "cabinet",
            Field::Hook => "hook",
            Field::CabinetHook => "cabinet_hook",
            Field::Night => "night",
            Field::Serial => "serial",
        }
    }

    /// The heading a person would give the column.
    fn heading(self) -> &'static str {
        match self {
            Field::KeyNumber => "Nyckelnummer",
            Field::CustomerNumber => "Kundnummer",
            Field::SupplierCustomerNumber => "Brukarnr Phoniro",
            Field::Count => "Antal",
            Field::Cabinet => "Skåp",
            Field::Hook => "Krok",
            Field::CabinetHook => "Skåp/krok",
            Field::Night => "Nattskåp",
            Field::Serial => "Serienummer",
        }
    }

    /// Recognises a heading: case, punctuation and spacing do not matter.
    fn from_heading(heading: &str) -> Option<Field> {
        let h = words(heading);
        let has = |w: &str| h.split(' ').any(|x| x == w);
        let is = |names: &[&str]| names.contains(&h.as_str());
        if h.is_empty() {
            None
        } else if h.contains("serie") || is(&["lås", "las", "låsets serienummer"]) {
            Some(Field::Serial)
        } else if ["phoniro", "tunstall", "careium", "doro", "leverantör"]
            .iter()
            .any(|s| has(s))
        {
            Some(Field::SupplierCustomerNumber)
        } else if is(&[
            "nyckelnummer",
            "nyckelnr",
            "nyckel nr",
            "nyckel nummer",
            "nyckel",
            "nyckelid",
            "nyckel id",
            "bricka",
            "bricknr",
            "key number",
        ]) {
            Some(Field::KeyNumber)
        } else if is(&[
            "kundnummer",
            "kundnr",
            "kund nr",
            "kund",
            "brukarnummer",
            "brukarnr",
            "brukare",
            "customer number",
        ]) {
            Some(Field::CustomerNumber)
        } else if is(&["antal", "antal nycklar", "antal st", "st"]) {
            Some(Field::Count)
        } else if is(&["nattskåp", "natt", "nattnyckel"]) {
            Some(Field::Night)
        } else if is(&[
            "skåp krok",
            "skap krok",
            "skåp och krok",
            "skåp krok nr",
            "placering",
            "nyckelplats",
        ]) {
            Some(Field::CabinetHook)
        } else if is(&["skåp", "skap", "nyckelskåp", "skåp nr", "skåpnr"]) {
            Some(Field::Cabinet)
        } else if is(&["krok", "krok nr", "kroknr", "kroknummer"]) {
            Some(Field::Hook)
        } else {
            None
        }
    }
}

/// Lower case, every run of non-alphanumerics one space: `Skåp/krok` → `skåp krok`.
fn words(s: &str) -> String {
    s.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// One thing wrong with a row, with a stable code and what to do, in English and Swedish.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct RowProblem {
    /// The field it concerns (`key_number`, `cabinet`, …), when it concerns one.
    pub field: Option<String>,
    /// Stable, snake_case: `required`, `too_long`, `invalid_character`,
    /// `out_of_range`, `duplicate_in_sheet`, `key_number_taken`,
    /// `customer_not_found`, `customer_unmatched`, `unknown_serial`,
    /// `serial_taken`, `serial_ambiguous`, `other_municipality`,
    /// `cabinet_hook_unreadable`, `column_missing`, `columns_not_recognised`,
    /// `empty_row`.
    pub code: String,
    pub detail: String,
    pub detail_sv: String,
}

impl RowProblem {
    fn new(field: Option<Field>, code: &str, detail: String, detail_sv: String) -> Self {
        Self {
            field: field.map(|f| f.name().to_string()),
            code: code.to_string(),
            detail,
            detail_sv,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RowReport {
    /// The row number as the spreadsheet shows it.
    pub row: usize,
    pub outcome: RowOutcome,
    pub key_number: Option<String>,
    pub customer_number: Option<String>,
    pub serial: Option<String>,
    pub problems: Vec<RowProblem>,
}

/// A column of the sheet and what the importer takes from it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ColumnReport {
    /// The column's letters: A, B, … BL.
    pub column: String,
    /// Its heading in the header row.
    pub heading: String,
    /// What it is read as; none: ignored.
    pub field: Option<Field>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReport {
    pub dry_run: bool,
    /// True when the rows were written (never partly).
    pub applied: bool,
    /// The row taken as headings; none when no heading was recognised.
    pub header_row: Option<usize>,
    /// Every column of the header row and what it was read as.
    pub columns: Vec<ColumnReport>,
    /// Headings of the needed columns the sheet lacks; name them in `mapping`.
    pub missing_columns: Vec<String>,
    pub rows: Vec<RowReport>,
    pub keys_to_create: usize,
    pub items_to_place: usize,
    pub errors: usize,
}

/// One row of the sheet, parsed.
#[derive(Debug, Clone)]
struct Row {
    line: usize,
    key_number: Option<KeyNumber>,
    customer_number: String,
    count: Option<KeyCount>,
    position: Option<KeyPosition>,
    serial: Option<String>,
}

fn sheet_error(e: SheetError) -> AppError {
    match e {
        SheetError::Unreadable { en, sv } => AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::UnreadableSheet,
            format!("The file cannot be read as a key register: {en}. Send the register as .xlsx or as CSV (semicolon-separated)."),
            format!("Filen kan inte läsas som ett nyckelregister: {sv}. Spara registret som .xlsx eller som CSV (semikolonseparerad) och skicka det igen."),
        ),
        SheetError::OverLimit { limit, found } => {
            let (en, sv) = limit.describe();
            AppError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::SheetTooLarge,
                format!("The file is over a limit: {en} (this one has or claims {found}). Nothing was read or stored. Remove empty rows, columns and other sheets, or split the register into smaller files, and send it again."),
                format!("Filen överskrider en gräns: {sv} (denna har eller anger {found}). Inget lästes in eller sparades. Ta bort tomma rader, kolumner och andra blad, eller dela upp registret i mindre filer, och skicka det igen."),
            )
            .with_field_errors(vec![FieldError::new(
                limit.name(),
                "over_limit",
                format!("at most {}", limit.max()),
                format!("högst {}", limit.max()),
            )])
        }
    }
}

/// Which column is which: `key_number:A,customer_number:C,cabinet_hook:D`;
/// a column by its letters or by its heading.
#[derive(Debug, Clone, Default)]
pub struct Mapping(Vec<(Field, String)>);

impl Mapping {
    pub fn parse(text: &str) -> Result<Self, AppError> {
        let bad = |what: String, sv: String| {
            AppError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::InvalidMapping,
                format!("`mapping` cannot be read: {what}. Write it as field:column pairs separated by commas, e.g. key_number:A,customer_number:C,cabinet_hook:D; fields: {}.", Field::ALL.map(Field::name).join(", ")),
                format!("`mapping` kan inte läsas: {sv}. Skriv den som fält:kolumn-par åtskilda med komma, t.ex. key_number:A,customer_number:C,cabinet_hook:D; fälten är: {}.", Field::ALL.map(Field::name).join(", ")),
            )
        };
        let mut pairs = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((field, column)) = part.split_once(':') else {
                return Err(bad(
                    format!("'{part}' has no ':'"),
                    format!("'{part}' saknar ':'"),
                ));
            };
            let field = Field::ALL
                .into_iter()
                .find(|f| f.name() == field.trim())
                .ok_or_else(|| {
                    bad(
                        format!("'{}' is not a field", field.trim()),
                        format!("'{}' är inget fält", field.trim()),
                    )
                })?;
            if column.trim().is_empty() || column.contains('\0') {
                return Err(bad(
                    format!("no column for {}", field.name()),
                    format!("ingen kolumn för {}", field.name()),
                ));
            }
            pairs.push((field, column.trim().to_string()));
        }
        Ok(Mapping(pairs))
    }
}

/// Where each field is: the header row, and the column of each field.
struct Layout {
    header_row: Option<usize>,
    index: HashMap<Field, usize>,
    columns: Vec<ColumnReport>,
    missing: Vec<Field>,
}

fn layout(table: &[sheet::Row], mapping: &Mapping, header_row: Option<usize>) -> Layout {
    let recognised = |cells: &[String]| {
        cells
            .iter()
            .filter_map(|c| Field::from_heading(c))
            .collect::<Vec<_>>()
    };
    // The header is the first row naming the key-number column (sheets often
    // have a title above it), else the first naming two known columns.
    let header = match header_row {
        Some(n) => table.iter().find(|(l, _)| *l == n),
        None => table
            .iter()
            .find(|(_, c)| recognised(c).contains(&Field::KeyNumber))
            .or_else(|| table.iter().find(|(_, c)| recognised(c).len() >= 2))
            .or_else(|| (!mapping.0.is_empty()).then(|| table.first()).flatten()),
    };
    let mut index: HashMap<Field, usize> = HashMap::new();
    if let Some((_, cells)) = header {
        for (i, cell) in cells.iter().enumerate() {
            if let Some(f) = Field::from_heading(cell) {
                index.entry(f).or_insert(i);
            }
        }
    }
    for (field, column) in &mapping.0 {
        let by_heading = header.and_then(|(_, cells)| {
            cells
                .iter()
                .position(|c| words(c) == words(column) && !c.is_empty())
        });
        if let Some(i) = by_heading.or_else(|| column_index(column)) {
            index.retain(|_, at| *at != i);
            index.insert(*field, i);
        }
    }
    let width = header.map_or(0, |(_, c)| c.len());
    let columns = (0..width)
        .map(|i| ColumnReport {
            column: column_letters(i),
            heading: header
                .and_then(|(_, c)| c.get(i))
                .cloned()
                .unwrap_or_default(),
            field: index.iter().find(|(_, at)| **at == i).map(|(f, _)| *f),
        })
        .collect();
    let has = |f: &Field| index.contains_key(f);
    let mut missing = Vec::new();
    if !has(&Field::KeyNumber) {
        missing.push(Field::KeyNumber);
    }
    if !has(&Field::CustomerNumber) && !has(&Field::SupplierCustomerNumber) {
        missing.push(Field::CustomerNumber);
    }
    if !has(&Field::CabinetHook) {
        if !has(&Field::Cabinet) {
            missing.push(Field::Cabinet);
        }
        if !has(&Field::Hook) {
            missing.push(Field::Hook);
        }
    }
    Layout {
        header_row: header.map(|(l, _)| *l),
        index,
        columns,
        missing,
    }
}

/// `2/14`, `2:14`, `Skåp 2 krok 14`, `skåp 2, krok 14` → (`Skåp 2`, `14`).
pub fn split_cabinet_hook(value: &str) -> Option<(String, String)> {
    let lower = value.to_lowercase();
    let (cabinet, hook) = if let Some(at) = lower.find("krok") {
        (&value[..at], &value[at + "krok".len()..])
    } else {
        value.split_once(['/', ':'])?
    };
    let tidy = |s: &str| {
        s.trim_matches(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':' | '/' | '.'))
            .to_string()
    };
    let mut cabinet = tidy(cabinet);
    for prefix in ["skåp", "skap", "Skåp", "SKÅP", "Skap"] {
        if let Some(rest) = cabinet.strip_prefix(prefix) {
            cabinet = tidy(rest);
            break;
        }
    }
    let hook = tidy(hook);
    (!cabinet.is_empty() && !hook.is_empty()).then(|| (format!("Skåp {cabinet}"), hook))
}

fn key_problem(field: Field, e: &crate::domain::custody::KeyFieldError) -> RowProblem {
    RowProblem::new(Some(field), e.code(), e.detail(), e.detail_sv())
}

fn parse_rows(table: &[sheet::Row], layout: &Layout) -> (Vec<Row>, Vec<RowReport>) {
    let mut rows = Vec::new();
    let mut reports = Vec::new();
    // Rows the sheet leaves out are empty rows, reported as skipped like the rest.
    let data: Vec<&sheet::Row> = table
        .iter()
        .filter(|(l, _)| layout.header_row.is_none_or(|h| *l > h))
        .collect();
    let no_cells = Vec::new();
    let first = data.first().map_or(0, |(l, _)| *l);
    let last = data.last().map_or(0, |(l, _)| *l);
    let mut present = data.into_iter().peekable();
    let lines =
        (first..=last)
            .filter(|_| first > 0)
            .map(|l| match present.next_if(|(at, _)| *at == l) {
                Some((_, cells)) => (l, cells),
                None => (l, &no_cells),
            });
    for (line, cells) in lines {
        let line = &line;
        let get = |f: Field| {
            layout
                .index
                .get(&f)
                .and_then(|i| cells.get(*i))
                .cloned()
                .unwrap_or_default()
        };
        let mut problems = Vec::new();
        if cells.iter().all(|c| c.is_empty()) {
            reports.push(RowReport {
                row: *line,
                outcome: RowOutcome::Skip,
                key_number: None,
                customer_number: None,
                serial: None,
                problems: vec![RowProblem::new(
                    None,
                    "empty_row",
                    "empty row; nothing to import".into(),
                    "tom rad; inget att importera".into(),
                )],
            });
            continue;
        }
        if layout.header_row.is_none() {
            problems.push(RowProblem::new(
                None,
                "columns_not_recognised",
                "no header row with known column headings (Nyckelnummer, Kundnummer, Skåp, Krok) was found; add one above the data, or say which column is which with `mapping`, e.g. mapping=key_number:A,customer_number:B,cabinet_hook:C".into(),
                "ingen rubrikrad med kända kolumnrubriker (Nyckelnummer, Kundnummer, Skåp, Krok) hittades; lägg till en ovanför uppgifterna, eller ange vilken kolumn som är vilken med `mapping`, t.ex. mapping=key_number:A,customer_number:B,cabinet_hook:C".into(),
            ));
        } else {
            for f in &layout.missing {
                problems.push(RowProblem::new(
                    Some(*f),
                    "column_missing",
                    format!("the sheet has no {} column; name the heading {} or say which column it is with `mapping` ({}:<column letter>)", f.heading(), f.heading(), f.name()),
                    format!("bladet saknar kolumnen {}; döp kolumnrubriken till {} eller ange vilken kolumn det är med `mapping` ({}:<kolumnbokstav>)", f.heading(), f.heading(), f.name()),
                ));
            }
        }
        let key_number = match KeyNumber::parse(&get(Field::KeyNumber)) {
            Ok(k) => Some(k),
            Err(e) => {
                if layout.index.contains_key(&Field::KeyNumber) {
                    problems.push(key_problem(Field::KeyNumber, &e));
                }
                None
            }
        };
        let count_text = get(Field::Count);
        let count = match count_text.trim_end_matches(".0") {
            "" => KeyCount::new(1),
            c => c
                .parse::<i32>()
                .map_err(|_| KeyCount::new(0).unwrap_err())
                .and_then(KeyCount::new),
        };
        let count = count
            .map_err(|e| {
                problems.push(RowProblem::new(
                    Some(Field::Count),
                    e.code(),
                    format!("antal '{count_text}': {}", e.detail()),
                    format!("antal '{count_text}': {}", e.detail_sv()),
                ))
            })
            .ok();
        let night = matches!(
            get(Field::Night).to_lowercase().as_str(),
            "ja" | "j" | "x" | "1" | "true" | "yes"
        );
        let (cabinet, hook) = if layout.index.contains_key(&Field::CabinetHook) {
            let both = get(Field::CabinetHook);
            match split_cabinet_hook(&both) {
                Some(pair) => pair,
                None if both.is_empty() => Default::default(),
                None => {
                    problems.push(RowProblem::new(
                        Some(Field::CabinetHook),
                        "cabinet_hook_unreadable",
                        format!("skåp/krok '{both}' cannot be read; write it as 2/14 or Skåp 2 krok 14"),
                        format!("skåp/krok '{both}' går inte att läsa; skriv det som 2/14 eller Skåp 2 krok 14"),
                    ));
                    (both.clone(), both)
                }
            }
        } else {
            (
                get(Field::Cabinet),
                get(Field::Hook).trim_end_matches(".0").to_string(),
            )
        };
        let position = match KeyPosition::parse(&cabinet, &hook, night) {
            Ok(p) => Some(p),
            Err(errs) => {
                let missing_column = |f: Field| {
                    !layout.index.contains_key(&f)
                        && !layout.index.contains_key(&Field::CabinetHook)
                };
                for e in errs {
                    let f = if e.field == crate::domain::custody::KeyField::Cabinet {
                        Field::Cabinet
                    } else {
                        Field::Hook
                    };
                    if !missing_column(f)
                        && !problems.iter().any(|p| p.code == "cabinet_hook_unreadable")
                    {
                        problems.push(key_problem(f, &e));
                    }
                }
                None
            }
        };
        let customer_number = get(Field::CustomerNumber).to_uppercase();
        let supplier_number = get(Field::SupplierCustomerNumber);
        if customer_number.is_empty() && layout.header_row.is_some() {
            if !supplier_number.is_empty() {
                problems.push(RowProblem::new(
                    Some(Field::SupplierCustomerNumber),
                    "customer_unmatched",
                    format!("the customer is named only by the supplier's number ({supplier_number}); Larmkoll keeps no supplier customer numbers, so add the Kundnummer (K-…) for this row"),
                    format!("kunden anges bara med leverantörens nummer ({supplier_number}); Larmkoll har inte leverantörernas kundnummer, så fyll i Kundnummer (K-…) för raden"),
                ));
            } else if layout.index.contains_key(&Field::CustomerNumber)
                || layout.index.contains_key(&Field::SupplierCustomerNumber)
            {
                problems.push(RowProblem::new(
                    Some(Field::CustomerNumber),
                    "required",
                    "the customer number is missing; fill in the Kundnummer (K-…)".into(),
                    "kundnumret saknas; fyll i Kundnummer (K-…)".into(),
                ));
            }
        }
        let serial = Some(get(Field::Serial)).filter(|s| !s.is_empty());
        reports.push(RowReport {
            row: *line,
            outcome: if problems.is_empty() {
                RowOutcome::Create
            } else {
                RowOutcome::Error
            },
            key_number: key_number.as_ref().map(|k| k.to_string()).or_else(|| {
                Some(get(Field::KeyNumber)).filter(|s| !s.is_empty() && s.chars().count() <= 100)
            }),
            customer_number: Some(customer_number.clone()).filter(|s| !s.is_empty()),
            serial: serial.clone(),
            problems,
        });
        rows.push(Row {
            line: *line,
            key_number,
            customer_number,
            count,
            position,
            serial,
        });
    }
    (rows, reports)
}

/// A parsed sheet: its layout, rows and their reports, before any database work.
pub struct Parsed {
    layout: Layout,
    rows: Vec<Row>,
    reports: Vec<RowReport>,
}

/// Reads and parses the file: CPU only, no database.
pub fn parse(
    bytes: &[u8],
    mapping: &Mapping,
    header_row: Option<usize>,
) -> Result<Parsed, AppError> {
    let table = sheet::read_table(bytes).map_err(sheet_error)?;
    let layout = layout(&table, mapping, header_row);
    let (rows, reports) = parse_rows(&table, &layout);
    Ok(Parsed {
        layout,
        rows,
        reports,
    })
}

/// One row that can be written: the customer and the item to place.
type Planned = (Row, customers::CustomerRow, Option<custody::ItemRow>);

/// Checks every row against the register (and the other rows), with reads only.
fn check(
    conn: &mut DbConn,
    user: &Actor,
    parsed: &Parsed,
) -> Result<(Vec<RowReport>, Vec<Planned>), AppError> {
    let scope = user.scope();
    let mut reports = parsed.reports.clone();
    let rows = &parsed.rows;
    let numbers: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.key_number.as_ref().map(KeyNumber::as_str))
        .collect();
    let existing: HashMap<String, custody::KeyRow> = custody::keys_by_numbers(conn, &numbers)?
        .into_iter()
        .map(|k| (k.key_number.clone(), k))
        .collect();
    let mut customer_ids: Vec<String> = existing.values().map(|k| k.customer_id.clone()).collect();
    let wanted: Vec<String> = {
        let mut w: Vec<String> = rows
            .iter()
            .map(|r| r.customer_number.clone())
            .filter(|n| !n.is_empty() && n.chars().count() <= 100 && !n.contains('\0'))
            .collect();
        w.sort();
        w.dedup();
        w
    };
    let mut visible: HashMap<String, customers::CustomerRow> = HashMap::new();
    for batch in wanted.chunks(1000) {
        for c in customers::list(
            conn,
            &scope,
            &customers::ListFilter {
                customer_numbers: Some(batch.to_vec()),
                limit: batch.len() as i64,
                ..Default::default()
            },
        )? {
            visible.insert(c.customer_number.clone(), c);
        }
    }
    let serials: Vec<&str> = rows.iter().filter_map(|r| r.serial.as_deref()).collect();
    let mut items: HashMap<String, Vec<custody::ItemRow>> = HashMap::new();
    for it in custody::items_by_serials(conn, &serials)? {
        customer_ids.extend(it.customer_id.clone());
        items.entry(it.serial.clone()).or_default().push(it);
    }
    let numbers_of: HashMap<String, String> = customers::numbers_of(conn, &customer_ids)?
        .into_iter()
        .collect();
    let number_of = |id: &str| numbers_of.get(id).cloned().unwrap_or_default();
    let all_serials = if serials.iter().any(|s| !items.contains_key(*s)) {
        custody::all_serials(conn)?
    } else {
        Vec::new()
    };
    let mut seen_keys: HashMap<&KeyNumber, usize> = HashMap::new();
    let mut seen_serials: HashMap<&str, usize> = HashMap::new();
    let mut plan = Vec::new();
    for (row, report) in rows
        .iter()
        .zip(reports.iter_mut().filter(|r| r.outcome != RowOutcome::Skip))
    {
        debug_assert_eq!(row.line, report.row);
        let mut problem = |field: Field, code: &str, en: String, sv: String| {
            report
                .problems
                .push(RowProblem::new(Some(field), code, en, sv));
        };
        if let Some(k) = &row.key_number {
            if let Some(first) = seen_keys.insert(k, row.line) {
                problem(Field::KeyNumber, "duplicate_in_sheet",
                    format!("key number {k} is also on row {first} (key numbers are compared without regard to case, spaces and dashes); keep one of the rows"),
                    format!("nyckelnummer {k} finns även på rad {first} (nyckelnummer jämförs oavsett stora och små bokstäver, mellanslag och bindestreck); behåll en av raderna"));
            } else if let Some(e) = existing.get(k.as_str()) {
                let whose = number_of(&e.customer_id);
                problem(Field::KeyNumber, "key_number_taken",
                    format!("key number {k} is already in the register (customer {whose}); remove the row, or correct the number"),
                    format!("nyckelnummer {k} finns redan i registret (kund {whose}); ta bort raden eller rätta numret"));
            }
        }
        let customer = visible.get(&row.customer_number).cloned();
        if customer.is_none() && !row.customer_number.is_empty() {
            problem(
                Field::CustomerNumber,
                "customer_not_found",
                format!(
                    "no customer {} (or not one you may see); check the Kundnummer",
                    row.customer_number
                ),
                format!(
                    "det finns ingen kund {} (eller ingen du får se); kontrollera kundnumret",
                    row.customer_number
                ),
            );
        }
        let mut item = None;
        if let Some(serial) = &row.serial {
            if let Some(first) = seen_serials.insert(serial, row.line) {
                problem(
                    Field::Serial,
                    "duplicate_in_sheet",
                    format!(
                        "serial {serial} is also on row {first}; one lock belongs to one customer"
                    ),
                    format!(
                        "serienummer {serial} finns även på rad {first}; ett lås hör till en kund"
                    ),
                );
            }
            let found = items
                .get(serial.as_str())
                .map(Vec::as_slice)
                .unwrap_or_default();
            match found {
                [] => {
                    let near = closest(&all_serials, serial, 3).join(", ");
                    problem(Field::Serial, "unknown_serial",
                        format!("unknown serial {serial}; closest known: {near}; correct it or register the lock first"),
                        format!("okänt serienummer {serial}; närmast kända: {near}; rätta det eller registrera låset först"));
                }
                [it] => {
                    let here = customer
                        .as_ref()
                        .is_some_and(|c| it.customer_id.as_deref() == Some(c.id.as_str()));
                    if it.state != ItemState::InStock && !here {
                        let at = it.customer_id.as_deref().map(number_of);
                        let (state_en, state_sv) = match it.state.as_str() {
                            "at_customer" => ("installed", "installerat"),
                            "to_collect" => ("to collect", "att hämta"),
                            "collected" => ("collected", "hämtat"),
                            "missing" => ("missing", "saknat"),
                            _ => ("scrapped", "kasserat"),
                        };
                        problem(Field::Serial, "serial_taken",
                            format!("serial {serial} is already {state_en}{}; check the serial", at.as_ref().map(|n| format!(" at customer {n}")).unwrap_or_default()),
                            format!("serienummer {serial} är redan {state_sv}{}; kontrollera serienumret", at.as_ref().map(|n| format!(" hos kund {n}")).unwrap_or_default()));
                    } else if !here {
                        item = Some(it.clone());
                    }
                }
                _ => problem(Field::Serial, "serial_ambiguous",
                    format!("serial {serial} belongs to several items; place the lock from its item page instead"),
                    format!("serienummer {serial} hör till flera artiklar; placera låset från artikelns sida i stället")),
            }
            if customer.as_ref().is_some_and(|c| c.other_municipality) {
                problem(Field::Serial, "other_municipality",
                    "the customer's case comes from another municipality: no lock or receipt product; leave the serial empty".into(),
                    "kundens ärende kommer från en annan kommun: inget lås eller kvittensprodukt; lämna serienumret tomt".into());
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
    Ok((reports, plan))
}

fn report_of(parsed: &Parsed, rows: Vec<RowReport>, plan: &[Planned], apply: bool) -> ImportReport {
    ImportReport {
        dry_run: !apply,
        applied: false,
        header_row: parsed.layout.header_row,
        columns: parsed.layout.columns.clone(),
        missing_columns: parsed
            .layout
            .missing
            .iter()
            .map(|f| f.heading().to_string())
            .collect(),
        keys_to_create: plan.len(),
        items_to_place: plan.iter().filter(|(_, _, i)| i.is_some()).count(),
        errors: rows
            .iter()
            .filter(|r| r.outcome == RowOutcome::Error)
            .count(),
        rows,
    }
}

/// The dry run: reads only, outside any transaction, so no writer waits for it.
pub fn dry_run(conn: &mut DbConn, user: &Actor, parsed: &Parsed) -> Result<ImportReport, AppError> {
    let (rows, plan) = check(conn, user, parsed)?;
    Ok(report_of(parsed, rows, &plan, false))
}

/// Checks again and writes every row, in the caller's transaction, or nothing.
pub fn apply(conn: &mut DbConn, user: &Actor, parsed: &Parsed) -> Result<ImportReport, AppError> {
    let (rows, plan) = check(conn, user, parsed)?;
    let mut report = report_of(parsed, rows, &plan, true);
    if report.errors > 0 {
        let errors = report.errors;
        let details = report
            .rows
            .iter()
            .filter(|r| r.outcome == RowOutcome::Error)
            .map(|r| FieldError {
                field: format!("row {}", r.row),
                code: r
                    .problems
                    .first()
                    .map_or("invalid_row".into(), |p| p.code.clone()),
                detail: r
                    .problems
                    .iter()
                    .map(|p| p.detail.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
                detail_sv: format!(
                    "rad {}: {}",
                    r.row,
                    r.problems
                        .iter()
                        .map(|p| p.detail_sv.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            })
            .collect();
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ImportHasErrors,
            format!("{errors} row(s) are wrong, so nothing was imported. Fix them (see `errors`, or run a dry run for each row's problems) and send the file again."),
            format!("{errors} rad(er) är felaktiga, så inget importerades. Gör en provkörning för att se felen rad för rad, rätta dem och skicka filen igen."),
        )
        .with_field_errors(details));
    }
    for (row, customer, item) in plan {
        let (Some(number), Some(count), Some(position)) =
            (&row.key_number, row.count, &row.position)
        else {
            continue; // a row without these has a problem, so it is not planned
        };
        crate::app::keys::register_key(
            conn,
            user,
            &customer.id,
            number,
            count,
            position,
            None,
            None,
        )?;
        if let Some(mut it) = item {
            crate::app::equipment::move_item(
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

/// The command line's import: the headings recognised, no mapping; applying
/// in the caller's transaction.
pub fn run(
    conn: &mut DbConn,
    user: &Actor,
    bytes: &[u8],
    apply_it: bool,
) -> Result<ImportReport, AppError> {
    let parsed = parse(bytes, &Mapping::default(), None)?;
    if !apply_it {
        return dry_run(conn, user, &parsed);
    }
    let planned = parsed.planned_rows();
    if planned > MAX_APPLY_ROWS {
        return Err(too_many_to_apply(planned));
    }
    apply(conn, user, &parsed)
}

impl Parsed {
    /// Rows that are not empty: what an apply would write.
    fn planned_rows(&self) -> usize {
        self.reports
            .iter()
            .filter(|r| r.outcome != RowOutcome::Skip)
            .count()
    }
}

fn too_many_to_apply(n: usize) -> AppError {
    AppError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::ImportTooLarge,
        format!("The file has {n} keys to import; one import writes at most {MAX_APPLY_ROWS}. Split the register into files of at most {MAX_APPLY_ROWS} rows and import them one after the other (a dry run checks up to {} rows).", sheet::MAX_ROWS),
        format!("Filen har {n} nycklar att importera; en import skriver högst {MAX_APPLY_ROWS}. Dela upp registret i filer med högst {MAX_APPLY_ROWS} rader och importera dem en i taget (en provkörning kontrollerar upp till {} rader).", sheet::MAX_ROWS),
    )
}

/// Imports a sheet: parsed off the async threads, then a dry run with reads
/// only, or an apply of at most [`MAX_APPLY_ROWS`] keys in one transaction.
pub async fn import(
    db: &Db,
    user: Actor,
    body: web::Bytes,
    mapping: Mapping,
    header_row: Option<usize>,
    apply_it: bool,
) -> Result<ImportReport, AppError> {
    let parsed = web::block(move || parse(&body, &mapping, header_row))
        .await
        .map_err(|e| AppError::internal(anyhow::anyhow!("blocking task failed: {e}")))??;
    if apply_it {
        let planned = parsed.planned_rows();
        if planned > MAX_APPLY_ROWS {
            return Err(too_many_to_apply(planned));
        }
        db.transaction(move |conn| apply(conn, &user, &parsed))
            .await
    } else {
        db.run(move |conn| dry_run(conn, &user, &parsed)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_csv(text: &str, mapping: &str) -> Parsed {
        parse(text.as_bytes(), &Mapping::parse(mapping).unwrap(), None).unwrap()
    }

    #[test]
    fn headers_are_found_in_any_order_and_missing_ones_named() {
        let p = parse_csv("Krok;Skåp;Kundnr;Nyckelnr\n1;A;k-100001;b-1\n;;;\n", "");
        assert_eq!(p.layout.header_row, Some(1));
        let r = &p.rows[0];
        assert_eq!(r.position.as_ref().unwrap().hook, "1");
        assert_eq!(r.customer_number, "K-100001");
        assert_eq!(r.key_number.as_ref().unwrap().as_str(), "B-1");
        assert_eq!(p.reports[1].outcome, RowOutcome::Skip);
        let p = parse_csv("Nyckellista\nNyckelnummer;Antal\nB-1;1\n", "");
        assert_eq!(
            p.layout.missing,
            [Field::CustomerNumber, Field::Cabinet, Field::Hook]
        );
        let codes: Vec<_> = p.reports[0]
            .problems
            .iter()
            .map(|p| p.code.as_str())
            .collect();
        assert_eq!(codes, ["column_missing"; 3]);
    }

    #[test]
    fn the_alarm_teams_own_headings_are_recognised() {
        for (heading, field) in [
            ("Nyckelnr", Field::KeyNumber),
            ("Nyckel-nr.", Field::KeyNumber),
            ("Brukarnr Phoniro", Field::SupplierCustomerNumber),
            ("Skåp/krok", Field::CabinetHook),
            ("SKÅP / KROK", Field::CabinetHook),
            ("Kund nr", Field::CustomerNumber),
            ("Lås serienr", Field::Serial),
        ] {
            assert_eq!(Field::from_heading(heading), Some(field), "{heading}");
        }
        assert_eq!(Field::from_heading("Anteckning"), None);
    }

    #[test]
    fn cabinet_and_hook_in_one_cell() {
        for (v, cabinet, hook) in [
            ("2/14", "Skåp 2", "14"),
            ("2 / 14", "Skåp 2", "14"),
            ("Skåp 2 krok 14", "Skåp 2", "14"),
            ("skåp Ö, krok 3", "Skåp Ö", "3"),
            ("B:7", "Skåp B", "7"),
        ] {
            assert_eq!(
                split_cabinet_hook(v),
                Some((cabinet.to_string(), hook.to_string())),
                "{v}"
            );
        }
        assert_eq!(split_cabinet_hook("14"), None);
        assert_eq!(split_cabinet_hook("2/"), None);
    }

    #[test]
    fn a_mapping_names_columns_by_letter_or_heading() {
        let p = parse_csv(
            "Nr;Vem;Var\nxn 1;K-1;3/4\n",
            "key_number:A,customer_number:Vem,cabinet_hook:C",
        );
        assert_eq!(p.layout.header_row, Some(1));
        assert!(p.layout.missing.is_empty());
        let r = &p.rows[0];
        assert_eq!(r.key_number.as_ref().unwrap().as_str(), "XN-1");
        assert_eq!(r.position.as_ref().unwrap().cabinet, "Skåp 3");
        let e = Mapping::parse("key_number=A").unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidMapping);
        assert!(Mapping::parse("colour:A").is_err());
    }

    #[test]
    fn a_sheet_without_known_headings_still_reports_every_row() {
        let p = parse_csv("a;b\n1;2\n", "");
        assert_eq!(p.layout.header_row, None);
        assert_eq!(p.reports.len(), 2);
        assert!(p
            .reports
            .iter()
            .all(|r| r.problems[0].code == "columns_not_recognised"));
    }
}
