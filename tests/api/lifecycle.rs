//! The municipal routines (seeds 000–004), walked step by step through the API.

use crate::helpers::TestApp;
use crate::on_both_backends;
use crate::steps::{days_ago, Crew, Decision, Order};
use chrono::{Duration, Utc};
use serde_json::{json, Value};

on_both_backends!(
    seed_000_order_keys_install_execute_messages_and_end,
    seed_001_digital_lock_ordered_from_the_supplier_and_receipt_left,
    seed_002_other_municipality_gets_no_lock_and_its_own_invoice_line,
    seed_003_returned_installed_executed_extended_and_ended,
    seed_004_termination_tells_billing_and_the_ordinary_assessor,
    invalid_transitions_and_wrong_roles_are_refused_with_what_is_allowed,
    concurrent_transitions_exactly_one_wins,
);

async fn seed_000_order_keys_install_execute_messages_and_end(app: TestApp) {
    let Crew {
        assessor,
        installer,
        coordinator,
    } = app.crew().await;
    let customer = assessor.boo_customer_consenting(false, false).await;
    let cid = &customer.id;
    let number = customer.number();
    let granted = assessor
        .grant(
            cid,
            json!({"service": "safety_alarm", "valid_from": days_ago(20)}),
        )
        .await;
    let order = granted.order.clone();
    assert_eq!(order["kind"], "install");
    assert_eq!(order["state"], "received");

    // The alarm centre is told of the new order (step 3–4).
    let alarm_centre = app.as_alarm_centre().await;
    assert!(alarm_centre
        .inbox()
        .await
        .iter()
        .any(|m| m["topic"] == "ordered" && m["body"].as_str().unwrap().contains(number)));

    // Step 2: calls and a no-answer attempt are logged before the visit.
    installer
        .log_contact(&order, json!({"kind": "no_answer"}))
        .await;
    installer
        .log_contact(
            &order,
            json!({"kind": "call", "note": "Nycklar hämtas på måndag"}),
        )
        .await;

    let order = installer
        .step(
            &order,
            "book",
            json!({"visit_date": days_ago(12), "visit_time": "09:30"}),
        )
        .await;
    assert_eq!(order["visit_time"], "09:30");
    let order = installer
        .receive_keys(
            &order,
            json!({"key_numbers": ["B-1042"], "count": 2, "cabinet": "Skåp 3", "hook": "7"}),
        )
        .await;
    assert_eq!(order["state"], "keys_received");
    let card = installer.get(&format!("/api/v1/customers/{cid}")).await;
    assert_eq!(card.body["key_position"], "Skåp 3, krok 7");

    let installed_on = days_ago(10);
    let order = installer.install(&order, &installed_on, &["TX-1001"]).await;
    assert_eq!(order["installation_date"], installed_on);

    // Step 11: executed days later, with the installer's date, not today.
    let order = coordinator.execute(&order).await;
    assert_eq!(order["state"], "executed");
    let executions = coordinator.executions(cid).await;
    assert_eq!(executions[0]["start_date"], installed_on);
    let billing = app.as_billing().await;
    let start = billing
        .billing_events(days_ago(60), days_ago(0))
        .await
        .into_iter()
        .find(|e| e["customer_id"] == customer.id)
        .expect("billing start");
    assert_eq!(
        (start["kind"].as_str(), start["date"].as_str()),
        (Some("start"), Some(installed_on.as_str()))
    );

    // Step 9–10: the home-care group hears of the installation with number and date.
    let care = app.as_care_staff().await;
    let msg = care
        .inbox()
        .await
        .into_iter()
        .find(|m| m["topic"] == "installed")
        .expect("installed message");
    assert!(
        msg["body"].as_str().unwrap().contains(number)
            && msg["body"].as_str().unwrap().contains(&installed_on)
    );

    // Step 12–13: ending: the uninstall order, equipment collected, billing stopped.
    let end_date = days_ago(1);
    let ended = assessor.end_decision(&granted.decision, &end_date).await;
    let uninstall = &ended.uninstall_order;
    assert_eq!(
        (uninstall["kind"].as_str(), uninstall["end_date"].as_str()),
        (Some("uninstall"), Some(end_date.as_str()))
    );
    let u = installer
        .collect_equipment(uninstall, days_ago(0), &["TX-1001"])
        .await;
    let u = installer.return_keys(&u, "returned").await;
    let u = coordinator.end(&u).await;
    assert_eq!(u["state"], "ended");
    let stop = billing
        .billing_events(days_ago(60), days_ago(0))
        .await
        .into_iter()
        .find(|e| e["customer_id"] == customer.id && e["kind"] == "stop")
        .expect("stop");
    assert_eq!(
        stop["date"], end_date,
        "billing stops on the assessor's date"
    );

    // The full history: who, when, from, to.
    let detail = coordinator.order_detail(&order.id).await;
    let steps: Vec<(&str, &str)> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["from"].as_str().unwrap(), t["to"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [
            ("received", "booked"),
            ("booked", "keys_received"),
            ("keys_received", "installed"),
            ("installed", "executed")
        ]
    );
    assert_eq!(
        detail["contacts"].as_array().unwrap().len(),
        3,
        "two calls and the booked visit"
    );
}

