//! The server killed (SIGKILL) in the middle of photo uploads: after a restart
//! every document is complete or absent, and the start-up check agrees.

use crate::helpers::{read_banner, Backend, TestDatabase};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_larmkoll");
const PORTRAIT: &[u8] = include_bytes!("../fixtures/portrait-orientation-6-gps.jpg");

fn start(data: &std::path::Path, database_url: Option<&str>, port: u16) -> Child {
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--demo"])
        .env("LARMKOLL_LISTEN", format!("127.0.0.1:{port}"))
        .env("LARMKOLL_DATA_DIR", data)
        .env("RUST_LOG", "warn")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
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

/// A distinct, valid JPEG per upload.
fn photo(n: usize) -> Vec<u8> {
    crate::helpers::distinct_jpeg(PORTRAIT, &format!("upload {n}"))
}

async fn login(base: &str) -> String {
    let mut res = awc::Client::default()
        .post(format!("{base}/api/v1/auth/login"))
        .send_json(&serde_json::json!({"username": "installator", "password": "demo"}))
        .await
        .unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

async fn kill_during_uploads(backend: Backend) {
    let Some(database) = TestDatabase::migrated(backend) else {
        return;
    };
    let url = (backend == Backend::Postgres).then_some(database.url.clone());
    let data = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut attempted: Vec<(String, Vec<u8>)> = Vec::new();
    let mut seed: u64 = 0x000c_4a54;
    for round in 0..6 {
        let mut server = start(data.path(), url.as_deref(), port);
        let token = login(&base).await;
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(10))
            .finish();
        let mut customers = client
            .get(format!("{base}/api/v1/customers?limit=1"))
            .insert_header(("Authorization", format!("Bearer {token}")))
            .send()
            .await
            .unwrap();
        let page: serde_json::Value = customers.json().await.unwrap();
        let customer = page["items"][0]["id"].as_str().unwrap().to_string();
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        // Counted from the first upload answered, so a busy machine still gets
        // some uploads done and some cut off.
        let kill_after = Duration::from_millis((seed >> 33) % 1200);
        let uploads = (0..12).map(|i| {
            let n = round * 100 + i;
            let id = uuid::Uuid::new_v4().to_string();
            let bytes = photo(n);
            attempted.push((id.clone(), bytes.clone()));
            let (client, base, token, customer) = (client.clone(), base.clone(), token.clone(), customer.clone());
            async move {
                let _ = client
                    .put(format!("{base}/api/v1/documents/{id}?kind=key_receipt&customer_id={customer}&signed_by=Kunden&signed_at=2026-01-01"))
                    .insert_header(("Authorization", format!("Bearer {token}")))
                    .insert_header(("Content-Type", "image/jpeg"))
                    .send_body(bytes)
                    .await;
            }
        });
        let mut all: futures_util::stream::FuturesUnordered<_> = uploads.collect();
        let _ = futures_util::StreamExt::next(&mut all).await;
        let rest = futures_util::StreamExt::count(all);
        let _ = actix_web::rt::time::timeout(kill_after, rest).await;
        server.kill().unwrap(); // SIGKILL
        server.wait().unwrap();
    }

    // After the last crash: every document is whole or absent.
    let mut server = start(data.path(), url.as_deref(), port);
    let token = login(&base).await;
    let client = awc::Client::default();
    let (mut complete, mut absent) = (0, 0);
    for (id, bytes) in &attempted {
        let mut res = client
            .get(format!("{base}/api/v1/documents/{id}/original"))
            .insert_header(("Authorization", format!("Bearer {token}")))
            .send()
            .await
            .unwrap();
        match res.status().as_u16() {
            404 => absent += 1,
            200 => {
                assert_eq!(
                    res.body().limit(1 << 24).await.unwrap().as_ref(),
                    bytes.as_slice(),
                    "document {id} is not whole"
                );
                for variant in ["display", "thumbnail"] {
                    let mut v = client
                        .get(format!("{base}/api/v1/documents/{id}/{variant}"))
                        .insert_header(("Authorization", format!("Bearer {token}")))
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(v.status(), 200, "{id} {variant}");
                    image::load_from_memory(&v.body().limit(1 << 24).await.unwrap())
                        .expect("a whole image");
                }
                complete += 1;
            }
            other => panic!("document {id}: {other}"),
        }
    }
    server.kill().unwrap();
    server.wait().unwrap();
    eprintln!(
        "crash test ({backend:?}): {complete} complete, {absent} absent of {}",
        attempted.len()
    );
    assert!(
        complete > 0,
        "no upload finished before the kills; the test proves nothing"
    );
    assert!(
        absent > 0,
        "no upload was interrupted; the test proves nothing"
    );

    // The start-up check agrees: no record lacks its files.
    let mut check = Command::new(BIN);
    check
        .arg("check-documents")
        .env("LARMKOLL_DATA_DIR", data.path())
        .env_remove("DATABASE_URL");
    if let Some(u) = &url {
        check.env("DATABASE_URL", u);
    }
    let out = check.output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["missing_files"], serde_json::json!([]));
    // Interrupted uploads may leave files without a record (exit 2), never
    // records without files (exit 1).
    let orphans = !report["orphan_files"].as_array().unwrap().is_empty();
    assert_eq!(
        out.status.code(),
        Some(if orphans { 2 } else { 0 }),
        "{report}"
    );
    // No temporary file is visible under a real name.
    for dir in ["originals", "display", "thumbs"] {
        if let Ok(entries) = std::fs::read_dir(data.path().join("documents").join(dir)) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if !name.starts_with(".tmp-") {
                    let bytes = std::fs::read(e.path()).unwrap();
                    if dir != "originals" {
                        image::load_from_memory(&bytes)
                            .unwrap_or_else(|_| panic!("{dir}/{name} is not whole"));
                    }
                }
            }
        }
    }
}

#[actix_web::test]
async fn sigkill_during_uploads_leaves_documents_whole_or_absent_on_sqlite() {
    kill_during_uploads(Backend::Sqlite).await;
}

#[actix_web::test]
async fn sigkill_during_uploads_leaves_documents_whole_or_absent_on_postgres() {
    kill_during_uploads(Backend::Postgres).await;
}
