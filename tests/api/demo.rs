//! The living demo: the real binary started with `serve --demo` on an empty
//! database loads a municipality in motion, so every list the desk
//! (`pwa/desk/desk.js`) and the field app (`pwa/app.js`) read has rows for
//! the role that reads it, every order state of the lifecycle is there in
//! both areas, and the dates are relative to today. A second start on the
//! same data loads nothing.

use crate::cli::serve_demo;
use crate::helpers::{free_port, Backend, TestDatabase};
use chrono::{Datelike, Duration, NaiveDate};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};

struct Desk {
    base: String,
    http: awc::Client,
}

impl Desk {
    fn new(port: u16) -> Self {
        Desk {
            base: format!("http://127.0.0.1:{port}/api/v1"),
            http: awc::Client::builder()
                .timeout(std::time::Duration::from_secs(60))
                .finish(),
        }
    }

    async fn login(&self, username: &str) -> String {
        let mut res = self
            .http
            .post(format!("{}/auth/login", self.base))
            .send_json(&json!({"username": username, "password": "demo"}))
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "demo login {username}");
        let body: Value = res.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }

    /// The body of a GET answered 200.
    async fn bytes(&self, path: &str, token: &str) -> Vec<u8> {
        let mut res = self
            .http
            .get(format!("{}{path}", self.base))
            .insert_header(("Authorization", format!("Bearer {token}")))
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body = res.body().limit(1 << 24).await.unwrap();
        assert_eq!(
            status,
            200,
            "GET {path}: {}",
            String::from_utf8_lossy(&body)
        );
        body.to_vec()
    }

    async fn get(&self, path: &str, token: &str) -> Value {
        serde_json::from_slice(&self.bytes(path, token).await).unwrap_or(Value::Null)
    }

    /// The rows of a list, whether it answers a plain array or a page.
    async fn rows(&self, path: &str, token: &str) -> Vec<Value> {
        match self.get(path, token).await {
            Value::Array(rows) => rows,
            Value::Object(page) if page.contains_key("items") => {
                page["items"].as_array().unwrap().clone()
            }
            other => panic!("GET {path} is no list: {other}"),
        }
    }

    /// Every page of a paged list.
    async fn all(&self, path: &str, token: &str) -> Vec<Value> {
        let mut rows = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let sep = if path.contains('?') { '&' } else { '?' };
            let page = match &cursor {
                Some(c) => self.get(&format!("{path}{sep}cursor={c}"), token).await,
                None => self.get(path, token).await,
            };
            rows.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return rows,
            }
        }
    }
}

fn first_of_month(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap()
}

