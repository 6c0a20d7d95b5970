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
use larmkoll::{auth, build_app, demo, AppState};
use std::net::TcpListener;
use std::time::{Duration, Instant};

const CUSTOMERS: i64 = 250_000;
const ORDERS: i64 = 1_000_000;
const RUNS: usize = 7;

/// Everything but the demo organisation, made by PostgreSQL itself.
const GENERATE: &str = r#"
CREATE FUNCTION pg_temp.luhn(nine text) RETURNS int LANGUAGE sql IMMUTABLE AS $$
  SELECT (10 - sum(CASE WHEN i % 2 = 1
                        THEN (substr(nine, i, 1)::int * 2) / 10 + (substr(nine, i, 1)::int * 2) % 10
                        ELSE substr(nine, i, 1)::int END) % 10) % 10
  FROM generate_series(1, 9) i
$$;

-- Eight more areas beside the demo's Boo and Sickla, each with its four groups.
INSERT INTO areas (id, name, created_at)
SELECT md5('area' || a)::uuid::text, 'Område ' || a, now() FROM generate_series(3, 10) a;
INSERT INTO groups (id, area_id, name, kind, created_at)
SELECT md5('group' || a.id || k)::uuid::text, a.id, a.name || ' ' || k, k, now()
FROM areas a, unnest(ARRAY['home_care', 'alarm_team', 'night_patrol', 'reception_team']) k
WHERE a.name LIKE 'Område %';

CREATE TEMP TABLE area_no AS
SELECT id, (row_number() OVER (ORDER BY name) - 1)::int AS n FROM areas;

