//! Hostile and unlucky input to the documents (issue 20): who gets the proof
//! with its GPS, a resend under someone else's id, a receipt that is not the
//! key customer's, two uploads racing for one id, a photo that would eat the
//! memory, and refusals that tell a Swede what to do. Every refusal is checked
//! to leave no row and no file behind.

use crate::helpers::{distinct_jpeg, TestApp};
use crate::on_both_backends;
use crate::papers::*;
use chrono::{Duration, Utc};
use serde_json::{json, Value};
use std::collections::BTreeSet;

const GPS_PHOTO: &[u8] = include_bytes!("../fixtures/portrait-orientation-6-gps.jpg");
const PNG: &[u8] = include_bytes!("../fixtures/nyckelkvittens.png");
const BOMB: &[u8] = include_bytes!("../fixtures/bomb-50000x50000.png");
const BIN: &str = env!("CARGO_BIN_EXE_larmkoll");

on_both_backends!(
    the_original_and_its_gps_go_only_to_those_who_handle_the_paper,
    a_resend_under_a_taken_id_must_match_everything_or_is_refused_unseen,
    a_key_receipt_must_be_a_document_of_the_keys_customer,
    racing_uploads_under_one_id_leave_only_the_winners_files,
    photo_refusals_say_in_swedish_what_to_do,
    an_idempotency_key_does_not_cap_a_photo_at_the_json_limit,
);

async fn the_original_and_its_gps_go_only_to_those_who_handle_the_paper(app: TestApp) {
    let installer = app.login("installator").await;
    let care = app.login("hemtjanst").await;
    // A customer both the alarm team and home care serve.
    let care_sees = visible(&app, &care).await;
    let customer = visible(&app, &installer)
        .await
        .into_iter()
        .find(|c| care_sees.contains(c))
        .expect("a customer of both");
    let id = new_id();
    let up = put(
        &app,
        &installer,
        &id,
        &Paper::of(&customer),
        "image/jpeg",
        GPS_PHOTO.to_vec(),
    )
    .await;
    assert_eq!(up.status, 201, "{}", up.body);
    assert!(GPS_PHOTO.windows(4).any(|w| w == b"Exif"));
    let before = snapshot(&app).await;

    let mut originals_served = 0;
    for user in larmkoll::demo::usernames() {
        let token = app.login(user).await;
        let get = |variant: &str| {
            let path = format!("/api/v1/documents/{id}{variant}");
            let (app, token) = (&app, token.clone());
            async move { app.send("GET", &path, Some(&token), &[], None).await }
        };
        // The record (no photo) stays open to all who see the customer.
        assert_eq!(get("").await.status, 200, "{user} reads the record");
        let original = get("/original").await;
        let display = get("/display").await;
        let thumbnail = get("/thumbnail").await;
        match user {
            "admin" | "handlaggare" | "koordinator" | "installator" => {
                assert_eq!(original.status, 200, "{user}: {}", original.body);
                assert!(
                    original.body.as_str().unwrap().contains("Exif"),
                    "the proof is kept with its metadata"
                );
                originals_served += 1;
            }
            _ => {
                assert_problem(&original, 403, "forbidden");
                let (en, sv) = detail(&original);
                assert!(en.contains("GPS") && en.contains("display copy"), "{en}");
                assert!(sv.contains("GPS") && sv.contains("visningskopian"), "{sv}");
            }
        }
        match user {
            "avgift" | "larmcentral" => {
                for copy in [&display, &thumbnail] {
                    assert_problem(copy, 403, "forbidden");
                    let (en, sv) = detail(copy);
                    assert!(en.contains("record"), "{en}");
                    assert!(sv.contains("dokumentets uppgifter"), "{sv}");
                }
            }
            _ => {
                for copy in [&display, &thumbnail] {
                    assert_eq!(copy.status, 200, "{user}: {}", copy.body);
                    let bytes = copy.body.as_str().unwrap();
                    assert!(
                        !bytes.contains("Exif") && !bytes.contains("GPS"),
                        "{user}: a served copy carries no metadata"
                    );
                }
            }
        }
    }
    // Refusals read nothing: only the allowed reads are in the audit log.
    assert_eq!(
        app.audit_count("document.original", "ok", &customer).await,
        originals_served
    );
    assert_eq!(snapshot(&app).await, before, "reading changed nothing");
}

