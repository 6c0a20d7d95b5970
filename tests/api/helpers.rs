//! Runs the real app on a loopback port against a fresh database per test:
//! a temporary SQLite file, or a new PostgreSQL database that is dropped after.

use actix_web::dev::ServerHandle;
use actix_web::{web, HttpServer};
use diesel::{Connection, PgConnection, RunQueryDsl};
use larmkoll::config::Settings;
use larmkoll::db::{DatabaseTarget, Db};
use larmkoll::state::AppState;
use larmkoll::{auth, build_app, demo};
use serde_json::Value;
use std::net::TcpListener;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server to create test databases on: `TEST_DATABASE_URL`, or
/// the local server when one answers. `REQUIRE_POSTGRES=1` (set by CI) turns
/// "not reachable" into a failure instead of a skip.
pub fn postgres_admin_url() -> Option<String> {
    let mut url = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
    // On loopback, no TLS: when the test process exits, OpenSSL's exit-time
    // cleanup could run under a pool thread still connecting (a SIGSEGV after
    // every test had passed).
    let loopback = ["@127.0.0.1", "@localhost", "@[::1]"]
        .iter()
        .any(|h| url.contains(h));
    if loopback && !url.contains("sslmode=") {
        url.push_str(if url.contains('?') { "&" } else { "?" });
        url.push_str("sslmode=disable");
    }
    match PgConnection::establish(&url) {
        Ok(_) => Some(url),
        Err(e) => {
            if std::env::var("REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!("REQUIRE_POSTGRES=1 but PostgreSQL is not reachable at {url}: {e}");
            }
            eprintln!("SKIPPED: PostgreSQL not reachable ({e}); set TEST_DATABASE_URL to run this test on PostgreSQL");
            None
        }
    }
}

