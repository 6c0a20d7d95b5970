//! The municipality both benchmarks run against: the demo organisation plus
//! eight more areas, customers, four orders each with their decisions, keys
//! and equipment, generated with SQL inside the database itself. PostgreSQL
//! and SQLite get the same distributions; `Scale` sets the size (the reports
//! benchmark: 250,000 customers and 1,000,000 orders).

// Each benchmark uses part of this module.
#![allow(dead_code)]

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};
use larmkoll::db::{DatabaseTarget, Db};
use larmkoll::demo;
use std::time::Instant;

/// How many customers and orders to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    pub customers: i64,
    pub orders: i64,
}

impl Scale {
    /// A municipality of 250,000 customers with 1,000,000 orders.
    pub const FULL: Scale = Scale {
        customers: 250_000,
        orders: 1_000_000,
    };

    /// `FULL` times a factor, e.g. 0.02 for a quick run.
    pub fn times(factor: f64) -> Scale {
        let customers = ((Self::FULL.customers as f64 * factor) as i64).max(1_000);
        Scale {
            customers,
            orders: customers * 4,
        }
    }

    fn fill(self, sql: &str) -> String {
        sql.replace("{customers}", &self.customers.to_string())
            .replace("{orders}", &self.orders.to_string())
    }
}

/// Everything but the demo organisation, made by PostgreSQL itself.
pub const POSTGRES: &str = r#"
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

/// The PostgreSQL server the benchmarks use: `TEST_DATABASE_URL` or 127.0.0.1:5432.
pub fn pg_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// The URL of database `name` on that server.
pub fn pg_url(name: &str) -> String {
    let admin = pg_admin_url();
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    format!("{base}/{name}")
}

/// `sql` must answer one row with a bigint column `n`.
pub fn count<C>(conn: &mut C, sql: &str) -> i64
where
    C: Connection,
    diesel::query_builder::SqlQuery: diesel::query_dsl::LoadQuery<'static, C, N>,
{
    diesel::sql_query(sql)
        .get_result::<N>(conn)
        .map(|r| r.n)
        .unwrap_or(0)
}

#[derive(diesel::QueryableByName)]
pub struct N {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub n: i64,
}

/// Drops and creates database `name`, migrates it, loads the demo
/// organisation and generates the rest inside PostgreSQL. Returns its URL.
pub fn generate_postgres(name: &str, scale: Scale) -> String {
    let url = pg_url(name);
    let mut admin = PgConnection::establish(&pg_admin_url()).expect("PostgreSQL answers");
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .unwrap();
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .unwrap();
    let db = Db::connect(DatabaseTarget::from_url(&url).unwrap(), 2).unwrap();
    db.migrate().expect("migrate");
    demo::load_if_empty(&db).expect("demo organisation");
    let started = Instant::now();
    let mut conn = PgConnection::establish(&url).unwrap();
    conn.batch_execute(&scale.fill(POSTGRES)).expect("generate");
    // A database in use has its visibility map set: index-only scans work as they would there.
    conn.batch_execute("VACUUM ANALYZE").expect("vacuum");
    eprintln!(
        "generated {} customers, {} orders, {} keys, {} items in PostgreSQL in {:.0} s",
        count(&mut conn, "SELECT count(*) AS n FROM customers"),
        count(&mut conn, "SELECT count(*) AS n FROM orders"),
        count(&mut conn, "SELECT count(*) AS n FROM keys"),
        count(&mut conn, "SELECT count(*) AS n FROM equipment_items"),
        started.elapsed().as_secs_f64()
    );
    url
}

/// The same data as `POSTGRES`, in SQLite's dialect: `uid(seed)` stands for
/// `md5(seed)::uuid`, `luhn` for the check digit, `nums` for `generate_series`.
pub const SQLITE: &str = r#"
CREATE TEMP TABLE nums (i INTEGER PRIMARY KEY);
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {orders})
INSERT INTO nums SELECT i FROM n;

INSERT INTO areas (id, name, created_at)
SELECT uid('area' || i), 'Område ' || i, datetime('now') FROM nums WHERE i BETWEEN 3 AND 10;
INSERT INTO groups (id, area_id, name, kind, created_at)
SELECT uid('group' || a.id || k.kind), a.id, a.name || ' ' || k.kind, k.kind, datetime('now')
FROM areas a,
     (SELECT 'home_care' AS kind UNION ALL SELECT 'alarm_team' UNION ALL SELECT 'night_patrol'
      UNION ALL SELECT 'reception_team') k