async fn a_resend_under_a_taken_id_must_match_everything_or_is_refused_unseen(app: TestApp) {
    let admin = app.login("admin").await;
    let installer = app.login("installator").await;
    let assessor = app.login("handlaggare").await;
    let mine = visible(&app, &installer).await;
    let (customer, neighbour) = (mine[0].clone(), mine[1].clone());
    let (sickla, sickla_customer) = sickla_installer(&app, &admin).await;

    // Another area's document under id X; this installer may not see it.
    let hidden_id = new_id();
    let theirs = Paper {
        signed_by: "Dottern".into(),
        ..Paper::of(&sickla_customer)
    };
    let up = put(
        &app,
        &sickla,
        &hidden_id,
        &theirs,
        "image/jpeg",
        GPS_PHOTO.to_vec(),
    )
    .await;
    assert_eq!(up.status, 201, "{}", up.body);
    let hidden_record = up.body.clone();
    let lookup = app
        .get(&format!("/api/v1/documents/{hidden_id}"), &installer)
        .await;
    assert_problem(&lookup, 404, "document_not_found");

    // Own document under id Y.
    let own_id = new_id();
    let ours = Paper::of(&customer);
    let up = put(
        &app,
        &installer,
        &own_id,
        &ours,
        "image/jpeg",
        GPS_PHOTO.to_vec(),
    )
    .await;
    assert_eq!(up.status, 201, "{}", up.body);
    let granted = app
        .post(
            &format!("/api/v1/customers/{customer}/decisions"),
            Some(&assessor),
            json!({"service": "safety_alarm", "valid_from": Utc::now().date_naive().to_string()}),
        )
        .await;
    assert_eq!(granted.status, 201, "{}", granted.body);
    let order = id_of(&granted.body["order"]);
    let before = snapshot(&app).await;

    // The same bytes under the hidden id, claimed for our customer.
    let over_hidden = put(
        &app,
        &installer,
        &hidden_id,
        &ours,
        "image/jpeg",
        GPS_PHOTO.to_vec(),
    )
    .await;
    assert_problem(&over_hidden, 409, "document_id_conflict");
    let text = over_hidden.body.to_string();
    for leak in [
        sickla_customer.as_str(),
        "Dottern",
        hidden_record["sha256"].as_str().unwrap(),
        hidden_record["taken_by"].as_str().unwrap(),
    ] {
        assert!(!text.contains(leak), "the refusal tells {leak}: {text}");
    }
    let (en, sv) = detail(&over_hidden);
    assert!(en.contains("new id"), "{en}");
    assert!(sv.contains("nytt id"), "{sv}");

    // Our own id with anything claimed differently: the same refusal.
    let yesterday = (Utc::now().date_naive() - Duration::days(1)).to_string();
    let variants = [
        Paper {
            customer: neighbour.clone(),
            ..ours.clone()
        },
        Paper {
            kind: "responsibility_agreement",
            ..ours.clone()
        },
        Paper {
            signed_by: "Grannen".into(),
            ..ours.clone()
        },
        Paper {
            signed_at: yesterday,
            ..ours.clone()
        },
        Paper {
            order: Some(order.clone()),
            ..ours.clone()
        },
    ];
    for paper in &variants {
        let res = put(
            &app,
            &installer,
            &own_id,
            paper,
            "image/jpeg",
            GPS_PHOTO.to_vec(),
        )
        .await;
        assert_problem(&res, 409, "document_id_conflict");
        assert_eq!(
            res.body, over_hidden.body,
            "a visible and a hidden record get the same answer"
        );
    }
    let other_bytes = put(&app, &installer, &own_id, &ours, "image/png", PNG.to_vec()).await;
    assert_eq!(other_bytes.body, over_hidden.body);
    assert_eq!(snapshot(&app).await, before, "nothing was stored");

    // The exact resend is still recognised.
    let resend = put(
        &app,
        &installer,
        &own_id,
        &ours,
        "image/jpeg",
        GPS_PHOTO.to_vec(),
    )
    .await;
    assert_eq!(
        (resend.status, resend.body["id"].as_str()),
        (200, Some(own_id.as_str()))
    );
    let still = app
        .get(&format!("/api/v1/documents/{hidden_id}"), &sickla)
        .await;
    assert_eq!(still.body["customer_id"], sickla_customer.as_str());
    assert_eq!(still.body["signed_by"], "Dottern");
    assert_eq!(snapshot(&app).await, before);
}

