use crate::helpers::TestApp;
use crate::on_both_backends;
use serde_json::{json, Value};
use std::collections::HashSet;

on_both_backends!(
    assessor_creates_reads_and_updates_a_customer,
    a_user_of_one_area_cannot_read_a_customer_of_another,
    field_roles_see_only_the_customers_their_groups_serve,
    search_by_name_number_and_personnummer_and_paginate,
    personnummer_is_masked_until_revealed_with_a_reason,
);

fn new_customer(area: &str, pnr: &str) -> Value {
    json!({
        "personnummer": pnr,
        "first_name": "Tolvan",
        "last_name": "Tolvansson",
        "address": {"street": "Storgatan 1", "postal_code": "13230", "city": "Saltsjö-Boo"},
        "phone": "070-123 45 67",
        "area_id": area,
        "key_position": "Skåp 2, krok 14",
        "entry_notes": "Portkod 1234",
        "consent_digital_lock": true,
    })
}

async fn assessor_creates_reads_and_updates_a_customer(app: TestApp) {
    let token = app.login("handlaggare").await;
    let area = app.area_id(&token, "Boo").await;
    let home_care = app.group_id(&token, "Boo hemtjänst").await;
    // The '+' marks a person of 100 or more: born 1912, not 2012.
    let mut body = new_customer(&area, "121212+1212");
    body["group_ids"] = json!([home_care]);
    let created = app.post("/api/v1/customers", Some(&token), body).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let c = &created.body;
    assert_eq!(c["personnummer"], "19121212-XXXX");
    assert_eq!(c["birth_date"], "1912-12-12");
    assert_eq!(c["address"]["postal_code"], "132 30");
    assert!(c["customer_number"].as_str().unwrap().starts_with("K-"));
    assert_eq!(c["consent"]["digital_lock"]["given"], true);
    assert!(c["consent"]["digital_lock"]["recorded_by"].is_string());
    assert_eq!(c["consent"]["staff_unlock"]["given"], false);
    assert_eq!(created.header("etag").as_deref(), Some("\"1\""));
    assert_eq!(created.header("cache-control").as_deref(), Some("no-store"));
    let id = c["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/customers/{id}");

    // The same person in another written form is the same personnummer.
    let dup = app
        .post(
            "/api/v1/customers",
            Some(&token),
            new_customer(&area, "191212121212"),
        )
        .await;
    assert_eq!(
        (dup.status, dup.problem_code().as_str()),
        (409, "customer_exists")
    );

    let read = app.get(&path, &token).await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["group_ids"], json!([home_care]));

    // The coordinator changes the key position; the assessor's stale write is refused.
    let coordinator = app.login("koordinator").await;
    let moved = app
        .patch(
            &path,
            &coordinator,
            Some("\"1\""),
            json!({"key_position": "Nattskåp, krok 3", "entry_notes": null}),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(moved.body["key_position"], "Nattskåp, krok 3");
    assert_eq!(moved.body["entry_notes"], Value::Null);
    assert_eq!(moved.body["phone"], "070-123 45 67", "fields left out stay");
    assert_eq!(moved.header("etag").as_deref(), Some("\"2\""));
    let stale = app
        .patch(&path, &token, Some("\"1\""), json!({"phone": "08-1"}))
        .await;
    assert_eq!(
        (stale.status, stale.problem_code().as_str()),
        (412, "stale_version")
    );
    assert_eq!(
        app.get(&path, &token).await.body["phone"],
        "070-123 45 67",
        "the stale write changed nothing"
    );
    let missing = app
        .patch(&path, &token, None, json!({"phone": "08-1"}))
        .await;
    assert_eq!(missing.status, 428);

    let not_assessor = app.get("/api/v1/auth/me", &coordinator).await.body["id"].clone();
    let bad = app
        .patch(
            &path,
            &token,
            Some("\"2\""),
            json!({"ordinary_assessor_id": not_assessor}),
        )
        .await;
    assert_eq!(
        (bad.status, bad.problem_code().as_str()),
        (422, "validation_failed")
    );

    // Installers may not create or change customers.
    let installer = app.login("installator").await;
    let denied = app
        .post(
            "/api/v1/customers",
            Some(&installer),
            new_customer(&area, "201701012393"),
        )
        .await;
    assert_eq!(
        (denied.status, denied.problem_code().as_str()),
        (403, "forbidden")
    );

    assert_eq!(app.audit_count("customer.create", "ok", &id).await, 1);
    assert_eq!(app.audit_count("customer.update", "ok", &id).await, 1);
    assert!(app.audit_count("customer.read", "ok", &id).await >= 2);
}

