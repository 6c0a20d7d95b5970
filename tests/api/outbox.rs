//! The outbox: the routines' notices leave by mail (a real SMTP server,
//! aiosmtpd, on loopback) and by signed webhook (a receiver of the test's own
//! that checks each signature), through faults: the mail server down and
//! back, a receiver answering 500 or too late, a receiver that does not know
//! the secret, and two dispatchers on one PostgreSQL database.

use crate::helpers::{free_port, is_base_demo_customer, tool, Backend, TestApp};
use crate::steps::days_ago;
use actix_web::{web, HttpRequest, HttpResponse, HttpServer};
use base64::Engine;
use hmac::{Hmac, Mac};
use larmkoll::config::{Settings, SmtpTls};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The receiver's secret (whsec_ + base64 of 24 bytes).
const SECRET: &str = "whsec_bGFybWtvbGwtdGVzdC1ub3Qtc2VjcmV0";
/// A secret the receiver does not know.
const OTHER_SECRET: &str = "whsec_YW5vdGhlci1zZWNyZXQtbm90LWtub3du";

/// aiosmtpd on a loopback port, storing every mail it accepts in a Maildir.
pub struct Smtp {
    child: Child,
    dir: PathBuf,
}

impl Smtp {
    /// None (SKIPPED) when aiosmtpd is not installed; a failure with REQUIRE_TOOLS=1.
    pub fn start(port: u16, parent: &Path) -> Option<Self> {
        let exe = tool("aiosmtpd")?;
        // A Maildir aiosmtpd creates itself (with new/, cur/ and tmp/).
        let dir = &parent.join("maildir");
        let child = Command::new(exe)
            .args(["-n", "-l", &format!("127.0.0.1:{port}"), "-c"])
            .arg("aiosmtpd.handlers.Mailbox")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Self {
            child,
            dir: dir.to_path_buf(),
        })
    }

    /// Every mail received, parsed by Python's own `email` package: Message-ID,
    /// recipient, subject and body, decoded.
    pub fn mails(&self) -> Vec<Mail> {
        read_maildir(&self.dir)
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

#[derive(Debug, Clone)]
pub struct Mail {
    pub message_id: String,
    pub to: String,
    pub subject: String,
    pub body: String,
}

pub fn read_maildir(dir: &Path) -> Vec<Mail> {
    let python = tool("python3").expect("python3 (in the tools' venv)");
    let script = r#"
import email, email.policy, json, mailbox, sys
out = []
for m in mailbox.Maildir(sys.argv[1], create=False):
    msg = email.message_from_bytes(m.as_bytes(), policy=email.policy.default)
    out.append({"message_id": str(msg["Message-ID"]), "to": str(msg["To"]),
                "subject": str(msg["Subject"]), "body": msg.get_content()})
print(json.dumps(out))
"#;
    if !dir.join("new").exists() {
        return Vec::new();
    }
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .arg(dir)
        .output()
        .expect("python reads the maildir");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json");
    v.into_iter()
        .map(|m| Mail {
            message_id: m["message_id"].as_str().unwrap().to_string(),
            to: m["to"].as_str().unwrap().to_string(),
            subject: m["subject"].as_str().unwrap().to_string(),
            body: m["body"].as_str().unwrap().to_string(),
        })
        .collect()
}

/// A webhook receiver: verifies each delivery's Standard Webhooks signature
/// itself (HMAC-SHA256 over `id.timestamp.body`, here, not the server's code)
/// and keeps what it accepted.
#[derive(Clone, Default)]
pub struct Receiver {
    /// (webhook-id, body) of every accepted delivery, duplicates included.
    pub accepted: Arc<Mutex<Vec<(String, String)>>>,
    /// Deliveries refused for a wrong signature.
    pub bad_signatures: Arc<AtomicUsize>,
    /// Answer 500 to this many more requests.
    pub fail_next: Arc<AtomicUsize>,
    /// Answer the next request only after the sender's timeout.
    pub hang_next: Arc<AtomicBool>,
    pub failed_on_purpose: Arc<AtomicUsize>,
    /// Milliseconds each accepted delivery takes (a slow receiver keeps the
    /// dispatcher busy, so kills land mid-dispatch).
    pub delay_ms: Arc<AtomicUsize>,
}

fn verify(secret: &str, req: &HttpRequest, body: &[u8]) -> Result<String, &'static str> {
    let header = |n: &str| {
        req.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or("header missing")
    };
    let (id, ts, sigs) = (
        header("webhook-id")?,
        header("webhook-timestamp")?,
        header("webhook-signature")?,
    );
    let ts_n: i64 = ts.parse().map_err(|_| "timestamp")?;
    if (chrono::Utc::now().timestamp() - ts_n).abs() > 300 {
        return Err("timestamp too far off");
    }
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    // The header may carry several space-separated signatures.
    if sigs
        .split(' ')
        .any(|s| s.strip_prefix("v1,") == Some(expected.as_str()))
    {
        Ok(id)
    } else {
        Err("signature")
    }
}

