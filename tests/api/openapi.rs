use crate::helpers::{Backend, TestApp};
use serde_json::Value;

fn committed() -> Value {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .expect("openapi/openapi.json is committed");
    serde_json::from_str(&text).expect("committed spec is JSON")
}

#[actix_web::test]
async fn committed_spec_equals_the_served_one() {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let served = app
        .send("GET", "/api/v1/openapi.json", None, &[], None)
        .await;
    assert_eq!(served.status, 200);
    assert!(
        served.body == committed(),
        "openapi/openapi.json is stale: run `cargo run -- openapi > openapi/openapi.json` and commit it"
    );
    // Byte-for-byte too, so the committed file is exactly what `larmkoll openapi` prints.
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .unwrap();
    assert_eq!(text, larmkoll::api::openapi_json());
}

#[test]
fn spec_is_openapi_3_1_and_every_operation_declares_security_and_errors() {
    let spec = committed();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = spec["paths"].as_object().unwrap();
    assert!(paths.len() >= 15, "only {} paths", paths.len());
    let mut operations = 0;
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            operations += 1;
            // Declared on every operation; `[]` for the public ones.
            let security = op["security"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path}: no security"));
            assert!(
                security.iter().all(|s| s.as_object().unwrap().len() == 1),
                "{method} {path}: name the scheme, or `[]` when public: {security:?}"
            );
            let responses = op["responses"].as_object().unwrap();
            // A browser navigation's success is a redirect (the sign-in's start and callback).
            assert!(
                responses
                    .keys()
                    .any(|k| k.starts_with('2') || k.starts_with('3')),
                "{method} {path}: no success response"
            );
            for code in ["400", "500"] {
                assert!(responses.contains_key(code), "{method} {path}: no {code}");
            }
            let public = security.is_empty();
            if !public {
                assert!(
                    responses.contains_key("401"),
                    "{method} {path}: secured but no 401"
                );
                assert!(
                    responses.contains_key("403"),
                    "{method} {path}: secured but no 403"
                );
            }
            if op.get("requestBody").is_some() {
                for code in ["413", "415", "422"] {
                    assert!(
                        responses.contains_key(code),
                        "{method} {path}: body but no {code}"
                    );
                }
            }
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{method} {path}: no summary"
            );
        }
    }
    assert!(operations >= 20);
    assert!(spec["components"]["securitySchemes"]["bearer"].is_object());
}

/// Every documented operation is routed: none answers "no such endpoint" or
/// "wrong method" (ids are random, so 404 *of a record* is fine).
#[actix_web::test]
async fn every_documented_operation_is_served() {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let admin = app.login("admin").await;
    let spec = committed();
    for (path, item) in spec["paths"].as_object().unwrap() {
        let concrete: String = path
            .split('/')
            .map(|seg| {
                if seg.starts_with('{') {
                    uuid::Uuid::new_v4().to_string()
                } else {
                    seg.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        for method in item.as_object().unwrap().keys() {
            let body = (method != "get" && method != "delete").then(|| b"{}".to_vec());
            let res = app
                .send(
                    &method.to_uppercase(),
                    &concrete,
                    Some(&admin),
                    &[("Content-Type", "application/json")],
                    body,
                )
                .await;
            let code = res.body["code"].as_str().unwrap_or_default();
            assert!(
                code != "route_not_found" && code != "method_not_allowed",
                "{method} {path} is documented but not served: {} {}",
                res.status,
                res.body
            );
        }
    }
}

#[test]
fn every_write_that_takes_if_match_documents_412_and_428() {
    // A generated client should know that a missing `If-Match` is refused
    // (428) and a stale one too (412), wherever the header is taken.
    let spec: Value = serde_json::from_str(larmkoll::api::openapi_json()).unwrap();
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(params) = op["parameters"].as_array() else {
                continue;
            };
            let Some(if_match) = params
                .iter()
                .find(|p| p["in"] == "header" && p["name"].as_str() == Some("If-Match"))
            else {
                continue;
            };
            checked += 1;
            let label = format!("{} {path}", method.to_uppercase());
            assert_eq!(if_match["required"], true, "{label}: If-Match is required");
            for status in ["412", "428"] {
                assert!(
                    op["responses"].get(status).is_some(),
                    "{label} takes If-Match but does not document {status}"
                );
            }
        }
    }
    assert!(checked >= 20, "only {checked} operations take If-Match");
}