/// Whether a customer (as the API lists it) is one of the base demo's, which
/// `serve --demo` leaves without orders, keys or documents: the living demo's
/// customers come after them (customer numbers K-100001 upward).
pub fn is_base_demo_customer(c: &serde_json::Value) -> bool {
    c["customer_number"]
        .as_str()
        .and_then(|n| n.strip_prefix("K-"))
        .and_then(|n| n.parse::<usize>().ok())
        .is_some_and(|n| n <= 100_000 + larmkoll::demo::BASE_CUSTOMERS)
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A distinct, valid JPEG made from `base`: a comment segment after the start marker.
pub fn distinct_jpeg(base: &[u8], comment: &str) -> Vec<u8> {
    let mut out = base[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(&((comment.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(comment.as_bytes());
    out.extend_from_slice(&base[2..]);
    out
}

/// A database that exists for one test only.
pub struct TestDatabase {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    /// An empty database, for the tests that watch migrations run.
    pub fn create(backend: Backend) -> Option<Self> {
        Self::new(backend, false)
    }

    /// A database with every migration applied: on PostgreSQL a clone of the
    /// template this run migrated once, so a test does not pay for the DDL.
    pub fn migrated(backend: Backend) -> Option<Self> {
        Self::new(backend, true)
    }

    fn new(backend: Backend, migrated: bool) -> Option<Self> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                Some(Self {
                    url,
                    _dir: Some(dir),
                    postgres: None,
                })
            }
            Backend::Postgres => {
                let admin = postgres_admin_url()?;
                let name = format!("larmkoll_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = PgConnection::establish(&admin).expect("admin connection");
                let create = if migrated {
                    format!(
                        "CREATE DATABASE {name} TEMPLATE {}",
                        postgres_template(&admin)
                    )
                } else {
                    format!("CREATE DATABASE {name}")
                };
                diesel::sql_query(create)
                    .execute(&mut conn)
                    .expect("create database");
                Some(Self {
                    url: database_url(&admin, &name),
                    _dir: None,
                    postgres: Some((admin, name)),
                })
            }
        }
    }
}

/// The admin URL with its database name replaced.
fn database_url(admin: &str, name: &str) -> String {
    let (path, query) = admin.split_once('?').unwrap_or((admin, ""));
    let base = path.rsplit_once('/').map(|(b, _)| b).unwrap_or(path);
    if query.is_empty() {
        format!("{base}/{name}")
    } else {
        format!("{base}/{name}?{query}")
    }
}

/// The name of the migrated template database, built once per test run and
/// kept between runs: its name carries a digest of `migrations/postgres`, so
/// a changed migration gets a new template.
fn postgres_template(admin: &str) -> &'static str {
    static TEMPLATE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEMPLATE.get_or_init(|| build_postgres_template(admin))
}

fn migrations_digest() -> String {
    use sha2::{Digest, Sha256};
    fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("migrations folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                files(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let mut paths = Vec::new();
    files(&root, &mut paths);
    paths.sort();
    let mut hash = Sha256::new();
    for path in paths {
        hash.update(
            path.strip_prefix(&root)
                .expect("inside")
                .to_string_lossy()
                .as_bytes(),
        );
        hash.update([0]);
        hash.update(std::fs::read(&path).expect("migration file"));
        hash.update([0]);
    }
    hex::encode(&hash.finalize()[..8])
}

fn build_postgres_template(admin: &str) -> String {
    #[derive(diesel::QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let template = format!("larmkoll_template_{}", migrations_digest());
    let mut conn = PgConnection::establish(admin).expect("admin connection");
    // Other test processes wait here while one of them builds the template;
    // the lock ends with this connection.
    diesel::sql_query("SELECT pg_advisory_lock(7243190511)")
        .execute(&mut conn)
        .expect("advisory lock");
    let exists = diesel::sql_query(format!(
        "SELECT count(*) AS n FROM pg_database WHERE datname = '{template}'"
    ))
    .get_result::<Found>(&mut conn)
    .expect("look for the template")
    .n > 0;
    if !exists {
        // Built under another name and renamed when complete: a run killed
        // half-way leaves no half-migrated template behind.
        let building = format!("{template}_building");
        for sql in [
            format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"),
            format!("CREATE DATABASE {building}"),
        ] {
            diesel::sql_query(sql)
                .execute(&mut conn)
                .expect("template database");
        }
        {
            let url = database_url(admin, &building);
            let db = Db::connect(DatabaseTarget::from_url(&url).expect("url"), 1).expect("pool");
            db.migrate().expect("migrate the template");
        } // The pool's connection closes here: PostgreSQL renames and clones
          // only a database nobody is connected to.
        for sql in [
            format!("ALTER DATABASE {building} RENAME TO {template}"),
            format!("ALTER DATABASE {template} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"),
        ] {
            diesel::sql_query(sql)
                .execute(&mut conn)
                .expect("template database");
        }
    }
    template
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((admin, name)) = &self.postgres {
            if let Ok(mut conn) = PgConnection::establish(admin) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn);
            }
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub db: Db,
    pub backend: Backend,
    client: awc::Client,
    // Stops the server when the test ends, before the database is dropped.
    _server: ServerGuard,
    _data_dir: tempfile::TempDir,
    // Dropped last: the database outlives the server using it.
    _database: TestDatabase,
}

struct ServerGuard(ServerHandle);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        // `stop` sends its command at once; the returned future only waits for completion.
        drop(self.0.stop(false));
    }
}

pub struct Response {
    pub status: u16,
    pub headers: awc::http::header::HeaderMap,
    pub body: Value,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    /// The problem's `code`, checking that it is RFC 9457 problem+json.
    pub fn problem_code(&self) -> String {
        assert_eq!(
            self.header("content-type").as_deref(),
            Some("application/problem+json"),
            "status {} body {}",
            self.status,
            self.body
        );
        assert_eq!(self.body["status"], self.status, "{}", self.body);
        assert!(self.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
        assert!(self.body["detail_sv"]
            .as_str()
            .is_some_and(|d| !d.is_empty()));
        self.body["code"].as_str().unwrap_or_default().to_string()
    }

    /// A refusal as a person meets it: the status, the problem's `code`, and
    /// an English and a Swedish detail that each say (at least) the given words.
    pub fn assert_problem(&self, status: u16, code: &str, en: &str, sv: &str) {
        assert_eq!(
            (self.status, self.problem_code().as_str()),
            (status, code),
            "{}",
            self.body
        );
        let detail = self.body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(en), "detail lacks {en:?}: {detail}");
        let detail_sv = self.body["detail_sv"].as_str().unwrap_or_default();
        assert!(
            detail_sv.contains(sv),
            "detail_sv lacks {sv:?}: {detail_sv}"
        );
    }
}

impl TestApp {
    /// Starts the app in demo mode with the demo organisation and customers loaded.
    pub async fn start(backend: Backend) -> Option<Self> {
        Self::start_with(backend, true).await
    }

    /// Same data; `demo: false` runs it as production would (the demo password refused).
    pub async fn start_with(backend: Backend, demo_mode: bool) -> Option<Self> {
        Self::start_configured(backend, demo_mode, |_| {}).await
    }

