//! The key register and equipment custody: every move, every refusal.

use crate::helpers::TestApp;
use crate::on_both_backends;
use crate::steps::{days_ago, Customer, Item, Key};
use chrono::Duration;
use serde_json::{json, Value};

on_both_backends!(
    every_key_move_and_refusal,
    keys_received_and_returned_through_the_orders,
    two_clients_sign_out_the_same_key_exactly_one_wins,
    random_key_moves_leave_a_complete_chain,
    equipment_custody_from_stock_to_customer_and_back,
);

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
    let installer = app.as_installer().await;
    let care = app.as_care_staff().await;
    let admin = app.as_admin().await;
    let customer = installer.boo_customer(false).await;
    let cid = &customer.id;
    let night = admin.group("Boo nattpatrull").await;

    let key = installer
        .create_key(json!({"key_number": "B-1", "customer_id": cid, "count": 2, "cabinet": "Skåp 1", "hook": "4"}))
        .await;
    assert_eq!(
        (key["custody"].as_str(), key["customer_number"].as_str()),
        (Some("in_cabinet"), Some(customer.number()))
    );
    // Found by its number as a person types it; what no tag can carry finds nothing.
    let found = installer.get("/api/v1/keys?key_number=b%201").await;
    assert_eq!(found.status, 200, "{}", found.body);
    let found = found.body.as_array().unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["key_number"], "B-1");
    let none = installer.get("/api/v1/keys?key_number=B-2").await;
    assert_eq!(none.body.as_array().unwrap().len(), 0);
    let never = installer.get("/api/v1/keys?key_number=%23%23").await;
    assert_eq!(
        (never.status, never.body.as_array().unwrap().len()),
        (200, 0)
    );
    let dup = installer
        .post("/api/v1/keys", json!({"key_number": "B-1", "customer_id": cid, "count": 1, "cabinet": "Skåp 1", "hook": "5"}))
        .await;
    assert_eq!(
        (dup.status, dup.problem_code().as_str()),
        (409, "key_number_taken")
    );

    // The night patrol signs it out; the register answers where it is, instantly.
    let key = care.sign_out_key(&key, &night).await;
    let held = care
        .get(&format!("/api/v1/keys?holder_group_id={night}"))
        .await;
    assert_eq!(held.body.as_array().unwrap().len(), 1);
    let whereis = care.get(&format!("/api/v1/customers/{cid}/keys")).await;
    assert_eq!(whereis.body[0]["custody"], "signed_out");
    assert_eq!(whereis.body[0]["holder_group_id"], night.as_str());

    // Moving a key that is not where the register says: 409 saying where it is.
    let again = installer
        .try_key_move(&key, "sign-out", json!({"user_id": key["holder_group_id"]}))
        .await;
    assert_eq!(
        (again.status, again.body["errors"][0]["field"].as_str()),
        (422, Some("user_id")),
        "a group id is not a user id: {}",
        again.body
    );
    let again = installer
        .try_key_move(&key, "return-to-customer", json!({}))
        .await;
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
    let stale = care
        .post_if(&format!("/api/v1/keys/{}/sign-in", key.id), 1, json!({}))
        .await;
    assert_eq!(
        (stale.status, stale.problem_code().as_str()),
        (412, "stale_version")
    );
    let neither = care.try_key_move(&key, "sign-out", json!({})).await;
    assert_eq!(neither.status, 422);

    // Back on another hook, in the night cabinet.
    let key = care
        .sign_in_key(
            &key,
            json!({"cabinet": "Nattskåp", "hook": "9", "night_cabinet": true}),
        )
        .await;
    assert_eq!(
        (key["cabinet"].as_str(), key["night_cabinet"].as_bool()),
        (Some("Nattskåp"), Some(true))
    );

    let key = care
        .key_move(
            &key,
            "report-lost",
            json!({"note": "Tappad under nattpasset"}),
        )
        .await;
    let unaccounted = installer.get("/api/v1/keys?unaccounted=true").await;
    assert!(unaccounted
        .body
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["key_number"] == "B-1"));
    let key = care.sign_in_key(&key, json!({})).await;
    let key = installer
        .key_move(&key, "return-to-customer", json!({}))
        .await;
    assert_eq!(key["custody"], "returned");
    let refused = care
        .try_key_move(&key, "sign-out", json!({"group_id": night}))
        .await;
    assert!(refused.body["detail"]
        .as_str()
        .unwrap()
        .contains("returned to the customer"));
    let key = installer.key_move(&key, "receive-again", json!({})).await;
    assert_eq!(key["custody"], "in_cabinet");

    // Overdue: signed out longer than allowed (16 h by default).
    let out = care.sign_out_key(&key, &night).await;
    let key_id = out.id.0.clone();
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
    let overdue = installer.get("/api/v1/keys?overdue=true").await;
    assert_eq!(overdue.body[0]["key_number"], "B-1");
    assert_eq!(overdue.body[0]["overdue"], true);

    // Only roles that handle keys move them; no list shows a personnummer.
    let billing = app.as_billing().await;
    let denied = billing.try_key_move(&out, "sign-in", json!({})).await;
    assert_eq!(denied.status, 403);
    let csv = installer.get("/api/v1/keys.csv").await;
    let text = csv.body.as_str().unwrap();
    assert!(
        text.starts_with("\u{feff}nyckelnummer;kundnummer;antal;skåp;krok;nattskåp;var;sedan\r\n")
    );
    assert!(
        text.contains(&format!(
            "B-1;{};2;Nattskåp;9;ja;utkvitterad;",
            customer.number()
        )),
        "{text}"
    );
    assert!(
        !text.contains("XXXX")
            && !installer
                .get("/api/v1/keys")
                .await
                .body
                .to_string()
                .contains("XXXX")
    );

    let detail = installer.key_detail(&key.id).await;
    let history = detail["history"].as_array().unwrap();
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
    let assessor = app.as_assessor().await;
    let installer = app.as_installer().await;
    let coordinator = app.as_coordinator().await;
    let care = app.as_care_staff().await;
    let customer = assessor.boo_customer(false).await;
    let cid = &customer.id;
    let granted = assessor
        .grant(
            cid,
            json!({"service": "safety_alarm", "valid_from": days_ago(10)}),
        )
        .await;
    let order = installer.book(&granted.order, days_ago(9)).await;
    let order = installer
        .receive_keys(
            &order,
            json!({"key_numbers": ["K-77", "K-78"], "count": 1, "cabinet": "Skåp 4", "hook": "12"}),
        )
        .await;
    let keys = care.keys_of(cid).await;
    assert_eq!(
        keys.iter()
            .map(|k| k["key_number"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["K-77", "K-78"]
    );
    let order = installer.install(&order, days_ago(8), &["TX-1020"]).await;
    coordinator.execute(&order).await;

    // One key is out with the night patrol when the alarm ends.
    let admin = app.as_admin().await;
    let night = admin.group("Boo nattpatrull").await;
    let k77 = care.sign_out_key(&keys[0], &night).await;
    let ended = assessor.end_decision(&granted.decision, days_ago(1)).await;
    let to_collect = installer
        .get("/api/v1/equipment/items?state=to_collect")
        .await;
    assert!(to_collect
        .body
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["serial"] == "TX-1020" && i["customer_id"] == customer.id));
    let u = installer
        .collect_equipment(&ended.uninstall_order, days_ago(0), &["TX-1020"])
        .await;
    let refused = installer
        .try_step(&u, "return-keys", json!({"outcome": "returned"}))
        .await;
    assert_eq!(
        (refused.status, refused.problem_code().as_str()),
        (409, "key_not_there")
    );
    assert!(refused.body["detail"].as_str().unwrap().contains("K-77"));
    care.sign_in_key(&k77, json!({})).await;
    let u = installer.return_keys(&u, "returned").await;
    assert_eq!(u["state"], "keys_returned");
    assert!(care
        .keys_of(cid)
        .await
        .iter()
        .all(|k| k["custody"] == "returned"));
}

