//! The routines' rules the API enforces (issue 15): dates that bind an
//! installation and an execution to the decision, and an extension to a
//! running service. Each test is named after the seed step it comes from.

use crate::helpers::{read_csv, TestApp};
use crate::on_both_backends;
use crate::steps::{days_ago, Crew, Customer, Order, Session};
use serde_json::{json, Value};

on_both_backends!(
    seed000_step8_the_installation_date_lies_within_the_decision,
    seed003_extension_is_executed_only_while_the_alarm_runs,
    seed000_step3_the_alarm_centre_fetches_the_personnummer_only_with_a_reason,
    seed003_a_key_signed_out_twice_is_refused_in_words,
    seed000_step3_the_alarm_centre_registers_the_alarm_in_the_platform,
    seed000_step12_the_alarm_centre_deregisters_the_terminated_alarm,
    seed003_night_visibility_starts_within_the_alarm_decision,
);

/// serde's and actix's English must not reach the Swedish a person reads.
fn assert_no_english(sv: &str) {
    for english in [
        "missing field",
        "unknown variant",
        "expected",
        "deserialize",
        " at line ",
        "invalid digit",
        "sign_out",
    ] {
        assert!(!sv.contains(english), "{english:?} in {sv}");
    }
}

async fn seed000_step8_the_installation_date_lies_within_the_decision(app: TestApp) {
    let Crew {
        assessor,
        installer,
        coordinator,
    } = app.crew().await;
    let customer = assessor.boo_customer_consenting(false, false).await;
    let granted = assessor
        .grant(
            &customer.id,
            json!({"service": "safety_alarm", "valid_from": days_ago(5)}),
        )
        .await;
    let order = installer.book(&granted.order, days_ago(5)).await;

    // Installed two days before the decision's first day: refused, naming the field and the days.
    let early = installer
        .try_step(
            &order,
            "install",
            json!({"installation_date": days_ago(7), "serials": ["TX-1001"]}),
        )
        .await;
    assert_eq!(
        (early.status, early.problem_code().as_str()),
        (422, "validation_failed"),
        "{}",
        early.body
    );
    let error = &early.body["errors"][0];
    assert_eq!(
        (error["field"].as_str(), error["code"].as_str()),
        (Some("installation_date"), Some("outside_decision_period"))
    );
    let allowed_sv = format!("välj ett datum från {} till {}", days_ago(5), days_ago(0));
    assert!(
        error["detail_sv"].as_str().unwrap().contains(&allowed_sv)
            && early.body["detail_sv"]
                .as_str()
                .unwrap()
                .contains("installationsdatum"),
        "{}",
        early.body
    );
    assert!(
        error["detail"].as_str().unwrap().contains(&format!(
            "allowed: {} to {}",
            days_ago(5),
            days_ago(0)
        )),
        "{}",
        early.body
    );
    // Nothing happened: the order is still booked, no equipment left at the customer's.
    let detail = coordinator.order_detail(&order.id).await;
    assert_eq!(detail["order"]["state"], "booked");

    // On the decision's first day it is accepted; execution and billing start on it.
    let order = installer.install(&order, days_ago(5), &["TX-1001"]).await;
    coordinator.execute(&order).await;
    let executions = coordinator.executions(&customer.id).await;
    assert_eq!(executions[0]["start_date"], days_ago(5));

    // A decision that starts tomorrow allows no installation day yet.
    let other = assessor.boo_customer_consenting(true, false).await;
    let later = assessor
        .grant(
            &other.id,
            json!({"service": "safety_alarm", "valid_from": (chrono::Utc::now().date_naive() + chrono::Duration::days(1)).to_string()}),
        )
        .await;
    let booked = installer.book(&later.order, days_ago(0)).await;
    let too_soon = installer
        .try_step(
            &booked,
            "install",
            json!({"installation_date": days_ago(0), "serials": ["TX-1003"]}),
        )
        .await;
    assert_eq!(too_soon.status, 422, "{}", too_soon.body);
    assert!(
        too_soon.body["errors"][0]["detail_sv"]
            .as_str()
            .unwrap()
            .contains("inget datum går ännu"),
        "{}",
        too_soon.body
    );
}

