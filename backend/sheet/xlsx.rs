//! .xlsx: the zip and its XML are inspected with bounded, streaming reads
//! before calamine opens the workbook, and the first sheet is then read cell
//! by cell (calamine's `Range` allocates the bounding box of every cell
//! reference: one value in XFD1048576 asked for 512 GB).

use super::{
    place, Limit, Row, SheetError, MAX_COLUMNS, MAX_ENTRIES, MAX_ENTRY_BYTES, MAX_RATIO, MAX_ROWS,
    MAX_STRINGS, MAX_UNZIPPED_BYTES, MAX_XML_DEPTH, RATIO_FLOOR,
};
use calamine::Reader as _;
use quick_xml::events::{BytesStart, Event};
use std::io::{BufReader, Cursor, Read};

pub fn read(bytes: &[u8]) -> Result<Vec<Row>, SheetError> {
    inspect(bytes)?;
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(Cursor::new(bytes)).map_err(|e| {
            SheetError::unreadable(
                format!("not a readable .xlsx: {e}"),
                "filen är inte en läsbar .xlsx-arbetsbok",
            )
        })?;
    let first = book.sheet_names().first().cloned().ok_or_else(|| {
        SheetError::unreadable("the workbook has no sheet", "arbetsboken har inget blad")
    })?;
    let sheet_error = |e: calamine::XlsxError| {
        SheetError::unreadable(
            format!("the first sheet cannot be read: {e}"),
            "arbetsbokens första blad kan inte läsas",
        )
    };
    let mut cells = book.worksheet_cells_reader(&first).map_err(sheet_error)?;
    let mut rows = Vec::new();
    while let Some(cell) = cells.next_cell().map_err(sheet_error)? {
        let value = calamine::Data::from(cell.get_value().clone())
            .to_string()
            .trim()
            .to_string();
        if !value.is_empty() {
            let (row, col) = cell.get_position();
            place(&mut rows, row, col, value)?;
        }
    }
    Ok(rows)
}

/// What an entry of the zip is, for what its XML is checked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Sheet,
    SharedStrings,
    OtherXml,
    Binary,
}

fn part_of(name: &str) -> Part {
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("xl/worksheets/") && lower.ends_with(".xml") {
        Part::Sheet
    } else if lower.ends_with("sharedstrings.xml") {
        Part::SharedStrings
    } else if lower.ends_with(".xml") || lower.ends_with(".rels") || lower.ends_with(".vml") {
        Part::OtherXml
    } else {
        Part::Binary
    }
}

/// Counts what is unzipped and stops at the entry's, the total's and the
/// ratio's bound, whatever the zip's headers claim.
struct Bounded<R> {
    inner: R,
    read: u64,
    packed: u64,
    budget: u64,
    over: Option<Limit>,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > MAX_ENTRY_BYTES {
            self.over = Some(Limit::EntrySize);
        } else if self.read > self.budget {
            self.over = Some(Limit::Unzipped);
        } else if self.read > RATIO_FLOOR && self.read > self.packed.saturating_mul(MAX_RATIO) {
            self.over = Some(Limit::Ratio);
        }
        if self.over.is_some() {
            return Err(std::io::Error::other("over a limit"));
        }
        Ok(n)
    }
}

/// Refuses a zip over any bound: entry count, unzipped size per entry and in
/// all, compression ratio; and XML nested too deep, a sheet whose
/// `<dimension>` or shared formula index is past the sheet bounds, or shared
/// strings over their bound (declared or counted).
pub fn inspect(bytes: &[u8]) -> Result<(), SheetError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(not_a_zip)?;
    if zip.len() > MAX_ENTRIES {
        return Err(SheetError::over(Limit::Entries, zip.len() as u64));
    }
    let mut total = 0u64;
    for i in 0..zip.len() {
        let entry = zip.by_index(i).map_err(not_a_zip)?;
        let name = entry.name().map_err(not_a_zip)?.to_string();
        let (declared, packed) = (entry.size(), entry.compressed_size());
        if declared > MAX_ENTRY_BYTES {
            return Err(SheetError::over(Limit::EntrySize, declared));
        }
        if total + declared > MAX_UNZIPPED_BYTES {
            return Err(SheetError::over(Limit::Unzipped, total + declared));
        }
        if declared > RATIO_FLOOR && declared > packed.saturating_mul(MAX_RATIO) {
            return Err(SheetError::over(Limit::Ratio, declared / packed.max(1)));
        }
        let mut bounded = Bounded {
            inner: entry,
            read: 0,
            packed,
            budget: MAX_UNZIPPED_BYTES - total,
            over: None,
        };
        let part = part_of(&name);
        let scanned = match part {
            Part::Binary => std::io::copy(&mut bounded, &mut std::io::sink())
                .map(|_| ())
                .map_err(|e| Scan::Broken(e.to_string())),
            xml => scan_xml(&mut bounded, xml),
        };
        if let Some(limit) = bounded.over {
            let found = match limit {
                Limit::Ratio => bounded.read / packed.max(1),
                Limit::Unzipped => total + bounded.read,
                _ => bounded.read,
            };
            return Err(SheetError::over(limit, found));
        }
        match scanned {
            Ok(()) => {}
            Err(Scan::Over(limit, found)) => return Err(SheetError::over(limit, found)),
            Err(Scan::Broken(why)) => {
                return Err(SheetError::unreadable(
                    format!("the part {name} of the .xlsx is not readable XML: {why}"),
                    format!("delen {name} i .xlsx-filen är inte läsbar XML"),
                ))
            }
        }
        total += bounded.read;
    }
    Ok(())
}

fn not_a_zip(e: zip::result::ZipError) -> SheetError {
    SheetError::unreadable(
        format!("not a readable .xlsx: {e}"),
        "filen är inte en läsbar .xlsx-arbetsbok (ett trasigt eller krypterat zip-arkiv)",
    )
}