async fn two_clients_sign_out_the_same_key_exactly_one_wins(app: TestApp) {
    let installer = app.as_installer().await;
    let care = app.as_care_staff().await;
    let admin = app.as_admin().await;
    let customer = installer.boo_customer(false).await;
    let night = admin.group("Boo nattpatrull").await;
    let home = admin.group("Boo hemtjänst").await;
    let key = installer
        .create_key(json!({"key_number": "C-1", "customer_id": customer.id, "count": 1, "cabinet": "Skåp 1", "hook": "1"}))
        .await;
    let (a, b) = futures_util::join!(
        care.try_key_move(&key, "sign-out", json!({"group_id": night})),
        installer.try_key_move(&key, "sign-out", json!({"group_id": home})),
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
    let detail = installer.key_detail(&key.id).await;
    assert_eq!(
        detail["history"].as_array().unwrap().len(),
        2,
        "one receive, one sign-out"
    );
}

async fn random_key_moves_leave_a_complete_chain(app: TestApp) {
    let installer = app.as_installer().await;
    let care = app.as_care_staff().await;
    let admin = app.as_admin().await;
    let customer = installer.boo_customer(false).await;
    let groups = [
        admin.group("Boo nattpatrull").await,
        admin.group("Boo hemtjänst").await,
    ];
    let mut seed: u64 = 0x00ce_1004;
    let mut next = |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) as usize) % n
    };
    // What the walk reached, so a walk that silently does nothing fails.
    let mut moved = std::collections::BTreeSet::new();
    let mut custodies = std::collections::BTreeSet::new();
    let (mut accepted, mut refused, mut stale) = (0, 0, 0);
    for round in 0..3 {
        let mut key = installer
            .create_key(json!({"key_number": format!("R-{round}"), "customer_id": customer.id, "count": 1, "cabinet": "Skåp 9", "hook": round.to_string()}))
            .await;
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
            let who = if next(2) == 0 { &care } else { &installer };
            // Now and then with a stale version, as a phone that has not synced.
            let res = if next(8) == 0 {
                who.post_if(&format!("/api/v1/keys/{}/{mv}", key.id), 1, body)
                    .await
            } else {
                who.try_key_move(&key, mv, body).await
            };
            assert!(
                [200, 409, 412].contains(&res.status),
                "{mv}: {} {}",
                res.status,
                res.body
            );
            if res.status == 200 {
                key = Key::new(res.body["key"].clone());
                ok += 1;
                moved.insert(mv);
                custodies.insert(key["custody"].as_str().unwrap().to_string());
            } else if res.status == 412 {
                stale += 1;
            } else {
                refused += 1;
            }
        }
        accepted += ok;
        let detail = installer.key_detail(&key.id).await;
        let history = detail["history"].as_array().unwrap();
        assert_eq!(
            history.len(),
            ok + 1,
            "every successful move, and only those, is recorded"
        );
        assert_chain(history, None);
        let last = history.last().unwrap()["to"].as_str().unwrap();
        let expected = match detail["key"]["custody"].as_str().unwrap() {
            "in_cabinet" => format!(
                "cabinet:{}/{}",
                detail["key"]["cabinet"].as_str().unwrap(),
                detail["key"]["hook"].as_str().unwrap()
            ),
            "signed_out" => format!(
                "group:{}",
                detail["key"]["holder_group_id"].as_str().unwrap()
            ),
            "returned" => "customer".into(),
            _ => "lost".into(),
        };
        assert_eq!(
            last, expected,
            "the chain ends where the register says the key is"
        );
    }
    eprintln!(
        "key walk: {accepted} moves, {refused} refused, {stale} stale; moved {moved:?}; been {custodies:?}"
    );
    // The seed's walk (deterministic) makes every move and visits every place.
    assert!(
        accepted >= 20 && refused >= 10 && stale >= 1,
        "{accepted} moves, {refused} refused, {stale} stale"
    );
    assert_eq!(
        moved.into_iter().collect::<Vec<_>>(),
        [
            "receive-again",
            "report-lost",
            "return-to-customer",
            "sign-in",
            "sign-out"
        ]
    );
    assert_eq!(
        custodies.into_iter().collect::<Vec<_>>(),
        ["in_cabinet", "lost", "returned", "signed_out"]
    );
}