/// Every list each role's desk views and field-app screens read, with at
/// least one row; the role's own checks besides.
async fn every_list_has_rows(desk: &Desk, today: NaiveDate) {
    let in_two_weeks = today + Duration::days(14);
    let last_month = first_of_month(first_of_month(today) - Duration::days(1));
    let visits = format!("/orders?mine=true&visit_from={today}&visit_to={in_two_weeks}&limit=200");
    let billing = format!("/billing/events?from={last_month}&to={today}");
    let lists: &[(&str, &[&str])] = &[
        (
            "installator",
            &[
                // The field app: my visits, orders to book, inbox.
                &visits,
                "/orders?open=true&state=received&limit=200",
                "/messages?limit=50",
                // The desk's pick-up list; keys and equipment the team holds.
                "/reports/to-collect",
                "/reports/deliveries",
                "/keys",
                "/equipment/items?state=to_collect",
            ],
        ),
        (
            "koordinator",
            &[
                // To execute, to end, extensions, stalled, inbox, pick-up list.
                "/orders?state=installed&kind=install&limit=200",
                "/orders?kind=uninstall&state=keys_returned&limit=200",
                "/reports/extensions",
                "/reports/not-executed?months=1",
                "/reports/not-executed?months=3",
                "/reports/keys-not-received",
                "/messages?limit=100",
                "/reports/to-collect",
                "/keys",
                "/keys?overdue=true",
                "/keys?custody=lost",
                "/reports/keys-out",
                "/reports/deliveries",
                "/orders?kind=extension&limit=200",
            ],
        ),
        (
            "handlaggare",
            &[
                "/reports/not-executed?months=1",
                "/reports/not-executed?months=3",
                "/reports/keys-not-received",
                "/messages?limit=100",
                "/orders?state=returned_to_assessor&limit=200",
                "/customers?limit=50",
            ],
        ),
        (
            "hemtjanst",
            &[
                // The field app for home care: orders of its customers, inbox, keys.
                "/orders?open=true&state=received&limit=200",
                "/messages?limit=50",
                "/keys?custody=signed_out",
                "/customers?limit=50",
            ],
        ),
        ("avgift", &["/messages?limit=100", &billing]),
        (
            "larmcentral",
            &[
                "/messages?limit=100",
                "/orders?kind=install&state=received&limit=200",
                "/orders?state=cancelled&limit=200",
            ],
        ),
        (
            "admin",
            &[
                // The admin's desk has the coordinator's views too.
                "/orders?state=installed&kind=install&limit=200",
                "/orders?kind=uninstall&state=keys_returned&limit=200",
                "/reports/extensions",
                "/reports/not-executed?months=1",
                "/reports/not-executed?months=3",
                "/reports/keys-not-received",
                "/reports/to-collect",
                "/messages?limit=100",
                "/users",
                "/groups",
                "/areas",
                "/equipment/models",
                "/equipment/items?state=in_stock&limit=10",
                "/equipment/items?state=at_customer",
                "/equipment/items?state=to_collect",
                "/equipment/items?state=missing",
                "/equipment/items?state=collected",
                "/keys?custody=in_cabinet",
                "/keys?custody=signed_out",
                "/keys?custody=lost",
                "/keys?overdue=true",
                "/keys?custody=returned",
                "/audit?limit=10",
                &billing,
            ],
        ),
    ];
    let mut empty = Vec::new();
    for (user, paths) in lists {
        let token = desk.login(user).await;
        for path in *paths {
            if desk.rows(path, &token).await.is_empty() {
                empty.push(format!("{user}: {path}"));
            }
        }
        let unread = desk.get("/messages/unread-count", &token).await;
        if unread["unread"].as_i64().unwrap_or(0) == 0 {
            empty.push(format!("{user}: no unread message"));
        }
    }
    assert!(empty.is_empty(), "empty lists:\n{}", empty.join("\n"));

    // A stalled order says what it waits for (väntar-orsak).
    let admin = desk.login("admin").await;
    let stalled = desk.rows("/reports/not-executed?months=3", &admin).await;
    assert!(
        stalled.iter().any(|r| r["waiting_reason"].is_string()),
        "no stalled order with a waiting reason: {stalled:?}"
    );

    // The delivery list as printed: Swedish words, not codes.
    let coordinator = desk.login("koordinator").await;
    let csv = String::from_utf8(
        desk.bytes("/reports/deliveries?format=csv", &coordinator)
            .await,
    )
    .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines.len() > 1, "a delivery list: {csv}");
    assert!(
        lines[1..].iter().all(|l| !l.contains("safety_alarm")
            && !l.contains("digital_lock")
            && !l.contains(";install;")
            && !l.contains(";uninstall;")),
        "codes in the delivery list: {csv}"
    );
    assert!(
        csv.contains("Trygghetslarm")
            && (csv.contains(";installation;") || csv.contains(";avinstallation;")),
        "{csv}"
    );

    // The equipment report counts something in every column the demo fills.
    let report = desk.get("/reports/equipment", &admin).await;
    let total = |col: &str| -> i64 {
        report["summary"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m[col].as_i64().unwrap_or(0))
            .sum()
    };
    for col in [
        "in_stock",
        "at_customer",
        "to_collect",
        "collected",
        "missing",
    ] {
        assert!(total(col) > 0, "equipment report: nothing {col}: {report}");
    }
}