async fn a_key_receipt_must_be_a_document_of_the_keys_customer(app: TestApp) {
    let admin = app.login("admin").await;
    let installer = app.login("installator").await;
    let mine = visible(&app, &installer).await;
    let (customer, neighbour) = (mine[0].clone(), mine[1].clone());
    let (sickla, sickla_customer) = sickla_installer(&app, &admin).await;
    let mut docs = Vec::new();
    for (token, c) in [
        (&installer, &customer),
        (&installer, &neighbour),
        (&sickla, &sickla_customer),
    ] {
        let id = new_id();
        let up = put(&app, token, &id, &Paper::of(c), "image/png", PNG.to_vec()).await;
        assert_eq!(up.status, 201, "{}", up.body);
        docs.push(id);
    }
    let (own_doc, neighbours_doc, hidden_doc) = (&docs[0], &docs[1], &docs[2]);
    let before = snapshot(&app).await;

    let receive = |receipt: &str, number: &str| {
        let body = json!({"key_number": number, "customer_id": customer, "count": 1,
                          "cabinet": "Skåp 3", "hook": "7", "receipt_document_id": receipt});
        let (app, token) = (&app, installer.clone());
        async move { app.post("/api/v1/keys", Some(&token), body).await }
    };
    let mut answers = Vec::new();
    for bad in [new_id(), neighbours_doc.clone(), hidden_doc.clone()] {
        let res = receive(&bad, "KV-1").await;
        assert_problem(&res, 422, "validation_failed");
        assert_eq!(res.body["errors"][0]["field"], "receipt_document_id");
        let (en, sv) = detail(&res);
        assert!(
            en.contains("Upload the photo of the signed receipt first"),
            "{en}"
        );
        assert!(
            sv.contains("Ladda upp fotot av den signerade kvittensen först"),
            "{sv}"
        );
        answers.push(res.body);
    }
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "missing, another customer's and a hidden document get one answer: {answers:?}"
    );
    assert_eq!(snapshot(&app).await, before, "no key was registered");

    let key = receive(own_doc, "KV-1").await;
    assert_eq!(key.status, 201, "{}", key.body);
    let key = key.body["key"].clone();
    let after_receive = snapshot(&app).await;

    // A move naming a receipt: checked the same way.
    let path = format!("/api/v1/keys/{}/return-to-customer", id_of(&key));
    let version = key["version"].as_i64().unwrap();
    for bad in [hidden_doc, neighbours_doc] {
        let res = app
            .post_if(
                &path,
                &installer,
                version,
                json!({"receipt_document_id": bad}),
            )
            .await;
        assert_problem(&res, 422, "validation_failed");
        assert_eq!(res.body, answers[0]);
    }
    let unmoved = app
        .get(&format!("/api/v1/keys/{}", id_of(&key)), &installer)
        .await;
    assert_eq!(unmoved.body["key"]["custody"], "in_cabinet");
    assert_eq!(unmoved.body["key"]["version"], version);
    assert_eq!(snapshot(&app).await, after_receive, "the key did not move");
    let returned = app
        .post_if(
            &path,
            &installer,
            version,
            json!({"receipt_document_id": own_doc}),
        )
        .await;
    assert_eq!(returned.status, 200, "{}", returned.body);
    assert_eq!(returned.body["key"]["custody"], "returned");
}

/// `larmkoll check-documents` against the test's database and files.
fn check_documents(app: &TestApp) -> (i32, Value) {
    let out = std::process::Command::new(BIN)
        .arg("check-documents")
        .env("LARMKOLL_DATA_DIR", app.data_dir())
        .env("DATABASE_URL", app.database_url())
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "check-documents printed no report: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().expect("exit code"), report)
}

