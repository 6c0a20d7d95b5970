//! Hostile workbooks at the key-register import: each is refused with 422
//! naming the limit it breaks, within 2 s, with nothing stored and the
//! server still answering; and the server process stays small meanwhile.

use crate::cli::serve_demo;
use crate::helpers::{sheet_xml, xlsx_rows, xlsx_with, Backend, TestApp, TestDatabase};
use crate::on_both_backends;
use larmkoll::sheet;
use std::time::{Duration, Instant};

on_both_backends!(hostile_workbooks_are_refused_quickly_naming_the_limit);

const SHEET: &str = "xl/worksheets/sheet1.xml";
const NS: &str = r#"xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main""#;

fn header_cell() -> &'static str {
    r#"<c r="A1" t="inlineStr"><is><t>Nyckelnr</t></is></c>"#
}

/// Sets the uncompressed size a zip's local and central headers claim for
/// `name`, leaving the data as it is: a bomb that says it is small.
fn claim_size(mut zip: Vec<u8>, name: &str, claimed: u32) -> Vec<u8> {
    let mut patched = 0;
    for at in 0..zip.len().saturating_sub(46) {
        let (size_at, name_len_at, name_at) = match &zip[at..at + 4] {
            b"PK\x03\x04" => (at + 22, at + 26, at + 30),
            b"PK\x01\x02" => (at + 24, at + 28, at + 46),
            _ => continue,
        };
        let len = u16::from_le_bytes([zip[name_len_at], zip[name_len_at + 1]]) as usize;
        if zip.get(name_at..name_at + len) == Some(name.as_bytes()) {
            zip[size_at..size_at + 4].copy_from_slice(&claimed.to_le_bytes());
            patched += 1;
        }
    }
    assert_eq!(patched, 2, "local and central header of {name}");
    zip
}

/// Text that deflates about 20:1 — under the ratio bound — made without a
/// random number crate: 64-byte rows picked by a linear congruential sequence.
fn modest_text(bytes: usize) -> Vec<u8> {
    let rows: Vec<String> = (0..64)
        .map(|i| format!("<row r=\"{i}\"><c><v>{:0>40}</v></c></row>", i * 7919))
        .collect();
    let mut out = Vec::with_capacity(bytes + 128);
    let mut x: u64 = 12345;
    while out.len() < bytes {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        out.extend_from_slice(rows[(x >> 58) as usize].as_bytes());
        out.extend_from_slice(format!("{}", x >> 60).as_bytes());
    }
    out
}

/// The corpus: (what it is, the file, the limit it must be refused for).
/// A sheet of `n` bytes, nearly all spaces: deflates about 1000:1.
fn spaces(n: usize) -> Vec<u8> {
    let mut v = format!("<worksheet {NS}><sheetData>").into_bytes();
    v.resize(n, b' ');
    v.extend_from_slice(b"</sheetData></worksheet>");
    v
}

