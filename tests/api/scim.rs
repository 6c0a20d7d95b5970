//! Provisioning by the identity provider through SCIM 2.0 at /scim/v2: users
//! created, changed and switched off, group memberships set; each checked
//! through Larmkoll's own API and its audit log.

use crate::helpers::{Backend, Response, TestApp};
use serde_json::{json, Value};

const TOKEN: &str = "scim-token-for-the-tests-0123456789";

async fn start(backend: Backend) -> Option<TestApp> {
    TestApp::start_configured(backend, true, |s| s.scim_token = Some(TOKEN.into())).await
}

async fn scim(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> Response {
    let auth = format!("Bearer {TOKEN}");
    let mut headers = vec![("Authorization", auth.as_str())];
    if body.is_some() {
        headers.push(("Content-Type", "application/scim+json"));
    }
    app.send(
        method,
        &format!("/scim/v2{path}"),
        None,
        &headers,
        body.map(|b| b.to_string().into_bytes()),
    )
    .await
}

/// Audit entries the provider made, by action.
async fn by_scim(app: &TestApp, action: &str) -> i64 {
    let action = action.to_string();
    app.db
        .run(move |conn| {
            use diesel::prelude::*;
            use larmkoll::db::schema::audit_log::dsl as al;
            Ok(al::audit_log
                .filter(al::username.eq("scim"))
                .filter(al::action.eq(action))
                .count()
                .get_result::<i64>(conn)?)
        })
        .await
        .expect("audit")
}

async fn provisioning(app: TestApp) {
    let admin = app.login("admin").await;

    // Created ahead, with the identity they will sign in with.
    let created = scim(
        &app,
        "POST",
        "/Users",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "Anna.Lind@kommun.se",
            "externalId": "5f1c-anna-oid",
            "name": {"givenName": "Anna", "familyName": "Lind"},
            "active": true,
            "roles": [{"value": "installer", "primary": true}],
        })),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(
        created.header("content-type").as_deref(),
        Some("application/scim+json")
    );
    let id = created.body["id"].as_str().expect("id").to_string();
    assert!(created
        .header("location")
        .expect("location")
        .ends_with(&format!("/scim/v2/Users/{id}")));
    let user = app.get(&format!("/api/v1/users/{id}"), &admin).await;
    assert_eq!(user.body["username"], "anna.lind@kommun.se");
    assert_eq!(user.body["display_name"], "Anna Lind");
    assert_eq!(user.body["external_id"], "5f1c-anna-oid");
    assert_eq!(user.body["role"], "installer");
    assert_eq!(user.body["has_password"], false);
    assert_eq!(by_scim(&app, "user.create").await, 1);

    // Found again by the attribute the provider matches on.
    let found = scim(
        &app,
        "GET",
        "/Users?filter=externalId%20eq%20%225f1c-anna-oid%22",
        None,
    )
    .await;
    assert_eq!(found.body["totalResults"], 1, "{}", found.body);
    assert_eq!(found.body["Resources"][0]["id"], id.as_str());
    let same = scim(&app, "POST", "/Users", Some(json!({"userName": "anna.lind@kommun.se", "externalId": "other", "roles": ["installer"]}))).await;
    assert_eq!(
        (same.status, same.body["scimType"].as_str()),
        (409, Some("uniqueness")),
        "{}",
        same.body
    );
    let no_role = scim(
        &app,
        "POST",
        "/Users",
        Some(json!({"userName": "bo.ek", "externalId": "bo-oid"})),
    )
    .await;
    assert_eq!(
        (no_role.status, no_role.body["scimType"].as_str()),
        (400, Some("invalidValue"))
    );
    assert!(no_role.body["detail_sv"]
        .as_str()
        .expect("sv")
        .contains("roll"));

    // Changed: a new name by PATCH, a new role by PUT.
    let patched = scim(
        &app,
        "PATCH",
        &format!("/Users/{id}"),
        Some(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "displayName", "value": "Anna Lind-Berg"}]}),
        ),
    )
    .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    let replaced = scim(
        &app,
        "PUT",
        &format!("/Users/{id}"),
        Some(json!({"userName": "anna.lind@kommun.se", "externalId": "5f1c-anna-oid", "displayName": "Anna Lind-Berg", "roles": [{"value": "coordinator"}], "active": true})),
    )
    .await;
    assert_eq!(replaced.status, 200, "{}", replaced.body);
    let user = app.get(&format!("/api/v1/users/{id}"), &admin).await;
    assert_eq!(
        (
            user.body["display_name"].as_str(),
            user.body["role"].as_str()
        ),
        (Some("Anna Lind-Berg"), Some("coordinator"))
    );
    assert_eq!(by_scim(&app, "user.update").await, 2);

    // Group membership, in and out.
    let groups = scim(
        &app,
        "GET",
        "/Groups?filter=displayName%20eq%20%22Boo%20larmgrupp%22",
        None,
    )
    .await;
    assert_eq!(groups.body["totalResults"], 1, "{}", groups.body);
    let group = groups.body["Resources"][0]["id"]
        .as_str()
        .expect("group")
        .to_string();
    let added = scim(
        &app,
        "PATCH",
        &format!("/Groups/{group}"),
        Some(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": id}]}]}),
        ),
    )
    .await;
    assert_eq!(added.status, 200, "{}", added.body);
    let user = app.get(&format!("/api/v1/users/{id}"), &admin).await;
    assert_eq!(user.body["group_ids"], json!([group]));
    let removed = scim(
        &app,
        "PATCH",
        &format!("/Groups/{group}"),
        Some(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "remove", "path": format!("members[value eq \"{id}\"]")}]}),
        ),
    )
    .await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    let user = app.get(&format!("/api/v1/users/{id}"), &admin).await;
    assert_eq!(user.body["group_ids"], json!([]));
    assert_eq!(
        (
            by_scim(&app, "group.add_member").await,
            by_scim(&app, "group.remove_member").await
        ),
        (1, 1)
    );
}

