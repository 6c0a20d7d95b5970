//! Sign-in through the municipality's identity provider, against a real
//! OpenID provider on loopback (panva's oidc-provider, `tests/oidc/`): the
//! happy path, and every answer Larmkoll must refuse — each refused in
//! Swedish, audited, and nothing else changed.

use crate::helpers::{free_port, tool, Backend, Response, TestApp};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const CLIENT_ID: &str = "larmkoll";
const CLIENT_SECRET: &str = "test-hemlighet-for-larmkoll-2026";
const LOA2: &str = "http://id.elegnamnden.se/loa/1.0/loa2";
const LOA3: &str = "http://id.elegnamnden.se/loa/1.0/loa3";

/// The provider's process; every start makes a new signing key.
pub struct Provider {
    child: Child,
    pub port: u16,
    app_base: String,
    pub kid: String,
}

impl Provider {
    /// Starts it, or says why the test is skipped (`REQUIRE_TOOLS=1`: fails).
    pub fn start(app_base: &str) -> Option<Self> {
        let node = tool("node")?;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
        if !dir.join("node_modules/oidc-provider").is_dir() {
            if std::env::var("REQUIRE_TOOLS").as_deref() == Ok("1") {
                panic!("REQUIRE_TOOLS=1 but tests/oidc has no node_modules; `bash .ci/run` installs it");
            }
            eprintln!("SKIPPED: the OpenID provider is not installed (npm ci --prefix tests/oidc)");
            return None;
        }
        Some(Self::spawn(&node, app_base, free_port()))
    }

