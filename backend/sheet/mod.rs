//! Reading an uploaded spreadsheet (.xlsx or CSV) into rows of text cells.
//! Every size a hostile file could inflate — entries, unzipped bytes, rows,
//! columns, strings, nesting — is bounded before anything is allocated by it.

mod csv;
mod xlsx;

/// The largest upload the import takes, in bytes (5 MiB).
pub const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;
/// The highest row number a sheet may use (also the CSV line count).
pub const MAX_ROWS: u32 = 10_000;
/// The highest column a sheet may use: 64 columns, A to BL.
pub const MAX_COLUMNS: u32 = 64;
/// Shared strings of an .xlsx (declared `count`/`uniqueCount`, and actual entries).
pub const MAX_STRINGS: u64 = 100_000;
/// Files inside an .xlsx.
pub const MAX_ENTRIES: usize = 256;
/// One file inside an .xlsx, unzipped (16 MiB).
pub const MAX_ENTRY_BYTES: u64 = 16 * 1024 * 1024;
/// All files inside an .xlsx together, unzipped (32 MiB).
pub const MAX_UNZIPPED_BYTES: u64 = 32 * 1024 * 1024;
/// Unzipped bytes per compressed byte of one entry, once it is past 1 MiB.
pub const MAX_RATIO: u64 = 100;
/// Below this many unzipped bytes an entry's compression ratio is not checked.
pub const RATIO_FLOOR: u64 = 1024 * 1024;
/// Elements nested inside each other in any XML part of an .xlsx.
pub const MAX_XML_DEPTH: usize = 64;

/// One row of the sheet: its number as the spreadsheet shows it, and its cells
/// by column (A = 0), trimmed.
pub type Row = (usize, Vec<String>);

/// Which bound a file broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Body,
    Entries,
    EntrySize,
    Unzipped,
    Ratio,
    Rows,
    Columns,
    Strings,
    Depth,
    SharedFormulas,
}

impl Limit {
    /// The stable name of the limit, as the problem's `errors[].field`.
    pub fn name(self) -> &'static str {
        match self {
            Limit::Body => "body_bytes",
            Limit::Entries => "zip_entries",
            Limit::EntrySize => "entry_bytes",
            Limit::Unzipped => "unzipped_bytes",
            Limit::Ratio => "compression_ratio",
            Limit::Rows => "rows",
            Limit::Columns => "columns",
            Limit::Strings => "shared_strings",
            Limit::Depth => "xml_depth",
            Limit::SharedFormulas => "shared_formulas",
        }
    }

    pub fn max(self) -> u64 {
        match self {
            Limit::Body => MAX_BODY_BYTES as u64,
            Limit::Entries => MAX_ENTRIES as u64,
            Limit::EntrySize => MAX_ENTRY_BYTES,
            Limit::Unzipped => MAX_UNZIPPED_BYTES,
            Limit::Ratio => MAX_RATIO,
            Limit::Rows => MAX_ROWS as u64,
            Limit::Columns => MAX_COLUMNS as u64,
            Limit::Strings => MAX_STRINGS,
            Limit::Depth => MAX_XML_DEPTH as u64,
            Limit::SharedFormulas => MAX_ROWS as u64 * MAX_COLUMNS as u64,
        }
    }

    /// What the limit is, in English and in Swedish.
    pub fn describe(self) -> (String, String) {
        let m = self.max();
        match self {
            Limit::Body => (
                format!("the file may be at most {} MiB", m >> 20),
                format!("filen får vara högst {} MiB", m >> 20),
            ),
            Limit::Entries => (
                format!("an .xlsx may hold at most {m} parts"),
                format!("en .xlsx-fil får innehålla högst {m} delar"),
            ),
            Limit::EntrySize => (
                format!("each part of an .xlsx may unzip to at most {} MiB", m >> 20),
                format!(
                    "varje del av en .xlsx-fil får packas upp till högst {} MiB",
                    m >> 20
                ),
            ),
            Limit::Unzipped => (
                format!("an .xlsx may unzip to at most {} MiB in all", m >> 20),
                format!(
                    "en .xlsx-fil får packas upp till högst {} MiB totalt",
                    m >> 20
                ),
            ),
            Limit::Ratio => (
                format!("a part may unzip to at most {m} times its packed size"),
                format!("en del får packas upp till högst {m} gånger sin packade storlek"),
            ),
            Limit::Rows => (
                format!("the sheet may use at most {m} rows"),
                format!("bladet får använda högst {m} rader"),
            ),
            Limit::Columns => (
                format!("the sheet may use at most {m} columns (A to BL)"),
                format!("bladet får använda högst {m} kolumner (A till BL)"),
            ),
            Limit::Strings => (
                format!("the workbook may hold at most {m} texts"),
                format!("arbetsboken får innehålla högst {m} texter"),
            ),
            Limit::Depth => (
                format!("XML elements may be nested at most {m} deep"),
                format!("XML-element får vara nästlade högst {m} nivåer djupt"),
            ),
            Limit::SharedFormulas => (
                format!("a sheet may have at most {m} shared formulas"),
                format!("ett blad får ha högst {m} delade formler"),
            ),
        }
    }
}