    /// Demo data, with settings adjusted for one test (say, short-lived tokens).
    pub async fn start_configured(
        backend: Backend,
        demo_mode: bool,
        adjust: impl FnOnce(&mut Settings),
    ) -> Option<Self> {
        let database = TestDatabase::migrated(backend)?;
        let data_dir = tempfile::tempdir().expect("data dir");
        let mut settings = Settings {
            data_dir: data_dir.path().to_path_buf(),
            database_url: Some(database.url.clone()),
            db_pool_size: 4,
            json_limit_bytes: 16 * 1024,
            listen: "127.0.0.1:0".parse().expect("address"),
            ..Settings::default()
        };
        adjust(&mut settings);
        // Bound before the state is built, so the public URL can name the port.
        let listener = TcpListener::bind(settings.listen).expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        settings.public_url.get_or_insert_with(|| base.clone());
        let target = DatabaseTarget::from_url(&database.url).expect("test url");
        let db = Db::connect(target, settings.db_pool_size).expect("pool");
        let seed = db.clone();
        web::block(move || {
            seed.migrate()?;
            demo::load_if_empty(&seed)
        })
        .await
        .expect("blocking")
        .expect("migrate and seed");
        let keys = auth::jwt::TokenKeys::load_or_create(data_dir.path()).expect("keys");
        let state =
            web::Data::new(AppState::new(db.clone(), keys, settings, demo_mode).expect("state"));
        let server = HttpServer::new(move || build_app(state.clone()))
            .workers(2)
            .disable_signals()
            .listen(listener)
            .expect("listen")
            .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Some(Self {
            base,
            db,
            backend,
            client: awc::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .finish(),
            _server: ServerGuard(handle),
            _data_dir: data_dir,
            _database: database,
        })
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Response {
        let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.insert_header(("Authorization", format!("Bearer {t}")));
        }
        for (k, v) in headers {
            req = req.insert_header((*k, *v));
        }
        let mut res = match body {
            Some(b) => req.send_body(b).await,
            None => req.send().await,
        }
        .expect("request reaches the server");
        let bytes = res.body().limit(16 * 1024 * 1024).await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Response {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            body,
        }
    }

    pub fn data_dir(&self) -> &std::path::Path {
        self._data_dir.path()
    }

    pub fn database_url(&self) -> &str {
        &self._database.url
    }

    /// Files under the data directory's `documents/` folder, recursively.
    pub fn stored_files(&self) -> Vec<String> {
        fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
            if let Ok(entries) = std::fs::read_dir(dir) {
                for e in entries.flatten() {
                    let p = e.path();
                    if p.is_dir() {
                        walk(&p, out);
                    } else {
                        out.push(p.display().to_string());
                    }
                }
            }
        }
        let mut out = Vec::new();
        walk(&self._data_dir.path().join("documents"), &mut out);
        out.sort();
        out
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.send("GET", path, Some(token), &[], None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, json: Value) -> Response {
        self.send(
            "POST",
            path,
            token,
            &[("Content-Type", "application/json")],
            Some(json.to_string().into_bytes()),
        )
        .await
    }

    /// POST with `If-Match: "<version>"`.
    pub async fn post_if(&self, path: &str, token: &str, version: i64, json: Value) -> Response {
        let etag = format!("\"{version}\"");
        self.send(
            "POST",
            path,
            Some(token),
            &[("Content-Type", "application/json"), ("If-Match", &etag)],
            Some(json.to_string().into_bytes()),
        )
        .await
    }

    pub async fn patch(
        &self,
        path: &str,
        token: &str,
        if_match: Option<&str>,
        json: Value,
    ) -> Response {
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(v) = if_match {
            headers.push(("If-Match", v));
        }
        self.send(
            "PATCH",
            path,
            Some(token),
            &headers,
            Some(json.to_string().into_bytes()),
        )
        .await
    }

    pub async fn login(&self, username: &str) -> String {
        self.login_with(username, demo::DEMO_PASSWORD).await
    }

    pub async fn login_with(&self, username: &str, password: &str) -> String {
        let res = self
            .post(
                "/api/v1/auth/login",
                None,
                serde_json::json!({"username": username, "password": password}),
            )
            .await;
        assert_eq!(res.status, 200, "login {username}: {}", res.body);
        res.body["access_token"]
            .as_str()
            .expect("token")
            .to_string()
    }

