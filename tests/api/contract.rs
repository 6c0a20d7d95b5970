//! The contract, fuzzed: Schemathesis reads the served OpenAPI document and
//! sends every operation generated requests, valid and invalid, as a logged-in
//! user, against the real `larmkoll serve --demo` binary. Any 5xx, any response
//! whose status, content type, headers or body the document does not describe,
//! any request the document forbids that is not refused, any request it allows
//! that is refused for its form (only 404, 409 and 412 may answer one: the state
//! of the data, see tests/tools/schemathesis.toml), and any operation that
//! answers without a token fails the test, with Schemathesis's report.
//!
//! On SQLite three passes share one server: the coordinator (the office role
//! with a scope of its own areas), a field role (installer: the 403 and 404
//! paths, decided in Rust before any backend-specific query), then the admin
//! (every operation's own logic). PostgreSQL gets the admin pass,
//! the one whose writes reach the database, within CI's time. CI runs a
//! bounded, seeded pass; `SCHEMATHESIS_MAX_EXAMPLES` (default 5),
//! `SCHEMATHESIS_SEED` (a number, or `random`) and `SCHEMATHESIS_ROLES`
//! (`installator,admin` to run both on PostgreSQL too) make the long run:
//! `SCHEMATHESIS_MAX_EXAMPLES=100 SCHEMATHESIS_SEED=random cargo test --test api contract -- --nocapture`.
//! One worker: Schemathesis's threads trip a CPython 3.11 race in `ast`
//! ("AST constructor recursion depth mismatch"), a tool error, not ours.

use crate::helpers::{read_banner, tool, Backend, TestApp, TestDatabase};
use crate::on_both_backends;
use std::path::Path;
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_larmkoll");
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
response_headers_conformance,response_schema_conformance,negative_data_rejection,\
positive_data_acceptance,ignored_auth,unsupported_method";
const DEFAULT_SEED: &str = "20261202";

fn start(data: &Path, log: &Path, database_url: Option<&str>, port: u16) -> Child {
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--demo"])
        .env("LARMKOLL_LISTEN", format!("127.0.0.1:{port}"))
        .env("LARMKOLL_DATA_DIR", data)
        // One login must outlast the longest run.
        .env("LARMKOLL_ACCESS_TOKEN_MINUTES", "600")
        .env("LARMKOLL_FOLLOWUP_INTERVAL_MINUTES", "0")
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap());
    if let Some(url) = database_url {
        cmd.env("DATABASE_URL", url);
    }
    let mut child = cmd.spawn().unwrap();
    assert!(
        read_banner(&mut child).is_some(),
        "the server did not start"
    );
    child
}

/// The access token and the user's id.
async fn login(base: &str, username: &str) -> (String, String) {
    let client = awc::Client::default();
    let mut res = client
        .post(format!("{base}/api/v1/auth/login"))
        .send_json(&serde_json::json!({"username": username, "password": "demo"}))
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "login as {username}");
    let body: serde_json::Value = res.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap().to_string();
    (
        token.clone(),
        me(base, &token).await.expect("me after login"),
    )
}

/// The user's id while the token still works.
async fn me(base: &str, token: &str) -> Option<String> {
    let mut res = awc::Client::default()
        .get(format!("{base}/api/v1/auth/me"))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send()
        .await
        .unwrap();
    if res.status() != 200 {
        return None;
    }
    let body: serde_json::Value = res.json().await.unwrap();
    Some(body["id"].as_str()?.to_string())
}

