use crate::helpers::{Backend, TestApp};
use crate::on_both_backends;
use serde_json::json;

on_both_backends!(
    login_refresh_rotation_and_reuse_detection,
    wrong_username_and_wrong_password_look_the_same_and_are_throttled,
    admin_cuts_every_session_of_a_user,
    deactivated_user_is_locked_out_at_once,
    logout_ends_the_access_token_at_its_next_request,
);

async fn login_refresh_rotation_and_reuse_detection(app: TestApp) {
    let login = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "Installator", "password": "demo"}),
        )
        .await;
    assert_eq!(login.status, 200, "{}", login.body);
    assert_eq!(login.body["token_type"], "Bearer");
    assert_eq!(login.body["expires_in"], 15 * 60);
    assert_eq!(login.body["user"]["role"], "installer");
    let access = login.body["access_token"].as_str().unwrap().to_string();
    let first = login.body["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(app.get("/api/v1/auth/me", &access).await.status, 200);

    // Rotation: the refresh token works once and yields a new pair.
    let r1 = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": first}),
        )
        .await;
    assert_eq!(r1.status, 200, "{}", r1.body);
    let second = r1.body["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(second, first);

    // Reuse of the first token (say, a stolen copy) revokes the whole family,
    // so even the legitimate newest token stops working.
    let reuse = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": first}),
        )
        .await;
    assert_eq!(
        (reuse.status, reuse.problem_code().as_str()),
        (401, "invalid_refresh_token")
    );
    let after = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": second}),
        )
        .await;
    assert_eq!(after.status, 401);

    // Logout revokes this session's family.
    let login = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "installator", "password": "demo"}),
        )
        .await;
    let (access, refresh) = (
        login.body["access_token"].as_str().unwrap(),
        login.body["refresh_token"].as_str().unwrap(),
    );
    let out = app
        .post(
            "/api/v1/auth/logout",
            Some(access),
            json!({"refresh_token": refresh}),
        )
        .await;
    assert_eq!(out.status, 204);
    let r = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": refresh}),
        )
        .await;
    assert_eq!(r.status, 401);

    let garbage = app.get("/api/v1/auth/me", "not-a-jwt").await;
    assert_eq!(
        (garbage.status, garbage.problem_code().as_str()),
        (401, "unauthenticated")
    );
    let none = app.send("GET", "/api/v1/auth/me", None, &[], None).await;
    assert_eq!(none.status, 401);
}

async fn wrong_username_and_wrong_password_look_the_same_and_are_throttled(app: TestApp) {
    let wrong_user = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "ingen", "password": "demo"}),
        )
        .await;
    let wrong_pass = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "avgift", "password": "fel"}),
        )
        .await;
    assert_eq!(wrong_user.status, 401);
    assert_eq!(wrong_user.body, wrong_pass.body);
    assert_eq!(wrong_user.problem_code(), "invalid_credentials");

    for _ in 0..4 {
        app.post(
            "/api/v1/auth/login",
            None,
            json!({"username": "avgift", "password": "fel"}),
        )
        .await;
    }
    // Five failures: now even the right password waits.
    let blocked = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "avgift", "password": "demo"}),
        )
        .await;
    assert_eq!(
        (blocked.status, blocked.problem_code().as_str()),
        (429, "too_many_attempts")
    );
    assert!(
        blocked
            .header("retry-after")
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    // Another account from elsewhere is not affected by this account's lock.
    assert_eq!(
        app.post(
            "/api/v1/auth/login",
            None,
            json!({"username": "admin", "password": "demo"})
        )
        .await
        .status,
        200
    );
}

