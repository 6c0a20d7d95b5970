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

on_both_backends!(an_action_that_committed_is_never_applied_twice);

/// The crash window: the action committed but the server died before storing
/// its answer. The key was marked in the action's own transaction, so the
/// retry is told it was applied instead of acting again. A claim abandoned
/// before anything committed is released and the retry acts once.
async fn an_action_that_committed_is_never_applied_twice(app: TestApp) {
    use diesel::prelude::*;
    use larmkoll::db::schema::idempotency_keys::dsl as ik;
    use sha2::Digest;
    let token = app.login("handlaggare").await;
    let me = app.get("/api/v1/auth/me", &token).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let area = app.area_id(&token, "Boo").await;
    let body = |pnr: &str| {
        json!({"personnummer": pnr, "first_name": "Kris", "last_name": "Kraschsson",
               "address": {"street": "Provgatan 3", "postal_code": "13230", "city": "Saltsjö-Boo"}, "area_id": area})
        .to_string()
    };
    let send = |key: &'static str, body: String| {
        let (app, token) = (&app, token.clone());
        async move {
            app.send(
                "POST",
                "/api/v1/customers",
                Some(&token),
                &[
                    ("Content-Type", "application/json"),
                    ("Idempotency-Key", key),
                ],
                Some(body.into_bytes()),
            )
            .await
        }
    };
    let count = || {
        let db = app.db.clone();
        async move {
            db.run(|c| Ok(larmkoll::db::customers::count(c)?))
                .await
                .unwrap()
        }
    };

    let first = send("crash-1", body("19121212-1212")).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let (scope, k) = (me.clone(), "crash-1".to_string());
    let row: (Option<i32>, Option<chrono::NaiveDateTime>) = app
        .db
        .run(move |c| {
            Ok(ik::idempotency_keys
                .find((scope, k))
                .select((ik::status, ik::committed_at))
                .first(c)?)
        })
        .await
        .unwrap();
    assert_eq!(row.0, Some(201));
    assert!(
        row.1.is_some(),
        "the key is marked in the action's transaction"
    );

    // As a crash between the commit and the stored answer leaves it:
    let (scope, k) = (me.clone(), "crash-1".to_string());
    app.db
        .run(move |c| {
            Ok(diesel::update(ik::idempotency_keys.find((scope, k)))
                .set((
                    ik::status.eq(None::<i32>),
                    ik::response_body.eq(None::<Vec<u8>>),
                ))
                .execute(c)?)
        })
        .await
        .unwrap();
    let before = count().await;
    let retry = send("crash-1", body("19121212-1212")).await;
    assert_eq!(
        (retry.status, retry.problem_code().as_str()),
        (409, "already_applied")
    );
    assert_eq!(count().await, before, "not applied twice");
    // Also when the retry comes long after the crash (a phone offline for an
    // hour): a committed claim is never taken for an abandoned one.
    let (scope, k) = (me.clone(), "crash-1".to_string());
    app.db
        .run(move |c| {
            Ok(diesel::update(ik::idempotency_keys.find((scope, k)))
                .set(ik::created_at.eq(larmkoll::db::now() - chrono::Duration::hours(1)))
                .execute(c)?)
        })
        .await
        .unwrap();
    let late = send("crash-1", body("19121212-1212")).await;
    assert_eq!(
        (late.status, late.problem_code().as_str()),
        (409, "already_applied")
    );
    assert_eq!(count().await, before, "not applied twice an hour later");

    // A claim left by a request that died before committing anything.
    let abandoned_body = body("201701012393");
    let hash = {
        let mut h = sha2::Sha256::new();
        h.update("POST\n/api/v1/customers\n");
        h.update(abandoned_body.as_bytes());
        hex::encode(h.finalize())
    };
    let row = larmkoll::db::idempotency::IdempotencyRow {
        scope: me.clone(),
        idempotency_key: "crash-2".into(),
        method: "POST".into(),
        path: "/api/v1/customers".into(),
        request_hash: hash,
        status: None,
        content_type: None,
        response_body: None,
        created_at: larmkoll::db::now() - chrono::Duration::minutes(5),
        committed_at: None,
        etag: None,
    };
    app.db
        .run(move |c| Ok(larmkoll::db::idempotency::claim(c, &row)?))
        .await
        .unwrap();
    let resumed = send("crash-2", abandoned_body).await;
    assert_eq!(resumed.status, 201, "{}", resumed.body);
    assert_eq!(count().await, before + 1);
}

on_both_backends!(a_refused_attempt_frees_its_key_for_the_corrected_retry);

/// The phone's outbox: an install sent with a stale `If-Match` gets 412; the
/// phone reads the order and sends the same action, same key, with the fresh
/// version — the state machine's answer (here: the order was cancelled) must
/// come back, not an error about the key.
async fn a_refused_attempt_frees_its_key_for_the_corrected_retry(app: TestApp) {
    let assessor = app.login("handlaggare").await;
    let installer = app.login("installator").await;
    let customers = app.get("/api/v1/customers?limit=1", &installer).await;
    let customer = customers.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let granted = app
        .post(
            &format!("/api/v1/customers/{customer}/decisions"),
            Some(&assessor),
            json!({"service": "safety_alarm", "valid_from": "2026-11-02"}),
        )
        .await;
    assert_eq!(granted.status, 201, "{}", granted.body);
    let order = granted.body["order"]["id"].as_str().unwrap().to_string();
    let cancelled = app
        .post_if(
            &format!("/api/v1/orders/{order}/cancel"),
            &assessor,
            1,
            json!({"reason": "Beslutet återkallat"}),
        )
        .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);

    let install = |version: &'static str| {
        let (app, installer, order) = (&app, installer.clone(), order.clone());
        async move {
            app.send(
                "POST",
                &format!("/api/v1/orders/{order}/install"),
                Some(&installer),
                &[
                    ("Content-Type", "application/json"),
                    ("Idempotency-Key", "outbox-install-1"),
                    ("If-Match", version),
                ],
                Some(
                    json!({"installation_date": "2026-11-02", "serials": ["TX-1001"]})
                        .to_string()
                        .into_bytes(),
                ),
            )
            .await
        }
    };
    let stale = install("\"1\"").await;
    assert_eq!(stale.status, 412, "{}", stale.body);
    let fresh = install("\"2\"").await;
    assert_eq!(
        (fresh.status, fresh.problem_code().as_str()),
        (409, "invalid_transition"),
        "{}",
        fresh.body
    );
    assert!(fresh.body["detail_sv"]
        .as_str()
        .unwrap()
        .contains("makulerad"));
}
