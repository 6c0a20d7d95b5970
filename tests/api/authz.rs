//! Who may do what: every operation of the served OpenAPI document × every
//! role × where the target is (a customer served by one of the caller's own
//! groups; one in the caller's area served by another group; one in another
//! area). The expected status of each cell is written down in
//! `authz_matrix.tsv`; a cell missing from the table, or a row for an
//! operation the API does not have, fails the test. Each cell is a valid
//! request against a real target in that scope, so an allowed cell really
//! succeeds, and its audit-log entries are checked by the request id.
//!
//! `AUTHZ_MATRIX_OBSERVED=1` also writes what the server answered, in the
//! table's layout, to `target/authz_matrix.<backend>.observed.tsv` (a
//! starting point when the API grows; the table itself is reviewed by hand);
//! `AUTHZ_TIMING=1` prints each operation's time.

use crate::helpers::{Backend, Response, TestApp};
use chrono::{Duration, NaiveDate};
use larmkoll::domain::messages::MessageRules;
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap};

const TABLE: &str = include_str!("authz_matrix.tsv");
const PNG: &[u8] = include_bytes!("../fixtures/nyckelkvittens.png");
/// The shared documents are this phone photo, with EXIF and a GPS position.
const GPS_PHOTO: &[u8] = include_bytes!("../fixtures/portrait-orientation-6-gps.jpg");
const FX_PASSWORD: &str = "ett-langt-losenord";

/// The roles and the demo user acting in each.
const ROLES: [(&str, &str); 7] = [
    ("admin", "admin"),
    ("assessor", "handlaggare"),
    ("coordinator", "koordinator"),
    ("installer", "installator"),
    ("care_staff", "hemtjanst"),
    ("billing", "avgift"),
    ("alarm_center", "larmcentral"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Scope {
    /// Served by one of the caller's own groups (all four Boo groups).
    Own,
    /// In the caller's area (Boo), served only by a group the caller is not in.
    OtherGroup,
    /// In another area (Sickla).
    OtherArea,
}

const SCOPES: [Scope; 3] = [Scope::Own, Scope::OtherGroup, Scope::OtherArea];

impl Scope {
    fn index(self) -> usize {
        self as usize
    }
}

/// What the audit log must show for a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Audit {
    /// Reads or changes a customer's data: an allowed call leaves an `ok`
    /// entry naming the customer, a scope denial (404) a `denied` one.
    Customer,
    /// Changes something that is not a customer's (organisation, catalogue,
    /// stock, sessions): an allowed call leaves an `ok` entry.
    Change,
    /// Nothing to check beyond "a 403 changed nothing".
    Nothing,
}

/// One cell's request.
struct Req {
    method: &'static str,
    path: String,
    token: Option<String>,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    audit: Audit,
    /// The customer the call is about.
    customer: Option<String>,
    /// For a list: the text (customer id or number) whose presence says the
    /// target is listed; the cell reads `200/hidden` when it is not.
    listed: Option<String>,
    /// The id that makes the target hidden from an out-of-scope caller: a
    /// refusal must answer exactly as if this id did not exist.
    hidden: Option<String>,
    /// What an allowed answer's body must be: a photo copy without metadata,
    /// or the original byte for byte.
    photo: Option<Photo>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Photo {
    WithoutMetadata,
    Original,
}

impl Req {
    fn new(method: &'static str, path: String) -> Self {
        Self {
            method,
            path,
            token: None,
            headers: Vec::new(),
            body: None,
            audit: Audit::Nothing,
            customer: None,
            listed: None,
            hidden: None,
            photo: None,
        }
    }

    fn json(mut self, body: Value) -> Self {
        self.headers
            .push(("Content-Type".into(), "application/json".into()));
        self.body = Some(body.to_string().into_bytes());
        self
    }

    fn if_match(mut self, version: &Value) -> Self {
        self.headers
            .push(("If-Match".into(), format!("\"{}\"", version)));
        self
    }

    fn about(mut self, customer: &Value) -> Self {
        self.audit = Audit::Customer;
        self.customer = Some(id(customer));
        self.hidden.get_or_insert_with(|| id(customer));
        self
    }

    fn hiding(mut self, hidden: &str) -> Self {
        self.hidden = Some(hidden.to_string());
        self
    }

    fn change(mut self) -> Self {
        self.audit = Audit::Change;
        self
    }

    fn listing(mut self, text: String) -> Self {
        self.listed = Some(text);
        self
    }
}

fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_string()
}

fn str_of(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {v}"))
        .to_string()
}

/// Every `METHOD /path` the served document lists.
fn operations(spec: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                out.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    out
}

/// The table: (operation, role) → the three scopes' expected cells.
/// (operation, role) → the cells for own group, other group, other area.
type Table = BTreeMap<(String, String), [String; 3]>;

fn parse_table() -> (Table, Vec<String>) {
    let mut cells = BTreeMap::new();
    let mut problems = Vec::new();
    for (n, line) in TABLE.lines().enumerate() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 5 {
            problems.push(format!("line {}: {} fields, not 5: {line}", n + 1, f.len()));
            continue;
        }
        if !ROLES.iter().any(|(r, _)| *r == f[1]) {
            problems.push(format!("line {}: unknown role {}", n + 1, f[1]));
        }
        for cell in &f[2..] {
            if !(cell.len() >= 3 && cell[..3].parse::<u16>().is_ok()) {
                problems.push(format!("line {}: cell {cell} is not a status", n + 1));
            }
        }
        let key = (f[0].to_string(), f[1].to_string());
        let value = [f[2].to_string(), f[3].to_string(), f[4].to_string()];
        if cells.insert(key, value).is_some() {
            problems.push(format!("line {}: {} {} written twice", n + 1, f[0], f[1]));
        }
    }
    (cells, problems)
}

struct World<'a> {
    app: &'a TestApp,
    today: NaiveDate,
    admin: String,
    tokens: HashMap<&'static str, String>,
    user_ids: HashMap<&'static str, String>,
    /// Fixture makers who reach all three scopes.
    fx_assessor: String,
    fx_installer: String,
    fx_coordinator: String,
    /// The alarm centre sees every customer.
    fx_alarm_centre: String,
    fx_installer_id: String,
    boo: String,
    sickla: String,
    boo_groups: Vec<String>,
    sickla_groups: Vec<String>,
    extra_group: String,
    alarm_model: String,
    lock_model: String,
    receipt_model: String,
    /// Shared targets, one per scope: read, never consumed.
    customers: Vec<Value>,
    orders: Vec<Value>,
    documents: Vec<String>,
    keys: Vec<String>,
    items: Vec<String>,
    /// Per (role, scope): a message to the role about the scope's customer.
    messages: HashMap<(String, Scope), String>,
    /// The thread of that message.
    threads: HashMap<(String, Scope), String>,
    n: Cell<u32>,
    /// A target per (operation, scope) reused by the cells expected to be refused.
    cache: RefCell<HashMap<(String, Scope), Value>>,
    /// Sessions opened by the login cells, used by refresh and logout.
    sessions: RefCell<HashMap<(String, Scope), (String, String)>>,
}

