//! The routines' notices, each to exactly the addressees the seeds name: an
//! alarm from order to collection (seeds 000, 003, 004), a declined order
//! (seed 000 steps 5–6) and a digital lock mounted and taken down (seed 002).

use crate::helpers::TestApp;
use crate::on_both_backends;
use chrono::{Duration, Utc};
use serde_json::{json, Value};
use std::collections::BTreeSet;

on_both_backends!(every_notice_reaches_exactly_the_addressees_the_seeds_name);

fn day(offset: i64) -> String {
    (Utc::now().date_naive() + Duration::days(offset)).to_string()
}

struct People<'a> {
    app: &'a TestApp,
    assessor: String,
    installer: String,
    coordinator: String,
    /// Every group's kind, by id.
    kinds: Vec<(String, String)>,
}

impl People<'_> {
    /// The addressees of the messages about `order` on `topic`, as
    /// `role:…`, `group:…` and `user:…`.
    async fn addressees(&self, topic: &'static str, order: &str) -> BTreeSet<String> {
        let order = order.to_string();
        let rows = self
            .app
            .db
            .run(move |c| {
                use diesel::prelude::*;
                use larmkoll::db::schema::messages::dsl as m;
                Ok(m::messages
                    .filter(m::topic.eq(topic).and(m::order_id.eq(order)))
                    .select((
                        m::recipient_role,
                        m::recipient_group_id,
                        m::recipient_user_id,
                    ))
                    .load::<(Option<String>, Option<String>, Option<String>)>(c)?)
            })
            .await
            .unwrap();
        rows.into_iter()
            .map(|r| match r {
                (Some(role), _, _) => format!("role:{role}"),
                (_, Some(group), _) => format!("group:{group}"),
                (_, _, Some(user)) => format!("user:{user}"),
                _ => panic!("a message to no one"),
            })
            .collect()
    }

    /// The customer's groups of these kinds, as addressees.
    fn groups(&self, customer: &Value, kinds: &[&str]) -> BTreeSet<String> {
        customer["group_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g.as_str().unwrap())
            .filter(|g| {
                self.kinds
                    .iter()
                    .any(|(id, kind)| id == g && kinds.contains(&kind.as_str()))
            })
            .map(|g| format!("group:{g}"))
            .collect()
    }

    async fn step(&self, token: &str, order: &Value, event: &str, body: Value) -> Value {
        let res = self
            .app
            .post_if(
                &format!("/api/v1/orders/{}/{event}", order["id"].as_str().unwrap()),
                token,
                order["version"].as_i64().unwrap(),
                body,
            )
            .await;
        assert_eq!(res.status, 200, "{event}: {}", res.body);
        res.body["order"].clone()
    }

    async fn grant(&self, customer: &Value, service: &str) -> Value {
        let res = self
            .app
            .post(
                &format!(
                    "/api/v1/customers/{}/decisions",
                    customer["id"].as_str().unwrap()
                ),
                Some(&self.assessor),
                json!({"service": service, "valid_from": day(-30)}),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.body);
        res.body.clone()
    }

    async fn end(&self, decision: &Value, end_date: &str) -> Value {
        let res = self
            .app
            .post_if(
                &format!("/api/v1/decisions/{}/end", decision["id"].as_str().unwrap()),
                &self.assessor,
                decision["version"].as_i64().unwrap(),
                json!({ "end_date": end_date }),
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        res.body.clone()
    }

    async fn in_stock(&self, kind: &str, n: usize) -> String {
        self.app
            .get(
                &format!("/api/v1/equipment/items?state=in_stock&kind={kind}"),
                &self.installer,
            )
            .await
            .body[n]["serial"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

async fn every_notice_reaches_exactly_the_addressees_the_seeds_name(app: TestApp) {
    let admin = app.login("admin").await;
    let groups = app.get("/api/v1/groups", &admin).await.body.clone();
    let p = People {
        app: &app,
        assessor: app.login("handlaggare").await,
        installer: app.login("installator").await,
        coordinator: app.login("koordinator").await,
        kinds: groups
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g["id"].as_str().unwrap().into(),
                    g["kind"].as_str().unwrap().into(),
                )
            })
            .collect(),
    };
    let customers = app
        .get("/api/v1/customers?limit=200", &p.assessor)
        .await
        .body["items"]
        .clone();
    let boo: Vec<Value> = customers
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["address"]["city"] == "Saltsjö-Boo"
                && c["ordinary_assessor_id"].is_string()
                && c["other_municipality"] == false
        })
        .cloned()
        .collect();
    let with_consent = boo
        .iter()
        .find(|c| c["consent"]["digital_lock"]["given"] == true)
        .expect("a customer who consents to a lock")
        .clone();
    let others: Vec<&Value> = boo
        .iter()
        .filter(|c| c["id"] != with_consent["id"])
        .collect();
    let (alarm, declining) = (others[0].clone(), others[1].clone());
    let ordinary = |c: &Value| format!("user:{}", c["ordinary_assessor_id"].as_str().unwrap());

    // An alarm, from order to collection.
    let granted = p.grant(&alarm, "safety_alarm").await;
    let order = &granted["order"];
    let mut expected = set(&["role:alarm_center"]);
    expected.extend(p.groups(&alarm, &["alarm_team"]));
    assert!(expected.len() > 1, "the customer has an alarm team");
    assert_eq!(
        p.addressees("ordered", order["id"].as_str().unwrap()).await,
        expected,
        "ordered"
    );

    let serials = [
        p.in_stock("alarm_unit", 0).await,
        p.in_stock("alarm_button", 0).await,
    ];
    let order = p
        .step(&p.installer, order, "book", json!({"visit_date": day(-20)}))
        .await;
    let order = p
        .step(
            &p.installer,
            &order,
            "receive-keys",
            json!({"key_numbers": ["N-1"], "count": 1, "cabinet": "Skåp 1", "hook": "9"}),
        )
        .await;
    let order = p
        .step(
            &p.installer,
            &order,
            "install",
            json!({"installation_date": day(-20), "serials": serials}),
        )
        .await;
    let mut expected = set(&["role:billing"]);
    expected.extend(p.groups(&alarm, &["night_patrol", "home_care", "alarm_team"]));
    assert_eq!(
        p.addressees("installed", order["id"].as_str().unwrap())
            .await,
        expected,
        "installed"
    );
    p.step(&p.coordinator, &order, "execute", json!({})).await;

    let ended = p.end(&granted["decision"], &day(-1)).await;
    let uninstall = ended["uninstall_order"].clone();
    assert!(uninstall.is_object(), "{ended}");
    let mut expected = set(&["role:alarm_center"]);
    expected.extend(p.groups(&alarm, &["alarm_team"]));
    assert_eq!(
        p.addressees("terminated", uninstall["id"].as_str().unwrap())
            .await,
        expected,
        "terminated (avbeställning)"
    );
    let collected = p
        .step(
            &p.installer,
            &uninstall,
            "collect-equipment",
            json!({"collected_on": day(0), "items": serials}),
        )
        .await;
    assert_eq!(
        p.addressees("equipment_collected", collected["id"].as_str().unwrap())
            .await,
        set(&["role:billing", "role:coordinator", &ordinary(&alarm)]),
        "equipment collected"
    );
    assert!(p
        .addressees("lock_removed", collected["id"].as_str().unwrap())
        .await
        .is_empty());

    // Declined: the assessor, and the home-care provider is informed.
    let declined = p.grant(&declining, "safety_alarm").await;
    let order = p
        .step(
            &p.installer,
            &declined["order"],
            "decline",
            json!({"reason": "Vill inte ha larm"}),
        )
        .await;
    let mut expected = set(&[&ordinary(&declining)]);
    expected.extend(p.groups(&declining, &["home_care"]));
    assert!(expected.len() > 1, "the customer has home care");
    assert_eq!(
        p.addressees("declined", order["id"].as_str().unwrap())
            .await,
        expected,
        "declined"
    );

    // A digital lock mounted and taken down: the system administrator and the provider.
    let granted = p.grant(&with_consent, "digital_lock").await;
    let lock = p.in_stock("digital_lock", 0).await;
    let order = p
        .step(
            &p.installer,
            &granted["order"],
            "book",
            json!({"visit_date": day(-10)}),
        )
        .await;
    let order = p
        .step(
            &p.installer,
            &order,
            "install",
            json!({"installation_date": day(-10), "serials": [lock]}),
        )
        .await;
    let mut provider = set(&["role:admin"]);
    provider.extend(p.groups(&with_consent, &["home_care"]));
    assert_eq!(
        p.addressees("lock_mounted", order["id"].as_str().unwrap())
            .await,
        provider,
        "lock mounted"
    );
    p.step(&p.coordinator, &order, "execute", json!({})).await;
    let ended = p.end(&granted["decision"], &day(-1)).await;
    let collected = p
        .step(
            &p.installer,
            &ended["uninstall_order"],
            "collect-equipment",
            json!({"collected_on": day(0), "items": [lock]}),
        )
        .await;
    assert_eq!(
        p.addressees("lock_removed", collected["id"].as_str().unwrap())
            .await,
        provider,
        "lock removed"
    );

    // Each notice names the customer by number only.
    let bodies = app
        .db
        .run(|c| {
            use diesel::prelude::*;
            use larmkoll::db::schema::messages::dsl as m;
            Ok(m::messages
                .select((m::subject, m::body))
                .load::<(String, String)>(c)?)
        })
        .await
        .unwrap();
    for c in [&alarm, &declining, &with_consent] {
        for (subject, body) in &bodies {
            for personal in [
                c["first_name"].as_str().unwrap(),
                c["last_name"].as_str().unwrap(),
                c["address"]["street"].as_str().unwrap(),
            ] {
                assert!(
                    !subject.contains(personal) && !body.contains(personal),
                    "{personal:?} in {subject}: {body}"
                );
            }
        }
    }
}