async fn receive(req: HttpRequest, body: web::Bytes, r: web::Data<Receiver>) -> HttpResponse {
    if r.fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
    {
        r.failed_on_purpose.fetch_add(1, Ordering::SeqCst);
        return HttpResponse::InternalServerError().finish();
    }
    if r.hang_next.swap(false, Ordering::SeqCst) {
        r.failed_on_purpose.fetch_add(1, Ordering::SeqCst);
        actix_web::rt::time::sleep(Duration::from_secs(3)).await;
        // Too late: the sender gave up and will send it again.
        return HttpResponse::Ok().finish();
    }
    match verify(SECRET, &req, &body) {
        Ok(id) => {
            let delay = r.delay_ms.load(Ordering::SeqCst) as u64;
            if delay > 0 {
                actix_web::rt::time::sleep(Duration::from_millis(delay)).await;
            }
            let body = String::from_utf8(body.to_vec()).unwrap();
            r.accepted.lock().unwrap().push((id, body));
            HttpResponse::NoContent().finish()
        }
        Err(_) => {
            r.bad_signatures.fetch_add(1, Ordering::SeqCst);
            HttpResponse::Unauthorized().finish()
        }
    }
}

impl Receiver {
    /// Serves on a loopback port; answers its URL.
    pub fn start(&self) -> (String, actix_web::dev::ServerHandle) {
        let me = web::Data::new(self.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let server = HttpServer::new(move || {
            actix_web::App::new()
                .app_data(me.clone())
                .route("/hook", web::post().to(receive))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        (url, handle)
    }
}

/// Settings for tests: retries in fractions of a second.
pub fn fast(s: &mut Settings, smtp_port: u16) {
    s.smtp_host = Some("127.0.0.1".into());
    s.smtp_port = smtp_port.into();
    s.smtp_tls = SmtpTls::None;
    s.mail_from = Some("larmkoll@kommun.test".into());
    s.public_url = Some("https://larmkoll.kommun.test".into());
    s.outbox_poll_millis = 100;
    s.outbox_lease_seconds = 5;
    s.outbox_retry_base_millis = 200;
    s.mail_attempts = 40;
    s.webhook_retry_seconds = 8;
    s.webhook_timeout_seconds = 1;
}

async fn start(backend: Backend, smtp_port: u16) -> Option<(TestApp, Settings)> {
    let app = TestApp::start_configured(backend, true, |s| fast(s, smtp_port)).await?;
    let mut settings = Settings::default();
    fast(&mut settings, smtp_port);
    Some((app, settings))
}

/// Everything personal the demo customers have, as it could appear in text.
pub async fn personal_data(app: &TestApp) -> Vec<String> {
    let rows = app
        .db
        .run(|c| {
            use diesel::prelude::*;
            use larmkoll::db::schema::customers::dsl as k;
            Ok(k::customers
                .select((
                    k::personnummer,
                    k::first_name,
                    k::last_name,
                    k::street,
                    k::key_position,
                    k::phone,
                ))
                .load::<(
                    String,
                    String,
                    String,
                    String,
                    Option<String>,
                    Option<String>,
                )>(c)?)
        })
        .await
        .unwrap();
    let mut out = Vec::new();
    for (pnr, first, last, street, key, phone) in rows {
        let digits: String = pnr.chars().filter(char::is_ascii_digit).collect();
        out.push(digits.clone());
        out.push(digits[2..].to_string());
        out.push(format!("{}-{}", &digits[..8], &digits[8..]));
        out.push(format!("{}-{}", &digits[2..8], &digits[8..]));
        out.push(format!("{first} {last}"));
        if last.chars().count() >= 5 {
            out.push(last);
        }
        out.push(street);
        out.extend(key.filter(|k| k.len() >= 3));
        out.extend(phone);
    }
    out
}

fn assert_no_personal_data(what: &str, text: &str, personal: &[String]) {
    for p in personal {
        assert!(
            !text.contains(p.as_str()),
            "{what} contains personal data {p:?}: {text}"
        );
    }
}

async fn wait_until<F: std::future::Future<Output = bool>>(
    what: &str,
    secs: u64,
    mut check: impl FnMut() -> F,
) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn outbox(app: &TestApp, admin: &str) -> Vec<Value> {
    let res = app.get("/api/v1/outbox?limit=1000", admin).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let rows = res.body.as_array().unwrap().clone();
    if std::env::var("OUTBOX_DEBUG").is_ok() {
        let mut seen = BTreeMap::new();
        for d in &rows {
            *seen
                .entry(format!(
                    "{} {} {} {}",
                    d["channel"], d["state"], d["attempts"], d["last_error"]
                ))
                .or_insert(0) += 1;
        }
        eprintln!("{seen:?}");
    }
    rows
}

macro_rules! outbox_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[actix_web::test]
            async fn sqlite() {
                super::$name(crate::helpers::Backend::Sqlite).await;
            }
            #[actix_web::test]
            async fn postgres() {
                super::$name(crate::helpers::Backend::Postgres).await;
            }
        }
    )*};
}

