//! The order lifecycle as the apps read it (`GET /api/v1/lifecycle`): the
//! committed `openapi/lifecycle.json` is what the server serves, and the
//! server acts as it says.

use crate::helpers::TestApp;
use crate::on_both_backends;
use chrono::Utc;
use serde_json::{json, Value};

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/lifecycle.json");

fn committed_text() -> String {
    std::fs::read_to_string(COMMITTED).expect("openapi/lifecycle.json is committed")
}

#[test]
fn committed_lifecycle_is_not_stale() {
    assert!(
        committed_text() == larmkoll::api::lifecycle::lifecycle_json(),
        "openapi/lifecycle.json is stale: run `cargo run -q -- lifecycle > openapi/lifecycle.json` and commit it"
    );
}

on_both_backends!(every_role_reads_the_lifecycle_and_the_server_acts_as_it_says);

fn kind<'a>(lifecycle: &'a Value, name: &str) -> &'a Value {
    lifecycle["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == name)
        .unwrap_or_else(|| panic!("no kind {name}"))
}

fn event<'a>(kind: &'a Value, name: &str) -> &'a Value {
    kind["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == name)
        .unwrap_or_else(|| panic!("no event {name}"))
}

/// Where the description says `event` leads from `from`, if anywhere.
fn next(kind: &Value, from: &str, event: &str) -> Option<String> {
    kind["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["from"] == from && t["event"] == event)
        .map(|t| t["to"].as_str().unwrap().to_string())
}

async fn every_role_reads_the_lifecycle_and_the_server_acts_as_it_says(app: TestApp) {
    let anonymous = app.send("GET", "/api/v1/lifecycle", None, &[], None).await;
    assert_eq!(anonymous.status, 401);

    let committed: Value = serde_json::from_str(&committed_text()).unwrap();
    for user in [
        "admin",
        "handlaggare",
        "koordinator",
        "installator",
        "hemtjanst",
        "avgift",
        "larmcentral",
    ] {
        let token = app.login(user).await;
        let res = app.get("/api/v1/lifecycle", &token).await;
        assert_eq!(res.status, 200, "{user}: {}", res.body);
        assert_eq!(res.body, committed, "{user} reads the committed document");
    }

    let install = kind(&committed, "install");
    assert_eq!(install["label"], "Installation");
    let book = event(install, "book");
    assert_eq!(book["label"], "Boka besök");
    assert_eq!(book["roles"], json!(["installer"]));
    assert_eq!(event(install, "execute")["roles"], json!(["coordinator"]));
    assert_eq!(event(install, "order_from_supplier")["lock_only"], true);
    let finals: Vec<&str> = install["states"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["final"] == true)
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert_eq!(finals, ["executed", "declined", "cancelled"]);
    let uninstall = kind(&committed, "uninstall");
    let returned = uninstall["states"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["state"] == "keys_returned")
        .unwrap();
    assert_eq!(
        returned["final"], false,
        "keys returned still waits for the end"
    );
    assert_eq!(returned["label"], "Nycklar återlämnade");

    // Walk an install by the description: each step lands where it says, and
    // a step it does not list from there is refused.
    let assessor = app.login("handlaggare").await;
    let installer = app.login("installator").await;
    let customers = app.get("/api/v1/customers?limit=200", &assessor).await;
    let today = Utc::now().date_naive();
    let mut granted = None;
    // The first Boo customer without an alarm yet.
    for customer in customers.body["items"].as_array().unwrap() {
        let res = app
            .post(
                &format!(
                    "/api/v1/customers/{}/decisions",
                    customer["id"].as_str().unwrap()
                ),
                Some(&assessor),
                json!({"service": "safety_alarm", "valid_from": today.to_string()}),
            )
            .await;
        if res.status == 201 {
            granted = Some(res.body);
            break;
        }
    }
    let granted = granted.expect("a customer without an alarm");
    let mut order = granted["order"].clone();
    assert_eq!(order["state"], "received");
    assert_eq!(next(install, "received", "install"), None);
    let early = app
        .post_if(
            &format!("/api/v1/orders/{}/install", order["id"].as_str().unwrap()),
            &installer,
            order["version"].as_i64().unwrap(),
            json!({"installation_date": today.to_string(), "serials": ["X"]}),
        )
        .await;
    assert_eq!(early.status, 409, "{}", early.body);
    for (step, body) in [
        ("book", json!({"visit_date": today.to_string()})),
        (
            "receive_keys",
            json!({"key_numbers": ["LC-1"], "count": 1, "cabinet": "Skåp 1", "hook": "1"}),
        ),
    ] {
        let expected = next(install, order["state"].as_str().unwrap(), step).unwrap();
        let segment = event(install, step)["path_segment"].as_str().unwrap();
        let res = app
            .post_if(
                &format!("/api/v1/orders/{}/{segment}", order["id"].as_str().unwrap()),
                &installer,
                order["version"].as_i64().unwrap(),
                body,
            )
            .await;
        assert_eq!(res.status, 200, "{step}: {}", res.body);
        order = res.body["order"].clone();
        assert_eq!(order["state"], expected.as_str(), "{step}");
    }
}