impl<'a> World<'a> {
    fn next(&self) -> u32 {
        let n = self.n.get() + 1;
        self.n.set(n);
        n
    }

    async fn ok(&self, res: Response, what: &str) -> Value {
        assert!(
            (200..300).contains(&res.status),
            "fixture {what}: {} {}",
            res.status,
            res.body
        );
        res.body
    }

    async fn post(&self, token: &str, path: &str, body: Value, what: &str) -> Value {
        let res = self.app.post(path, Some(token), body).await;
        self.ok(res, what).await
    }

    async fn post_if(
        &self,
        token: &str,
        path: &str,
        version: &Value,
        body: Value,
        what: &str,
    ) -> Value {
        let res = self
            .app
            .post_if(path, token, version.as_i64().expect("version"), body)
            .await;
        self.ok(res, what).await
    }

    /// A valid personnummer no demo customer has: born 1950 or later, birth
    /// number 980 (Skatteverket's test series).
    fn personnummer(&self) -> String {
        let n = self.next();
        let date = NaiveDate::from_ymd_opt(1950, 1, 1).unwrap() + Duration::days(n as i64);
        let nine = format!("{}980", date.format("%y%m%d"));
        let sum: u32 = nine
            .chars()
            .enumerate()
            .map(|(i, c)| {
                let d = c.to_digit(10).unwrap() * if i % 2 == 0 { 2 } else { 1 };
                d / 10 + d % 10
            })
            .sum();
        format!("{}-980{}", date.format("%Y%m%d"), (10 - sum % 10) % 10)
    }

    fn scope_groups(&self, scope: Scope) -> (String, Vec<String>) {
        match scope {
            Scope::Own => (self.boo.clone(), self.boo_groups.clone()),
            Scope::OtherGroup => (self.boo.clone(), vec![self.extra_group.clone()]),
            Scope::OtherArea => (self.sickla.clone(), self.sickla_groups.clone()),
        }
    }

    /// A new customer in the scope, created by the admin.
    async fn customer(&self, scope: Scope) -> Value {
        let (area, groups) = self.scope_groups(scope);
        let n = self.next();
        self.post(
            &self.admin,
            "/api/v1/customers",
            json!({
                "personnummer": self.personnummer(),
                "first_name": "Matris",
                "last_name": format!("Kund{n}"),
                "address": {"street": format!("Provgatan {n}"), "postal_code": "132 30", "city": "Nacka"},
                "area_id": area,
                "group_ids": groups,
                "key_position": "Skåp 1, krok 1",
                "consent_digital_lock": true,
                "consent_staff_unlock": true,
            }),
            "customer",
        )
        .await
    }

    async fn item(&self, model: &str, prefix: &str) -> Value {
        let n = self.next();
        let d = self
            .post(
                &self.admin,
                "/api/v1/equipment/items",
                json!({"model_id": model, "serial": format!("{prefix}-AZ{n}")}),
                "item",
            )
            .await;
        d["item"].clone()
    }

    async fn grant(&self, customer: &Value, service: &str) -> Value {
        self.post(
            &self.fx_assessor,
            &format!("/api/v1/customers/{}/decisions", id(customer)),
            json!({"service": service, "valid_from": (self.today - Duration::days(30)).to_string()}),
            "grant",
        )
        .await
    }

    async fn step(&self, token: &str, order: &Value, event: &str, body: Value) -> Value {
        let d = self
            .post_if(
                token,
                &format!("/api/v1/orders/{}/{event}", id(order)),
                &order["version"],
                body,
                event,
            )
            .await;
        d["order"].clone()
    }

    /// A fresh order of a fresh customer in the scope, driven to `state`.
    /// Returns the order, its customer and (once installed) its decision and serial.
    async fn order_at(&self, scope: Scope, service: &str, state: &str) -> Value {
        let customer = self.customer(scope).await;
        let granted = self.grant(&customer, service).await;
        let mut order = granted["order"].clone();
        let decision = granted["decision"].clone();
        let mut serial = Value::Null;
        let path: &[&str] = match state {
            "received" => &[],
            "returned_to_assessor" => &["return-to-assessor"],
            "booked" => &["book"],
            "installed" | "installed_receipt_left" => &["book", "install"],
            "registered_cancelled" => &["book", "install", "register", "cancel"],
            "executed" => &["book", "install", "execute"],
            "uninstall" => &["book", "install", "execute", "end-decision"],
            "equipment_collected" => &["book", "install", "execute", "end-decision", "collect"],
            "keys_returned" => &[
                "book",
                "install",
                "execute",
                "end-decision",
                "collect",
                "return-keys",
            ],
            other => panic!("no fixture for state {other}"),
        };
        let yesterday = (self.today - Duration::days(1)).to_string();
        for s in path {
            order = match *s {
                "return-to-assessor" => {
                    self.step(&self.fx_installer, &order, s, json!({"reason": "Fel insats"}))
                        .await
                }
                "book" => {
                    self.step(
                        &self.fx_installer,
                        &order,
                        s,
                        json!({"visit_date": (self.today + Duration::days(1)).to_string(), "visit_time": "10:00"}),
                    )
                    .await
                }
                "install" => {
                    let item = if service == "digital_lock" {
                        self.item(&self.lock_model, "PH").await
                    } else {
                        self.item(&self.alarm_model, "TX").await
                    };
                    serial = item["serial"].clone();
                    self.step(
                        &self.fx_installer,
                        &order,
                        s,
                        json!({"installation_date": yesterday, "serials": [serial],
                               "lock_receipt_left": state == "installed_receipt_left"}),
                    )
                    .await
                }
                "execute" => self.step(&self.fx_coordinator, &order, s, json!({})).await,
                "register" => {
                    self.step(
                        &self.fx_alarm_centre,
                        &order,
                        "register-in-platform",
                        json!({"platform_reference": "PNC-1", "registered_on": yesterday}),
                    )
                    .await
                }
                "cancel" => {
                    self.step(&self.fx_assessor, &order, s, json!({"reason": "Beslutet återkallat"}))
                        .await
                }
                "end-decision" => {
                    let ended = self
                        .post_if(
                            &self.fx_assessor,
                            &format!("/api/v1/decisions/{}/end", id(&decision)),
                            &decision["version"],
                            json!({"end_date": self.today.to_string()}),
                            "end decision",
                        )
                        .await;
                    ended["uninstall_order"].clone()
                }
                "collect" => {
                    self.step(
                        &self.fx_installer,
                        &order,
                        "collect-equipment",
                        json!({"collected_on": self.today.to_string(), "items": [serial]}),
                    )
                    .await
                }
                "return-keys" => {
                    self.step(&self.fx_installer, &order, s, json!({"outcome": "none_held"}))
                        .await
                }
                _ => unreachable!(),
            };
        }
        json!({"order": order, "customer": customer, "decision": decision, "serial": serial})
    }

