//! `/metrics`: a Prometheus scrape after a walk of the install routine finds
//! the requests it caused, parsed by the Prometheus project's own parser, and
//! no label with a person's data in it.

use crate::helpers::{tool, Backend, TestApp};
use serde_json::{json, Value};

const TOKEN: &str = "s3cret-metrics-token-for-the-test";

/// The samples of an OpenMetrics text, as parsed by `prometheus_client`:
/// `[name, labels, value]` each.
/// One sample: name, labels, value.
type Sample = (String, serde_json::Map<String, Value>, f64);

fn parse(text: &str) -> Option<Vec<Sample>> {
    let python = tool("python")?;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(
            "import json, sys\n\
             from prometheus_client.openmetrics.parser import text_string_to_metric_families\n\
             text = open(sys.argv[1]).read()\n\
             print(json.dumps([[s.name, s.labels, s.value] for f in text_string_to_metric_families(text) for s in f.samples]))",
        )
        .arg(file.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the parser refuses it: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let samples: Vec<Sample> = serde_json::from_slice(&out.stdout).unwrap();
    Some(samples)
}

#[actix_web::test]
async fn a_scrape_after_the_install_routine_counts_it_and_names_no_one() {
    let app = TestApp::start_configured(Backend::Sqlite, true, |s| {
        s.metrics_token = Some(TOKEN.into())
    })
    .await
    .expect("app");
    let assessor = app.login("handlaggare").await;
    let installer = app.login("installator").await;
    let customers = app.get("/api/v1/customers?limit=200", &assessor).await.body["items"].clone();
    let customer = customers
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"]["city"] == "Saltsjö-Boo")
        .unwrap()
        .clone();
    let stock = |kind: &'static str| {
        let (app, installer) = (&app, installer.clone());
        async move {
            app.get(
                &format!("/api/v1/equipment/items?state=in_stock&kind={kind}"),
                &installer,
            )
            .await
            .body[0]["serial"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let serials = [stock("alarm_unit").await, stock("alarm_button").await];
    let today = chrono::Utc::now().date_naive();
    let granted = app
        .post(
            &format!(
                "/api/v1/customers/{}/decisions",
                customer["id"].as_str().unwrap()
            ),
            Some(&assessor),
            json!({"service": "safety_alarm", "valid_from": today.to_string()}),
        )
        .await;
    assert_eq!(granted.status, 201, "{}", granted.body);
    let mut order = granted.body["order"].clone();
    for (event, body) in [
        ("book", json!({"visit_date": today})),
        (
            "receive-keys",
            json!({"key_numbers": ["M-1"], "count": 1, "cabinet": "Skåp 1", "hook": "3"}),
        ),
        (
            "install",
            json!({"installation_date": today, "serials": serials}),
        ),
    ] {
        let res = app
            .post_if(
                &format!("/api/v1/orders/{}/{event}", order["id"].as_str().unwrap()),
                &installer,
                order["version"].as_i64().unwrap(),
                body,
            )
            .await;
        assert_eq!(res.status, 200, "{event}: {}", res.body);
        order = res.body["order"].clone();
    }
    let photo = crate::helpers::distinct_jpeg(
        include_bytes!("../fixtures/portrait-orientation-6-gps.jpg"),
        "metrics",
    );
    let stored = app
        .send(
            "PUT",
            &format!(
                "/api/v1/documents/{}?kind=key_receipt&customer_id={}&order_id={}&signed_by=Kunden&signed_at={today}",
                uuid::Uuid::new_v4(),
                customer["id"].as_str().unwrap(),
                order["id"].as_str().unwrap()
            ),
            Some(&installer),
            &[("Content-Type", "image/jpeg")],
            Some(photo),
        )
        .await;
    assert_eq!(stored.status, 201, "{}", stored.body);
    let failed = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "handlaggare", "password": "fel lösenord"}),
        )
        .await;
    assert_eq!(failed.status, 401);

    // Closed without the token, and with a wrong one.
    assert_eq!(
        app.send("GET", "/metrics", None, &[], None).await.status,
        401
    );
    assert_eq!(
        app.send("GET", "/metrics", Some("wrong"), &[], None)
            .await
            .status,
        401
    );
    let scraped = app.send("GET", "/metrics", Some(TOKEN), &[], None).await;
    assert_eq!(scraped.status, 200);
    assert!(scraped
        .header("content-type")
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let text = scraped.body.as_str().expect("text").to_string();
    let Some(samples) = parse(&text) else {
        return;
    };
    let value = |name: &str, labels: &[(&str, &str)]| -> f64 {
        samples
            .iter()
            .filter(|(n, l, _)| {
                n == name && labels.iter().all(|(k, v)| l.get(*k) == Some(&json!(v)))
            })
            .map(|(_, _, v)| v)
            .sum()
    };
    let requests = "larmkoll_http_requests_total";
    for (method, route, status) in [
        ("POST", "/api/v1/customers/{id}/decisions", "201"),
        ("POST", "/api/v1/orders/{id}/book", "200"),
        ("POST", "/api/v1/orders/{id}/receive-keys", "200"),
        ("POST", "/api/v1/orders/{id}/install", "200"),
        ("POST", "/api/v1/auth/login", "401"),
    ] {
        assert_eq!(
            value(
                requests,
                &[("method", method), ("route", route), ("status", status)]
            ),
            1.0,
            "{method} {route} {status}:\n{text}"
        );
    }
    assert_eq!(
        value(
            requests,
            &[("route", "/api/v1/auth/login"), ("status", "200")]
        ),
        2.0
    );
    assert_eq!(
        value(
            "larmkoll_http_request_duration_seconds_count",
            &[("route", "/api/v1/orders/{id}/install")]
        ),
        1.0
    );
    assert_eq!(
        value("larmkoll_db_pool_connections", &[("state", "max")]),
        4.0
    );
    assert!(value("larmkoll_photo_slots", &[("state", "max")]) >= 1.0);
    assert_eq!(
        value(
            requests,
            &[
                ("method", "PUT"),
                ("route", "/api/v1/documents/{id}"),
                ("status", "201")
            ]
        ),
        1.0
    );
    assert!(
        value("larmkoll_photos_processed_total", &[]) >= 1.0,
        "{text}"
    );
    assert!(
        value("larmkoll_photo_processing_seconds_total", &[]) > 0.0,
        "{text}"
    );
    assert!(
        value("larmkoll_db_pool_checkouts_total", &[]) >= 5.0,
        "{text}"
    );
    // Present, whatever it sums to (the pool may never have been busy).
    assert!(
        samples
            .iter()
            .any(|(n, _, v)| n == "larmkoll_db_pool_wait_seconds_total" && *v >= 0.0),
        "{text}"
    );

    // Labels hold methods, route templates, statuses and states: no id, no person.
    let personal = [
        customer["first_name"].as_str().unwrap(),
        customer["last_name"].as_str().unwrap(),
        customer["address"]["street"].as_str().unwrap(),
        customer["id"].as_str().unwrap(),
        order["id"].as_str().unwrap(),
    ];
    for (name, labels, _) in &samples {
        for v in labels.values() {
            let v = v.as_str().unwrap_or_default();
            for p in personal {
                assert!(!v.contains(p), "{name} has {p:?} in a label");
            }
        }
    }
}

#[actix_web::test]
async fn without_a_token_set_there_is_no_metrics_page() {
    let app = TestApp::start(Backend::Sqlite).await.expect("app");
    let admin = app.login("admin").await;
    assert_eq!(
        app.send("GET", "/metrics", Some(&admin), &[], None)
            .await
            .status,
        404
    );
}
