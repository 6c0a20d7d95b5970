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
