//! The key register and equipment custody: every move, every refusal.

use crate::helpers::{Response, TestApp};
use crate::on_both_backends;
use chrono::{Duration, Utc};
use serde_json::{json, Value};

on_both_backends!(
    every_key_move_and_refusal,
    keys_received_and_returned_through_the_orders,
    two_clients_sign_out_the_same_key_exactly_one_wins,
    random_key_moves_leave_a_complete_chain,
    equipment_custody_from_stock_to_customer_and_back,
);

fn days_ago(n: i64) -> String {
    (Utc::now().date_naive() - Duration::days(n)).to_string()
}

async fn boo_customer(app: &TestApp, token: &str, other_municipality: bool) -> Value {
    let page = app.get("/api/v1/customers?limit=200", token).await;
    page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["address"]["city"] == "Saltsjö-Boo" && c["other_municipality"] == other_municipality
        })
        .unwrap()
        .clone()
}

async fn key_move(app: &TestApp, token: &str, key: &Value, mv: &str, body: Value) -> Response {
    let id = key["id"].as_str().unwrap();
    app.post_if(
        &format!("/api/v1/keys/{id}/{mv}"),
        token,
        key["version"].as_i64().unwrap(),
        body,
    )
    .await
}

fn assert_chain(history: &[Value], current_place: Option<&str>) {
    assert_eq!(
        history[0]["from"], "customer",
        "a key's chain starts at the customer"
    );
    for (i, pair) in history.windows(2).enumerate() {
        assert_eq!(
            pair[1]["from"],
            pair[0]["to"],
            "gap between moves {} and {}",
            i + 1,
            i + 2
        );
        assert_eq!(
            pair[1]["seq"].as_i64().unwrap(),
            pair[0]["seq"].as_i64().unwrap() + 1
        );
    }
    if let Some(place) = current_place {
        assert_eq!(history.last().unwrap()["to"], place);
    }
}

