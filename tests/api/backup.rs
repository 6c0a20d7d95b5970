//! `larmkoll backup`, `verify-backup` and `restore`: a copy taken while the
//! server writes, put back into a fresh data directory and served again.

use crate::cli::{serve_demo_command, Server};
use crate::helpers::{distinct_jpeg, free_port, read_banner, Backend, TestApp, TestDatabase};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_larmkoll");
const PHOTO: &[u8] = include_bytes!("../fixtures/portrait-orientation-6-gps.jpg");

fn larmkoll(args: &[&str], data_dir: &Path, database_url: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("LARMKOLL_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn")
        .env_remove("DATABASE_URL");
    if let Some(url) = database_url {
        cmd.env("DATABASE_URL", url);
    }
    cmd.output().expect("larmkoll runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

async fn upload(app: &TestApp, token: &str, customer: &str, n: usize) -> Option<(String, Vec<u8>)> {
    let id = uuid::Uuid::new_v4().to_string();
    let photo = distinct_jpeg(PHOTO, &format!("backup-{n}-{id}"));
    let path = format!(
        "/api/v1/documents/{id}?kind=key_receipt&customer_id={customer}&signed_by=Kunden&signed_at={}",
        chrono::Utc::now().date_naive()
    );
    let res = app
        .send(
            "PUT",
            &path,
            Some(token),
            &[("Content-Type", "image/jpeg")],
            Some(photo.clone()),
        )
        .await;
    (res.status == 201).then_some((id, photo))
}

#[actix_web::test]
async fn a_backup_taken_while_the_server_writes_restores_whole_and_a_tampered_one_is_refused() {
    let app = TestApp::start(Backend::Sqlite).await.expect("app");
    let admin = app.login("admin").await;
    let installer = app.login("installator").await;
    let customer = app.get("/api/v1/customers?limit=1", &installer).await.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Acknowledged before the backup begins: all of it must come back.
    let mut areas = Vec::new();
    for n in 0..5 {
        let name = format!("Före backup {n}");
        let res = app
            .post("/api/v1/areas", Some(&admin), json!({ "name": name }))
            .await;
        assert_eq!(res.status, 201, "{}", res.body);
        areas.push(name);
    }
    let mut photos = Vec::new();
    for n in 0..2 {
        photos.push(
            upload(&app, &installer, &customer, n)
                .await
                .expect("uploaded"),
        );
    }

    // Writes and uploads go on while the backup runs.
    let backups = tempfile::tempdir().unwrap();
    let dir = backups.path().join("backup");
    let (data_dir, url) = (app.data_dir().to_path_buf(), app.database_url().to_string());
    let out_dir = dir.clone();
    let run = actix_web::web::block(move || {
        larmkoll(
            &["backup", out_dir.to_str().unwrap()],
            &data_dir,
            Some(&url),
        )
    });
    let writes = async {
        let mut written = 0;
        for n in 100..106 {
            let res = app
                .post(
                    "/api/v1/areas",
                    Some(&admin),
                    json!({ "name": format!("Under backup {n}") }),
                )
                .await;
            written += usize::from(res.status == 201);
            written += usize::from(upload(&app, &installer, &customer, n).await.is_some());
        }
        written
    };
    let (out, written) = futures_util::join!(run, writes);
    let out = out.unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(written > 0, "writes went on during the backup");
    assert!(text(&out).contains("Backed up into"), "{}", text(&out));

    let verified = larmkoll(
        &["verify-backup", dir.to_str().unwrap()],
        backups.path(),
        None,
    );
    assert!(verified.status.success(), "{}", text(&verified));
    let verdict: Value = serde_json::from_slice(&verified.stdout).unwrap();
    assert_eq!(verdict["problems"], json!([]));
    assert!(
        verdict["files_checked"].as_u64().unwrap() >= 2 + 3 * 2,
        "{verdict}"
    );

    // Restored into a fresh data directory and served.
    let fresh = tempfile::tempdir().unwrap();
    let restored = larmkoll(&["restore", dir.to_str().unwrap()], fresh.path(), None);
    assert!(restored.status.success(), "{}", text(&restored));
    let port = free_port();
    let mut child = serve_demo_command(fresh.path(), port).spawn().unwrap();
    assert!(
        read_banner(&mut child).is_some(),
        "the restored system starts"
    );
    let _server = Server(child);
    let base = format!("http://127.0.0.1:{port}");
    let client = awc::Client::default();
    let login = |username: &'static str| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let mut res = client
                .post(format!("{base}/api/v1/auth/login"))
                .send_json(&json!({"username": username, "password": "demo"}))
                .await
                .unwrap();
            res.json::<Value>().await.unwrap()["access_token"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let admin = login("admin").await;
    let mut res = client
        .get(format!("{base}/api/v1/areas"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let listed: Value = res.json().await.unwrap();
    for name in &areas {
        assert!(
            listed
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["name"] == name.as_str()),
            "{name} came back: {listed}"
        );
    }
    let installer = login("installator").await;
    for (id, bytes) in &photos {
        let mut res = client
            .get(format!("{base}/api/v1/documents/{id}/original"))
            .bearer_auth(&installer)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "document {id}");
        let body = res.body().limit(1 << 24).await.unwrap();
        assert_eq!(
            Sha256::digest(&body),
            Sha256::digest(bytes),
            "document {id} whole"
        );
    }

    // One byte of one document changed: verify-backup says which, restore refuses.
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let victim = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .find(|p| p.starts_with("documents/originals/"))
        .unwrap();
    let mut bytes = std::fs::read(dir.join(&victim)).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(dir.join(&victim), bytes).unwrap();
    let verified = larmkoll(
        &["verify-backup", dir.to_str().unwrap()],
        backups.path(),
        None,
    );
    assert_eq!(verified.status.code(), Some(1), "{}", text(&verified));
    assert!(text(&verified).contains(&victim), "{}", text(&verified));
    let elsewhere = tempfile::tempdir().unwrap();
    let refused = larmkoll(&["restore", dir.to_str().unwrap()], elsewhere.path(), None);
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(text(&refused).contains("not whole"), "{}", text(&refused));
    assert_eq!(
        std::fs::read_dir(elsewhere.path()).unwrap().count(),
        0,
        "nothing restored from a tampered backup"
    );
}

#[test]
fn backup_on_postgres_names_the_tool_to_use_and_copies_nothing() {
    let Some(database) = TestDatabase::create(Backend::Postgres) else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let target = tempfile::tempdir().unwrap();
    let dir = target.path().join("backup");
    let out = larmkoll(
        &["backup", dir.to_str().unwrap()],
        data.path(),
        Some(&database.url),
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("pg_dump"), "{}", text(&out));
    assert!(!dir.exists(), "nothing copied");
}