fn corpus() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let deep = format!(
        "<worksheet {NS}><sheetData>{}{}</sheetData></worksheet>",
        "<x>".repeat(100_000),
        "</x>".repeat(100_000)
    );
    let many_strings = format!(
        "<sst {NS}>{}</sst>",
        "<si><t>s</t></si>".repeat(sheet::MAX_STRINGS as usize + 1)
    );
    let many_parts: Vec<(String, Vec<u8>)> = (0..sheet::MAX_ENTRIES)
        .map(|i| (format!("xl/media/pad{i}.bin"), vec![b'x'; 10]))
        .collect();
    let many_parts: Vec<(&str, Vec<u8>)> = many_parts
        .iter()
        .map(|(n, c)| (n.as_str(), c.clone()))
        .collect();
    let big_modest = modest_text(12 << 20);
    vec![
        (
            "dimension A1:XFD1048576 with a value in XFD1048576",
            xlsx_with(&[(
                SHEET,
                format!(r#"<worksheet {NS}><dimension ref="A1:XFD1048576"/><sheetData><row r="1">{}</row><row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData></worksheet>"#, header_cell()).into_bytes(),
            )]),
            "columns",
        ),
        (
            "no dimension, a value in XFD1048576",
            xlsx_with(&[(
                SHEET,
                format!(r#"<worksheet {NS}><sheetData><row r="1">{}</row><row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData></worksheet>"#, header_cell()).into_bytes(),
            )]),
            "rows",
        ),
        (
            "no dimension, a value in XFD1",
            xlsx_with(&[(
                SHEET,
                format!(r#"<worksheet {NS}><sheetData><row r="1">{}<c r="XFD1"><v>1</v></c></row></sheetData></worksheet>"#, header_cell()).into_bytes(),
            )]),
            "columns",
        ),
        (
            "sharedStrings claiming a trillion entries",
            xlsx_with(&[
                (SHEET, sheet_xml(&[vec!["Nyckelnr"]]).into_bytes()),
                (
                    "xl/sharedStrings.xml",
                    format!(r#"<sst {NS} count="1000000000000" uniqueCount="1000000000000"><si><t>a</t></si></sst>"#).into_bytes(),
                ),
            ]),
            "shared_strings",
        ),
        (
            "sharedStrings with one string more than allowed, no count",
            xlsx_with(&[
                (SHEET, sheet_xml(&[vec!["Nyckelnr"]]).into_bytes()),
                ("xl/sharedStrings.xml", many_strings.into_bytes()),
            ]),
            "shared_strings",
        ),
        (
            "shared formula index 4000000000",
            xlsx_with(&[(
                SHEET,
                format!(r#"<worksheet {NS}><sheetData><row r="1"><c r="A1"><f t="shared" si="4000000000" ref="A1:A2">1</f><v>1</v></c></row></sheetData></worksheet>"#).into_bytes(),
            )]),
            "shared_formulas",
        ),
        (
            "zip bomb: a 64 MiB sheet of spaces",
            xlsx_with(&[(SHEET, spaces(64 << 20))]),
            "entry_bytes",
        ),
        (
            "an 8 MiB sheet of spaces: under the part limit, 1000 times its packed size",
            xlsx_with(&[(SHEET, spaces(8 << 20))]),
            "compression_ratio",
        ),
        (
            "three 12 MiB parts that each deflate only 20:1",
            xlsx_with(&[
                (SHEET, sheet_xml(&[vec!["Nyckelnr"]]).into_bytes()),
                ("xl/media/a.bin", big_modest.clone()),
                ("xl/media/b.bin", big_modest.clone()),
                ("xl/media/c.bin", big_modest),
            ]),
            "unzipped_bytes",
        ),
        (
            "one more part than allowed",
            xlsx_with(&many_parts),
            "zip_entries",
        ),
        (
            "XML nested 100000 deep",
            xlsx_with(&[(SHEET, deep.into_bytes())]),
            "xml_depth",
        ),
    ]
}

async fn hostile_workbooks_are_refused_quickly_naming_the_limit(app: TestApp) {
    let coordinator = app.login("koordinator").await;
    // The zip reader itself stops at the size a header claims: a lying bomb is a broken file.
    let liar = claim_size(xlsx_with(&[(SHEET, spaces(64 << 20))]), SHEET, 1000);
    let started = Instant::now();
    let res = app.import_sheet(&coordinator, "dry_run=true", &liar).await;
    assert_eq!(
        (res.status, res.problem_code().as_str()),
        (422, "unreadable_sheet"),
        "{}",
        res.body
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    let detail_sv = res.body["detail_sv"].as_str().unwrap();
    assert!(
        detail_sv.contains("Spara registret som .xlsx") && !detail_sv.contains("declared"),
        "Swedish, without the zip reader's English: {detail_sv}"
    );
    let ok = app
        .import_sheet(
            &coordinator,
            "dry_run=true",
            &xlsx_rows(&[vec!["Nyckelnr"]]),
        )
        .await;
    assert_eq!(ok.status, 200, "a harmless workbook is read: {}", ok.body);
    for (what, file, limit) in corpus() {
        assert!(
            file.len() <= sheet::MAX_BODY_BYTES,
            "{what}: {} bytes",
            file.len()
        );
        for dry_run in [true, false] {
            let started = Instant::now();
            let res = app
                .import_sheet(&coordinator, &format!("dry_run={dry_run}"), &file)
                .await;
            let took = started.elapsed();
            assert_eq!(
                (res.status, res.problem_code().as_str()),
                (422, "sheet_too_large"),
                "{what}: {}",
                res.body
            );
            assert_eq!(
                res.body["errors"][0]["field"], limit,
                "{what}: {}",
                res.body
            );
            let detail = res.body["detail"].as_str().unwrap();
            let detail_sv = res.body["detail_sv"].as_str().unwrap();
            assert!(
                detail.contains("Nothing was read or stored") && detail.contains("split"),
                "{what}: {detail}"
            );
            assert!(
                detail_sv.contains("Inget lästes in eller sparades")
                    && detail_sv.contains("dela upp"),
                "{what}: {detail_sv}"
            );
            assert!(took < Duration::from_secs(2), "{what} took {took:?}");
            if dry_run {
                eprintln!("{:?}: {what}: refused in {took:?}", app.backend);
            }
            let health = app.send("GET", "/healthz", None, &[], None).await;
            assert_eq!(health.status, 200, "after {what}");
        }
    }
    assert_eq!(app.key_count().await, 0, "nothing stored");
}

fn vm_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}

/// The memory a hostile workbook may make the server take, above what it had.
const MEMORY_BUDGET_KIB: u64 = 64 * 1024;

/// The real server process, not this test binary, whose other tests allocate
/// meanwhile: its peak resident memory (VmHWM, reset before the corpus).
fn hostile_workbooks_leave_the_server_small(backend: Backend) {
    let Some(database) = TestDatabase::migrated(backend) else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let port = crate::helpers::free_port();
    let (server, _) = serve_demo(Some(&database.url), data.path(), port);
    let pid = server.0.id();
    let corpus = corpus();
    actix_web::rt::System::new().block_on(async move {
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(30))
            .finish();
        let base = format!("http://127.0.0.1:{port}");
        let mut login = client
            .post(format!("{base}/api/v1/auth/login"))
            .send_json(&serde_json::json!({"username": "koordinator", "password": "demo"}))
            .await
            .unwrap();
        let token: serde_json::Value = login.json().await.unwrap();
        let token = token["access_token"].as_str().unwrap().to_string();
        let import = |body: Vec<u8>| {
            let (client, base, token) = (client.clone(), base.clone(), token.clone());
            async move {
                let res = client
                    .post(format!("{base}/api/v1/import/key-register?dry_run=true"))
                    .insert_header(("Authorization", format!("Bearer {token}")))
                    .insert_header(("Content-Type", "application/octet-stream"))
                    .send_body(body)
                    .await
                    .unwrap();
                res.status().as_u16()
            }
        };
        // Warm up: the first import loads what every import needs.
        assert_eq!(import(xlsx_rows(&[vec!["Nyckelnr"]])).await, 200);
        std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("reset VmHWM");
        let before = vm_kib(pid, "VmHWM:");
        for (what, file, _) in corpus {
            assert_eq!(import(file).await, 422, "{what}");
        }
        let peak = vm_kib(pid, "VmHWM:");
        eprintln!(
            "hostile corpus on {backend:?}: VmHWM {before} kB before, {peak} kB peak, +{} kB",
            peak.saturating_sub(before)
        );
        assert!(
            peak.saturating_sub(before) < MEMORY_BUDGET_KIB,
            "the server grew from {before} kB to {peak} kB"
        );
        // The largest register a dry run takes, for comparison.
        let rows: Vec<Vec<String>> = (0..sheet::MAX_ROWS)
            .map(|i| match i {
                0 => ["Nyckelnr", "Kundnr", "Antal", "Skåp", "Krok"]
                    .map(String::from)
                    .to_vec(),
                i => vec![
                    format!("M-{i}"),
                    format!("K-1000{:02}", i % 10 + 1),
                    "1".into(),
                    "Skåp 1".into(),
                    format!("{}", i % 100),
                ],
            })
            .collect();
        let rows: Vec<Vec<&str>> = rows
            .iter()
            .map(|r| r.iter().map(String::as_str).collect())
            .collect();
        std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("reset VmHWM");
        let before = vm_kib(pid, "VmHWM:");
        assert_eq!(import(xlsx_rows(&rows)).await, 200);
        let peak = vm_kib(pid, "VmHWM:");
        eprintln!(
            "a {}-row register on {backend:?}: VmHWM {before} kB before, {peak} kB peak, +{} kB",
            rows.len(),
            peak.saturating_sub(before)
        );
        assert!(peak.saturating_sub(before) < MEMORY_BUDGET_KIB);
        let health = client.get(format!("{base}/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200);
    });
    drop(server);
}

#[test]
fn hostile_workbooks_leave_the_server_small_on_sqlite() {
    hostile_workbooks_leave_the_server_small(Backend::Sqlite);
}

#[test]
fn hostile_workbooks_leave_the_server_small_on_postgres() {
    hostile_workbooks_leave_the_server_small(Backend::Postgres);
}