enum Scan {
    Over(Limit, u64),
    Broken(String),
}

impl From<String> for Scan {
    fn from(s: String) -> Self {
        Scan::Broken(s)
    }
}

/// Streams one XML part: depth always; for a sheet its `<dimension>` and
/// shared formula indexes; for shared strings the declared and actual count.
fn scan_xml(input: &mut impl Read, part: Part) -> Result<(), Scan> {
    let mut xml = quick_xml::Reader::from_reader(BufReader::new(input));
    xml.config_mut().check_end_names = false;
    let mut buf = Vec::new();
    let mut depth = 0usize;
    let mut strings = 0u64;
    loop {
        buf.clear();
        let event = xml
            .read_event_into(&mut buf)
            .map_err(|e| Scan::Broken(e.to_string()))?;
        let (start, opens) = match &event {
            Event::Start(e) => (Some(e), true),
            Event::Empty(e) => (Some(e), false),
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                (None, false)
            }
            Event::Eof => return Ok(()),
            _ => (None, false),
        };
        let Some(start) = start else { continue };
        if opens {
            depth += 1;
            if depth > MAX_XML_DEPTH {
                return Err(Scan::Over(Limit::Depth, depth as u64));
            }
        }
        let local = start.local_name();
        match (part, local.as_ref()) {
            (Part::Sheet, "dimension") => {
                if let Some(r) = attr(start, "ref")? {
                    check_dimension(&r)?;
                }
            }
            (Part::Sheet, "f") => {
                // calamine sizes its shared formula table by this index.
                if let Some(si) = attr(start, "si")? {
                    let si: u64 = si.trim().parse().unwrap_or(u64::MAX);
                    if si >= Limit::SharedFormulas.max() {
                        return Err(Scan::Over(Limit::SharedFormulas, si.saturating_add(1)));
                    }
                }
            }
            (Part::SharedStrings, "sst") => {
                for name in ["count", "uniqueCount"] {
                    if let Some(n) = attr(start, name)? {
                        let n: u64 = n.trim().parse().unwrap_or(u64::MAX);
                        if n > MAX_STRINGS {
                            return Err(Scan::Over(Limit::Strings, n));
                        }
                    }
                }
            }
            (Part::SharedStrings, "si") => {
                strings += 1;
                if strings > MAX_STRINGS {
                    return Err(Scan::Over(Limit::Strings, strings));
                }
            }
            _ => {}
        }
    }
}

fn attr(e: &BytesStart<'_>, name: &str) -> Result<Option<String>, Scan> {
    match e.try_get_attribute(name) {
        Ok(a) => Ok(a.map(|a| a.value.to_string())),
        Err(err) => Err(Scan::Broken(err.to_string())),
    }
}

/// `A1:XFD1048576` → refused when its last row or column is past the bounds.
fn check_dimension(reference: &str) -> Result<(), Scan> {
    for corner in reference.split(':') {
        let corner = corner.trim().trim_start_matches('$');
        let split = corner
            .find(|c: char| c.is_ascii_digit() || c == '$')
            .unwrap_or(corner.len());
        let (letters, digits) = corner.split_at(split);
        let row: u64 = digits.trim_start_matches('$').parse().unwrap_or(0);
        let col = super::column_index(letters).map_or(u64::MAX, |c| c as u64 + 1);
        if letters.is_empty() {
            continue;
        }
        if col > u64::from(MAX_COLUMNS) {
            return Err(Scan::Over(Limit::Columns, col));
        }
        if row > u64::from(MAX_ROWS) {
            return Err(Scan::Over(Limit::Rows, row));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimensions_past_the_bounds_are_refused() {
        assert!(check_dimension("A1:H15").is_ok());
        assert!(check_dimension("$A$1:$BL$10000").is_ok());
        assert!(matches!(
            check_dimension("A1:XFD1048576"),
            Err(Scan::Over(Limit::Columns, 16384))
        ));
        assert!(matches!(
            check_dimension("XFD1"),
            Err(Scan::Over(Limit::Columns, 16384))
        ));
        assert!(matches!(
            check_dimension("A1:A1048576"),
            Err(Scan::Over(Limit::Rows, 1_048_576))
        ));
    }

    #[test]
    fn deep_xml_is_refused_and_shallow_xml_passes() {
        let deep = format!(
            "{}{}",
            "<a>".repeat(MAX_XML_DEPTH + 1),
            "</a>".repeat(MAX_XML_DEPTH + 1)
        );
        assert!(matches!(
            scan_xml(&mut deep.as_bytes(), Part::OtherXml),
            Err(Scan::Over(Limit::Depth, _))
        ));
        let ok = format!(
            "{}{}",
            "<a>".repeat(MAX_XML_DEPTH),
            "</a>".repeat(MAX_XML_DEPTH)
        );
        assert!(scan_xml(&mut ok.as_bytes(), Part::OtherXml).is_ok());
    }

    #[test]
    fn shared_strings_are_bounded_by_claim_and_by_count() {
        let claim =
            r#"<sst xmlns="x" count="1000000000000" uniqueCount="1"><si><t>a</t></si></sst>"#;
        assert!(matches!(
            scan_xml(&mut claim.as_bytes(), Part::SharedStrings),
            Err(Scan::Over(Limit::Strings, 1_000_000_000_000))
        ));
        let many = format!(
            "<sst>{}</sst>",
            "<si><t/></si>".repeat(MAX_STRINGS as usize + 1)
        );
        assert!(matches!(
            scan_xml(&mut many.as_bytes(), Part::SharedStrings),
            Err(Scan::Over(Limit::Strings, _))
        ));
    }
}
