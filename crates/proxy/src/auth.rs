//! Passwords and session tokens. Passwords are hashed with argon2id (salted, memory-hard); session tokens are
//! 256 random bits followed by their issue time (`<64 hex digits>.<unix seconds>`), given to the client once
//! and stored only as the SHA-256 of the whole string, so a leaked database holds no usable token, and the
//! issue time cannot be changed by the client without the token becoming unknown. Tokens older than the
//! proxy's `token_ttl` are refused.
//!
//! Hashing runs on a small pool of dedicated threads ([`HashPool`], one per core), each keeping its argon2
//! work memory (19 MiB by default) for good: allocating and freeing that much per login fragments the heap
//! until the process holds hundreds of megabytes (measured: 710 MB after 2,000 logins, against 70 MB with the
//! memory reused), and a pool also bounds how much CPU a login storm can take from the sol nodes.

use std::sync::{Arc, mpsc};

use parking_lot::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::RngCore;
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

/// Cost of argon2id. The default is OWASP's recommendation (19 MiB, 2 passes); load tests on a small machine
/// may lower it, never production.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Memory per hash in KiB (argon2's `m`; at least 8).
    pub memory_kib: u32,
    /// Passes over that memory (argon2's `t`).
    pub iterations: u32,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy { memory_kib: 19 * 1024, iterations: 2 }
    }
}

/// Largest work memory a stored hash may ask for when it is verified (a corrupt or hostile row must not make
/// the server allocate gigabytes).
const MAX_VERIFY_KIB: u32 = 256 * 1024;

impl PasswordPolicy {
    fn params(&self) -> Params {
        Params::new(self.memory_kib.max(8), self.iterations.max(1), 1, None).unwrap_or_default()
    }
}

/// One hashing thread's state: the argon2 work memory, allocated once and reused.
pub struct Hasher {
    policy: PasswordPolicy,
    blocks: Vec<Block>,
}

impl Hasher {
    pub fn new(policy: PasswordPolicy) -> Hasher {
        Hasher { policy, blocks: Vec::new() }
    }

    fn compute(
        &mut self,
        argon: &Argon2<'_>,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<(), argon2::Error> {
        let needed = argon.params().block_count();
        if self.blocks.len() < needed {
            self.blocks.resize(needed, Block::default());
        }
        argon.hash_password_into_with_memory(password, salt, out, &mut self.blocks[..needed])
    }

    /// A PHC string (`$argon2id$v=19$m=…`) holding salt and parameters, so old hashes stay verifiable when
    /// the policy changes.
    pub fn hash(&mut self, password: &str) -> Result<String, String> {
        let params = self.policy.params();
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt_string = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        self.compute(&argon, password.as_bytes(), &salt, &mut out).map_err(|e| e.to_string())?;
        let hash = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params).map_err(|e| e.to_string())?,
            salt: Some(salt_string.as_salt()),
            hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
        };
        Ok(hash.to_string())
    }

    /// True if `password` matches `stored` (with the parameters stored in it). A malformed stored hash, or
    /// one asking for absurd parameters, is simply not a match.
    pub fn verify(&mut self, password: &str, stored: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(stored) else { return false };
        let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else { return false };
        let Ok(params) = Params::try_from(&parsed) else { return false };
        let version = match parsed.version.map(Version::try_from).transpose() {
            Ok(version) => version.unwrap_or_default(),
            Err(_) => return false,
        };
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else { return false };
        if params.m_cost() > MAX_VERIFY_KIB {
            return false;
        }
        let mut salt_buffer = [0u8; 64];
        let Ok(salt) = salt.decode_b64(&mut salt_buffer) else { return false };
        let argon = Argon2::new(algorithm, version, params);
        let mut out = vec![0u8; expected.len()];
        if self.compute(&argon, password.as_bytes(), salt, &mut out).is_err() {
            return false;
        }
        // Output's equality is constant-time.
        Output::new(&out).is_ok_and(|computed| computed == expected)
    }
}

