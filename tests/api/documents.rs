//! Photographed documents with real photos: orientation, metadata, formats,
//! refusals that leave nothing behind, idempotent re-sends.

use crate::helpers::{Response, TestApp};
use crate::on_both_backends;
use crate::steps::{Crew, Customer};
use chrono::Utc;
use serde_json::{json, Value};

on_both_backends!(photos_come_out_upright_without_gps_and_bad_files_leave_nothing);

const PORTRAIT: &[u8] = include_bytes!("../fixtures/portrait-orientation-6-gps.jpg");
const PNG: &[u8] = include_bytes!("../fixtures/nyckelkvittens.png");
const WEBP: &[u8] = include_bytes!("../fixtures/ansvarsavtal.webp");
const BOMB: &[u8] = include_bytes!("../fixtures/bomb-50000x50000.png");

async fn put(
    app: &TestApp,
    token: &str,
    id: &str,
    customer: &Value,
    content_type: &str,
    body: Vec<u8>,
) -> Response {
    let path = format!(
        "/api/v1/documents/{id}?kind=responsibility_agreement&customer_id={}&signed_by=Kunden&signed_at={}",
        customer["id"].as_str().unwrap(),
        Utc::now().date_naive()
    );
    app.send(
        "PUT",
        &path,
        Some(token),
        &[("Content-Type", content_type)],
        Some(body),
    )
    .await
}

async fn image_at(app: &TestApp, token: &str, path: &str) -> (image::DynamicImage, Vec<u8>) {
    let client = awc::Client::default();
    let mut res = client
        .get(format!("{}{}", app.base, path))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{path}");
    assert_eq!(
        res.headers().get("cache-control").unwrap(),
        "private, max-age=3600"
    );
    let body = res.body().limit(20 * 1024 * 1024).await.unwrap().to_vec();
    (image::load_from_memory(&body).expect("an image"), body)
}

