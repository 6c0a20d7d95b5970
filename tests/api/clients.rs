//! Clients generated from the committed spec, as an integrator starts on day
//! one: TypeScript types from openapi-typescript called through openapi-fetch
//! (type-checked by tsc, strict), and a Python package from
//! openapi-python-client, imported as generated. Each walks the install
//! routine (`tests/clients/`) against the real binary, `larmkoll serve --demo`,
//! on a fresh database; the test then checks through the API that it happened.

use crate::helpers::{read_banner, tool, Backend, TestDatabase};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_larmkoll");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const PHOTO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/nyckelkvittens.png"
);

/// The generated clients, made once per test run for both backends.
struct Generated {
    node: PathBuf,
    walk_js: PathBuf,
    python: PathBuf,
    python_project: PathBuf,
}

fn run(what: &str, cmd: &mut Command) -> Output {
    let started = Instant::now();
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    eprintln!("{what}: {:.1} s", started.elapsed().as_secs_f64());
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn generate() -> Option<Generated> {
    let node = tool("node")?;
    let openapi_typescript = tool("openapi-typescript")?;
    let python_generator = tool("openapi-python-client")?;
    let spec = Path::new(ROOT).join("openapi/openapi.json");
    let clients = Path::new(ROOT).join("tests/clients");
    // tsc from the same `npm ci --prefix tests/clients` as the generator.
    let node_modules = openapi_typescript.parent()?.parent()?.to_path_buf();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("generated-clients");
    let _ = std::fs::remove_dir_all(&dir);
    let ts = dir.join("typescript");
    std::fs::create_dir_all(&ts).unwrap();
    for file in ["install-walk.ts", "tsconfig.json", "package.json"] {
        std::fs::copy(clients.join(file), ts.join(file)).unwrap();
    }
    std::os::unix::fs::symlink(&node_modules, ts.join("node_modules")).unwrap();

    run(
        "openapi-typescript",
        Command::new(&openapi_typescript)
            .arg(&spec)
            .arg("-o")
            .arg(ts.join("schema.d.ts")),
    );
    // A type error, or an @ts-expect-error the types no longer earn, fails here.
    run(
        "tsc (strict)",
        Command::new(node_modules.join(".bin/tsc"))
            .args(["-p".as_ref(), ts.join("tsconfig.json").as_os_str()]),
    );

    let python_project = dir.join("python");
    let out = run(
        "openapi-python-client generate",
        Command::new(&python_generator)
            .arg("generate")
            .arg("--path")
            .arg(&spec)
            .arg("--output-path")
            .arg(&python_project),
    );
    let log =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    // The generator leaves out what it cannot express; every operation must be there.
    let skipped: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("will not be generated"))
        .collect();
    assert!(
        skipped.is_empty(),
        "openapi-python-client left out: {skipped:#?}"
    );
    let python = python_generator.with_file_name("python3");
    Some(Generated {
        node,
        walk_js: ts.join("out/install-walk.js"),
        python: if python.is_file() {
            python
        } else {
            "python3".into()
        },
        python_project,
    })
}

fn generated() -> Option<&'static Generated> {
    static GENERATED: OnceLock<Option<Generated>> = OnceLock::new();
    GENERATED.get_or_init(generate).as_ref()
}

struct Server {
    child: Child,
    base: String,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(database: &TestDatabase, backend: Backend) -> Server {
    let data = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--demo"])
        .env("LARMKOLL_LISTEN", format!("127.0.0.1:{port}"))
        .env("LARMKOLL_DATA_DIR", data.path())
        // The walks' own refusals (412, 409) are warnings; errors still show.
        .env("RUST_LOG", "error")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if backend == Backend::Postgres {
        cmd.env("DATABASE_URL", &database.url);
    }
    let mut child = cmd.spawn().unwrap();
    assert!(
        read_banner(&mut child).is_some(),
        "the server did not start"
    );
    Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        _data: data,
    }
}

/// Runs one walk and returns the JSON line it prints.
fn walk(what: &str, cmd: &mut Command) -> Value {
    let out = run(what, cmd);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{what} printed {stdout:?}: {e}"))
}

