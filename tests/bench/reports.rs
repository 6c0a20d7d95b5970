//! Benchmark: the desk's reports over a municipality-sized PostgreSQL database
//! (250,000 customers, 1,000,000 orders, their decisions, keys and equipment),
//! through the real HTTP API, as a coordinator of one area and as the admin
//! who sees all ten.
//!
//! Run: `cargo bench --bench reports` (PostgreSQL at `TEST_DATABASE_URL` or
//! 127.0.0.1:5432). The data is generated inside PostgreSQL with
//! `INSERT … SELECT generate_series` (about a minute) into `larmkoll_bench`;
//! `BENCH_REUSE=1` keeps an already generated database (after a new index
//! migration it is migrated, not regenerated). `BENCH_EXPLAIN=1` prints
//! `EXPLAIN (ANALYZE, BUFFERS)` of the reports' main queries.

use actix_web::{web, HttpServer};
use diesel::{Connection, PgConnection, RunQueryDsl};
use larmkoll::config::Settings;
use larmkoll::db::{DatabaseTarget, Db};
use larmkoll::state::AppState;
use larmkoll::{auth, build_app};
use std::net::TcpListener;
use std::time::{Duration, Instant};

mod common;

use common::{count, Scale};

const RUNS: usize = 7;

/// Creates (or keeps, with BENCH_REUSE=1) the generated database; returns its URL.
fn prepare() -> String {
    let url = common::pg_url("larmkoll_bench");
    let reuse = std::env::var("BENCH_REUSE").as_deref() == Ok("1");
    if reuse {
        if let Ok(mut c) = PgConnection::establish(&url) {
            if count(&mut c, "SELECT count(*) AS n FROM orders") >= Scale::FULL.orders {
                eprintln!("reusing larmkoll_bench");
                let db = Db::connect(DatabaseTarget::from_url(&url).unwrap(), 2).unwrap();
                for m in db.migrate().expect("migrate") {
                    eprintln!("applied {m}");
                }
                return url;
            }
        }
    }
    common::generate_postgres("larmkoll_bench", Scale::FULL)
}

/// The reports' main queries, written out as the API sends them, for EXPLAIN.
fn explain(url: &str) {
    let mut conn = PgConnection::establish(url).unwrap();
    let boo = "(SELECT id FROM areas WHERE name = 'Boo')";
    let queries = [
        ("not-executed, keys-not-received (Boo)", format!(
            "SELECT o.id, c.customer_number, a.name, u.display_name FROM orders o \
             JOIN customers c ON c.id = o.customer_id JOIN areas a ON a.id = c.area_id \
             LEFT JOIN users u ON c.ordinary_assessor_id = u.id \
             WHERE o.kind = 'install' AND o.state = ANY(ARRAY['received','returned_to_assessor','booked','keys_received','installed']) \
             AND o.received_at < now() - interval '1 month' AND c.area_id = ANY(ARRAY[{boo}]) \
             ORDER BY o.received_at, o.id")),
        ("deliveries (Boo, a week)", format!(
            "SELECT * FROM orders WHERE customer_id IN (SELECT id FROM customers WHERE area_id IN ({boo})) \
             AND visit_date >= current_date AND visit_date <= current_date + 7 \
             AND state NOT IN ('executed','ended','declined','cancelled') ORDER BY received_at, id LIMIT 2147483647")),
        ("to-collect", "SELECT * FROM equipment_items WHERE state = 'to_collect' ORDER BY kind, serial LIMIT 2147483647".to_string()),
        ("keys-out (Boo)", format!(
            "SELECT k.id FROM keys k JOIN customers c ON c.id = k.customer_id JOIN areas a ON a.id = c.area_id \
             LEFT JOIN groups g ON k.holder_group_id = g.id LEFT JOIN users u ON k.holder_user_id = u.id \
             WHERE k.custody = 'signed_out' AND k.since < now() - interval '16 hours' AND c.area_id IN ({boo}) \
             ORDER BY k.since, k.key_number")),
        ("equipment summary", "SELECT model_id, state, count(*) FROM equipment_items GROUP BY model_id, state".to_string()),
        ("equipment at customers (Boo, first 1000)", format!(
            "SELECT i.serial, c.customer_number, a.name FROM equipment_items i \
             JOIN equipment_models m ON m.id = i.model_id JOIN customers c ON i.customer_id = c.id \
             JOIN areas a ON a.id = c.area_id WHERE i.state IN ('at_customer') AND c.area_id IN ({boo}) \
             ORDER BY i.kind, i.serial LIMIT 1000")),
        ("customer list (Boo, first page)", format!(
            "SELECT * FROM customers WHERE area_id IN ({boo}) ORDER BY search_name, id LIMIT 51")),
        ("customer search by name (Boo)", format!(
            "SELECT * FROM customers WHERE area_id IN ({boo}) AND search_name LIKE '%ödman%' ORDER BY search_name, id LIMIT 51")),
    ];
    #[derive(diesel::QueryableByName)]
    struct Line {
        #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
        line: String,
    }
    for (name, sql) in queries {
        println!("\n-- {name}");
        for l in diesel::sql_query(format!("EXPLAIN (ANALYZE, BUFFERS) {sql}"))
            .load::<Line>(&mut conn)
            .unwrap()
        {
            println!("{}", l.line);
        }
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a.starts_with("--test")) {
        return; // `cargo test --benches` lists; nothing to run there
    }
    let url = prepare();
    if std::env::var("BENCH_EXPLAIN").as_deref() == Ok("1") {
        explain(&url);
    }
    actix_web::rt::System::new().block_on(measure(url));
}