async fn photos_come_out_upright_without_gps_and_bad_files_leave_nothing(app: TestApp) {
    let installer = app.login("installator").await;
    let customer = app.get("/api/v1/customers?limit=1", &installer).await.body["items"][0].clone();

    // A refused upload of any kind leaves no row and no file behind.
    let before = app.stored_files();
    let mut truncated = PORTRAIT[..PORTRAIT.len() / 2].to_vec();
    truncated.extend_from_slice(&[0; 16]);
    let refusals: [(&str, Vec<u8>, u16, &str); 5] = [
        ("image/png", BOMB.to_vec(), 422, "image_too_large"),
        ("image/jpeg", truncated, 422, "image_corrupt"),
        (
            "image/jpeg",
            b"Nyckelkvittens\nSignerad: ja\n".to_vec(),
            415,
            "unsupported_image",
        ),
        ("image/jpeg", PNG.to_vec(), 415, "unsupported_image"),
        (
            "image/jpeg",
            vec![0xFF; 16 * 1024 * 1024],
            413,
            "payload_too_large",
        ),
    ];
    for (ct, body, status, code) in refusals {
        let res = put(
            &app,
            &installer,
            &uuid::Uuid::new_v4().to_string(),
            &customer,
            ct,
            body,
        )
        .await;
        assert_eq!(
            (res.status, res.problem_code().as_str()),
            (status, code),
            "{}",
            res.body
        );
    }
    assert_eq!(
        app.stored_files(),
        before,
        "a refused upload left files behind"
    );
    let listed = app
        .get(
            &format!(
                "/api/v1/customers/{}/documents",
                customer["id"].as_str().unwrap()
            ),
            &installer,
        )
        .await;
    assert_eq!(listed.body, json!([]));

    // The phone's portrait photo, stored sideways with orientation 6 and GPS tags.
    let id = uuid::Uuid::new_v4().to_string();
    let res = put(
        &app,
        &installer,
        &id,
        &customer,
        "image/jpeg",
        PORTRAIT.to_vec(),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let expected_sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(PORTRAIT))
    };
    assert_eq!(res.body["sha256"], expected_sha.as_str());
    assert_eq!(
        (res.body["width"].as_i64(), res.body["height"].as_i64()),
        (Some(900), Some(1200)),
        "upright size"
    );

    let (display, display_bytes) =
        image_at(&app, &installer, &format!("/api/v1/documents/{id}/display")).await;
    assert_eq!((display.width(), display.height()), (900, 1200));
    let top = display.to_rgb8().get_pixel(450, 50).0;
    let bottom = display.to_rgb8().get_pixel(450, 1150).0;
    assert!(
        top[0] > 150 && top[2] < 100,
        "the top is red when upright: {top:?}"
    );
    assert!(
        bottom[2] > 150 && bottom[0] < 100,
        "the bottom is blue: {bottom:?}"
    );
    let (thumb, thumb_bytes) = image_at(
        &app,
        &installer,
        &format!("/api/v1/documents/{id}/thumbnail"),
    )
    .await;
    assert_eq!((thumb.width(), thumb.height()), (240, 320));
    for served in [&display_bytes, &thumb_bytes] {
        assert!(
            !served.windows(4).any(|w| w == b"Exif"),
            "served copies carry no EXIF (GPS)"
        );
    }
    assert!(
        PORTRAIT.windows(4).any(|w| w == b"Exif"),
        "the fixture does have EXIF to strip"
    );

    // The original is kept byte for byte, as proof.
    let client = awc::Client::default();
    let mut orig = client
        .get(format!("{}/api/v1/documents/{id}/original", app.base))
        .insert_header(("Authorization", format!("Bearer {installer}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        orig.headers()
            .get("x-content-sha256")
            .unwrap()
            .to_str()
            .unwrap(),
        expected_sha
    );
    assert_eq!(
        orig.body().limit(20 * 1024 * 1024).await.unwrap().as_ref(),
        PORTRAIT
    );

    // ETag revalidation.
    let first = app
        .send(
            "GET",
            &format!("/api/v1/documents/{id}/thumbnail"),
            Some(&installer),
            &[],
            None,
        )
        .await;
    let tag = first.header("etag").unwrap();
    let again = app
        .send(
            "GET",
            &format!("/api/v1/documents/{id}/thumbnail"),
            Some(&installer),
            &[("If-None-Match", &tag)],
            None,
        )
        .await;
    assert_eq!(again.status, 304);

    // Sent twice (the phone lost the answer): the stored document, no duplicate.
    let resend = put(
        &app,
        &installer,
        &id,
        &customer,
        "image/jpeg",
        PORTRAIT.to_vec(),
    )
    .await;
    assert_eq!(resend.status, 200);
    assert_eq!(resend.body["id"], id.as_str());
    let clash = put(&app, &installer, &id, &customer, "image/png", PNG.to_vec()).await;
    assert_eq!(
        (clash.status, clash.problem_code().as_str()),
        (409, "document_id_conflict")
    );

    // PNG and WebP work too; a better photo supersedes the first.
    let png_id = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        put(
            &app,
            &installer,
            &png_id,
            &customer,
            "image/png",
            PNG.to_vec()
        )
        .await
        .status,
        201
    );
    let webp_id = uuid::Uuid::new_v4().to_string();
    let webp = put(
        &app,
        &installer,
        &webp_id,
        &customer,
        "image/webp",
        WEBP.to_vec(),
    )
    .await;
    assert_eq!(
        (webp.status, webp.body["width"].as_i64()),
        (201, Some(800)),
        "{}",
        webp.body
    );
    let sup = app
        .post(
            &format!("/api/v1/documents/{id}/supersede"),
            Some(&installer),
            json!({"superseded_by": webp_id}),
        )
        .await;
    assert_eq!(sup.body["superseded_by"], webp_id.as_str(), "{}", sup.body);
    let listed = app
        .get(
            &format!(
                "/api/v1/customers/{}/documents",
                customer["id"].as_str().unwrap()
            ),
            &installer,
        )
        .await;
    assert_eq!(listed.body.as_array().unwrap().len(), 3);

    // Only those who may see the customer see the documents; reads are audited.
    let admin = app.login("admin").await;
    let sickla = app.group_id(&admin, "Sickla hemtjänst").await;
    app.create_user(&admin, "sickla.hemtjanst", "care_staff", &[&sickla])
        .await;
    let outsider = app
        .login_with("sickla.hemtjanst", "ett-langt-losenord")
        .await;
    let denied = app
        .get(&format!("/api/v1/documents/{id}/display"), &outsider)
        .await;
    assert_eq!(
        (denied.status, denied.problem_code().as_str()),
        (404, "document_not_found")
    );
    assert!(
        app.audit_count("document.display", "ok", customer["id"].as_str().unwrap())
            .await
            >= 1
    );
    assert_eq!(
        app.audit_count(
            "document.display",
            "denied",
            customer["id"].as_str().unwrap()
        )
        .await,
        1
    );
}