async fn seed_001_digital_lock_ordered_from_the_supplier_and_receipt_left(app: TestApp) {
    let Crew {
        assessor,
        installer,
        coordinator,
    } = app.crew().await;
    // A lock needs the customer's consent first.
    let without = assessor.boo_customer_consenting(false, false).await;
    let refused = assessor
        .try_grant(
            &without.id,
            json!({"service": "digital_lock", "valid_from": days_ago(5)}),
        )
        .await;
    assert_eq!(
        (refused.status, refused.problem_code().as_str()),
        (422, "consent_missing")
    );

    let with = assessor.boo_customer_consenting(true, false).await;
    let cid = &with.id;
    let granted = assessor
        .grant(
            cid,
            json!({"service": "digital_lock", "valid_from": days_ago(5)}),
        )
        .await;

    // Step 6: the coordinator orders the lock from Tunstall; the order keeps its state.
    let order = coordinator
        .step(
            &granted.order,
            "order-from-supplier",
            json!({"supplier": "Tunstall", "reference": "WO-1", "ordered_on": days_ago(4)}),
        )
        .await;
    assert_eq!(order["state"], "received");
    assert_eq!(order["supplier_order"]["supplier"], "Tunstall");

    // Step 7: the lock is fitted and the lock receipt left on the hat shelf.
    let order = installer.book(&order, days_ago(3)).await;
    let order = installer
        .step(&order, "install", json!({"installation_date": days_ago(2), "serials": ["PH-3007"], "lock_receipt_left": true}))
        .await;
    assert_eq!(order["lock_receipt"], "left");
    let order = coordinator.execute(&order).await;
    let ex = coordinator.executions(cid).await;
    assert_eq!(
        (ex[0]["service"].as_str(), ex[0]["start_date"].as_str()),
        (Some("digital_lock"), Some(days_ago(2).as_str()))
    );

    // Step 8: home-care staff pick the receipt up at their next visit, after execution.
    let care = app.as_care_staff().await;
    let order = care
        .step(
            &order,
            "collect-lock-receipt",
            json!({"collected_on": days_ago(0)}),
        )
        .await;
    assert_eq!(
        (order["state"].as_str(), order["lock_receipt"].as_str()),
        (Some("executed"), Some("collected"))
    );
    let twice = care
        .try_step(
            &order,
            "collect-lock-receipt",
            json!({"collected_on": days_ago(0)}),
        )
        .await;
    assert_eq!(
        (twice.status, twice.problem_code().as_str()),
        (409, "no_lock_receipt_left")
    );

    // An alarm is not ordered from the lock supplier.
    let alarm = assessor
        .grant(
            cid,
            json!({"service": "safety_alarm", "valid_from": days_ago(1)}),
        )
        .await;
    let wrong = coordinator
        .try_step(
            &alarm.order,
            "order-from-supplier",
            json!({"supplier": "Tunstall", "ordered_on": days_ago(0)}),
        )
        .await;
    assert_eq!(
        (wrong.status, wrong.problem_code().as_str()),
        (409, "not_a_lock_order")
    );
}