/// Why a file cannot be read as a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SheetError {
    /// Not an .xlsx or CSV that can be read; English reason (may quote the
    /// parser) and a Swedish one of our own.
    Unreadable { en: String, sv: String },
    /// Over a bound: `found` is what the file has or claims (at least).
    OverLimit { limit: Limit, found: u64 },
}

impl SheetError {
    fn unreadable(en: impl Into<String>, sv: impl Into<String>) -> Self {
        SheetError::Unreadable {
            en: en.into(),
            sv: sv.into(),
        }
    }

    fn over(limit: Limit, found: u64) -> Self {
        SheetError::OverLimit { limit, found }
    }
}

/// Reads an .xlsx (its first sheet) or a CSV (`;` or `,`, UTF-8 or
/// Windows-1252) into its non-empty rows, with the sheet's row numbers.
pub fn read_table(bytes: &[u8]) -> Result<Vec<Row>, SheetError> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(SheetError::over(Limit::Body, bytes.len() as u64));
    }
    if bytes.starts_with(b"PK\x03\x04") {
        xlsx::read(bytes)
    } else {
        csv::read(bytes)
    }
}

/// Column letters as a spreadsheet shows them: 0 → A, 26 → AA.
pub fn column_letters(mut index: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (index % 26) as u8);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII")
}

/// The column index of letters such as `A` or `bl` (A = 0).
pub fn column_index(letters: &str) -> Option<usize> {
    if letters.is_empty() || letters.len() > 3 {
        return None;
    }
    letters
        .bytes()
        .try_fold(0usize, |acc, b| {
            b.is_ascii_alphabetic()
                .then(|| acc * 26 + usize::from(b.to_ascii_uppercase() - b'A') + 1)
        })
        .map(|n| n - 1)
}

/// Puts one cell into a sparse row list kept in sheet order.
fn place(rows: &mut Vec<Row>, row: u32, col: u32, value: String) -> Result<(), SheetError> {
    if row >= MAX_ROWS {
        return Err(SheetError::over(Limit::Rows, u64::from(row) + 1));
    }
    if col >= MAX_COLUMNS {
        return Err(SheetError::over(Limit::Columns, u64::from(col) + 1));
    }
    let line = row as usize + 1;
    let at = match rows.binary_search_by_key(&line, |(l, _)| *l) {
        Ok(i) => i,
        Err(i) => {
            rows.insert(i, (line, Vec::new()));
            i
        }
    };
    let cells = &mut rows[at].1;
    let col = col as usize;
    if cells.len() <= col {
        cells.resize(col + 1, String::new());
    }
    cells[col] = value;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_letters_round_trip() {
        for (i, l) in [(0, "A"), (25, "Z"), (26, "AA"), (63, "BL"), (16383, "XFD")] {
            assert_eq!(column_letters(i), l);
            assert_eq!(column_index(l), Some(i));
        }
        assert_eq!(column_index("b"), Some(1));
        assert_eq!(column_index("A1"), None);
        assert_eq!(column_index(""), None);
    }

    #[test]
    fn cells_beyond_the_bounds_are_refused_before_any_allocation() {
        let mut rows = Vec::new();
        place(&mut rows, 2, 1, "x".into()).unwrap();
        place(&mut rows, 0, 0, "y".into()).unwrap();
        assert_eq!(
            rows,
            [
                (1, vec!["y".to_string()]),
                (3, vec![String::new(), "x".into()])
            ]
        );
        assert_eq!(
            place(&mut rows, 1_048_575, 0, "z".into()),
            Err(SheetError::over(Limit::Rows, 1_048_576))
        );
        assert_eq!(
            place(&mut rows, 0, 16_383, "z".into()),
            Err(SheetError::over(Limit::Columns, 16_384))
        );
    }
}