    /// Id of the demo area with this name.
    pub async fn area_id(&self, token: &str, name: &str) -> String {
        let areas = self.get("/api/v1/areas", token).await;
        areas
            .body
            .as_array()
            .expect("areas")
            .iter()
            .find(|a| a["name"] == name)
            .expect("area")["id"]
            .as_str()
            .expect("id")
            .to_string()
    }

    /// Id of the demo group with this name.
    pub async fn group_id(&self, token: &str, name: &str) -> String {
        let groups = self.get("/api/v1/groups", token).await;
        groups
            .body
            .as_array()
            .expect("groups")
            .iter()
            .find(|g| g["name"] == name)
            .expect("group")["id"]
            .as_str()
            .expect("id")
            .to_string()
    }

    /// Creates a user through the admin API and returns its id.
    pub async fn create_user(
        &self,
        admin: &str,
        username: &str,
        role: &str,
        group_ids: &[&str],
    ) -> String {
        let res = self
            .post(
                "/api/v1/users",
                Some(admin),
                serde_json::json!({
                    "username": username,
                    "display_name": username,
                    "password": "ett-langt-losenord",
                    "role": role,
                    "group_ids": group_ids,
                }),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.body);
        res.body["id"].as_str().expect("id").to_string()
    }

    /// `larmkoll follow-up --today <today>` started on the test's database.
    pub fn start_follow_up(&self, today: &str) -> std::process::Child {
        std::process::Command::new(env!("CARGO_BIN_EXE_larmkoll"))
            .args(["follow-up", "--today", today])
            .env("LARMKOLL_DATA_DIR", self.data_dir())
            .env("DATABASE_URL", self.database_url())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("larmkoll follow-up")
    }

    /// The follow-up run to its end as of `today`: the rules that fired.
    pub fn follow_up(&self, today: &str) -> Vec<serde_json::Value> {
        let out = self.start_follow_up(today).wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("the fired rules as JSON")
    }

    /// Rows in the audit log matching action, outcome and customer.
    pub async fn audit_count(&self, action: &str, outcome: &str, customer_id: &str) -> i64 {
        let (a, o, c) = (
            action.to_string(),
            outcome.to_string(),
            customer_id.to_string(),
        );
        self.db
            .run(move |conn| {
                use diesel::prelude::*;
                use larmkoll::db::schema::audit_log::dsl as al;
                Ok(al::audit_log
                    .filter(
                        al::action
                            .eq(a)
                            .and(al::outcome.eq(o))
                            .and(al::customer_id.eq(c)),
                    )
                    .count()
                    .get_result::<i64>(conn)?)
            })
            .await
            .expect("audit query")
    }
}

/// Runs each named `async fn(TestApp)` once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[actix_web::test]
                async fn sqlite() {
                    let app = $crate::helpers::TestApp::start($crate::helpers::Backend::Sqlite).await.expect("sqlite");
                    super::$name(app).await;
                }

                #[actix_web::test]
                async fn postgres() {
                    if let Some(app) = $crate::helpers::TestApp::start($crate::helpers::Backend::Postgres).await {
                        super::$name(app).await;
                    }
                }
            }
        )*
    };
}

/// Like `on_both_backends!`, with the app started by `start(backend)` (a
/// test module's own settings).
#[macro_export]
macro_rules! on_both_backends_configured {
    ($start:path; $($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[actix_web::test]
                async fn sqlite() {
                    let app = $start($crate::helpers::Backend::Sqlite).await.expect("sqlite");
                    super::$name(app).await;
                }

                #[actix_web::test]
                async fn postgres() {
                    if let Some(app) = $start($crate::helpers::Backend::Postgres).await {
                        super::$name(app).await;
                    }
                }
            }
        )*
    };
}

/// A command-line tool the suite drives from outside the server: looked up in
/// the test tool folders `.ci/run` fills (`tests/tools/.venv/bin` for PyPI
/// tools, `tests/*/node_modules/.bin` for npm ones), then on `PATH`.
/// Missing, it prints `SKIPPED` and answers `None`; with `REQUIRE_TOOLS=1`
/// (set by CI) a missing tool fails the test instead.
pub fn tool(name: &str) -> Option<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut places = vec![root.join("tests/tools/.venv/bin")];
    if let Ok(entries) = std::fs::read_dir(root.join("tests")) {
        places.extend(
            entries
                .flatten()
                .map(|e| e.path().join("node_modules/.bin")),
        );
    }
    if let Some(path) = std::env::var_os("PATH") {
        places.extend(std::env::split_paths(&path));
    }
    if let Some(found) = places
        .into_iter()
        .map(|p| p.join(name))
        .find(|p| p.is_file())
    {
        return Some(found);
    }
    if std::env::var("REQUIRE_TOOLS").as_deref() == Ok("1") {
        panic!("REQUIRE_TOOLS=1 but `{name}` is missing; `bash .ci/run` installs the test tools");
    }
    eprintln!("SKIPPED: `{name}` is not installed (see tests/tools/requirements.txt)");
    None
}