async fn deactivation_cuts_every_session(app: TestApp) {
    // A user with sessions on two devices.
    let phone = app.login("installator").await;
    let desk = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "installator", "password": "demo"}),
        )
        .await;
    assert_eq!(desk.status, 200);
    let found = scim(
        &app,
        "GET",
        "/Users?filter=userName%20eq%20%22installator%22",
        None,
    )
    .await;
    let id = found.body["Resources"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    assert_eq!(app.get("/api/v1/auth/me", &phone).await.status, 200);

    // As Entra ID sends it: the boolean as a string.
    let off = scim(
        &app,
        "PATCH",
        &format!("/Users/{id}"),
        Some(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}),
        ),
    )
    .await;
    assert_eq!(
        (off.status, &off.body["active"]),
        (200, &json!(false)),
        "{}",
        off.body
    );

    // Every token out stops at its next request; the refresh token is dead; login is refused.
    assert_eq!(app.get("/api/v1/auth/me", &phone).await.status, 401);
    let access = desk.body["access_token"].as_str().expect("access");
    assert_eq!(app.get("/api/v1/auth/me", access).await.status, 401);
    let refresh = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": desk.body["refresh_token"]}),
        )
        .await;
    assert_eq!(refresh.status, 401);
    let login = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "installator", "password": "demo"}),
        )
        .await;
    assert_eq!(login.status, 401);
    assert_eq!(by_scim(&app, "user.deactivate").await, 1);

    // A DELETE switches off too; the user stays for the audit log and custody.
    let other = scim(
        &app,
        "GET",
        "/Users?filter=userName%20eq%20%22koordinator%22",
        None,
    )
    .await;
    let other = other.body["Resources"][0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    assert_eq!(
        scim(&app, "DELETE", &format!("/Users/{other}"), None)
            .await
            .status,
        204
    );
    let admin = app.login("admin").await;
    let user = app.get(&format!("/api/v1/users/{other}"), &admin).await;
    assert_eq!((user.status, &user.body["active"]), (200, &json!(false)));
}

crate::on_both_backends_configured!(super::start; provisioning, deactivation_cuts_every_session);

#[actix_web::test]
async fn only_the_provider_with_the_token_reaches_scim() {
    let app = start(Backend::Sqlite).await.expect("sqlite");
    let wrong = app
        .send(
            "GET",
            "/scim/v2/Users",
            None,
            &[("Authorization", "Bearer wrong")],
            None,
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.header("www-authenticate").is_some());
    assert_eq!(
        wrong.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
    );
    // An admin's own token is not the provider's.
    let admin = app.login("admin").await;
    assert_eq!(app.get("/scim/v2/Users", &admin).await.status, 401);

    // Without a configured token there is no SCIM at all.
    let plain = TestApp::start(Backend::Sqlite).await.expect("sqlite");
    let none = plain
        .send(
            "GET",
            "/scim/v2/Users",
            None,
            &[("Authorization", &format!("Bearer {TOKEN}"))],
            None,
        )
        .await;
    assert_eq!(none.status, 404);
}
