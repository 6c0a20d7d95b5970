//! Follow-up rules (seed 004) with a controllable clock: each fires on its day,
//! not the day before, exactly once — also with two instances at once.

use crate::helpers::TestApp;
use crate::on_both_backends;
use crate::steps::OrderId;
use serde_json::{json, Value};

on_both_backends!(
    stalled_orders_are_followed_up_on_the_right_day_exactly_once,
    a_waiting_reason_travels_with_the_order_until_it_moves,
);

fn rules(f: &[Value]) -> Vec<String> {
    let mut r: Vec<String> = f
        .iter()
        .map(|x| x["rule"].as_str().unwrap().to_string())
        .collect();
    r.sort();
    r
}

async fn stalled_orders_are_followed_up_on_the_right_day_exactly_once(app: TestApp) {
    let assessor = app.as_assessor().await;
    let admin = app.as_admin().await;
    let home = assessor.customer_numbered("K-100001").await; // served by Boo hemtjänst
    let reception = assessor.customer_numbered("K-100005").await; // still with the reception team
    let mut orders: Vec<OrderId> = Vec::new();
    for c in [&home, &reception] {
        let granted = assessor
            .grant(
                &c.id,
                json!({"service": "safety_alarm", "valid_from": "2026-01-15"}),
            )
            .await;
        orders.push(granted.order.id);
    }
    let backdate = |orders: Vec<OrderId>, when: &'static str| {
        let db = app.db.clone();
        let ids: Vec<String> = orders.into_iter().map(|o| o.0).collect();
        async move {
            db.run(move |c| {
                use diesel::prelude::*;
                use larmkoll::db::schema::orders::dsl as o;
                let at = chrono::NaiveDateTime::parse_from_str(when, "%Y-%m-%d %H:%M").unwrap();
                Ok(diesel::update(o::orders.filter(o::id.eq_any(ids)))
                    .set((o::received_at.eq(at), o::updated_at.eq(at)))
                    .execute(c)?)
            })
            .await
            .unwrap()
        }
    };
    backdate(orders.clone(), "2026-01-15 09:00").await;
    let messages = |topic: &'static str, order: OrderId| {
        let db = app.db.clone();
        let order = order.0;
        async move {
            db.run(move |c| {
                use diesel::prelude::*;
                use larmkoll::db::schema::messages::dsl as m;
                Ok(m::messages
                    .filter(m::topic.eq(topic).and(m::order_id.eq(order)))
                    .select((m::recipient_group_id, m::recipient_user_id))
                    .load::<(Option<String>, Option<String>)>(c)?)
            })
            .await
            .unwrap()
        }
    };

    assert_eq!(
        app.follow_up("2026-02-14"),
        Vec::<Value>::new(),
        "not the day before"
    );
    let due = app.follow_up("2026-02-15");
    assert_eq!(
        rules(&due),
        [
            "keys_not_received",
            "keys_not_received",
            "not_executed",
            "not_executed"
        ]
    );
    let home_group = admin.group("Boo hemtjänst").await.0;
    let reception_group = admin.group("Boo mottagningsteam").await.0;
    let ordinary = home["ordinary_assessor_id"].as_str().unwrap().to_string();
    let mut to_home = messages("not_executed", orders[0].clone()).await;
    to_home.sort();
    assert_eq!(
        to_home,
        [(None, Some(ordinary.clone())), (Some(home_group), None)],
        "area group and ordinary assessor"
    );
    assert_eq!(
        messages("not_executed", orders[1].clone()).await,
        [(Some(reception_group), None)],
        "reception team: only the group"
    );
    assert_eq!(
        messages("keys_not_received", orders[0].clone()).await,
        [(None, Some(ordinary.clone()))]
    );
    assert_eq!(
        app.follow_up("2026-02-15"),
        Vec::<Value>::new(),
        "exactly once"
    );

    // No answer for 14 days: the alarm leads hear, naming the ordinary assessor.
    assert_eq!(app.follow_up("2026-02-28"), Vec::<Value>::new());
    let esc = app.follow_up("2026-03-01");
    assert_eq!(rules(&esc), ["escalation", "escalation"]);
    let escalation = assessor
        .inbox()
        .await
        .into_iter()
        .find(|m| m["topic"] == "escalation")
        .unwrap();
    assert!(
        escalation["body"]
            .as_str()
            .unwrap()
            .contains("Hanna Handläggare"),
        "{escalation}"
    );
    // The words a person reads: the order's state in Swedish, never its code.
    let not_executed = assessor
        .inbox()
        .await
        .into_iter()
        .filter(|m| m["topic"] == "not_executed")
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect::<Vec<_>>();
    assert!(!not_executed.is_empty());
    for body in &not_executed {
        assert!(
            body.contains("Läge: bokad") || body.contains("Läge: mottagen"),
            "{body}"
        );
        assert!(
            !body.contains("booked") && !body.contains("received"),
            "{body}"
        );
    }

    // Monthly: decisions not executed after three months, once a month.
    assert_eq!(app.follow_up("2026-04-14"), Vec::<Value>::new());
    let list = app.follow_up("2026-04-15");
    assert_eq!(
        (rules(&list), list[0]["period"].as_str()),
        (vec!["three_month_list".to_string()], Some("2026-04"))
    );
    assert_eq!(app.follow_up("2026-04-30"), Vec::<Value>::new());
    assert_eq!(rules(&app.follow_up("2026-05-01")), ["three_month_list"]);

    // Two instances at once still send one message.
    let third = assessor.customer_numbered("K-100002").await;
    let order = assessor
        .grant(
            &third.id,
            json!({"service": "safety_alarm", "valid_from": "2026-06-01"}),
        )
        .await
        .order
        .id;
    backdate(vec![order.clone()], "2026-06-01 08:00").await;
    let (a, b) = (
        app.start_follow_up("2026-07-01"),
        app.start_follow_up("2026-07-01"),
    );
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(
        a.status.success() && b.status.success(),
        "{} {}",
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr)
    );
    assert_eq!(
        messages("not_executed", order.clone()).await.len(),
        2,
        "one message each to the group and the assessor"
    );
    assert_eq!(messages("keys_not_received", order).await.len(), 1);
}