async fn measure(url: String) {
    let data_dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        data_dir: data_dir.path().to_path_buf(),
        database_url: Some(url.clone()),
        db_pool_size: 4,
        ..Settings::default()
    };
    let db = Db::connect(DatabaseTarget::from_url(&url).unwrap(), 4).unwrap();
    let keys = auth::jwt::TokenKeys::load_or_create(data_dir.path()).unwrap();
    let state = web::Data::new(AppState::new(db, keys, settings, true).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(move || build_app(state.clone()))
        .workers(2)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(120))
        .finish();
    let login = |user: &'static str| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let mut res = client
                .post(format!("{base}/api/v1/auth/login"))
                .send_json(&serde_json::json!({"username": user, "password": "demo"}))
                .await
                .unwrap();
            let body: serde_json::Value = res.json().await.unwrap();
            body["access_token"].as_str().unwrap().to_string()
        }
    };
    let coordinator = login("koordinator").await;
    let admin = login("admin").await;
    let week = chrono::Utc::now().date_naive() + chrono::Duration::days(7);
    let deliveries = format!("/api/v1/reports/deliveries?to={week}");
    let reports: Vec<(&str, String)> = vec![
        (
            "not-executed, 1 month",
            "/api/v1/reports/not-executed?months=1".into(),
        ),
        (
            "not-executed, 3 months",
            "/api/v1/reports/not-executed?months=3".into(),
        ),
        (
            "keys-not-received",
            "/api/v1/reports/keys-not-received".into(),
        ),
        ("to-collect", "/api/v1/reports/to-collect".into()),
        ("deliveries, a week", deliveries),
        ("keys-out", "/api/v1/reports/keys-out".into()),
        (
            "equipment (to collect, missing)",
            "/api/v1/reports/equipment".into(),
        ),
        (
            "equipment (at customers, first 1000)",
            "/api/v1/reports/equipment?item_state=at_customer".into(),
        ),
        ("customer list, first page", "/api/v1/customers".into()),
        (
            "customer search by name",
            "/api/v1/customers?q=%C3%B6dman".into(),
        ),
        ("extensions", "/api/v1/reports/extensions".into()),
    ];
    println!("\n| report | coordinator (1 area of 10): rows, median | admin (all): rows, median |");
    println!("|---|---|---|");
    for (name, path) in &reports {
        let mut cells = Vec::new();
        for token in [&coordinator, &admin] {
            let mut times = Vec::new();
            let mut rows = 0;
            for _ in 0..RUNS {
                let started = Instant::now();
                let mut res = client
                    .get(format!("{base}{path}"))
                    .insert_header(("Authorization", format!("Bearer {token}")))
                    .send()
                    .await
                    .unwrap();
                let body = res.body().limit(512 * 1024 * 1024).await.unwrap();
                times.push(started.elapsed());
                let status = res.status().as_u16();
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                rows = if status != 200 {
                    -(status as i64)
                } else if let Some(a) = v.as_array() {
                    a.len() as i64
                } else if let Some(a) = v["items"].as_array() {
                    a.len() as i64
                } else {
                    0
                };
            }
            times.sort();
            let median = times[RUNS / 2];
            cells.push(if rows < 0 {
                format!("HTTP {}", -rows)
            } else {
                format!("{rows} rows, {} ms", median.as_millis())
            });
        }
        println!("| {name} | {} | {} |", cells[0], cells[1]);
    }
    handle.stop(false).await;
}