async fn seed_002_other_municipality_gets_no_lock_and_its_own_invoice_line(app: TestApp) {
    let crew = app.crew().await;
    let assessor = &crew.assessor;
    let other = assessor.boo_customer_consenting(true, true).await;
    let lock = assessor
        .try_grant(
            &other.id,
            json!({"service": "digital_lock", "valid_from": days_ago(5)}),
        )
        .await;
    assert_eq!(
        (lock.status, lock.problem_code().as_str()),
        (422, "other_municipality_no_lock")
    );

    // The alarm is allowed, and billed on its own line.
    crew.running(&other.id, "safety_alarm", &days_ago(3), "TX-1009")
        .await;
    let billing = app.as_billing().await;
    let csv = billing
        .get(&format!(
            "/api/v1/billing/events.csv?from={}&to={}",
            days_ago(30),
            days_ago(0)
        ))
        .await;
    assert_eq!(csv.status, 200);
    assert_eq!(
        csv.header("content-type").as_deref(),
        Some("text/csv; charset=utf-8")
    );
    let text = csv.body.as_str().unwrap();
    assert!(
        text.starts_with("\u{feff}datum;händelse;kundnummer;insats;egen_rad;verkställighet\r\n")
    );
    let line = format!("{};start;{};Trygghetslarm;ja;", days_ago(3), other.number());
    assert!(text.contains(&line), "{text}");
    assert!(
        !text.contains("XXXX"),
        "no personnummer, not even masked, in the export"
    );

    // A provider change (another home-care group) keeps the lock: no uninstall order appears.
    let with = assessor.boo_customer_consenting(true, false).await;
    let wid = &with.id;
    crew.running(wid, "digital_lock", &days_ago(3), "PH-3001")
        .await;
    let admin = app.as_admin().await;
    let sickla_home = admin.group("Sickla hemtjänst").await;
    let card = assessor.get(&format!("/api/v1/customers/{wid}")).await;
    let mut groups: Vec<Value> = card.body["group_ids"].as_array().unwrap().clone();
    groups.push(json!(sickla_home));
    let etag = card.header("etag").unwrap();
    let changed = app
        .patch(
            &format!("/api/v1/customers/{wid}"),
            &assessor.token,
            Some(&etag),
            json!({"group_ids": groups}),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    let open = assessor
        .get(&format!("/api/v1/orders?customer_id={wid}&open=true"))
        .await;
    assert_eq!(open.body["items"], json!([]), "no uninstall of the lock");
    let ex = assessor
        .get(&format!("/api/v1/customers/{wid}/executions"))
        .await;
    assert_eq!(
        ex.body[0]["end_date"],
        Value::Null,
        "the lock's execution goes on"
    );
}

async fn seed_003_returned_installed_executed_extended_and_ended(app: TestApp) {
    let Crew {
        assessor,
        installer,
        coordinator,
    } = app.crew().await;
    let customer = assessor.boo_customer_consenting(false, false).await;
    let cid = &customer.id;
    let number = customer.number();
    let from = Utc::now().date_naive() - Duration::days(40);
    let to = from + Duration::days(29);
    let granted = assessor
        .grant(
            cid,
            json!({"service": "safety_alarm", "valid_from": from, "valid_to": to}),
        )
        .await;

    // The alarm team finds the order incorrect: back to the assessor, who is told why.
    let order = installer
        .step(
            &granted.order,
            "return-to-assessor",
            json!({"reason": "Fel adress i beställningen"}),
        )
        .await;
    assert_eq!(order["state_reason"], "Fel adress i beställningen");
    let returned = assessor
        .inbox()
        .await
        .into_iter()
        .find(|m| m["topic"] == "returned_to_assessor")
        .expect("message");
    assert!(returned["body"].as_str().unwrap().contains("Fel adress"));
    let order = assessor
        .step(&order, "resubmit", json!({"note": "Adressen rättad"}))
        .await;

    let order = installer.book(&order, from + Duration::days(1)).await;
    let order = installer
        .receive_keys(
            &order,
            json!({"key_numbers": ["N-7"], "count": 1, "cabinet": "Nattskåp 1", "hook": "2", "night_cabinet": true}),
        )
        .await;
    let installed_on = (from + Duration::days(2)).to_string();
    let order = installer
        .install(&order, &installed_on, &["TX-1003", "WB-2003"])
        .await;

    // The installation message goes to exactly the seed's four addressees.
    let admin = app.as_admin().await;
    let log = coordinator
        .get(&format!("/api/v1/orders/{}", order.id))
        .await;
    assert_eq!(log.status, 200);
    for (name, group) in [
        ("night patrol", "Boo nattpatrull"),
        ("home care", "Boo hemtjänst"),
        ("alarm team", "Boo larmgrupp"),
    ] {
        let gid = admin.group(group).await;
        let found = installer
            .inbox()
            .await
            .into_iter()
            .chain(app.as_care_staff().await.inbox().await)
            .any(|m| {
                m["topic"] == "installed"
                    && m["recipient_group_id"] == gid
                    && m["body"].as_str().unwrap().contains(number)
            });
        assert!(found, "{name} was not told");
    }
    let billing = app.as_billing().await;
    let to_billing = billing
        .inbox()
        .await
        .into_iter()
        .find(|m| m["topic"] == "installed")
        .expect("billing told");
    assert!(to_billing["body"].as_str().unwrap().contains(&installed_on));
    let unread = billing.get("/api/v1/messages/unread-count").await.body["unread"]
        .as_i64()
        .unwrap();
    assert_eq!(
        billing
            .post(
                &format!(
                    "/api/v1/messages/{}/read",
                    to_billing["id"].as_str().unwrap()
                ),
                json!({})
            )
            .await
            .status,
        204
    );
    assert_eq!(
        billing.get("/api/v1/messages/unread-count").await.body["unread"]
            .as_i64()
            .unwrap(),
        unread - 1
    );

    // The day coordinator executes with the installation date; the night coordinator
    // starts the fee-free visibility execution.
    coordinator.execute(&order).await;
    let night = coordinator
        .post(
            &format!("/api/v1/customers/{cid}/night-visibility"),
            json!({"start_date": installed_on}),
        )
        .await;
    assert_eq!(
        (night.status, night.body["billable"].as_bool()),
        (201, Some(false))
    );

    // Extension: a gap is found and named to the day.
    let decision_id = &granted.decision.id;
    let gap = assessor
        .try_grant(
            cid,
            json!({"service": "safety_alarm", "valid_from": to + Duration::days(4), "follows_id": decision_id}),
        )
        .await;
    assert_eq!(
        (gap.status, gap.problem_code().as_str()),
        (422, "period_gap")
    );
    let first_gap_day = (to + Duration::days(1)).to_string();
    assert!(
        gap.body["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("gap of 3 day(s): {first_gap_day}")),
        "{}",
        gap.body
    );
    let overlap = assessor
        .try_grant(
            cid,
            json!({"service": "safety_alarm", "valid_from": to, "follows_id": decision_id}),
        )
        .await;
    assert_eq!(overlap.problem_code(), "period_overlap");
    let ext = assessor
        .grant(cid, json!({"service": "safety_alarm", "valid_from": to + Duration::days(1), "follows_id": decision_id}))
        .await;
    assert_eq!(ext.order["kind"], "extension");
    let ext_order = coordinator.execute(&ext.order).await;
    assert_eq!(ext_order["state"], "executed");
    let events = billing.billing_events(from, days_ago(0)).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e["customer_id"] == customer.id)
            .count(),
        1,
        "an extension starts no new billing"
    );

    // Ending: the coordinator ends with the assessor's date; billing stops; the night visibility ends too.
    let end_date = days_ago(2);
    let ended = assessor.end_decision(&ext.decision, &end_date).await;
    let u = installer.book(&ended.uninstall_order, days_ago(1)).await;
    let u = installer
        .collect_equipment(&u, days_ago(1), &["TX-1003", "WB-2003"])
        .await;
    let u = installer
        .step(
            &u,
            "return-keys",
            json!({"outcome": "kept", "note": "Hemtjänsten fortsätter"}),
        )
        .await;
    coordinator.end(&u).await;
    let ex = coordinator.executions(cid).await;
    assert!(
        ex.iter().all(|e| e["end_date"] == end_date.as_str()),
        "{ex:?}"
    );
}

