//! Attacks on the login: forged, altered and stale access tokens, and a field
//! user trying the admin's calls. (Refresh-token reuse revoking its family and
//! the brute-force throttle are in `auth.rs`.)

use crate::helpers::{Backend, TestApp};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The server's own signing secret, read from its data directory.
fn secret(app: &TestApp) -> Vec<u8> {
    let text = std::fs::read_to_string(app.data_dir().join("jwt-signing.key")).expect("key file");
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .expect("base64")
}

fn sign(alg: Algorithm, key: &[u8], claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(key)).expect("sign")
}

/// The claims of a real token, to forge variations of.
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("payload");
    serde_json::from_slice(&B64URL.decode(payload).expect("base64url")).expect("json")
}

fn with(claims: &Value, changes: Value) -> Value {
    let mut c = claims.clone();
    for (k, v) in changes.as_object().expect("object") {
        c[k] = v.clone();
    }
    c
}

#[actix_web::test]
async fn forged_altered_and_stale_tokens_are_refused() {
    let app = TestApp::start(Backend::Sqlite).await.expect("app");
    let real = app.login("installator").await;
    let claims = claims_of(&real);
    let key = secret(&app);
    let now = chrono::Utc::now().timestamp();

    // The control: a token made here with the server's key and the real claims
    // is accepted, so every refusal below is the server's doing, not the forger's.
    let control = sign(Algorithm::HS256, &key, &claims);
    assert_eq!(app.get("/api/v1/auth/me", &control).await.status, 200);

    let header_none = B64URL.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let payload = B64URL.encode(claims.to_string());
    let hmac_under_rs256 = {
        // HS/RS confusion: an RS256 header over a body signed with HMAC.
        let good = sign(Algorithm::HS256, &key, &claims);
        let signature = good.rsplit('.').next().expect("signature").to_string();
        format!(
            "{}.{}.{}",
            B64URL.encode(r#"{"alg":"RS256","typ":"JWT"}"#),
            payload,
            signature
        )
    };
    let cases: Vec<(&str, String)> = vec![
        ("another key", sign(Algorithm::HS256, &[9u8; 32], &claims)),
        ("alg none", format!("{header_none}.{payload}.")),
        ("HS/RS confusion", hmac_under_rs256),
        (
            "HS512 with the right key",
            sign(Algorithm::HS512, &key, &claims),
        ),
        (
            "expired",
            sign(
                Algorithm::HS256,
                &key,
                &with(&claims, json!({"exp": now - 60, "iat": now - 1000})),
            ),
        ),
        (
            "not yet valid (nbf)",
            sign(
                Algorithm::HS256,
                &key,
                &with(&claims, json!({"nbf": now + 3600})),
            ),
        ),
        (
            "issued in the future",
            sign(
                Algorithm::HS256,
                &key,
                &with(&claims, json!({"iat": now + 3600})),
            ),
        ),
        (
            "wrong audience",
            sign(
                Algorithm::HS256,
                &key,
                &with(&claims, json!({"aud": "another-api"})),
            ),
        ),
        (
            "wrong issuer",
            sign(
                Algorithm::HS256,
                &key,
                &with(&claims, json!({"iss": "someone-else"})),
            ),
        ),
        ("no expiry", {
            let mut c = claims.clone();
            c.as_object_mut().expect("object").remove("exp");
            sign(Algorithm::HS256, &key, &c)
        }),
        ("an older token version (sessions cut)", {
            let tv = claims["tv"].as_i64().expect("tv");
            sign(
                Algorithm::HS256,
                &key,
                &with(&claims, json!({"tv": tv - 1})),
            )
        }),
        (
            "a user who does not exist",
            sign(
                Algorithm::HS256,
                &key,
                &with(&claims, json!({"sub": uuid::Uuid::new_v4().to_string()})),
            ),
        ),
        ("a tampered body under the real signature", {
            let sig = real.rsplit('.').next().expect("signature");
            let head = real.split('.').next().expect("header");
            let body = B64URL.encode(
                with(&claims, json!({"sub": uuid::Uuid::new_v4().to_string()})).to_string(),
            );
            format!("{head}.{body}.{sig}")
        }),
        ("garbage", "not.a.token".to_string()),
    ];
    for (what, token) in cases {
        let res = app.get("/api/v1/auth/me", &token).await;
        assert_eq!(res.status, 401, "{what}: {}", res.body);
        assert_eq!(
            res.problem_code(),
            "unauthenticated",
            "{what}: {}",
            res.body
        );
        // Nothing personal leaks to an unauthenticated caller either.
        let customers = app.get("/api/v1/customers", &token).await;
        assert_eq!(customers.status, 401, "{what}");
    }
}

#[actix_web::test]
async fn a_field_user_cannot_administer_users_or_reset_passwords() {
    let app = TestApp::start(Backend::Sqlite).await.expect("app");
    let admin = app.login("admin").await;
    let installer = app.login("installator").await;
    let users = app.get("/api/v1/users", &admin).await;
    let victim = users
        .body
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["username"] == "koordinator")
        .expect("koordinator")
        .clone();
    let id = victim["id"].as_str().expect("id");

    assert_eq!(app.get("/api/v1/users", &installer).await.status, 403);
    assert_eq!(
        app.get(&format!("/api/v1/users/{id}"), &installer)
            .await
            .status,
        403
    );
    let reset = app
        .post(
            &format!("/api/v1/users/{id}/password"),
            Some(&installer),
            json!({"password": "installatören-tar-över"}),
        )
        .await;
    assert_eq!(reset.status, 403, "{}", reset.body);
    let cut = app
        .post(
            &format!("/api/v1/users/{id}/revoke-sessions"),
            Some(&installer),
            json!({}),
        )
        .await;
    assert_eq!(cut.status, 403, "{}", cut.body);
    let create = app
        .post("/api/v1/users", Some(&installer), json!({
            "username": "inkraktare", "display_name": "Inkräktare", "role": "admin", "password": "hemligt-lösenord-1"
        }))
        .await;
    assert_eq!(create.status, 403, "{}", create.body);
    let etag = format!("\"{}\"", victim["version"].as_i64().unwrap_or(1));
    let promote = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &installer,
            Some(&etag),
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(promote.status, 403, "{}", promote.body);

    // The victim's password still works and nobody new exists.
    let still = app.login("koordinator").await;
    assert!(!still.is_empty());
    let after = app.get("/api/v1/users", &admin).await;
    assert!(after
        .body
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["username"] != "inkraktare"));
}
