use crate::helpers::TestApp;
use crate::on_both_backends;
use serde_json::json;

on_both_backends!(admin_builds_the_organisation_and_others_may_not);

async fn admin_builds_the_organisation_and_others_may_not(app: TestApp) {
    let admin = app.login("admin").await;
    let area = app
        .post("/api/v1/areas", Some(&admin), json!({"name": "Saltis"}))
        .await;
    assert_eq!(area.status, 201, "{}", area.body);
    let area_id = area.body["id"].as_str().unwrap().to_string();
    let again = app
        .post("/api/v1/areas", Some(&admin), json!({"name": "Saltis"}))
        .await;
    assert_eq!(
        (again.status, again.problem_code().as_str()),
        (409, "area_exists")
    );

    let group = app
        .post(
            "/api/v1/groups",
            Some(&admin),
            json!({"area_id": area_id, "name": "Saltisgruppen", "kind": "home_care"}),
        )
        .await;
    assert_eq!(group.status, 201, "{}", group.body);
    let group_id = group.body["id"].as_str().unwrap().to_string();
    let bad_kind = app
        .post(
            "/api/v1/groups",
            Some(&admin),
            json!({"area_id": area_id, "name": "X", "kind": "choir"}),
        )
        .await;
    assert_eq!(
        (bad_kind.status, bad_kind.problem_code().as_str()),
        (422, "invalid_body")
    );

    let user_id = app
        .create_user(&admin, "nina", "care_staff", &[&group_id])
        .await;
    let taken = app
        .post(
            "/api/v1/users",
            Some(&admin),
            json!({"username": "NINA", "display_name": "Nina", "password": "ett-langt-losenord", "role": "installer"}),
        )
        .await;
    assert_eq!(
        (taken.status, taken.problem_code().as_str()),
        (409, "username_taken")
    );
    let weak = app
        .post("/api/v1/users", Some(&admin), json!({"username": "olle", "display_name": "Olle", "password": "kort", "role": "installer"}))
        .await;
    assert_eq!(
        (weak.status, weak.problem_code().as_str()),
        (422, "validation_failed")
    );
    assert_eq!(weak.body["errors"][0]["field"], "password");

    // Membership: remove, then add back.
    let path = format!("/api/v1/groups/{group_id}/members/{user_id}");
    assert_eq!(
        app.send("DELETE", &path, Some(&admin), &[], None)
            .await
            .status,
        204
    );
    assert_eq!(
        app.send("DELETE", &path, Some(&admin), &[], None)
            .await
            .status,
        404
    );
    assert_eq!(
        app.send("PUT", &path, Some(&admin), &[], None).await.status,
        204
    );
    let user = app.get(&format!("/api/v1/users/{user_id}"), &admin).await;
    assert_eq!(user.body["group_ids"], json!([group_id]));
    assert_eq!(user.header("etag").as_deref(), Some("\"1\""));

    // The new user logs in and sees who they are.
    let nina = app.login_with("nina", "ett-langt-losenord").await;
    let me = app.get("/api/v1/auth/me", &nina).await;
    assert_eq!(me.body["role"], "care_staff");
    assert_eq!(me.body["groups"][0]["name"], "Saltisgruppen");

    // Nobody but the admin manages the organisation.
    for username in larmkoll::demo::usernames().filter(|u| *u != "admin") {
        let token = app.login(username).await;
        let res = app
            .post(
                "/api/v1/areas",
                Some(&token),
                json!({"name": format!("Nytt {username}")}),
            )
            .await;
        assert_eq!(
            (res.status, res.problem_code().as_str()),
            (403, "forbidden"),
            "{username}"
        );
        assert_eq!(
            app.get("/api/v1/users", &token).await.status,
            403,
            "{username}"
        );
        assert_eq!(
            app.get("/api/v1/areas", &token).await.status,
            200,
            "{username}"
        );
    }
}