async fn seed_004_termination_tells_billing_and_the_ordinary_assessor(app: TestApp) {
    let crew = app.crew().await;
    let customer = crew.assessor.boo_customer_consenting(false, false).await;
    let decision = crew
        .running(&customer.id, "safety_alarm", &days_ago(80), "TX-1004")
        .await;

    let ended = crew.assessor.end_decision(&decision, days_ago(3)).await;
    crew.installer
        .step(
            &ended.uninstall_order,
            "collect-equipment",
            json!({"collected_on": days_ago(1), "items": [], "missing": ["TX-1004"]}),
        )
        .await;
    let billing = app.as_billing().await;
    let to_billing = billing
        .inbox()
        .await
        .into_iter()
        .find(|m| m["topic"] == "equipment_collected")
        .expect("billing told");
    assert!(to_billing["body"]
        .as_str()
        .unwrap()
        .contains("Saknas: TX-1004"));
    let copy = crew
        .assessor
        .inbox()
        .await
        .into_iter()
        .find(|m| m["topic"] == "equipment_collected")
        .expect("assessor copied");
    assert_eq!(copy["recipient_user_id"], customer["ordinary_assessor_id"]);
}

async fn invalid_transitions_and_wrong_roles_are_refused_with_what_is_allowed(app: TestApp) {
    let Crew {
        assessor,
        installer,
        coordinator,
    } = app.crew().await;
    let customer = assessor.boo_customer_consenting(false, false).await;
    let order = assessor
        .grant(
            &customer.id,
            json!({"service": "safety_alarm", "valid_from": days_ago(1)}),
        )
        .await
        .order;
    let early = coordinator.try_step(&order, "execute", json!({})).await;
    assert_eq!(
        (early.status, early.problem_code().as_str()),
        (409, "invalid_transition")
    );
    assert!(
        early.body["detail"]
            .as_str()
            .unwrap()
            .contains("Allowed from here: return_to_assessor, book, decline, cancel."),
        "{}",
        early.body
    );
    let wrong_role = installer
        .try_step(&order, "cancel", json!({"reason": "x"}))
        .await;
    assert_eq!(
        (wrong_role.status, wrong_role.problem_code().as_str()),
        (403, "forbidden")
    );
    let future = installer
        .try_step(
            &order,
            "install",
            json!({"installation_date": "2999-01-01", "serials": ["X"]}),
        )
        .await;
    assert_eq!(
        future.status, 422,
        "validation comes before the state check: {}",
        future.body
    );
    // Without If-Match.
    let no_version = installer
        .post(
            &format!("/api/v1/orders/{}/book", order.id),
            json!({"visit_date": days_ago(0)}),
        )
        .await;
    assert_eq!(no_version.status, 428);
    let dup = assessor
        .try_grant(
            &customer.id,
            json!({"service": "safety_alarm", "valid_from": days_ago(1)}),
        )
        .await;
    assert_eq!(
        (dup.status, dup.problem_code().as_str()),
        (409, "service_already_ordered")
    );
    let cancelled = assessor
        .step(&order, "cancel", json!({"reason": "Beslutet återkallat"}))
        .await;
    let closed = installer
        .try_step(&cancelled, "book", json!({"visit_date": days_ago(0)}))
        .await;
    assert!(closed.body["detail"]
        .as_str()
        .unwrap()
        .contains("nothing (the order is closed)"));
    // Nothing was written by the refused calls.
    let detail = assessor.order_detail(&order.id).await;
    assert_eq!(detail["history"].as_array().unwrap().len(), 1);
}

