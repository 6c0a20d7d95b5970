//! Bad input of every kind gets problem+json with the right status, and a
//! rejected request writes nothing.

use crate::helpers::TestApp;
use crate::on_both_backends;
use serde_json::json;

on_both_backends!(
    bad_input_gets_problem_json_and_writes_nothing,
    a_wrong_value_in_valid_json_is_a_422_told_in_swedish,
);

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
    bad_path.assert_problem(
        400,
        "invalid_path_parameter",
        "Ids are UUIDs",
        "Id:n skrivs som UUID",
    );
    let bad_query = app.get("/api/v1/customers?limit=many", &token).await;
    bad_query.assert_problem(
        400,
        "invalid_query_parameter",
        "invalid digit",
        "har ett ogiltigt värde",
    );
    // The Swedish is Swedish: serde's English stays in `detail`.
    for res in [&bad_path, &bad_query] {
        let sv = res.body["detail_sv"].as_str().unwrap();
        assert!(!sv.contains("invalid") && !sv.contains("expected"), "{sv}");
    }
    // The 413 says the limit (the tests run with a 16 KiB JSON limit).
    let oversized = app
        .send(
            "POST",
            "/api/v1/customers",
            Some(&token),
            &[("Content-Type", "application/json")],
            Some(format!("{{\"x\": \"{}\"}}", "a".repeat(20_000)).into_bytes()),
        )
        .await;
    oversized.assert_problem(
        413,
        "payload_too_large",
        "16 kB (16384 bytes)",
        "16 kB (16384 byte)",
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

/// English that must not turn up in a Swedish text: serde's words among them.
const ENGLISH: &[&str] = &[
    "expected", "unknown", "variant", "invalid", "missing", "field", "type", "value", "line",
    "column", "the", "must", "not", "see", "errors", "json",
];

fn english_in(sv: &str) -> Vec<String> {
    sv.split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| ENGLISH.contains(&w.as_str()))
        .collect()
}

/// Rows of the tables the refused requests below would write.
async fn decisions_and_orders(app: &TestApp) -> (i64, i64, i64) {
    app.db
        .run(|conn| {
            use diesel::prelude::*;
            use larmkoll::db::schema::{areas, customers, decisions, groups, orders};
            let d = decisions::table.count().get_result::<i64>(conn)?;
            let o = orders::table.count().get_result::<i64>(conn)?;
            let g = groups::table.count().get_result::<i64>(conn)?;
            let c = customers::table.count().get_result::<i64>(conn)?
                + areas::table.count().get_result::<i64>(conn)?;
            Ok((d + g, o, c))
        })
        .await
        .expect("count")
}