    /// A key of the scope's shared customer, moved to `custody`.
    async fn key_in(&self, scope: Scope, custody: &str) -> Value {
        let customer = &self.customers[scope.index()];
        let n = self.next();
        let mut k = self
            .post(
                &self.admin,
                "/api/v1/keys",
                json!({"customer_id": id(customer), "key_number": format!("AZ-{n}"), "count": 1,
                       "cabinet": "Skåp 9", "hook": n.to_string()}),
                "key",
            )
            .await["key"]
            .clone();
        let group = customer["group_ids"][0].clone();
        let moves: &[(&str, Value)] = match custody {
            "in_cabinet" => &[],
            "signed_out" => &[("sign-out", json!({"group_id": group}))],
            "returned" => &[("return-to-customer", json!({}))],
            other => panic!("no key fixture for {other}"),
        };
        for (mv, body) in moves {
            k = self
                .post_if(
                    &self.admin,
                    &format!("/api/v1/keys/{}/{mv}", id(&k)),
                    &k["version"],
                    body.clone(),
                    mv,
                )
                .await["key"]
                .clone();
        }
        k
    }

    /// A receipt product handed out to the scope's shared customer (and collected).
    async fn receipt_at(&self, scope: Scope, collected: bool) -> Value {
        let customer = &self.customers[scope.index()];
        let item = self.item(&self.receipt_model, "KV").await;
        let mut item = self
            .post_if(
                &self.fx_installer,
                &format!("/api/v1/equipment/items/{}/hand-out", id(&item)),
                &item["version"],
                json!({"customer_id": id(customer)}),
                "hand out",
            )
            .await["item"]
            .clone();
        if collected {
            item = self
                .post_if(
                    &self.fx_installer,
                    &format!("/api/v1/equipment/items/{}/collect", id(&item)),
                    &item["version"],
                    json!({}),
                    "collect item",
                )
                .await["item"]
                .clone();
        }
        item
    }

    /// A digital lock mounted at a fresh customer's in the scope (and linked).
    async fn lock_at(&self, scope: Scope, linked: bool) -> Value {
        let f = self.order_at(scope, "digital_lock", "installed").await;
        let serial = f["serial"].as_str().unwrap().to_string();
        let list = self
            .app
            .get(
                &format!("/api/v1/equipment/items?serial={serial}"),
                &self.admin,
            )
            .await;
        let mut item = self.ok(list, "lock item").await[0].clone();
        if linked {
            item = self
                .post_if(
                    &self.admin,
                    &format!("/api/v1/equipment/items/{}/link", id(&item)),
                    &item["version"],
                    json!({"customer_id": id(&f["customer"])}),
                    "link",
                )
                .await["item"]
                .clone();
        }
        json!({"item": item, "customer": f["customer"]})
    }

    async fn document(&self, customer: &Value) -> String {
        let doc = uuid::Uuid::new_v4().to_string();
        let res = self
            .app
            .send(
                "PUT",
                &upload_path(&doc, customer, self.today),
                Some(&self.fx_installer),
                &[("Content-Type", "image/jpeg")],
                Some(GPS_PHOTO.to_vec()),
            )
            .await;
        self.ok(res, "document").await;
        doc
    }

    /// A webhook subscription of its own (no dispatcher runs here: nothing is sent).
    async fn webhook(&self) -> Value {
        let n = self.next();
        self.post(
            &self.admin,
            "/api/v1/webhooks",
            json!({"url": format!("https://mottagare{n}.kommun.test/h"), "event_types": ["decision.granted"]}),
            "webhook",
        )
        .await
    }

    /// A delivery waiting in the outbox: a subscription, then a decision granted.
    async fn delivery(&self, scope: Scope) -> Value {
        let w = self.webhook().await;
        let customer = self.customer(scope).await;
        self.grant(&customer, "safety_alarm").await;
        let res = self
            .app
            .get("/api/v1/outbox?channel=webhook", &self.admin)
            .await;
        res.body
            .as_array()
            .expect("the outbox")
            .iter()
            .find(|d| d["subscription_id"] == w["id"])
            .expect("the delivery of the decision")
            .clone()
    }

    async fn throwaway_user(&self, group: Option<&str>) -> Value {
        let n = self.next();
        let groups: Vec<&str> = group.into_iter().collect();
        self.post(
            &self.admin,
            "/api/v1/users",
            json!({"username": format!("az_user_{n}"), "display_name": format!("Matris {n}"),
                   "password": FX_PASSWORD, "role": "care_staff", "group_ids": groups}),
            "user",
        )
        .await
    }
}

fn gps_photo_sha() -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(GPS_PHOTO))
}

fn upload_path(doc: &str, customer: &Value, today: NaiveDate) -> String {
    format!(
        "/api/v1/documents/{doc}?kind=key_receipt&customer_id={}&signed_by=Kunden&signed_at={today}",
        id(customer)
    )
}

/// Reuses one target per (operation, scope) for the cells expected to be
/// refused; builds a fresh one for each cell expected to succeed.
macro_rules! target {
    ($w:expr, $op:expr, $scope:expr, $fresh:expr, $make:expr) => {{
        let key = ($op.to_string(), $scope);
        let cached = if $fresh {
            None
        } else {
            $w.cache.borrow().get(&key).cloned()
        };
        match cached {
            Some(v) => v,
            None => {
                let v: Value = $make.await;
                if !$fresh {
                    $w.cache.borrow_mut().insert(key, v.clone());
                }
                v
            }
        }
    }};
}

