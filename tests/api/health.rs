use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(health_and_readiness_answer_with_security_headers);

async fn health_and_readiness_answer_with_security_headers(app: TestApp) {
    let health = app.send("GET", "/healthz", None, &[], None).await;
    assert_eq!(health.status, 200);
    let expected = if app.backend == crate::helpers::Backend::Sqlite {
        "sqlite"
    } else {
        "postgresql"
    };
    assert_eq!(health.body["database"], expected);
    assert_eq!(
        health.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert_eq!(health.header("x-frame-options").as_deref(), Some("DENY"));
    assert!(health
        .header("content-security-policy")
        .unwrap()
        .contains("default-src 'self'"));
    assert!(health
        .header("x-request-id")
        .is_some_and(|id| id.len() == 36));

    let ready = app.send("GET", "/readyz", None, &[], None).await;
    assert_eq!(ready.status, 200);

    // The PWA shell and the docs are served from the binary.
    let shell = app.send("GET", "/", None, &[], None).await;
    assert_eq!(shell.status, 200);
    assert!(shell.body.as_str().unwrap().contains("<html lang=\"sv\">"));
    assert_eq!(shell.header("cache-control").as_deref(), Some("no-cache"));
    let docs = app.send("GET", "/docs/", None, &[], None).await;
    assert_eq!(docs.status, 200);
    assert!(docs.body.as_str().unwrap().contains("swagger"));
}

on_both_backends!(answers_are_compressed_as_the_client_accepts_but_photos_are_not);

async fn answers_are_compressed_as_the_client_accepts_but_photos_are_not(app: TestApp) {
    let client = awc::Client::default();
    let token = app.login("installator").await;
    let encoding = |path: &str, accept: &'static str| {
        let path = path.to_string();
        let (client, base, token) = (client.clone(), app.base.clone(), token.clone());
        async move {
            let mut res = client
                .get(format!("{base}{path}"))
                .no_decompress()
                .insert_header(("Accept-Encoding", accept))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            let body = res.body().limit(1 << 24).await.unwrap();
            let enc = res
                .headers()
                .get("content-encoding")
                .map(|v| v.to_str().unwrap().to_string());
            (res.status().as_u16(), enc, body.len())
        }
    };
    // The field app's shell and the API's JSON travel compressed.
    let (status, enc, compressed) = encoding("/app.js", "br").await;
    assert_eq!((status, enc.as_deref()), (200, Some("br")));
    let (_, plain, whole) = encoding("/app.js", "identity").await;
    assert_eq!(plain, None);
    assert!(compressed * 3 < whole, "{compressed} of {whole} bytes");
    let (status, enc, _) = encoding("/api/v1/customers?limit=50", "gzip").await;
    assert_eq!((status, enc.as_deref()), (200, Some("gzip")));
    // A photo is already compressed: sent as it is.
    let customer = app.get("/api/v1/customers?limit=1", &token).await.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let id = uuid::Uuid::new_v4();
    let put = app
        .send(
            "PUT",
            &format!(
                "/api/v1/documents/{id}?kind=key_receipt&customer_id={customer}&signed_by=Kunden&signed_at={}",
                chrono::Utc::now().date_naive()
            ),
            Some(&token),
            &[("Content-Type", "image/jpeg")],
            Some(include_bytes!("../fixtures/portrait-orientation-6-gps.jpg").to_vec()),
        )
        .await;
    assert_eq!(put.status, 201, "{}", put.body);
    let (status, enc, _) = encoding(&format!("/api/v1/documents/{id}/display"), "gzip, br").await;
    assert_eq!((status, enc), (200, None));
}
