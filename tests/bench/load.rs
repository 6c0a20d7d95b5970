//! Load benchmark: the field app's calls against a release server on loopback,
//! on SQLite and on PostgreSQL, over the municipality the reports benchmark
//! generates (`common`), each scenario next to the same server's `/healthz`
//! measured in the same run (the machine is shared; the ratio is what holds).
//!
//! Run: `cargo bench --bench load`. Settings (environment):
//! - `LOAD_SCALE` (1) — the data as a share of 250,000 customers / 1,000,000 orders;
//!   `LOAD_SQLITE_SCALE` (`LOAD_SCALE`) the same for SQLite alone;
//! - `LOAD_BACKENDS` (`sqlite,postgres`), `LOAD_CONNECTIONS` (8),
//!   `LOAD_SECONDS` (10) and `LOAD_REQUESTS` (20,000) per scenario;
//! - `LOAD_REUSE=1` keeps a database generated at the same scale by an earlier run;
//! - PostgreSQL at `TEST_DATABASE_URL` or 127.0.0.1:5432 (database `larmkoll_load`).
//!
//! Scenarios, as the phone sends them: "my visits" (`GET /orders?mine=true&
//! visit_from&visit_to&limit=200`, round-robin over 50 installers), the
//! customer card (the four GETs the PWA makes per customer, in parallel), a
//! transition (`book` with If-Match and Idempotency-Key, each on its own
//! order), the outbox replay (one phone sends 1,000 queued actions oldest
//! first, one at a time) and a photo upload (`PUT /documents/{id}`, the
//! fixture's 2048 px phone JPEG).

mod common;

use awc::Client;
use common::{count, Scale};
use diesel::connection::SimpleConnection;
use diesel::Connection;
use futures_util::future::join_all;
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_larmkoll");
const PHOTO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/nyckelkvittens-photo.jpg"
);
const CLOSED: &str = "('executed', 'ended', 'declined', 'cancelled')";

/// Five installers in each area's alarm team, the open orders shared among
/// them (the generator gives all of them to the one demo installer).
const INSTALLERS_POSTGRES: &str = r#"
INSERT INTO users (id, username, display_name, password_hash, role, alarm_lead, active,
    token_version, version, created_at, updated_at)
SELECT md5('inst' || a.id || k)::uuid::text, 'montor-' || lower(replace(a.name, 'Område ', '')) || '-' || k,
       'Montör ' || k || ' ' || a.name, u.password_hash, 'installer', false, true, 0, 1, now(), now()
FROM areas a, generate_series(1, 5) k, users u WHERE u.username = 'installator';
INSERT INTO group_members (group_id, user_id)
SELECT g.id, md5('inst' || a.id || k)::uuid::text
FROM areas a JOIN groups g ON g.area_id = a.id AND g.kind = 'alarm_team', generate_series(1, 5) k;
UPDATE orders o SET assigned_installer_id = md5('inst' || c.area_id || (1 + abs(hashtext(o.id)) % 5))::uuid::text
FROM customers c WHERE c.id = o.customer_id AND o.state NOT IN {closed};
ANALYZE;
"#;

const INSTALLERS_SQLITE: &str = r#"
BEGIN;
INSERT INTO users (id, username, display_name, password_hash, role, alarm_lead, active,
    token_version, version, created_at, updated_at)
SELECT uid('inst' || a.id || k.k), 'montor-' || lower(replace(a.name, 'Område ', '')) || '-' || k.k,
       'Montör ' || k.k || ' ' || a.name, u.password_hash, 'installer', 0, 1, 0, 1, datetime('now'),
       datetime('now')
FROM areas a, (SELECT 1 AS k UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5) k,
     users u WHERE u.username = 'installator';
INSERT INTO group_members (group_id, user_id)
SELECT g.id, uid('inst' || a.id || k.k)
FROM areas a JOIN groups g ON g.area_id = a.id AND g.kind = 'alarm_team',
     (SELECT 1 AS k UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5) k;
UPDATE orders SET assigned_installer_id =
    uid('inst' || (SELECT area_id FROM customers c WHERE c.id = orders.customer_id) || (1 + orders.rowid % 5))