async fn seed003_extension_is_executed_only_while_the_alarm_runs(app: TestApp) {
    let Crew {
        assessor,
        installer,
        coordinator,
    } = app.crew().await;
    let customer = assessor.boo_customer_consenting(false, false).await;
    let granted = assessor
        .grant(
            &customer.id,
            json!({"service": "safety_alarm", "valid_from": days_ago(40), "valid_to": days_ago(11)}),
        )
        .await;
    let extension = assessor
        .grant(
            &customer.id,
            json!({"service": "safety_alarm", "valid_from": days_ago(10), "follows_id": granted.decision.id}),
        )
        .await;
    assert_eq!(extension.order["kind"], "extension");

    // The alarm was never installed: its install order is still received.
    let refused = coordinator
        .try_step(&extension.order, "execute", json!({}))
        .await;
    assert_eq!(
        (refused.status, refused.problem_code().as_str()),
        (422, "validation_failed"),
        "{}",
        refused.body
    );
    let error = &refused.body["errors"][0];
    assert_eq!(
        (error["field"].as_str(), error["code"].as_str()),
        (Some("follows_id"), Some("service_not_running"))
    );
    assert!(
        error["detail_sv"]
            .as_str()
            .unwrap()
            .contains("installationsbeställningen är mottagen och inte verkställd"),
        "{}",
        refused.body
    );
    let still = coordinator.order_detail(&extension.order.id).await;
    assert_eq!(still["order"]["state"], "received");

    // Installed and executed within the first decision, the extension continues that execution.
    let order = installer.book(&granted.order, days_ago(39)).await;
    let order = installer.install(&order, days_ago(38), &["TX-1001"]).await;
    coordinator.execute(&order).await;
    let executed = coordinator.execute(&extension.order).await;
    assert_eq!(executed["state"], "executed");
    let execution = coordinator.executions(&customer.id).await[0].clone();
    let detail = coordinator.order_detail(&extension.order.id).await;
    let history = detail["history"].as_array().unwrap();
    let step = history.last().unwrap();
    assert_eq!(step["details"]["execution_id"], execution["id"]);
    assert_eq!(step["details"]["running_since"], days_ago(38));
}

async fn seed000_step3_the_alarm_centre_fetches_the_personnummer_only_with_a_reason(app: TestApp) {
    let alarm_centre = app.as_alarm_centre().await;
    let assessor = app.as_assessor().await;
    let customer = assessor.boo_customer(false).await;
    let path = format!("/api/v1/customers/{}/personnummer", customer.id);

    // No reason: 422 as the spec documents, naming the parameter in Swedish.
    let none = alarm_centre.get(&path).await;
    assert_eq!(
        (none.status, none.problem_code().as_str()),
        (422, "invalid_query_parameter"),
        "{}",
        none.body
    );
    let error = &none.body["errors"][0];
    assert_eq!(
        (error["field"].as_str(), error["code"].as_str()),
        (Some("reason"), Some("required"))
    );
    let sv = none.body["detail_sv"].as_str().unwrap();
    assert!(sv.contains("Parametern reason (kommentar) saknas"), "{sv}");
    assert_no_english(sv);
    let blank = alarm_centre.get(format!("{path}?reason=%20")).await;
    assert_eq!(
        (blank.status, blank.problem_code().as_str()),
        (422, "validation_failed")
    );
    let shown = alarm_centre
        .get(format!("{path}?reason=Registrering%20i%20PNC"))
        .await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert_eq!(
        shown.body["personnummer"].as_str().map(str::len),
        Some(13),
        "{}",
        shown.body
    );

    // A value the list does not know: 400 as the spec documents for the list, the field named.
    let state = alarm_centre.get("/api/v1/orders?state=bokad").await;
    assert_eq!(
        (state.status, state.problem_code().as_str()),
        (400, "invalid_query_parameter"),
        "{}",
        state.body
    );
    assert_eq!(state.body["errors"][0]["field"], "state");
    let sv = state.body["detail_sv"].as_str().unwrap();
    assert!(
        sv.contains("okänt värde \"bokad\"") && sv.contains("received"),
        "{sv}"
    );
    // The allowed values are the codes a caller types, so only serde's words are looked for.
    for english in ["unknown variant", "expected", "deserialize"] {
        assert!(!sv.contains(english), "{english:?} in {sv}");
    }

    // A report's months that is no number: 422, as its spec says for bad months.
    let coordinator = app.as_coordinator().await;
    let months = coordinator
        .get("/api/v1/reports/not-executed?months=tre")
        .await;
    assert_eq!(
        (months.status, months.problem_code().as_str()),
        (422, "invalid_query_parameter"),
        "{}",
        months.body
    );
    assert_eq!(months.body["errors"][0]["field"], "months");
    let sv = months.body["detail_sv"].as_str().unwrap();
    assert!(sv.contains("ska vara ett heltal"), "{sv}");
    assert_no_english(sv);
}