async fn a_wrong_value_in_valid_json_is_a_422_told_in_swedish(app: TestApp) {
    let assessor = app.login("handlaggare").await;
    let admin = app.login("admin").await;
    let area = app.area_id(&admin, "Boo").await;
    let page = app.get("/api/v1/customers?limit=1", &assessor).await;
    let customer = page.body["items"][0]["id"].as_str().unwrap().to_string();
    let decisions = format!("/api/v1/customers/{customer}/decisions");
    let before = decisions_and_orders(&app).await;

    // (path, token, body, field, field code, words the Swedish must hold)
    type Case<'a> = (
        &'a str,
        &'a str,
        serde_json::Value,
        &'a str,
        &'a str,
        &'a [&'a str],
    );
    let cases: Vec<Case> = vec![
        (
            &decisions,
            &assessor,
            json!({"service": "nonsense", "valid_from": "2025-03-01"}),
            "service",
            "unknown_value",
            &[
                "Tjänst har ett okänt värde \"nonsense\"; tillåtna värden är safety_alarm eller digital_lock",
            ],
        ),
        // serde_json calls an enum given a number or an array a syntax error.
        (
            &decisions,
            &assessor,
            json!({"service": 5, "valid_from": "2025-03-01"}),
            "service",
            "wrong_type",
            &["Tjänst har fel sorts värde"],
        ),
        (
            &decisions,
            &assessor,
            json!({"service": ["safety_alarm"], "valid_from": "2025-03-01"}),
            "service",
            "wrong_type",
            &["Tjänst har fel sorts värde"],
        ),
        (
            &decisions,
            &assessor,
            json!({"service": null, "valid_from": "2025-03-01"}),
            "service",
            "wrong_type",
            &["Tjänst har fel sorts värde"],
        ),
        (
            &decisions,
            &assessor,
            json!({"service": "safety_alarm", "valid_from": "31/03/2025"}),
            "valid_from",
            "invalid_value",
            &["Startdatum är inget giltigt datum", "2025-03-31"],
        ),
        (
            &decisions,
            &assessor,
            json!({"service": "safety_alarm"}),
            "valid_from",
            "required",
            &["Startdatum saknas; fyll i det"],
        ),
        (
            "/api/v1/groups",
            &admin,
            json!({"area_id": area, "name": "X", "kind": "choir"}),
            "kind",
            "unknown_value",
            &["Typ har ett okänt värde \"choir\"", "home_care"],
        ),
        (
            "/api/v1/groups",
            &admin,
            json!({"area_id": area, "name": "X", "kind": 5}),
            "kind",
            "wrong_type",
            &["Typ har fel sorts värde"],
        ),
        (
            "/api/v1/groups",
            &admin,
            json!({"area_id": "Boo", "name": "X", "kind": "home_care"}),
            "area_id",
            "invalid_value",
            &["Område är inget giltigt id"],
        ),
        (
            "/api/v1/groups",
            &admin,
            json!({"area_id": area, "name": 7, "kind": "home_care"}),
            "name",
            "wrong_type",
            &["Namn har fel sorts värde; det ska vara en text"],
        ),
    ];
    for (path, token, body, field, field_code, words) in cases {
        let res = app.post(path, Some(token), body.clone()).await;
        assert_eq!(
            (res.status, res.problem_code().as_str()),
            (422, "invalid_body"),
            "{body}: {}",
            res.body
        );
        let detail = res.body["detail"].as_str().unwrap();
        let sv = res.body["detail_sv"].as_str().unwrap();
        assert!(detail.contains(&format!("`{field}`")), "{body}: {detail}");
        assert!(sv.starts_with("Uppgifterna kunde inte tas emot: "), "{sv}");
        assert!(
            sv.ends_with("Rätta det och skicka igen; inget har ändrats."),
            "{sv}"
        );
        for w in words {
            assert!(sv.contains(w), "{body}: {w:?} not in {sv}");
        }
        let e = &res.body["errors"][0];
        assert_eq!(
            (e["field"].as_str(), e["code"].as_str()),
            (Some(field), Some(field_code)),
            "{body}: {}",
            res.body
        );
        let field_sv = e["detail_sv"].as_str().unwrap();
        assert!(
            english_in(sv).is_empty() && english_in(field_sv).is_empty(),
            "{body}: English in {sv} / {field_sv}"
        );
    }
    // English keeps serde's words, for the developer.
    let unknown = app
        .post(
            &decisions,
            Some(&assessor),
            json!({"service": "nonsense", "valid_from": "2025-03-01"}),
        )
        .await;
    assert!(
        unknown.body["detail"]
            .as_str()
            .unwrap()
            .contains("unknown variant `nonsense`, expected `safety_alarm` or `digital_lock`"),
        "{}",
        unknown.body
    );

    // Only what is not JSON at all is a 400, still in Swedish words.
    for broken in [
        &b"{\"service\": "[..],
        b"{\"service\": safety_alarm}",
        b"[1, 2,]",
    ] {
        let res = app
            .send(
                "POST",
                &decisions,
                Some(&assessor),
                &[("Content-Type", "application/json")],
                Some(broken.to_vec()),
            )
            .await;
        assert_eq!(
            (res.status, res.problem_code().as_str()),
            (400, "malformed_json"),
            "{}",
            res.body
        );
        let sv = res.body["detail_sv"].as_str().unwrap();
        assert!(sv.starts_with("Innehållet går inte att läsa"), "{sv}");
        assert!(english_in(sv).is_empty(), "English in {sv}");
    }

    // Field problems carry Swedish too, and the summary names the fields in words.
    let invalid = app
        .post(
            "/api/v1/customers",
            Some(&assessor),
            json!({"personnummer": "19121212-1213", "first_name": " ", "last_name": "B",
                   "address": {"street": "S 1", "postal_code": "1323", "city": "C"}, "area_id": area}),
        )
        .await;
    assert_eq!(
        (invalid.status, invalid.problem_code().as_str()),
        (422, "validation_failed")
    );
    assert_eq!(
        invalid.body["detail_sv"],
        "Några fält är fel ifyllda: personnummer (kontrollsiffran stämmer inte; kontrollera numret), \
         förnamn (får inte vara tomt) och postnummer (ett postnummer har fem siffror, till exempel 132 30). \
         Rätta dem och skicka igen; inget har ändrats."
    );
    for e in invalid.body["errors"].as_array().unwrap() {
        let sv = e["detail_sv"].as_str().unwrap();
        assert!(!sv.is_empty() && english_in(sv).is_empty(), "{e}");
    }
    let long = app
        .post(
            "/api/v1/areas",
            Some(&admin),
            json!({"name": "x".repeat(500)}),
        )
        .await;
    assert_eq!(
        (long.status, long.problem_code().as_str()),
        (422, "validation_failed"),
        "{}",
        long.body
    );
    assert_eq!(
        long.body["errors"][0]["detail_sv"], "högst 100 tecken",
        "{}",
        long.body
    );

    assert_eq!(
        decisions_and_orders(&app).await,
        before,
        "a refused body wrote nothing"
    );
}