async fn equipment_custody_from_stock_to_customer_and_back(app: TestApp) {
    let assessor = app.as_assessor().await;
    let installer = app.as_installer().await;
    let coordinator = app.as_coordinator().await;
    let care = app.as_care_staff().await;
    let admin = app.as_admin().await;
    let boo: Vec<Customer> = assessor
        .customers()
        .await
        .into_iter()
        .filter(|c| c["address"]["city"] == "Saltsjö-Boo")
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

    // A receipt product bridges the time until the lock is mounted, never for another municipality's customer.
    let kv = installer.item("KV-4001").await;
    let refused = care
        .try_item_move(&kv, "hand-out", json!({"customer_id": other.id}))
        .await;
    assert_eq!(
        (refused.status, refused.problem_code().as_str()),
        (422, "other_municipality_no_lock")
    );
    let handed = care
        .try_item_move(&kv, "hand-out", json!({"customer_id": with_consent.id}))
        .await;
    assert_eq!(
        handed.body["item"]["state"], "at_customer",
        "{}",
        handed.body
    );

    // Installing: an unknown serial names the closest known ones; wrong kinds and items elsewhere are refused.
    let granted = assessor
        .grant(
            &with_consent.id,
            json!({"service": "digital_lock", "valid_from": days_ago(5)}),
        )
        .await;
    let booked = installer.book(&granted.order, days_ago(4)).await;
    let install = |serials: Value| {
        installer.try_step(
            &booked,
            "install",
            json!({"installation_date": days_ago(3), "serials": serials}),
        )
    };
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
    let g2 = assessor
        .grant(
            &plain.id,
            json!({"service": "safety_alarm", "valid_from": days_ago(5)}),
        )
        .await;
    let o2 = installer.book(&g2.order, days_ago(4)).await;
    installer.install(&o2, days_ago(3), &["TX-1031"]).await;
    let elsewhere = install(json!(["TX-1031"])).await;
    assert_eq!(
        elsewhere.status, 422,
        "an alarm unit is the wrong kind for a lock order anyway"
    );
    let lock_elsewhere_order = assessor
        .try_grant(
            &plain.id,
            json!({"service": "safety_alarm", "valid_from": days_ago(5)}),
        )
        .await;
    assert_eq!(lock_elsewhere_order.status, 409, "already ordered");

    let done = install(json!(["PH-3001"])).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(
        installer.item("KV-4001").await["state"],
        "collected",
        "the receipt product is removed when the lock is mounted"
    );
    let ph = installer.item("PH-3001").await;
    assert_eq!(
        (ph["state"].as_str(), ph["customer_id"].as_str()),
        (Some("at_customer"), Some(with_consent.id.as_str()))
    );

    // The admin links the mounted lock to its customer; others may not.
    assert_eq!(
        coordinator
            .try_item_move(&ph, "link", json!({"customer_id": with_consent.id}))
            .await
            .status,
        403
    );
    let linked = admin
        .try_item_move(&ph, "link", json!({"customer_id": with_consent.id}))
        .await;
    assert_eq!(
        linked.body["item"]["linked_customer_id"], with_consent.id,
        "{}",
        linked.body
    );
    let wrong_link = admin
        .try_item_move(
            &Item::new(linked.body["item"].clone()),
            "link",
            json!({"customer_id": plain.id}),
        )
        .await;
    assert_eq!(wrong_link.problem_code(), "not_mounted_here");

    // The KV item goes back to stock, then is scrapped; its chain is complete.
    let kv = installer.item("KV-4001").await;
    let restocked = installer.try_item_move(&kv, "restock", json!({})).await;
    assert_eq!(restocked.body["item"]["state"], "in_stock");
    let scrapped = coordinator
        .try_item_move(
            &Item::new(restocked.body["item"].clone()),
            "scrap",
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
    let again = installer
        .try_item_move(
            &Item::new(scrapped.body["item"].clone()),
            "restock",
            json!({}),
        )
        .await;
    assert_eq!(
        (again.status, again.problem_code().as_str()),
        (409, "item_not_there")
    );

    // The list to collect and the CSV for the printer.
    let csv = installer
        .get("/api/v1/equipment/items.csv?state=at_customer")
        .await;
    let text = csv.body.as_str().unwrap();
    assert!(text.starts_with("\u{feff}typ;leverantör;serienummer;läge;kundnummer\r\n"));
    assert!(
        text.contains(&format!(
            "Låsvred;Phoniro;PH-3001;hos kund;{}",
            with_consent.number()
        )),
        "{text}"
    );
    let models = installer.get("/api/v1/equipment/models").await;
    assert_eq!(models.body.as_array().unwrap().len(), 4);
    let new_model = admin
        .post(
            "/api/v1/equipment/models",
            json!({"kind": "alarm_button", "supplier": "Doro", "model": "Secure 580"}),
        )
        .await;
    assert_eq!(new_model.status, 201);
    let new_item = coordinator
        .post(
            "/api/v1/equipment/items",
            json!({"model_id": new_model.body["id"], "serial": "TX-1001"}),
        )
        .await;
    assert_eq!(
        new_item.status, 201,
        "serials are unique per supplier and kind, not globally"
    );
    let dup = coordinator
        .post(
            "/api/v1/equipment/items",
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
    let assessor = app.as_assessor().await;
    let installer = app.as_installer().await;
    let care = app.as_care_staff().await;
    let admin = app.as_admin().await;
    let boo: Vec<Customer> = assessor
        .customers()
        .await
        .into_iter()
        .filter(|c| c["address"]["city"] == "Saltsjö-Boo" && c["other_municipality"] == false)
        .collect();

    // An alarm unit installed at one customer cannot be installed at another: 409 saying where.
    let mut orders = Vec::new();
    for c in &boo[..2] {
        let granted = assessor
            .grant(
                &c.id,
                json!({"service": "safety_alarm", "valid_from": days_ago(3)}),
            )
            .await;
        orders.push(installer.book(&granted.order, days_ago(2)).await);
    }
    installer
        .install(&orders[0], days_ago(1), &["TX-1036", "WB-2036"])
        .await;
    let second = installer
        .try_step(
            &orders[1],
            "install",
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
            .contains(boo[0].number()),
        "{}",
        second.body
    );
    let tx37 = installer.item("TX-1037").await;
    assert_eq!(
        tx37["state"], "in_stock",
        "the refused install moved nothing"
    );

    // The lock link is the admin's; unlinking what is not linked is refused.
    let ph = installer.item("PH-3015").await;
    let unlink = admin.try_item_move(&ph, "unlink", json!({})).await;
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
    let mut item = installer.item("KV-4005").await;
    let mut ok = 0;
    // What the walk reached, so a walk that silently does nothing fails.
    let mut moved = std::collections::BTreeSet::new();
    let mut states = std::collections::BTreeSet::new();
    let mut refused = 0;
    for _ in 0..30 {
        let (mv, body) = match next(4) {
            0 => ("hand-out", json!({"customer_id": boo[next(boo.len())].id})),
            1 => ("collect", json!({})),
            2 => ("restock", json!({})),
            _ => ("scrap", json!({"note": "slump"})),
        };
        let who = [&installer, &care, &admin][next(3)];
        let res = who.try_item_move(&item, mv, body).await;
        assert!(
            [200, 403, 409].contains(&res.status),
            "{mv}: {} {}",
            res.status,
            res.body
        );
        if res.status == 200 {
            item = Item::new(res.body["item"].clone());
            ok += 1;
            moved.insert(mv);
            states.insert(item["state"].as_str().unwrap().to_string());
        } else {
            refused += 1;
        }
        if item["state"] == "scrapped" {
            break;
        }
    }
    let detail = admin
        .get(&format!("/api/v1/equipment/items/{}", item.id))
        .await;
    let history = detail.body["history"].as_array().unwrap();
    assert!(ok >= 3, "the walk must move the item ({ok} moves)");
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
    eprintln!("item walk: {ok} moves, {refused} refused; moved {moved:?}; been {states:?}");
    // The seed's walk (deterministic) makes every move and ends with the item scrapped.
    assert!(refused >= 1, "no move was refused");
    assert_eq!(
        moved.into_iter().collect::<Vec<_>>(),
        ["collect", "hand-out", "restock", "scrap"]
    );
    assert_eq!(
        states.into_iter().collect::<Vec<_>>(),
        ["at_customer", "collected", "in_stock", "scrapped"]
    );
    assert_eq!(item["state"], "scrapped");
}
