//! Short-lived access tokens (HS256 JWT) and opaque rotating refresh tokens.

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;

const ISSUER: &str = "larmkoll";
const AUDIENCE: &str = "larmkoll-api";

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub sub: String,
    /// The user's token version when issued; bumping it cuts every session.
    pub tv: i32,
    /// The session (refresh-token family) it belongs to: logout ends it at the next request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
}

#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl TokenKeys {
    pub fn from_secret(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    /// Reads the signing key from the data directory, generating it (mode 0600)
    /// on first start.
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join("jwt-signing.key");
        let engine = base64::engine::general_purpose::STANDARD;
        if path.exists() {
            let text = std::fs::read_to_string(&path)?;
            let secret = engine
                .decode(text.trim())
                .map_err(|e| anyhow::anyhow!("{} is not valid base64: {e}", path.display()))?;
            anyhow::ensure!(
                secret.len() >= 32,
                "{} holds fewer than 32 bytes",
                path.display()
            );
            return Ok(Self::from_secret(&secret));
        }
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, engine.encode(secret))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
        }
        std::fs::rename(&tmp, &path)?;
        Ok(Self::from_secret(&secret))
    }

    pub fn issue(
        &self,
        user_id: &str,
        token_version: i32,
        session_id: &str,
        lifetime_minutes: i64,
    ) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user_id.to_string(),
            tv: token_version,
            sid: Some(session_id.to_string()),
            iat: now,
            exp: now + lifetime_minutes * 60,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing cannot fail with a valid key")
    }

    /// Accepts only HS256 tokens we signed, for our audience, not expired,
    /// not before their `nbf` and not issued in the future.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        const LEEWAY: u64 = 5;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.leeway = LEEWAY;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .ok()?
            .claims;
        (claims.iat <= chrono::Utc::now().timestamp() + LEEWAY as i64).then_some(claims)
    }
}

/// A new opaque refresh token: 32 random bytes, URL-safe base64.
pub fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Refresh tokens are stored only as their SHA-256.
pub fn hash_refresh_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_with_its_key_only() {
        let keys = TokenKeys::from_secret(&[7u8; 32]);
        let token = keys.issue("u1", 3, "s1", 15);
        let claims = keys.verify(&token).unwrap();
        assert_eq!((claims.sub.as_str(), claims.tv), ("u1", 3));
        assert_eq!(claims.sid.as_deref(), Some("s1"));
        assert!(TokenKeys::from_secret(&[8u8; 32]).verify(&token).is_none());
    }

    #[test]
    fn expired_and_unsigned_tokens_are_refused() {
        let keys = TokenKeys::from_secret(&[7u8; 32]);
        assert!(keys.verify(&keys.issue("u1", 0, "s1", -5)).is_none());
        // alg=none: header {"alg":"none","typ":"JWT"} with a valid payload and no signature.
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = engine.encode(
            serde_json::json!({"sub":"u1","tv":0,"iat":0,"exp":9999999999i64,"iss":ISSUER,"aud":AUDIENCE})
                .to_string(),
        );
        let none = format!(
            "{}.{}.",
            engine.encode(r#"{"alg":"none","typ":"JWT"}"#),
            payload
        );
        assert!(keys.verify(&none).is_none());
    }

    #[test]
    fn signing_key_is_generated_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = TokenKeys::load_or_create(dir.path()).unwrap();
        let b = TokenKeys::load_or_create(dir.path()).unwrap();
        assert!(b.verify(&a.issue("u", 0, "s", 1)).is_some());
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let (a, b) = (new_refresh_token(), new_refresh_token());
        assert_ne!(a, b);
        assert_eq!(hash_refresh_token(&a).len(), 64);
        assert_ne!(hash_refresh_token(&a), a);
    }
}
