//! Reports checked against hand-built data; the CSV read back as a spreadsheet would.

use crate::helpers::TestApp;
use crate::on_both_backends;
use serde_json::{json, Value};

on_both_backends!(reports_match_hand_built_data);

/// Reads our CSV the way a spreadsheet does: UTF-8 with BOM, `;`, CRLF, quotes.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    assert!(text.starts_with('\u{feff}'), "a BOM so Excel reads UTF-8");
    text.trim_start_matches('\u{feff}')
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (mut cells, mut cur, mut quoted) = (Vec::new(), String::new(), false);
            let mut chars = line.chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '"' if quoted && chars.peek() == Some(&'"') => {
                        cur.push('"');
                        chars.next();
                    }
                    '"' => quoted = !quoted,
                    ';' if !quoted => cells.push(std::mem::take(&mut cur)),
                    c => cur.push(c),
                }
            }
            cells.push(cur);
            cells
        })
        .collect()
}

async fn reports_match_hand_built_data(app: TestApp) {
    let assessor = app.login("handlaggare").await;
    let installer = app.login("installator").await;
    let coordinator = app.login("koordinator").await;
    let find = |n: &'static str| {
        let (app, token) = (&app, assessor.clone());
        async move {
            app.get(&format!("/api/v1/customers?q={n}"), &token)
                .await
                .body["items"][0]
                .clone()
        }
    };
    let stalled = find("K-100001").await;
    let fresh = find("K-100003").await;
    let mut ids = Vec::new();
    for c in [&stalled, &fresh] {
        let g = app
            .post(
                &format!("/api/v1/customers/{}/decisions", c["id"].as_str().unwrap()),
                Some(&assessor),
                json!({"service": "safety_alarm", "valid_from": "2026-01-15"}),
            )
            .await;
        ids.push(g.body["order"].clone());
    }
    let oid = ids[0]["id"].as_str().unwrap().to_string();
    app.db
        .run(move |c| {
            use diesel::prelude::*;
            use larmkoll::db::schema::orders::dsl as o;
            let at = chrono::NaiveDate::from_ymd_opt(2026, 1, 15)
                .unwrap()
                .and_hms_opt(9, 0, 0)
                .unwrap();
            Ok(diesel::update(o::orders.find(oid))
                .set(o::received_at.eq(at))
                .execute(c)?)
        })
        .await
        .unwrap();
    let report = |q: &'static str| {
        let (app, token) = (&app, coordinator.clone());
        async move {
            app.get(&format!("/api/v1/reports/not-executed?{q}"), &token)
                .await
        }
    };
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
    let table = parse_csv(csv.body.as_str().unwrap());
    assert_eq!(
        table[0],
        [
            "kundnummer",
            "område",
            "insats",
            "mottagen",
            "läge",
            "orsak",
            "ordinarie handläggare"
        ]
    );
    assert_eq!(table[1][0], "K-100001");
    assert_eq!(table[1][6], "Hanna Handläggare", "Swedish letters intact");

    // The pick-up list: installed, ended, equipment to collect, the key still held.
    let order = &ids[1];
    let b = app
        .post_if(
            &format!("/api/v1/orders/{}/book", order["id"].as_str().unwrap()),
            &installer,
            1,
            json!({"visit_date": "2026-01-20"}),
        )
        .await;
    let k = app
        .post_if(
            &format!(
                "/api/v1/orders/{}/receive-keys",
                order["id"].as_str().unwrap()
            ),
            &installer,
            b.body["order"]["version"].as_i64().unwrap(),
            json!({"key_numbers": ["P-7"], "count": 1, "cabinet": "Skåp Ö", "hook": "7"}),
        )
        .await;
    let i = app
        .post_if(
            &format!("/api/v1/orders/{}/install", order["id"].as_str().unwrap()),
            &installer,
            k.body["order"]["version"].as_i64().unwrap(),
            json!({"installation_date": "2026-01-21", "serials": ["TX-1038", "WB-2038"]}),
        )
        .await;
    let e = app
        .post_if(
            &format!("/api/v1/orders/{}/execute", order["id"].as_str().unwrap()),
            &coordinator,
            i.body["order"]["version"].as_i64().unwrap(),
            json!({}),
        )
        .await;
    assert_eq!(e.status, 200, "{}", e.body);
    let decisions = app
        .get(
            &format!(
                "/api/v1/customers/{}/decisions",
                fresh["id"].as_str().unwrap()
            ),
            &assessor,
        )
        .await;
    let ended = app
        .post_if(
            &format!(
                "/api/v1/decisions/{}/end",
                decisions.body[0]["id"].as_str().unwrap()
            ),
            &assessor,
            1,
            json!({"end_date": "2026-03-31"}),
        )
        .await;
    assert_eq!(ended.status, 200, "{}", ended.body);
    let pick = app.get("/api/v1/reports/to-collect", &installer).await;
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
    let csv = app
        .get("/api/v1/reports/to-collect?format=csv", &installer)
        .await;
    let text = csv.body.as_str().unwrap();
    let table = parse_csv(text);
    assert_eq!(table[1][4], "K-100003");
    assert!(
        !text.contains("XXXX")
            && !text.contains(&fresh["birth_date"].as_str().unwrap().replace('-', "")),
        "no personnummer"
    );
    let billing = app.login("avgift").await;
    assert_eq!(
        app.get("/api/v1/reports/to-collect", &billing).await.status,
        403
    );
}

on_both_backends!(the_monthly_log_follow_up_names_who_opened_a_record);

async fn the_monthly_log_follow_up_names_who_opened_a_record(app: TestApp) {
    let admin = app.login("admin").await;
    let assessor = app.login("handlaggare").await;
    let coordinator = app.login("koordinator").await;
    let sickla = app.group_id(&admin, "Sickla mottagningsteam").await;
    app.create_user(&admin, "sickla.nyfiken", "assessor", &[&sickla])
        .await;
    let outsider = app.login_with("sickla.nyfiken", "ett-langt-losenord").await;
    let c = app
        .get("/api/v1/customers?q=K-100001", &assessor)
        .await
        .body["items"][0]
        .clone();
    let cid = c["id"].as_str().unwrap();
    let path = format!("/api/v1/customers/{cid}");
    app.get(&path, &assessor).await;
    let card = app.get(&path, &coordinator).await;
    let etag = card.header("etag").unwrap();
    assert_eq!(
        app.patch(
            &path,
            &coordinator,
            Some(&etag),
            json!({"entry_notes": "Ny portkod"})
        )
        .await
        .status,
        200
    );
    assert_eq!(app.get(&path, &outsider).await.status, 404);

    let today = chrono::Utc::now().date_naive();
    let report = app
        .get(
            &format!("/api/v1/reports/audit-follow-up?customer_id={cid}&from={today}&to={today}"),
            &admin,
        )
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

    let me = app.get("/api/v1/auth/me", &assessor).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mine = app
        .get(
            &format!(
                "/api/v1/reports/audit-follow-up?user_id={me}&from={today}&to={today}&format=csv"
            ),
            &admin,
        )
        .await;
    let table = parse_csv(mine.body.as_str().unwrap());
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
        app.get(
            &format!("/api/v1/reports/audit-follow-up?customer_id={cid}"),
            &assessor
        )
        .await
        .status,
        403
    );
    assert_eq!(
        app.get("/api/v1/reports/audit-follow-up", &admin)
            .await
            .status,
        422
    );
}