async fn every_key_move_and_refusal(app: TestApp) {
    let installer = app.login("installator").await;
    let care = app.login("hemtjanst").await;
    let admin = app.login("admin").await;
    let customer = boo_customer(&app, &installer, false).await;
    let cid = customer["id"].as_str().unwrap();
    let night = app.group_id(&admin, "Boo nattpatrull").await;

    let created = app
        .post("/api/v1/keys", Some(&installer), json!({"key_number": "B-1", "customer_id": cid, "count": 2, "cabinet": "Skåp 1", "hook": "4"}))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let key = created.body["key"].clone();
    assert_eq!(
        (key["custody"].as_str(), key["customer_number"].as_str()),
        (Some("in_cabinet"), customer["customer_number"].as_str())
    );
    let dup = app
        .post("/api/v1/keys", Some(&installer), json!({"key_number": "B-1", "customer_id": cid, "count": 1, "cabinet": "Skåp 1", "hook": "5"}))
        .await;
    assert_eq!(
        (dup.status, dup.problem_code().as_str()),
        (409, "key_number_taken")
    );

    // The night patrol signs it out; the register answers where it is, instantly.
    let out = key_move(&app, &care, &key, "sign-out", json!({"group_id": night})).await;
    assert_eq!(out.status, 200, "{}", out.body);
    let key = out.body["key"].clone();
    let held = app
        .get(&format!("/api/v1/keys?holder_group_id={night}"), &care)
        .await;
    assert_eq!(held.body.as_array().unwrap().len(), 1);
    let whereis = app
        .get(&format!("/api/v1/customers/{cid}/keys"), &care)
        .await;
    assert_eq!(whereis.body[0]["custody"], "signed_out");
    assert_eq!(whereis.body[0]["holder_group_id"], night.as_str());

    // Moving a key that is not where the register says: 409 saying where it is.
    let again = key_move(
        &app,
        &installer,
        &key,
        "sign-out",
        json!({"user_id": key["holder_group_id"]}),
    )
    .await;
    assert_eq!(
        (again.status, again.body["errors"][0]["field"].as_str()),
        (422, Some("user_id")),
        "a group id is not a user id: {}",
        again.body
    );
    let again = key_move(&app, &installer, &key, "return-to-customer", json!({})).await;
    assert_eq!(
        (again.status, again.problem_code().as_str()),
        (409, "key_not_there")
    );
    assert!(
        again.body["detail"]
            .as_str()
            .unwrap()
            .contains("signed out to Boo nattpatrull"),
        "{}",
        again.body
    );
    assert!(again.body["detail_sv"]
        .as_str()
        .unwrap()
        .contains("utkvitterad till Boo nattpatrull"));
    let stale = app
        .post_if(
            &format!("/api/v1/keys/{}/sign-in", key["id"].as_str().unwrap()),
            &care,
            1,
            json!({}),
        )
        .await;
    assert_eq!(
        (stale.status, stale.problem_code().as_str()),
        (412, "stale_version")
    );
    let neither = key_move(&app, &care, &key, "sign-out", json!({})).await;
    assert_eq!(neither.status, 422);

    // Back on another hook, in the night cabinet.
    let back = key_move(
        &app,
        &care,
        &key,
        "sign-in",
        json!({"cabinet": "Nattskåp", "hook": "9", "night_cabinet": true}),
    )
    .await;
    assert_eq!(back.status, 200, "{}", back.body);
    let key = back.body["key"].clone();
    assert_eq!(
        (key["cabinet"].as_str(), key["night_cabinet"].as_bool()),
        (Some("Nattskåp"), Some(true))
    );

    let lost = key_move(
        &app,
        &care,
        &key,
        "report-lost",
        json!({"note": "Tappad under nattpasset"}),
    )
    .await;
    let key = lost.body["key"].clone();
    let unaccounted = app.get("/api/v1/keys?unaccounted=true", &installer).await;
    assert!(unaccounted
        .body
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["key_number"] == "B-1"));
    let found = key_move(&app, &care, &key, "sign-in", json!({})).await;
    let key = found.body["key"].clone();
    let returned = key_move(&app, &installer, &key, "return-to-customer", json!({})).await;
    let key = returned.body["key"].clone();
    assert_eq!(key["custody"], "returned");
    let refused = key_move(&app, &care, &key, "sign-out", json!({"group_id": night})).await;
    assert!(refused.body["detail"]
        .as_str()
        .unwrap()
        .contains("returned to the customer"));
    let received = key_move(&app, &installer, &key, "receive-again", json!({})).await;
    assert_eq!(received.body["key"]["custody"], "in_cabinet");

    // Overdue: signed out longer than allowed (16 h by default).
    let key = received.body["key"].clone();
    let out = key_move(&app, &care, &key, "sign-out", json!({"group_id": night})).await;
    let key_id = out.body["key"]["id"].as_str().unwrap().to_string();
    app.db
        .run(move |conn| {
            use diesel::prelude::*;
            use larmkoll::db::schema::keys::dsl as k;
            let long_ago = larmkoll::db::now() - Duration::hours(20);
            Ok(diesel::update(k::keys.filter(k::id.eq(key_id)))
                .set(k::since.eq(long_ago))
                .execute(conn)?)
        })
        .await
        .unwrap();
    let overdue = app.get("/api/v1/keys?overdue=true", &installer).await;
    assert_eq!(overdue.body[0]["key_number"], "B-1");
    assert_eq!(overdue.body[0]["overdue"], true);

    // Only roles that handle keys move them; no list shows a personnummer.
    let billing = app.login("avgift").await;
    let denied = key_move(&app, &billing, &out.body["key"], "sign-in", json!({})).await;
    assert_eq!(denied.status, 403);
    let csv = app.get("/api/v1/keys.csv", &installer).await;
    let text = csv.body.as_str().unwrap();
    assert!(
        text.starts_with("\u{feff}nyckelnummer;kundnummer;antal;skåp;krok;nattskåp;var;sedan\r\n")
    );
    assert!(
        text.contains(&format!(
            "B-1;{};2;Nattskåp;9;ja;utkvitterad;",
            customer["customer_number"].as_str().unwrap()
        )),
        "{text}"
    );
    assert!(
        !text.contains("XXXX")
            && !app
                .get("/api/v1/keys", &installer)
                .await
                .body
                .to_string()
                .contains("XXXX")
    );

    let detail = app
        .get(
            &format!("/api/v1/keys/{}", key["id"].as_str().unwrap()),
            &installer,
        )
        .await;
    let history = detail.body["history"].as_array().unwrap();
    let moves: Vec<&str> = history
        .iter()
        .map(|m| m["move"].as_str().unwrap())
        .collect();
    assert_eq!(
        moves,
        [
            "receive",
            "sign_out",
            "sign_in",
            "report_lost",
            "sign_in",
            "return_to_customer",
            "receive",
            "sign_out"
        ]
    );
    assert_chain(history, Some(&format!("group:{night}")));
}

