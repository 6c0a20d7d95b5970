//! CSV for spreadsheets: RFC 4180 through the `csv` crate, semicolon-separated
//! with CRLF and a BOM (what Excel in Sweden opens), and every cell that a
//! spreadsheet would run as a formula neutralised (OWASP's CSV injection advice).

use crate::error::AppError;
use actix_web::http::header;
use actix_web::HttpResponse;
use std::borrow::Cow;

/// A cell starting with one of these is a formula (or becomes one) in Excel,
/// LibreOffice and Google Sheets.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Prefixes a would-be formula with `'`, so the spreadsheet shows it as text.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// The bytes of a CSV file: header, then rows, each cell neutralised and quoted where needed.
pub fn csv_bytes<R, C>(header: &[&str], rows: R) -> Result<Vec<u8>, AppError>
where
    R: IntoIterator<Item = Vec<C>>,
    C: AsRef<str>,
{
    // BOM: Excel then reads UTF-8, so å, ä, ö stay intact.
    let mut out = "\u{feff}".as_bytes().to_vec();
    {
        let mut w = csv::WriterBuilder::new()
            .delimiter(b';')
            .terminator(csv::Terminator::CRLF)
            .quote_style(csv::QuoteStyle::Necessary)
            .from_writer(&mut out);
        w.write_record(header).map_err(AppError::internal)?;
        for row in rows {
            w.write_record(row.iter().map(|c| neutralise(c.as_ref()).into_owned()))
                .map_err(AppError::internal)?;
        }
        w.flush().map_err(AppError::internal)?;
    }
    Ok(out)
}

/// A CSV download: never cached, offered as a file named `filename`.
pub fn csv_response<R, C>(
    filename: &str,
    header: &[&str],
    rows: R,
) -> Result<HttpResponse, AppError>
where
    R: IntoIterator<Item = Vec<C>>,
    C: AsRef<str>,
{
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(csv_bytes(header, rows)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_back(bytes: &[u8]) -> Vec<Vec<String>> {
        let text = std::str::from_utf8(bytes)
            .unwrap()
            .trim_start_matches('\u{feff}');
        csv::ReaderBuilder::new()
            .delimiter(b';')
            .has_headers(false)
            .from_reader(text.as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect()
    }

    #[test]
    fn formulas_are_shown_as_text() {
        for start in FORMULA_STARTS {
            let cell = format!("{start}HYPERLINK(\"http://x\")");
            assert_eq!(neutralise(&cell), format!("'{cell}"));
        }
        assert_eq!(neutralise("Skåp 1"), "Skåp 1");
        assert_eq!(neutralise(""), "");
    }

    #[test]
    fn separators_quotes_and_line_breaks_stay_inside_their_cell() {
        let evil = "A;B\r\n\"XN-9999\";fake";
        let bytes = csv_bytes(&["nyckel", "skåp"], [vec!["XN-1", evil]]).unwrap();
        let rows = read_back(&bytes);
        assert_eq!(rows, vec![vec!["nyckel", "skåp"], vec!["XN-1", evil]]);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with('\u{feff}'));
        assert!(text.ends_with("\r\n"));
    }

    #[test]
    fn a_formula_with_a_separator_is_quoted_and_neutralised() {
        let bytes = csv_bytes(&["skåp"], [vec!["=HYPERLINK(\"http://x\";\"klicka\")"]]).unwrap();
        let rows = read_back(&bytes);
        assert_eq!(rows[1], vec!["'=HYPERLINK(\"http://x\";\"klicka\")"]);
    }
}