WHERE a.name LIKE 'Område %';

CREATE TEMP TABLE area_no AS
SELECT id, row_number() OVER (ORDER BY name) - 1 AS n FROM areas;
CREATE TEMP TABLE first_names (k INTEGER PRIMARY KEY, f TEXT, fl TEXT);
INSERT INTO first_names VALUES (0, 'Astrid', 'astrid'), (1, 'Birger', 'birger'), (2, 'Dagny', 'dagny'),
  (3, 'Einar', 'einar'), (4, 'Gunnel', 'gunnel'), (5, 'Harald', 'harald'), (6, 'Ingrid', 'ingrid'),
  (7, 'Åke', 'åke'), (8, 'Märta', 'märta'), (9, 'Östen', 'östen');
CREATE TEMP TABLE last_names (k INTEGER PRIMARY KEY, l TEXT, ll TEXT);
INSERT INTO last_names VALUES (0, 'Andersson', 'andersson'), (1, 'Björk', 'björk'),
  (2, 'Carlsson', 'carlsson'), (3, 'Dahl', 'dahl'), (4, 'Ek', 'ek'), (5, 'Fors', 'fors'),
  (6, 'Gran', 'gran'), (7, 'Holm', 'holm'), (8, 'Ödman', 'ödman'), (9, 'Ågren', 'ågren'),
  (10, 'Lind', 'lind'), (11, 'Nyström', 'nyström');
CREATE TEMP TABLE streets (k INTEGER PRIMARY KEY, s TEXT);
INSERT INTO streets VALUES (0, 'Storgatan'), (1, 'Åvägen'), (2, 'Björkstigen'), (3, 'Ekbacken'),
  (4, 'Sjövägen'), (5, 'Tallvägen');

INSERT INTO customers (id, customer_number, personnummer, birth_date, first_name, last_name,
    search_name, street, postal_code, city, phone, area_id, ordinary_assessor_id, key_position,
    entry_notes, other_municipality, consent_digital_lock, consent_staff_unlock, version,
    created_at, updated_at)
SELECT uid('cust' || n.i), 'B-' || printf('%06d', n.i),
       strftime('%Y%m%d', n.bd) || (980 + n.i % 20) || luhn(substr(strftime('%Y%m%d', n.bd), 3) || (980 + n.i % 20)),
       n.bd, f.f, l.l, l.ll || ' ' || f.fl || '|' || f.fl || ' ' || l.ll,
       s.s || ' ' || (1 + n.i % 97), '13' || printf('%03d', n.i % 1000), 'Nacka',
       '08-' || printf('%07d', n.i % 10000000), an.id,
       (SELECT id FROM users WHERE username = 'handlaggare'),
       'Skåp ' || (n.i % 40) || ' krok ' || (n.i % 60), NULL, n.i % 50 = 0, n.i % 3 = 0, n.i % 3 = 0, 1,
       datetime('now'), datetime('now')
FROM (SELECT i, date('1948-01-01', '+' || (i / 20) || ' days') AS bd FROM nums
      WHERE i BETWEEN 1 AND {customers}) n
JOIN first_names f ON f.k = n.i % 10
JOIN last_names l ON l.k = (n.i / 10) % 12
JOIN streets s ON s.k = n.i % 6
JOIN area_no an ON an.n = ((n.i * 2654435761) % 4294967296) * 10 / 4294967296;

INSERT INTO customer_groups (customer_id, group_id)
SELECT c.id, g.id FROM customers c JOIN groups g ON g.area_id = c.area_id
WHERE c.customer_number LIKE 'B-%'
  AND g.kind IN ('alarm_team', 'night_patrol', 'home_care');

CREATE TEMP TABLE gen_orders AS
SELECT j, uid('cust' || (1 + j * {customers} / {orders})) AS customer_id,
       CASE WHEN k < 7 THEN 'install' WHEN k < 9 THEN 'uninstall' ELSE 'extension' END AS kind,
       CASE WHEN j % 7 = 0 THEN 'digital_lock' ELSE 'safety_alarm' END AS service,
       ((j * 2654435761) % 4294967296) * 1000 / 4294967296 AS r