    fn spawn(node: &std::path::Path, app_base: &str, port: u16) -> Self {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
        let mut child = Command::new(node)
            .arg("provider.mjs")
            .current_dir(&dir)
            .env("PORT", port.to_string())
            .env("CLIENT_ID", CLIENT_ID)
            .env("CLIENT_SECRET", CLIENT_SECRET)
            .env(
                "REDIRECT_URI",
                format!("{app_base}/api/v1/auth/oidc/callback"),
            )
            .env(
                "POST_LOGOUT_URI",
                format!("{app_base}/desk/index.html,{app_base}/"),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs the provider");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let ready = lines
            .by_ref()
            .map_while(Result::ok)
            .find(|l| l.starts_with("ready "))
            .expect("the provider says it is ready");
        std::thread::spawn(move || lines.for_each(drop));
        let kid = ready.split(' ').nth(2).unwrap_or_default().to_string();
        Self {
            child,
            port,
            app_base: app_base.to_string(),
            kid,
        }
    }

    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops it and starts it again on the same port with a new key: a key rotation.
    pub fn rotate(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let node = tool("node").expect("node");
        let mut fresh = None;
        for _ in 0..50 {
            // The port is free again once the old process is gone.
            if std::net::TcpListener::bind(("127.0.0.1", self.port)).is_ok() {
                fresh = Some(Self::spawn(&node, &self.app_base, self.port));
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        // The old one is dead and reaped; dropping it again does no harm.
        *self = fresh.expect("the provider's port is free again");
    }

    /// Makes the provider's next token response carry an altered ID token.
    pub async fn tamper(&self, change: Value) {
        let res = awc::Client::default()
            .post(format!("{}/__test/tamper", self.issuer()))
            .send_json(&change)
            .await
            .expect("the provider's test hook answers");
        assert_eq!(res.status().as_u16(), 204);
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A browser as far as the flow needs one: its own cookies (per host, as
/// browsers keep them across ports), no automatic redirects.
#[derive(Default)]
pub struct Browser {
    cookies: BTreeMap<String, String>,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Browser {
    async fn request(&mut self, method: &str, url: &str, form: Option<&[(&str, &str)]>) -> Page {
        let client = awc::Client::builder()
            .disable_redirects()
            .timeout(std::time::Duration::from_secs(30))
            .finish();
        let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = client.request(method, url);
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req = req.insert_header(("Cookie", jar.join("; ")));
        }
        let mut res = match form {
            Some(f) => req.send_form(&f.to_vec()).await,
            None => req.send().await,
        }
        .expect("request is answered");
        for set in res.headers().get_all("set-cookie") {
            let text = set.to_str().unwrap_or_default();
            let (pair, attrs) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let attrs = attrs.to_ascii_lowercase();
            if value.is_empty() || attrs.contains("max-age=0") || attrs.contains("1970") {
                self.cookies.remove(name.trim());
            } else {
                self.cookies
                    .insert(name.trim().to_string(), value.trim().to_string());
            }
        }
        let location = res
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(|l| absolute(url, l));
        let body = res.body().limit(1 << 20).await.unwrap_or_default();
        Page {
            status: res.status().as_u16(),
            location,
            body: String::from_utf8_lossy(&body).into(),
        }
    }

    pub async fn get(&mut self, url: &str) -> Page {
        self.request("GET", url, None).await
    }

    /// From Larmkoll's login button to the provider's redirect back to the
    /// callback (not yet followed): logs in at the provider as `account` with
    /// assurance level `acr`.
    pub async fn login_at_provider(
        &mut self,
        app: &TestApp,
        which: &str,
        account: &str,
        acr: &str,
    ) -> String {
        let mut url = format!("{}/api/v1/auth/oidc/start?app={which}", app.base);
        for _ in 0..12 {
            if url.starts_with(&format!("{}/api/v1/auth/oidc/callback", app.base)) {
                return url;
            }
            let page = self.get(&url).await;
            if let Some(next) = page.location {
                url = next;
                continue;
            }
            assert_eq!(page.status, 200, "{url}: {}", page.body);
            let action = page
                .body
                .split("action=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or_else(|| panic!("a login form at {url}: {}", page.body))
                .to_string();
            let post = self
                .request(
                    "POST",
                    &absolute(&url, &action),
                    Some(&[("login", account), ("acr", acr)]),
                )
                .await;
            url = post.location.expect("the provider goes on after the login");
        }
        panic!("never reached the callback; last at {url}");
    }

    /// Follows the callback to the app and returns the ticket in the fragment.
    pub async fn callback(&mut self, app: &TestApp, url: &str, which: &str) -> String {
        let page = self.get(url).await;
        assert_eq!(page.status, 303, "{}", page.body);
        let landing = page.location.expect("to the app");
        let expected = match which {
            "desk" => format!("{}/desk/index.html#oidc=", app.base),
            _ => format!("{}/#oidc=", app.base),
        };
        assert!(landing.starts_with(&expected), "{landing}");
        landing[expected.len()..].to_string()
    }
}

fn absolute(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_string();
    }
    let origin: String = base.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
    format!("{origin}{location}")
}

pub struct Fixture {
    pub app: TestApp,
    pub provider: Provider,
    pub admin: String,
}

/// The demo municipality with the provider configured, LoA3 required, users
/// matched on `sub`.
pub async fn fixture(
    backend: Backend,
    adjust: impl FnOnce(&mut larmkoll::config::Settings),
) -> Option<Fixture> {
    let port = free_port();
    let app_base = format!("http://127.0.0.1:{port}");
    let provider = Provider::start(&app_base)?;
    let issuer = provider.issuer();
    // The secret comes from the environment only; each test process sets the same.
    std::env::set_var("LARMKOLL_OIDC_CLIENT_SECRET", CLIENT_SECRET);
    let app = TestApp::start_configured(backend, true, |s| {
        s.listen = format!("127.0.0.1:{port}").parse().expect("address");
        s.oidc_issuer = Some(issuer);
        s.oidc_client_id = Some(CLIENT_ID.into());
        s.oidc_required_acr = Some(LOA3.into());
        adjust(s);
    })
    .await?;
    let admin = app.login("admin").await;
    Some(Fixture {
        app,
        provider,
        admin,
    })
}

impl Fixture {
    /// A user who signs in at the provider as `external_id` (no password).
    pub async fn provisioned(&self, username: &str, external_id: &str) -> String {
        let res = self
            .app
            .post(
                "/api/v1/users",
                Some(&self.admin),
                json!({"username": username, "display_name": "Anna Lind", "role": "installer", "external_id": external_id}),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.body);
        assert_eq!(res.body["has_password"], false);
        assert_eq!(res.body["external_id"], external_id);
        res.body["id"].as_str().expect("id").to_string()
    }

    pub async fn redeem(&self, ticket: &str) -> Response {
        self.app
            .post("/api/v1/auth/oidc/token", None, json!({ "ticket": ticket }))
            .await
    }

    /// The whole login as a browser makes it, redeemed.
    pub async fn sign_in(&self, account: &str, acr: &str) -> Response {
        let mut browser = Browser::default();
        let cb = browser
            .login_at_provider(&self.app, "desk", account, acr)
            .await;
        let ticket = browser.callback(&self.app, &cb, "desk").await;
        self.redeem(&ticket).await
    }

    /// Sessions and users: what a refused login must leave as it was.
    pub async fn footprint(&self) -> (i64, i64) {
        self.app
            .db
            .run(|conn| {
                use diesel::prelude::*;
                use larmkoll::db::schema::{refresh_tokens, users};
                Ok((
                    refresh_tokens::table.count().get_result::<i64>(conn)?,
                    users::table.count().get_result::<i64>(conn)?,
                ))
            })
            .await
            .expect("count")
    }

    /// Denied logins audited with this reason.
    pub async fn refusals(&self, reason: &str) -> i64 {
        let reason = format!("oidc:{reason}");
        self.app
            .db
            .run(move |conn| {
                use diesel::prelude::*;
                use larmkoll::db::schema::audit_log::dsl as al;
                Ok(al::audit_log
                    .filter(al::action.eq("auth.login"))
                    .filter(al::outcome.eq("denied"))
                    .filter(al::reason.eq(reason))
                    .count()
                    .get_result::<i64>(conn)?)
            })
            .await
            .expect("audit")
    }

    /// Logins through the provider audited as successful for this user.
    pub async fn logins_of(&self, user_id: &str) -> i64 {
        let user_id = user_id.to_string();
        self.app
            .db
            .run(move |conn| {
                use diesel::prelude::*;
                use larmkoll::db::schema::audit_log::dsl as al;
                Ok(al::audit_log
                    .filter(al::action.eq("auth.login"))
                    .filter(al::outcome.eq("ok"))
                    .filter(al::reason.eq("oidc"))
                    .filter(al::user_id.eq(user_id))
                    .count()
                    .get_result::<i64>(conn)?)
            })
            .await
            .expect("audit")
    }

    /// Asserts a refusal: 403 `login_refused` with the Swedish words, audited
    /// once with `reason`, no session and no user made.
    pub async fn assert_refused(&self, res: &Response, reason: &str, sv: &str, before: (i64, i64)) {
        res.assert_problem(403, "login_refused", "", sv);
        assert_eq!(self.refusals(reason).await, 1, "audited as {reason}");
        assert_eq!(self.footprint().await, before, "nothing else changed");
    }
}

async fn happy_path(backend: Backend) {
    let Some(f) = fixture(backend, |_| {}).await else {
        return;
    };
    let methods = f
        .app
        .send("GET", "/api/v1/auth/methods", None, &[], None)
        .await;
    assert_eq!(methods.body["password"], true);
    assert_eq!(
        methods.body["provider"]["button_text"],
        "Logga in med kommunens inloggning"
    );
    let id = f.provisioned("anna.lind", "anna-sso").await;
    let mut browser = Browser::default();
    let cb = browser
        .login_at_provider(&f.app, "field", "anna-sso", LOA3)
        .await;
    let ticket = browser.callback(&f.app, &cb, "field").await;
    let res = f.redeem(&ticket).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["user"]["username"], "anna.lind");
    let token = res.body["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    let me = f.app.get("/api/v1/auth/me", &token).await;
    assert_eq!(
        (me.status, me.body["id"].as_str()),
        (200, Some(id.as_str()))
    );
    // Larmkoll's own refresh works as after a password login.
    let refreshed = f
        .app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": res.body["refresh_token"]}),
        )
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    assert_eq!(f.logins_of(&id).await, 1);

    // The ticket works once.
    f.redeem(&ticket).await.assert_problem(
        401,
        "login_refused",
        "no longer valid",
        "gäller inte längre",
    );
    // The provider's answer cannot be played again, not even by the same browser.
    let before = f.footprint().await;
    let again = browser.callback(&f.app, &cb, "field").await;
    let replayed = f.redeem(&again).await;
    f.assert_refused(&replayed, "state_replayed", "redan använts", before)
        .await;

    // Logout ends the session here and sends the browser to the provider's logout.
    let access = refreshed.body["access_token"].as_str().expect("token");
    let out = f
        .app
        .post("/api/v1/auth/logout", Some(access), json!({}))
        .await;
    assert_eq!(out.status, 200, "{}", out.body);
    let end = out.body["end_session_url"]
        .as_str()
        .expect("end session url");
    assert!(
        end.starts_with(&format!("{}/session/end", f.provider.issuer())),
        "{end}"
    );
    assert!(end.contains("id_token_hint="), "{end}");
    assert!(end.contains("post_logout_redirect_uri="), "{end}");
    let page = browser.get(end).await;
    assert_eq!(
        page.status, 200,
        "the provider shows its logout page: {}",
        page.body
    );
    assert_eq!(f.app.get("/api/v1/auth/me", access).await.status, 401);
}

#[actix_web::test]
async fn a_provisioned_user_signs_in_through_the_provider_on_sqlite() {
    happy_path(Backend::Sqlite).await;
}

#[actix_web::test]
async fn a_provisioned_user_signs_in_through_the_provider_on_postgres() {
    happy_path(Backend::Postgres).await;
}

#[actix_web::test]
async fn forged_stale_or_misdirected_id_tokens_are_refused() {
    let Some(f) = fixture(Backend::Sqlite, |_| {}).await else {
        return;
    };
    f.provisioned("anna.lind", "anna-sso").await;
    let cases = [
        (json!({"iss": "http://127.0.0.1:1/falsk"}), "wrong_issuer"),
        (json!({"aud": "another-client"}), "wrong_audience"),
        (json!({"nonce": "an-old-nonce"}), "wrong_nonce"),
        (json!({"expired": true}), "id_token_expired"),
        (json!({"foreign_key": true}), "bad_signature"),
    ];
    for (change, reason) in cases {
        let before = f.footprint().await;
        f.provider.tamper(change).await;
        let res = f.sign_in("anna-sso", LOA3).await;
        f.assert_refused(&res, reason, "gick inte att styrka", before)
            .await;
    }
}

#[actix_web::test]
async fn the_wrong_person_or_too_low_assurance_is_refused() {
    let Some(f) = fixture(Backend::Sqlite, |_| {}).await else {
        return;
    };
    let id = f.provisioned("anna.lind", "anna-sso").await;

    let before = f.footprint().await;
    let res = f.sign_in("anna-sso", LOA2).await;
    f.assert_refused(&res, "acr_too_low", "högre tillitsnivå", before)
        .await;

    let before = f.footprint().await;
    let res = f.sign_in("okand-person", LOA3).await;
    f.assert_refused(&res, "unknown_person", "finns inte som användare", before)
        .await;

    let user = f.app.get(&format!("/api/v1/users/{id}"), &f.admin).await;
    let etag = format!("\"{}\"", user.body["version"].as_i64().expect("version"));
    let off = f
        .app
        .patch(
            &format!("/api/v1/users/{id}"),
            &f.admin,
            Some(&etag),
            json!({"active": false}),
        )
        .await;
    assert_eq!(off.status, 200, "{}", off.body);
    let before = f.footprint().await;
    let res = f.sign_in("anna-sso", LOA3).await;
    f.assert_refused(&res, "user_inactive", "avstängt", before)
        .await;
    assert_eq!(f.logins_of(&id).await, 0);
}

#[actix_web::test]
async fn a_state_that_is_missing_or_from_another_browser_is_refused() {
    let Some(f) = fixture(Backend::Sqlite, |_| {}).await else {
        return;
    };
    f.provisioned("anna.lind", "anna-sso").await;

    // The provider's answer carried to another browser (login CSRF, a shared link).
    let before = f.footprint().await;
    let mut mine = Browser::default();
    let cb = mine
        .login_at_provider(&f.app, "desk", "anna-sso", LOA3)
        .await;
    let mut other = Browser::default();
    let ticket = other.callback(&f.app, &cb, "desk").await;
    f.assert_refused(
        &f.redeem(&ticket).await,
        "state_other_browser",
        "inte i den här webbläsaren",
        before,
    )
    .await;
    // The login it named is untouched: its own browser still completes it.
    let ticket = mine.callback(&f.app, &cb, "desk").await;
    assert_eq!(f.redeem(&ticket).await.status, 200);

    // An answer without a state.
    let before = f.footprint().await;
    let mut browser = Browser::default();
    let cb = browser
        .login_at_provider(&f.app, "desk", "anna-sso", LOA3)
        .await;
    let (path, query) = cb.split_once('?').expect("query");
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.starts_with("state="))
        .collect();
    let ticket = browser
        .callback(&f.app, &format!("{path}?{}", kept.join("&")), "desk")
        .await;
    f.assert_refused(
        &f.redeem(&ticket).await,
        "state_missing",
        "Börja om",
        before,
    )
    .await;
}

#[actix_web::test]
async fn a_key_rotation_at_the_provider_between_two_logins_is_followed() {
    let Some(mut f) = fixture(Backend::Sqlite, |_| {}).await else {
        return;
    };
    let id = f.provisioned("anna.lind", "anna-sso").await;
    assert_eq!(f.sign_in("anna-sso", LOA3).await.status, 200);
    let old = f.provider.kid.clone();
    f.provider.rotate();
    assert_ne!(f.provider.kid, old, "a new signing key");
    let res = f.sign_in("anna-sso", LOA3).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(f.logins_of(&id).await, 2);
}

#[actix_web::test]
async fn password_login_can_be_kept_for_break_glass_accounts_only() {
    let Some(f) = fixture(Backend::Sqlite, |s| {
        s.password_login = false;
        s.break_glass_accounts = vec!["admin".into()];
    })
    .await
    else {
        return;
    };
    // A break-glass account keeps its password login.
    let admin = f
        .app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "admin", "password": "demo"}),
        )
        .await;
    assert_eq!(admin.status, 200, "{}", admin.body);
    let methods = f
        .app
        .send("GET", "/api/v1/auth/methods", None, &[], None)
        .await;
    assert_eq!(methods.body["password"], false);
    let refused = f
        .app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "installator", "password": "demo"}),
        )
        .await;
    refused.assert_problem(403, "password_login_off", "switched off", "avstängd");
}