WHERE state NOT IN {closed};
COMMIT;
ANALYZE;
"#;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn bench_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/load-bench");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The database for `backend` at `scale`: generated, or kept with LOAD_REUSE=1.
fn prepare(backend: &str, scale: Scale) -> String {
    let reuse = std::env::var("LOAD_REUSE").as_deref() == Ok("1");
    let closed = |sql: &str| sql.replace("{closed}", CLOSED);
    let montors = "SELECT count(*) AS n FROM users WHERE username LIKE 'montor-%'";
    let generated = "SELECT count(*) AS n FROM customers WHERE customer_number LIKE 'B-%'";
    if backend == "postgres" {
        let url = common::pg_url("larmkoll_load");
        if reuse {
            if let Ok(mut c) = diesel::PgConnection::establish(&url) {
                if count(&mut c, generated) == scale.customers && count(&mut c, montors) > 0 {
                    eprintln!("reusing larmkoll_load");
                    return url;
                }
            }
        }
        let url = common::generate_postgres("larmkoll_load", scale);
        let mut conn = diesel::PgConnection::establish(&url).unwrap();
        conn.batch_execute(&closed(INSTALLERS_POSTGRES))
            .expect("installers");
        url
    } else {
        let path = bench_dir().join("larmkoll.db");
        if reuse && path.exists() {
            let mut c = common::sqlite_generator(&path);
            if count(&mut c, generated) == scale.customers && count(&mut c, montors) > 0 {
                eprintln!("reusing {}", path.display());
                return format!("sqlite://{}", path.display());
            }
        }
        let url = common::generate_sqlite(&path, scale);
        let mut conn = common::sqlite_generator(&path);
        conn.batch_execute(&closed(INSTALLERS_SQLITE))
            .expect("installers");
        url
    }
}

/// What one scenario measured.
struct Measured {
    name: String,
    latencies: Vec<Duration>,
    elapsed: Duration,
    errors: usize,
    first_error: Option<String>,
}

impl Measured {
    fn throughput(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }
    fn quantile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let mut l = self.latencies.clone();
        l.sort();
        l[((l.len() as f64 * q).ceil() as usize).clamp(1, l.len()) - 1]
    }
}

/// Runs `op(i)` for i = 0, 1, … on `connections` clients at once until
/// `requests` ops or `seconds` have passed; records each op's latency.
async fn drive<F, Fut>(
    name: &str,
    connections: usize,
    requests: usize,
    seconds: f64,
    op: F,
) -> Measured
where
    F: Fn(Client, usize) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let next = Rc::new(Cell::new(0usize));
    let latencies = Rc::new(RefCell::new(Vec::with_capacity(requests.min(100_000))));
    let errors = Rc::new(RefCell::new((0usize, None::<String>)));
    let started = Instant::now();
    let deadline = Duration::from_secs_f64(seconds);
    join_all((0..connections).map(|_| {
        let (next, latencies, errors, op) = (next.clone(), latencies.clone(), errors.clone(), &op);
        let client = common::client();
        async move {
            loop {
                let i = next.get();
                if i >= requests || started.elapsed() >= deadline {
                    break;
                }
                next.set(i + 1);
                let t = Instant::now();
                match op(client.clone(), i).await {
                    Ok(()) => latencies.borrow_mut().push(t.elapsed()),
                    Err(e) => {
                        let mut errors = errors.borrow_mut();
                        errors.0 += 1;
                        errors.1.get_or_insert(e);
                    }
                }
            }
        }
    }))
    .await;
    let elapsed = started.elapsed();
    let (errors, first_error) = errors.take();
    Measured {
        name: name.to_string(),
        latencies: latencies.take(),
        elapsed,
        errors,
        first_error,
    }
}

/// Sends a request, reads the whole answer; an unexpected status is an error.
async fn call(
    req: awc::ClientRequest,
    body: Option<(&'static str, Vec<u8>)>,
    expect: &[u16],
) -> Result<(Option<String>, Value), String> {
    let mut res = match body {
        Some((ct, bytes)) => req.content_type(ct).send_body(bytes).await,
        None => req.send().await,
    }
    .map_err(|e| e.to_string())?;
    let bytes = res
        .body()
        .limit(64 * 1024 * 1024)
        .await
        .map_err(|e| e.to_string())?;
    let status = res.status().as_u16();
    if !expect.contains(&status) {
        return Err(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
        ));
    }
    let etag = res
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Ok((etag, serde_json::from_slice(&bytes).unwrap_or(Value::Null)))
}