-- Customers: born 1948–1982 (after the demo's), birth numbers 980–999 (the test series), valid check digit.
INSERT INTO customers (id, customer_number, personnummer, birth_date, first_name, last_name,
    search_name, street, postal_code, city, phone, area_id, ordinary_assessor_id, key_position,
    entry_notes, other_municipality, consent_digital_lock, consent_staff_unlock, version,
    created_at, updated_at)
SELECT md5('cust' || i)::uuid::text,
       'B-' || lpad(i::text, 6, '0'),
       to_char(bd, 'YYYYMMDD') || (980 + i % 20) || pg_temp.luhn(to_char(bd, 'YYMMDD') || (980 + i % 20)),
       bd, f, l, lower(l || ' ' || f || '|' || f || ' ' || l),
       (ARRAY['Storgatan', 'Åvägen', 'Björkstigen', 'Ekbacken', 'Sjövägen', 'Tallvägen'])[1 + i % 6] || ' ' || (1 + i % 97),
       '13' || lpad((i % 1000)::text, 3, '0'), 'Nacka', '08-' || lpad((i % 10000000)::text, 7, '0'),
       (SELECT id FROM area_no WHERE n = (((i::bigint * 2654435761) % 4294967296) * 10 / 4294967296)::int),
       (SELECT id FROM users WHERE username = 'handlaggare'),
       'Skåp ' || (i % 40) || ' krok ' || (i % 60), NULL, i % 50 = 0, i % 3 = 0, i % 3 = 0, 1,
       now(), now()
FROM generate_series(1, {customers}) i,
     LATERAL (SELECT date '1948-01-01' + (i / 20) AS bd,
                     (ARRAY['Astrid', 'Birger', 'Dagny', 'Einar', 'Gunnel', 'Harald', 'Ingrid', 'Åke', 'Märta', 'Östen'])[1 + i % 10] AS f,
                     (ARRAY['Andersson', 'Björk', 'Carlsson', 'Dahl', 'Ek', 'Fors', 'Gran', 'Holm', 'Ödman', 'Ågren', 'Lind', 'Nyström'])[1 + (i / 10) % 12] AS l) x;

INSERT INTO customer_groups (customer_id, group_id)
SELECT c.id, g.id FROM customers c JOIN groups g ON g.area_id = c.area_id
WHERE c.customer_number LIKE 'B-%'
  AND g.kind IN ('alarm_team', 'night_patrol', 'home_care');

-- Four orders per customer, each from its own decision. 98 % are closed; the
-- open 2 % are mostly younger than a month, some stalled for up to half a year.
CREATE TEMP TABLE gen_orders AS
SELECT j, md5('cust' || (1 + j::bigint * {customers} / {orders}))::uuid::text AS customer_id,
       CASE WHEN k < 7 THEN 'install' WHEN k < 9 THEN 'uninstall' ELSE 'extension' END AS kind,
       CASE WHEN j % 7 = 0 THEN 'digital_lock' ELSE 'safety_alarm' END AS service,
       -- Knuth's multiplicative hash: spread, and not tied to j % 10 as the kind is.
       (((j::bigint * 2654435761) % 4294967296) * 1000 / 4294967296)::int AS r
FROM generate_series(0, {orders} - 1) j,
     LATERAL (SELECT (((j::bigint * 2246822519) % 4294967296) * 10 / 4294967296)::int AS k) h;

INSERT INTO decisions (id, customer_id, service, valid_from, valid_to, follows_id, decided_by,
    ended_on, version, created_at, updated_at)
SELECT md5('dec' || j)::uuid::text, customer_id, service, current_date - (j % 1800)::int, NULL, NULL,
       (SELECT id FROM users WHERE username = 'handlaggare'), NULL, 1, now(), now()
FROM gen_orders;

INSERT INTO orders (id, customer_id, decision_id, kind, service, state, team_group_id,
    assigned_installer_id, visit_at, visit_date, installation_date, end_date, serials,
    state_reason, supplier, supplier_reference, supplier_ordered_on, lock_receipt,
    lock_receipt_collected_on, received_at, version, created_at, updated_at)
SELECT md5('order' || j)::uuid::text, customer_id, md5('dec' || j)::uuid::text, kind, service, st,
       NULL, (SELECT id FROM users WHERE username = 'installator'),
       NULL,
       CASE WHEN st IN ('booked', 'keys_received') THEN current_date + (j % 30)::int END,
       CASE WHEN st IN ('installed', 'executed') THEN (recv + interval '7 days')::date END,
       NULL, NULL,
       CASE WHEN st = 'returned_to_assessor' THEN 'Fel adress på beställningen' END,
       NULL, NULL, NULL, NULL, NULL, recv, 2, recv, recv
FROM (
  SELECT j, customer_id, kind, service,
         CASE WHEN kind = 'install' AND r < 20 THEN
                CASE WHEN r < 6 THEN 'received' WHEN r < 11 THEN 'booked' WHEN r < 14 THEN 'keys_received'
                     WHEN r < 19 THEN 'installed' ELSE 'returned_to_assessor' END
              WHEN kind = 'uninstall' THEN CASE WHEN r < 950 THEN 'ended' ELSE 'cancelled' END
              WHEN r < 950 THEN 'executed' WHEN r < 980 THEN 'cancelled' ELSE 'declined' END AS st,
         CASE WHEN kind = 'install' AND r < 20
              THEN now() - make_interval(days => CASE WHEN (j * 31) % 1000 < 800 THEN j % 30 ELSE 30 + j % 170 END)
              ELSE now() - make_interval(days => 30 + (j % 1800)::int) END AS recv
  FROM gen_orders
) o;

-- Keys of four customers in five; 1 % of them signed out for three days.
INSERT INTO keys (id, key_number, customer_id, key_count, cabinet, hook, night_cabinet, custody,
    holder_group_id, holder_user_id, since, version, created_at, updated_at)
SELECT md5('key' || c.i)::uuid::text, 'N-' || c.i, c.id, 1, 'Skåp ' || (c.i % 40), (c.i % 60)::text,
       c.i % 9 = 0, k.custody,
       CASE WHEN k.custody = 'signed_out' THEN (SELECT g.id FROM groups g WHERE g.area_id = c.area_id AND g.kind = 'night_patrol') END,
       NULL,
       CASE WHEN c.i % 1000 >= 990 THEN now() - interval '3 days' ELSE now() - interval '2 hours' END,
       1, now(), now()
FROM (SELECT id, area_id, substr(customer_number, 3)::int AS i FROM customers WHERE customer_number LIKE 'B-%') c,
     LATERAL (SELECT CASE WHEN c.i % 1000 < 900 THEN 'in_cabinet' WHEN c.i % 1000 < 950 THEN 'returned'
                          ELSE 'signed_out' END AS custody) k
WHERE c.i % 5 <> 0;

-- An alarm unit and a button at four customers in five; 1 in 500 to collect, 1 in 5000 missing.
INSERT INTO equipment_items (id, model_id, kind, supplier, serial, state, customer_id,
    linked_customer_id, version, created_at, updated_at)
SELECT md5('item' || m.kind || c.i)::uuid::text, m.id, m.kind, m.supplier,
       CASE WHEN m.kind = 'alarm_unit' THEN 'GX-' ELSE 'GB-' END || c.i,
       CASE WHEN c.i % 500 = 1 THEN 'to_collect' WHEN c.i % 5000 = 3 THEN 'missing' ELSE 'at_customer' END,
       c.id, NULL, 1, now(), now()
FROM (SELECT id, substr(customer_number, 3)::int AS i FROM customers WHERE customer_number LIKE 'B-%') c,
     (SELECT DISTINCT ON (kind) id, kind, supplier FROM equipment_models
      WHERE kind IN ('alarm_unit', 'alarm_button') ORDER BY kind, model) m
WHERE c.i % 5 <> 0;
-- Stock on the shelf.
INSERT INTO equipment_items (id, model_id, kind, supplier, serial, state, customer_id,
    linked_customer_id, version, created_at, updated_at)
SELECT md5('stock' || m.kind || s)::uuid::text, m.id, m.kind, m.supplier, 'S' || left(m.kind, 1) || '-' || s,
       CASE WHEN s % 10 = 0 THEN 'scrapped' ELSE 'in_stock' END, NULL, NULL, 1, now(), now()
FROM generate_series(1, 5000) s,
     (SELECT DISTINCT ON (kind) id, kind, supplier FROM equipment_models ORDER BY kind, model) m;

"#;

fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

fn bench_url() -> String {
    let admin = admin_url();
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    format!("{base}/larmkoll_bench")
}

fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(sql)
        .get_result::<N>(conn)
        .map(|r| r.n)
        .unwrap_or(0)
}