async fn keys_received_and_returned_through_the_orders(app: TestApp) {
    let assessor = app.login("handlaggare").await;
    let installer = app.login("installator").await;
    let coordinator = app.login("koordinator").await;
    let care = app.login("hemtjanst").await;
    let customer = boo_customer(&app, &assessor, false).await;
    let cid = customer["id"].as_str().unwrap();
    let granted = app
        .post(
            &format!("/api/v1/customers/{cid}/decisions"),
            Some(&assessor),
            json!({"service": "safety_alarm", "valid_from": days_ago(10)}),
        )
        .await;
    let step = |token: String, order: Value, event: &'static str, body: Value| {
        let app = &app;
        async move {
            let res = app
                .post_if(
                    &format!("/api/v1/orders/{}/{event}", order["id"].as_str().unwrap()),
                    &token,
                    order["version"].as_i64().unwrap(),
                    body,
                )
                .await;
            assert_eq!(res.status, 200, "{event}: {}", res.body);
            res.body["order"].clone()
        }
    };
    let order = step(
        installer.clone(),
        granted.body["order"].clone(),
        "book",
        json!({"visit_date": days_ago(9)}),
    )
    .await;
    let order = step(
        installer.clone(),
        order,
        "receive-keys",
        json!({"key_numbers": ["K-77", "K-78"], "count": 1, "cabinet": "Skåp 4", "hook": "12"}),
    )
    .await;
    let keys = app
        .get(&format!("/api/v1/customers/{cid}/keys"), &care)
        .await;
    assert_eq!(
        keys.body
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["key_number"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["K-77", "K-78"]
    );
    let order = step(
        installer.clone(),
        order,
        "install",
        json!({"installation_date": days_ago(8), "serials": ["TX-1020"]}),
    )
    .await;
    step(coordinator.clone(), order, "execute", json!({})).await;

    // One key is out with the night patrol when the alarm ends.
    let admin = app.login("admin").await;
    let night = app.group_id(&admin, "Boo nattpatrull").await;
    let k77 = keys.body[0].clone();
    let out = key_move(&app, &care, &k77, "sign-out", json!({"group_id": night})).await;
    assert_eq!(out.status, 200);
    let ended = app
        .post_if(
            &format!(
                "/api/v1/decisions/{}/end",
                granted.body["decision"]["id"].as_str().unwrap()
            ),
            &assessor,
            1,
            json!({"end_date": days_ago(1)}),
        )
        .await;
    let u = ended.body["uninstall_order"].clone();
    let to_collect = app
        .get("/api/v1/equipment/items?state=to_collect", &installer)
        .await;
    assert!(to_collect
        .body
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["serial"] == "TX-1020" && i["customer_id"] == cid));
    let u = step(
        installer.clone(),
        u,
        "collect-equipment",
        json!({"collected_on": days_ago(0), "items": ["TX-1020"]}),
    )
    .await;
    let refused = app
        .post_if(
            &format!("/api/v1/orders/{}/return-keys", u["id"].as_str().unwrap()),
            &installer,
            u["version"].as_i64().unwrap(),
            json!({"outcome": "returned"}),
        )
        .await;
    assert_eq!(
        (refused.status, refused.problem_code().as_str()),
        (409, "key_not_there")
    );
    assert!(refused.body["detail"].as_str().unwrap().contains("K-77"));
    let back = key_move(&app, &care, &out.body["key"], "sign-in", json!({})).await;
    assert_eq!(back.status, 200);
    let u = step(
        installer.clone(),
        u,
        "return-keys",
        json!({"outcome": "returned"}),
    )
    .await;
    assert_eq!(u["state"], "keys_returned");
    let keys = app
        .get(&format!("/api/v1/customers/{cid}/keys"), &care)
        .await;
    assert!(keys
        .body
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["custody"] == "returned"));
}