/// The files the records use, as paths under the data directory.
async fn files_of_records(app: &TestApp) -> BTreeSet<String> {
    let hashes = app
        .db
        .run(|conn| Ok(larmkoll::db::documents::all_hashes(conn)?))
        .await
        .unwrap();
    let root = app.data_dir().join("documents");
    hashes
        .iter()
        .flat_map(|sha| larmkoll::media::keys_of(sha))
        .map(|key| root.join(key).display().to_string())
        .collect()
}

async fn racing_uploads_under_one_id_leave_only_the_winners_files(app: TestApp) {
    let installer = app.login("installator").await;
    let customer = visible(&app, &installer).await[0].clone();
    let paper = Paper::of(&customer);
    // A photo another record already has: its files are shared, never removed.
    let shared = distinct_jpeg(GPS_PHOTO, "delad");
    let up = put(
        &app,
        &installer,
        &new_id(),
        &paper,
        "image/jpeg",
        shared.clone(),
    )
    .await;
    assert_eq!(up.status, 201, "{}", up.body);

    let mut statuses = Vec::new();
    for round in 0..3 {
        let id = new_id();
        let own = distinct_jpeg(GPS_PHOTO, &format!("runda {round}"));
        let other = if round == 0 {
            shared.clone()
        } else {
            distinct_jpeg(GPS_PHOTO, &format!("andra {round}"))
        };
        let (a, b) = futures_util::future::join(
            put(&app, &installer, &id, &paper, "image/jpeg", own),
            put(&app, &installer, &id, &paper, "image/jpeg", other),
        )
        .await;
        let mut pair = [a.status, b.status];
        pair.sort();
        for loser in [&a, &b].into_iter().filter(|r| r.status == 409) {
            assert_problem(loser, 409, "document_id_conflict");
        }
        statuses.push(pair);
    }
    assert_eq!(statuses, [[201, 409]; 3], "one wins, one is refused");
    let files: BTreeSet<String> = app.stored_files().into_iter().collect();
    assert_eq!(
        files,
        files_of_records(&app).await,
        "exactly the records' files: original, display copy and thumbnail each"
    );
    // Four records: the shared photo's and each round's winner. When round 0's
    // winner is the shared photo again, the two records share its three files.
    assert_eq!(rows(&app, "documents").await, 4);
    let photos = app
        .db
        .run(|conn| Ok(larmkoll::db::documents::all_hashes(conn)?))
        .await
        .unwrap()
        .into_iter()
        .collect::<BTreeSet<_>>()
        .len();
    assert!(photos == 3 || photos == 4, "{photos} distinct photos");
    assert_eq!(files.len(), 3 * photos);

    // The check agrees, and fails on anything wrong, saying which kind.
    let (code, report) = check_documents(&app);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report, json!({"orphan_files": [], "missing_files": []}));
    let stray = app
        .data_dir()
        .join("documents/originals")
        .join("0".repeat(64));
    std::fs::write(&stray, b"left by an interrupted upload").unwrap();
    let (code, report) = check_documents(&app);
    assert_eq!(code, 2, "files without a record: {report}");
    assert_eq!(
        report["orphan_files"],
        json!([format!("originals/{}", "0".repeat(64))])
    );
    let thumb = files.iter().find(|f| f.contains("/thumbs/")).unwrap();
    let kept = std::fs::read(thumb).unwrap();
    std::fs::remove_file(thumb).unwrap();
    let (code, report) = check_documents(&app);
    assert_eq!(code, 1, "a record without its thumbnail: {report}");
    assert_eq!(report["missing_files"].as_array().unwrap().len(), 1);
    std::fs::write(thumb, kept).unwrap();
    std::fs::remove_file(&stray).unwrap();
    assert_eq!(check_documents(&app).0, 0);
}

/// English words that must not turn up in a Swedish text.
const ENGLISH: &[&str] = &[
    "the", "image", "file", "photo", "was", "sent", "accepted", "damaged", "not", "is", "of",
    "pixels", "at", "most", "side", "send", "take", "again",
];

