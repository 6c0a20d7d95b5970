//! Runs the browser tests in `tests/browser/` (node's test runner driving
//! Debian's Chromium through playwright-core) against the real app.

use crate::helpers::{Backend, TestApp};
use std::path::Path;
use std::process::Command;

fn available() -> Result<(), String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    if !Path::new("/usr/bin/chromium").exists() {
        return Err("Chromium is not installed (apt-get install chromium)".into());
    }
    if !dir.join("node_modules/playwright-core").is_dir() {
        return Err("playwright-core is not installed (npm ci --prefix tests/browser)".into());
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Err("node is not installed".into());
    }
    Ok(())
}

#[actix_web::test]
async fn the_field_app_in_headless_chromium() {
    if let Err(why) = available() {
        if std::env::var("REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!("REQUIRE_BROWSER=1 but {why}");
        }
        eprintln!("SKIPPED: browser tests: {why}");
        return;
    }
    let app = TestApp::start(Backend::Sqlite).await.expect("app");
    // A second server whose access tokens live one minute, for the test of a
    // login that expires while the phone has no signal.
    let short = TestApp::start_configured(Backend::Sqlite, true, |s| s.access_token_minutes = 1)
        .await
        .expect("app");
    // A third with the municipality's login service (a real OpenID provider)
    // and one-minute tokens, for the sign-in tests.
    let oidc = crate::oidc::fixture(Backend::Sqlite, |s| s.access_token_minutes = 1).await;
    let oidc_env: Vec<(&str, String)> = match &oidc {
        Some(f) => vec![
            ("LARMKOLL_OIDC_URL", f.app.base.clone()),
            ("LARMKOLL_OIDC_ISSUER", f.provider.issuer()),
        ],
        None => Vec::new(),
    };
    let (base, short_base) = (app.base.clone(), short.base.clone());
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let out = actix_web::web::block(move || {
        Command::new("node")
            .arg("--test")
            .arg("--test-reporter=spec")
            .arg("--test-concurrency=1")
            .arg("--test-timeout=240000")
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser"))
            .env("LARMKOLL_URL", base)
            .env("LARMKOLL_SHORT_TOKEN_URL", short_base)
            .env("LARMKOLL_FIXTURES", fixtures)
            .envs(oidc_env)
            .args(
                std::env::var("BROWSER_TESTS")
                    .map(|only| vec![format!("--test-name-pattern={only}")])
                    .unwrap_or_default(),
            )
            .output()
    })
    .await
    .unwrap()
    .expect("node runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{report}");
    assert!(out.status.success(), "browser tests failed:\n{report}");
    let count = |label: &str| -> usize {
        report
            .lines()
            .find_map(|l| l.trim().strip_prefix(label)?.trim().parse().ok())
            .unwrap_or(0)
    };
    assert_eq!(count("ℹ fail"), 0, "browser tests failed:\n{report}");
    // All of them, or at least one when BROWSER_TESTS picks some.
    let expected = if std::env::var("BROWSER_TESTS").is_ok() {
        1
    } else if oidc.is_some() {
        30
    } else {
        28
    };
    assert!(
        count("ℹ pass") >= expected,
        "fewer browser tests ran than exist:\n{report}"
    );
}