impl<'a> World<'a> {
    /// The request for one cell. `fresh`: the cell is expected to succeed, so
    /// a target it consumes is made for it alone.
    async fn request(
        &self,
        op: &str,
        role: &str,
        username: &str,
        scope: Scope,
        fresh: bool,
    ) -> Req {
        let s = scope.index();
        let customer = &self.customers[s];
        let cid = id(customer);
        let number = str_of(customer, "customer_number");
        let order = &self.orders[s];
        let oid = id(order);
        let today = self.today;
        let yesterday = today - Duration::days(1);
        let n = self.next();
        let (method, path) = op.split_once(' ').expect("METHOD /path");
        let method: &'static str = match method {
            "GET" => "GET",
            "POST" => "POST",
            "PUT" => "PUT",
            "PATCH" => "PATCH",
            "DELETE" => "DELETE",
            other => panic!("method {other}"),
        };
        let at = |p: &str| Req::new(method, p.to_string());
        let on = |target: &str| Req::new(method, path.replace("{id}", target)).hiding(target);
        let transition = |f: &Value, body: Value| {
            on(&id(&f["order"]))
                .if_match(&f["order"]["version"])
                .json(body)
                .about(&f["customer"])
        };
        match op {
            "GET /healthz" | "GET /readyz" | "GET /api/v1/auth/me" | "GET /api/v1/areas"
            | "GET /api/v1/groups" | "GET /api/v1/users" | "GET /api/v1/equipment/models"
            | "GET /api/v1/lifecycle" | "GET /api/v1/messages"
            | "GET /api/v1/messages/unread-count" | "GET /api/v1/messages/addressees"
            | "GET /api/v1/reports/deliveries" | "GET /api/v1/reports/equipment"
            | "GET /api/v1/reports/extensions" | "GET /api/v1/reports/keys-not-received"
            | "GET /api/v1/reports/keys-out" | "GET /api/v1/reports/not-executed"
            | "GET /api/v1/reports/to-collect"
            | "GET /api/v1/reports/platform-registration"
            | "GET /api/v1/outbox"
            | "GET /api/v1/webhooks"
            | "GET /api/v1/auth/methods" => at(path),
            // No identity provider is configured on this server: the flow's addresses are not there.
            "GET /api/v1/auth/oidc/start" => at(&format!("{path}?app=desk")),
            "GET /api/v1/auth/oidc/callback" => at(&format!("{path}?code=c&state=s")),
            "POST /api/v1/auth/oidc/token" => at(path).json(json!({"ticket": format!("no-such-ticket-{n}")})),

            "PUT /api/v1/groups/{id}/mailbox" => on(&self.boo_groups[0])
                .json(json!({"address": format!("grupp{n}@kommun.test")}))
                .change(),
            "PUT /api/v1/users/{id}/mail" => on(&self.user_ids["installer"])
                .json(json!({"address": format!("installator{n}@kommun.test"), "topics": ["ordered"]}))
                .change(),
            "POST /api/v1/webhooks" => at(path)
                .json(json!({"url": format!("https://mottagare{n}.kommun.test/larmkoll"), "event_types": ["key.moved"]}))
                .change(),
            "DELETE /api/v1/webhooks/{id}" => {
                let w = target!(self, op, scope, fresh, self.webhook());
                on(&id(&w)).change()
            }
            "POST /api/v1/outbox/{id}/replay" => {
                let d = target!(self, op, scope, fresh, self.delivery(scope));
                on(&id(&d)).change()
            }

            "POST /api/v1/auth/login" => {
                at(path).json(json!({"username": username, "password": "demo"}))
            }
            "POST /api/v1/auth/refresh" => {
                let (_, refresh) = self.sessions.borrow()[&(role.to_string(), scope)].clone();
                at(path).json(json!({"refresh_token": refresh}))
            }
            "POST /api/v1/auth/logout" => {
                let (access, refresh) = self.sessions.borrow()[&(role.to_string(), scope)].clone();
                let mut r = at(path).json(json!({"refresh_token": refresh}));
                r.token = Some(access);
                r
            }

            "POST /api/v1/areas" => at(path).json(json!({"name": format!("Område {n}")})).change(),
            "POST /api/v1/groups" => at(path)
                .json(json!({"area_id": self.boo, "kind": "home_care", "name": format!("Grupp {n}")}))
                .change(),
            "POST /api/v1/equipment/models" => at(path)
                .json(json!({"kind": "alarm_unit", "supplier": "Matris", "model": format!("M{n}")}))
                .change(),
            "POST /api/v1/equipment/items" => at(path)
                .json(json!({"model_id": self.alarm_model, "serial": format!("TX-NEW{n}")}))
                .change(),
            "POST /api/v1/users" => at(path)
                .json(json!({"username": format!("az_new_{n}"), "display_name": "Ny", "password": FX_PASSWORD,
                             "role": "care_staff", "group_ids": []}))
                .change(),
            "GET /api/v1/users/{id}" => on(&self.user_ids["installer"]),
            "PATCH /api/v1/users/{id}" => {
                let u = target!(self, op, scope, fresh, self.throwaway_user(None));
                on(&id(&u))
                    .if_match(&u["version"])
                    .json(json!({"display_name": format!("Omdöpt {n}")}))
                    .change()
            }
            "POST /api/v1/users/{id}/password" => {
                let u = target!(self, op, scope, fresh, self.throwaway_user(None));
                on(&id(&u))
                    .json(json!({"password": "ett-nytt-langt-losenord"}))
                    .change()
            }
            "POST /api/v1/users/{id}/revoke-sessions" => {
                let u = target!(self, op, scope, fresh, self.throwaway_user(None));
                on(&id(&u)).change()
            }
            "PUT /api/v1/groups/{group_id}/members/{user_id}"
            | "DELETE /api/v1/groups/{group_id}/members/{user_id}" => {
                let group = &self.boo_groups[0];
                let member = method == "DELETE";
                let u = target!(
                    self,
                    op,
                    scope,
                    fresh,
                    self.throwaway_user(member.then_some(group.as_str()))
                );
                Req::new(
                    method,
                    path.replace("{group_id}", group).replace("{user_id}", &id(&u)),
                )
                .change()
            }

            "GET /api/v1/audit" => at(&format!("{path}?customer_id={cid}")).listing(cid.clone()),
            "GET /api/v1/reports/audit-follow-up" => at(&format!("{path}?customer_id={cid}")),
            "GET /api/v1/billing/events" | "GET /api/v1/billing/events.csv" => {
                at(&format!("{path}?from={}&to={}", today - Duration::days(60), today))
            }

            "GET /api/v1/customers" => {
                at(&format!("{path}?q={number}")).listing(cid.clone()).about(customer)
            }
            "POST /api/v1/customers" => {
                let (area, groups) = self.scope_groups(scope);
                at(path)
                    .json(json!({
                        "personnummer": self.personnummer(),
                        "first_name": "Ny",
                        "last_name": format!("Kund{n}"),
                        "address": {"street": "Nygatan 1", "postal_code": "132 30", "city": "Nacka"},
                        "area_id": area,
                        "group_ids": groups,
                    }))
                    .change()
            }
            "GET /api/v1/customers/{id}"
            | "GET /api/v1/customers/{id}/decisions"
            | "GET /api/v1/customers/{id}/documents"
            | "GET /api/v1/customers/{id}/executions"
            | "GET /api/v1/customers/{id}/keys" => on(&cid).about(customer),
            "GET /api/v1/customers/{id}/personnummer" => {
                Req::new(method, format!("/api/v1/customers/{cid}/personnummer?reason=Kontroll"))
                    .about(customer)
            }
            "PATCH /api/v1/customers/{id}" => {
                let c = target!(self, op, scope, fresh, self.customer(scope));
                on(&id(&c))
                    .if_match(&c["version"])
                    .json(json!({"entry_notes": format!("Ringer först ({n})")}))
                    .about(&c)
            }
            "POST /api/v1/customers/{id}/decisions" => {
                let c = target!(self, op, scope, fresh, self.customer(scope));
                on(&id(&c))
                    .json(json!({"service": "safety_alarm", "valid_from": today.to_string()}))
                    .about(&c)
            }
            "POST /api/v1/customers/{id}/night-visibility" => {
                // Night visibility belongs to a granted safety alarm.
                let c = target!(self, op, scope, fresh, async {
                    let c = self.customer(scope).await;
                    self.grant(&c, "safety_alarm").await;
                    c
                });
                on(&id(&c))
                    .json(json!({"start_date": today.to_string()}))
                    .about(&c)
            }
            "POST /api/v1/decisions/{id}/end" => {
                let f = target!(self, op, scope, fresh, async {
                    let c = self.customer(scope).await;
                    let g = self.grant(&c, "safety_alarm").await;
                    json!({"decision": g["decision"], "customer": c})
                });
                on(&id(&f["decision"]))
                    .if_match(&f["decision"]["version"])
                    .json(json!({"end_date": today.to_string()}))
                    .about(&f["customer"])
            }

            "GET /api/v1/documents/{id}" => on(&self.documents[s]).about(customer),
            "GET /api/v1/documents/{id}/display" | "GET /api/v1/documents/{id}/thumbnail" => {
                let mut r = on(&self.documents[s]).about(customer);
                r.photo = Some(Photo::WithoutMetadata);
                r
            }
            "GET /api/v1/documents/{id}/original" => {
                let mut r = on(&self.documents[s]).about(customer);
                r.photo = Some(Photo::Original);
                r
            }
            "PUT /api/v1/documents/{id}" => {
                let doc = uuid::Uuid::new_v4().to_string();
                let mut r = Req::new(method, upload_path(&doc, customer, today)).about(customer);
                r.headers.push(("Content-Type".into(), "image/png".into()));
                r.body = Some(PNG.to_vec());
                r
            }
            "POST /api/v1/documents/{id}/supersede" => {
                // A fresh document superseded by the scope's shared one.
                let doc = target!(self, op, scope, fresh, async {
                    json!(self.document(customer).await)
                });
                on(doc.as_str().unwrap())
                    .json(json!({"superseded_by": self.documents[s]}))
                    .about(customer)
            }

            "GET /api/v1/equipment/items" | "GET /api/v1/equipment/items.csv" => {
                let listed = if path.ends_with(".csv") { number.clone() } else { cid.clone() };
                at(&format!("{path}?customer_id={cid}"))
                    .listing(listed)
                    .about(customer)
            }
            "GET /api/v1/equipment/items/{id}" => on(&self.items[s]).about(customer),
            "POST /api/v1/equipment/items/{id}/hand-out" => {
                let item = target!(self, op, scope, fresh, self.item(&self.receipt_model, "KV"));
                on(&id(&item))
                    .if_match(&item["version"])
                    .json(json!({"customer_id": cid}))
                    .about(customer)
                    .hiding(&cid)
            }
            "POST /api/v1/equipment/items/{id}/collect" => {
                let item = target!(self, op, scope, fresh, self.receipt_at(scope, false));
                on(&id(&item))
                    .if_match(&item["version"])
                    .json(json!({}))
                    .about(customer)
            }
            "POST /api/v1/equipment/items/{id}/restock" | "POST /api/v1/equipment/items/{id}/scrap" => {
                let item = target!(self, op, scope, fresh, self.receipt_at(scope, true));
                let mut r = on(&id(&item))
                    .if_match(&item["version"])
                    .json(json!({"note": "Matris"}))
                    .change();
                // Collected from this customer: who may not see them may not move it.
                r.customer = Some(cid.clone());
                r
            }
            "POST /api/v1/equipment/items/{id}/link" => {
                let f = target!(self, op, scope, fresh, self.lock_at(scope, false));
                on(&id(&f["item"]))
                    .if_match(&f["item"]["version"])
                    .json(json!({"customer_id": id(&f["customer"])}))
                    .about(&f["customer"])
            }
            "POST /api/v1/equipment/items/{id}/unlink" => {
                let f = target!(self, op, scope, fresh, self.lock_at(scope, true));
                on(&id(&f["item"]))
                    .if_match(&f["item"]["version"])
                    .json(json!({}))
                    .about(&f["customer"])
            }

            "POST /api/v1/import/key-register" => {
                let mut r = at(path);
                r.headers.push(("Content-Type".into(), "text/csv".into()));
                r.body = Some(
                    format!("Nyckelnummer;Kundnummer;Antal;Skåp;Krok\r\nAZ-I{n};{number};1;Skåp 4;{n}\r\n")
                        .into_bytes(),
                );
                r
            }
            "GET /api/v1/keys" | "GET /api/v1/keys.csv" => {
                at(&format!("{path}?customer_id={cid}"))
                    .listing(number.clone())
                    .about(customer)
            }
            "POST /api/v1/keys" => at(path)
                .json(json!({"customer_id": cid, "key_number": format!("AZ-N{n}"), "count": 1,
                             "cabinet": "Skåp 5", "hook": n.to_string()}))
                .about(customer),
            "GET /api/v1/keys/{id}" => on(&self.keys[s]).about(customer),
            "POST /api/v1/keys/{id}/sign-out"
            | "POST /api/v1/keys/{id}/return-to-customer"
            | "POST /api/v1/keys/{id}/report-lost"
            | "POST /api/v1/keys/{id}/sign-in"
            | "POST /api/v1/keys/{id}/receive-again" => {
                let (custody, body) = match path.rsplit('/').next().unwrap() {
                    "sign-out" => ("in_cabinet", json!({"group_id": customer["group_ids"][0]})),
                    "return-to-customer" => ("in_cabinet", json!({})),
                    "report-lost" => ("in_cabinet", json!({"note": "Hittas inte i skåpet"})),
                    "sign-in" => ("signed_out", json!({})),
                    _ => ("returned", json!({})),
                };
                let k = target!(self, op, scope, fresh, self.key_in(scope, custody));
                on(&id(&k)).if_match(&k["version"]).json(body).about(customer)
            }

            "POST /api/v1/messages/{id}/read" => on(&self.messages[&(role.to_string(), scope)]),
            "POST /api/v1/messages" => at(path)
                .json(json!({"to": {"roles": ["coordinator"]}, "copy": {"roles": ["billing"]},
                             "customer_id": cid, "subject": format!("Fråga {n}"), "body": "Hur går det?"}))
                .about(customer),
            "GET /api/v1/messages/threads" => at(&format!("{path}?order_id={oid}")),
            // The `ordered` notice about the customer starts a thread every role is in.
            "GET /api/v1/messages/threads/{id}" => {
                on(&self.threads[&(role.to_string(), scope)]).about(customer)
            }
            "POST /api/v1/messages/threads/{id}/replies" => on(&self.threads[&(role.to_string(), scope)])
                .json(json!({"body": format!("Svar {n}")}))
                .about(customer),

            "GET /api/v1/orders" => at(&format!("{path}?customer_id={cid}"))
                .listing(oid.clone())
                .about(customer),
            "GET /api/v1/orders/{id}" | "GET /api/v1/orders/{id}/documents" => {
                on(&oid).about(customer)
            }
            "POST /api/v1/orders/{id}/contacts" => on(&oid)
                .json(json!({"kind": "call", "note": "Ringde"}))
                .about(customer),
            "POST /api/v1/orders/{id}/book" => {
                let f = target!(self, op, scope, fresh, self.order_at(scope, "safety_alarm", "received"));
                let mut body = json!({"visit_date": (today + Duration::days(2)).to_string(), "visit_time": "09:30"});
                if role != "installer" {
                    // Someone else booking names the installer who goes.
                    body["installer_id"] = json!(self.fx_installer_id);
                }
                transition(&f, body)
            }
            "POST /api/v1/orders/{id}/return-to-assessor"
            | "POST /api/v1/orders/{id}/decline"
            | "POST /api/v1/orders/{id}/cancel" => {
                let f = target!(self, op, scope, fresh, self.order_at(scope, "safety_alarm", "received"));
                transition(&f, json!({"reason": "Matrisens skäl"}))
            }
            "POST /api/v1/orders/{id}/resubmit" => {
                let f = target!(self, op, scope, fresh, self.order_at(scope, "safety_alarm", "returned_to_assessor"));
                transition(&f, json!({"note": "Rättad"}))
            }
            "POST /api/v1/orders/{id}/receive-keys" => {
                let f = target!(self, op, scope, fresh, self.order_at(scope, "safety_alarm", "booked"));
                transition(
                    &f,
                    json!({"key_numbers": [format!("AZ-R{n}")], "count": 1, "cabinet": "Skåp 3", "hook": n.to_string()}),
                )
            }
            "POST /api/v1/orders/{id}/install" => {
                let f = target!(self, op, scope, fresh, async {
                    let mut f = self.order_at(scope, "safety_alarm", "booked").await;
                    f["serial"] = self.item(&self.alarm_model, "TX").await["serial"].clone();
                    f
                });
                transition(
                    &f,
                    json!({"installation_date": yesterday.to_string(), "serials": [f["serial"]]}),
                )
            }
            "POST /api/v1/orders/{id}/execute" => {
                let f = target!(self, op, scope, fresh, self.order_at(scope, "safety_alarm", "installed"));
                transition(&f, json!({}))
            }
            "POST /api/v1/orders/{id}/order-from-supplier" => {
                let f = target!(self, op, scope, fresh, self.order_at(scope, "digital_lock", "received"));
                transition(&f, json!({"supplier": "Phoniro", "reference": format!("WO-{n}"), "ordered_on": yesterday.to_string()}))
            }
            "POST /api/v1/orders/{id}/collect-lock-receipt" => {
                let f = target!(self, op, scope, fresh, self.order_at(scope, "digital_lock", "installed_receipt_left"));
                transition(&f, json!({"collected_on": today.to_string()}))
            }
            "POST /api/v1/orders/{id}/register-in-platform" => {
                let f = target!(self, op, scope, fresh, self.order_at(scope, "safety_alarm", "installed"));
                transition(&f, json!({"platform_reference": format!("PNC-{n}"), "registered_on": today.to_string()}))
            }
            "POST /api/v1/orders/{id}/deregister-from-platform" => {
                let f = target!(self, op, scope, fresh, self.order_at(scope, "safety_alarm", "registered_cancelled"));
                transition(&f, json!({"deregistered_on": today.to_string()}))
            }
            "POST /api/v1/orders/{id}/collect-equipment" => {
                let f = target!(self, op, scope, fresh, self.order_at(scope, "safety_alarm", "uninstall"));
                transition(&f, json!({"collected_on": today.to_string(), "items": [f["serial"]]}))
            }
            "POST /api/v1/orders/{id}/return-keys" => {
                let f = target!(self, op, scope, fresh, self.order_at(scope, "safety_alarm", "equipment_collected"));
                transition(&f, json!({"outcome": "none_held"}))
            }
            "POST /api/v1/orders/{id}/end" => {
                let f = target!(self, op, scope, fresh, self.order_at(scope, "safety_alarm", "keys_returned"));
                transition(&f, json!({}))
            }
            other => panic!(
                "{other} has no request in tests/api/authz.rs: add one (a valid call against a target in each scope) and its rows in authz_matrix.tsv"
            ),
        }
    }
}