outbox_tests!(
    notices_leave_by_mail_and_signed_webhook_through_faults,
    two_dispatchers_on_one_database_send_each_once,
    sigkilled_during_dispatch_loses_nothing,
);

/// Seed 000/003's install routine with mailboxes and a webhook subscription:
/// the mail server is down while it runs and comes back; the receiver
/// answers 500 twice and once too late; a second subscription's secret is
/// one the receiver does not know.
async fn notices_leave_by_mail_and_signed_webhook_through_faults(backend: Backend) {
    let smtp_port = free_port();
    let Some((app, settings)) = start(backend, smtp_port).await else {
        return;
    };
    let maildir = tempfile::tempdir().unwrap();
    // Checked first, so a missing tool skips before anything is sent.
    if tool("aiosmtpd").is_none() || tool("python3").is_none() {
        return;
    }
    let started = Instant::now();
    let admin = app.login("admin").await;
    let receiver = Receiver::default();
    receiver.fail_next.store(2, Ordering::SeqCst);
    let (url, _stop_receiver) = receiver.start();

    // Every Boo group gets a mailbox; billing's officer wants installed and executed by mail.
    let groups = app.get("/api/v1/groups", &admin).await.body;
    let mut mailbox_of = BTreeMap::new();
    for (i, g) in groups.as_array().unwrap().iter().enumerate() {
        let address = format!("grupp{i}@kommun.test");
        let res = put(
            &app,
            &admin,
            &format!("/api/v1/groups/{}/mailbox", g["id"].as_str().unwrap()),
            json!({"address": address}),
        )
        .await;
        assert_eq!(res.0, 204, "{}", res.1);
        mailbox_of.insert(g["id"].as_str().unwrap().to_string(), address);
    }
    let users = app.get("/api/v1/users", &admin).await.body;
    let billing = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "avgift")
        .unwrap();
    let res = put(
        &app,
        &admin,
        &format!("/api/v1/users/{}/mail", billing["id"].as_str().unwrap()),
        json!({"address": "avgift@kommun.test", "topics": ["installed", "nonsense"]}),
    )
    .await;
    assert_eq!(res.0, 422, "an unknown topic is refused: {}", res.1);
    assert_eq!(res.1["errors"][0]["field"], "topics[1]", "{}", res.1);
    let res = put(
        &app,
        &admin,
        &format!("/api/v1/users/{}/mail", billing["id"].as_str().unwrap()),
        json!({"address": "avgift@kommun.test", "topics": ["installed"]}),
    )
    .await;
    assert_eq!(res.0, 204, "{}", res.1);

    // http:// only when allowed in so many words.
    let refused = app
        .post(
            "/api/v1/webhooks",
            Some(&admin),
            json!({"url": url, "event_types": ["*"], "secret": SECRET}),
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    refused.assert_problem(422, "validation_failed", "https", "https");
    let good = app
        .post(
            "/api/v1/webhooks",
            Some(&admin),
            json!({"url": url, "event_types": ["*"], "secret": SECRET, "allow_http": true}),
        )
        .await;
    assert_eq!(good.status, 201, "{}", good.body);
    let wrong = app
        .post(
            "/api/v1/webhooks",
            Some(&admin),
            json!({"url": url, "event_types": ["order.transitioned"], "secret": OTHER_SECRET, "allow_http": true}),
        )
        .await;
    assert_eq!(wrong.status, 201, "{}", wrong.body);

    // The dispatcher starts with the server; the mail server is down.
    let _dispatcher = larmkoll::app::outbox::spawn_dispatcher(app.db.clone(), settings).unwrap();
    receiver.hang_next.store(false, Ordering::SeqCst);

    let crew = app.crew().await;
    let customer = crew.assessor.boo_customer_consenting(false, false).await;
    let number = customer.number().to_string();
    let t0 = Instant::now();
    let granted = crew
        .assessor
        .grant(
            &customer.id,
            json!({"service": "safety_alarm", "valid_from": days_ago(20)}),
        )
        .await;
    let order = crew.installer.book(&granted.order, days_ago(3)).await;
    receiver.hang_next.store(true, Ordering::SeqCst);
    let order = crew
        .installer
        .install(&order, days_ago(2), &["TX-1001"])
        .await;
    let _order = crew.coordinator.execute(&order).await;
    let api_time = t0.elapsed();
    // A dead mail server costs the API nothing: four steps, well under the SMTP timeout.
    assert!(
        api_time < Duration::from_secs(5),
        "the routine took {api_time:?}"
    );

    // Mails wait while the server is down: retried, none sent.
    wait_until("mail attempts against the dead server", 20, || async {
        outbox(&app, &admin)
            .await
            .iter()
            .any(|d| d["channel"] == "email" && d["attempts"].as_i64().unwrap() >= 2)
    })
    .await;
    let rows = outbox(&app, &admin).await;
    let mails_expected: Vec<&Value> = rows.iter().filter(|d| d["channel"] == "email").collect();
    assert!(!mails_expected.is_empty());
    assert!(mails_expected.iter().all(|d| d["state"] != "sent"));
    let waiting = mails_expected
        .iter()
        .find(|d| d["attempts"].as_i64().unwrap() >= 2)
        .unwrap();
    assert!(
        waiting["last_error"].as_str().unwrap().contains("smtp"),
        "{waiting}"
    );
    // Waiting for its next try, or being tried again right now.
    assert!(
        ["väntar", "skickas"].contains(&waiting["state_sv"].as_str().unwrap()),
        "{waiting}"
    );

    // The mail server comes back.
    let smtp = Smtp::start(smtp_port, maildir.path()).expect("aiosmtpd");
    wait_until("every mail sent and every webhook settled", 40, || async {
        outbox(&app, &admin)
            .await
            .iter()
            .all(|d| d["state"] == "sent" || d["state"] == "failed")
    })
    .await;
    let rows = outbox(&app, &admin).await;

    // Mail: each outbox row delivered exactly once, to its address, by its Message-ID.
    let mails = smtp.mails();
    let email_rows: Vec<&Value> = rows.iter().filter(|d| d["channel"] == "email").collect();
    assert!(
        email_rows.iter().all(|d| d["state"] == "sent"),
        "{email_rows:?}"
    );
    let ids: BTreeSet<&str> = mails.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids.len(), mails.len(), "a mail arrived twice");
    assert_eq!(mails.len(), email_rows.len());
    for d in &email_rows {
        let mid = format!("<{}@kommun.test>", d["id"].as_str().unwrap());
        let mail = mails
            .iter()
            .find(|m| m.message_id == mid)
            .unwrap_or_else(|| panic!("no mail {mid}"));
        assert_eq!(mail.to, d["target"].as_str().unwrap());
        assert!(
            mail.body.contains(&format!("Kundnummer: {number}")),
            "{}",
            mail.body
        );
        assert!(mail
            .body
            .contains("https://larmkoll.kommun.test/desk/#messages"));
        assert!(mail.subject.contains(&number), "{}", mail.subject);
    }
    // Who got which topic: the ordered notice reaches the alarm team's mailbox,
    // the installed one billing's officer (by topic) and the groups.
    let topics_to = |addr: &str| -> BTreeSet<String> {
        email_rows
            .iter()
            .filter(|d| d["target"] == addr)
            .map(|d| d["event_type"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        topics_to("avgift@kommun.test"),
        BTreeSet::from(["installed".to_string()])
    );
    assert!(mails
        .iter()
        .any(|m| m.subject.starts_with("Ny beställning")));
    assert!(mails
        .iter()
        .any(|m| m.body.contains("installerades hos kund")));

    // Webhooks: every delivery to the good subscription accepted once (a
    // retry after the late answer may repeat an id; the receiver sees it by
    // webhook-id), the wrong secret's all refused and failed.
    let good_id = good.body["id"].as_str().unwrap();
    let good_rows: Vec<&Value> = rows
        .iter()
        .filter(|d| d["subscription_id"] == good_id)
        .collect();
    assert!(
        good_rows.iter().all(|d| d["state"] == "sent"),
        "{good_rows:?}"
    );
    let accepted = receiver.accepted.lock().unwrap().clone();
    let accepted_ids: BTreeSet<&str> = accepted.iter().map(|(id, _)| id.as_str()).collect();
    let row_ids: BTreeSet<&str> = good_rows
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(accepted_ids, row_ids);
    assert_eq!(
        accepted.len(),
        accepted_ids.len(),
        "a webhook accepted twice"
    );
    assert!(
        good_rows
            .iter()
            .any(|d| d["attempts"].as_i64().unwrap() > 1),
        "the 500s and the timeout were retried"
    );
    assert_eq!(receiver.failed_on_purpose.load(Ordering::SeqCst), 3);
    let types: BTreeSet<String> = accepted
        .iter()
        .map(|(_, b)| {
            serde_json::from_str::<Value>(b).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    for t in [
        "decision.granted",
        "order.transitioned",
        "execution.started",
        "billing.start",
        "equipment.moved",
        "message.created",
    ] {
        assert!(types.contains(t), "no {t} among {types:?}");
    }
    for (_, b) in &accepted {
        let v: Value = serde_json::from_str(b).unwrap();
        if v["data"]["customer_number"].is_string() {
            assert_eq!(v["data"]["customer_number"], number.as_str());
        }
    }
    let wrong_id = wrong.body["id"].as_str().unwrap();
    let wrong_rows: Vec<&Value> = rows
        .iter()
        .filter(|d| d["subscription_id"] == wrong_id)
        .collect();
    assert!(!wrong_rows.is_empty());
    assert!(
        wrong_rows
            .iter()
            .all(|d| d["state"] == "failed" && d["state_sv"] == "misslyckat"),
        "{wrong_rows:?}"
    );
    assert!(receiver.bad_signatures.load(Ordering::SeqCst) >= wrong_rows.len() * 2);

    // Nothing personal in any mail or payload.
    let personal = personal_data(&app).await;
    for m in &mails {
        assert_no_personal_data(
            "a mail",
            &format!("{}\n{}\n{}", m.subject, m.to, m.body),
            &personal,
        );
    }
    for (_, b) in &accepted {
        assert_no_personal_data("a webhook payload", b, &personal);
    }

    // The admin replays a failed delivery: pending again, same id.
    let failed = wrong_rows[0]["id"].as_str().unwrap();
    let res = app
        .post(
            &format!("/api/v1/outbox/{failed}/replay"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(res.body["state"] == "pending" || res.body["state"] == "sending");
    assert_eq!(res.body["id"], failed);
    let res = app
        .post(
            &format!("/api/v1/outbox/{}/replay", uuid::Uuid::new_v4()),
            Some(&admin),
            json!({}),
        )
        .await;
    res.assert_problem(404, "outbox_not_found", "delivery", "leverans");
    eprintln!(
        "outbox on {backend:?}: {} mails, {} webhooks accepted, {} refused signatures; {:.1} s",
        mails.len(),
        accepted.len(),
        receiver.bad_signatures.load(Ordering::SeqCst),
        started.elapsed().as_secs_f64()
    );
}

async fn put(app: &TestApp, token: &str, path: &str, body: Value) -> (u16, Value) {
    let res = app
        .send(
            "PUT",
            path,
            Some(token),
            &[("content-type", "application/json")],
            Some(body.to_string().into_bytes()),
        )
        .await;
    (res.status, res.body)
}

/// Two dispatchers, each with its own connection pool as two servers would
/// have, claim from one database: every mail and webhook is delivered once.
async fn two_dispatchers_on_one_database_send_each_once(backend: Backend) {
    let smtp_port = free_port();
    let Some((app, settings)) = start(backend, smtp_port).await else {
        return;
    };
    let maildir = tempfile::tempdir().unwrap();
    let Some(smtp) = Smtp::start(smtp_port, maildir.path()) else {
        return;
    };
    let admin = app.login("admin").await;
    let receiver = Receiver::default();
    let (url, _stop) = receiver.start();
    let res = app
        .post(
            "/api/v1/webhooks",
            Some(&admin),
            json!({"url": url, "event_types": ["*"], "secret": SECRET, "allow_http": true}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let groups = app.get("/api/v1/groups", &admin).await.body;
    for (i, g) in groups.as_array().unwrap().iter().enumerate() {
        let res = put(
            &app,
            &admin,
            &format!("/api/v1/groups/{}/mailbox", g["id"].as_str().unwrap()),
            json!({"address": format!("grupp{i}@kommun.test")}),
        )
        .await;
        assert_eq!(res.0, 204);
    }
    // Work first, then both dispatchers race for it.
    let crew = app.crew().await;
    for c in crew.assessor.customers().await.into_iter().take(12) {
        crew.assessor
            .grant(
                &c.id,
                json!({"service": "safety_alarm", "valid_from": days_ago(5)}),
            )
            .await;
    }
    let second = Db2::connect(&app).await;
    let _a = larmkoll::app::outbox::spawn_dispatcher(app.db.clone(), settings.clone()).unwrap();
    let _b = larmkoll::app::outbox::spawn_dispatcher(second, settings).unwrap();
    wait_until("everything sent", 60, || async {
        outbox(&app, &admin)
            .await
            .iter()
            .all(|d| d["state"] == "sent")
    })
    .await;
    let rows = outbox(&app, &admin).await;
    let mails = smtp.mails();
    let email_rows = rows.iter().filter(|d| d["channel"] == "email").count();
    let hook_rows = rows.iter().filter(|d| d["channel"] == "webhook").count();
    let mail_ids: BTreeSet<&str> = mails.iter().map(|m| m.message_id.as_str()).collect();
    let accepted = receiver.accepted.lock().unwrap().clone();
    let hook_ids: BTreeSet<&str> = accepted.iter().map(|(i, _)| i.as_str()).collect();
    assert!(
        email_rows >= 12 && hook_rows >= 12,
        "{email_rows} {hook_rows}"
    );
    assert_eq!(
        (mails.len(), mail_ids.len()),
        (email_rows, email_rows),
        "mails"
    );
    assert_eq!(
        (accepted.len(), hook_ids.len()),
        (hook_rows, hook_rows),
        "webhooks"
    );
    assert!(rows.iter().all(|d| d["attempts"] == 1), "each claimed once");
    eprintln!(
        "two dispatchers on {backend:?}: {email_rows} mails and {hook_rows} webhooks, each once"
    );
}

/// A second connection pool on the test's database: another server's.
struct Db2;

impl Db2 {
    async fn connect(app: &TestApp) -> larmkoll::db::Db {
        let url = app.database_url().to_string();
        web::block(move || {
            larmkoll::db::Db::connect(larmkoll::db::DatabaseTarget::from_url(&url).unwrap(), 2)
        })
        .await
        .unwrap()
        .unwrap()
    }
}

/// The real binary, SIGKILLed at random moments while it dispatches (a slow
/// receiver keeps it busy), restarted on the same database each time: every
/// mail and webhook arrives; a duplicate (sent, then killed before the mark)
/// carries the same Message-ID / webhook-id and is counted.
async fn sigkilled_during_dispatch_loses_nothing(backend: Backend) {
    use crate::faults::Server;
    use rand::{Rng, SeedableRng};
    let Some(database) = crate::helpers::TestDatabase::migrated(backend) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let smtp_port = free_port();
    let Some(smtp) = Smtp::start(smtp_port, work.path()) else {
        return;
    };
    let kills: usize = std::env::var("OUTBOX_KILLS")
        .ok()
        .map(|v| v.parse().unwrap())
        .unwrap_or(3);
    let seed: u64 = std::env::var("FAULT_SEED")
        .ok()
        .map(|v| v.parse().unwrap())
        .unwrap_or_else(|| rand::random::<u64>() % 1_000_000);
    eprintln!("outbox kill run ({backend:?}): seed {seed}, {kills} kills");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let receiver = Receiver::default();
    receiver.delay_ms.store(300, Ordering::SeqCst);
    let (url, _stop) = receiver.start();
    let data = work.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let mut server = Server::new(
        &data,
        &database.url,
        vec![
            ("LARMKOLL_ACCESS_TOKEN_MINUTES", "600".into()),
            ("LARMKOLL_SMTP_HOST", "127.0.0.1".into()),
            ("LARMKOLL_SMTP_PORT", smtp_port.to_string()),
            ("LARMKOLL_SMTP_TLS", "none".into()),
            ("LARMKOLL_MAIL_FROM", "larmkoll@kommun.test".into()),
            ("LARMKOLL_OUTBOX_POLL_MILLIS", "100".into()),
            ("LARMKOLL_OUTBOX_LEASE_SECONDS", "2".into()),
            ("LARMKOLL_OUTBOX_RETRY_BASE_MILLIS", "200".into()),
            ("LARMKOLL_WEBHOOK_TIMEOUT_SECONDS", "5".into()),
        ],
    );
    server.start();
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    let base = server.base();
    let login = |user: &'static str| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let mut res = client
                .post(format!("{base}/api/v1/auth/login"))
                .send_json(&json!({"username": user, "password": "demo"}))
                .await
                .unwrap();
            let v: Value = res.json().await.unwrap();
            v["access_token"].as_str().unwrap().to_string()
        }
    };
    let call = |method: &'static str, path: String, token: String, body: Value| {
        let (client, base) = (client.clone(), base.clone());
        async move {
            let req = client
                .request(
                    awc::http::Method::from_bytes(method.as_bytes()).unwrap(),
                    format!("{base}{path}"),
                )
                .bearer_auth(token);
            let mut res = if body.is_null() {
                req.send().await.unwrap()
            } else {
                req.send_json(&body).await.unwrap()
            };
            let status = res.status().as_u16();
            let bytes = res.body().limit(8 << 20).await.unwrap();
            (
                status,
                serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
            )
        }
    };
    let admin = login("admin").await;
    let assessor = login("handlaggare").await;
    let (status, hook) = call(
        "POST",
        "/api/v1/webhooks".into(),
        admin.clone(),
        json!({"url": url, "event_types": ["*"], "secret": SECRET, "allow_http": true}),
    )
    .await;
    assert_eq!(status, 201, "{hook}");
    let (_, groups) = call("GET", "/api/v1/groups".into(), admin.clone(), Value::Null).await;
    for (i, g) in groups.as_array().unwrap().iter().enumerate() {
        let (status, _) = call(
            "PUT",
            format!("/api/v1/groups/{}/mailbox", g["id"].as_str().unwrap()),
            admin.clone(),
            json!({"address": format!("grupp{i}@kommun.test")}),
        )
        .await;
        assert_eq!(status, 204);
    }
    let (_, customers) = call(
        "GET",
        "/api/v1/customers?limit=50".into(),
        assessor.clone(),
        Value::Null,
    )
    .await;
    let customers = customers["items"]
        .as_array()
        .or(customers.as_array())
        .unwrap()
        .clone();
    // The base demo's customers: the living demo's have their alarms.
    for c in customers
        .iter()
        .filter(|c| is_base_demo_customer(c))
        .take(15)
    {
        let (status, body) = call(
            "POST",
            format!("/api/v1/customers/{}/decisions", c["id"].as_str().unwrap()),
            assessor.clone(),
            json!({"service": "safety_alarm", "valid_from": days_ago(5)}),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    // Dispatch has begun; kill it at random moments and start it again.
    let mut restarts = Vec::new();
    for _ in 0..kills {
        actix_web::rt::time::sleep(Duration::from_millis(rng.gen_range(150..900))).await;
        server.kill();
        restarts.push(server.start());
    }
    let admin = login("admin").await;
    let deadline = Instant::now() + Duration::from_secs(90);
    let rows = loop {
        let (_, rows) = call(
            "GET",
            "/api/v1/outbox?limit=1000".into(),
            admin.clone(),
            Value::Null,
        )
        .await;
        let rows = rows.as_array().unwrap().clone();
        if rows.iter().all(|d| d["state"] == "sent") {
            break rows;
        }
        assert!(Instant::now() < deadline, "not all sent: {rows:?}");
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    };
    server.kill();
    let mails = smtp.mails();
    let accepted = receiver.accepted.lock().unwrap().clone();
    let mut lost = 0;
    let (mut mail_dups, mut hook_dups) = (0, 0);
    for d in &rows {
        let id = d["id"].as_str().unwrap();
        let n = if d["channel"] == "email" {
            let mid = format!("<{id}@kommun.test>");
            let n = mails.iter().filter(|m| m.message_id == mid).count();
            mail_dups += n.saturating_sub(1);
            n
        } else {
            let n = accepted.iter().filter(|(i, _)| i == id).count();
            hook_dups += n.saturating_sub(1);
            n
        };
        if n == 0 {
            lost += 1;
        }
    }
    let email_rows = rows.iter().filter(|d| d["channel"] == "email").count();
    // Nothing arrived that is not an outbox row: every duplicate is recognisable.
    assert_eq!(mails.len(), email_rows + mail_dups);
    assert_eq!(accepted.len(), rows.len() - email_rows + hook_dups);
    eprintln!(
        "outbox kill run ({backend:?}): seed {seed}, {kills} kills, {} mails and {} webhooks, lost {lost}, duplicates: {mail_dups} mails, {hook_dups} webhooks (each by its Message-ID / webhook-id); restarts {:?}",
        email_rows,
        rows.len() - email_rows,
        restarts
    );
    assert_eq!(lost, 0);
}