on_both_backends!(documents_are_weeded_only_after_the_case_closed_past_retention);

/// Gallring: the documents of a closed case go after the retention period;
/// those of a running case stay.
async fn documents_are_weeded_only_after_the_case_closed_past_retention(app: TestApp) {
    let Crew {
        assessor,
        installer,
        coordinator,
    } = app.crew().await;
    let boo: Vec<Customer> = assessor
        .customers()
        .await
        .into_iter()
        .filter(|c| c["address"]["city"] == "Saltsjö-Boo" && c["other_municipality"] == false)
        .collect();
    let ago = |d: i64| (Utc::now().date_naive() - chrono::Duration::days(d)).to_string();
    let mut ids = Vec::new();
    for (i, c) in boo[..2].iter().enumerate() {
        let granted = assessor
            .grant(
                &c.id,
                json!({"service": "safety_alarm", "valid_from": ago(400)}),
            )
            .await;
        let o = installer.book(&granted.order, ago(399)).await;
        let serial = format!("TX-10{}", 21 + i);
        let o = installer.install(&o, ago(399), &[serial.as_str()]).await;
        coordinator.execute(&o).await;
        let id = uuid::Uuid::new_v4().to_string();
        let (ct, photo) = if i == 0 {
            ("image/jpeg", PORTRAIT)
        } else {
            ("image/png", PNG)
        };
        assert_eq!(
            put(&app, &installer.token, &id, &c.json, ct, photo.to_vec())
                .await
                .status,
            201
        );
        ids.push(id);
        if i == 0 {
            // The first customer's alarm ended 300 days ago.
            let ended = assessor.end_decision(&granted.decision, ago(300)).await;
            let u = installer
                .collect_equipment(&ended.uninstall_order, ago(0), &["TX-1021"])
                .await;
            let u = installer.return_keys(&u, "none_held").await;
            coordinator.end(&u).await;
        }
    }
    let weed = |days: &str, apply: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_larmkoll"));
        cmd.arg("weed-documents")
            .env("LARMKOLL_DATA_DIR", app.data_dir())
            .env("DATABASE_URL", app.database_url())
            .env("LARMKOLL_DOCUMENT_RETENTION_DAYS", days);
        if apply {
            cmd.arg("--apply");
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    assert_eq!(
        weed("365", true)["documents"],
        0,
        "closed 300 days ago: within a 365-day retention"
    );
    let dry = weed("100", false);
    assert_eq!(
        (dry["documents"].as_u64(), dry["applied"].as_bool()),
        (Some(1), Some(false))
    );
    assert_eq!(
        installer
            .get(format!("/api/v1/documents/{}", ids[0]))
            .await
            .status,
        200,
        "a dry run deletes nothing"
    );
    let files_before = app.stored_files().len();
    let done = weed("100", true);
    assert_eq!(done["documents"], 1);
    assert_eq!(
        installer
            .get(format!("/api/v1/documents/{}", ids[0]))
            .await
            .status,
        404
    );
    assert_eq!(
        installer
            .get(format!("/api/v1/documents/{}", ids[1]))
            .await
            .status,
        200,
        "a running case keeps its documents"
    );
    assert_eq!(
        app.stored_files().len(),
        files_before - 3,
        "original, display copy and thumbnail are gone"
    );
}