async fn concurrent_transitions_exactly_one_wins(app: TestApp) {
    let Crew {
        assessor,
        installer,
        ..
    } = app.crew().await;
    let customer = assessor.boo_customer_consenting(false, false).await;
    let order = assessor
        .grant(
            &customer.id,
            json!({"service": "safety_alarm", "valid_from": days_ago(1)}),
        )
        .await
        .order;
    let (a, b) = futures_util::join!(
        installer.try_step(
            &order,
            "book",
            json!({"visit_date": days_ago(0), "visit_time": "08:00"})
        ),
        installer.try_step(&order, "decline", json!({"reason": "Vill inte"})),
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
    let detail = installer.order_detail(&order.id).await;
    assert_eq!(detail["history"].as_array().unwrap().len(), 1);
    assert_eq!(detail["order"]["version"], 2);
}

on_both_backends!(random_transitions_by_random_roles_keep_every_invariant);

/// Random sequences of transitions from random roles, through the API: the
/// order never reaches a state its kind cannot have, no order gets two
/// executions, and every ended execution has both a billing start and a stop.
async fn random_transitions_by_random_roles_keep_every_invariant(app: TestApp) {
    use larmkoll::domain::order::reachable_states;
    use larmkoll::domain::{OrderEvent, OrderKind};
    let sessions = [
        app.as_assessor().await,
        app.as_coordinator().await,
        app.as_installer().await,
        app.as_care_staff().await,
        app.as_billing().await,
    ];
    let crew = app.crew().await;
    let customers = crew.assessor.customers().await;
    // A small deterministic generator, so a failure can be replayed.
    let mut seed: u64 = 0x5eed_0003;
    let mut next = |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((seed >> 33) as usize) % n
    };
    let bodies = |event: OrderEvent, serial: &str| match event {
        OrderEvent::Book => json!({"visit_date": days_ago(5)}),
        OrderEvent::ReceiveKeys => {
            json!({"key_numbers": [format!("K-{serial}")], "count": 1, "cabinet": "Skåp 1", "hook": "1"})
        }
        OrderEvent::Install => json!({"installation_date": days_ago(4), "serials": [serial]}),
        OrderEvent::CollectEquipment => json!({"collected_on": days_ago(0), "items": [serial]}),
        OrderEvent::ReturnKeys => json!({"outcome": "returned"}),
        OrderEvent::Resubmit => json!({}),
        OrderEvent::Execute | OrderEvent::End => json!({}),
        _ => json!({"reason": "slump"}),
    };
    // What the walk reached, so a walk that silently does nothing fails.
    let mut reached = std::collections::BTreeSet::new();
    let mut accepted = std::collections::BTreeSet::new();
    let (mut accepted_steps, mut refused_steps, mut uninstall_orders) = (0, 0, 0);
    let (mut executions_checked, mut ended_executions_checked) = (0, 0);
    let mut round = 0;
    for customer in customers
        .iter()
        .filter(|c| c["address"]["city"] == "Saltsjö-Boo" && c["other_municipality"] == false)
        .take(6)
    {
        let cid = &customer.id;
        round += 1;
        let serial = format!("TX-{}", 1010 + round);
        let granted = crew
            .assessor
            .grant(
                cid,
                json!({"service": "safety_alarm", "valid_from": days_ago(30)}),
            )
            .await;
        let mut orders: Vec<Order> = vec![granted.order];
        let mut decision: Decision = granted.decision;
        for _ in 0..30 {
            let order = orders.last().unwrap().clone();
            // Mostly a possible event by a random user, sometimes anything at all.
            // A decline or cancel closes the order, so those are rarer: the
            // walk should get as far as executing and ending.
            let allowed: Vec<OrderEvent> = order["allowed_events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| serde_json::from_value(e.clone()).unwrap())
                .collect();
            let onwards: Vec<OrderEvent> = allowed
                .iter()
                .copied()
                .filter(|e| !matches!(e, OrderEvent::Decline | OrderEvent::Cancel))
                .collect();
            let event = if !allowed.is_empty() && next(4) != 0 {
                if !onwards.is_empty() && next(8) != 0 {
                    onwards[next(onwards.len())]
                } else {
                    allowed[next(allowed.len())]
                }
            } else {
                OrderEvent::ALL[next(OrderEvent::ALL.len())]
            };
            // Half the time whoever's step it is in the routine, so the walk
            // gets past the first refusals; otherwise anyone.
            let owner = match event {
                OrderEvent::Resubmit | OrderEvent::Cancel => 0,
                OrderEvent::Execute | OrderEvent::End | OrderEvent::OrderFromSupplier => 1,
                OrderEvent::CollectLockReceipt => 3,
                _ => 2,
            };
            let who = if next(2) == 0 {
                &sessions[owner]
            } else {
                &sessions[next(sessions.len())]
            };
            let res = who
                .try_step(&order, event.segment(), bodies(event, &serial))
                .await;
            assert!(
                [200, 403, 409, 412, 422].contains(&res.status),
                "{event:?}: {} {}",
                res.status,
                res.body
            );
            if res.status == 200 {
                *orders.last_mut().unwrap() = Order::new(res.body["order"].clone());
                accepted_steps += 1;
                accepted.insert(format!("{event:?}"));
            } else {
                refused_steps += 1;
            }
            // When the install is executed, end the decision now and then to get an uninstall order.
            let current = orders.last().unwrap().clone();
            if current["kind"] == "install"
                && current["state"] == "executed"
                && decision["ended_on"].is_null()
                && next(3) == 0
            {
                let ended = crew.assessor.end_decision(&decision, days_ago(1)).await;
                decision = ended.decision;
                orders.push(ended.uninstall_order);
                uninstall_orders += 1;
            }
        }
        reached.extend(orders.iter().map(|o| {
            format!(
                "{}:{}",
                o["kind"].as_str().unwrap(),
                o["state"].as_str().unwrap()
            )
        }));
        for order in &orders {
            let kind: OrderKind = order["kind"].as_str().unwrap().parse().unwrap();
            let state = order["state"].as_str().unwrap().parse().unwrap();
            assert!(
                reachable_states(kind).contains(&state),
                "{kind:?} in {state:?}"
            );
        }
        let executions = crew.coordinator.executions(cid).await;
        let regular: Vec<&Value> = executions
            .iter()
            .filter(|e| e["kind"] == "regular")
            .collect();
        assert!(
            regular.len() <= 1,
            "two executions for one order: {executions:?}"
        );
        let billing = app.as_billing().await;
        let events = billing.billing_events(days_ago(60), days_ago(0)).await;
        let mine: Vec<&Value> = events
            .iter()
            .filter(|e| e["customer_id"] == customer.id)
            .collect();
        for e in &regular {
            let starts = mine
                .iter()
                .filter(|b| b["execution_id"] == e["id"] && b["kind"] == "start")
                .count();
            let stops = mine
                .iter()
                .filter(|b| b["execution_id"] == e["id"] && b["kind"] == "stop")
                .count();
            assert_eq!(starts, 1);
            assert_eq!(
                stops,
                usize::from(!e["end_date"].is_null()),
                "an ended execution has exactly one stop"
            );
            executions_checked += 1;
            ended_executions_checked += usize::from(!e["end_date"].is_null());
        }
    }
    eprintln!(
        "walk: {round} customers, {accepted_steps} accepted, {refused_steps} refused, \
         {uninstall_orders} uninstall orders, {executions_checked} executions \
         ({ended_executions_checked} ended); events {accepted:?}; ended in {reached:?}"
    );
    // The seed's walk (deterministic) gets through a whole install and uninstall.
    assert!(
        accepted_steps >= 20 && refused_steps >= 50,
        "{accepted_steps} steps accepted, {refused_steps} refused"
    );
    for event in [
        "Book",
        "Install",
        "Execute",
        "CollectEquipment",
        "ReturnKeys",
        "End",
    ] {
        assert!(accepted.contains(event), "never {event}: {accepted:?}");
    }
    for state in ["install:executed", "uninstall:ended"] {
        assert!(
            reached.contains(state),
            "never ended in {state}: {reached:?}"
        );
    }
    assert!(uninstall_orders >= 1 && ended_executions_checked >= 1);
}