async fn seed003_a_key_signed_out_twice_is_refused_in_words(app: TestApp) {
    let installer = app.as_installer().await;
    let care = app.as_care_staff().await;
    let admin = app.as_admin().await;
    let customer = installer.boo_customer(false).await;
    let night = admin.group("Boo nattpatrull").await;
    let key = installer
        .create_key(json!({"key_number": "B-77", "customer_id": customer.id, "count": 1, "cabinet": "Skåp 1", "hook": "4"}))
        .await;
    let key = care.sign_out_key(&key, &night).await;
    let twice = care
        .try_key_move(&key, "sign-out", json!({"group_id": night}))
        .await;
    assert_eq!(
        (twice.status, twice.problem_code().as_str()),
        (409, "key_not_there"),
        "{}",
        twice.body
    );
    let en = twice.body["detail"].as_str().unwrap();
    assert!(
        en.starts_with(
            "Key B-77 cannot be signed out: the register says it is signed out to Boo nattpatrull"
        ),
        "{en}"
    );
    let sv = twice.body["detail_sv"].as_str().unwrap();
    assert!(
        sv.starts_with("Nyckel B-77 kan inte kvitteras ut: registret säger att den är utkvitterad till Boo nattpatrull"),
        "{sv}"
    );
    assert_no_english(sv);
}

/// The platform report's row for `order`, if it lists it.
async fn platform_row(session: &Session<'_>, order: &Order) -> Option<Value> {
    let report = session.get("/api/v1/reports/platform-registration").await;
    assert_eq!(report.status, 200, "{}", report.body);
    report
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["order_id"] == order.id)
        .cloned()
}

/// Seed 000 steps 1–7: an alarm granted, booked and installed ten days ago.
async fn installed_alarm(app: &TestApp) -> (Customer, Order) {
    let Crew {
        assessor,
        installer,
        ..
    } = app.crew().await;
    let customer = assessor.boo_customer_consenting(false, false).await;
    let granted = assessor
        .grant(
            &customer.id,
            json!({"service": "safety_alarm", "valid_from": days_ago(20)}),
        )
        .await;
    let order = installer.book(&granted.order, days_ago(12)).await;
    let order = installer.install(&order, days_ago(10), &["TX-1001"]).await;
    (customer, order)
}

async fn seed000_step3_the_alarm_centre_registers_the_alarm_in_the_platform(app: TestApp) {
    let (customer, order) = installed_alarm(&app).await;
    let alarm_centre = app.as_alarm_centre().await;
    let installer = app.as_installer().await;

    // Installed and not registered: in the report (JSON and CSV in Swedish) and followed up once.
    let row = platform_row(&alarm_centre, &order).await.expect("listed");
    assert_eq!(
        (row["problem"].as_str(), row["customer_number"].as_str()),
        (Some("not_registered"), Some(customer.number()))
    );
    let csv = alarm_centre
        .get("/api/v1/reports/platform-registration?format=csv")
        .await;
    assert_eq!(csv.status, 200);
    let text = csv.body.as_str().unwrap();
    let rows = read_csv(text);
    assert_eq!(rows[0][..3], ["område", "kundnummer", "att göra"]);
    let line = rows
        .iter()
        .find(|r| r[1] == customer.number())
        .expect("the customer's row");
    assert_eq!(line[2], "Registrera i larmplattformen");
    assert_eq!(line[3], "Installerad");
    assert!(!text.contains("not_registered") && !text.contains("installed"));
    let fired = app.follow_up(&days_ago(0));
    assert!(
        fired
            .iter()
            .any(|f| f["rule"] == "not_registered" && f["subject_id"] == order.id),
        "{fired:?}"
    );
    assert!(!app
        .follow_up(&days_ago(0))
        .iter()
        .any(|f| f["subject_id"] == order.id));
    let told = alarm_centre
        .inbox()
        .await
        .into_iter()
        .find(|m| m["topic"] == "not_registered" && m["order_id"] == order.id)
        .expect("the alarm centre is told");
    assert!(told["body"].as_str().unwrap().contains(&format!(
        "kund {} installerades {}",
        customer.number(),
        days_ago(10)
    )));

    // Only the alarm centre registers, not before the installation.
    let by_installer = installer
        .try_step(
            &order,
            "register-in-platform",
            json!({"platform_reference": "PNC-4711", "registered_on": days_ago(0)}),
        )
        .await;
    assert_eq!(by_installer.status, 403, "{}", by_installer.body);
    let early = alarm_centre
        .try_step(
            &order,
            "register-in-platform",
            json!({"platform_reference": "PNC-4711", "registered_on": days_ago(11)}),
        )
        .await;
    assert_eq!(early.status, 422, "{}", early.body);
    assert_eq!(early.body["errors"][0]["field"], "registered_on");
    let registered = alarm_centre
        .step(
            &order,
            "register-in-platform",
            json!({"platform_reference": "PNC-4711", "registered_on": days_ago(9)}),
        )
        .await;
    assert_eq!(
        registered["state"], "installed",
        "the order keeps its state"
    );
    assert_eq!(
        registered["platform_registration"],
        json!({"reference": "PNC-4711", "registered_on": days_ago(9), "deregistered_on": null})
    );
    let twice = alarm_centre
        .try_step(
            &registered,
            "register-in-platform",
            json!({"platform_reference": "PNC-4712", "registered_on": days_ago(0)}),
        )
        .await;
    assert_eq!(twice.problem_code(), "already_recorded", "{}", twice.body);
    // The alarm runs: nothing to deregister yet.
    let still_running = alarm_centre
        .try_step(
            &registered,
            "deregister-from-platform",
            json!({"deregistered_on": days_ago(0)}),
        )
        .await;
    assert_eq!(
        (still_running.status, still_running.problem_code().as_str()),
        (409, "alarm_still_running")
    );
    assert!(platform_row(&alarm_centre, &order).await.is_none());

    // The install order's history carries it, with who and the reference.
    let detail = alarm_centre.order_detail(&order.id).await;
    let step = detail["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (
            step["event"].as_str(),
            step["details"]["platform_reference"].as_str()
        ),
        (Some("register_in_platform"), Some("PNC-4711"))
    );
    assert_eq!(
        app.audit_count("order.register_in_platform", "ok", customer.id.as_str())
            .await,
        1
    );
}

