//! Hostile input that must not reach a person's spreadsheet, disk or session.

use crate::helpers::{read_csv, TestApp};
use crate::on_both_backends;
use serde_json::json;

on_both_backends!(csv_exports_quote_and_neutralise_what_a_user_typed);

async fn csv_exports_quote_and_neutralise_what_a_user_typed(app: TestApp) {
    let installer = app.login("installator").await;
    let page = app.get("/api/v1/customers?limit=200", &installer).await;
    let customer = page.body["items"][0].clone();
    let formula = "=HYPERLINK(\"http://angripare.example\";\"Klicka här\")";
    let hook = "+4\";\"FAKE-1\";";
    let created = app
        .post(
            "/api/v1/keys",
            Some(&installer),
            json!({"key_number": "CSV-1", "customer_id": customer["id"], "count": 1, "cabinet": formula, "hook": hook}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let listed = app.get("/api/v1/keys", &installer).await;
    let keys = listed.body.as_array().unwrap().len();

    let csv = app.get("/api/v1/keys.csv", &installer).await;
    assert_eq!(csv.status, 200);
    let table = read_csv(csv.body.as_str().unwrap());
    assert_eq!(table.len(), 1 + keys, "one line per key, no injected rows");
    assert!(table.iter().all(|r| r.len() == 8), "{table:?}");
    let row = table
        .iter()
        .find(|r| r[0] == "CSV-1")
        .expect("the key's row");
    assert_eq!(row[3], format!("'{formula}"), "shown as text, not run");
    assert_eq!(
        row[4],
        format!("'{hook}"),
        "the hook stays one cell, as text"
    );
    assert!(!table.iter().any(|r| r[0] == "FAKE-1"));
}
