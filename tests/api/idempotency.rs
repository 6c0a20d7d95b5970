use crate::helpers::TestApp;
use crate::on_both_backends;
use serde_json::json;

on_both_backends!(same_key_replays_and_other_body_is_refused);

async fn same_key_replays_and_other_body_is_refused(app: TestApp) {
    let token = app.login("handlaggare").await;
    let area = app.area_id(&token, "Boo").await;
    let body = json!({
        "personnummer": "201701012393",
        "first_name": "Tolva", "last_name": "Testsson",
        "address": {"street": "Provgatan 2", "postal_code": "13230", "city": "Saltsjö-Boo"},
        "area_id": area,
    });
    let send = |key: &'static str, body: serde_json::Value| {
        let token = token.clone();
        let app = &app;
        async move {
            app.send(
                "POST",
                "/api/v1/customers",
                Some(&token),
                &[
                    ("Content-Type", "application/json"),
                    ("Idempotency-Key", key),
                ],
                Some(body.to_string().into_bytes()),
            )
            .await
        }
    };
    let first = send("outbox-0001", body.clone()).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let replay = send("outbox-0001", body.clone()).await;
    assert_eq!(replay.status, 201);
    assert_eq!(
        replay.body["id"], first.body["id"],
        "a replay must not create a second customer"
    );
    assert_eq!(
        replay.header("idempotent-replayed").as_deref(),
        Some("true")
    );

    let mut other = body.clone();
    other["first_name"] = json!("Annan");
    let clash = send("outbox-0001", other).await;
    assert_eq!(
        (clash.status, clash.problem_code().as_str()),
        (422, "idempotency_key_reused")
    );

    // Without a key the same body is a second attempt: refused as a duplicate.
    let dup = app.post("/api/v1/customers", Some(&token), body).await;
    assert_eq!(
        (dup.status, dup.problem_code().as_str()),
        (409, "customer_exists")
    );

    // A failed request does not burn its key: the corrected retry goes through.
    let mut bad = json!({"personnummer": "19121212-1213", "first_name": "X", "last_name": "Y",
        "address": {"street": "S 1", "postal_code": "13230", "city": "C"}, "area_id": area});
    assert_eq!(send("outbox-0002", bad.clone()).await.status, 422);
    bad["personnummer"] = json!("19121212-1212");
    // Same key, different body after a failure: the key was released, so it is accepted.
    assert_eq!(send("outbox-0002", bad).await.status, 201);
}
