//! The routines' vocabulary: a session per demo role, and the steps the seeds
//! name (grant, book, receive keys, install, execute, collect, return keys,
//! end; sign a key out and in), each checking the status the routine expects
//! and answering typed values. Tests that check the wire itself keep using
//! `TestApp`'s raw calls.

use crate::helpers::{Response, TestApp};
use serde_json::{json, Value};
use std::fmt;
use std::ops::Index;

/// Ids as the API writes them, one type per kind of record, so a key id
/// cannot be passed where an order id is meant.
macro_rules! ids {
    ($($name:ident),*) => {$(
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&Value> for $name {
            fn from(id: &Value) -> Self {
                Self(id.as_str().unwrap_or_else(|| panic!("an id: {id}")).to_string())
            }
        }

        impl PartialEq<Value> for $name {
            fn eq(&self, other: &Value) -> bool {
                other.as_str() == Some(self.as_str())
            }
        }

        impl PartialEq<$name> for Value {
            fn eq(&self, other: &$name) -> bool {
                self.as_str() == Some(other.as_str())
            }
        }
    )*};
}

ids!(CustomerId, OrderId, DecisionId, KeyId, ItemId, GroupId);

/// A record as the API last answered it: its typed id, and the whole body
/// for the test's own assertions (`order["state"]`).
#[derive(Debug, Clone)]
pub struct Record<I> {
    pub id: I,
    pub json: Value,
}

impl<I: for<'v> From<&'v Value>> Record<I> {
    pub fn new(json: Value) -> Self {
        Self {
            id: I::from(&json["id"]),
            json,
        }
    }
}

impl<I> Record<I> {
    /// The version the next change sends as `If-Match`.
    pub fn version(&self) -> i64 {
        self.json["version"]
            .as_i64()
            .unwrap_or_else(|| panic!("a version: {}", self.json))
    }
}

impl<I> Index<&str> for Record<I> {
    type Output = Value;
    fn index(&self, field: &str) -> &Value {
        &self.json[field]
    }
}

pub type Customer = Record<CustomerId>;
pub type Order = Record<OrderId>;
pub type Decision = Record<DecisionId>;
pub type Key = Record<KeyId>;
pub type Item = Record<ItemId>;

impl Customer {
    pub fn number(&self) -> &str {
        self.json["customer_number"].as_str().expect("number")
    }
}

/// What granting a decision answers: the decision and the order it opened.
pub struct Granted {
    pub decision: Decision,
    pub order: Order,
}

/// What ending a decision answers: the decision and its uninstall order.
pub struct Ended {
    pub decision: Decision,
    pub uninstall_order: Order,
}

/// Someone logged in: the demo user's token and the app they act on.
pub struct Session<'a> {
    pub app: &'a TestApp,
    pub token: String,
}

impl TestApp {
    /// Logged in as a demo user (password `demo`).
    pub async fn as_user(&self, username: &str) -> Session<'_> {
        Session {
            app: self,
            token: self.login(username).await,
        }
    }

    pub async fn as_admin(&self) -> Session<'_> {
        self.as_user("admin").await
    }

    /// Hanna Handläggare, Boo's reception team and an alarm lead.
    pub async fn as_assessor(&self) -> Session<'_> {
        self.as_user("handlaggare").await
    }

    /// Kalle Koordinator, Boo's home care.
    pub async fn as_coordinator(&self) -> Session<'_> {
        self.as_user("koordinator").await
    }

    /// Ivar Installatör, Boo's alarm team.
    pub async fn as_installer(&self) -> Session<'_> {
        self.as_user("installator").await
    }

    /// Hedda Hemtjänst, Boo's home care and night patrol.
    pub async fn as_care_staff(&self) -> Session<'_> {
        self.as_user("hemtjanst").await
    }

    pub async fn as_billing(&self) -> Session<'_> {
        self.as_user("avgift").await
    }

    pub async fn as_alarm_centre(&self) -> Session<'_> {
        self.as_user("larmcentral").await
    }

    /// The three who walk an order: assessor, installer, coordinator.
    pub async fn crew(&self) -> Crew<'_> {
        Crew {
            assessor: self.as_assessor().await,
            installer: self.as_installer().await,
            coordinator: self.as_coordinator().await,
        }
    }
}

