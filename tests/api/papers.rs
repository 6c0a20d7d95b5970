//! An upload's paper and the small helpers the document tests share: the
//! request, the ids, and a snapshot of what is stored to compare before and
//! after a refusal. Used by `hostile_documents` and by the memory test in its
//! own binary (`tests/memory`).

use crate::helpers::{Response, TestApp};
use chrono::Utc;
use serde_json::Value;

/// What an upload says about its paper.
#[derive(Clone)]
pub struct Paper {
    pub customer: String,
    pub kind: &'static str,
    pub signed_by: String,
    pub signed_at: String,
    pub order: Option<String>,
}

impl Paper {
    pub fn of(customer: &str) -> Self {
        Self {
            customer: customer.to_string(),
            kind: "key_receipt",
            signed_by: "Kunden".into(),
            signed_at: Utc::now().date_naive().to_string(),
            order: None,
        }
    }

    pub fn path(&self, id: &str) -> String {
        let mut p = format!(
            "/api/v1/documents/{id}?kind={}&customer_id={}&signed_by={}&signed_at={}",
            self.kind, self.customer, self.signed_by, self.signed_at
        );
        if let Some(o) = &self.order {
            p.push_str(&format!("&order_id={o}"));
        }
        p
    }
}

pub async fn put(
    app: &TestApp,
    token: &str,
    id: &str,
    paper: &Paper,
    content_type: &str,
    body: Vec<u8>,
) -> Response {
    app.send(
        "PUT",
        &paper.path(id),
        Some(token),
        &[("Content-Type", content_type)],
        Some(body),
    )
    .await
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn id_of(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_string()
}

/// Rows in one of the tables this file touches.
pub async fn rows(app: &TestApp, table: &'static str) -> i64 {
    app.db
        .run(move |conn| {
            use diesel::prelude::*;
            use larmkoll::db::schema::{documents, key_moves, keys};
            Ok(match table {
                "documents" => documents::table.count().get_result::<i64>(conn)?,
                "keys" => keys::table.count().get_result::<i64>(conn)?,
                "key_moves" => key_moves::table.count().get_result::<i64>(conn)?,
                other => panic!("no table {other}"),
            })
        })
        .await
        .expect("count")
}

/// What is stored: rows of the tables and the files, to compare before and after.
pub async fn snapshot(app: &TestApp) -> (i64, i64, i64, Vec<String>) {
    (
        rows(app, "documents").await,
        rows(app, "keys").await,
        rows(app, "key_moves").await,
        app.stored_files(),
    )
}

/// The ids of the customers a user sees.
pub async fn visible(app: &TestApp, token: &str) -> Vec<String> {
    let page = app.get("/api/v1/customers?limit=200", token).await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(id_of)
        .collect()
}

/// A customer of Sickla, and an installer of the Sickla alarm team who serves it.
pub async fn sickla_installer(app: &TestApp, admin: &str) -> (String, String) {
    let team = app.group_id(admin, "Sickla larmgrupp").await;
    app.create_user(admin, "sickla.larm", "installer", &[&team])
        .await;
    let token = app.login_with("sickla.larm", "ett-langt-losenord").await;
    let customer = visible(app, &token)
        .await
        .into_iter()
        .next()
        .expect("a Sickla customer");
    (token, customer)
}

pub fn assert_problem(res: &Response, status: u16, code: &str) {
    assert_eq!(
        (res.status, res.problem_code().as_str()),
        (status, code),
        "{}",
        res.body
    );
}

pub fn detail(res: &Response) -> (String, String) {
    (
        res.body["detail"].as_str().unwrap_or_default().to_string(),
        res.body["detail_sv"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}
