//! Importing the alarm team's Excel sheet: a row-by-row report, and nothing partial.

use crate::helpers::{xlsx_rows, Backend, Response, TestApp};
use crate::on_both_backends;
use crate::steps::{CustomerId, Order};
use chrono::{Duration, Utc};
use larmkoll::api::import;
use serde_json::{json, Value};
use std::time::Instant;

on_both_backends!(
    a_sheet_with_mistakes_is_reported_row_by_row_and_imports_nothing_partial,
    a_key_is_checked_alike_on_every_path,
    key_numbers_differing_in_case_spaces_or_dashes_are_one_key,
    a_dry_run_holds_no_one_up_and_a_large_apply_is_refused,
    the_alarm_teams_own_sheet_is_reported_row_by_row,
    row_problems_are_in_swedish_too_and_an_idempotent_import_takes_its_own_limit,
);

const SHEET: &[u8] = include_bytes!("../fixtures/nyckelregister.xlsx");

async fn a_sheet_with_mistakes_is_reported_row_by_row_and_imports_nothing_partial(app: TestApp) {
    let coordinator = app.login("koordinator").await;
    let installer = app.as_installer().await;
    // TX-1035 is already installed at K-100011.
    let k11 = customer_id(&app, "K-100011").await;
    let booked = booked_order(&app, &k11).await;
    let day = (Utc::now().date_naive() - Duration::days(2)).to_string();
    installer.install(&booked, day, &["TX-1035"]).await;

    let dry = app.import_sheet(&coordinator, "dry_run=true", SHEET).await;
    assert_eq!(dry.status, 200, "{}", dry.body);
    let rows: Vec<Value> = dry.body["rows"].as_array().unwrap().clone();
    let outcome = |row: u64| {
        rows.iter()
            .find(|r| r["row"] == row)
            .unwrap_or_else(|| panic!("row {row} missing"))
            .clone()
    };
    let problems = |row: u64| {
        outcome(row)["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["detail"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
            .join(" | ")
    };
    for row in [4, 5, 15] {
        assert_eq!(
            outcome(row)["outcome"],
            "create",
            "row {row}: {}",
            problems(row)
        );
    }
    for row in [7, 12] {
        assert_eq!(outcome(row)["outcome"], "skip");
    }
    let expected_errors: [(u64, &str); 7] = [
        (6, "key number B-101 is also on row 4"),
        (8, "no customer K-999999"),
        (
            9,
            "serial TX-1035 is already installed at customer K-100011",
        ),
        (10, "antal 'två': the number of keys must be a whole number"),
        (11, "closest known: PH-3009"),
        (13, "another municipality"),
        (14, "the cabinet is missing"),
    ];
    for (row, why) in expected_errors {
        assert_eq!(outcome(row)["outcome"], "error", "row {row}");
        let text = problems(row);
        assert!(text.contains(why), "row {row}: {text}");
    }
    assert_eq!(
        (
            dry.body["keys_to_create"].as_u64(),
            dry.body["errors"].as_u64()
        ),
        (Some(3), Some(7))
    );
    assert_eq!(dry.body["applied"], false);

    // Applying a sheet with mistakes writes nothing at all.
    let apply = app.import_sheet(&coordinator, "dry_run=false", SHEET).await;
    assert_eq!(
        (apply.status, apply.problem_code().as_str()),
        (422, "import_has_errors")
    );
    assert_eq!(apply.body["errors"].as_array().unwrap().len(), 7);
    assert_eq!(apply.body["errors"][0]["field"], "row 6");
    assert_eq!(app.get("/api/v1/keys", &coordinator).await.body, json!([]));
    assert_eq!(
        installer
            .get("/api/v1/equipment/items?serial=PH-3010")
            .await
            .body[0]["state"],
        "in_stock"
    );

    // The corrected sheet, as a Windows-1252 CSV from Excel, goes in whole.
    let mut csv: Vec<u8> =
        b"Nyckelnummer;Kundnummer;Antal;Sk\xe5p;Krok;Natsk\xe5p;Serienummer\r\n".to_vec();
    csv.extend_from_slice(b"B-101;K-100001;2;Sk\xe5p \xd6;1;;\r\nB-102;K-100002;1;Sk\xe5p \xd6;2;ja;PH-3010\r\n;;;;;;\r\nB-110;K-100010;3;Natt;10;x;\r\n");
    let ok = app.import_sheet(&coordinator, "dry_run=false", &csv).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(
        (
            ok.body["applied"].as_bool(),
            ok.body["keys_to_create"].as_u64(),
            ok.body["items_to_place"].as_u64()
        ),
        (Some(true), Some(3), Some(1))
    );
    let keys = app.get("/api/v1/keys", &coordinator).await;
    let listed: Vec<(&str, &str)> = keys
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["key_number"].as_str().unwrap(),
                k["cabinet"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [("B-101", "Skåp Ö"), ("B-102", "Skåp Ö"), ("B-110", "Natt")]
    );
    let ph = installer
        .get("/api/v1/equipment/items?serial=PH-3010")
        .await;
    assert_eq!(ph.body[0]["customer_number"], "K-100002");
    // Importing the same sheet again finds every key already registered.
    let again = app.import_sheet(&coordinator, "dry_run=true", &csv).await;
    assert_eq!(again.body["errors"], 3);

    let denied = app
        .import_sheet(&installer.token, "dry_run=true", SHEET)
        .await;
    assert_eq!(denied.status, 403);
    let garbage = app
        .import_sheet(&coordinator, "dry_run=true", b"PK\x03\x04 not really a zip")
        .await;
    assert_eq!(
        (garbage.status, garbage.problem_code().as_str()),
        (422, "unreadable_sheet")
    );
}

/// The id of a demo customer, by customer number.
async fn customer_id(app: &TestApp, number: &str) -> String {
    let assessor = app.as_assessor().await;
    assessor.customer_numbered(number).await.id.0
}

/// A safety-alarm order of this customer, booked: ready to receive keys.
async fn booked_order(app: &TestApp, customer: &str) -> Order {
    let day = (Utc::now().date_naive() - Duration::days(2)).to_string();
    let granted = app
        .as_assessor()
        .await
        .grant(
            &CustomerId(customer.to_string()),
            json!({"service": "safety_alarm", "valid_from": day}),
        )
        .await;
    app.as_installer().await.book(&granted.order, day).await
}

/// receive-keys as sent, whatever the answer.
async fn receive_keys(app: &TestApp, order: &Order, body: Value) -> Response {
    let installer = app.as_installer().await;
    installer.try_step(order, "receive-keys", body).await
}

fn field_codes(res: &Response) -> Vec<(String, String)> {
    res.body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors: {}", res.body))
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_string(),
                e["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn row_codes(report: &Value, row: u64) -> Vec<String> {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["row"] == row)
        .unwrap_or_else(|| panic!("row {row} missing: {report}"))["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap().to_string())
        .collect()
}

fn row_problem(report: &Value, row: u64, code: &str) -> Value {
    report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["row"] == row)
        .and_then(|r| {
            r["problems"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["code"] == code)
                .cloned()
        })
        .unwrap_or_else(|| panic!("row {row} has no {code}: {report}"))
}

async fn a_key_is_checked_alike_on_every_path(app: TestApp) {
    let coordinator = app.login("koordinator").await;
    let customer = customer_id(&app, "K-100001").await;
    let long_number = "7".repeat(5000);
    let long_cabinet = "S".repeat(4000);
    // POST /keys: U+0000, 5000 characters, 4000 characters, a line break.
    let cases = [
        ("B\u{0}-1", "Skåp 1", "1", "key_number", "invalid_character"),
        (
            long_number.as_str(),
            "Skåp 1",
            "1",
            "key_number",
            "too_long",
        ),
        ("B-2", long_cabinet.as_str(), "1", "cabinet", "too_long"),
        ("B-3", "Skåp 1", "1\n2", "hook", "invalid_character"),
        ("B-4\nB-5", "Skåp 1", "1", "key_number", "invalid_character"),
    ];
    for (number, cabinet, hook, field, code) in cases {
        let res = app
            .post(
                "/api/v1/keys",
                Some(&coordinator),
                json!({"key_number": number, "customer_id": customer, "count": 1, "cabinet": cabinet, "hook": hook}),
            )
            .await;
        assert_eq!(
            (res.status, res.problem_code().as_str()),
            (422, "validation_failed"),
            "{field}: {}",
            res.body
        );
        assert_eq!(field_codes(&res), [(field.to_string(), code.to_string())]);
        let detail = res.body["errors"][0]["detail"].as_str().unwrap();
        assert!(
            detail.contains("remove it") || detail.contains("shorten it"),
            "{detail}"
        );
    }

    // receive-keys: the same checks, per key number.
    let order = booked_order(&app, &customer).await;
    let res = receive_keys(
        &app,
        &order,
        json!({"key_numbers": ["B-6", "B\u{0}7", long_number], "count": 1, "cabinet": long_cabinet, "hook": "1\r\n"}),
    )
    .await;
    assert_eq!(
        (res.status, res.problem_code().as_str()),
        (422, "validation_failed"),
        "{}",
        res.body
    );
    assert_eq!(
        field_codes(&res),
        [
            (
                "key_numbers[1]".to_string(),
                "invalid_character".to_string()
            ),
            ("key_numbers[2]".to_string(), "too_long".to_string()),
            ("cabinet".to_string(), "too_long".to_string()),
        ]
    );

    // The import: the same checks, as row problems, and nothing written.
    let csv = format!(
        "Nyckelnummer;Kundnummer;Skåp;Krok\nB-8\u{0};K-100001;Skåp 1;1\n{long_number};K-100001;Skåp 1;2\nB-9;K-100001;{long_cabinet};3\n\"B-10\";K-100001;Skåp 1;\"4\n5\"\n"
    );
    let dry = app
        .import_sheet(&coordinator, "dry_run=true", csv.as_bytes())
        .await;
    assert_eq!(dry.status, 200, "{}", dry.body);
    assert_eq!(row_codes(&dry.body, 2), ["invalid_character"]);
    assert_eq!(row_codes(&dry.body, 3), ["too_long"]);
    assert_eq!(row_codes(&dry.body, 4), ["too_long"]);
    assert_eq!(row_codes(&dry.body, 5), ["invalid_character"]);
    let p = row_problem(&dry.body, 2, "invalid_character");
    assert_eq!(p["field"], "key_number");
    assert!(p["detail"].as_str().unwrap().contains("remove it"), "{p}");
    assert!(p["detail_sv"].as_str().unwrap().contains("ta bort"), "{p}");
    assert_eq!(row_problem(&dry.body, 4, "too_long")["field"], "cabinet");
    assert_eq!(
        row_problem(&dry.body, 5, "invalid_character")["field"],
        "hook"
    );
    let apply = app
        .import_sheet(&coordinator, "dry_run=false", csv.as_bytes())
        .await;
    apply.assert_problem(
        422,
        "import_has_errors",
        "nothing was imported",
        "rätta dem",
    );
    assert_eq!(app.key_count().await, 0, "nothing stored on any path");
}

async fn key_numbers_differing_in_case_spaces_or_dashes_are_one_key(app: TestApp) {
    let coordinator = app.login("koordinator").await;
    let k1 = customer_id(&app, "K-100001").await;
    let k2 = customer_id(&app, "K-100002").await;
    let created = app
        .post(
            "/api/v1/keys",
            Some(&coordinator),
            json!({"key_number": " xn-1001 ", "customer_id": k1, "count": 1, "cabinet": "Skåp  1", "hook": "1"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["key"]["key_number"], "XN-1001");
    assert_eq!(created.body["key"]["cabinet"], "Skåp 1");
    for same in ["XN-1001", "XN 1001", "xn – 1001", "Xn--1001"] {
        let again = app
            .post(
                "/api/v1/keys",
                Some(&coordinator),
                json!({"key_number": same, "customer_id": k2, "count": 1, "cabinet": "Skåp 1", "hook": "2"}),
            )
            .await;
        again.assert_problem(
            409,
            "key_number_taken",
            "without regard to case, spaces or dashes",
            "oavsett stora och små bokstäver",
        );
    }

    let order = booked_order(&app, &k2).await;
    let twice = receive_keys(
        &app,
        &order,
        json!({"key_numbers": ["c-1", "C 1"], "count": 1, "cabinet": "Skåp 2", "hook": "1"}),
    )
    .await;
    assert_eq!(
        field_codes(&twice),
        [("key_numbers[1]".to_string(), "duplicate".to_string())]
    );
    let taken = receive_keys(
        &app,
        &order,
        json!({"key_numbers": ["xn 1001"], "count": 1, "cabinet": "Skåp 2", "hook": "1"}),
    )
    .await;
    assert_eq!(
        (taken.status, taken.problem_code().as_str()),
        (409, "key_number_taken")
    );

    let csv = "Nyckelnr;Kundnr;Skåp;Krok\nXn – 1001;K-100002;Skåp 1;3\nb-7;K-100002;Skåp 1;4\nB 7;K-100003;Skåp 1;5\n";
    let dry = app
        .import_sheet(&coordinator, "dry_run=true", csv.as_bytes())
        .await;
    assert_eq!(dry.status, 200, "{}", dry.body);
    assert_eq!(row_codes(&dry.body, 2), ["key_number_taken"]);
    assert_eq!(row_codes(&dry.body, 3), Vec::<String>::new());
    assert_eq!(row_codes(&dry.body, 4), ["duplicate_in_sheet"]);
    assert!(row_problem(&dry.body, 4, "duplicate_in_sheet")["detail_sv"]
        .as_str()
        .unwrap()
        .contains("rad 3"));
    assert_eq!(dry.body["rows"][1]["key_number"], "B-7");
    assert_eq!(app.key_count().await, 1);

    // The migration brings stored numbers to the canonical form, unless two collide.
    let raw = |number: &str| larmkoll::db::custody::KeyRow {
        id: uuid::Uuid::new_v4().to_string(),
        key_number: number.to_string(),
        customer_id: k1.clone(),
        key_count: 1,
        cabinet: "Skåp 9".into(),
        hook: "9".into(),
        night_cabinet: false,
        custody: larmkoll::domain::custody::KeyCustody::InCabinet,
        holder_group_id: None,
        holder_user_id: None,
        since: larmkoll::db::now(),
        version: 1,
        created_at: larmkoll::db::now(),
        updated_at: larmkoll::db::now(),
    };
    let legacy = [" yy – 5 ", "zz-1", "ZZ-1", "åb 2"].map(raw);
    let backend = app.backend;
    let listed = app
        .db
        .run(move |conn| {
            use diesel::connection::SimpleConnection;
            use diesel::prelude::*;
            use larmkoll::db::schema::keys;
            for k in &legacy {
                larmkoll::db::custody::insert_key(conn, k)?;
            }
            let sql = match backend {
                Backend::Sqlite => include_str!(
                    "../../migrations/sqlite/2026-12-03-000008_key_number_canonical/up.sql"
                ),
                Backend::Postgres => include_str!(
                    "../../migrations/postgres/2026-12-03-000008_key_number_canonical/up.sql"
                ),
            };
            conn.batch_execute(sql)?;
            let mut numbers: Vec<String> = keys::table.select(keys::key_number).load(conn)?;
            numbers.sort();
            Ok(numbers)
        })
        .await
        .unwrap();
    assert_eq!(listed, ["XN-1001", "YY-5", "ZZ-1", "zz-1", "ÅB-2"]);
}

/// A CSV register of `rows` keys for the demo customers K-100001…K-100010.
fn register_csv(rows: usize, prefix: &str) -> String {
    let mut csv = String::from("Nyckelnummer;Kundnummer;Antal;Skåp;Krok\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "{prefix}-{i};K-1000{:02};1;Skåp {};{}\n",
            i % 10 + 1,
            i / 100,
            i % 100
        ));
    }
    csv
}

async fn a_dry_run_holds_no_one_up_and_a_large_apply_is_refused(app: TestApp) {
    let coordinator = app.login("koordinator").await;
    let installer = app.login("installator").await;
    // The largest sheet a dry run takes, as .xlsx (the slower to read).
    let big: Vec<Vec<String>> = std::iter::once(
        ["Nyckelnummer", "Kundnummer", "Antal", "Skåp", "Krok"]
            .map(String::from)
            .to_vec(),
    )
    .chain((1..larmkoll::sheet::MAX_ROWS as usize).map(|i| {
        vec![
            format!("L-{i}"),
            format!("K-1000{:02}", i % 10 + 1),
            "1".into(),
            format!("Skåp {}", i / 100),
            format!("{}", i % 100),
        ]
    }))
    .collect();
    let big: Vec<Vec<&str>> = big
        .iter()
        .map(|r| r.iter().map(String::as_str).collect())
        .collect();
    let sheet = xlsx_rows(&big);
    let dry = async {
        let res = app.import_sheet(&coordinator, "dry_run=true", &sheet).await;
        (res, Instant::now())
    };
    // An installer's customer list (it writes audit entries, so on SQLite it
    // needs the writer) and a new key, sent while the dry run is under way.
    let others = async {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
        let list = app.get("/api/v1/customers?limit=50", &installer).await;
        let key = app
            .post(
                "/api/v1/keys",
                Some(&coordinator),
                json!({"key_number": "W-1", "customer_id": customer_id(&app, "K-100001").await, "count": 1, "cabinet": "Skåp 1", "hook": "1"}),
            )
            .await;
        (list, key, Instant::now())
    };
    let started = Instant::now();
    let ((dry, dry_done), (list, key, others_done)) = futures_util::join!(dry, others);
    assert_eq!(dry.status, 200, "{}", dry.body);
    assert_eq!(dry.body["rows"].as_array().unwrap().len(), big.len() - 1);
    assert_eq!(dry.body["keys_to_create"], big.len() - 1);
    assert_eq!((list.status, key.status), (200, 201), "{}", key.body);
    eprintln!(
        "dry run of {} rows on {:?}: {:?}; the others done after {:?}",
        big.len() - 1,
        app.backend,
        dry_done - started,
        others_done - started
    );
    assert!(
        others_done < dry_done,
        "the customer list and the new key waited for the dry run"
    );
    assert_eq!(app.key_count().await, 1, "the dry run wrote nothing");

    let too_many = register_csv(import::MAX_APPLY_ROWS + 1, "M");
    let res = app
        .import_sheet(&coordinator, "dry_run=false", too_many.as_bytes())
        .await;
    res.assert_problem(
        422,
        "import_too_large",
        "Split the register",
        "Dela upp registret",
    );
    assert_eq!(app.key_count().await, 1);
    // The most one apply takes goes in whole.
    let most = register_csv(import::MAX_APPLY_ROWS, "M");
    let started = Instant::now();
    let res = app
        .import_sheet(&coordinator, "dry_run=false", most.as_bytes())
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    eprintln!(
        "apply of {} rows on {:?}: {:?}",
        import::MAX_APPLY_ROWS,
        app.backend,
        started.elapsed()
    );
    assert_eq!(app.key_count().await, 1 + import::MAX_APPLY_ROWS as i64);
}

async fn the_alarm_teams_own_sheet_is_reported_row_by_row(app: TestApp) {
    let coordinator = app.login("koordinator").await;
    let theirs = xlsx_rows(&[
        vec!["Nyckelnr", "Brukarnr Phoniro", "Skåp/krok"],
        vec!["xn-2001", "PH-88123", "2/14"],
        vec!["XN-2002", "PH-88124", "Skåp 3 krok 7"],
        vec!["XN-2003", "", "fjorton"],
    ]);
    let dry = app
        .import_sheet(&coordinator, "dry_run=true", &theirs)
        .await;
    assert_eq!(dry.status, 200, "{}", dry.body);
    assert_eq!(dry.body["header_row"], 1);
    assert_eq!(
        dry.body["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["column"].as_str().unwrap(), c["field"].as_str().unwrap()))
            .collect::<Vec<_>>(),
        [
            ("A", "key_number"),
            ("B", "supplier_customer_number"),
            ("C", "cabinet_hook")
        ]
    );
    assert_eq!(dry.body["missing_columns"], json!([]));
    for row in [2, 3] {
        assert_eq!(row_codes(&dry.body, row), ["customer_unmatched"]);
        let p = row_problem(&dry.body, row, "customer_unmatched");
        assert!(
            p["detail"].as_str().unwrap().contains("add the Kundnummer"),
            "{p}"
        );
        assert!(
            p["detail_sv"]
                .as_str()
                .unwrap()
                .contains("fyll i Kundnummer"),
            "{p}"
        );
    }
    assert_eq!(
        row_codes(&dry.body, 4),
        ["cabinet_hook_unreadable", "required"]
    );
    assert!(
        row_problem(&dry.body, 4, "cabinet_hook_unreadable")["detail_sv"]
            .as_str()
            .unwrap()
            .contains("skriv det som 2/14")
    );
    let apply = app
        .import_sheet(&coordinator, "dry_run=false", &theirs)
        .await;
    assert_eq!(apply.status, 422);
    assert_eq!(app.key_count().await, 0);

    // With the customer numbers added, it goes in.
    let with_numbers = xlsx_rows(&[
        vec!["Nyckelnr", "Brukarnr Phoniro", "Kundnr", "Skåp/krok"],
        vec!["xn-2001", "PH-88123", "K-100001", "2/14"],
        vec!["XN-2002", "PH-88124", "k-100002", "Skåp 3 krok 7"],
    ]);
    let done = app
        .import_sheet(&coordinator, "dry_run=false", &with_numbers)
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    let keys = app.get("/api/v1/keys", &coordinator).await;
    let stored: Vec<(&str, &str, &str, &str)> = keys
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["key_number"].as_str().unwrap(),
                k["customer_number"].as_str().unwrap(),
                k["cabinet"].as_str().unwrap(),
                k["hook"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        stored,
        [
            ("XN-2001", "K-100001", "Skåp 2", "14"),
            ("XN-2002", "K-100002", "Skåp 3", "7")
        ]
    );

    // Headings nobody could guess: every row reported, then mapped by hand.
    let odd = "Nr;Vem;Var\nQ-1;K-100003;1/2\nQ-2;K-100004;1/3\n";
    let dry = app
        .import_sheet(&coordinator, "dry_run=true", odd.as_bytes())
        .await;
    assert_eq!(dry.status, 200, "{}", dry.body);
    assert_eq!(dry.body["header_row"], Value::Null);
    assert_eq!(dry.body["rows"].as_array().unwrap().len(), 3);
    for row in 1..=3 {
        assert_eq!(row_codes(&dry.body, row), ["columns_not_recognised"]);
    }
    assert!(
        row_problem(&dry.body, 1, "columns_not_recognised")["detail_sv"]
            .as_str()
            .unwrap()
            .contains("mapping=key_number:A")
    );
    let mapping = "mapping=key_number:A,customer_number:Vem,cabinet_hook:C&header_row=1";
    let dry = app
        .import_sheet(
            &coordinator,
            &format!("dry_run=true&{mapping}"),
            odd.as_bytes(),
        )
        .await;
    assert_eq!(dry.status, 200, "{}", dry.body);
    assert_eq!(
        (
            dry.body["keys_to_create"].as_u64(),
            dry.body["errors"].as_u64()
        ),
        (Some(2), Some(0))
    );
    let partly = app
        .import_sheet(
            &coordinator,
            "dry_run=true&mapping=key_number:A",
            odd.as_bytes(),
        )
        .await;
    assert_eq!(
        partly.body["missing_columns"],
        json!(["Kundnummer", "Skåp", "Krok"])
    );
    assert_eq!(row_codes(&partly.body, 2), ["column_missing"; 3]);
    let bad = app
        .import_sheet(
            &coordinator,
            "dry_run=true&mapping=colour:A",
            odd.as_bytes(),
        )
        .await;
    bad.assert_problem(422, "invalid_mapping", "field:column", "fält:kolumn");
    let applied = app
        .import_sheet(
            &coordinator,
            &format!("dry_run=false&{mapping}"),
            odd.as_bytes(),
        )
        .await;
    assert_eq!(applied.status, 200, "{}", applied.body);
    assert_eq!(app.key_count().await, 4);
}

async fn row_problems_are_in_swedish_too_and_an_idempotent_import_takes_its_own_limit(
    app: TestApp,
) {
    let coordinator = app.login("koordinator").await;
    let dry = app.import_sheet(&coordinator, "dry_run=true", SHEET).await;
    assert_eq!(dry.status, 200);
    let problems: Vec<Value> = dry.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["problems"].as_array().unwrap().clone())
        .collect();
    assert!(problems.len() >= 8, "{}", dry.body);
    for p in &problems {
        let (code, en, sv) = (
            p["code"].as_str().unwrap(),
            p["detail"].as_str().unwrap(),
            p["detail_sv"].as_str().unwrap(),
        );
        assert!(
            !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{p}"
        );
        assert!(!en.is_empty() && !sv.is_empty() && en != sv, "{p}");
        for english in [" is ", " the ", " already ", " missing", " not "] {
            assert!(!sv.contains(english), "English in detail_sv: {sv}");
        }
    }
    let garbage = app
        .import_sheet(&coordinator, "dry_run=true", b"PK\x03\x04 not really a zip")
        .await;
    assert_eq!(garbage.problem_code(), "unreadable_sheet");
    let (en, sv) = (
        garbage.body["detail"].as_str().unwrap(),
        garbage.body["detail_sv"].as_str().unwrap(),
    );
    let reason = en
        .split_once("not a readable .xlsx: ")
        .map(|(_, r)| r.split(". Send").next().unwrap())
        .expect("the English names the zip reader's reason");
    assert!(!sv.contains(reason), "no English reason in: {sv}");
    assert!(sv.contains("Spara registret som .xlsx"), "{sv}");

    // With an Idempotency-Key, a 400 KB register is still the import's to judge
    // (5 MiB), not the JSON limit's; and it is answered again from the key.
    let csv = register_csv(larmkoll::sheet::MAX_ROWS as usize - 1, "IDEMPOTENS");
    assert!(csv.len() > 375 * 1024, "{} bytes", csv.len());
    let send = |body: Vec<u8>| {
        app.send(
            "POST",
            "/api/v1/import/key-register?dry_run=true",
            Some(&coordinator),
            &[
                ("Content-Type", "application/octet-stream"),
                ("Idempotency-Key", "import-once"),
            ],
            Some(body),
        )
    };
    let first = send(csv.clone().into_bytes()).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let again = send(csv.into_bytes()).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.header("idempotent-replayed").as_deref(), Some("true"));
    let huge = send(vec![b'x'; import::MAX_BYTES + 1]).await;
    assert_eq!(
        (huge.status, huge.problem_code().as_str()),
        (413, "payload_too_large")
    );
    assert_eq!(app.key_count().await, 0);
}