async fn two_clients_sign_out_the_same_key_exactly_one_wins(app: TestApp) {
    let installer = app.login("installator").await;
    let care = app.login("hemtjanst").await;
    let admin = app.login("admin").await;
    let customer = boo_customer(&app, &installer, false).await;
    let night = app.group_id(&admin, "Boo nattpatrull").await;
    let home = app.group_id(&admin, "Boo hemtjänst").await;
    let created = app
        .post("/api/v1/keys", Some(&installer), json!({"key_number": "C-1", "customer_id": customer["id"], "count": 1, "cabinet": "Skåp 1", "hook": "1"}))
        .await;
    let key = created.body["key"].clone();
    let (a, b) = futures_util::join!(
        key_move(&app, &care, &key, "sign-out", json!({"group_id": night})),
        key_move(
            &app,
            &installer,
            &key,
            "sign-out",
            json!({"group_id": home})
        ),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses[0], 200, "{} / {}", a.body, b.body);
    assert!(
        statuses[1] == 409 || statuses[1] == 412,
        "{} / {}",
        a.body,
        b.body
    );
    let detail = app
        .get(
            &format!("/api/v1/keys/{}", key["id"].as_str().unwrap()),
            &installer,
        )
        .await;
    assert_eq!(
        detail.body["history"].as_array().unwrap().len(),
        2,
        "one receive, one sign-out"
    );
}

async fn random_key_moves_leave_a_complete_chain(app: TestApp) {
    let installer = app.login("installator").await;
    let care = app.login("hemtjanst").await;
    let admin = app.login("admin").await;
    let customer = boo_customer(&app, &installer, false).await;
    let groups = [
        app.group_id(&admin, "Boo nattpatrull").await,
        app.group_id(&admin, "Boo hemtjänst").await,
    ];
    let mut seed: u64 = 0x00ce_1004;
    let mut next = |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) as usize) % n
    };
    let (mut accepted, mut answers, mut places) = (
        std::collections::BTreeSet::new(),
        std::collections::BTreeSet::new(),
        std::collections::BTreeSet::new(),
    );
    for round in 0..3 {
        let created = app
            .post(
                "/api/v1/keys",
                Some(&installer),
                json!({"key_number": format!("R-{round}"), "customer_id": customer["id"], "count": 1, "cabinet": "Skåp 9", "hook": round.to_string()}),
            )
            .await;
        let mut key = created.body["key"].clone();
        let mut ok = 0;
        for _ in 0..25 {
            let (mv, body) = match next(6) {
                0 | 1 => ("sign-out", json!({"group_id": groups[next(2)]})),
                2 => (
                    "sign-in",
                    json!({"cabinet": "Skåp 9", "hook": next(30).to_string()}),
                ),
                3 => ("return-to-customer", json!({})),
                4 => ("report-lost", json!({"note": "slump"})),
                _ => ("receive-again", json!({})),
            };
            let token = if next(2) == 0 { &care } else { &installer };
            // Now and then with a stale version, as a phone that has not synced.
            let res = if next(8) == 0 {
                app.post_if(
                    &format!("/api/v1/keys/{}/{mv}", key["id"].as_str().unwrap()),
                    token,
                    1,
                    body,
                )
                .await
            } else {
                key_move(&app, token, &key, mv, body).await
            };
            assert!(
                [200, 409, 412].contains(&res.status),
                "{mv}: {} {}",
                res.status,
                res.body
            );
            answers.insert(res.status);
            if res.status == 200 {
                key = res.body["key"].clone();
                accepted.insert(mv);
                places.insert(key["custody"].as_str().unwrap().to_string());
                ok += 1;
            }
        }
        let detail = app
            .get(
                &format!("/api/v1/keys/{}", key["id"].as_str().unwrap()),
                &installer,
            )
            .await;
        let history = detail.body["history"].as_array().unwrap();
        assert_eq!(
            history.len(),
            ok + 1,
            "every successful move, and only those, is recorded"
        );
        assert_chain(history, None);
        let last = history.last().unwrap()["to"].as_str().unwrap();
        let expected = match detail.body["key"]["custody"].as_str().unwrap() {
            "in_cabinet" => format!(
                "cabinet:{}/{}",
                detail.body["key"]["cabinet"].as_str().unwrap(),
                detail.body["key"]["hook"].as_str().unwrap()
            ),
            "signed_out" => format!(
                "group:{}",
                detail.body["key"]["holder_group_id"].as_str().unwrap()
            ),
            "returned" => "customer".into(),
            _ => "lost".into(),
        };
        assert_eq!(
            last, expected,
            "the chain ends where the register says the key is"
        );
    }
    // What the walk reached (the generator is fixed): every move, every
    // place, and both refusals — a walk that stopped moving proves nothing.
    assert_eq!(
        accepted,
        [
            "receive-again",
            "report-lost",
            "return-to-customer",
            "sign-in",
            "sign-out"
        ]
        .into(),
    );
    assert_eq!(
        places,
        ["in_cabinet", "lost", "returned", "signed_out"]
            .map(String::from)
            .into()
    );
    assert_eq!(answers, [200, 409, 412].into());
}