/// The installer's day: visits today, and what the phone fetches for each
/// visit's customer (card, keys, equipment, photographed papers).
async fn the_installers_day(desk: &Desk, today: NaiveDate) {
    let installer = desk.login("installator").await;
    let visits = desk
        .rows(
            &format!("/orders?mine=true&visit_from={today}&visit_to={today}&limit=200"),
            &installer,
        )
        .await;
    assert!(visits.len() >= 2, "two visits today at least: {visits:?}");
    assert!(visits
        .iter()
        .all(|o| o["visit_date"] == json!(today.to_string())));
    let with_keys = visits
        .iter()
        .find(|o| o["state"] == "keys_received")
        .expect("a visit today whose keys are in the cabinet");
    let customer = with_keys["customer_id"].as_str().unwrap();
    let keys = desk
        .rows(&format!("/customers/{customer}/keys"), &installer)
        .await;
    assert!(!keys.is_empty(), "the visit's key");
    let documents = desk
        .rows(&format!("/customers/{customer}/documents"), &installer)
        .await;
    assert!(!documents.is_empty(), "the key receipt photographed");
    let document = documents[0]["id"].as_str().unwrap();
    let thumb = desk
        .bytes(&format!("/documents/{document}/thumbnail"), &installer)
        .await;
    image::load_from_memory(&thumb).expect("a thumbnail");
    // A pick-up among the coming visits, with its items to collect.
    let coming = desk
        .rows(
            &format!(
                "/orders?mine=true&visit_from={today}&visit_to={}&limit=200",
                today + Duration::days(14)
            ),
            &installer,
        )
        .await;
    let pickup = coming
        .iter()
        .find(|o| o["kind"] == "uninstall")
        .expect("a pick-up booked");
    let items = desk
        .rows(
            &format!(
                "/equipment/items?customer_id={}",
                pickup["customer_id"].as_str().unwrap()
            ),
            &installer,
        )
        .await;
    assert!(
        items.iter().any(|i| i["state"] == "to_collect"),
        "{items:?}"
    );
}

/// Every state of every kind the lifecycle lists, in both areas.
async fn every_state_in_both_areas(desk: &Desk) -> usize {
    let admin = desk.login("admin").await;
    let areas: HashMap<String, String> = desk
        .rows("/areas", &admin)
        .await
        .iter()
        .map(|a| {
            (
                a["id"].as_str().unwrap().into(),
                a["name"].as_str().unwrap().into(),
            )
        })
        .collect();
    let customers: HashMap<String, String> = desk
        .all("/customers?limit=200", &admin)
        .await
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().into(),
                areas[c["area_id"].as_str().unwrap()].clone(),
            )
        })
        .collect();
    let orders = desk.all("/orders?limit=200", &admin).await;
    let seen: BTreeSet<(String, String, String)> = orders
        .iter()
        .map(|o| {
            (
                customers[o["customer_id"].as_str().unwrap()].clone(),
                o["kind"].as_str().unwrap().into(),
                o["state"].as_str().unwrap().into(),
            )
        })
        .collect();
    let lifecycle = desk.get("/lifecycle", &admin).await;
    let mut missing = Vec::new();
    for kind in lifecycle["kinds"].as_array().unwrap() {
        for state in kind["states"].as_array().unwrap() {
            for area in areas.values() {
                let want = (
                    area.clone(),
                    kind["kind"].as_str().unwrap().to_string(),
                    state["state"].as_str().unwrap().to_string(),
                );
                if !seen.contains(&want) {
                    missing.push(format!("{want:?}"));
                }
            }
        }
    }
    assert!(missing.is_empty(), "no order in:\n{}", missing.join("\n"));
    orders.len()
}

