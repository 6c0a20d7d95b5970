//! Importing the alarm team's Excel sheet: a row-by-row report, and nothing partial.

use crate::helpers::TestApp;
use crate::on_both_backends;
use chrono::{Duration, Utc};
use serde_json::{json, Value};

on_both_backends!(a_sheet_with_mistakes_is_reported_row_by_row_and_imports_nothing_partial);

const SHEET: &[u8] = include_bytes!("../fixtures/nyckelregister.xlsx");

async fn import(
    app: &TestApp,
    token: &str,
    body: &[u8],
    dry_run: bool,
) -> crate::helpers::Response {
    app.send(
        "POST",
        &format!("/api/v1/import/key-register?dry_run={dry_run}"),
        Some(token),
        &[("Content-Type", "application/octet-stream")],
        Some(body.to_vec()),
    )
    .await
}

async fn a_sheet_with_mistakes_is_reported_row_by_row_and_imports_nothing_partial(app: TestApp) {
    let coordinator = app.login("koordinator").await;
    let assessor = app.login("handlaggare").await;
    let installer = app.login("installator").await;
    // TX-1035 is already installed at K-100011.
    let k11 = app
        .get("/api/v1/customers?q=K-100011", &assessor)
        .await
        .body["items"][0]
        .clone();
    let day = (Utc::now().date_naive() - Duration::days(2)).to_string();
    let granted = app
        .post(
            &format!(
                "/api/v1/customers/{}/decisions",
                k11["id"].as_str().unwrap()
            ),
            Some(&assessor),
            json!({"service": "safety_alarm", "valid_from": day}),
        )
        .await;
    let oid = granted.body["order"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        app.post_if(
            &format!("/api/v1/orders/{oid}/book"),
            &installer,
            1,
            json!({"visit_date": day})
        )
        .await
        .status,
        200
    );
    let installed = app
        .post_if(
            &format!("/api/v1/orders/{oid}/install"),
            &installer,
            2,
            json!({"installation_date": day, "serials": ["TX-1035"]}),
        )
        .await;
    assert_eq!(installed.status, 200, "{}", installed.body);

    let dry = import(&app, &coordinator, SHEET, true).await;
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
            .map(|p| p.as_str().unwrap().to_string())
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
        (10, "antal 'två' is not a number"),
        (11, "closest known: PH-3009"),
        (13, "another municipality"),
        (14, "skåp is missing"),
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
    let apply = import(&app, &coordinator, SHEET, false).await;
    assert_eq!(
        (apply.status, apply.problem_code().as_str()),
        (422, "import_has_errors")
    );
    assert_eq!(apply.body["errors"].as_array().unwrap().len(), 7);
    assert_eq!(apply.body["errors"][0]["field"], "row 6");
    assert_eq!(app.get("/api/v1/keys", &coordinator).await.body, json!([]));
    assert_eq!(
        app.get("/api/v1/equipment/items?serial=PH-3010", &installer)
            .await
            .body[0]["state"],
        "in_stock"
    );

    // The corrected sheet, as a Windows-1252 CSV from Excel, goes in whole.
    let mut csv: Vec<u8> =
        b"Nyckelnummer;Kundnummer;Antal;Sk\xe5p;Krok;Natsk\xe5p;Serienummer\r\n".to_vec();
    csv.extend_from_slice(b"B-101;K-100001;2;Sk\xe5p \xd6;1;;\r\nB-102;K-100002;1;Sk\xe5p \xd6;2;ja;PH-3010\r\n;;;;;;\r\nB-110;K-100010;3;Natt;10;x;\r\n");
    let ok = import(&app, &coordinator, &csv, false).await;
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
    let ph = app
        .get("/api/v1/equipment/items?serial=PH-3010", &installer)
        .await;
    assert_eq!(ph.body[0]["customer_number"], "K-100002");
    // Importing the same sheet again finds every key already registered.
    let again = import(&app, &coordinator, &csv, true).await;
    assert_eq!(again.body["errors"], 3);

    let denied = import(&app, &installer, SHEET, true).await;
    assert_eq!(denied.status, 403);
    let garbage = import(&app, &coordinator, b"PK\x03\x04 not really a zip", true).await;
    assert_eq!(
        (garbage.status, garbage.problem_code().as_str()),
        (422, "unreadable_sheet")
    );
}
