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

on_both_backends!(a_body_framed_two_ways_is_refused_and_stores_nothing);

/// `Content-Length` and `Transfer-Encoding` together (request smuggling):
/// refused before any handler runs, the connection closed, nothing stored.
/// actix-http's own parser answers, so the 400 has no problem+json body
/// (the README's security section says so).
async fn a_body_framed_two_ways_is_refused_and_stores_nothing(app: TestApp) {
    use std::io::{Read, Write};
    let installer = app.login("installator").await;
    let page = app.get("/api/v1/customers?limit=1", &installer).await;
    let customer = page.body["items"][0]["id"].as_str().unwrap().to_string();
    let before = app.key_count().await;
    let body = json!({"key_number": "SMUGGLE-1", "customer_id": customer, "count": 1,
        "cabinet": "Skåp 1", "hook": "1"})
    .to_string();
    let chunked = format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len());
    let addr = app.base.trim_start_matches("http://").to_string();
    let request = format!(
        "POST /api/v1/keys HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {installer}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\
         Transfer-Encoding: chunked\r\n\r\n{chunked}",
        body.len()
    );
    let answer = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        // The server closes the connection after refusing.
        let _ = stream.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).to_string()
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert_eq!(app.key_count().await, before, "nothing stored");
}