FROM (SELECT i AS j, ((i * 2246822519) % 4294967296) * 10 / 4294967296 AS k FROM nums
      WHERE i < {orders});

INSERT INTO decisions (id, customer_id, service, valid_from, valid_to, follows_id, decided_by,
    ended_on, version, created_at, updated_at)
SELECT uid('dec' || j), customer_id, service, date('now', '-' || (j % 1800) || ' days'), NULL, NULL,
       (SELECT id FROM users WHERE username = 'handlaggare'), NULL, 1, datetime('now'), datetime('now')
FROM gen_orders;

INSERT INTO orders (id, customer_id, decision_id, kind, service, state, team_group_id,
    assigned_installer_id, visit_at, visit_date, installation_date, end_date, serials,
    state_reason, supplier, supplier_reference, supplier_ordered_on, lock_receipt,
    lock_receipt_collected_on, received_at, version, created_at, updated_at)
SELECT uid('order' || j), customer_id, uid('dec' || j), kind, service, st,
       NULL, (SELECT id FROM users WHERE username = 'installator'),
       NULL,
       CASE WHEN st IN ('booked', 'keys_received') THEN date('now', '+' || (j % 30) || ' days') END,
       CASE WHEN st IN ('installed', 'executed') THEN date(recv, '+7 days') END,
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
              THEN datetime('now', '-' || (CASE WHEN (j * 31) % 1000 < 800 THEN j % 30 ELSE 30 + j % 170 END) || ' days')
              ELSE datetime('now', '-' || (30 + j % 1800) || ' days') END AS recv
  FROM gen_orders
) o;

INSERT INTO keys (id, key_number, customer_id, key_count, cabinet, hook, night_cabinet, custody,
    holder_group_id, holder_user_id, since, version, created_at, updated_at)
SELECT uid('key' || c.i), 'N-' || c.i, c.id, 1, 'Skåp ' || (c.i % 40), CAST(c.i % 60 AS TEXT),
       c.i % 9 = 0, c.custody,
       CASE WHEN c.custody = 'signed_out' THEN (SELECT g.id FROM groups g WHERE g.area_id = c.area_id AND g.kind = 'night_patrol') END,
       NULL,
       CASE WHEN c.i % 1000 >= 990 THEN datetime('now', '-3 days') ELSE datetime('now', '-2 hours') END,
       1, datetime('now'), datetime('now')
FROM (SELECT id, area_id, i,
             CASE WHEN i % 1000 < 900 THEN 'in_cabinet' WHEN i % 1000 < 950 THEN 'returned'
                  ELSE 'signed_out' END AS custody
      FROM (SELECT id, area_id, CAST(substr(customer_number, 3) AS INTEGER) AS i FROM customers
            WHERE customer_number LIKE 'B-%')) c
WHERE c.i % 5 <> 0;

CREATE TEMP TABLE first_models AS
SELECT id, kind, supplier FROM equipment_models m
WHERE model = (SELECT min(model) FROM equipment_models m2 WHERE m2.kind = m.kind);

INSERT INTO equipment_items (id, model_id, kind, supplier, serial, state, customer_id,
    linked_customer_id, version, created_at, updated_at)
SELECT uid('item' || m.kind || c.i), m.id, m.kind, m.supplier,
       CASE WHEN m.kind = 'alarm_unit' THEN 'GX-' ELSE 'GB-' END || c.i,
       CASE WHEN c.i % 500 = 1 THEN 'to_collect' WHEN c.i % 5000 = 3 THEN 'missing' ELSE 'at_customer' END,
       c.id, NULL, 1, datetime('now'), datetime('now')
FROM (SELECT id, CAST(substr(customer_number, 3) AS INTEGER) AS i FROM customers
      WHERE customer_number LIKE 'B-%') c,
     (SELECT * FROM first_models WHERE kind IN ('alarm_unit', 'alarm_button')) m
WHERE c.i % 5 <> 0;
INSERT INTO equipment_items (id, model_id, kind, supplier, serial, state, customer_id,
    linked_customer_id, version, created_at, updated_at)
