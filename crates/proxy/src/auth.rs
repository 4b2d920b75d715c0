//! Passwords and session tokens. Passwords are hashed with argon2id (salted, memory-hard); session tokens are
//! 256 random bits given to the client once and stored only as their SHA-256, so a leaked database holds no
//! usable token.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Cost of argon2id. The default is OWASP's recommendation (19 MiB, 2 passes); load tests on a small machine
/// may lower it, never production.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub memory_kib: u32,
    pub iterations: u32,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy { memory_kib: 19 * 1024, iterations: 2 }
    }
}

impl PasswordPolicy {
    fn argon2(&self) -> Argon2<'static> {
        let params = Params::new(self.memory_kib.max(8), self.iterations.max(1), 1, None).unwrap_or_default();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    /// A PHC string (`$argon2id$v=19$m=…`) holding salt and parameters, so old hashes stay verifiable when
    /// the policy changes.
    pub fn hash(&self, password: &str) -> Result<String, String> {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
        self.argon2().hash_password(password.as_bytes(), &salt).map(|hash| hash.to_string()).map_err(|e| e.to_string())
    }

    /// True if `password` matches `stored` (with the parameters stored in it). A malformed stored hash is
    /// simply not a match.
    pub fn verify(&self, password: &str, stored: &str) -> bool {
        match PasswordHash::new(stored) {
            Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
            Err(_) => false,
        }
    }
}

/// A new session token (64 hex characters) for the client.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What the store keeps of a token.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Usernames: 3–32 characters of `[A-Za-z0-9_-]`.
pub fn check_username(name: &str) -> Result<(), String> {
    let len = name.chars().count();
    if !(3..=32).contains(&len) {
        return Err(format!("username: {len} characters, expected 3 to 32"));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-')) {
        return Err(format!("username: character {bad:?} not allowed (letters, digits, _ and - only)"));
    }
    Ok(())
}

/// Passwords: 8–128 bytes.
pub fn check_password(password: &str) -> Result<(), String> {
    let len = password.len();
    if !(8..=128).contains(&len) {
        return Err(format!("password: {len} bytes, expected 8 to 128"));
    }
    Ok(())
}

/// Character names: 3–32 characters of `[A-Za-z0-9 _-]`, not starting or ending with a space.
pub fn check_character_name(name: &str) -> Result<(), String> {
    let len = name.chars().count();
    if !(3..=32).contains(&len) {
        return Err(format!("create_character.name: {len} characters, expected 3 to 32"));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '-'))) {
        return Err(format!("create_character.name: character {bad:?} not allowed"));
    }
    if name.starts_with(' ') || name.ends_with(' ') {
        return Err("create_character.name: leading or trailing space".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let policy = PasswordPolicy { memory_kib: 64, iterations: 1 };
        let a = policy.hash("correct horse").unwrap();
        let b = policy.hash("correct horse").unwrap();
        assert_ne!(a, b);
        assert!(policy.verify("correct horse", &a));
        assert!(!policy.verify("wrong horse", &a));
        assert!(!policy.verify("correct horse", "not a hash"));
    }

    #[test]
    fn tokens_are_random_and_digests_stable() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(token_digest(&a), token_digest(&a));
        assert_ne!(token_digest(&a), a);
    }

    #[test]
    fn names_are_checked_with_reasons() {
        assert!(check_username("pilot_1").is_ok());
        assert!(check_username("ab").unwrap_err().contains("3 to 32"));
        assert!(check_username("bad name").unwrap_err().contains("' '"));
        assert!(check_password("short").unwrap_err().contains("8 to 128"));
        assert!(check_character_name("Ann Smith").is_ok());
        assert!(check_character_name(" Ann").is_err());
        assert!(check_character_name("Ann\u{0}").is_err());
    }
}