async fn equipment_custody_from_stock_to_customer_and_back(app: TestApp) {
    let assessor = app.login("handlaggare").await;
    let installer = app.login("installator").await;
    let coordinator = app.login("koordinator").await;
    let care = app.login("hemtjanst").await;
    let admin = app.login("admin").await;
    let page = app.get("/api/v1/customers?limit=200", &assessor).await;
    let boo: Vec<Value> = page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["address"]["city"] == "Saltsjö-Boo")
        .cloned()
        .collect();
    let with_consent = boo
        .iter()
        .find(|c| c["consent"]["digital_lock"]["given"] == true && c["other_municipality"] == false)
        .unwrap();
    let other = boo
        .iter()
        .find(|c| c["other_municipality"] == true)
        .unwrap();
    let plain = boo
        .iter()
        .find(|c| {
            c["consent"]["digital_lock"]["given"] == false && c["other_municipality"] == false
        })
        .unwrap();
    let item = |serial: &'static str| {
        let app = &app;
        let token = installer.clone();
        async move {
            app.get(&format!("/api/v1/equipment/items?serial={serial}"), &token)
                .await
                .body[0]
                .clone()
        }
    };

    // A receipt product bridges the time until the lock is mounted, never for another municipality's customer.
    let kv = item("KV-4001").await;
    let refused = app
        .post_if(
            &format!(
                "/api/v1/equipment/items/{}/hand-out",
                kv["id"].as_str().unwrap()
            ),
            &care,
            1,
            json!({"customer_id": other["id"]}),
        )
        .await;
    assert_eq!(
        (refused.status, refused.problem_code().as_str()),
        (422, "other_municipality_no_lock")
    );
    let handed = app
        .post_if(
            &format!(
                "/api/v1/equipment/items/{}/hand-out",
                kv["id"].as_str().unwrap()
            ),
            &care,
            1,
            json!({"customer_id": with_consent["id"]}),
        )
        .await;
    assert_eq!(
        handed.body["item"]["state"], "at_customer",
        "{}",
        handed.body
    );

    // Installing: an unknown serial names the closest known ones; wrong kinds and items elsewhere are refused.
    let granted = app
        .post(
            &format!(
                "/api/v1/customers/{}/decisions",
                with_consent["id"].as_str().unwrap()
            ),
            Some(&assessor),
            json!({"service": "digital_lock", "valid_from": days_ago(5)}),
        )
        .await;
    let order = granted.body["order"].clone();
    let booked = app
        .post_if(
            &format!("/api/v1/orders/{}/book", order["id"].as_str().unwrap()),
            &installer,
            1,
            json!({"visit_date": days_ago(4)}),
        )
        .await;
    let install = |serials: Value| {
        let app = &app;
        let token = installer.clone();
        let id = order["id"].as_str().unwrap().to_string();
        async move {
            app.post_if(
                &format!("/api/v1/orders/{id}/install"),
                &token,
                2,
                json!({"installation_date": days_ago(3), "serials": serials}),
            )
            .await
        }
    };
    assert_eq!(booked.status, 200);
    let typo = install(json!(["PH-30O1"])).await;
    assert_eq!(typo.status, 422);
    assert_eq!(typo.body["errors"][0]["code"], "unknown_serial");
    assert!(
        typo.body["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("PH-3001"),
        "{}",
        typo.body
    );
    let wrong_kind = install(json!(["TX-1030"])).await;
    assert_eq!(wrong_kind.body["errors"][0]["code"], "wrong_kind");

    // Another customer already has PH-3002.
    let g2 = app
        .post(
            &format!(
                "/api/v1/customers/{}/decisions",
                plain["id"].as_str().unwrap()
            ),
            Some(&assessor),
            json!({"service": "safety_alarm", "valid_from": days_ago(5)}),
        )
        .await;
    let o2 = app
        .post_if(
            &format!(
                "/api/v1/orders/{}/book",
                g2.body["order"]["id"].as_str().unwrap()
            ),
            &installer,
            1,
            json!({"visit_date": days_ago(4)}),
        )
        .await;
    let i2 = app
        .post_if(
            &format!(
                "/api/v1/orders/{}/install",
                o2.body["order"]["id"].as_str().unwrap()
            ),
            &installer,
            2,
            json!({"installation_date": days_ago(3), "serials": ["TX-1031"]}),
        )
        .await;
    assert_eq!(i2.status, 200, "{}", i2.body);
    let elsewhere = install(json!(["TX-1031"])).await;
    assert_eq!(
        elsewhere.status, 422,
        "an alarm unit is the wrong kind for a lock order anyway"
    );
    let lock_elsewhere_order = app
        .post(
            &format!(
                "/api/v1/customers/{}/decisions",
                plain["id"].as_str().unwrap()
            ),
            Some(&assessor),
            json!({"service": "safety_alarm", "valid_from": days_ago(5)}),
        )
        .await;
    assert_eq!(lock_elsewhere_order.status, 409, "already ordered");

    let done = install(json!(["PH-3001"])).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(
        item("KV-4001").await["state"],
        "collected",
        "the receipt product is removed when the lock is mounted"
    );
    let ph = item("PH-3001").await;
    assert_eq!(
        (ph["state"].as_str(), ph["customer_id"].as_str()),
        (Some("at_customer"), with_consent["id"].as_str())
    );

    // The admin links the mounted lock to its customer; others may not.
    let link_path = format!(
        "/api/v1/equipment/items/{}/link",
        ph["id"].as_str().unwrap()
    );
    assert_eq!(
        app.post_if(
            &link_path,
            &coordinator,
            ph["version"].as_i64().unwrap(),
            json!({"customer_id": with_consent["id"]})
        )
        .await
        .status,
        403
    );
    let linked = app
        .post_if(
            &link_path,
            &admin,
            ph["version"].as_i64().unwrap(),
            json!({"customer_id": with_consent["id"]}),
        )
        .await;
    assert_eq!(
        linked.body["item"]["linked_customer_id"], with_consent["id"],
        "{}",
        linked.body
    );
    let wrong_link = app
        .post_if(
            &link_path,
            &admin,
            linked.body["item"]["version"].as_i64().unwrap(),
            json!({"customer_id": plain["id"]}),
        )
        .await;
    assert_eq!(wrong_link.problem_code(), "not_mounted_here");

    // The KV item goes back to stock, then is scrapped; its chain is complete.
    let kv = item("KV-4001").await;
    let restocked = app
        .post_if(
            &format!(
                "/api/v1/equipment/items/{}/restock",
                kv["id"].as_str().unwrap()
            ),
            &installer,
            kv["version"].as_i64().unwrap(),
            json!({}),
        )
        .await;
    assert_eq!(restocked.body["item"]["state"], "in_stock");
    let scrapped = app
        .post_if(
            &format!(
                "/api/v1/equipment/items/{}/scrap",
                kv["id"].as_str().unwrap()
            ),
            &coordinator,
            restocked.body["item"]["version"].as_i64().unwrap(),
            json!({"note": "Trasig"}),
        )
        .await;
    let history = scrapped.body["history"].as_array().unwrap();
    let states: Vec<&str> = history.iter().map(|m| m["to"].as_str().unwrap()).collect();
    assert_eq!(
        states,
        [
            "in_stock",
            "at_customer",
            "collected",
            "in_stock",
            "scrapped"
        ]
    );
    for pair in history.windows(2) {
        assert_eq!(pair[1]["from"], pair[0]["to"]);
    }
    let again = app
        .post_if(
            &format!(
                "/api/v1/equipment/items/{}/restock",
                kv["id"].as_str().unwrap()
            ),
            &installer,
            scrapped.body["item"]["version"].as_i64().unwrap(),
            json!({}),
        )
        .await;
    assert_eq!(
        (again.status, again.problem_code().as_str()),
        (409, "item_not_there")
    );

    // The list to collect and the CSV for the printer.
    let csv = app
        .get("/api/v1/equipment/items.csv?state=at_customer", &installer)
        .await;
    let text = csv.body.as_str().unwrap();
    assert!(text.starts_with("\u{feff}typ;leverantör;serienummer;läge;kundnummer\r\n"));
    assert!(
        text.contains(&format!(
            "Låsvred;Phoniro;PH-3001;hos kund;{}",
            with_consent["customer_number"].as_str().unwrap()
        )),
        "{text}"
    );
    let models = app.get("/api/v1/equipment/models", &installer).await;
    assert_eq!(models.body.as_array().unwrap().len(), 4);
    let new_model = app
        .post(
            "/api/v1/equipment/models",
            Some(&admin),
            json!({"kind": "alarm_button", "supplier": "Doro", "model": "Secure 580"}),
        )
        .await;
    assert_eq!(new_model.status, 201);
    let new_item = app
        .post(
            "/api/v1/equipment/items",
            Some(&coordinator),
            json!({"model_id": new_model.body["id"], "serial": "TX-1001"}),
        )
        .await;
    assert_eq!(
        new_item.status, 201,
        "serials are unique per supplier and kind, not globally"
    );
    let dup = app
        .post(
            "/api/v1/equipment/items",
            Some(&coordinator),
            json!({"model_id": new_model.body["id"], "serial": "TX-1001"}),
        )
        .await;
    assert_eq!(
        (dup.status, dup.problem_code().as_str()),
        (409, "serial_taken")
    );
}