/// An order the phone knows: its id, its customer, its version, who sees it.
#[derive(Clone)]
struct Known {
    id: String,
    customer_id: String,
    version: i64,
    token: Rc<str>,
}

fn known(items: &Value, token: &Rc<str>) -> Vec<Known> {
    items["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| Known {
            id: o["id"].as_str().unwrap().to_string(),
            customer_id: o["customer_id"].as_str().unwrap().to_string(),
            version: o["version"].as_i64().unwrap(),
            token: token.clone(),
        })
        .collect()
}

/// Every page of `path` (an order list) as `token` sees it, up to `max`.
async fn all_orders(c: &Client, base: &str, path: &str, token: &Rc<str>, max: usize) -> Vec<Known> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{base}{path}&cursor={c}"),
            None => format!("{base}{path}"),
        };
        let (_, page) = call(
            c.get(url).insert_header(common::bearer(token)),
            None,
            &[200],
        )
        .await
        .expect("order list");
        out.extend(known(&page, token));
        cursor = page["next_cursor"].as_str().map(str::to_string);
        if cursor.is_none() || out.len() >= max {
            out.truncate(max);
            return out;
        }
    }
}

async fn login(c: &Client, base: &str, user: &str) -> Rc<str> {
    let (_, body) = call(
        c.post(format!("{base}/api/v1/auth/login")),
        Some((
            "application/json",
            serde_json::to_vec(&json!({"username": user, "password": "demo"})).unwrap(),
        )),
        &[200],
    )
    .await
    .unwrap_or_else(|e| panic!("login {user}: {e}"));
    body["access_token"].as_str().unwrap().into()
}

struct Settings {
    connections: usize,
    requests: usize,
    seconds: f64,
}