async fn photo_refusals_say_in_swedish_what_to_do(app: TestApp) {
    let installer = app.login("installator").await;
    let customer = visible(&app, &installer).await[0].clone();
    let paper = Paper::of(&customer);
    let before = snapshot(&app).await;
    let mut heic = vec![0, 0, 0, 24];
    heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
    heic.extend_from_slice(&[0; 64]);
    let mut truncated = GPS_PHOTO[..GPS_PHOTO.len() / 2].to_vec();
    truncated.extend_from_slice(&[0; 16]);
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("image/heic", heic.clone(), 415, "heic_not_supported"),
        (
            "image/heif",
            b"whatever the phone sent".to_vec(),
            415,
            "heic_not_supported",
        ),
        ("application/octet-stream", heic, 415, "heic_not_supported"),
        ("image/jpeg", PNG.to_vec(), 415, "unsupported_image"),
        (
            "image/jpeg",
            b"Nyckelkvittens".to_vec(),
            415,
            "unsupported_image",
        ),
        ("image/jpeg", truncated, 422, "image_corrupt"),
        ("image/png", BOMB.to_vec(), 422, "image_too_large"),
        (
            "image/jpeg",
            vec![0xFF; 16 * 1024 * 1024],
            413,
            "payload_too_large",
        ),
    ];
    for (content_type, body, status, code) in cases {
        let res = put(&app, &installer, &new_id(), &paper, content_type, body).await;
        assert_problem(&res, status, code);
        let (en, sv) = detail(&res);
        let english: Vec<&str> = sv
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| ENGLISH.contains(&w.to_lowercase().as_str()))
            .collect();
        assert!(english.is_empty(), "{code}: English {english:?} in {sv}");
        match code {
            "heic_not_supported" => {
                assert_eq!(
                    sv,
                    "Telefonen sparar bilder som HEIC. Välj 'Mest kompatibel' under Inställningar › Kamera › Format, eller skicka som JPEG."
                );
                assert!(
                    en.contains("'Most Compatible' under Settings › Camera › Formats"),
                    "{en}"
                );
            }
            "payload_too_large" => {
                assert!(
                    en.contains("15 MB") && en.contains("15728640 bytes"),
                    "{en}"
                );
                assert!(sv.contains("15 MB") && sv.contains("15728640 byte"), "{sv}");
            }
            "image_too_large" => {
                assert!(en.contains("12000 pixels per side"), "{en}");
                assert!(sv.contains("12000 bildpunkter per sida"), "{sv}");
            }
            _ => assert!(
                sv.contains("Ta om bilden") || sv.contains("Skicka"),
                "{code}: {sv}"
            ),
        }
    }
    assert_eq!(
        snapshot(&app).await,
        before,
        "a refused photo leaves nothing"
    );
}

/// The Idempotency-Key middleware buffers POST bodies at the JSON limit (the
/// import at its own); a photo is a PUT under the id the phone chose, so a
/// photo larger than the JSON limit goes through with a key too.
async fn an_idempotency_key_does_not_cap_a_photo_at_the_json_limit(app: TestApp) {
    let installer = app.login("installator").await;
    let customer = visible(&app, &installer).await[0].clone();
    let paper = Paper::of(&customer);
    // Noise does not compress: about 590 KB of PNG, over the 256 KiB JSON limit.
    let mut seed = 0x2545_f491_u32;
    let noisy = image::RgbImage::from_fn(440, 440, |_, _| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let [r, g, b, _] = seed.to_le_bytes();
        image::Rgb([r, g, b])
    });
    let mut png = std::io::Cursor::new(Vec::new());
    noisy.write_to(&mut png, image::ImageFormat::Png).unwrap();
    let png = png.into_inner();
    assert!(png.len() > 256 * 1024, "{} bytes", png.len());
    let before = rows(&app, "documents").await;
    let id = new_id();
    let res = app
        .send(
            "PUT",
            &paper.path(&id),
            Some(&installer),
            &[("Content-Type", "image/png"), ("Idempotency-Key", "foto-1")],
            Some(png),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(id_of(&res.body), id);
    assert_eq!(rows(&app, "documents").await, before + 1);
}