fn schemathesis(st: &Path, base: &str, token: &str, self_id: &str, work: &Path) -> (bool, String) {
    let examples = std::env::var("SCHEMATHESIS_MAX_EXAMPLES").unwrap_or_else(|_| "5".into());
    let seed = std::env::var("SCHEMATHESIS_SEED").unwrap_or_else(|_| DEFAULT_SEED.into());
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools");
    let hooks = tools.join("schemathesis_hooks.py");
    let mut cmd = Command::new(st);
    cmd.current_dir(work)
        .arg("--config-file")
        .arg(tools.join("schemathesis.toml"))
        .arg("run")
        .arg(format!("{base}/api/v1/openapi.json"))
        .args(["--url", base])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--checks", CHECKS])
        // Every logout ends the caller's own session: the rest of the run
        // would see only 401s (tests/api/auth.rs covers logout).
        .args(["--exclude-path", "/api/v1/auth/logout"])
        .args(["--max-examples", &examples])
        .args(["--workers", "1", "--request-timeout", "30"])
        .args(["--generation-database", "none", "--no-color"])
        .env("SCHEMATHESIS_HOOKS", hooks)
        .env("LARMKOLL_FUZZ_SELF", self_id)
        // The hooks read what exists (areas, groups, models …) as this user,
        // so that positive cases name real records.
        .env("LARMKOLL_FUZZ_BASE", base)
        .env("LARMKOLL_FUZZ_TOKEN", token)
        .env("NO_COLOR", "1");
    if seed != "random" {
        cmd.args(["--seed", &seed]);
    }
    let out = cmd.output().expect("schemathesis runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), report)
}

async fn fuzz_the_contract(backend: Backend) {
    let Some(st) = tool("schemathesis") else {
        return;
    };
    let Some(database) = TestDatabase::migrated(backend) else {
        return;
    };
    let url = (backend == Backend::Postgres).then_some(database.url.clone());
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let log = work.path().join("server.log");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = start(data.path(), &log, url.as_deref(), port);
    let roles = std::env::var("SCHEMATHESIS_ROLES").unwrap_or_else(|_| match backend {
        Backend::Sqlite => "koordinator,installator,admin".into(),
        Backend::Postgres => "admin".into(),
    });
    // All log in before the fuzzer trips the login throttle for this address.
    let mut users = Vec::new();
    for username in roles.split(',') {
        users.push((username, login(&base, username).await));
    }
    let mut failed = Vec::new();
    for (username, (token, id)) in &users {
        let started = std::time::Instant::now();
        let (ok, report) = schemathesis(&st, &base, token, id, work.path());
        let summary: Vec<&str> = report
            .lines()
            .rev()
            .take_while(|l| !l.contains("SUMMARY"))
            .collect();
        eprintln!(
            "schemathesis ({backend:?}, {username}, {:.0?}):\n{}",
            started.elapsed(),
            summary.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
        if !ok {
            failed.push(format!("--- as {username} ---\n{report}"));
        }
        // A pass that lost its login tested little but 401s.
        assert_eq!(
            me(&base, token).await.as_deref(),
            Some(id.as_str()),
            "the {username} token stopped working during the run"
        );
    }
    server.kill().unwrap();
    server.wait().unwrap();
    if !failed.is_empty() {
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = log
            .lines()
            .rev()
            .filter(|l| l.contains("ERROR"))
            .take(40)
            .collect();
        panic!(
            "schemathesis found contract violations on {backend:?}:\n{}\n--- server errors (last 40) ---\n{}",
            failed.join("\n"),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
}

#[actix_web::test]
async fn schemathesis_finds_no_contract_violation_on_sqlite() {
    fuzz_the_contract(Backend::Sqlite).await;
}

#[actix_web::test]
async fn schemathesis_finds_no_contract_violation_on_postgres() {
    fuzz_the_contract(Backend::Postgres).await;
}

// Regressions for what the fuzzer found.

on_both_backends!(a_method_the_document_does_not_list_gets_405_with_allow);

async fn a_method_the_document_does_not_list_gets_405_with_allow(app: TestApp) {
    // `TRACE /healthz` used to fall through to the field app and answer 200 with its shell.
    for method in ["TRACE", "POST", "DELETE"] {
        for path in ["/healthz", "/readyz"] {
            let res = app.send(method, path, None, &[], None).await;
            assert_eq!(res.status, 405, "{method} {path}");
            assert_eq!(
                res.header("allow").as_deref(),
                Some("GET"),
                "{method} {path}"
            );
        }
    }
}

on_both_backends!(a_method_an_api_path_does_not_take_gets_405_and_an_unknown_path_404);

async fn a_method_an_api_path_does_not_take_gets_405_and_an_unknown_path_404(app: TestApp) {
    // Each operation is its own route, so the 405 comes from the document's paths.
    let admin = app.login("admin").await;
    let id = uuid::Uuid::new_v4();
    for (method, path, allow) in [
        ("DELETE", format!("/api/v1/customers/{id}"), "GET, PATCH"),
        ("PUT", "/api/v1/customers".to_string(), "GET, POST"),
        ("GET", format!("/api/v1/orders/{id}/install"), "POST"),
        ("POST", "/api/v1/keys/export".to_string(), "GET"),
        // A route in a scope of its own (the import's larger body limit).
        ("GET", "/api/v1/import/key-register".to_string(), "POST"),
    ] {
        let res = app.send(method, &path, Some(&admin), &[], None).await;
        assert_eq!(res.status, 405, "{method} {path}: {}", res.body);
        assert_eq!(res.problem_code(), "method_not_allowed", "{method} {path}");
        assert_eq!(
            res.header("allow").as_deref(),
            Some(allow),
            "{method} {path}"
        );
    }
    for path in [
        format!("/api/v1/customers/{id}/nothing"),
        "/api/v1/customer".to_string(),
        "/api/v1/orders//install".to_string(),
        "/api/v1/import/other".to_string(),
    ] {
        let res = app.send("GET", &path, Some(&admin), &[], None).await;
        assert_eq!(res.status, 404, "{path}: {}", res.body);
        assert_eq!(res.problem_code(), "route_not_found", "{path}");
    }
}

on_both_backends!(text_with_a_nul_is_refused_not_a_server_error);

async fn text_with_a_nul_is_refused_not_a_server_error(app: TestApp) {
    // PostgreSQL cannot hold U+0000: a login with one in the username answered 500 there.
    let login = app
        .post(
            "/api/v1/auth/login",
            None,
            serde_json::json!({"username": "adm\u{0}in", "password": "demo"}),
        )
        .await;
    assert_eq!(login.status, 401, "{}", login.body);
    let admin = app.login("admin").await;
    let area = app
        .post(
            "/api/v1/areas",
            Some(&admin),
            serde_json::json!({"name": "Bo\u{0}o"}),
        )
        .await;
    assert_eq!(area.status, 422, "{}", area.body);
    assert_eq!(area.body["errors"][0]["code"], "invalid_character");
    for path in [
        "/api/v1/customers?q=K%00",
        "/api/v1/equipment/items?serial=TX%00",
        "/api/v1/audit?action=customer%00",
    ] {
        let res = app.get(path, &admin).await;
        assert_eq!(res.status, 400, "{path}: {}", res.body);
        assert_eq!(res.problem_code(), "invalid_query_parameter", "{path}");
    }
    // A cursor is opaque, but one made up around a NUL is still refused as a cursor.
    let cursor = "YQAfYg"; // base64url of "a\0\x1fb"
    let res = app
        .get(&format!("/api/v1/customers?cursor={cursor}"), &admin)
        .await;
    assert_eq!(res.status, 400, "{}", res.body);
    assert_eq!(res.problem_code(), "invalid_cursor");
}
