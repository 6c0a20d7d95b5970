//! Faults. The real server (`larmkoll serve --demo`, a separate process) is
//! SIGKILLed at random moments while a phone's outbox replays about a thousand
//! queued actions — contacts, order transitions and key moves with `If-Match`,
//! photos by their document id — on SQLite and on PostgreSQL; after every
//! restart nothing acknowledged is missing, nothing is there twice and every
//! document is whole. And PostgreSQL itself (a private cluster) is stopped
//! under load and started again: `/readyz` says so meanwhile, calls fail with a
//! clean 503, and the server recovers by itself.
//!
//! `FAULT_KILLS` kills per database (default 3; the README's long run uses 20),
//! `FAULT_SEED` repeats a run (the seed is printed), `FAULT_ORDERS` sets the
//! queue's length (50 actions per order; default 20, so 1,000 actions).

use crate::helpers::{distinct_jpeg, free_port, read_banner, Backend, TestDatabase};
use awc::http::header::HeaderMap;
use diesel::prelude::*;
use futures_util::future::{select, Either};
use larmkoll::db::{schema, DatabaseTarget, Db};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_larmkoll");
const RECEIPT_PHOTO: &[u8] = include_bytes!("../fixtures/nyckelkvittens-photo.jpg");
const AGREEMENT_PHOTO: &[u8] = include_bytes!("../fixtures/portrait-orientation-6-gps.jpg");

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name}={v:?}")))
        .unwrap_or(default)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The binary as its own process on a fixed port, data dir and database, so it
/// can be killed and started again on the same state.
pub(crate) struct Server {
    child: Option<Child>,
    port: u16,
    data: PathBuf,
    database_url: String,
    log: PathBuf,
    env: Vec<(&'static str, String)>,
}

impl Server {
    pub(crate) fn new(data: &Path, database_url: &str, env: Vec<(&'static str, String)>) -> Self {
        Self {
            child: None,
            port: free_port(),
            data: data.to_path_buf(),
            database_url: database_url.to_string(),
            log: data.with_extension("log"),
            env,
        }
    }

    pub(crate) fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.env("LARMKOLL_DATA_DIR", &self.data)
            .env("DATABASE_URL", &self.database_url)
            .env_remove("LARMKOLL_CONFIG");
        cmd
    }

    /// Starts the server and waits for its banner (migrations and the start-up
    /// document check run before it).
    pub(crate) fn start(&mut self) -> Duration {
        let started = Instant::now();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = self.command();
        cmd.args(["serve", "--demo"])
            .env("LARMKOLL_LISTEN", format!("127.0.0.1:{}", self.port))
            .env("RUST_LOG", "warn")
            .env("LARMKOLL_FOLLOWUP_INTERVAL_MINUTES", "0")
            .stdout(Stdio::piped())
            .stderr(log);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        if read_banner(&mut child).is_none() {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the server did not start:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
        self.child = Some(child);
        started.elapsed()
    }

    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
        }
    }

    /// Fails the test if the server died without being killed.
    fn assert_alive(&mut self) {
        if let Some(child) = &mut self.child {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "the server died by itself ({status}):\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
        }
    }