async fn a_user_of_one_area_cannot_read_a_customer_of_another(app: TestApp) {
    let admin = app.login("admin").await;
    let sickla_team = app.group_id(&admin, "Sickla mottagningsteam").await;
    app.create_user(&admin, "sickla.handlaggare", "assessor", &[&sickla_team])
        .await;
    let boo = app.login("handlaggare").await;
    let boo_area = app.area_id(&boo, "Boo").await;
    let created = app
        .post(
            "/api/v1/customers",
            Some(&boo),
            new_customer(&boo_area, "19121212-1212"),
        )
        .await;
    let id = created.body["id"].as_str().unwrap().to_string();

    let sickla = app
        .login_with("sickla.handlaggare", "ett-langt-losenord")
        .await;
    let res = app.get(&format!("/api/v1/customers/{id}"), &sickla).await;
    assert_eq!(
        (res.status, res.problem_code().as_str()),
        (404, "customer_not_found")
    );
    // Same answer as for an id that does not exist: nothing is confirmed.
    let nobody = app
        .get(
            &format!("/api/v1/customers/{}", uuid::Uuid::new_v4()),
            &sickla,
        )
        .await;
    assert_eq!(nobody.body, res.body);
    let update = app
        .patch(
            &format!("/api/v1/customers/{id}"),
            &sickla,
            Some("\"1\""),
            json!({"phone": "1"}),
        )
        .await;
    assert_eq!(update.status, 404);
    let reveal = app
        .get(
            &format!("/api/v1/customers/{id}/personnummer?reason=test"),
            &sickla,
        )
        .await;
    assert_eq!(reveal.status, 404);
    assert_eq!(
        app.audit_count("customer.read", "denied", &id).await,
        1,
        "the attempt is audited"
    );
    assert_eq!(app.audit_count("customer.update", "denied", &id).await, 1);

    // Nor does the customer show in their lists or searches.
    let list = app.get("/api/v1/customers?q=Tolvansson", &sickla).await;
    assert_eq!(list.body["items"], json!([]));
    let all = app.get("/api/v1/customers?limit=200", &sickla).await;
    assert!(all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["address"]["city"] == "Nacka"));
    // Nor may they create customers in Boo.
    let outside = app
        .post(
            "/api/v1/customers",
            Some(&sickla),
            new_customer(&boo_area, "201701012393"),
        )
        .await;
    assert_eq!(outside.status, 422);
    assert_eq!(outside.body["errors"][0]["code"], "outside_scope");

    // The admin's audit query answers "who opened this record".
    let log = app
        .get(
            &format!("/api/v1/audit?customer_id={id}&action=customer.read"),
            &admin,
        )
        .await;
    assert_eq!(log.status, 200);
    let entries = log.body["items"].as_array().unwrap();
    assert!(entries
        .iter()
        .any(|e| e["username"] == "sickla.handlaggare" && e["outcome"] == "denied"));
    assert!(entries.iter().all(|e| e["ip"] == "127.0.0.1"));
    assert_eq!(app.get("/api/v1/audit", &boo).await.status, 403);
}