enum Job {
    Hash {
        password: String,
        reply: oneshot::Sender<Option<String>>,
    },
    Verify {
        password: String,
        stored: String,
        reply: oneshot::Sender<bool>,
    },
    /// Verify against a hash of a random password: the same work as a real verification, for unknown names.
    VerifyDummy {
        password: String,
        reply: oneshot::Sender<bool>,
    },
}

/// Dedicated hashing threads; dropping the pool ends them.
pub struct HashPool {
    jobs: mpsc::Sender<Job>,
}

impl HashPool {
    /// `threads` hashing threads (at least one).
    pub fn new(policy: PasswordPolicy, threads: usize) -> std::io::Result<HashPool> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..threads.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new().name(format!("argon2-{index}")).spawn(move || {
                let mut hasher = Hasher::new(policy);
                let dummy = hasher.hash(&new_token(std::time::SystemTime::now())).ok();
                loop {
                    // The idle threads take turns waiting on the queue; a job is taken and the lock let go at once.
                    let job = queue.lock().recv();
                    match job {
                        Ok(Job::Hash { password, reply }) => {
                            let _ = reply.send(hasher.hash(&password).ok());
                        }
                        Ok(Job::Verify { password, stored, reply }) => {
                            let _ = reply.send(hasher.verify(&password, &stored));
                        }
                        Ok(Job::VerifyDummy { password, reply }) => {
                            if let Some(dummy) = &dummy {
                                let _ = hasher.verify(&password, dummy);
                            }
                            let _ = reply.send(false);
                        }
                        Err(_) => return,
                    }
                }
            })?;
        }
        Ok(HashPool { jobs })
    }

    /// Hash a new password; `None` if hashing failed.
    pub async fn hash(&self, password: String) -> Option<String> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job::Hash { password, reply }).ok()?;
        answer.await.ok().flatten()
    }

    pub async fn verify(&self, password: String, stored: String) -> bool {
        let (reply, answer) = oneshot::channel();
        if self.jobs.send(Job::Verify { password, stored, reply }).is_err() {
            return false;
        }
        answer.await.unwrap_or(false)
    }

    /// Spend the time of a verification and answer false (a login of an unknown name).
    pub async fn verify_dummy(&self, password: String) -> bool {
        let (reply, answer) = oneshot::channel();
        if self.jobs.send(Job::VerifyDummy { password, reply }).is_err() {
            return false;
        }
        answer.await.unwrap_or(false)
    }
}

/// Longest token `Resume` looks at (64 hex digits, a dot, a 20-digit number).
pub const MAX_TOKEN_LEN: usize = 85;

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs())
}

/// A new session token for the client: 64 hex characters of randomness, a dot, the issue time in Unix
/// seconds.
pub fn new_token(now: SystemTime) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{}.{}", hex::encode(bytes), unix_seconds(now))
}

/// How old a token is, from the issue time it carries; `None` if it is not of the form [`new_token`] makes
/// (tokens of older versions, without an issue time, are refused: they would never expire). A token issued
/// in the future (clock stepped back) counts as new.
pub fn token_age(token: &str, now: SystemTime) -> Option<Duration> {
    let (random, issued) = token.split_once('.')?;
    if random.len() != 64 || !random.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    if issued.is_empty() || !issued.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let issued: u64 = issued.parse().ok()?;
    Some(Duration::from_secs(unix_seconds(now).saturating_sub(issued)))
}

/// A token's SHA-256, which is what the store keeps of it (as hex), as a session keeps it: 32 bytes in place rather than a 64-character string on the heap
/// for every logged-in session.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TokenDigest([u8; 32]);

impl TokenDigest {
    pub fn of(token: &str) -> TokenDigest {
        TokenDigest(Sha256::digest(token.as_bytes()).into())
    }

