//! CSV as Excel writes it in Sweden: `;` (or `,`) separated, RFC 4180
//! quoting, UTF-8 (with or without BOM) or Windows-1252.

use super::{Limit, Row, SheetError, MAX_COLUMNS, MAX_ROWS};

pub fn read(bytes: &[u8]) -> Result<Vec<Row>, SheetError> {
    let text = decode(bytes);
    let sep = separator(&text);
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(sep)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut record = ::csv::StringRecord::new();
    // Line numbers as a text editor shows them; a quoted field may span lines.
    let (mut counted_to, mut line) = (0usize, 1u64);
    loop {
        let start = reader.position().byte() as usize;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                return Err(SheetError::unreadable(
                    format!("the CSV cannot be read: {e}"),
                    "CSV-filen kan inte läsas (kontrollera citattecknen)",
                ))
            }
        }
        let begins = start
            + text.as_bytes()[start..]
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count();
        line += text.as_bytes()[counted_to..begins]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
        counted_to = begins;
        if line > u64::from(MAX_ROWS) {
            return Err(SheetError::over(Limit::Rows, line));
        }
        if record.len() > MAX_COLUMNS as usize {
            return Err(SheetError::over(Limit::Columns, record.len() as u64));
        }
        rows.push((
            line as usize,
            record.iter().map(|c| c.trim().to_string()).collect(),
        ));
    }
    Ok(rows)
}

/// UTF-8 when it is valid UTF-8, else Windows-1252 (Excel's "CSV" in Sweden),
/// which differs from Latin-1 in 0x80–0x9F: € – — “ ” ‰ and others.
fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(t) => t.trim_start_matches('\u{feff}').to_string(),
        Err(_) => encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(bytes)
            .0
            .into_owned(),
    }
}

/// `;` unless the first line with either has more commas than semicolons.
fn separator(text: &str) -> u8 {
    let first = text
        .lines()
        .find(|l| l.contains([';', ',']))
        .unwrap_or_default();
    if first.matches(',').count() > first.matches(';').count() {
        b','
    } else {
        b';'
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_keep_separators_quotes_and_line_breaks() {
        let rows = read(b"a;\"b;c\";\"d \"\"e\"\"\"\r\n\"two\nlines\";x\r\nlast;y").unwrap();
        assert_eq!(
            rows[0],
            (1, vec!["a".into(), "b;c".into(), "d \"e\"".into()])
        );
        assert_eq!(rows[1], (2, vec!["two\nlines".into(), "x".into()]));
        assert_eq!(
            rows[2].0, 4,
            "the row after a two-line field starts on line 4"
        );
    }

    #[test]
    fn commas_are_the_separator_when_the_header_has_more_of_them() {
        let rows = read(b" K-1 , 2 \n").unwrap();
        assert_eq!(rows[0].1, ["K-1", "2"]);
    }

    #[test]
    fn windows_1252_is_not_latin_1() {
        // 0x96 is an en dash in Windows-1252 (a C1 control in Latin-1); 0xE5 is å.
        let rows = read(b"Sk\xe5p;B\x96101;\x80\r\n").unwrap();
        assert_eq!(rows[0].1, ["Skåp", "B–101", "€"]);
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_header() {
        let rows = read("\u{feff}Nyckelnr;Kundnr\n".as_bytes()).unwrap();
        assert_eq!(rows[0].1[0], "Nyckelnr");
    }

    #[test]
    fn too_many_rows_or_columns_are_refused() {
        let long = "x\n".repeat(MAX_ROWS as usize + 1);
        assert_eq!(
            read(long.as_bytes()),
            Err(SheetError::over(Limit::Rows, u64::from(MAX_ROWS) + 1))
        );
        let wide = ";".repeat(MAX_COLUMNS as usize);
        assert_eq!(
            read(wide.as_bytes()),
            Err(SheetError::over(Limit::Columns, u64::from(MAX_COLUMNS) + 1))
        );
    }
}
