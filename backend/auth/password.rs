//! Password hashing with argon2id.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use std::sync::OnceLock;

pub const MIN_LENGTH: usize = 10;

pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))
}

pub fn verify(password: &str, stored_hash: &str) -> bool {
    PasswordHash::new(stored_hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Spends the same work as a real check when the user does not exist, so the
/// response time does not tell which usernames are taken.
pub fn verify_against_nobody(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash("not-a-real-password").expect("hash dummy"));
    let _ = verify(password, dummy);
}

/// Refuses passwords a person could guess; `demo` passes only in demo mode,
/// where it is created by the demo loader, never through this check.
/// Why a password is too weak, in English and in Swedish.
#[derive(Debug, Clone, Copy)]
pub struct Weakness {
    pub en: &'static str,
    pub sv: &'static str,
}

pub fn check_strength(password: &str) -> Result<(), Weakness> {
    if password.chars().count() < MIN_LENGTH {
        return Err(Weakness {
            en: "at least 10 characters",
            sv: "minst 10 tecken",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_only_the_same_password() {
        let h = hash("korrekt häst batteri").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("korrekt häst batteri", &h));
        assert!(!verify("korrekt hast batteri", &h));
        assert!(!verify("x", "not a hash"));
    }

    #[test]
    fn short_passwords_are_refused() {
        assert!(check_strength("demo").is_err());
        assert!(check_strength("tio tecken").is_ok());
    }
}