    /// `larmkoll check-documents`: files without a row and rows without files.
    fn check_documents(&self) -> (Vec<String>, Vec<String>) {
        let out = self.command().arg("check-documents").output().unwrap();
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!("check-documents: {}", String::from_utf8_lossy(&out.stderr))
        });
        let list = |k: &str| -> Vec<String> {
            report[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect()
        };
        (list("orphan_files"), list("missing_files"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

struct Reply {
    status: u16,
    headers: HeaderMap,
    body: actix_web::web::Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The problem's `code`, and whether the body is a proper RFC 9457 problem.
    fn problem(&self) -> (String, bool) {
        let body = self.json();
        let proper = self.header("content-type") == Some("application/problem+json")
            && body["status"] == self.status
            && body["detail"].as_str().is_some_and(|d| !d.is_empty())
            && body["detail_sv"].as_str().is_some_and(|d| !d.is_empty());
        (
            body["code"].as_str().unwrap_or_default().to_string(),
            proper,
        )
    }
}

#[derive(Clone)]
struct Api {
    base: String,
    client: awc::Client,
}

impl Api {
    fn new(base: String) -> Self {
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(60))
            .finish();
        Self { base, client }
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: Vec<(&'static str, String)>,
        body: Option<Vec<u8>>,
    ) -> Result<Reply, String> {
        let method = awc::http::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.insert_header(("Authorization", format!("Bearer {t}")));
        }
        for h in headers {
            req = req.insert_header(h);
        }
        let mut res = match body {
            Some(b) => req.send_body(b).await,
            None => req.send().await,
        }
        .map_err(|e| e.to_string())?;
        let body = res
            .body()
            .limit(32 * 1024 * 1024)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Reply {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            body,
        })
    }

    async fn get(&self, path: &str, token: &str) -> Reply {
        self.send("GET", path, Some(token), vec![], None)
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send(
            "POST",
            path,
            token,
            vec![("Content-Type", "application/json".into())],
            Some(body.to_string().into_bytes()),
        )
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    async fn login(&self, username: &str) -> String {
        let res = self
            .post(
                "/api/v1/auth/login",
                None,
                json!({"username": username, "password": "demo"}),
            )
            .await;
        assert_eq!(res.status, 200, "login {username}");
        res.json()["access_token"].as_str().unwrap().to_string()
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Kind {
    Contact,
    Transition,
    KeyMove,
    Photo,
}

#[derive(Clone, Copy)]
enum Entity {
    Order(usize),
    Key(usize),
}

/// One queued action, as the phone's outbox holds it.
struct Action {
    kind: Kind,
    /// `Idempotency-Key` (a photo is identified by its document id instead).
    key: String,
    method: &'static str,
    path: String,
    content_type: &'static str,
    body: Vec<u8>,
    /// Whose version goes in `If-Match`.
    if_match: Option<Entity>,
    /// What it leaves in the database, counted after every restart.
    bucket: String,
}

struct Plan {
    installer: String,
    orders: Vec<String>,
    keys: Vec<String>,
    /// Versions as the phone knows them, advanced by its own acknowledged actions.
    order_versions: Vec<i64>,
    key_versions: Vec<i64>,
    queue: Vec<Action>,
    /// document id → the bytes sent.
    photos: HashMap<String, Vec<u8>>,
}

/// What the assessor and the alarm team did before the installer went out:
/// install orders for the Boo customers, and a key of each in the cabinet.
async fn prepare(api: &Api) -> Plan {
    let assessor = api.login("handlaggare").await;
    let installer = api.login("installator").await;
    let admin = api.login("admin").await;
    let groups = api.get("/api/v1/groups", &admin).await.json();
    let night = groups
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "Boo nattpatrull")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let customers = api
        .get("/api/v1/customers?limit=200", &installer)
        .await
        .json();
    // The base demo's customers: the living demo's have orders of their own.
    let customers: Vec<String> = customers["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| crate::helpers::is_base_demo_customer(c))
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    let orders = env_number("FAULT_ORDERS", 20) as usize;
    assert!(
        customers.len() >= orders,
        "the installer sees {orders} customers"
    );
    let today = larmkoll::domain::calendar::today();
    let from = today - chrono::Duration::days(30);
    let mut plan = Plan {
        installer: installer.clone(),
        orders: vec![],
        keys: vec![],
        order_versions: vec![],
        key_versions: vec![],
        queue: vec![],
        photos: HashMap::new(),
    };
    for (i, customer) in customers.iter().take(orders).enumerate() {
        let granted = api
            .post(
                &format!("/api/v1/customers/{customer}/decisions"),
                Some(&assessor),
                json!({"service": "safety_alarm", "valid_from": from}),
            )
            .await;
        assert_eq!(granted.status, 201, "{}", granted.json());
        let order = granted.json()["order"].clone();
        plan.orders.push(order["id"].as_str().unwrap().to_string());
        plan.order_versions.push(order["version"].as_i64().unwrap());
        let key = api
            .post(
                "/api/v1/keys",
                Some(&installer),
                json!({"key_number": format!("FK-{i}"), "customer_id": customer, "count": 1,
                       "cabinet": "Skåp 9", "hook": format!("{i}")}),
            )
            .await;
        assert_eq!(key.status, 201, "{}", key.json());
        let key = key.json()["key"].clone();
        plan.keys.push(key["id"].as_str().unwrap().to_string());
        plan.key_versions.push(key["version"].as_i64().unwrap());
    }

    // The queue, oldest first: per order the visit (calls, booking, keys with
    // their photographed receipt, the installation with its signed agreement),
    // then the night patrol signing the customer's key out and in, with notes.
    let mut seq = 0;
    let mut next = || {
        seq += 1;
        seq
    };
    let json_action = |kind, path: String, body: Value, if_match, bucket: String| Action {
        kind,
        key: uuid::Uuid::new_v4().to_string(),
        method: "POST",
        path,
        content_type: "application/json",
        body: body.to_string().into_bytes(),
        if_match,
        bucket,
    };
    for (i, customer) in customers.iter().take(orders).enumerate() {
        let order = plan.orders[i].clone();
        let key = plan.keys[i].clone();
        let contact = |n: usize, kind: &str| {
            let note = format!("fault run contact {n}");
            json_action(
                Kind::Contact,
                format!("/api/v1/orders/{order}/contacts"),
                json!({"kind": kind, "note": note}),
                None,
                format!("contact:{note}"),
            )
        };
        let transition = |event: &str, body: Value| {
            json_action(
                Kind::Transition,
                format!("/api/v1/orders/{order}/{}", event.replace('_', "-")),
                body,
                Some(Entity::Order(i)),
                format!("transition:{order}:{event}"),
            )
        };
        let mut photo_action = |n: usize, kind: &str, base: &[u8]| {
            let id = uuid::Uuid::new_v4().to_string();
            let bytes = distinct_jpeg(base, &format!("fault run photo {n}"));
            plan.photos.insert(id.clone(), bytes.clone());
            Action {
                kind: Kind::Photo,
                key: id.clone(),
                method: "PUT",
                path: format!(
                    "/api/v1/documents/{id}?kind={kind}&customer_id={customer}&order_id={order}&signed_by=Kunden&signed_at={today}"
                ),
                content_type: "image/jpeg",
                body: bytes,
                if_match: None,
                bucket: format!("document:{id}"),
            }
        };
        let receipt = photo_action(next(), "key_receipt", RECEIPT_PHOTO);
        let receipt_id = receipt.key.clone();
        let agreement = photo_action(next(), "responsibility_agreement", AGREEMENT_PHOTO);
        let mut block = vec![
            contact(next(), "no_answer"),
            contact(next(), "call"),
            transition("book", json!({"visit_date": today, "visit_time": "09:30"})),
            contact(next(), "visit_booked"),
            receipt,
            transition(
                "receive_keys",
                json!({"key_numbers": [format!("FR-{i}")], "count": 1, "cabinet": "Skåp 8",
                       "hook": format!("{i}"), "receipt_document_id": receipt_id}),
            ),
            transition(
                "install",
                json!({"installation_date": today,
                       "serials": [format!("TX-{}", 1001 + i), format!("WB-{}", 2001 + i)]}),
            ),
            agreement,
        ];
        for j in 0..30 {
            block.push(if j % 2 == 0 {
                let note = format!("fault run sign-out {}", next());
                json_action(
                    Kind::KeyMove,
                    format!("/api/v1/keys/{key}/sign-out"),
                    json!({"group_id": night, "note": note}),
                    Some(Entity::Key(i)),
                    format!("move:{note}"),
                )
            } else {
                json_action(
                    Kind::KeyMove,
                    format!("/api/v1/keys/{key}/sign-in"),
                    json!({}),
                    Some(Entity::Key(i)),
                    format!("sign_in:{key}"),
                )
            });
            if j % 5 == 1 || j % 5 == 3 {
                block.push(contact(next(), "note"));
            }
        }
        plan.queue.extend(block);
    }
    plan
}

/// What is in the database now, as bucket → how many times; and each document's hash.
/// What the run did, as the database has it; the living demo's own orders,
/// keys and documents are not the run's and are left out.
fn snapshot(url: &str, plan: &Plan) -> (BTreeMap<String, usize>, BTreeMap<String, String>) {
    use schema::{documents as d, key_moves as km, order_contacts as oc, order_transitions as ot};
    let db = Db::connect(DatabaseTarget::from_url(url).unwrap(), 1).unwrap();
    let mut conn = db.get().unwrap();
    let conn = &mut *conn;
    let mut counts = BTreeMap::new();
    let mut count = |bucket: String| *counts.entry(bucket).or_insert(0) += 1;
    let notes: Vec<Option<String>> = oc::table.select(oc::note).load(conn).unwrap();
    // The booking logs its own contact; only the phone's own notes are counted.
    for note in notes.into_iter().flatten() {
        if note.starts_with("fault run") {
            count(format!("contact:{note}"));
        }
    }
    let moves: Vec<(String, String, Option<String>)> = km::table
        .select((km::key_id, km::move_kind, km::note))
        .load(conn)
        .unwrap();
    for (key, kind, note) in moves {
        match kind.as_str() {
            "sign_out" if note.as_deref().is_some_and(|n| n.starts_with("fault run")) => {
                count(format!("move:{}", note.unwrap_or_default()))
            }
            "sign_in" if plan.keys.contains(&key) => count(format!("sign_in:{key}")),
            _ => {}
        }
    }
    let transitions: Vec<(String, String)> = ot::table
        .select((ot::order_id, ot::event))
        .load(conn)
        .unwrap();
    for (order, event) in transitions {
        if ["book", "receive_keys", "install"].contains(&event.as_str())
            && plan.orders.contains(&order)
        {
            count(format!("transition:{order}:{event}"));
        }
    }
    let docs: Vec<(String, String)> = d::table
        .select((d::id, d::sha256))
        .load::<(String, String)>(conn)
        .unwrap()
        .into_iter()
        .filter(|(id, _)| plan.photos.contains_key(id))
        .collect();
    for (id, _) in &docs {
        count(format!("document:{id}"));
    }
    (counts, docs.into_iter().collect())
}

#[derive(Default, Debug)]
struct Figures {
    kills_during_request: usize,
    kills_between_requests: usize,
    kills_during_photo: usize,
    connection_errors: usize,
    answers_cut: usize,
    server_errors: usize,
    in_progress: usize,
    already_applied: usize,
    replayed: usize,
    photo_resent: usize,
    interrupted_landed: usize,
    orphans_seen: usize,
    restart_ms: Vec<u128>,
}

/// After a restart (or at the end): every acknowledged action is there once;
/// the one cut off by the kill, if any, at most once; nothing else. Every
/// document is whole, and the document check finds no record without files.
async fn verify(
    server: &Server,
    api: &Api,
    plan: &Plan,
    acked: &HashMap<String, usize>,
    in_flight: Option<&Action>,
    figures: &mut Figures,
) {
    let ready = api
        .send("GET", "/readyz", None, vec![], None)
        .await
        .unwrap();
    assert_eq!(ready.status, 200, "ready after the restart");
    let (counts, docs) = snapshot(&server.database_url, plan);
    let mut wrong = Vec::new();
    let buckets: std::collections::BTreeSet<&String> = counts.keys().chain(acked.keys()).collect();
    for bucket in buckets {
        let have = counts.get(bucket).copied().unwrap_or(0);
        let want = acked.get(bucket).copied().unwrap_or(0);
        let cut_off = in_flight.is_some_and(|a| &a.bucket == bucket);
        if have == want + 1 && cut_off {
            figures.interrupted_landed += 1;
        } else if have != want {
            wrong.push(format!(
                "{bucket}: {have} in the database, {want} acknowledged"
            ));
        }
    }
    assert!(wrong.is_empty(), "after a restart:\n{}", wrong.join("\n"));

    for (id, sha) in &docs {
        let sent = &plan.photos[id];
        assert_eq!(&sha256_hex(sent), sha, "document {id}: the recorded hash");
        let original = api
            .get(&format!("/api/v1/documents/{id}/original"), &plan.installer)
            .await;
        assert_eq!(original.status, 200, "document {id}");
        assert_eq!(original.header("x-content-sha256"), Some(sha.as_str()));
        assert!(original.body == sent[..], "document {id} is not whole");
        for (variant, edge) in [("display", 2048), ("thumbnail", 320)] {
            let copy = api
                .get(
                    &format!("/api/v1/documents/{id}/{variant}"),
                    &plan.installer,
                )
                .await;
            assert_eq!(copy.status, 200, "{id} {variant}");
            let img = image::load_from_memory(&copy.body)
                .unwrap_or_else(|e| panic!("{id} {variant} is not whole: {e}"));
            assert!(img.width().max(img.height()) <= edge);
        }
    }
    let (orphans, missing) = server.check_documents();
    assert_eq!(missing, Vec::<String>::new(), "records without their files");
    let interrupted = in_flight
        .filter(|a| a.kind == Kind::Photo)
        .map(|a| sha256_hex(&a.body));
    for orphan in &orphans {
        assert!(
            interrupted
                .as_ref()
                .is_some_and(|sha| orphan.contains(sha.as_str())),
            "a file no record uses, not from the interrupted upload: {orphan}"
        );
    }
    figures.orphans_seen += orphans.len();
}

async fn kill_run(backend: Backend) {
    let Some(database) = TestDatabase::migrated(backend) else {
        return;
    };
    let kills = env_number("FAULT_KILLS", 3) as usize;
    let seed = env_number(
        "FAULT_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            % 1_000_000,
    );
    eprintln!("fault run ({backend:?}): seed {seed} (FAULT_SEED={seed} repeats it), {kills} kills");
    let mut rng = StdRng::seed_from_u64(seed);
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let mut server = Server::new(
        &data,
        &database.url,
        vec![
            // Tokens outlive the long run; a claim left by a killed request is
            // freed after 2 s instead of 60, so twenty kills take minutes, not twenty.
            ("LARMKOLL_ACCESS_TOKEN_MINUTES", "600".into()),
            ("LARMKOLL_IDEMPOTENCY_ABANDON_SECONDS", "2".into()),
        ],
    );
    server.start();
    let api = Api::new(server.base());
    let mut plan = prepare(&api).await;
    let queue = std::mem::take(&mut plan.queue);
    let began = Instant::now();

    // The kill moments: an action, then a random delay into it. Half of them
    // fall on photo uploads.
    let photos: Vec<usize> = (0..queue.len())
        .filter(|&i| queue[i].kind == Kind::Photo)
        .collect();
    let mut kill_at: Vec<usize> = Vec::new();
    while kill_at.len() < kills.min(queue.len() / 2) {
        let at = if kill_at.len() % 2 == 1 {
            photos[rng.gen_range(0..photos.len())]
        } else {
            rng.gen_range(5..queue.len())
        };
        if !kill_at.contains(&at) {
            kill_at.push(at);
        }
    }
    kill_at.sort();

    let mut figures = Figures::default();
    let mut acked: HashMap<String, usize> = HashMap::new();
    let mut latency_ms: HashMap<Kind, f64> = HashMap::new();
    for (i, action) in queue.iter().enumerate() {
        let mut kill_now = kill_at.binary_search(&i).is_ok();
        for attempt in 0.. {
            assert!(attempt < 600, "action {i} never acknowledged");
            server.assert_alive();
            let mut headers = vec![("Content-Type", action.content_type.to_string())];
            if action.method == "POST" {
                headers.push(("Idempotency-Key", action.key.clone()));
            }
            if let Some(entity) = action.if_match {
                let v = match entity {
                    Entity::Order(n) => plan.order_versions[n],
                    Entity::Key(n) => plan.key_versions[n],
                };
                headers.push(("If-Match", format!("\"{v}\"")));
            }
            let started = Instant::now();
            let send = Box::pin(api.send(
                action.method,
                &action.path,
                Some(&plan.installer),
                headers,
                Some(action.body.clone()),
            ));
            let mut killed = None;
            let result = if kill_now {
                kill_now = false;
                let typical = *latency_ms.get(&action.kind).unwrap_or(&30.0);
                let delay = Duration::from_micros(rng.gen_range(0..=(typical * 1300.0) as u64));
                match select(send, Box::pin(actix_web::rt::time::sleep(delay))).await {
                    Either::Left((result, _)) => {
                        killed = Some(false);
                        result
                    }
                    Either::Right((_, send)) => {
                        server.kill();
                        killed = Some(true);
                        send.await
                    }
                }
            } else {
                send.await
            };
            let done = match result {
                Err(_) => {
                    figures.connection_errors += 1;
                    false
                }
                // Killed after the headers: awc hands over what came (an
                // empty body) without an error, where a browser's fetch
                // rejects the unfinished chunked body. The phone retries.
                Ok(reply)
                    if (200..300).contains(&reply.status)
                        && serde_json::from_slice::<Value>(&reply.body).is_err() =>
                {
                    figures.answers_cut += 1;
                    false
                }
                Ok(reply) if (200..300).contains(&reply.status) => {
                    if reply.header("idempotent-replayed") == Some("true") {
                        figures.replayed += 1;
                    }
                    if action.kind == Kind::Photo && reply.status == 200 {
                        figures.photo_resent += 1;
                    }
                    let body = reply.json();
                    let version = |entity: &str| {
                        body[entity]["version"].as_i64().unwrap_or_else(|| {
                            panic!(
                                "action {i} ({} {}) answered {} with no {entity} version; headers {:?}; body {:?}",
                                action.method, action.path, reply.status, reply.headers,
                                String::from_utf8_lossy(&reply.body)
                            )
                        })
                    };
                    match action.if_match {
                        Some(Entity::Order(n)) => plan.order_versions[n] = version("order"),
                        Some(Entity::Key(n)) => plan.key_versions[n] = version("key"),
                        None => {}
                    }
                    true
                }
                Ok(reply) => match (reply.status, reply.problem().0.as_str()) {
                    (409, "already_applied") => {
                        // Done, its answer lost: read the record afresh, as the phone does.
                        figures.already_applied += 1;
                        match action.if_match {
                            Some(Entity::Order(n)) => {
                                let o = api
                                    .get(
                                        &format!("/api/v1/orders/{}", plan.orders[n]),
                                        &plan.installer,
                                    )
                                    .await;
                                plan.order_versions[n] =
                                    o.json()["order"]["version"].as_i64().unwrap();
                            }
                            Some(Entity::Key(n)) => {
                                let k = api
                                    .get(&format!("/api/v1/keys/{}", plan.keys[n]), &plan.installer)
                                    .await;
                                plan.key_versions[n] = k.json()["key"]["version"].as_i64().unwrap();
                            }
                            None => {}
                        }
                        true
                    }
                    (409, "idempotency_in_progress") => {
                        figures.in_progress += 1;
                        false
                    }
                    (status, _) if status >= 500 || status == 429 => {
                        figures.server_errors += 1;
                        false
                    }
                    (status, _) => panic!(
                        "action {i} ({} {}) refused: {status} {}",
                        action.method,
                        action.path,
                        String::from_utf8_lossy(&reply.body)
                    ),
                },
            };
            if done {
                *acked.entry(action.bucket.clone()).or_insert(0) += 1;
                let ms = started.elapsed().as_secs_f64() * 1000.0;
                let avg = latency_ms.entry(action.kind).or_insert(ms);
                *avg = 0.8 * *avg + 0.2 * ms;
            }
            if let Some(during) = killed {
                if during {
                    figures.kills_during_request += 1;
                    if action.kind == Kind::Photo {
                        figures.kills_during_photo += 1;
                    }
                } else {
                    server.kill();
                    figures.kills_between_requests += 1;
                }
                // Down: the phone's next try finds nobody.
                assert!(api
                    .send("GET", "/healthz", None, vec![], None)
                    .await
                    .is_err());
                figures.restart_ms.push(server.start().as_millis());
                let cut_off = (!done).then_some(action);
                verify(&server, &api, &plan, &acked, cut_off, &mut figures).await;
            }
            if done {
                break;
            }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let replay = began.elapsed();

    // The end: everything acknowledged, each exactly once, no orphan file left.
    verify(&server, &api, &plan, &acked, None, &mut figures).await;
    let (orphans, _) = server.check_documents();
    assert_eq!(orphans, Vec::<String>::new(), "files no record uses");
    assert_eq!(acked.values().sum::<usize>(), queue.len());
    for (n, order) in plan.orders.iter().enumerate() {
        let o = api
            .get(&format!("/api/v1/orders/{order}"), &plan.installer)
            .await
            .json();
        assert_eq!(o["order"]["state"], "installed", "order {n}");
        let k = api
            .get(&format!("/api/v1/keys/{}", plan.keys[n]), &plan.installer)
            .await
            .json();
        assert_eq!(k["key"]["custody"], "in_cabinet", "key {n}");
    }
    server.kill();
    let kinds = |k: Kind| queue.iter().filter(|a| a.kind == k).count();
    eprintln!(
        "fault run ({backend:?}) seed {seed}: {} actions acknowledged ({} contacts, {} transitions, {} key moves, {} photos) in {:.1} s; \
         {} kills ({} during a request, {} of them photo uploads; {} between requests); \
         retries: {} connection errors, {} answers cut after the headers, {} 5xx, {} in progress; {} already_applied, {} replayed answers, {} photos resent and answered 200; \
         {} cut-off actions had landed; {} orphan files seen after kills, none at the end; restart {:?} ms; \
         typical answer (moving average) {:.0} ms (contact), {:.0} ms (transition), {:.0} ms (key move), {:.0} ms (photo)",
        acked.values().sum::<usize>(),
        kinds(Kind::Contact),
        kinds(Kind::Transition),
        kinds(Kind::KeyMove),
        kinds(Kind::Photo),
        replay.as_secs_f64(),
        figures.kills_during_request + figures.kills_between_requests,
        figures.kills_during_request,
        figures.kills_during_photo,
        figures.kills_between_requests,
        figures.connection_errors,
        figures.answers_cut,
        figures.server_errors,
        figures.in_progress,
        figures.already_applied,
        figures.replayed,
        figures.photo_resent,
        figures.interrupted_landed,
        figures.orphans_seen,
        figures.restart_ms,
        latency_ms[&Kind::Contact],
        latency_ms[&Kind::Transition],
        latency_ms[&Kind::KeyMove],
        latency_ms[&Kind::Photo],
    );
    assert_eq!(
        figures.kills_during_request + figures.kills_between_requests,
        kill_at.len()
    );
    // The run reached what it set out to: every kind of action replayed, and
    // every planned kill done and restarted from.
    for kind in [Kind::Contact, Kind::Transition, Kind::KeyMove, Kind::Photo] {
        assert!(kinds(kind) > 0, "no {kind:?} in the replayed queue");
    }
    assert_eq!(kill_at.len(), kills.min(queue.len() / 2));
    assert_eq!(
        figures.restart_ms.len(),
        kill_at.len(),
        "a restart per kill"
    );
}

#[actix_web::test]
async fn sigkill_during_outbox_replay_loses_and_duplicates_nothing_on_sqlite() {
    kill_run(Backend::Sqlite).await;
}

#[actix_web::test]
async fn sigkill_during_outbox_replay_loses_and_duplicates_nothing_on_postgres() {
    kill_run(Backend::Postgres).await;
}

/// A PostgreSQL cluster of this test's own on a free port, run as the
/// `postgres` OS user, so it can be stopped without touching the shared server.
struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl Cluster {
    /// None (SKIPPED) when the server binaries or root are missing, unless
    /// `REQUIRE_POSTGRES=1`.
    fn create() -> Option<Self> {
        let skip = |why: String| {
            if std::env::var("REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!("REQUIRE_POSTGRES=1 but no private PostgreSQL cluster: {why}");
            }
            eprintln!("SKIPPED: no private PostgreSQL cluster for the restart test: {why}");
            None
        };
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .map(|d| d.flatten().map(|e| e.path().join("bin")).collect())
            .unwrap_or_default();
        versions.retain(|b| b.join("pg_ctl").is_file() && b.join("initdb").is_file());
        versions.sort();
        let Some(bin) = versions.pop() else {
            return skip("no /usr/lib/postgresql/*/bin/pg_ctl".into());
        };
        let uid = Command::new("id").arg("-u").output().ok()?;
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            return skip("runs as root to start the cluster as the postgres user".into());
        }
        let dir = tempfile::Builder::new()
            .prefix("larmkoll-pg-")
            .tempdir()
            .unwrap();
        let owned = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(dir.path())
            .status();
        if !owned.is_ok_and(|s| s.success()) {
            return skip("no postgres OS user".into());
        }
        let cluster = Self {
            dir,
            bin,
            port: free_port(),
        };
        let init = cluster
            .as_postgres("initdb")
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(cluster.data())
            .output()
            .unwrap();
        if !init.status.success() {
            return skip(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&init.stderr)
            ));
        }
        cluster.start();
        Some(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn as_postgres(&self, tool: &str) -> Command {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(self.bin.join(tool));
        cmd
    }

    fn pg_ctl(&self, args: &[&str]) {
        let out = self
            .as_postgres("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.path().join("postgres.log"))
            .args(["-w", "-t", "60"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        self.pg_ctl(&["start", "-o", &options]);
    }

    fn stop(&self) {
        self.pg_ctl(&["stop", "-m", "fast"]);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .as_postgres("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["stop", "-m", "immediate"])
            .output();
    }
}

/// One answer a client got, and how long it took.
struct Seen {
    status: Option<u16>,
    code: String,
    proper: bool,
    took: Duration,
    what: &'static str,
}

fn observe(result: &Result<Reply, String>, took: Duration, what: &'static str) -> Seen {
    match result {
        Ok(r) => {
            let (code, proper) = r.problem();
            Seen {
                status: Some(r.status),
                code,
                proper,
                took,
                what,
            }
        }
        Err(e) => Seen {
            status: None,
            code: e.clone(),
            proper: false,
            took,
            what,
        },
    }
}

/// A field client: logs contacts on its order, each with its own
/// `Idempotency-Key`, retried until acknowledged, and reads the order between.
async fn field_client(
    api: Api,
    token: String,
    order: String,
    name: usize,
    stop: std::rc::Rc<std::cell::Cell<bool>>,
    seen: std::rc::Rc<std::cell::RefCell<Vec<Seen>>>,
) -> Vec<String> {
    let mut acked = Vec::new();
    for n in 0.. {
        if stop.get() {
            break;
        }
        let note = format!("pg restart load {name}-{n}");
        let key = uuid::Uuid::new_v4().to_string();
        let body = json!({"kind": "call", "note": note})
            .to_string()
            .into_bytes();
        for attempt in 0.. {
            assert!(attempt < 600, "contact {note} never acknowledged");
            let started = Instant::now();
            let res = api
                .send(
                    "POST",
                    &format!("/api/v1/orders/{order}/contacts"),
                    Some(&token),
                    vec![
                        ("Content-Type", "application/json".into()),
                        ("Idempotency-Key", key.clone()),
                    ],
                    Some(body.clone()),
                )
                .await;
            let s = observe(&res, started.elapsed(), "contact");
            let done = matches!(s.status, Some(201))
                || (s.status == Some(409) && s.code == "already_applied");
            seen.borrow_mut().push(s);
            if done {
                acked.push(note);
                break;
            }
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
        let started = Instant::now();
        let res = api
            .send(
                "GET",
                &format!("/api/v1/orders/{order}"),
                Some(&token),
                vec![],
                None,
            )
            .await;
        seen.borrow_mut()
            .push(observe(&res, started.elapsed(), "order read"));
    }
    acked
}

#[actix_web::test]
async fn postgres_restarted_under_load_the_server_reconnects_by_itself() {
    let Some(cluster) = actix_web::rt::task::spawn_blocking(Cluster::create)
        .await
        .unwrap()
    else {
        return;
    };
    let cluster = std::sync::Arc::new(cluster);
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let mut server = Server::new(
        &data,
        &cluster.url(),
        vec![("LARMKOLL_IDEMPOTENCY_ABANDON_SECONDS", "2".into())],
    );
    server.start();
    let api = Api::new(server.base());
    let assessor = api.login("handlaggare").await;
    let installer = api.login("installator").await;
    let customers = api
        .get("/api/v1/customers?limit=200", &installer)
        .await
        .json();
    let from = larmkoll::domain::calendar::today() - chrono::Duration::days(30);
    let mut orders = Vec::new();
    let base = customers["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| crate::helpers::is_base_demo_customer(c));
    for c in base.take(4) {
        let granted = api
            .post(
                &format!("/api/v1/customers/{}/decisions", c["id"].as_str().unwrap()),
                Some(&assessor),
                json!({"service": "safety_alarm", "valid_from": from}),
            )
            .await;
        assert_eq!(granted.status, 201);
        orders.push(granted.json()["order"]["id"].as_str().unwrap().to_string());
    }

    let stop = std::rc::Rc::new(std::cell::Cell::new(false));
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let clients: Vec<_> = orders
        .iter()
        .enumerate()
        .map(|(i, order)| {
            actix_web::rt::spawn(field_client(
                api.clone(),
                installer.clone(),
                order.clone(),
                i,
                stop.clone(),
                seen.clone(),
            ))
        })
        .collect();
    actix_web::rt::time::sleep(Duration::from_secs(3)).await;
    let before_outage = seen.borrow().len();

    let c = cluster.clone();
    actix_web::rt::task::spawn_blocking(move || c.stop())
        .await
        .unwrap();
    let down = Instant::now();
    // While it is down: alive, not ready, and calls fail at once with a 503.
    let mut probes = Vec::new();
    while down.elapsed() < Duration::from_secs(6) {
        for (what, path) in [
            ("healthz", "/healthz".to_string()),
            ("readyz", "/readyz".to_string()),
            ("order read", format!("/api/v1/orders/{}", orders[0])),
        ] {
            let started = Instant::now();
            let res = api.send("GET", &path, Some(&installer), vec![], None).await;
            probes.push(observe(&res, started.elapsed(), what));
        }
        actix_web::rt::time::sleep(Duration::from_millis(250)).await;
    }
    let during_outage = seen.borrow().len() - before_outage;

    let c = cluster.clone();
    actix_web::rt::task::spawn_blocking(move || c.start())
        .await
        .unwrap();
    let up = Instant::now();
    let recovered = loop {
        let res = api.send("GET", "/readyz", None, vec![], None).await;
        if res.as_ref().is_ok_and(|r| r.status == 200) {
            break up.elapsed();
        }
        assert!(
            up.elapsed() < Duration::from_secs(30),
            "not ready 30 s after PostgreSQL came back"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    };
    let back = api
        .get(&format!("/api/v1/orders/{}", orders[0]), &installer)
        .await;
    assert_eq!(back.status, 200, "an API call after the recovery");
    actix_web::rt::time::sleep(Duration::from_secs(2)).await;
    stop.set(true);
    let mut acked = Vec::new();
    for c in clients {
        acked.extend(c.await.unwrap());
    }
    server.assert_alive();

    let mut wrong = Vec::new();
    for s in seen.borrow().iter().chain(&probes) {
        let fine = match (s.what, s.status) {
            ("healthz", Some(200)) => s.took < Duration::from_secs(1),
            ("healthz", _) => false,
            ("readyz", Some(503)) | (_, Some(503)) => s.proper && s.code == "database_unavailable",
            (_, Some(409)) => {
                ["already_applied", "idempotency_in_progress"].contains(&s.code.as_str())
            }
            (_, Some(status)) => (200..300).contains(&status),
            (_, None) => false,
        };
        if !fine {
            wrong.push(format!(
                "{} {:?} {} ({:?})",
                s.what, s.status, s.code, s.took
            ));
        }
    }
    let readyz: Vec<&Seen> = probes.iter().filter(|s| s.what == "readyz").collect();
    let slowest = |what: &str| {
        probes
            .iter()
            .filter(|s| s.what == what)
            .map(|s| s.took)
            .max()
            .unwrap_or_default()
    };
    eprintln!(
        "PostgreSQL restart: {} client answers before the stop, {} during the outage; \
         /readyz answered 503 {} times (slowest {:?}), API reads 503 (slowest {:?}), /healthz slowest {:?}; \
         ready again {:?} after PostgreSQL started; {} contacts acknowledged",
        before_outage,
        during_outage,
        readyz.iter().filter(|s| s.status == Some(503)).count(),
        slowest("readyz"),
        slowest("order read"),
        slowest("healthz"),
        recovered,
        acked.len(),
    );
    assert!(
        wrong.is_empty(),
        "answers that were not clean:\n{}",
        wrong.join("\n")
    );
    assert!(
        readyz.iter().all(|s| s.status == Some(503)),
        "/readyz must say not ready while the database is down"
    );
    let limit = Duration::from_secs(3);
    assert!(
        slowest("readyz") < limit && slowest("order read") < limit,
        "while the database is down, answers come within {limit:?}"
    );

    // No acknowledged write lost, none twice.
    let db = Db::connect(DatabaseTarget::from_url(&cluster.url()).unwrap(), 1).unwrap();
    let notes: Vec<Option<String>> = schema::order_contacts::table
        .select(schema::order_contacts::note)
        .load(&mut *db.get().unwrap())
        .unwrap();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for n in notes.into_iter().flatten() {
        if n.starts_with("pg restart load") {
            *counts.entry(n).or_insert(0) += 1;
        }
    }
    for note in &acked {
        assert_eq!(counts.get(note), Some(&1), "{note}");
    }
    assert_eq!(counts.len(), acked.len(), "nothing unacknowledged landed");
    server.kill();
}

/// Reads' audit entries are committed in groups, after the read itself: a
/// kill must still leave an entry for every read that was answered. Sixteen
/// clients list customers as fast as they can; the server is killed mid-run,
/// three times; after each restart every answered list has one `customer.list`
/// entry per customer it showed, under the answer's request id.
async fn sigkill_during_reads(backend: Backend) {
    let Some(database) = TestDatabase::migrated(backend) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let mut server = Server::new(
        &data,
        &database.url,
        vec![("LARMKOLL_ACCESS_TOKEN_MINUTES", "600".into())],
    );
    let mut rng = StdRng::seed_from_u64(env_number("FAULT_SEED", 7));
    let mut answered: Vec<(String, usize)> = Vec::new();
    for round in 0..3 {
        server.start();
        let api = Api::new(server.base());
        let admin = api.login("admin").await;
        let stop = std::rc::Rc::new(std::cell::Cell::new(false));
        let clients = (0..16).map(|_| {
            let (api, admin, stop) = (api.clone(), admin.clone(), stop.clone());
            async move {
                let mut seen = Vec::new();
                while !stop.get() {
                    let Ok(reply) = api
                        .send(
                            "GET",
                            "/api/v1/customers?limit=30",
                            Some(&admin),
                            vec![],
                            None,
                        )
                        .await
                    else {
                        break;
                    };
                    let shown = reply.json()["items"].as_array().map(Vec::len);
                    if let (200, Some(shown), Some(id)) =
                        (reply.status, shown, reply.header("x-request-id"))
                    {
                        seen.push((id.to_string(), shown));
                    }
                }
                seen
            }
        });
        let reading = futures_util::future::join_all(clients);
        let delay = Duration::from_millis(rng.gen_range(300..1500));
        let killing = async {
            actix_web::rt::time::sleep(delay).await;
            server.kill();
            stop.set(true);
        };
        let (seen, ()) = futures_util::join!(reading, killing);
        let seen: Vec<_> = seen.into_iter().flatten().collect();
        eprintln!(
            "reads killed, round {round}: {} lists answered before the kill at {delay:?}",
            seen.len()
        );
        assert!(
            !seen.is_empty(),
            "round {round}: no list answered before the kill"
        );
        answered.extend(seen);
    }
    server.start();
    let db = Db::connect(DatabaseTarget::from_url(&database.url).unwrap(), 1).unwrap();
    let mut conn = db.get().unwrap();
    use schema::audit_log as a;
    for (request_id, shown) in &answered {
        let entries: i64 = a::table
            .filter(a::request_id.eq(request_id))
            .filter(a::action.eq("customer.list"))
            .count()
            .get_result(&mut *conn)
            .unwrap();
        assert_eq!(
            entries, *shown as i64,
            "request {request_id} showed {shown} customers"
        );
    }
    eprintln!(
        "reads killed ({backend:?}): {} answered lists, each with its audit entries after restart",
        answered.len()
    );
    server.kill();
}

#[actix_web::test]
async fn sigkill_during_reads_leaves_every_answered_read_audited_on_sqlite() {
    sigkill_during_reads(Backend::Sqlite).await;
}

#[actix_web::test]
async fn sigkill_during_reads_leaves_every_answered_read_audited_on_postgres() {
    sigkill_during_reads(Backend::Postgres).await;
}
