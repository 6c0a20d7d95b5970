//! The `larmkoll` binary itself: what a newcomer and an operator run.

use crate::helpers::{free_port, read_banner, Backend, TestDatabase};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_larmkoll");

pub(crate) struct Server(pub(crate) Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `larmkoll serve --demo` on the embedded database in `data_dir`, listening
/// on `port`, its standard output piped for [`read_banner`].
pub(crate) fn serve_demo_command(data_dir: &std::path::Path, port: u16) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--demo"])
        .env("LARMKOLL_LISTEN", format!("127.0.0.1:{port}"))
        .env("LARMKOLL_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    cmd
}

/// Starts `larmkoll serve --demo` and returns it with what it printed up to the
/// "Stop with Ctrl+C." line.
pub(crate) fn serve_demo(
    database_url: Option<&str>,
    data_dir: &std::path::Path,
    port: u16,
) -> (Server, String) {
    let mut cmd = serve_demo_command(data_dir, port);
    if let Some(url) = database_url {
        cmd.env("DATABASE_URL", url);
    }
    let mut child = cmd.spawn().expect("start larmkoll");
    let banner = read_banner(&mut child);
    let server = Server(child);
    match banner {
        Some(lines) => (server, lines.iter().map(|l| format!("{l}\n")).collect()),
        None => panic!("server did not start"),
    }
}

async fn login_works(port: u16) {
    let client = awc::Client::default();
    let base = format!("http://127.0.0.1:{port}");
    let mut health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let body: serde_json::Value = health.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    for user in larmkoll::demo::usernames() {
        let res = client
            .post(format!("{base}/api/v1/auth/login"))
            .send_json(&serde_json::json!({"username": user, "password": "demo"}))
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "demo login {user}");
    }
}

fn check_banner(printed: &str, port: u16, backend: &str) {
    assert!(
        printed.contains(&format!(
            "Larmkoll is running on http://127.0.0.1:{port} ({backend}"
        )),
        "{printed}"
    );
    assert!(
        printed.contains("Demo logins (password: demo)"),
        "{printed}"
    );
    assert!(printed.contains("installator"), "{printed}");
}

#[actix_web::test]
async fn serve_demo_on_the_embedded_default_prints_where_to_open_it() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let (_server, printed) = serve_demo(None, data.path(), port);
    check_banner(&printed, port, "sqlite");
    login_works(port).await;
    assert!(data.path().join("larmkoll.db").exists());
    assert!(data.path().join("jwt-signing.key").exists());
}

#[actix_web::test]
async fn serve_demo_migrates_an_empty_postgres_database() {
    let Some(database) = TestDatabase::create(Backend::Postgres) else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let (_server, printed) = serve_demo(Some(&database.url), data.path(), port);
    check_banner(&printed, port, "postgresql");
    login_works(port).await;
    assert!(
        !data.path().join("larmkoll.db").exists(),
        "no SQLite file when PostgreSQL is configured"
    );
}

#[test]
fn a_mistyped_database_url_is_refused_and_creates_nothing() {
    let data = tempfile::tempdir().unwrap();
    for url in [
        "postgress://postgres@127.0.0.1/x".to_string(),
        format!("sqlite://{}/no-such-dir/x.db", data.path().display()),
    ] {
        let out = Command::new(BIN)
            .arg("migrate")
            .env("LARMKOLL_DATA_DIR", data.path())
            .env("DATABASE_URL", &url)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{url} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("DATABASE_URL") || err.contains("does not exist"),
            "{err}"
        );
    }
    assert_eq!(
        std::fs::read_dir(data.path()).unwrap().count(),
        0,
        "something was created"
    );
}

#[test]
fn help_documents_the_configuration_and_openapi_and_lifecycle_print_their_documents() {
    let help = Command::new(BIN).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    for word in ["serve", "migrate", "openapi", "lifecycle", "create-user"] {
        assert!(text.contains(word), "--help lacks {word}:\n{text}");
    }
    // Every setting, from the declaration the README's table is checked against.
    for row in larmkoll::config::reference() {
        assert!(
            text.contains(row.name),
            "--help lacks {}:\n{text}",
            row.name
        );
    }
    let spec = Command::new(BIN).arg("openapi").output().unwrap();
    assert_eq!(
        String::from_utf8(spec.stdout).unwrap(),
        larmkoll::api::openapi_json()
    );
    let lifecycle = Command::new(BIN).arg("lifecycle").output().unwrap();
    assert_eq!(
        String::from_utf8(lifecycle.stdout).unwrap(),
        larmkoll::api::lifecycle::lifecycle_json()
    );
}