async fn measure(base: String, s: Settings) -> Vec<Measured> {
    let c = common::client();
    let start = Instant::now();
    loop {
        if let Ok(res) = c.get(format!("{base}/readyz")).send().await {
            if res.status().is_success() {
                break;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the server did not become ready"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    let today = chrono::Utc::now().date_naive();
    let (from, to) = (today, today + chrono::Duration::days(14));
    let areas = ["boo", "sickla", "3", "4", "5", "6", "7", "8", "9", "10"];
    let mut installers = Vec::new();
    for area in areas {
        for k in 1..=5 {
            installers.push((area, login(&c, &base, &format!("montor-{area}-{k}")).await));
        }
    }
    // What the phones hold: their visits, and the orders still to book.
    let visits_path = format!("/api/v1/orders?mine=true&visit_from={from}&visit_to={to}&limit=200");
    let mut visits = Vec::new();
    for (_, token) in &installers {
        visits.extend(all_orders(&c, &base, &visits_path, token, 200).await);
    }
    let to_book = "/api/v1/orders?state=received&kind=install&limit=200";
    let phone = installers[0].1.clone();
    let mut phone_orders = all_orders(&c, &base, to_book, &phone, 250).await;
    let mut bookable = Vec::new();
    for (_, token) in installers.iter().step_by(5).filter(|(a, _)| *a != "boo") {
        bookable.extend(all_orders(&c, &base, to_book, token, s.requests).await);
    }
    eprintln!(
        "{} visits among 50 installers, {} orders to book elsewhere, {} for the phone",
        visits.len(),
        bookable.len(),
        phone_orders.len()
    );
    assert!(!visits.is_empty() && !bookable.is_empty() && !phone_orders.is_empty());
    // The admin sees every customer's equipment, also beyond the 65,535th
    // (the list once checked visibility against the first 65,535 only).
    let admin = login(&c, &base, "admin").await;
    let mut seen = 0;
    for v in visits.iter().step_by((visits.len() / 20).max(1)) {
        let items = |token: Rc<str>| {
            let url = format!(
                "{base}/api/v1/equipment/items?customer_id={}",
                v.customer_id
            );
            let c = &c;
            async move {
                let (_, list) = call(
                    c.get(url).insert_header(common::bearer(&token)),
                    None,
                    &[200],
                )
                .await
                .unwrap();
                list.as_array().map(Vec::len).unwrap_or(0)
            }
        };
        let (theirs, admins) = (items(v.token.clone()).await, items(admin.clone()).await);
        assert_eq!(
            admins, theirs,
            "the admin sees the installer's customer's items"
        );
        seen += theirs;
    }
    assert!(seen > 0, "the visited customers have equipment");
    let tokens: Vec<Rc<str>> = installers.iter().map(|(_, t)| t.clone()).collect();
    let (n, reqs, secs) = (s.connections, s.requests, s.seconds);
    let mut out = Vec::new();

    let healthz = format!("{base}/healthz");
    out.push(
        drive("/healthz", n, reqs, secs, |c, _| {
            let url = healthz.clone();
            async move { call(c.get(url), None, &[200]).await.map(|_| ()) }
        })
        .await,
    );

    let visits_url = format!("{base}{visits_path}");
    out.push(
        drive("my visits (14 days)", n, reqs, secs, |c, i| {
            let (url, token) = (visits_url.clone(), tokens[i % tokens.len()].clone());
            async move {
                call(
                    c.get(url).insert_header(common::bearer(&token)),
                    None,
                    &[200],
                )
                .await
                .map(|_| ())
            }
        })
        .await,
    );

    out.push(
        drive("customer card (4 GETs)", n, reqs, secs, |c, i| {
            let v = visits[i % visits.len()].clone();
            let base = base.clone();
            async move {
                let id = &v.customer_id;
                let paths = [
                    format!("/api/v1/customers/{id}"),
                    format!("/api/v1/customers/{id}/keys"),
                    format!("/api/v1/equipment/items?customer_id={id}"),
                    format!("/api/v1/customers/{id}/documents"),
                ];
                for r in join_all(paths.iter().map(|p| {
                    call(
                        c.get(format!("{base}{p}"))
                            .insert_header(common::bearer(&v.token)),
                        None,
                        &[200],
                    )
                }))
                .await
                {
                    r?;
                }
                Ok(())
            }
        })
        .await,
    );

    let bookings = bookable.len();
    out.push(
        drive("transition (book)", n, bookings, secs, |c, i| {
            let o = bookable[i].clone();
            let base = base.clone();
            async move {
                let body = json!({"visit_date": today + chrono::Duration::days(1 + (i % 14) as i64), "visit_time": "10:00"});
                call(
                    c.post(format!("{base}/api/v1/orders/{}/book", o.id))
                        .insert_header(common::bearer(&o.token))
                        .insert_header(("If-Match", format!("\"{}\"", o.version)))
                        .insert_header(("Idempotency-Key", uuid::Uuid::new_v4().to_string())),
                    Some(("application/json", serde_json::to_vec(&body).unwrap())),
                    &[200],
                )
                .await
                .map(|_| ())
            }
        })
        .await,
    );

    // The queue one phone built offline: per order a contact, book and keys
    // received, the rest of the 1,000 as more contacts, sent oldest first.
    let actions = outbox(&phone_orders, 1000);
    let run = uuid::Uuid::new_v4().simple().to_string();
    let phone_orders_cell = RefCell::new(std::mem::take(&mut phone_orders));
    out.push(
        drive("outbox replay (1 phone, 1,000 actions)", 1, actions.len(), 600.0, |c, i| {
            let (o, action) = actions[i];
            let order = phone_orders_cell.borrow()[o].clone();
            let (base, run) = (base.clone(), run.clone());
            let cell = &phone_orders_cell;
            async move {
                let (path, body) = match action {
                    Action::Contact => (
                        "contacts",
                        json!({"kind": "no_answer", "note": "Ringde, inget svar"}),
                    ),
                    Action::Book => (
                        "book",
                        json!({"visit_date": today + chrono::Duration::days(2), "visit_time": "09:30"}),
                    ),
                    Action::ReceiveKeys => (
                        "receive-keys",
                        json!({"key_numbers": [format!("L-{run}-{i}")], "count": 1,
                               "cabinet": "Skåp 4", "hook": "17", "night_cabinet": false}),
                    ),
                };
                let mut req = c
                    .post(format!("{base}/api/v1/orders/{}/{path}", order.id))
                    .insert_header(common::bearer(&order.token))
                    .insert_header(("Idempotency-Key", uuid::Uuid::new_v4().to_string()));
                if action != Action::Contact {
                    req = req.insert_header(("If-Match", format!("\"{}\"", order.version)));
                }
                let expect: &[u16] = if action == Action::Contact { &[201] } else { &[200] };
                let (_, body) = call(req, Some(("application/json", serde_json::to_vec(&body).unwrap())), expect).await?;
                if let Some(v) = body["order"]["version"].as_i64() {
                    cell.borrow_mut()[o].version = v;
                }
                Ok(())
            }
        })
        .await,
    );

    let photo = std::fs::read(PHOTO).unwrap();
    out.push(
        drive("photo upload (418 KB JPEG)", n, reqs, secs, |c, i| {
            let v = visits[i % visits.len()].clone();
            let (base, photo) = (base.clone(), photo.clone());
            async move {
                let url = format!(
                    "{base}/api/v1/documents/{}?kind=key_receipt&customer_id={}&order_id={}&signed_by=Astrid%20Andersson&signed_at={today}",
                    uuid::Uuid::new_v4(), v.customer_id, v.id
                );
                call(
                    c.put(url).insert_header(common::bearer(&v.token)),
                    Some(("image/jpeg", photo)),
                    &[201],
                )
                .await
                .map(|_| ())
            }
        })
        .await,
    );

    out.push(
        drive("/healthz (again, at the end)", n, reqs, secs, |c, _| {
            let url = healthz.clone();
            async move { call(c.get(url), None, &[200]).await.map(|_| ()) }
        })
        .await,
    );
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    Contact,
    Book,
    ReceiveKeys,
}

/// `total` actions over `orders` (index, action): contacts first, then book,
/// then keys received, per order in turn.
fn outbox(orders: &[Known], total: usize) -> Vec<(usize, Action)> {
    let n = orders.len().min(total / 3);
    let extra = total - 3 * n;
    let mut out = Vec::with_capacity(total);
    for o in 0..n {
        let contacts = 1 + extra / n + usize::from(o < extra % n);
        out.extend(std::iter::repeat_n((o, Action::Contact), contacts));
        out.push((o, Action::Book));
        out.push((o, Action::ReceiveKeys));
    }
    out
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn table(backend: &str, scale: Scale, connections: usize, rows: &[Measured]) {
    let base = &rows[0];
    let (t0, p50, p99) = (base.throughput(), base.quantile(0.5), base.quantile(0.99));
    println!(
        "\n{backend}: {} customers, {} orders; {connections} connections (the outbox: 1)\n",
        scale.customers, scale.orders
    );
    println!("| scenario | requests | errors | per second | × healthz | p50 ms | × healthz | p99 ms | × healthz |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for m in rows {
        println!(
            "| {} | {} | {} | {:.0} | {:.3} | {} | {:.1} | {} | {:.1} |",
            m.name,
            m.latencies.len(),
            m.errors,
            m.throughput(),
            m.throughput() / t0,
            ms(m.quantile(0.5)),
            m.quantile(0.5).as_secs_f64() / p50.as_secs_f64(),
            ms(m.quantile(0.99)),
            m.quantile(0.99).as_secs_f64() / p99.as_secs_f64(),
        );
    }
    for m in rows.iter().filter(|m| m.name.starts_with("outbox")) {
        println!(
            "\nThe outbox replay took {:.1} s in all.",
            m.elapsed.as_secs_f64()
        );
    }
    for m in rows.iter().filter(|m| m.errors > 0) {
        println!(
            "{}: first error: {}",
            m.name,
            m.first_error.as_deref().unwrap_or("")
        );
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a.starts_with("--test")) {
        return; // `cargo test --benches` lists; nothing to run there
    }
    let scale = Scale::times(env_or("LOAD_SCALE", 1.0));
    let settings = || Settings {
        connections: env_or("LOAD_CONNECTIONS", 8),
        requests: env_or("LOAD_REQUESTS", 20_000),
        seconds: env_or("LOAD_SECONDS", 10.0),
    };
    let backends = std::env::var("LOAD_BACKENDS").unwrap_or("sqlite,postgres".into());
    let mut results = Vec::new();
    for backend in backends.split(',').map(str::trim) {
        let scale = match backend {
            "sqlite" => Scale::times(env_or("LOAD_SQLITE_SCALE", env_or("LOAD_SCALE", 1.0))),
            _ => scale,
        };
        let url = prepare(backend, scale);
        let server = common::Server::start(BIN, &url);
        let rows = actix_web::rt::System::new().block_on(measure(server.base.clone(), settings()));
        drop(server);
        results.push((backend.to_string(), scale, rows));
    }
    let connections = settings().connections;
    for (backend, scale, rows) in &results {
        table(backend, *scale, connections, rows);
    }
}
