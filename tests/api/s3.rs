//! Documents in an S3-compatible bucket: the real server binary configured
//! with `LARMKOLL_DOCUMENT_STORE=s3://…` against an S3 server on loopback
//! (moto's, from `tests/tools/requirements.txt`), read back both through the
//! API and straight from the bucket, and checked by `check-documents`.

use crate::helpers::{free_port, read_banner, tool, Backend, TestDatabase};
use futures_util::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_larmkoll");
const PORTRAIT: &[u8] = include_bytes!("../fixtures/portrait-orientation-6-gps.jpg");
const BUCKET: &str = "larmkoll-documents";
const PREFIX: &str = "nacka";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An S3 server of our own on a free loopback port, with an empty bucket.
async fn s3_server() -> Option<(Killed, String)> {
    let moto = tool("moto_server")?;
    let port = free_port();
    let child = Command::new(moto)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto_server");
    let guard = Killed(child);
    let endpoint = format!("http://127.0.0.1:{port}");
    let client = awc::Client::default();
    for _ in 0..100 {
        if let Ok(res) = client.put(format!("{endpoint}/{BUCKET}")).send().await {
            assert!(res.status().is_success(), "create bucket: {}", res.status());
            return Some((guard, endpoint));
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("moto_server did not answer on {endpoint}");
}

fn larmkoll(data: &std::path::Path, database: Option<&str>, store: &str, s3: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env("LARMKOLL_DATA_DIR", data)
        .env("LARMKOLL_DOCUMENT_STORE", store)
        .env("LARMKOLL_S3_ENDPOINT", s3)
        .env("LARMKOLL_S3_REGION", "eu-north-1")
        .env("AWS_ACCESS_KEY_ID", "larmkoll-test")
        .env("AWS_SECRET_ACCESS_KEY", "larmkoll-test-secret")
        .env("RUST_LOG", "warn")
        .env_remove("DATABASE_URL");
    if let Some(url) = database {
        cmd.env("DATABASE_URL", url);
    }
    cmd
}

fn serve(mut cmd: Command, port: u16) -> (Killed, Vec<String>) {
    cmd.args(["serve", "--demo"])
        .env("LARMKOLL_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let banner = read_banner(&mut child).expect("the server did not start");
    (Killed(child), banner)
}

/// A client of our own on the same bucket, to look past the server.
fn bucket(endpoint: &str) -> object_store::aws::AmazonS3 {
    object_store::aws::AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .with_region("eu-north-1")
        .with_bucket_name(BUCKET)
        .with_access_key_id("larmkoll-test")
        .with_secret_access_key("larmkoll-test-secret")
        .build()
        .unwrap()
}

/// The bucket's keys under our prefix, asked of the S3 server directly.
async fn bucket_keys(endpoint: &str) -> Vec<String> {
    let prefix = ObjectPath::from(PREFIX);
    let mut keys: Vec<String> = bucket(endpoint)
        .list(Some(&prefix))
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
        .unwrap();
    keys.sort();
    keys
}

async fn object(endpoint: &str, key: &str) -> Vec<u8> {
    let got = bucket(endpoint).get(&ObjectPath::from(key)).await.unwrap();
    got.bytes().await.unwrap().to_vec()
}

/// The portrait photo uploaded as a JPEG to a document URL: status and body.
async fn put_portrait(
    client: &awc::Client,
    url: &str,
    bearer: &(&str, String),
) -> (u16, serde_json::Value) {
    let mut res = client
        .put(url)
        .insert_header(bearer.clone())
        .insert_header(("Content-Type", "image/jpeg"))
        .send_body(PORTRAIT)
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

fn check_documents(cmd: Command) -> (bool, serde_json::Value) {
    let mut cmd = cmd;
    let out = cmd.arg("check-documents").output().unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "check-documents printed no report: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), report)
}

async fn documents_in_an_s3_bucket(backend: Backend) {
    let Some(database) = TestDatabase::migrated(backend) else {
        return;
    };
    let Some((s3_server, endpoint)) = s3_server().await else {
        return;
    };
    let url = (backend == Backend::Postgres).then_some(database.url.as_str());
    let data = tempfile::tempdir().unwrap();
    let store = format!("s3://{BUCKET}/{PREFIX}");
    let cmd = || larmkoll(data.path(), url, &store, &endpoint);
    let port = free_port();
    let (server, banner) = serve(cmd(), port);
    assert!(
        banner
            .iter()
            .any(|l| l.trim() == format!("Documents:  {store}")),
        "{banner:?}"
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();

    let mut login = client
        .post(format!("{base}/api/v1/auth/login"))
        .send_json(&serde_json::json!({"username": "installator", "password": "demo"}))
        .await
        .unwrap();
    let token = login.json::<serde_json::Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let bearer = ("Authorization", format!("Bearer {token}"));
    let mut page = client
        .get(format!("{base}/api/v1/customers?limit=1"))
        .insert_header(bearer.clone())
        .send()
        .await
        .unwrap();
    let customer = page.json::<serde_json::Value>().await.unwrap()["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // The living demo's photographed papers are there already.
    let demo_keys = bucket_keys(&endpoint).await;
    assert!(
        demo_keys.iter().all(|k| k.starts_with(PREFIX)),
        "{demo_keys:?}"
    );
    let added = || async {
        let mut keys = bucket_keys(&endpoint).await;
        keys.retain(|k| !demo_keys.contains(k));
        keys
    };

    // Upload through the API: the files land in the bucket under the prefix.
    let id = uuid::Uuid::new_v4().to_string();
    let upload = format!(
        "{base}/api/v1/documents/{id}?kind=key_receipt&customer_id={customer}&signed_by=Kunden&signed_at=2026-11-30"
    );
    let (status, doc) = put_portrait(&client, &upload, &bearer).await;
    assert_eq!(status, 201);
    let sha = doc["sha256"].as_str().unwrap().to_string();
    assert_eq!(sha, larmkoll::media::sha256_hex(PORTRAIT));
    let expected_keys = vec![
        format!("{PREFIX}/display/{sha}.jpg"),
        format!("{PREFIX}/originals/{sha}"),
        format!("{PREFIX}/thumbs/{sha}.jpg"),
    ];
    assert_eq!(added().await, expected_keys);
    let original = object(&endpoint, &expected_keys[1]).await;
    assert!(
        original == PORTRAIT,
        "the bucket holds the original byte for byte"
    );
    assert!(
        !data.path().join("documents").exists(),
        "nothing is written to the data directory"
    );

    // A resend of the same photo is answered from the bucket, not stored twice.
    let (status, _) = put_portrait(&client, &upload, &bearer).await;
    assert_eq!(status, 200);
    assert_eq!(added().await.len(), 3);

    // Served back from the bucket: the original byte for byte, the display copy upright.
    let mut res = client
        .get(format!("{base}/api/v1/documents/{id}/original"))
        .insert_header(bearer.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()
            .get("x-content-sha256")
            .unwrap()
            .to_str()
            .unwrap(),
        sha
    );
    assert!(res.body().limit(1 << 25).await.unwrap().as_ref() == PORTRAIT);
    let mut res = client
        .get(format!("{base}/api/v1/documents/{id}/display"))
        .insert_header(bearer.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let display = image::load_from_memory(&res.body().limit(1 << 25).await.unwrap()).unwrap();
    let stored_display = object(&endpoint, &expected_keys[0]).await;
    assert_eq!(
        image::load_from_memory(&stored_display).unwrap().height(),
        display.height()
    );
    assert!(
        display.height() > display.width(),
        "portrait comes out upright"
    );
    drop(server);

    // The storage check reads the bucket: agreed, then an orphan, then a missing file.
    let (ok, report) = check_documents(cmd());
    assert!(ok, "{report}");
    assert_eq!(report["orphan_files"], serde_json::json!([]));
    let stray = format!("{}{}", "0".repeat(32), "f".repeat(32));
    let s3 = bucket(&endpoint);
    s3.put(
        &ObjectPath::from(format!("{PREFIX}/originals/{stray}")),
        "left by an interrupted upload".into(),
    )
    .await
    .unwrap();
    s3.delete(&ObjectPath::from(expected_keys[2].as_str()))
        .await
        .unwrap();
    let (ok, report) = check_documents(cmd());
    assert!(!ok, "a record without its thumbnail fails the check");
    assert_eq!(
        report["orphan_files"],
        serde_json::json!([format!("originals/{stray}")])
    );
    assert_eq!(
        report["missing_files"],
        serde_json::json!([format!("thumbs/{sha}.jpg")])
    );

    // A bucket that does not exist stops the server at start-up, saying which.
    let out = larmkoll(data.path(), url, "s3://no-such-bucket", &endpoint)
        .args(["serve", "--demo"])
        .env("LARMKOLL_LISTEN", format!("127.0.0.1:{}", free_port()))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("s3://no-such-bucket"), "{stderr}");
    assert!(!stderr.contains("larmkoll-test-secret"), "{stderr}");

    // The bucket goes away under a running server: the upload is refused with a
    // 503 the phone retries, and no record without its files is left.
    let port = free_port();
    let (_server, _) = serve(cmd(), port);
    let base = format!("http://127.0.0.1:{port}");
    drop(s3_server);
    let later = uuid::Uuid::new_v4().to_string();
    let upload_later = format!(
        "{base}/api/v1/documents/{later}?kind=key_receipt&customer_id={customer}&signed_by=Kunden&signed_at=2026-11-30"
    );
    let (status, problem) = put_portrait(&client, &upload_later, &bearer).await;
    assert_eq!(status, 503);
    assert_eq!(problem["code"], "storage_unavailable", "{problem}");
    let res = client
        .get(format!("{base}/api/v1/documents/{later}"))
        .insert_header(bearer.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[actix_web::test]
async fn documents_in_an_s3_bucket_on_sqlite() {
    documents_in_an_s3_bucket(Backend::Sqlite).await;
}

#[actix_web::test]
async fn documents_in_an_s3_bucket_on_postgres() {
    documents_in_an_s3_bucket(Backend::Postgres).await;
}