    /// The form the store keeps.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
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
        let mut hasher = Hasher::new(PasswordPolicy { memory_kib: 64, iterations: 1 });
        let a = hasher.hash("correct horse").unwrap();
        let b = hasher.hash("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{a}");
        assert_ne!(a, b);
        assert!(hasher.verify("correct horse", &a));
        assert!(!hasher.verify("wrong horse", &a));
        assert!(!hasher.verify("correct horse", "not a hash"));
    }

    #[test]
    fn hashes_made_by_the_reference_implementation_verify_and_vice_versa() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let policy = PasswordPolicy { memory_kib: 128, iterations: 2 };
        let reference = Argon2::new(Algorithm::Argon2id, Version::V0x13, policy.params());
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let theirs = reference.hash_password(b"pass phrase", &salt).unwrap().to_string();
        let mut hasher = Hasher::new(policy);
        assert!(hasher.verify("pass phrase", &theirs));
        let ours = hasher.hash("pass phrase").unwrap();
        assert!(reference.verify_password(b"pass phrase", &PasswordHash::new(&ours).unwrap()).is_ok());
        // Hashes made under another policy still verify (parameters are read from the stored string).
        let mut stricter = Hasher::new(PasswordPolicy { memory_kib: 256, iterations: 3 });
        assert!(stricter.verify("pass phrase", &ours));
    }

    #[test]
    fn absurd_stored_parameters_are_not_a_match_and_allocate_nothing() {
        let mut hasher = Hasher::new(PasswordPolicy { memory_kib: 64, iterations: 1 });
        let huge =
            "$argon2id$v=19$m=4000000,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert!(!hasher.verify("x", huge));
        assert!(hasher.blocks.is_empty());
    }

    #[tokio::test]
    async fn the_pool_hashes_and_verifies_off_the_runtime() {
        let pool = HashPool::new(PasswordPolicy { memory_kib: 64, iterations: 1 }, 2).unwrap();
        let hash = pool.hash("hunter2hunter2".into()).await.unwrap();
        assert!(pool.verify("hunter2hunter2".into(), hash.clone()).await);
        assert!(!pool.verify("hunter3hunter3".into(), hash).await);
    }

    #[test]
    fn tokens_are_random_and_digests_stable() {
        let now = SystemTime::now();
        let (a, b) = (new_token(now), new_token(now));
        assert_eq!(a.find('.'), Some(64));
        assert!(a.len() <= MAX_TOKEN_LEN);
        assert_ne!(a, b);
        assert_eq!(TokenDigest::of(&a), TokenDigest::of(&a));
        assert_ne!(TokenDigest::of(&a).hex(), a);
        assert_eq!(TokenDigest::of(&a).hex().len(), 64);
    }

    #[test]
    fn tokens_carry_their_issue_time() {
        let issued = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let token = new_token(issued);
        assert!(token.ends_with(".1700000000"), "{token}");
        assert_eq!(token_age(&token, issued + Duration::from_secs(90)), Some(Duration::from_secs(90)));
        assert_eq!(token_age(&token, issued - Duration::from_secs(5)), Some(Duration::ZERO));
        let longest = format!("{}.{}", "a".repeat(64), u64::MAX);
        assert_eq!(longest.len(), MAX_TOKEN_LEN);
        assert!(token_age(&longest, issued).is_some());
        // Old-style tokens and anything malformed carry no age.
        for bad in [
            "a".repeat(64),
            format!("{}.", "a".repeat(64)),
            format!("{}.12x", "a".repeat(64)),
            format!("{}.+12", "a".repeat(64)),
            format!("{}.12", "g".repeat(64)),
            format!("{}.12", "a".repeat(63)),
            format!("{}.1{}", "a".repeat(64), "0".repeat(20)),
            String::new(),
        ] {
            assert_eq!(token_age(&bad, issued), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn unknown_names_cost_a_verification_too() {
        let pool = HashPool::new(PasswordPolicy { memory_kib: 64, iterations: 1 }, 1).unwrap();
        assert!(!pool.verify_dummy("anything at all".into()).await);
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