async fn get(base: &str, token: &str, path: &str) -> Value {
    let mut res = awc::Client::default()
        .get(format!("{base}{path}"))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "GET {path}");
    res.json().await.unwrap()
}

async fn login(base: &str, username: &str) -> String {
    let mut res = awc::Client::default()
        .post(format!("{base}/api/v1/auth/login"))
        .send_json(&serde_json::json!({"username": username, "password": "demo"}))
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

/// What the walk says it did, checked through the API on its own.
async fn confirm(base: &str, report: &Value) {
    let s = |k: &str| {
        report[k]
            .as_str()
            .unwrap_or_else(|| panic!("{k} in {report}"))
    };
    assert_eq!(report["customer_created"], true, "{report}");
    assert_eq!(report["state"], "executed", "{report}");
    assert_eq!(
        report["history"],
        serde_json::json!(["book", "receive_keys", "install", "execute"]),
        "{report}"
    );
    assert_eq!(
        report["problems"],
        serde_json::json!(["stale_version", "invalid_transition"])
    );
    let coordinator = login(base, "koordinator").await;
    let order = get(
        base,
        &coordinator,
        &format!("/api/v1/orders/{}", s("order_id")),
    )
    .await;
    assert_eq!(order["order"]["state"], "executed");
    assert_eq!(order["order"]["customer_id"], s("customer_id"));
    assert_eq!(
        order["history"].as_array().unwrap().len(),
        4,
        "executed once: {order}"
    );
    let executions = get(
        base,
        &coordinator,
        &format!("/api/v1/customers/{}/executions", s("customer_id")),
    )
    .await;
    assert_eq!(executions.as_array().unwrap().len(), 1, "{executions}");
    assert_eq!(
        executions[0]["start_date"],
        order["order"]["installation_date"]
    );
    let document = get(
        base,
        &coordinator,
        &format!("/api/v1/documents/{}", s("document_id")),
    )
    .await;
    assert_eq!(document["order_id"], s("order_id"));
    assert_eq!(document["content_type"], "image/png");
    let keys = get(
        base,
        &coordinator,
        &format!("/api/v1/customers/{}/keys", s("customer_id")),
    )
    .await;
    // The register keeps key numbers in their canonical form, upper case.
    let key_number = s("key_number").to_uppercase();
    assert!(
        keys.to_string().contains(&key_number),
        "key {key_number} not in the register: {keys}"
    );
    for serial in report["serials"].as_array().unwrap() {
        let items = get(
            base,
            &coordinator,
            &format!(
                "/api/v1/equipment/items?serial={}",
                serial.as_str().unwrap()
            ),
        )
        .await;
        assert_eq!(items[0]["state"], "at_customer", "{serial}: {items}");
        assert_eq!(items[0]["customer_id"], s("customer_id"));
    }
}

async fn walk_install_routine_with_generated_clients(backend: Backend) {
    let Some(database) = TestDatabase::migrated(backend) else {
        return;
    };
    let Some(clients) = generated() else {
        return;
    };
    let server = serve(&database, backend);
    // One after the other: both take the first alarm and button in stock.
    let typescript = walk(
        &format!("TypeScript walk ({backend:?})"),
        Command::new(&clients.node).arg(&clients.walk_js).args([
            &server.base,
            PHOTO,
            "19500505-9802",
        ]),
    );
    assert_eq!(typescript["walk"], "typescript");
    confirm(&server.base, &typescript).await;
    let python = walk(
        &format!("Python walk ({backend:?})"),
        Command::new(&clients.python)
            .arg(Path::new(ROOT).join("tests/clients/install_walk.py"))
            .args([&server.base, PHOTO, "19510606-9817"])
            .arg(&clients.python_project)
            .env("PYTHONDONTWRITEBYTECODE", "1"),
    );
    assert_eq!(python["walk"], "python");
    confirm(&server.base, &python).await;
    assert_ne!(typescript["serials"], python["serials"]);
}

#[actix_web::test]
async fn generated_typescript_and_python_clients_walk_the_install_routine_on_sqlite() {
    walk_install_routine_with_generated_clients(Backend::Sqlite).await;
}

#[actix_web::test]
async fn generated_typescript_and_python_clients_walk_the_install_routine_on_postgres() {
    walk_install_routine_with_generated_clients(Backend::Postgres).await;
}