/// The audit rows written for one request: (outcome, customer_id).
async fn audit_rows(app: &TestApp, request_id: &str) -> Vec<(String, Option<String>)> {
    let rid = request_id.to_string();
    app.db
        .run(move |conn| {
            use diesel::prelude::*;
            use larmkoll::db::schema::audit_log::dsl as al;
            Ok(al::audit_log
                .filter(al::request_id.eq(rid))
                .select((al::outcome, al::customer_id))
                .load::<(String, Option<String>)>(conn)?)
        })
        .await
        .expect("audit query")
}

async fn setup(app: &TestApp) -> World<'_> {
    let admin = app.login("admin").await;
    let mut tokens = HashMap::new();
    let mut user_ids = HashMap::new();
    for (role, username) in ROLES {
        let token = app.login(username).await;
        let me = app.get("/api/v1/auth/me", &token).await;
        user_ids.insert(role, str_of(&me.body, "id"));
        tokens.insert(role, token);
    }
    let boo = app.area_id(&admin, "Boo").await;
    let sickla = app.area_id(&admin, "Sickla").await;
    let mut boo_groups = Vec::new();
    let mut sickla_groups = Vec::new();
    for kind in ["hemtjänst", "larmgrupp", "nattpatrull", "mottagningsteam"] {
        boo_groups.push(app.group_id(&admin, &format!("Boo {kind}")).await);
        sickla_groups.push(app.group_id(&admin, &format!("Sickla {kind}")).await);
    }
    let extra = app
        .post(
            "/api/v1/groups",
            Some(&admin),
            json!({"area_id": boo, "kind": "home_care", "name": "Boo hemtjänst väst"}),
        )
        .await;
    assert_eq!(extra.status, 201, "{}", extra.body);
    let extra_group = id(&extra.body);

    // Fixture makers reach every scope: groups in both areas and the extra group.
    let reception: Vec<&str> = vec![&boo_groups[3], &sickla_groups[3]];
    app.create_user(&admin, "fx_assessor", "assessor", &reception)
        .await;
    let teams: Vec<&str> = vec![&boo_groups[1], &sickla_groups[1], &extra_group];
    let fx_installer_id = app
        .create_user(&admin, "fx_installer", "installer", &teams)
        .await;
    let home: Vec<&str> = vec![&boo_groups[0], &sickla_groups[0]];
    app.create_user(&admin, "fx_coordinator", "coordinator", &home)
        .await;

    let models = app.get("/api/v1/equipment/models", &admin).await;
    let model = |kind: &str| {
        id(models
            .body
            .as_array()
            .expect("models")
            .iter()
            .find(|m| m["kind"] == kind)
            .expect("model"))
    };
    let mut w = World {
        app,
        today: larmkoll::domain::calendar::today(),
        tokens,
        user_ids,
        fx_assessor: app.login_with("fx_assessor", FX_PASSWORD).await,
        fx_installer: app.login_with("fx_installer", FX_PASSWORD).await,
        fx_coordinator: app.login_with("fx_coordinator", FX_PASSWORD).await,
        fx_alarm_centre: app.login("larmcentral").await,
        fx_installer_id,
        admin,
        boo,
        sickla,
        boo_groups,
        sickla_groups,
        extra_group,
        alarm_model: model("alarm_unit"),
        lock_model: model("digital_lock"),
        receipt_model: model("receipt_product"),
        customers: Vec::new(),
        orders: Vec::new(),
        documents: Vec::new(),
        keys: Vec::new(),
        items: Vec::new(),
        messages: HashMap::new(),
        threads: HashMap::new(),
        n: Cell::new(0),
        cache: RefCell::new(HashMap::new()),
        sessions: RefCell::new(HashMap::new()),
    };
    for scope in SCOPES {
        let customer = w.customer(scope).await;
        w.customers.push(customer);
    }
    for scope in SCOPES {
        let customer = w.customers[scope.index()].clone();
        let granted = w.grant(&customer, "safety_alarm").await;
        w.orders.push(granted["order"].clone());
        let doc = w.document(&customer).await;
        w.documents.push(doc);
        let key = w.key_in(scope, "in_cabinet").await;
        w.keys.push(id(&key));
        let item = w.receipt_at(scope, false).await;
        w.items.push(id(&item));
    }
    // Each grant above sent the `ordered` message to every role.
    for (role, _) in ROLES {
        let inbox = app.get("/api/v1/messages?limit=200", &w.tokens[role]).await;
        assert_eq!(inbox.status, 200, "{}", inbox.body);
        let list = inbox
            .body
            .as_array()
            .or_else(|| inbox.body["items"].as_array());
        for scope in SCOPES {
            let about = &w.customers[scope.index()]["id"];
            let m = list
                .expect("inbox list")
                .iter()
                .find(|m| &m["customer_id"] == about)
                .unwrap_or_else(|| panic!("{role} has no message about the {scope:?} customer"));
            w.messages.insert((role.to_string(), scope), id(m));
            let thread = m["thread_id"].as_str().expect("thread_id").to_string();
            w.threads.insert((role.to_string(), scope), thread);
        }
    }
    w
}