/// Reads a `larmkoll serve` child's standard output up to the banner's last
/// line, then keeps draining it on a thread (so the server never writes into
/// a closed pipe). The banner's lines, or `None` if the output ended first
/// (the server did not start).
pub fn read_banner(child: &mut std::process::Child) -> Option<Vec<String>> {
    use std::io::BufRead;
    let stdout = child.stdout.take().expect("stdout piped");
    let mut lines = std::io::BufReader::new(stdout).lines();
    let mut banner = Vec::new();
    for line in lines.by_ref().map_while(Result::ok) {
        let last = line.contains("Stop with Ctrl+C");
        banner.push(line);
        if last {
            std::thread::spawn(move || lines.for_each(drop));
            return Some(banner);
        }
    }
    None
}

/// Reads one of our CSV exports with a real CSV parser, as a spreadsheet would:
/// the BOM says UTF-8, `;` separates, quotes per RFC 4180.
pub fn read_csv(text: &str) -> Vec<Vec<String>> {
    let body = text
        .strip_prefix('\u{feff}')
        .expect("a BOM so Excel reads UTF-8");
    csv::ReaderBuilder::new()
        .delimiter(b';')
        .has_headers(false)
        .from_reader(body.as_bytes())
        .records()
        .map(|r| {
            r.expect("a well-formed CSV record")
                .iter()
                .map(str::to_string)
                .collect()
        })
        .collect()
}

/// A minimal .xlsx as Excel would write it: the package parts a workbook
/// needs, with these parts (name, content) added or replacing them.
pub fn xlsx_with(parts: &[(&str, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write;
    let base: [(&str, &str); 4] = [
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#,
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
        ),
        (
            "xl/workbook.xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Blad1" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
        ),
        (
            "xl/_rels/workbook.xml.rels",
            r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#,
        ),
    ];
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1))
        .large_file(false);
    for (name, content) in base {
        if !parts.iter().any(|(n, _)| *n == name) {
            zip.start_file(name, options).expect("zip part");
            zip.write_all(content.as_bytes()).expect("zip write");
        }
    }
    for (name, content) in parts {
        zip.start_file(*name, options).expect("zip part");
        zip.write_all(content).expect("zip write");
    }
    zip.finish().expect("zip finish").into_inner()
}

/// A worksheet part with these rows of inline text cells, from row 1.
pub fn sheet_xml(rows: &[Vec<&str>]) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut xml = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#,
    );
    for (r, cells) in rows.iter().enumerate() {
        xml.push_str(&format!("<row r=\"{}\">", r + 1));
        for (c, v) in cells.iter().enumerate() {
            let col = (b'A' + c as u8) as char;
            xml.push_str(&format!(
                "<c r=\"{col}{}\" t=\"inlineStr\"><is><t>{}</t></is></c>",
                r + 1,
                esc(v)
            ));
        }
        xml.push_str("</row>");
    }
    xml.push_str("</sheetData></worksheet>");
    xml
}

/// An .xlsx whose first sheet has these rows.
pub fn xlsx_rows(rows: &[Vec<&str>]) -> Vec<u8> {
    xlsx_with(&[("xl/worksheets/sheet1.xml", sheet_xml(rows).into_bytes())])
}

impl TestApp {
    /// POSTs a file to the key-register import; `query` is what follows `?`.
    pub async fn import_sheet(&self, token: &str, query: &str, body: &[u8]) -> Response {
        self.send(
            "POST",
            &format!("/api/v1/import/key-register?{query}"),
            Some(token),
            &[("Content-Type", "application/octet-stream")],
            Some(body.to_vec()),
        )
        .await
    }

    /// How many keys the register holds, counted in the database.
    pub async fn key_count(&self) -> i64 {
        use diesel::dsl::count_star;
        use diesel::{QueryDsl, RunQueryDsl};
        use larmkoll::db::schema::keys;
        self.db
            .run(|conn| Ok(keys::table.select(count_star()).first::<i64>(conn)?))
            .await
            .expect("count keys")
    }
}
