//! Reports checked against hand-built data; the CSV read back as a spreadsheet would.

use crate::helpers::{read_csv, TestApp};
use crate::on_both_backends;
use crate::steps::{Order, OrderId};
use chrono::Timelike;
use serde_json::{json, Value};

on_both_backends!(reports_match_hand_built_data);

async fn reports_match_hand_built_data(app: TestApp) {
    let assessor = app.as_assessor().await;
    let installer = app.as_installer().await;
    let coordinator = app.as_coordinator().await;
    let stalled = assessor.customer_numbered("K-100001").await;
    let fresh = assessor.customer_numbered("K-100003").await;
    let mut orders: Vec<Order> = Vec::new();
    for c in [&stalled, &fresh] {
        let granted = assessor
            .grant(
                &c.id,
                json!({"service": "safety_alarm", "valid_from": "2026-01-15"}),
            )
            .await;
        orders.push(granted.order);
    }
    set_received(&app, &orders[0].id, "2026-01-15").await;
    let report = |q: &'static str| coordinator.get(format!("/api/v1/reports/not-executed?{q}"));
    let one = report("months=1&as_of=2026-02-15").await;
    assert_eq!(one.status, 200, "{}", one.body);
    let rows = one.body.as_array().unwrap();
    assert_eq!(
        rows.len(),
        1,
        "only the order received a month ago: {}",
        one.body
    );
    assert_eq!(
        (
            rows[0]["customer_number"].as_str(),
            rows[0]["area"].as_str(),
            rows[0]["ordinary_assessor"].as_str(),
            rows[0]["state"].as_str()
        ),
        (
            Some("K-100001"),
            Some("Boo"),
            Some("Hanna Handläggare"),
            Some("received")
        )
    );
    assert_eq!(report("months=1&as_of=2026-02-14").await.body, json!([]));
    assert_eq!(report("months=3&as_of=2026-04-14").await.body, json!([]));
    assert_eq!(
        report("months=3&as_of=2026-04-15")
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(report("months=2").await.status, 422);
    let csv = report("months=1&as_of=2026-02-15&format=csv").await;
    assert_eq!(
        csv.header("content-type").as_deref(),
        Some("text/csv; charset=utf-8")
    );
    let table = read_csv(csv.body.as_str().unwrap());
    assert_eq!(
        table[0],
        [
            "kundnummer",
            "område",
            "insats",
            "mottagen",
            "läge",
            "orsak",
            "väntar på",
            "ordinarie handläggare"
        ]
    );
    assert_eq!(table[1][0], "K-100001");
    assert_eq!(
        (table[1][2].as_str(), table[1][4].as_str()),
        ("Trygghetslarm", "mottagen"),
        "Swedish words, not codes"
    );
    assert_eq!(table[1][7], "Hanna Handläggare", "Swedish letters intact");

    // The pick-up list: installed, ended, equipment to collect, the key still held.
    let order = installer.book(&orders[1], "2026-01-20").await;
    let order = installer
        .receive_keys(
            &order,
            json!({"key_numbers": ["P-7"], "count": 1, "cabinet": "Skåp Ö", "hook": "7"}),
        )
        .await;
    let order = installer
        .install(&order, "2026-01-21", &["TX-1038", "WB-2038"])
        .await;
    coordinator.execute(&order).await;
    let decisions = assessor.decisions(&fresh.id).await;
    assessor.end_decision(&decisions[0], "2026-03-31").await;
    let pick = installer.get("/api/v1/reports/to-collect").await;
    let rows: Vec<Value> = pick.body.as_array().unwrap().clone();
    assert_eq!(rows.len(), 1, "{}", pick.body);
    assert_eq!(
        (
            rows[0]["customer_number"].as_str(),
            rows[0]["area"].as_str()
        ),
        (Some("K-100003"), Some("Boo"))
    );
    assert_eq!(
        rows[0]["items"],
        json!(["alarm_button WB-2038", "alarm_unit TX-1038"])
    );
    assert_eq!(rows[0]["key_numbers"], json!(["P-7"]));
    let csv = installer.get("/api/v1/reports/to-collect?format=csv").await;
    let text = csv.body.as_str().unwrap();
    let table = read_csv(text);
    assert_eq!(table[1][4], "K-100003");
    assert!(
        !text.contains("XXXX")
            && !text.contains(&fresh["birth_date"].as_str().unwrap().replace('-', "")),
        "no personnummer"
    );
    let billing = app.as_billing().await;
    assert_eq!(billing.get("/api/v1/reports/to-collect").await.status, 403);
}

on_both_backends!(the_monthly_log_follow_up_names_who_opened_a_record);

async fn the_monthly_log_follow_up_names_who_opened_a_record(app: TestApp) {
    let admin = app.as_admin().await;
    let assessor = app.as_assessor().await;
    let coordinator = app.as_coordinator().await;
    let sickla = admin.group("Sickla mottagningsteam").await;
    app.create_user(
        &admin.token,
        "sickla.nyfiken",
        "assessor",
        &[sickla.as_str()],
    )
    .await;
    let outsider = app.login_with("sickla.nyfiken", "ett-langt-losenord").await;
    let c = assessor.get("/api/v1/customers?q=K-100001").await.body["items"][0].clone();
    let cid = c["id"].as_str().unwrap();
    let path = format!("/api/v1/customers/{cid}");
    assessor.get(&path).await;
    let card = coordinator.get(&path).await;
    let etag = card.header("etag").unwrap();
    assert_eq!(
        app.patch(
            &path,
            &coordinator.token,
            Some(&etag),
            json!({"entry_notes": "Ny portkod"})
        )
        .await
        .status,
        200
    );
    assert_eq!(app.get(&path, &outsider).await.status, 404);

    let today = chrono::Utc::now().date_naive();
    let report = admin
        .get(&format!(
            "/api/v1/reports/audit-follow-up?customer_id={cid}&from={today}&to={today}"
        ))
        .await;
    assert_eq!(report.status, 200, "{}", report.body);
    let row = |who: &str| {
        report
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["who_or_whom"] == who)
            .unwrap_or_else(|| panic!("{who} missing: {}", report.body))
            .clone()
    };
    assert_eq!(
        (
            row("handlaggare")["reads"].as_u64(),
            row("handlaggare")["changes"].as_u64()
        ),
        (Some(2), Some(0)),
        "the search list and the card"
    );
    assert_eq!(
        (
            row("koordinator")["reads"].as_u64(),
            row("koordinator")["changes"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(
        (
            row("sickla.nyfiken")["reads"].as_u64(),
            row("sickla.nyfiken")["denied"].as_u64()
        ),
        (Some(0), Some(1))
    );

    let me = assessor.get("/api/v1/auth/me").await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mine = admin
        .get(&format!(
            "/api/v1/reports/audit-follow-up?user_id={me}&from={today}&to={today}&format=csv"
        ))
        .await;
    let table = read_csv(mine.body.as_str().unwrap());
    assert_eq!(
        table[0],
        [
            "kundnummer",
            "första",
            "senaste",
            "läsningar",
            "ändringar",
            "nekade"
        ]
    );
    assert!(table.iter().any(|r| r[0] == "K-100001"), "{table:?}");
    assert_eq!(
        assessor
            .get(&format!(
                "/api/v1/reports/audit-follow-up?customer_id={cid}"
            ))
            .await
            .status,
        403
    );
    assert_eq!(
        admin.get("/api/v1/reports/audit-follow-up").await.status,
        422
    );
}

/// Backdates when the order was received, to 09:00 on `day`.
async fn set_received(app: &TestApp, order: &OrderId, day: &str) {
    let (id, day) = (order.0.clone(), day.to_string());
    app.db
        .run(move |c| {
            use diesel::prelude::*;
            use larmkoll::db::schema::orders::dsl as o;
            let at = day
                .parse::<chrono::NaiveDate>()
                .unwrap()
                .and_hms_opt(9, 0, 0)
                .unwrap();
            Ok(diesel::update(o::orders.find(id))
                .set(o::received_at.eq(at))
                .execute(c)?)
        })
        .await
        .unwrap();
}

on_both_backends!(keys_not_received_lists_orders_still_waiting_for_keys_a_month_on);

async fn keys_not_received_lists_orders_still_waiting_for_keys_a_month_on(app: TestApp) {
    let assessor = app.as_assessor().await;
    let installer = app.as_installer().await;
    let coordinator = app.as_coordinator().await;
    let mut orders: Vec<Order> = Vec::new();
    for n in ["K-100001", "K-100003", "K-100005"] {
        let c = assessor.customer_numbered(n).await;
        let granted = assessor
            .grant(
                &c.id,
                json!({"service": "safety_alarm", "valid_from": "2026-01-15"}),
            )
            .await;
        orders.push(granted.order);
    }
    // K-100001 waits since 15 January; K-100003's keys came in; K-100005 was ordered later.
    set_received(&app, &orders[0].id, "2026-01-15").await;
    set_received(&app, &orders[1].id, "2026-01-15").await;
    set_received(&app, &orders[2].id, "2026-01-31").await;
    let booked = installer.book(&orders[1], "2026-01-20").await;
    installer
        .receive_keys(
            &booked,
            json!({"key_numbers": ["R-1"], "count": 1, "cabinet": "Skåp 1", "hook": "1"}),
        )
        .await;

    let report = |as_of: &'static str, fmt: &'static str| {
        coordinator.get(format!(
            "/api/v1/reports/keys-not-received?as_of={as_of}{fmt}"
        ))
    };
    assert_eq!(
        report("2026-02-14", "").await.body,
        json!([]),
        "not the day before"
    );
    let due = report("2026-02-15", "").await;
    assert_eq!(due.status, 200, "{}", due.body);
    let rows = due.body.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{}", due.body);
    assert_eq!(
        (
            rows[0]["customer_number"].as_str(),
            rows[0]["due"].as_str(),
            rows[0]["state"].as_str(),
            rows[0]["ordinary_assessor"].as_str()
        ),
        (
            Some("K-100001"),
            Some("2026-02-15"),
            Some("received"),
            Some("Hanna Handläggare")
        )
    );
    // 31 January is due on the last day of February.
    let numbers = |r: &Value| -> Vec<String> {
        r.as_array()
            .unwrap()
            .iter()
            .map(|x| x["customer_number"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(numbers(&report("2026-02-27", "").await.body), ["K-100001"]);
    assert_eq!(
        numbers(&report("2026-02-28", "").await.body),
        ["K-100001", "K-100005"]
    );

    let csv = report("2026-02-28", "&format=csv").await;
    assert_eq!(
        csv.header("content-type").as_deref(),
        Some("text/csv; charset=utf-8")
    );
    let table = read_csv(csv.body.as_str().unwrap());
    assert_eq!(
        table[0],
        [
            "kundnummer",
            "område",
            "insats",
            "beställd",
            "försenad från",
            "läge",
            "orsak",
            "väntar på",
            "ordinarie handläggare"
        ]
    );
    assert_eq!(table.len(), 3);
    assert_eq!(
        (
            &table[1][0][..],
            &table[1][2][..],
            &table[1][4][..],
            &table[1][5][..],
            &table[1][8][..]
        ),
        (
            "K-100001",
            "Trygghetslarm",
            "2026-02-15",
            "mottagen",
            "Hanna Handläggare"
        )
    );
    let billing = app.as_billing().await;
    assert_eq!(
        billing
            .get("/api/v1/reports/keys-not-received")
            .await
            .problem_code(),
        "forbidden"
    );
}

on_both_backends!(keys_out_too_long_name_the_holder_and_since_when);

async fn keys_out_too_long_name_the_holder_and_since_when(app: TestApp) {
    let installer = app.as_installer().await;
    let care = app.as_care_staff().await;
    let coordinator = app.as_coordinator().await;
    let admin = app.as_admin().await;
    let home = admin.group("Boo hemtjänst").await;
    let customer = coordinator.customer_numbered("K-100001").await;
    let cid = customer.id.as_str();
    let mut keys = Vec::new();
    for number in ["Ö-1", "Ö-2", "Ö-3"] {
        keys.push(
            installer
                .create_key(json!({"key_number": number, "customer_id": cid, "count": 1, "cabinet": "Skåp Å", "hook": "3"}))
                .await,
        );
    }
    // Ö-1 and Ö-2 go out to the home-care group; only Ö-1 has been out longer than 16 hours.
    for k in &keys[..2] {
        care.sign_out_key(k, &home).await;
    }
    let since = chrono::Utc::now().naive_utc() - chrono::Duration::hours(20);
    let since = since.with_nanosecond(0).expect("a whole second");
    let kid = keys[0].id.0.clone();
    app.db
        .run(move |c| {
            use diesel::prelude::*;
            use larmkoll::db::schema::keys::dsl as k;
            Ok(diesel::update(k::keys.find(kid))
                .set(k::since.eq(since))
                .execute(c)?)
        })
        .await
        .unwrap();

    let report = coordinator.get("/api/v1/reports/keys-out").await;
    assert_eq!(report.status, 200, "{}", report.body);
    let rows = report.body.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{}", report.body);
    assert_eq!(
        (
            rows[0]["key_number"].as_str(),
            rows[0]["customer_number"].as_str(),
            rows[0]["holder"].as_str(),
            rows[0]["hours_out"].as_i64(),
            rows[0]["cabinet"].as_str(),
        ),
        (
            Some("Ö-1"),
            Some("K-100001"),
            Some("Boo hemtjänst"),
            Some(20),
            Some("Skåp Å")
        )
    );
    assert_eq!(
        rows[0]["since"].as_str().unwrap(),
        since
            .and_utc()
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    );
    assert_eq!(
        app.audit_count("report.keys_out", "ok", cid).await,
        1,
        "the read is logged against the customer"
    );
    let csv = coordinator.get("/api/v1/reports/keys-out?format=csv").await;
    let table = read_csv(csv.body.as_str().unwrap());
    assert_eq!(
        table[0],
        [
            "nyckelnummer",
            "kundnummer",
            "område",
            "skåp",
            "krok",
            "utlämnad till",
            "sedan",
            "timmar"
        ]
    );
    assert_eq!(
        table[1],
        [
            "Ö-1",
            "K-100001",
            "Boo",
            "Skåp Å",
            "3",
            "Boo hemtjänst",
            &since.format("%Y-%m-%d %H:%M").to_string(),
            "20"
        ]
    );
    // A coordinator in Sickla does not see Boo's keys.
    let sickla = admin.group("Sickla larmgrupp").await;
    app.create_user(
        &admin.token,
        "sickla.koord",
        "coordinator",
        &[sickla.as_str()],
    )
    .await;
    let other = app.login_with("sickla.koord", "ett-langt-losenord").await;
    assert_eq!(
        app.get("/api/v1/reports/keys-out", &other).await.body,
        json!([])
    );
}

on_both_backends!(equipment_in_stock_and_out_per_model);

async fn equipment_in_stock_and_out_per_model(app: TestApp) {
    let assessor = app.as_assessor().await;
    let installer = app.as_installer().await;
    let coordinator = app.as_coordinator().await;
    let before = coordinator.get("/api/v1/reports/equipment").await;
    assert_eq!(before.status, 200, "{}", before.body);
    let model = |r: &Value, kind: &str| {
        r["summary"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["kind"] == kind)
            .unwrap_or_else(|| panic!("{kind}: {r}"))
            .clone()
    };
    let units = model(&before.body, "alarm_unit");
    let stock = units["in_stock"].as_i64().unwrap();
    assert_eq!(units["at_customer"], 0);
    assert_eq!(before.body["items"], json!([]));

    // Install TX-1038 and WB-2038 at K-100003, then end the decision: both are to collect.
    let customer = assessor.customer_numbered("K-100003").await;
    let granted = assessor
        .grant(
            &customer.id,
            json!({"service": "safety_alarm", "valid_from": "2026-01-15"}),
        )
        .await;
    let order = installer.book(&granted.order, "2026-01-20").await;
    let order = installer
        .install(&order, "2026-01-21", &["TX-1038", "WB-2038"])
        .await;
    let at = coordinator
        .get("/api/v1/reports/equipment?item_state=at_customer")
        .await;
    let units = model(&at.body, "alarm_unit");
    assert_eq!(
        (units["in_stock"].as_i64(), units["at_customer"].as_i64()),
        (Some(stock - 1), Some(1))
    );
    let serials: Vec<(&str, &str, &str)> = at.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["serial"].as_str().unwrap(),
                i["state"].as_str().unwrap(),
                i["customer_number"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        serials,
        [
            ("WB-2038", "at_customer", "K-100003"),
            ("TX-1038", "at_customer", "K-100003")
        ]
    );
    assert_eq!(
        coordinator.get("/api/v1/reports/equipment").await.body["items"],
        json!([]),
        "by default only what is to collect or missing"
    );
    coordinator.execute(&order).await;
    let decisions = assessor.decisions(&customer.id).await;
    assessor.end_decision(&decisions[0], "2026-03-31").await;
    let out = coordinator.get("/api/v1/reports/equipment").await;
    let units = model(&out.body, "alarm_unit");
    assert_eq!(
        (
            units["in_stock"].as_i64(),
            units["at_customer"].as_i64(),
            units["to_collect"].as_i64(),
            units["missing"].as_i64()
        ),
        (Some(stock - 1), Some(0), Some(1), Some(0))
    );

    let csv = coordinator
        .get("/api/v1/reports/equipment?format=csv")
        .await;
    let table = read_csv(csv.body.as_str().unwrap());
    assert_eq!(
        table[0],
        [
            "typ",
            "leverantör",
            "modell",
            "i lager",
            "hos kund",
            "att hämta",
            "hämtad",
            "saknas",
            "kasserad"
        ]
    );
    let lock = table
        .iter()
        .find(|r| r[0] == "Låsvred")
        .expect("the digital locks, in Swedish");
    assert_eq!(lock[4], "0");
    let unit = table.iter().find(|r| r[0] == "Larmenhet").unwrap();
    assert_eq!(
        (&unit[3][..], &unit[5][..]),
        (&(stock - 1).to_string()[..], "1")
    );
    let items = coordinator
        .get("/api/v1/reports/equipment?format=csv&part=items")
        .await;
    let table = read_csv(items.body.as_str().unwrap());
    assert_eq!(table.len(), 3, "{table:?}");
    assert_eq!(
        (
            &table[2][0][..],
            &table[2][3][..],
            &table[2][4][..],
            &table[2][5][..]
        ),
        ("Larmenhet", "TX-1038", "att hämta", "K-100003")
    );
    assert_eq!(
        coordinator
            .get("/api/v1/reports/equipment?item_state=in_stock")
            .await
            .status,
        422
    );
    assert_eq!(
        coordinator
            .get("/api/v1/reports/equipment?part=all")
            .await
            .status,
        422
    );
    assert_eq!(assessor.get("/api/v1/reports/equipment").await.status, 403);
}

on_both_backends!(extension_checks_show_the_gap_or_overlap);

async fn extension_checks_show_the_gap_or_overlap(app: TestApp) {
    let assessor = app.as_assessor().await;
    let coordinator = app.as_coordinator().await;
    let customer = assessor.customer_numbered("K-100001").await;
    let first = assessor
        .grant(
            &customer.id,
            json!({"service": "safety_alarm", "valid_from": "2026-01-01", "valid_to": "2026-06-30"}),
        )
        .await;
    let did = first.decision.id.0.clone();
    let ext = assessor
        .grant(
            &customer.id,
            json!({"service": "safety_alarm", "valid_from": "2026-07-01", "valid_to": "2026-12-31", "follows_id": did}),
        )
        .await;
    let report = coordinator.get("/api/v1/reports/extensions").await;
    assert_eq!(report.status, 200, "{}", report.body);
    let rows = report.body.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{}", report.body);
    assert_eq!(
        (
            rows[0]["customer_number"].as_str(),
            rows[0]["check"].as_str(),
            rows[0]["previous"]["to"].as_str(),
            rows[0]["next"]["from"].as_str(),
            rows[0]["order_id"].as_str()
        ),
        (
            Some("K-100001"),
            Some("ok"),
            Some("2026-06-30"),
            Some("2026-07-01"),
            Some(ext.order.id.as_str())
        )
    );
    // The first decision is cut short to 27 June afterwards: 28–30 June are not covered.
    app.db
        .run(move |c| {
            use diesel::prelude::*;
            use larmkoll::db::schema::decisions::dsl as d;
            Ok(diesel::update(d::decisions.find(did))
                .set(d::valid_to.eq(chrono::NaiveDate::from_ymd_opt(2026, 6, 27)))
                .execute(c)?)
        })
        .await
        .unwrap();
    let gap = coordinator.get("/api/v1/reports/extensions").await;
    let row = &gap.body[0];
    assert_eq!(
        (
            row["check"].as_str(),
            row["first"].as_str(),
            row["last"].as_str(),
            row["days"].as_i64()
        ),
        (Some("gap"), Some("2026-06-28"), Some("2026-06-30"), Some(3))
    );
    let csv = coordinator
        .get("/api/v1/reports/extensions?format=csv")
        .await;
    let table = read_csv(csv.body.as_str().unwrap());
    assert_eq!(
        table[1][3..7],
        ["2026-01-01", "2026-06-27", "2026-07-01", "2026-12-31"]
    );
    assert_eq!(
        table[1][7],
        "Glapp på 3 dag(ar): 2026-06-28 – 2026-06-30 täcks inte av något beslut."
    );
}