/// The cell as the table writes it: the status, and for a list whether the
/// target was in it.
fn cell_of(res: &Response, req: &Req) -> String {
    match (&req.listed, res.status) {
        (Some(text), 200) if !res.body.to_string().contains(text.as_str()) => "200/hidden".into(),
        (_, status) => status.to_string(),
    }
}

/// Runs one cell; returns what the server answered and the audit problems seen.
async fn run_cell(
    w: &World<'_>,
    op: &str,
    role: &str,
    username: &str,
    scope: Scope,
    expected: Option<&str>,
) -> (String, Vec<String>) {
    let fresh = expected.is_none_or(|e| e.starts_with('2'));
    let req = w.request(op, role, username, scope, fresh).await;
    let anonymous = [
        "GET /healthz",
        "GET /readyz",
        "POST /api/v1/auth/login",
        "POST /api/v1/auth/refresh",
        "GET /api/v1/auth/methods",
        "GET /api/v1/auth/oidc/start",
        "GET /api/v1/auth/oidc/callback",
        "POST /api/v1/auth/oidc/token",
    ];
    let token = if anonymous.contains(&op) {
        None
    } else {
        Some(req.token.clone().unwrap_or_else(|| w.tokens[role].clone()))
    };

    let headers: Vec<(&str, &str)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let res = w
        .app
        .send(
            req.method,
            &req.path,
            token.as_deref(),
            &headers,
            req.body.clone(),
        )
        .await;
    if res.status == 200 && (op == "POST /api/v1/auth/login" || op == "POST /api/v1/auth/refresh") {
        w.sessions.borrow_mut().insert(
            (role.to_string(), scope),
            (
                str_of(&res.body, "access_token"),
                str_of(&res.body, "refresh_token"),
            ),
        );
    }
    let cell = cell_of(&res, &req);
    let mut problems = Vec::new();
    if res.status == 200 {
        // Binary bodies come back as lossy text; EXIF's marker survives that.
        let body = res.body.as_str().unwrap_or_default();
        let exif = body.contains("Exif");
        match req.photo {
            Some(Photo::WithoutMetadata) if exif => {
                problems.push("a served copy carries the original's EXIF (GPS)".into())
            }
            Some(Photo::Original)
                if !exif || res.header("x-content-sha256").as_deref() != Some(&gps_photo_sha()) =>
            {
                problems.push("the original is not the photo as sent, with its EXIF".into())
            }
            _ => {}
        }
    }
    if res.status >= 400
        && (res.header("content-type").as_deref() != Some("application/problem+json")
            || res.body["detail_sv"].as_str().is_none_or(str::is_empty))
    {
        problems.push(format!(
            "{} is not problem+json with detail_sv: {}",
            res.status, res.body
        ));
    }
    if res.status == 404 {
        if let Some(hidden) = &req.hidden {
            // The same call with the hidden id replaced by one that does not exist.
            let ghost_id = uuid::Uuid::new_v4().to_string();
            let body = req.body.as_ref().map(|b| {
                String::from_utf8_lossy(b)
                    .replace(hidden.as_str(), &ghost_id)
                    .into_bytes()
            });
            let ghost = w
                .app
                .send(
                    req.method,
                    &req.path.replace(hidden.as_str(), &ghost_id),
                    token.as_deref(),
                    &headers,
                    body,
                )
                .await;
            if (ghost.status, &ghost.body["code"]) != (404, &res.body["code"]) {
                problems.push(format!(
                    "refused with 404 {}, but a target that does not exist gets {} {}: the refusal tells them apart",
                    res.body["code"], ghost.status, ghost.body["code"]
                ));
            }
        }
        let versioned_target = req
            .hidden
            .as_ref()
            .is_some_and(|h| req.path.contains(h.as_str()));
        if versioned_target && req.headers.iter().any(|(k, _)| k == "If-Match") {
            // A stale version must not reveal the target either.
            let stale: Vec<(&str, &str)> = headers
                .iter()
                .map(|&(k, v)| {
                    if k == "If-Match" {
                        (k, "\"9999\"")
                    } else {
                        (k, v)
                    }
                })
                .collect();
            let again = w
                .app
                .send(
                    req.method,
                    &req.path,
                    token.as_deref(),
                    &stale,
                    req.body.clone(),
                )
                .await;
            if (again.status, &again.body["code"]) != (404, &res.body["code"]) {
                problems.push(format!(
                    "refused with 404, but with a stale If-Match it answers {} {}",
                    again.status, again.body["code"]
                ));
            }
        }
    }
    let rows = match res.header("x-request-id") {
        Some(rid) => audit_rows(w.app, &rid).await,
        None => {
            problems.push("no X-Request-Id".into());
            Vec::new()
        }
    };
    let has = |outcome: &str, customer: Option<&String>| {
        rows.iter()
            .any(|(o, c)| o == outcome && customer.is_none_or(|want| c.as_ref() == Some(want)))
    };
    // A list that left the target out has nothing to record about it.
    let allowed = (200..300).contains(&res.status) && cell != "200/hidden";
    match req.audit {
        Audit::Customer if allowed && !has("ok", req.customer.as_ref()) => problems.push(format!(
            "allowed, but no `ok` audit entry naming the customer ({rows:?})"
        )),
        _ if res.status == 404
            && req.customer.is_some()
            && !has("denied", req.customer.as_ref()) =>
        {
            problems.push(format!(
                "refused as not found, but no `denied` audit entry naming the customer ({rows:?})"
            ))
        }
        Audit::Change if allowed && !has("ok", None) => {
            problems.push(format!("allowed, but no `ok` audit entry ({rows:?})"))
        }
        _ => {}
    }
    if res.status == 403 && has("ok", None) {
        problems.push(format!(
            "refused, but an `ok` audit entry was written ({rows:?})"
        ));
    }
    (cell, problems)
}