on_both_backends!(equipment_refusals_and_random_item_moves_leave_a_complete_chain);

async fn equipment_refusals_and_random_item_moves_leave_a_complete_chain(app: TestApp) {
    let assessor = app.login("handlaggare").await;
    let installer = app.login("installator").await;
    let care = app.login("hemtjanst").await;
    let admin = app.login("admin").await;
    let page = app.get("/api/v1/customers?limit=200", &assessor).await;
    let boo: Vec<Value> = page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["address"]["city"] == "Saltsjö-Boo" && c["other_municipality"] == false)
        .cloned()
        .collect();

    // An alarm unit installed at one customer cannot be installed at another: 409 saying where.
    let mut orders = Vec::new();
    for c in &boo[..2] {
        let g = app
            .post(
                &format!("/api/v1/customers/{}/decisions", c["id"].as_str().unwrap()),
                Some(&assessor),
                json!({"service": "safety_alarm", "valid_from": days_ago(3)}),
            )
            .await;
        let id = g.body["order"]["id"].as_str().unwrap().to_string();
        assert_eq!(
            app.post_if(
                &format!("/api/v1/orders/{id}/book"),
                &installer,
                1,
                json!({"visit_date": days_ago(2)})
            )
            .await
            .status,
            200
        );
        orders.push(id);
    }
    let first = app
        .post_if(
            &format!("/api/v1/orders/{}/install", orders[0]),
            &installer,
            2,
            json!({"installation_date": days_ago(1), "serials": ["TX-1036", "WB-2036"]}),
        )
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let second = app
        .post_if(
            &format!("/api/v1/orders/{}/install", orders[1]),
            &installer,
            2,
            json!({"installation_date": days_ago(1), "serials": ["TX-1037", "WB-2036"]}),
        )
        .await;
    assert_eq!(
        (second.status, second.problem_code().as_str()),
        (409, "item_at_other_customer")
    );
    assert!(
        second.body["detail"]
            .as_str()
            .unwrap()
            .contains(boo[0]["customer_number"].as_str().unwrap()),
        "{}",
        second.body
    );
    let tx37 = app
        .get("/api/v1/equipment/items?serial=TX-1037", &installer)
        .await;
    assert_eq!(
        tx37.body[0]["state"], "in_stock",
        "the refused install moved nothing"
    );

    // The lock link is the admin's; unlinking what is not linked is refused.
    let ph = app
        .get("/api/v1/equipment/items?serial=PH-3015", &installer)
        .await
        .body[0]
        .clone();
    let unlink = app
        .post_if(
            &format!(
                "/api/v1/equipment/items/{}/unlink",
                ph["id"].as_str().unwrap()
            ),
            &admin,
            1,
            json!({}),
        )
        .await;
    assert_eq!(
        (unlink.status, unlink.problem_code().as_str()),
        (409, "not_linked")
    );

    // Random moves of a receipt product by random people: the chain never breaks.
    let mut seed: u64 = 0x0000_4004;
    let mut next = |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) as usize) % n
    };
    let mut item = app
        .get("/api/v1/equipment/items?serial=KV-4005", &installer)
        .await
        .body[0]
        .clone();
    let mut ok = 0;
    let (mut item_moves, mut item_answers) = (
        std::collections::BTreeSet::new(),
        std::collections::BTreeSet::new(),
    );
    for _ in 0..30 {
        let (mv, body) = match next(4) {
            0 => (
                "hand-out",
                json!({"customer_id": boo[next(boo.len())]["id"]}),
            ),
            1 => ("collect", json!({})),
            2 => ("restock", json!({})),
            _ => ("scrap", json!({"note": "slump"})),
        };
        let token = [&installer, &care, &admin][next(3)];
        let res = app
            .post_if(
                &format!(
                    "/api/v1/equipment/items/{}/{mv}",
                    item["id"].as_str().unwrap()
                ),
                token,
                item["version"].as_i64().unwrap(),
                body,
            )
            .await;
        assert!(
            [200, 403, 409].contains(&res.status),
            "{mv}: {} {}",
            res.status,
            res.body
        );
        item_answers.insert(res.status);
        if res.status == 200 {
            item = res.body["item"].clone();
            item_moves.insert(mv);
            ok += 1;
        }
        if item["state"] == "scrapped" {
            break;
        }
    }
    let detail = app
        .get(
            &format!("/api/v1/equipment/items/{}", item["id"].as_str().unwrap()),
            &admin,
        )
        .await;
    let history = detail.body["history"].as_array().unwrap();
    assert!(ok >= 3, "the walk must move the item ({ok} moves)");
    assert_eq!(
        item_moves,
        ["collect", "hand-out", "restock", "scrap"].into()
    );
    assert_eq!(item_answers, [200, 403, 409].into());
    assert_eq!(
        history.len(),
        ok + 1,
        "every successful move, and only those"
    );
    assert_eq!(history[0]["from"], "new");
    for pair in history.windows(2) {
        assert_eq!(pair[1]["from"], pair[0]["to"]);
        assert_eq!(
            pair[1]["seq"].as_i64().unwrap(),
            pair[0]["seq"].as_i64().unwrap() + 1
        );
    }
    assert_eq!(history.last().unwrap()["to"], detail.body["item"]["state"]);
}