SELECT uid('stock' || m.kind || s.i), m.id, m.kind, m.supplier, 'S' || substr(m.kind, 1, 1) || '-' || s.i,
       CASE WHEN s.i % 10 = 0 THEN 'scrapped' ELSE 'in_stock' END, NULL, NULL, 1, datetime('now'),
       datetime('now')
FROM (SELECT i FROM nums WHERE i BETWEEN 1 AND 5000) s, first_models m;

DROP TABLE nums; DROP TABLE area_no; DROP TABLE first_names; DROP TABLE last_names;
DROP TABLE streets; DROP TABLE gen_orders; DROP TABLE first_models;
"#;

diesel::define_sql_function! {
    /// A UUID made from a seed, as `md5(seed)::uuid` in PostgreSQL.
    fn uid(seed: diesel::sql_types::Text) -> diesel::sql_types::Text;
}
diesel::define_sql_function! {
    /// The personnummer's check digit of nine digits.
    fn luhn(nine: diesel::sql_types::Text) -> diesel::sql_types::Integer;
}

/// A UUID from the first 16 bytes of the seed's SHA-256.
pub fn uuid_of(seed: &str) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(seed.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// Opens the generator's connection to a SQLite database: `uid` and `luhn`
/// registered, no fsync while it loads.
pub fn sqlite_generator(path: &std::path::Path) -> SqliteConnection {
    let mut conn = SqliteConnection::establish(&path.to_string_lossy()).unwrap();
    uid_utils::register_impl(&mut conn, |seed: String| uuid_of(&seed)).unwrap();
    luhn_utils::register_impl(&mut conn, |nine: String| {
        larmkoll::domain::personnummer::check_digit(&nine) as i32
    })
    .unwrap();
    conn.batch_execute(
        "PRAGMA busy_timeout = 10000; PRAGMA synchronous = OFF; PRAGMA cache_size = -262144; \
         PRAGMA foreign_keys = ON;",
    )
    .unwrap();
    conn
}

/// Creates the SQLite database at `path` afresh (migrated, the demo
/// organisation, then the rest generated inside SQLite).
pub fn generate_sqlite(path: &std::path::Path, scale: Scale) -> String {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let url = format!("sqlite://{}", path.display());
    let db = Db::connect(DatabaseTarget::from_url(&url).unwrap(), 2).unwrap();
    db.migrate().expect("migrate");
    demo::load_if_empty(&db).expect("demo organisation");
    drop(db);
    let started = Instant::now();
    let mut conn = sqlite_generator(path);
    conn.batch_execute(&format!("BEGIN; {} COMMIT; ANALYZE;", scale.fill(SQLITE)))
        .expect("generate");
    eprintln!(
        "generated {} customers, {} orders, {} keys, {} items in SQLite in {:.0} s",
        count(&mut conn, "SELECT count(*) AS n FROM customers"),
        count(&mut conn, "SELECT count(*) AS n FROM orders"),
        count(&mut conn, "SELECT count(*) AS n FROM keys"),
        count(&mut conn, "SELECT count(*) AS n FROM equipment_items"),
        started.elapsed().as_secs_f64()
    );
    url
}

/// The release server as its own process, as it would run.
pub struct Server {
    child: std::process::Child,
    pub base: String,
    _data: tempfile::TempDir,
}

impl Server {
    /// `bin`: the benchmark's `CARGO_BIN_EXE_larmkoll` (a release build).
    pub fn start(bin: &str, url: &str) -> Server {
        let data = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::fs::File::create(data.path().join("server.log")).unwrap();
        let child = std::process::Command::new(bin)
            .args(["serve", "--demo"])
            .env("DATABASE_URL", url)
            .env("LARMKOLL_DATA_DIR", data.path())
            .env("LARMKOLL_LISTEN", format!("127.0.0.1:{port}"))
            .env("LARMKOLL_FOLLOWUP_INTERVAL_MINUTES", "0")
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or("warn".into()),
            )
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the server");
        Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _data: data,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP/1.1 client as the benchmarks use it.
pub fn client() -> awc::Client {
    awc::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .max_http_version(awc::http::Version::HTTP_11)
        .finish()
}

pub fn bearer(token: &str) -> (&'static str, String) {
    ("Authorization", format!("Bearer {token}"))
}