async fn field_roles_see_only_the_customers_their_groups_serve(app: TestApp) {
    // The demo installer is in Boo's alarm team, which serves the 20 Boo customers.
    let installer = app.login("installator").await;
    let page = app.get("/api/v1/customers?limit=200", &installer).await;
    assert_eq!(page.body["items"].as_array().unwrap().len(), 20);
    // Home care staff see only those served by their home-care or night-patrol group.
    let care = app.login("hemtjanst").await;
    let page = app.get("/api/v1/customers?limit=200", &care).await;
    assert_eq!(
        page.body["items"].as_array().unwrap().len(),
        20,
        "night patrol serves all of Boo"
    );
    // Billing is municipality-wide.
    let billing = app.login("avgift").await;
    assert_eq!(
        app.get("/api/v1/customers?limit=200", &billing).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        30
    );
}

async fn search_by_name_number_and_personnummer_and_paginate(app: TestApp) {
    let admin = app.login("admin").await;
    // Page through all 30 demo customers, 7 at a time: every one exactly once, sorted.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/customers?limit=7&cursor={c}"),
            None => "/api/v1/customers?limit=7".to_string(),
        };
        let page = app.get(&path, &admin).await;
        assert_eq!(page.status, 200, "{}", page.body);
        for c in page.body["items"].as_array().unwrap() {
            seen.push(format!(
                "{} {}",
                c["last_name"].as_str().unwrap(),
                c["id"].as_str().unwrap()
            ));
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 30);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 30);

    // Name search finds either name, any case, Swedish letters included.
    let hits = app.get("/api/v1/customers?q=%C3%85KE", &admin).await;
    assert!(!hits.body["items"].as_array().unwrap().is_empty());
    assert!(hits.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["first_name"] == "Åke"));
    let first = app.get("/api/v1/customers?limit=1", &admin).await.body["items"][0].clone();
    let by_number = app
        .get(
            &format!(
                "/api/v1/customers?q={}",
                first["customer_number"].as_str().unwrap().to_lowercase()
            ),
            &admin,
        )
        .await;
    assert_eq!(by_number.body["items"][0]["id"], first["id"]);
    let full = app
        .get(
            &format!(
                "/api/v1/customers/{}/personnummer?reason=search+test",
                first["id"].as_str().unwrap()
            ),
            &admin,
        )
        .await;
    let pnr = full.body["personnummer"].as_str().unwrap().to_string();
    let short = format!("{}{}", &pnr[2..8], &pnr[9..]);
    let by_pnr = app
        .get(&format!("/api/v1/customers?q={short}"), &admin)
        .await;
    assert_eq!(by_pnr.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(by_pnr.body["items"][0]["id"], first["id"]);
    // LIKE wildcards in a search are literal.
    assert_eq!(
        app.get("/api/v1/customers?q=%25", &admin).await.body["items"],
        json!([])
    );
}

async fn personnummer_is_masked_until_revealed_with_a_reason(app: TestApp) {
    let token = app.login("handlaggare").await;
    let area = app.area_id(&token, "Boo").await;
    let id = app
        .post(
            "/api/v1/customers",
            Some(&token),
            new_customer(&area, "19121212-1212"),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/v1/customers/{id}/personnummer");
    let no_reason = app.get(&path, &token).await;
    // The spec documents 422 for a reveal without a reason.
    assert_eq!(no_reason.status, 422);
    let revealed = app
        .get(&format!("{path}?reason=kontroll+mot+beslut"), &token)
        .await;
    assert_eq!(revealed.status, 200);
    assert_eq!(revealed.body["personnummer"], "19121212-1212");
    assert_eq!(
        revealed.header("cache-control").as_deref(),
        Some("no-store")
    );
    assert_eq!(
        app.audit_count("customer.reveal_personnummer", "ok", &id)
            .await,
        1
    );

    // Field roles never see the full number, even for customers they serve.
    let installer = app.login("installator").await;
    let denied = app.get(&format!("{path}?reason=nyfiken"), &installer).await;
    assert_eq!(
        (denied.status, denied.problem_code().as_str()),
        (403, "forbidden")
    );

    // The full number is nowhere in the list or card responses.
    let list = app.get("/api/v1/customers?limit=200", &token).await;
    assert!(!list.body.to_string().contains("19121212-1212"));
    assert!(!list.body.to_string().contains("191212121212"));
}
