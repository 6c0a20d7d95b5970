//! Audited reads (issue 19): the two most frequent lists, each customer shown
//! audited, against the same server's `/healthz` in the same run, and what the
//! audit log grows by per customer shown.
//!
//! The server is the release binary as it runs for a newcomer (`serve
//! --demo`, a fresh database on SQLite and on PostgreSQL). Before measuring,
//! the assessor grants ten safety alarms and the demo installer books the ten
//! visits over the coming days (beside the living demo's own visits). Then, on `AUDIT_CONNECTIONS` (64) clients for
//! `AUDIT_SECONDS` (10 s) each:
//! - `/healthz`, the reference;
//! - the installer's "my visits" (`GET /orders?mine=true&visit_from&visit_to`),
//!   the ten visits and the living demo's;
//! - the admin's customer list (`GET /customers?limit=30`), 30 shown.
//!
//! Audit storage is the database's growth during a scenario (SQLite: the file
//! after a checkpoint; PostgreSQL: `pg_total_relation_size` of the audit
//! tables) divided by the customers the scenario showed.
//!
//! Run: `cargo bench --bench audited_reads`; `AUDIT_BACKENDS=sqlite` for one.

mod common;

use awc::Client;
use diesel::connection::SimpleConnection;
use diesel::Connection;
use futures_util::future::join_all;
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_larmkoll");

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Where the database is and how to read its size.
enum Database {
    /// The directory lives as long as the database.
    Sqlite(PathBuf, #[allow(dead_code)] tempfile::TempDir),
    Postgres(String),
}

impl Database {
    fn fresh(backend: &str) -> Self {
        match backend {
            "sqlite" => {
                let dir = tempfile::tempdir().unwrap();
                Database::Sqlite(dir.path().join("larmkoll.db"), dir)
            }
            _ => {
                let name = "larmkoll_audit_bench";
                let mut admin = diesel::PgConnection::establish(&common::pg_admin_url())
                    .expect("PostgreSQL at TEST_DATABASE_URL or 127.0.0.1:5432");
                // One statement each: several in one call run as one transaction.
                admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .unwrap();
                admin
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .unwrap();
                Database::Postgres(common::pg_url(name))
            }
        }
    }

    fn url(&self) -> String {
        match self {
            Database::Sqlite(path, _) => format!("sqlite://{}", path.display()),
            Database::Postgres(url) => url.clone(),
        }
    }

