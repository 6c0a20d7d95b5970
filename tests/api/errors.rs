//! Bad input of every kind gets problem+json with the right status, and a
//! rejected request writes nothing.

use crate::helpers::TestApp;
use crate::on_both_backends;
use serde_json::json;

on_both_backends!(bad_input_gets_problem_json_and_writes_nothing);

async fn bad_input_gets_problem_json_and_writes_nothing(app: TestApp) {
    let token = app.login("handlaggare").await;
    let area = app.area_id(&token, "Boo").await;
    let count = |app: &TestApp| {
        let db = app.db.clone();
        async move {
            db.run(|c| Ok(larmkoll::db::customers::count(c)?))
                .await
                .unwrap()
        }
    };
    let before = count(&app).await;
    let json_ct = [("Content-Type", "application/json")];

    // (what, headers, body, expected status, expected code)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<u8>, u16, &'a str);
    let cases: Vec<Case> = vec![
        ("malformed JSON", json_ct.to_vec(), b"{\"first_name\": ".to_vec(), 400, "malformed_json"),
        ("wrong content type", vec![("Content-Type", "text/plain")], b"{}".to_vec(), 415, "unsupported_media_type"),
        ("no content type", vec![], b"{}".to_vec(), 415, "unsupported_media_type"),
        (
            "unknown field",
            json_ct.to_vec(),
            json!({"personnummer": "19121212-1212", "first_name": "A", "last_name": "B",
                   "address": {"street": "S 1", "postal_code": "13230", "city": "C"},
                   "area_id": area, "shoe_size": 44})
            .to_string()
            .into_bytes(),
            422,
            "invalid_body",
        ),
        ("wrong type", json_ct.to_vec(), json!({"personnummer": 191212121212u64}).to_string().into_bytes(), 422, "invalid_body"),
        ("oversized body", json_ct.to_vec(), format!("{{\"x\": \"{}\"}}", "a".repeat(20_000)).into_bytes(), 413, "payload_too_large"),
        (
            "invalid values",
            json_ct.to_vec(),
            json!({"personnummer": "19121212-1213", "first_name": " ", "last_name": "B",
                   "address": {"street": "S 1", "postal_code": "1323", "city": "C"}, "area_id": area})
            .to_string()
            .into_bytes(),
            422,
            "validation_failed",
        ),
    ];
    for (what, headers, body, status, code) in cases {
        let res = app
            .send(
                "POST",
                "/api/v1/customers",
                Some(&token),
                &headers,
                Some(body),
            )
            .await;
        assert_eq!(res.status, status, "{what}: {}", res.body);
        assert_eq!(res.problem_code(), code, "{what}");
    }

    let invalid = app
        .post(
            "/api/v1/customers",
            Some(&token),
            json!({"personnummer": "19121212-1213", "first_name": " ", "last_name": "B",
                   "address": {"street": "S 1", "postal_code": "1323", "city": "C"}, "area_id": area}),
        )
        .await;
    let fields: Vec<&str> = invalid.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["personnummer", "first_name", "address.postal_code"],
        "every bad field is named"
    );
    assert!(invalid.body["errors"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("check digit"));

    let bad_path = app.get("/api/v1/customers/not-a-uuid", &token).await;
    assert_eq!(
        (bad_path.status, bad_path.problem_code().as_str()),
        (400, "invalid_path_parameter")
    );
    let bad_query = app.get("/api/v1/customers?limit=many", &token).await;
    assert_eq!(
        (bad_query.status, bad_query.problem_code().as_str()),
        (400, "invalid_query_parameter")
    );
    let unknown_query = app.get("/api/v1/customers?colour=red", &token).await;
    assert_eq!(
        (unknown_query.status, unknown_query.problem_code().as_str()),
        (400, "invalid_query_parameter")
    );
    let bad_limit = app.get("/api/v1/customers?limit=0", &token).await;
    assert_eq!(
        (bad_limit.status, bad_limit.problem_code().as_str()),
        (400, "invalid_limit")
    );
    let bad_cursor = app.get("/api/v1/customers?cursor=zzz", &token).await;
    assert_eq!(
        (bad_cursor.status, bad_cursor.problem_code().as_str()),
        (400, "invalid_cursor")
    );
    let no_route = app.get("/api/v1/nothing-here", &token).await;
    assert_eq!(
        (no_route.status, no_route.problem_code().as_str()),
        (404, "route_not_found")
    );
    let wrong_method = app
        .send("DELETE", "/api/v1/customers", Some(&token), &[], None)
        .await;
    assert_eq!(
        (wrong_method.status, wrong_method.problem_code().as_str()),
        (405, "method_not_allowed")
    );
    let bad_key = app
        .send(
            "POST",
            "/api/v1/areas",
            Some(&token),
            &[
                ("Content-Type", "application/json"),
                ("Idempotency-Key", ""),
            ],
            Some(b"{}".to_vec()),
        )
        .await;
    assert_eq!(
        (bad_key.status, bad_key.problem_code().as_str()),
        (400, "invalid_idempotency_key")
    );

    assert_eq!(
        count(&app).await,
        before,
        "a rejected request wrote a customer"
    );
}