async fn admin_cuts_every_session_of_a_user(app: TestApp) {
    let admin = app.login("admin").await;
    let login = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "hemtjanst", "password": "demo"}),
        )
        .await;
    let access = login.body["access_token"].as_str().unwrap().to_string();
    let refresh = login.body["refresh_token"].as_str().unwrap().to_string();
    let me = app.get("/api/v1/auth/me", &access).await;
    let id = me.body["id"].as_str().unwrap();
    let installer = app.login("installator").await;
    let denied = app
        .post(
            &format!("/api/v1/users/{id}/revoke-sessions"),
            Some(&installer),
            json!({}),
        )
        .await;
    assert_eq!(denied.status, 403);

    let cut = app
        .post(
            &format!("/api/v1/users/{id}/revoke-sessions"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(cut.status, 204, "{}", cut.body);
    assert_eq!(
        app.get("/api/v1/auth/me", &access).await.status,
        401,
        "old access token still works"
    );
    assert_eq!(
        app.post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": refresh})
        )
        .await
        .status,
        401
    );
    // A fresh login works again.
    app.login("hemtjanst").await;
}

async fn deactivated_user_is_locked_out_at_once(app: TestApp) {
    let admin = app.login("admin").await;
    let avgift = app.login("avgift").await;
    let id = app.get("/api/v1/auth/me", &avgift).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/v1/users/{id}");
    let missing = app
        .patch(&path, &admin, None, json!({"active": false}))
        .await;
    assert_eq!(
        (missing.status, missing.problem_code().as_str()),
        (428, "precondition_required")
    );
    let res = app
        .patch(&path, &admin, Some("\"1\""), json!({"active": false}))
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["active"], false);
    let stale = app
        .patch(&path, &admin, Some("\"1\""), json!({"active": true}))
        .await;
    assert_eq!(
        (stale.status, stale.problem_code().as_str()),
        (412, "stale_version")
    );
    assert_eq!(app.get("/api/v1/auth/me", &avgift).await.status, 401);
    let login = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "avgift", "password": "demo"}),
        )
        .await;
    assert_eq!(login.status, 401);
}

#[actix_web::test]
async fn demo_password_is_refused_outside_demo_mode() {
    let app = TestApp::start_with(Backend::Sqlite, false).await.unwrap();
    let res = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "admin", "password": "demo"}),
        )
        .await;
    assert_eq!(
        (res.status, res.problem_code().as_str()),
        (401, "invalid_credentials")
    );
}

async fn logout_ends_the_access_token_at_its_next_request(app: TestApp) {
    let session = |username: &'static str| {
        let app = &app;
        async move {
            let login = app
                .post(
                    "/api/v1/auth/login",
                    None,
                    json!({"username": username, "password": "demo"}),
                )
                .await;
            assert_eq!(login.status, 200, "{}", login.body);
            (
                login.body["access_token"].as_str().unwrap().to_string(),
                login.body["refresh_token"].as_str().unwrap().to_string(),
            )
        }
    };
    let (phone, phone_refresh) = session("installator").await;
    let (desk, desk_refresh) = session("installator").await;
    let (other, _) = session("koordinator").await;

    // Someone else's refresh token ends nothing of the installer's.
    let stray = app
        .post(
            "/api/v1/auth/logout",
            Some(&other),
            json!({"refresh_token": desk_refresh}),
        )
        .await;
    assert_eq!(stray.status, 204);
    assert_eq!(app.get("/api/v1/auth/me", &desk).await.status, 200);
    assert_eq!(app.get("/api/v1/auth/me", &other).await.status, 401);

    // Logging out on the phone, even without its refresh token, ends the phone's session at once.
    assert_eq!(app.get("/api/v1/auth/me", &phone).await.status, 200);
    let out = app
        .post("/api/v1/auth/logout", Some(&phone), json!({}))
        .await;
    assert_eq!(out.status, 204);
    let after = app.get("/api/v1/auth/me", &phone).await;
    assert_eq!(
        (after.status, after.problem_code().as_str()),
        (401, "unauthenticated")
    );
    assert!(
        after.body["detail_sv"]
            .as_str()
            .unwrap()
            .contains("Logga in"),
        "{}",
        after.body
    );
    let refreshed = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": phone_refresh}),
        )
        .await;
    assert_eq!(refreshed.status, 401);

    // The desk's session is another one and goes on.
    assert_eq!(app.get("/api/v1/auth/me", &desk).await.status, 200);
}