/// Billing starts and stops this month and last; the other municipality's
/// customer on its own line; an extension with a gap; a lock with its
/// receipt product; the night patrol's fee-free execution.
async fn billing_extensions_and_locks(desk: &Desk, today: NaiveDate) {
    let billing = desk.login("avgift").await;
    let this_month = first_of_month(today);
    let last_month = first_of_month(this_month - Duration::days(1));
    let events = desk
        .rows(
            &format!("/billing/events?from={last_month}&to={today}"),
            &billing,
        )
        .await;
    for kind in ["start", "stop"] {
        for (from, name) in [(this_month, "this month"), (last_month, "last month")] {
            let to = if from == this_month {
                today
            } else {
                this_month - Duration::days(1)
            };
            assert!(
                events.iter().any(|e| {
                    let d: NaiveDate = e["date"].as_str().unwrap().parse().unwrap();
                    e["kind"] == kind && d >= from && d <= to
                }),
                "no billing {kind} {name}: {events:?}"
            );
        }
    }
    assert!(
        events.iter().any(|e| e["own_invoice_line"] == true),
        "the other municipality's customer billed on its own line"
    );
    let customer = events[0]["customer_id"].as_str().unwrap();
    let admin = desk.login("admin").await;
    let executions = desk
        .rows(&format!("/customers/{customer}/executions"), &admin)
        .await;
    assert!(!executions.is_empty());

    let coordinator = desk.login("koordinator").await;
    let extensions = desk.rows("/reports/extensions", &coordinator).await;
    assert!(
        extensions.iter().any(|e| e["check"] == "gap"),
        "{extensions:?}"
    );
    assert!(
        extensions.iter().any(|e| e["check"] == "ok"),
        "{extensions:?}"
    );

    let locks = desk
        .rows(
            "/equipment/items?kind=digital_lock&state=at_customer",
            &admin,
        )
        .await;
    assert!(
        locks.iter().any(|l| !l["linked_customer_id"].is_null()),
        "a mounted lock linked to its customer: {locks:?}"
    );
    let receipts = desk
        .rows("/equipment/items?kind=receipt_product", &admin)
        .await;
    assert!(
        receipts.iter().any(|r| r["state"] == "at_customer"),
        "a receipt product at a customer's waiting for the lock: {receipts:?}"
    );
    assert!(
        receipts.iter().any(|r| r["state"] == "collected"),
        "a receipt product taken back when the lock was mounted: {receipts:?}"
    );
}

async fn living_demo(database_url: Option<&str>) {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let started = std::time::Instant::now();
    let (server, printed) = serve_demo(database_url, data.path(), port);
    let took = started.elapsed();
    let line = printed
        .lines()
        .find(|l| l.trim_start().starts_with("Demo:"))
        .unwrap_or_else(|| panic!("no demo line in the banner:\n{printed}"));
    assert!(
        line.contains("kunder") && line.contains("beställningar"),
        "{line}"
    );
    eprintln!(
        "{} started in {took:.1?}: {line}",
        database_url.map_or("sqlite", |_| "postgresql")
    );
    let today = larmkoll::domain::calendar::today();
    let desk = Desk::new(port);
    every_list_has_rows(&desk, today).await;
    the_installers_day(&desk, today).await;
    let orders = every_state_in_both_areas(&desk).await;
    billing_extensions_and_locks(&desk, today).await;
    drop(server);

    // The second start finds users and loads nothing more.
    let port = free_port();
    let (_server, printed) = serve_demo(database_url, data.path(), port);
    assert!(
        printed.contains("Demo: databasen har redan användare; inget demodata laddades"),
        "{printed}"
    );
    let desk = Desk::new(port);
    let admin = desk.login("admin").await;
    assert_eq!(desk.all("/orders?limit=200", &admin).await.len(), orders);
}

#[actix_web::test]
async fn serve_demo_brings_a_living_municipality_on_sqlite() {
    living_demo(None).await;
}

#[actix_web::test]
async fn serve_demo_brings_a_living_municipality_on_postgres() {
    let Some(database) = TestDatabase::create(Backend::Postgres) else {
        return;
    };
    living_demo(Some(&database.url)).await;
}