async fn authorization_matrix(app: TestApp) {
    let spec = app
        .send("GET", "/api/v1/openapi.json", None, &[], None)
        .await;
    assert_eq!(spec.status, 200);
    let ops = operations(&spec.body);
    let (table, mut failures) = parse_table();

    // The table and the API must name the same operations, every cell written.
    let in_table: BTreeSet<String> = table.keys().map(|(op, _)| op.clone()).collect();
    for op in in_table.difference(&ops) {
        failures.push(format!(
            "the table has rows for {op}, which the API does not have"
        ));
    }
    for op in &ops {
        for (role, _) in ROLES {
            if !table.contains_key(&(op.clone(), role.to_string())) {
                failures.push(format!("no row for {op} × {role} in authz_matrix.tsv"));
            }
        }
    }

    let w = setup(&app).await;
    // Sessions are opened, refreshed and closed last, in that order.
    let late = [
        "POST /api/v1/auth/login",
        "POST /api/v1/auth/refresh",
        "POST /api/v1/auth/logout",
    ];
    let order: Vec<&String> = ops
        .iter()
        .filter(|o| !late.contains(&o.as_str()))
        .chain(late.iter().filter_map(|l| ops.get(*l)))
        .collect();
    let mut observed = String::from("# operation\trole\town_group\tother_group\tother_area\n");
    let mut cells = 0;
    let timing = std::env::var("AUTHZ_TIMING").as_deref() == Ok("1");
    for op in order {
        let started = std::time::Instant::now();
        // The roles' cells of one operation run at once; each builds its own targets.
        let rows = futures_util::future::join_all(ROLES.iter().map(|&(role, username)| {
            let expected = table.get(&(op.clone(), role.to_string()));
            let w = &w;
            async move {
                let mut row = Vec::new();
                let mut problems = Vec::new();
                for scope in SCOPES {
                    let want = expected.map(|e| e[scope.index()].as_str());
                    let (got, seen) = run_cell(w, op, role, username, scope, want).await;
                    if let Some(want) = want {
                        if want != got {
                            problems.push(format!(
                                "{op} × {role} × {scope:?}: expected {want}, got {got}"
                            ));
                        }
                    }
                    problems.extend(
                        seen.into_iter()
                            .map(|p| format!("{op} × {role} × {scope:?}: {p}")),
                    );
                    row.push(got);
                }
                (role, row, problems)
            }
        }))
        .await;
        for (role, row, problems) in rows {
            cells += row.len();
            failures.extend(problems);
            observed.push_str(&format!("{op}\t{role}\t{}\n", row.join("\t")));
        }
        if timing {
            eprintln!("{:>6} ms  {op}", started.elapsed().as_millis());
        }
    }
    if std::env::var("AUTHZ_MATRIX_OBSERVED").as_deref() == Ok("1") {
        let path = format!(
            "{}/target/authz_matrix.{:?}.observed.tsv",
            env!("CARGO_MANIFEST_DIR"),
            app.backend
        );
        std::fs::write(&path, &observed).expect("write observed matrix");
        eprintln!("wrote {path}");
    }
    eprintln!(
        "authorization matrix ({:?}): {} operations × {} roles × {} scopes = {cells} cells",
        app.backend,
        ops.len(),
        ROLES.len(),
        SCOPES.len()
    );
    assert!(
        failures.is_empty(),
        "{} authorization matrix failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

async fn start(backend: Backend) -> Option<TestApp> {
    // Every role gets the `ordered` message, so each has one to mark read.
    let everyone: Vec<String> = ROLES.iter().map(|(r, _)| format!("role:{r}")).collect();
    let overrides = BTreeMap::from([("ordered".to_string(), everyone)]);
    TestApp::start_configured(backend, true, move |s| {
        s.message_rules = MessageRules::default()
            .with_overrides(&overrides)
            .expect("rules");
    })
    .await
}

mod authorization_matrix {
    use super::*;

    #[actix_web::test]
    async fn sqlite() {
        super::authorization_matrix(start(Backend::Sqlite).await.expect("sqlite")).await;
    }

    #[actix_web::test]
    async fn postgres() {
        if let Some(app) = start(Backend::Postgres).await {
            super::authorization_matrix(app).await;
        }
    }
}
