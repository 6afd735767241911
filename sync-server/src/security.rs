//! Passwords (argon2id), opaque tokens (stored only as SHA-256 hashes), and per-address rate
//! limits for the authentication endpoints.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

pub const MIN_PASSWORD: usize = 10;
pub const MAX_PASSWORD: usize = 256;

/// Hashes a password with argon2id (the crate's defaults: 19 MiB, 2 passes). Slow on
/// purpose: call it off the async threads.
pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Internal(anyhow::anyhow!("hashing a password: {e}")))
}

/// A well-formed argon2id hash of nothing anyone knows, with the parameters real hashes use.
const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0ZkXrd7a4b0Hk5G1mXq7m3c3nUq4Vn3e1o0Xq2Jz0Qk";

/// Checks a password against a stored hash. With no stored hash (an unknown e-mail) it checks
/// against a fixed one, so that both cases take as long and answer alike.
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    let parsed = PasswordHash::new(stored.unwrap_or(DUMMY));
    let ok = match parsed {
        Ok(hash) => Argon2::default().verify_password(password.as_bytes(), &hash).is_ok(),
        Err(_) => false,
    };
    ok && stored.is_some()
}

/// Refuses passwords that are short, absurdly long, common, or the e-mail itself.
pub fn check_new_password(password: &str, email: &str) -> Result<()> {
    let len = password.chars().count();
    if len < MIN_PASSWORD {
        return Err(Error::Invalid(format!("password: use at least {MIN_PASSWORD} characters")));
    }
    if len > MAX_PASSWORD {
        return Err(Error::Invalid(format!("password: use at most {MAX_PASSWORD} characters")));
    }
    let lower = password.to_lowercase();
    let local = email.split('@').next().unwrap_or_default().to_lowercase();
    let one_char = lower.chars().all(|c| lower.starts_with(c));
    if COMMON_PASSWORDS.contains(&lower.as_str())
        || one_char
        || lower == email.to_lowercase()
        || (!local.is_empty() && lower == local)
    {
        return Err(Error::Invalid("password: this password is too easy to guess; choose another".into()));
    }
    Ok(())
}

/// A new random token (256 bits, URL-safe hex) and the hash that is stored for it.
pub fn new_token() -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Counts attempts per client address and endpoint in one-minute windows. Per instance: with
/// several instances behind a load balancer each enforces its own share.
pub struct RateLimiter {
    per_minute: u32,
    /// (address, endpoint) → (start of the current window, attempts in it)
    windows: Mutex<HashMap<Bucket, (Instant, u32)>>,
}

type Bucket = (IpAddr, &'static str);

impl RateLimiter {
    pub fn new(per_minute: u32) -> RateLimiter {
        RateLimiter { per_minute, windows: Mutex::new(HashMap::new()) }
    }

    pub fn check(&self, ip: IpAddr, endpoint: &'static str) -> Result<()> {
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() > 100_000 {
            windows.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(60));
        }
        let entry = windows.entry((ip, endpoint)).or_insert((now, 0));
        if now.duration_since(entry.0) >= Duration::from_secs(60) {
            *entry = (now, 0);
        }
        entry.1 += 1;
        if entry.1 > self.per_minute {
            return Err(Error::RateLimited);
        }
        Ok(())
    }
}

/// Passwords of ten or more characters that top the published leak lists, lower-cased.
const COMMON_PASSWORDS: &[&str] = &[
    "1234567890",
    "12345678910",
    "123456789a",
    "0123456789",
    "1234567891",
    "0987654321",
    "9876543210",
    "1111111111",
    "0000000000",
    "1q2w3e4r5t",
    "1q2w3e4r5t6y",
    "q1w2e3r4t5",
    "qwertyuiop",
    "qwerty1234",
    "qwerty12345",
    "qwerty123456",
    "asdfghjkl1",
    "asdfghjkl;",
    "zxcvbnm123",
    "1qaz2wsx3edc",
    "qazwsxedc123",
    "password12",
    "password123",
    "password1234",
    "password!1",
    "passw0rd12",
    "p@ssw0rd12",
    "p@ssword123",
    "iloveyou12",
    "iloveyou123",
    "letmein123",
    "welcome123",
    "welcome1234",
    "admin12345",
    "administrator",
    "abc1234567",
    "abcdefghij",
    "abcd123456",
    "princess123",
    "football123",
    "baseball123",
    "sunshine123",
    "monkey12345",
    "dragon12345",
    "master12345",
    "superman123",
    "trustno1234",
    "starwars123",
    "changeme123",
    "secret12345",
    "computer123",
    "internet123",
    "samsung123",
    "michael123",
    "charlie123",
    "jennifer123",
    "1234qwerasdf",
    "qweasdzxc123",
    "asdasdasd123",
    "qwertyqwerty",
    "passwordpassword",
    "abc123abc123",
    "123123123123",
    "123456123456",
    "1234512345",
    "1122334455",
    "1234567890a",
    "a1234567890",
    "aa12345678",
    "q1234567890",
    "zaq12wsxcde",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify_with_argon2id() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", Some(&hash)));
        assert!(!verify_password("wrong horse battery", Some(&hash)));
        assert!(!verify_password("correct horse battery", None));
        // The stand-in hash must parse, or an unknown e-mail would skip the work and answer faster.
        let dummy = PasswordHash::new(DUMMY).unwrap();
        assert_eq!(dummy.algorithm.as_str(), "argon2id");
        let real = hash_password("x").unwrap();
        assert_eq!(PasswordHash::new(&real).unwrap().params, dummy.params, "same cost as real hashes");
    }

    #[test]
    fn weak_passwords_are_refused() {
        for bad in ["short", "1234567890", "Password123", "aaaaaaaaaaaa", "alice.smith"] {
            assert!(check_new_password(bad, "alice.smith@example.com").is_err(), "{bad}");
        }
        assert!(check_new_password("a long and unusual phrase", "alice@example.com").is_ok());
    }

    #[test]
    fn tokens_are_random_and_only_their_hash_is_kept() {
        let (a, ha) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(token_hash(&a), ha);
    }

    #[test]
    fn the_rate_limit_counts_per_address_and_endpoint() {
        let limiter = RateLimiter::new(2);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(limiter.check(ip, "login").is_ok());
        assert!(limiter.check(ip, "login").is_ok());
        assert!(matches!(limiter.check(ip, "login"), Err(Error::RateLimited)));
        assert!(limiter.check(ip, "signup").is_ok());
        assert!(limiter.check("10.0.0.1".parse().unwrap(), "login").is_ok());
    }
}