/// Creates (or keeps, with BENCH_REUSE=1) the generated database; returns its URL.
fn prepare() -> String {
    let url = bench_url();
    let reuse = std::env::var("BENCH_REUSE").as_deref() == Ok("1");
    if reuse {
        if let Ok(mut c) = PgConnection::establish(&url) {
            if count(&mut c, "SELECT count(*) AS n FROM orders") >= ORDERS {
                eprintln!("reusing larmkoll_bench");
                let db = Db::connect(DatabaseTarget::from_url(&url).unwrap(), 2).unwrap();
                for m in db.migrate().expect("migrate") {
                    eprintln!("applied {m}");
                }
                return url;
            }
        }
    }
    let mut admin = PgConnection::establish(&admin_url()).expect("PostgreSQL answers");
    diesel::sql_query("DROP DATABASE IF EXISTS larmkoll_bench WITH (FORCE)")
        .execute(&mut admin)
        .unwrap();
    diesel::sql_query("CREATE DATABASE larmkoll_bench")
        .execute(&mut admin)
        .unwrap();
    let db = Db::connect(DatabaseTarget::from_url(&url).unwrap(), 2).unwrap();
    db.migrate().expect("migrate");
    demo::load_if_empty(&db).expect("demo organisation");
    let started = Instant::now();
    let mut conn = PgConnection::establish(&url).unwrap();
    use diesel::connection::SimpleConnection;
    conn.batch_execute(
        &GENERATE
            .replace("{customers}", &CUSTOMERS.to_string())
            .replace("{orders}", &ORDERS.to_string()),
    )
    .expect("generate");
    // A database in use has its visibility map set: index-only scans work as they would there.
    conn.batch_execute("VACUUM ANALYZE").expect("vacuum");
    eprintln!(
        "generated {} customers, {} orders, {} keys, {} items in {:.0} s",
        count(&mut conn, "SELECT count(*) AS n FROM customers"),
        count(&mut conn, "SELECT count(*) AS n FROM orders"),
        count(&mut conn, "SELECT count(*) AS n FROM keys"),
        count(&mut conn, "SELECT count(*) AS n FROM equipment_items"),
        started.elapsed().as_secs_f64()
    );
    url
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