async fn seed000_step12_the_alarm_centre_deregisters_the_terminated_alarm(app: TestApp) {
    let (customer, order) = installed_alarm(&app).await;
    let Crew {
        assessor,
        coordinator,
        ..
    } = app.crew().await;
    let alarm_centre = app.as_alarm_centre().await;
    let order = alarm_centre
        .step(
            &order,
            "register-in-platform",
            json!({"platform_reference": "PNC-5150", "registered_on": days_ago(10)}),
        )
        .await;
    let order = coordinator.execute(&order).await;
    let decision = assessor
        .decisions(&customer.id)
        .await
        .into_iter()
        .find(|d| d.id == order["decision_id"])
        .expect("the decision");

    // Step 12: the decision ends; the alarm is still registered until the alarm centre deregisters it.
    assessor.end_decision(&decision, days_ago(1)).await;
    let row = platform_row(&alarm_centre, &order).await.expect("listed");
    assert_eq!(
        (row["problem"].as_str(), row["platform_reference"].as_str()),
        (Some("not_deregistered"), Some("PNC-5150"))
    );
    let fired = app.follow_up(&days_ago(0));
    assert!(
        fired
            .iter()
            .any(|f| f["rule"] == "not_deregistered" && f["subject_id"] == order.id),
        "{fired:?}"
    );
    assert!(alarm_centre
        .inbox()
        .await
        .iter()
        .any(|m| m["topic"] == "not_deregistered"
            && m["body"].as_str().unwrap().contains("referens PNC-5150")));

    let order = alarm_centre.order_detail(&order.id).await["order"].clone();
    let order = Order::new(order);
    let done = alarm_centre
        .step(
            &order,
            "deregister-from-platform",
            json!({"deregistered_on": days_ago(0)}),
        )
        .await;
    assert_eq!(done["state"], "executed");
    assert_eq!(
        done["platform_registration"]["deregistered_on"],
        days_ago(0)
    );
    assert!(platform_row(&alarm_centre, &order).await.is_none());
    let detail = alarm_centre.order_detail(&order.id).await;
    let events: Vec<&str> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events[events.len() - 3..],
        [
            "register_in_platform",
            "execute",
            "deregister_from_platform"
        ]
    );
}

async fn seed003_night_visibility_starts_within_the_alarm_decision(app: TestApp) {
    let Crew {
        assessor,
        coordinator,
        ..
    } = app.crew().await;
    let customer = assessor.boo_customer_consenting(false, false).await;
    let path = format!("/api/v1/customers/{}/night-visibility", customer.id);
    // No safety-alarm decision: no day is allowed.
    let none = coordinator
        .post(&path, json!({"start_date": days_ago(0)}))
        .await;
    assert_eq!(none.status, 422, "{}", none.body);
    assert_eq!(
        (
            none.body["errors"][0]["field"].as_str(),
            none.body["errors"][0]["code"].as_str()
        ),
        (Some("start_date"), Some("outside_decision_period"))
    );
    assert!(none.body["errors"][0]["detail_sv"]
        .as_str()
        .unwrap()
        .contains("inget beslut om trygghetslarm"));
    assessor
        .grant(
            &customer.id,
            json!({"service": "safety_alarm", "valid_from": days_ago(5)}),
        )
        .await;
    let early = coordinator
        .post(&path, json!({"start_date": days_ago(6)}))
        .await;
    assert_eq!(early.status, 422, "{}", early.body);
    assert!(early.body["errors"][0]["detail_sv"]
        .as_str()
        .unwrap()
        .contains(&format!(
            "välj ett datum från {} till {}",
            days_ago(5),
            days_ago(0)
        )));
    let started = coordinator
        .post(&path, json!({"start_date": days_ago(5)}))
        .await;
    assert_eq!(
        (started.status, started.body["billable"].as_bool()),
        (201, Some(false)),
        "{}",
        started.body
    );
}