#[test]
fn create_user_then_migrate_on_a_fresh_database() {
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str], password: Option<&str>| {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env("LARMKOLL_DATA_DIR", data.path())
            .env_remove("DATABASE_URL");
        if let Some(p) = password {
            cmd.env("LARMKOLL_NEW_PASSWORD", p);
        }
        cmd.output().unwrap()
    };
    let ok = run(
        &[
            "create-user",
            "--username",
            "sara",
            "--display-name",
            "Sara",
            "--role",
            "admin",
        ],
        Some("ett-langt-losenord"),
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("Created user sara"));
    let weak = run(
        &[
            "create-user",
            "--username",
            "olle",
            "--display-name",
            "Olle",
            "--role",
            "admin",
        ],
        Some("kort"),
    );
    assert!(!weak.status.success());
    let migrate = run(&["migrate"], None);
    assert!(String::from_utf8_lossy(&migrate.stdout).contains("0 migration(s) applied"));
}

#[test]
fn import_keys_reports_row_by_row_and_refuses_a_wrong_sheet() {
    let data = tempfile::tempdir().unwrap();
    let sheet = data.path().join("nycklar.csv");
    std::fs::write(
        &sheet,
        "Nyckelnummer;Kundnummer;Skåp;Krok\nB-1;K-100001;Skåp 1;1\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env("LARMKOLL_DATA_DIR", data.path())
            .env("LARMKOLL_NEW_PASSWORD", "ett-langt-losenord")
            .env_remove("DATABASE_URL")
            .output()
            .unwrap()
    };
    let sheet = sheet.to_str().unwrap();
    let nobody = run(&["import-keys", sheet, "--as", "ingen"]);
    assert!(!nobody.status.success());
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("no active user 'ingen'"));
    assert!(run(&[
        "create-user",
        "--username",
        "kim",
        "--display-name",
        "Kim",
        "--role",
        "coordinator"
    ])
    .status
    .success());
    let out = run(&["import-keys", sheet, "--as", "kim", "--apply"]);
    assert!(!out.status.success(), "a row is wrong, so the import fails");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("row 2") && text.contains("no customer K-100001"),
        "{text}"
    );
}

/// Issue 20, item 6: the database, its journal, the originals and the signing
/// key are personal data. Started under the common umask 022, the server
/// still creates its data directory 0700 and every file 0600.
#[actix_web::test]
async fn files_at_rest_are_the_servers_own_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let work = tempfile::tempdir().unwrap();
    std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let port = free_port();
    let mut child = Command::new("sh")
        .args(["-c", "umask 022 && exec \"$0\" serve --demo", BIN])
        .current_dir(work.path())
        .env("LARMKOLL_LISTEN", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .env_remove("DATABASE_URL")
        .env_remove("LARMKOLL_DATA_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start larmkoll");
    let banner = read_banner(&mut child);
    let _server = Server(child);
    assert!(banner.is_some(), "server did not start");

    // One photo, so there are originals and folders under documents/.
    let base = format!("http://127.0.0.1:{port}");
    let client = awc::Client::default();
    let mut res = client
        .post(format!("{base}/api/v1/auth/login"))
        .send_json(&serde_json::json!({"username": "installator", "password": "demo"}))
        .await
        .unwrap();
    let token: serde_json::Value = res.json().await.unwrap();
    let auth = format!("Bearer {}", token["access_token"].as_str().unwrap());
    let mut res = client
        .get(format!("{base}/api/v1/customers?limit=1"))
        .insert_header(("Authorization", auth.clone()))
        .send()
        .await
        .unwrap();
    let page: serde_json::Value = res.json().await.unwrap();
    let customer = page["items"][0]["id"].as_str().unwrap();
    let photo = crate::helpers::distinct_jpeg(
        include_bytes!("../fixtures/portrait-orientation-6-gps.jpg"),
        "umask",
    );
    let res = client
        .put(format!(
            "{base}/api/v1/documents/{}?kind=key_receipt&customer_id={customer}&signed_by=Kunden&signed_at=2026-01-01",
            uuid::Uuid::new_v4()
        ))
        .insert_header(("Authorization", auth))
        .insert_header(("Content-Type", "image/jpeg"))
        .send_body(photo)
        .await
        .unwrap();
    assert_eq!(res.status(), 201);

    let data = work.path().join("data");
    let mut seen = Vec::new();
    let mut stack = vec![data.clone()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        let name = path
            .strip_prefix(work.path())
            .unwrap()
            .display()
            .to_string();
        if meta.is_dir() {
            assert_eq!(mode, 0o700, "{name} is {mode:o}");
            for entry in std::fs::read_dir(&path).unwrap() {
                stack.push(entry.unwrap().path());
            }
        } else {
            assert_eq!(mode, 0o600, "{name} is {mode:o}");
        }
        seen.push(name);
    }
    for expected in [
        "larmkoll.db",
        "larmkoll.db-wal",
        "jwt-signing.key",
        "documents",
    ] {
        assert!(
            seen.iter().any(|s| s == &format!("data/{expected}")),
            "data/{expected} not found among {seen:?}"
        );
    }
    let originals = seen.iter().filter(|s| s.contains("original")).count();
    assert!(originals >= 1, "no original among {seen:?}");
}