/// Issue 14: the team notes why an order waits (väntar-orsak). The order shows
/// it without a new version (a queued step still applies), the one-month
/// message and the stalled-order report carry it in Swedish, the contact log
/// keeps it, and the next step clears it. A closed order waits for nothing.
async fn a_waiting_reason_travels_with_the_order_until_it_moves(app: TestApp) {
    let assessor = app.as_assessor().await;
    let installer = app.as_installer().await;
    let coordinator = app.as_coordinator().await;
    let customer = assessor.customer_numbered("K-100001").await;
    let order = assessor
        .grant(
            &customer.id,
            json!({"service": "safety_alarm", "valid_from": "2026-01-15"}),
        )
        .await
        .order;
    let id = order.id.0.clone();
    app.db
        .run({
            let id = id.clone();
            move |c| {
                use diesel::prelude::*;
                use larmkoll::db::schema::orders::dsl as o;
                let at =
                    chrono::NaiveDateTime::parse_from_str("2026-01-15 09:00", "%Y-%m-%d %H:%M")
                        .unwrap();
                Ok(diesel::update(o::orders.find(id))
                    .set((o::received_at.eq(at), o::updated_at.eq(at)))
                    .execute(c)?)
            }
        })
        .await
        .unwrap();

    // Without saying what for: refused, in Swedish, nothing noted.
    let contacts = format!("/api/v1/orders/{id}/contacts");
    let res = installer.post(&contacts, json!({"kind": "waiting"})).await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert_eq!(res.body["errors"][0]["field"], "note", "{}", res.body);
    assert!(
        res.body["errors"][0]["detail_sv"]
            .as_str()
            .is_some_and(|d| d.contains("väntar på")),
        "{}",
        res.body
    );
    let why = "Kunden är på korttidsboende till den 20 februari";
    let res = installer
        .post(&contacts, json!({"kind": "waiting", "note": why}))
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let detail = installer.order_detail(&order.id).await;
    assert_eq!(detail["order"]["waiting_reason"], why);
    assert!(detail["order"]["waiting_since"].is_string());
    assert_eq!(
        detail["order"]["version"].as_i64(),
        Some(order.version()),
        "noting why it waits is not a new version"
    );

    // The report and its CSV carry it, in Swedish words.
    let report = coordinator
        .get("/api/v1/reports/not-executed?months=1&as_of=2026-02-20")
        .await;
    assert_eq!(report.status, 200, "{}", report.body);
    let row = report
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["order_id"] == id.as_str())
        .cloned()
        .expect("the order in the report");
    assert_eq!(row["waiting_reason"], why);
    let csv = coordinator
        .get("/api/v1/reports/not-executed?months=1&as_of=2026-02-20&format=csv")
        .await;
    assert_eq!(csv.status, 200);
    let text = csv.body.as_str().unwrap().to_string();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().contains("väntar på"), "{text}");
    let line = lines
        .find(|l| l.contains(customer.number()))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains(why), "{line}");
    assert!(
        line.contains("Trygghetslarm") && line.contains("mottagen"),
        "{line}"
    );
    assert!(
        !line.contains("safety_alarm") && !line.contains(";received;"),
        "{line}"
    );

    // The one-month message says why, instead of "ingen orsak angiven".
    let due = app.follow_up("2026-02-15");
    assert!(rules(&due).contains(&"not_executed".to_string()), "{due:?}");
    let body: Vec<String> = app
        .db
        .run({
            let id = id.clone();
            move |c| {
                use diesel::prelude::*;
                use larmkoll::db::schema::messages::dsl as m;
                Ok(m::messages
                    .filter(m::topic.eq("not_executed").and(m::order_id.eq(id)))
                    .select(m::body)
                    .load::<String>(c)?)
            }
        })
        .await
        .unwrap();
    assert!(!body.is_empty());
    for b in &body {
        assert!(b.contains(&format!("Orsak: {why}.")), "{b}");
    }

    // The next step clears it; the contact log keeps what was noted.
    let booked = installer.book(&order, "2026-02-21").await;
    let detail = installer.order_detail(&booked.id).await;
    assert_eq!(detail["order"]["waiting_reason"], Value::Null);
    assert_eq!(detail["order"]["waiting_since"], Value::Null);
    assert!(
        detail["contacts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["kind"] == "waiting" && c["note"] == why),
        "{detail}"
    );

    // A closed order waits for nothing.
    let declined = installer
        .step(
            &booked,
            "decline",
            json!({"reason": "Kunden vill inte ha larm"}),
        )
        .await;
    let res = installer
        .post(
            &format!("/api/v1/orders/{}/contacts", declined.id),
            json!({"kind": "waiting", "note": why}),
        )
        .await;
    assert_eq!(res.status, 409, "{}", res.body);
    assert_eq!(res.body["code"], "invalid_transition");
    assert!(res.body["detail_sv"].as_str().unwrap().contains("pågående"));
}