impl Session<'_> {
    pub async fn get(&self, path: impl AsRef<str>) -> Response {
        self.app.get(path.as_ref(), &self.token).await
    }

    pub async fn post(&self, path: &str, json: Value) -> Response {
        self.app.post(path, Some(&self.token), json).await
    }

    pub async fn post_if(&self, path: &str, version: i64, json: Value) -> Response {
        self.app.post_if(path, &self.token, version, json).await
    }

    /// The id of the demo group with this name.
    pub async fn group(&self, name: &str) -> GroupId {
        GroupId(self.app.group_id(&self.token, name).await)
    }

    /// Every customer this user may list (the demo has fewer than 200).
    pub async fn customers(&self) -> Vec<Customer> {
        let page = self.get("/api/v1/customers?limit=200").await;
        assert_eq!(page.status, 200, "{}", page.body);
        page.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .cloned()
            .map(Customer::new)
            .collect()
    }

    /// The first listed customer living in Saltsjö-Boo for whom `wanted` holds.
    pub async fn boo_customer_where(&self, wanted: impl Fn(&Value) -> bool) -> Customer {
        self.customers()
            .await
            .into_iter()
            .find(|c| c["address"]["city"] == "Saltsjö-Boo" && wanted(&c.json))
            .expect("a demo customer like that")
    }

    /// A Boo customer of our municipality or another.
    pub async fn boo_customer(&self, other_municipality: bool) -> Customer {
        self.boo_customer_where(|c| c["other_municipality"] == other_municipality)
            .await
    }

    /// A Boo customer whose consent to a digital lock is as asked.
    pub async fn boo_customer_consenting(
        &self,
        consent: bool,
        other_municipality: bool,
    ) -> Customer {
        self.boo_customer_where(|c| {
            c["consent"]["digital_lock"]["given"] == consent
                && c["other_municipality"] == other_municipality
        })
        .await
    }

    /// The demo customer with this customer number (`K-100001`).
    pub async fn customer_numbered(&self, number: &str) -> Customer {
        let page = self.get(&format!("/api/v1/customers?q={number}")).await;
        Customer::new(page.body["items"][0].clone())
    }

    /// The assessor grants a service; the decision opens an order.
    pub async fn grant(&self, customer: &CustomerId, decision: Value) -> Granted {
        let res = self.try_grant(customer, decision).await;
        assert_eq!(res.status, 201, "grant: {}", res.body);
        Granted {
            decision: Decision::new(res.body["decision"].clone()),
            order: Order::new(res.body["order"].clone()),
        }
    }

    pub async fn try_grant(&self, customer: &CustomerId, decision: Value) -> Response {
        self.post(&format!("/api/v1/customers/{customer}/decisions"), decision)
            .await
    }

    /// The customer's decisions, newest first as the API lists them.
    pub async fn decisions(&self, customer: &CustomerId) -> Vec<Decision> {
        let res = self
            .get(&format!("/api/v1/customers/{customer}/decisions"))
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        res.body
            .as_array()
            .expect("decisions")
            .iter()
            .cloned()
            .map(Decision::new)
            .collect()
    }

    /// Ends a decision on `end_date`; the answer carries the uninstall order.
    pub async fn end_decision(&self, decision: &Decision, end_date: impl fmt::Display) -> Ended {
        let res = self.try_end_decision(decision, end_date).await;
        assert_eq!(res.status, 200, "end decision: {}", res.body);
        Ended {
            decision: Decision::new(res.body["decision"].clone()),
            uninstall_order: Order::new(res.body["uninstall_order"].clone()),
        }
    }

    pub async fn try_end_decision(
        &self,
        decision: &Decision,
        end_date: impl fmt::Display,
    ) -> Response {
        self.post_if(
            &format!("/api/v1/decisions/{}/end", decision.id),
            decision.version(),
            json!({"end_date": end_date.to_string()}),
        )
        .await
    }

    /// A transition with the order's current version; asserts success.
    pub async fn step(&self, order: &Order, event: &str, body: Value) -> Order {
        let res = self.try_step(order, event, body).await;
        assert_eq!(res.status, 200, "{event}: {}", res.body);
        Order::new(res.body["order"].clone())
    }

    pub async fn try_step(&self, order: &Order, event: &str, body: Value) -> Response {
        self.post_if(
            &format!("/api/v1/orders/{}/{event}", order.id),
            order.version(),
            body,
        )
        .await
    }

    pub async fn book(&self, order: &Order, visit_date: impl fmt::Display) -> Order {
        self.step(order, "book", json!({"visit_date": visit_date.to_string()}))
            .await
    }

    /// A call or a visit attempt logged on the order (`kind`, maybe `note`).
    pub async fn log_contact(&self, order: &Order, contact: Value) {
        let res = self
            .post(&format!("/api/v1/orders/{}/contacts", order.id), contact)
            .await;
        assert_eq!(res.status, 201, "{}", res.body);
    }

    /// `keys`: key numbers, count, cabinet, hook and maybe night cabinet.
    pub async fn receive_keys(&self, order: &Order, keys: Value) -> Order {
        self.step(order, "receive-keys", keys).await
    }

    pub async fn install(
        &self,
        order: &Order,
        installation_date: impl fmt::Display,
        serials: &[&str],
    ) -> Order {
        self.step(
            order,
            "install",
            json!({"installation_date": installation_date.to_string(), "serials": serials}),
        )
        .await
    }

    pub async fn execute(&self, order: &Order) -> Order {
        self.step(order, "execute", json!({})).await
    }

    pub async fn collect_equipment(
        &self,
        order: &Order,
        collected_on: impl fmt::Display,
        items: &[&str],
    ) -> Order {
        self.step(
            order,
            "collect-equipment",
            json!({"collected_on": collected_on.to_string(), "items": items}),
        )
        .await
    }

    /// `outcome`: `returned` or `kept`.
    pub async fn return_keys(&self, order: &Order, outcome: &str) -> Order {
        self.step(order, "return-keys", json!({"outcome": outcome}))
            .await
    }

    /// The uninstall order's last step.
    pub async fn end(&self, order: &Order) -> Order {
        self.step(order, "end", json!({})).await
    }

    /// The order with its history and contacts.
    pub async fn order_detail(&self, order: &OrderId) -> Value {
        let res = self.get(&format!("/api/v1/orders/{order}")).await;
        assert_eq!(res.status, 200, "{}", res.body);
        res.body
    }

    pub async fn inbox(&self) -> Vec<Value> {
        let res = self.get("/api/v1/messages?limit=200").await;
        assert_eq!(res.status, 200, "{}", res.body);
        res.body.as_array().expect("messages").clone()
    }

    pub async fn executions(&self, customer: &CustomerId) -> Vec<Value> {
        let res = self
            .get(&format!("/api/v1/customers/{customer}/executions"))
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        res.body.as_array().expect("executions").clone()
    }

    pub async fn billing_events(
        &self,
        from: impl fmt::Display,
        to: impl fmt::Display,
    ) -> Vec<Value> {
        let res = self
            .get(&format!("/api/v1/billing/events?from={from}&to={to}"))
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        res.body.as_array().expect("events").clone()
    }

    /// Registers a key received from a customer; `key` is number, customer, count, cabinet, hook.
    pub async fn create_key(&self, key: Value) -> Key {
        let res = self.post("/api/v1/keys", key).await;
        assert_eq!(res.status, 201, "{}", res.body);
        Key::new(res.body["key"].clone())
    }

    /// A key move (`sign-out`, `sign-in`, `report-lost`, …) with the key's version.
    pub async fn try_key_move(&self, key: &Key, mv: &str, body: Value) -> Response {
        self.post_if(
            &format!("/api/v1/keys/{}/{mv}", key.id),
            key.version(),
            body,
        )
        .await
    }

    /// A key move that must succeed; the key as it is now.
    pub async fn key_move(&self, key: &Key, mv: &str, body: Value) -> Key {
        let res = self.try_key_move(key, mv, body).await;
        assert_eq!(res.status, 200, "{mv}: {}", res.body);
        Key::new(res.body["key"].clone())
    }

    pub async fn sign_out_key(&self, key: &Key, group: &GroupId) -> Key {
        self.key_move(key, "sign-out", json!({"group_id": group}))
            .await
    }

    /// `place`: `{}` for the hook it had, or a new cabinet and hook.
    pub async fn sign_in_key(&self, key: &Key, place: Value) -> Key {
        self.key_move(key, "sign-in", place).await
    }

    /// The key with its history of moves.
    pub async fn key_detail(&self, key: &KeyId) -> Value {
        let res = self.get(&format!("/api/v1/keys/{key}")).await;
        assert_eq!(res.status, 200, "{}", res.body);
        res.body
    }

    /// The customer's keys as the register lists them.
    pub async fn keys_of(&self, customer: &CustomerId) -> Vec<Key> {
        let res = self
            .get(&format!("/api/v1/customers/{customer}/keys"))
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        res.body
            .as_array()
            .expect("keys")
            .iter()
            .cloned()
            .map(Key::new)
            .collect()
    }

    /// The equipment item with this serial.
    pub async fn item(&self, serial: &str) -> Item {
        let res = self
            .get(&format!("/api/v1/equipment/items?serial={serial}"))
            .await;
        Item::new(res.body[0].clone())
    }

    /// An item move (`hand-out`, `collect`, `restock`, `scrap`, `link`, …) with the item's version.
    pub async fn try_item_move(&self, item: &Item, mv: &str, body: Value) -> Response {
        self.post_if(
            &format!("/api/v1/equipment/items/{}/{mv}", item.id),
            item.version(),
            body,
        )
        .await
    }
}

/// The assessor, installer and coordinator walking one customer's order.
pub struct Crew<'a> {
    pub assessor: Session<'a>,
    pub installer: Session<'a>,
    pub coordinator: Session<'a>,
}

impl Crew<'_> {
    /// Grants a service and walks it to a running execution that started on
    /// `installed`: granted, booked and installed on that day, executed.
    pub async fn running(
        &self,
        customer: &CustomerId,
        service: &str,
        installed: &str,
        serial: &str,
    ) -> Decision {
        let granted = self
            .assessor
            .grant(
                customer,
                json!({"service": service, "valid_from": installed}),
            )
            .await;
        let order = self.installer.book(&granted.order, installed).await;
        let order = self.installer.install(&order, installed, &[serial]).await;
        let order = self.coordinator.execute(&order).await;
        assert_eq!(order["state"], "executed");
        granted.decision
    }
}

/// The day `n` days before today, as the API writes dates.
pub fn days_ago(n: i64) -> String {
    (chrono::Utc::now().date_naive() - chrono::Duration::days(n)).to_string()
}