/// `LARMKOLL_LOG_FORMAT=json`: every line one JSON object, a request's line
/// with its route template, status, request id and user id, and no line with
/// the personal data the request read.
#[actix_web::test]
async fn json_logs_are_one_object_per_line_without_personal_data() {
    use std::io::BufRead;
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = serve_demo_command(data.path(), port)
        .env("LARMKOLL_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .expect("start larmkoll");
    let stderr = child.stderr.take().unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let collected = lines.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            collected.lock().unwrap().push(line);
        }
    });
    assert!(read_banner(&mut child).is_some(), "server did not start");
    let server = Server(child);

    let client = awc::Client::default();
    let base = format!("http://127.0.0.1:{port}");
    let mut login = client
        .post(format!("{base}/api/v1/auth/login"))
        .send_json(&serde_json::json!({"username": "admin", "password": "demo"}))
        .await
        .unwrap();
    let login: serde_json::Value = login.json().await.unwrap();
    let (token, admin_id) = (
        login["access_token"].as_str().unwrap().to_string(),
        login["user"]["id"].as_str().unwrap().to_string(),
    );
    let mut page = client
        .get(format!("{base}/api/v1/customers?limit=1"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let page: serde_json::Value = page.json().await.unwrap();
    let customer = page["items"][0].clone();
    let mut read = client
        .get(format!(
            "{base}/api/v1/customers/{}",
            customer["id"].as_str().unwrap()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let request_id = read
        .headers()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let _ = read.body().await;

    // The line for that request, once the server has written it.
    let mut found = None;
    for _ in 0..50 {
        found = lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|l| l["span"]["request_id"] == request_id.as_str() && l["status"].is_number());
        if found.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    drop(server);
    let line = found.expect("a log line for the request");
    assert_eq!(line["span"]["route"], "/api/v1/customers/{id}", "{line}");
    assert_eq!(line["span"]["method"], "GET", "{line}");
    assert_eq!(line["span"]["user_id"], admin_id.as_str(), "{line}");
    assert_eq!(line["status"], 200, "{line}");
    assert!(
        line["timestamp"].is_string() && line["level"] == "INFO",
        "{line}"
    );

    let all = lines.lock().unwrap().clone();
    assert!(all.len() > 3, "{all:?}");
    for l in &all {
        assert!(
            serde_json::from_str::<serde_json::Value>(l).is_ok(),
            "not one JSON object: {l}"
        );
        for personal in [
            customer["first_name"].as_str().unwrap(),
            customer["last_name"].as_str().unwrap(),
            customer["address"]["street"].as_str().unwrap(),
            customer["personnummer"].as_str().unwrap(),
        ] {
            assert!(!l.contains(personal), "{personal:?} in the log: {l}");
        }
    }
}

/// SIGTERM while a photo is being uploaded: the server takes no new
/// connection, the upload still completes (201), the process exits 0 within
/// the grace period, and the storage check finds nothing half-written.
#[actix_web::test]
async fn sigterm_lets_an_upload_in_flight_finish_and_exits_0() {
    use std::io::{Read, Write};
    const PHOTO: &[u8] = include_bytes!("../fixtures/portrait-orientation-6-gps.jpg");
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = serve_demo_command(data.path(), port)
        .env("LARMKOLL_SHUTDOWN_GRACE_SECONDS", "20")
        .spawn()
        .expect("start larmkoll");
    assert!(read_banner(&mut child).is_some(), "server did not start");
    let pid = child.id().to_string();

    let client = awc::Client::default();
    let base = format!("http://127.0.0.1:{port}");
    let mut login = client
        .post(format!("{base}/api/v1/auth/login"))
        .send_json(&serde_json::json!({"username": "installator", "password": "demo"}))
        .await
        .unwrap();
    let token = login.json::<serde_json::Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let mut page = client
        .get(format!("{base}/api/v1/customers?limit=1"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let customer = page.json::<serde_json::Value>().await.unwrap()["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    fn files(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .map(|e| {
                        if e.path().is_dir() {
                            files(&e.path())
                        } else {
                            1
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    let demo_files = files(&data.path().join("documents"));

    // Half the photo, then the signal, then the rest.
    let id = uuid::Uuid::new_v4();
    let today = chrono::Utc::now().date_naive();
    let head = format!(
        "PUT /api/v1/documents/{id}?kind=responsibility_agreement&customer_id={customer}&signed_by=Kunden&signed_at={today} HTTP/1.1\r\n\
         Host: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: image/jpeg\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        PHOTO.len()
    );
    let mut upload = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    upload.write_all(head.as_bytes()).unwrap();
    upload.write_all(&PHOTO[..PHOTO.len() / 2]).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "a new connection is refused while stopping"
    );
    upload.write_all(&PHOTO[PHOTO.len() / 2..]).unwrap();
    let mut answer = String::new();
    upload.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");

    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "still running after the grace period"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0), "exits 0 after a graceful stop");

    let check = Command::new(BIN)
        .arg("check-documents")
        .env("LARMKOLL_DATA_DIR", data.path())
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "nothing half-written: {}",
        String::from_utf8_lossy(&check.stdout)
    );
    // The original, its display copy and thumbnail, each with its row (no
    // orphans above), besides the living demo's photographed papers.
    assert_eq!(files(&data.path().join("documents")), demo_files + 3);
}