    /// Bytes the audit log takes now (SQLite: the whole file, checkpointed).
    fn audit_bytes(&self) -> i64 {
        match self {
            Database::Sqlite(path, _) => {
                let mut c = diesel::SqliteConnection::establish(&path.to_string_lossy()).unwrap();
                c.batch_execute("PRAGMA busy_timeout = 10000; PRAGMA wal_checkpoint(TRUNCATE)")
                    .unwrap();
                common::count(
                    &mut c,
                    "SELECT page_count * page_size AS n FROM pragma_page_count(), pragma_page_size()",
                )
            }
            Database::Postgres(url) => {
                let mut c = diesel::PgConnection::establish(url).unwrap();
                common::count(
                    &mut c,
                    "SELECT sum(pg_total_relation_size(c.oid))::bigint AS n FROM pg_class c \
                     WHERE c.relkind = 'r' AND c.relname LIKE 'audit%'",
                )
            }
        }
    }
}

async fn call(
    req: awc::ClientRequest,
    body: Option<Value>,
    expect: u16,
) -> Result<(Option<String>, Value), String> {
    let mut res = match body {
        Some(b) => req.send_json(&b).await,
        None => req.send().await,
    }
    .map_err(|e| e.to_string())?;
    let bytes = res
        .body()
        .limit(16 << 20)
        .await
        .map_err(|e| e.to_string())?;
    if res.status().as_u16() != expect {
        return Err(format!(
            "HTTP {}: {}",
            res.status(),
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

async fn login(c: &Client, base: &str, user: &str) -> String {
    let (_, body) = call(
        c.post(format!("{base}/api/v1/auth/login")),
        Some(json!({"username": user, "password": "demo"})),
        200,
    )
    .await
    .unwrap_or_else(|e| panic!("login {user}: {e}"));
    body["access_token"].as_str().unwrap().to_string()
}

/// What one scenario measured, and how many customers its answers showed.
struct Measured {
    name: &'static str,
    latencies: Vec<Duration>,
    elapsed: Duration,
    errors: usize,
    shown: usize,
    audit_bytes: i64,
}

impl Measured {
    fn throughput(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }
    fn p99(&self) -> Duration {
        let mut l = self.latencies.clone();
        l.sort();
        l.get((l.len() * 99).div_ceil(100).saturating_sub(1))
            .copied()
            .unwrap_or_default()
    }
}

/// GETs `url` on `connections` clients for `seconds`; counts the `items` shown.
async fn drive(name: &'static str, url: &str, token: Option<&str>, db: &Database) -> Measured {
    let connections = env_or("AUDIT_CONNECTIONS", 64usize);
    let seconds = env_or("AUDIT_SECONDS", 10.0f64);
    let before = db.audit_bytes();
    let latencies = Rc::new(RefCell::new(Vec::new()));
    let (errors, shown) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    let started = Instant::now();
    join_all((0..connections).map(|_| {
        let (latencies, errors, shown) = (latencies.clone(), errors.clone(), shown.clone());
        let c = common::client();
        async move {
            while started.elapsed().as_secs_f64() < seconds {
                let mut req = c.get(url);
                if let Some(t) = token {
                    req = req.insert_header(common::bearer(t));
                }
                let t = Instant::now();
                match call(req, None, 200).await {
                    Ok((_, body)) => {
                        latencies.borrow_mut().push(t.elapsed());
                        shown.set(shown.get() + body["items"].as_array().map_or(0, Vec::len));
                    }
                    Err(_) => errors.set(errors.get() + 1),
                }
            }
        }
    }))
    .await;
    let elapsed = started.elapsed();
    Measured {
        name,
        latencies: latencies.take(),
        elapsed,
        errors: errors.get(),
        shown: shown.get(),
        audit_bytes: db.audit_bytes() - before,
    }
}

async fn measure(base: &str, db: &Database) -> Vec<Measured> {
    let c = common::client();
    let start = Instant::now();
    while !matches!(c.get(format!("{base}/readyz")).send().await, Ok(r) if r.status().is_success())
    {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the server did not start"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    let (assessor, installer, admin) = (
        login(&c, base, "handlaggare").await,
        login(&c, base, "installator").await,
        login(&c, base, "admin").await,
    );
    // Ten safety alarms granted to customers the installer serves who have
    // none yet (the living demo has its own), booked over the coming days.
    let today = chrono::Utc::now().date_naive();
    let (_, customers) = call(
        c.get(format!("{base}/api/v1/customers?limit=200"))
            .insert_header(common::bearer(&installer)),
        None,
        200,
    )
    .await
    .unwrap();
    let mut booked = 0i64;
    for customer in customers["items"].as_array().unwrap() {
        if booked == 10 {
            break;
        }
        let Ok((_, granted)) = call(
            c.post(format!(
                "{base}/api/v1/customers/{}/decisions",
                customer["id"].as_str().unwrap()
            ))
            .insert_header(common::bearer(&assessor))
            .insert_header(("Idempotency-Key", uuid::Uuid::new_v4().to_string())),
            Some(json!({"service": "safety_alarm", "valid_from": today})),
            201,
        )
        .await
        else {
            continue; // already has the service
        };
        let order = &granted["order"];
        call(
            c.post(format!(
                "{base}/api/v1/orders/{}/book",
                order["id"].as_str().unwrap()
            ))
            .insert_header(common::bearer(&installer))
            .insert_header(("If-Match", format!("\"{}\"", order["version"])))
            .insert_header(("Idempotency-Key", uuid::Uuid::new_v4().to_string())),
            Some(json!({"visit_date": today + chrono::Duration::days(booked % 5)})),
            200,
        )
        .await
        .unwrap();
        booked += 1;
    }
    assert_eq!(
        booked, 10,
        "ten customers without an alarm in the installer's area"
    );
    let visits = format!(
        "{base}/api/v1/orders?mine=true&visit_from={today}&visit_to={}&limit=200",
        today + chrono::Duration::days(14)
    );
    let (_, mine) = call(
        c.get(&visits).insert_header(common::bearer(&installer)),
        None,
        200,
    )
    .await
    .unwrap();
    assert!(mine["items"].as_array().unwrap().len() >= 10, "ten visits");
    vec![
        drive("/healthz", &format!("{base}/healthz"), None, db).await,
        drive(
            "installer's my visits (10 booked, and the demo's)",
            &visits,
            Some(&installer),
            db,
        )
        .await,
        drive(
            "admin's customer list (30 shown)",
            &format!("{base}/api/v1/customers?limit=30"),
            Some(&admin),
            db,
        )
        .await,
        drive("/healthz (again)", &format!("{base}/healthz"), None, db).await,
    ]
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a.starts_with("--test")) {
        return; // `cargo test --benches` lists; nothing to run there
    }
    let backends = std::env::var("AUDIT_BACKENDS").unwrap_or("sqlite,postgres".into());
    for backend in backends.split(',').map(str::trim) {
        let db = Database::fresh(backend);
        let server = common::Server::start(BIN, &db.url());
        let rows = actix_web::rt::System::new().block_on(measure(&server.base, &db));
        drop(server);
        let reference = rows[0].throughput();
        println!(
            "\n{backend}, `serve --demo`, {} connections, {} s per scenario\n",
            env_or("AUDIT_CONNECTIONS", 64usize),
            env_or("AUDIT_SECONDS", 10.0f64)
        );
        println!("| scenario | requests | errors | per second | × /healthz | p99 ms | audit bytes per customer shown |");
        println!("|---|---:|---:|---:|---:|---:|---:|");
        for m in &rows {
            let per_customer = if m.shown > 0 {
                format!("{:.0}", m.audit_bytes as f64 / m.shown as f64)
            } else {
                "–".into()
            };
            println!(
                "| {} | {} | {} | {:.0} | {:.3} | {:.1} | {} |",
                m.name,
                m.latencies.len(),
                m.errors,
                m.throughput(),
                m.throughput() / reference,
                m.p99().as_secs_f64() * 1000.0,
                per_customer
            );
        }
    }
}
