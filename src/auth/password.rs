//! argon2id with explicit parameters, run off the async workers because hashing is deliberately slow. Each run
//! takes 19 MiB for tens of milliseconds, so at most one runs per core and only a short queue waits: beyond it
//! a sign-in is answered "busy" at once instead of letting hundreds of requests hold 19 MiB each.
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};

/// A real hash of a random password: verifying against it costs the same as for a real user,
/// so the answer time does not tell whether an e-mail address has an account.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c3RvcmVkZXNrZHVtbXlzYWx0$0Gr5Wc0nVOCbA6C9aA1Y0nYqT0sOc0mAIlLq3xq8mGo";

fn hasher() -> anyhow::Result<Argon2<'static>> {
    let params =
        Params::new(19_456, 2, 1, None).map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Said when too many password checks are running or waiting; the request is answered 503 at once.
pub const BUSY: &str =
    "storedesk is busy checking other passwords right now, so nothing was done. Try again in a few seconds.";

/// How many hashes run at once (one per core) and how many may wait for a turn.
struct Limits {
    running: tokio::sync::Semaphore,
    /// Runs admitted (running or waiting); a run beyond `admitted_max` is refused.
    admitted: std::sync::atomic::AtomicUsize,
    admitted_max: usize,
}

/// Runs that may wait per core: a queue of a few runs' time (each ~50 ms), so a burst is absorbed while a flood
/// is refused in well under a second instead of piling up memory and time.
const QUEUE_PER_CORE: usize = 4;

impl Limits {
    fn new(cores: usize) -> Limits {
        Limits {
            running: tokio::sync::Semaphore::new(cores),
            admitted: std::sync::atomic::AtomicUsize::new(0),
            admitted_max: cores * (1 + QUEUE_PER_CORE),
        }
    }
}

fn limits() -> &'static Limits {
    static LIMITS: std::sync::OnceLock<Limits> = std::sync::OnceLock::new();
    LIMITS.get_or_init(|| {
        Limits::new(std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get))
    })
}

/// Counts a run from admission to its end, including when the request is dropped while it waits.
struct Admitted(&'static Limits);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0
            .admitted
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Runs `work` (an argon2 run) on the blocking pool once a core is free; refuses at once when the queue is full.
async fn limited<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    limited_by(limits(), work).await
}

async fn limited_by<T: Send + 'static>(
    limits: &'static Limits,
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    let before = limits
        .admitted
        .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    let admitted = Admitted(limits);
    if before >= limits.admitted_max {
        return Err(crate::error::Overloaded(BUSY).into());
    }
    let _turn = limits
        .running
        .acquire()
        .await
        .map_err(|e| anyhow::anyhow!("password hashing limiter closed: {e}"))?;
    let result = tokio::task::spawn_blocking(work).await?;
    drop(admitted);
    result
}

pub async fn hash_password(password: SecretString) -> anyhow::Result<String> {
    limited(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher()?
            .hash_password(password.expose_secret().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("could not hash the password: {e}"))
    })
    .await
}

/// True when `password` matches `hash`; with no hash (unknown user) it still does the work and answers false.
pub async fn verify_password(password: SecretString, hash: Option<String>) -> anyhow::Result<bool> {
    limited(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.to_string());
        let parsed = PasswordHash::new(&hash)
            .map_err(|e| anyhow::anyhow!("stored password hash is malformed: {e}"))?;
        let ok = hasher()?
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok();
        Ok(ok && known)
    })
    .await
}

/// A password people can type from a printout: 20 characters, no look-alikes.
pub fn generate_password() -> SecretString {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    let s: String = (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    SecretString::from(s)
}

pub const MIN_PASSWORD_LEN: usize = 12;

/// The sentence shown next to a new-password field, or None when the password is acceptable.
pub fn password_problem(password: &str, email: &str) -> Option<&'static str> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        Some("Use at least 12 characters.")
    } else if password.chars().count() > 256 {
        Some("Use at most 256 characters.")
    } else if password.eq_ignore_ascii_case(email) {
        Some("Do not use your e-mail address as your password.")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hash = hash_password(SecretString::from("correct horse battery"))
            .await
            .unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password(
            SecretString::from("correct horse battery"),
            Some(hash.clone())
        )
        .await
        .unwrap());
        assert!(!verify_password(SecretString::from("wrong"), Some(hash))
            .await
            .unwrap());
        assert!(!verify_password(SecretString::from("anything"), None)
            .await
            .unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flood_of_checks_is_refused_beyond_the_queue_and_never_runs_more_than_one_per_core() {
        // Its own limiter of one core, so the other tests' hashes do not share it.
        let limits: &'static Limits = Box::leak(Box::new(Limits::new(1)));
        let running = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let most = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let n = limits.admitted_max * 3;
        let checks: Vec<_> = (0..n)
            .map(|_| {
                let (running, most) = (running.clone(), most.clone());
                tokio::spawn(limited_by(limits, move || {
                    use std::sync::atomic::Ordering::SeqCst;
                    let now = running.fetch_add(1, SeqCst) + 1;
                    most.fetch_max(now, SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    running.fetch_sub(1, SeqCst);
                    Ok(())
                }))
            })
            .collect();
        let (mut busy, mut answered) = (0, 0);
        for c in checks {
            match c.await.unwrap() {
                Ok(_) => answered += 1,
                Err(e) if e.downcast_ref::<crate::error::Overloaded>().is_some() => busy += 1,
                Err(e) => panic!("unexpected error: {e}"),
            }
        }
        assert!(busy > 0, "a flood beyond the queue is refused");
        assert!(answered >= limits.admitted_max, "the queue is served");
        assert_eq!(busy + answered, n);
        assert_eq!(
            most.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "one run per core"
        );
        // Everything admitted has left; the limiter is whole again.
        assert_eq!(
            limits.admitted.load(std::sync::atomic::Ordering::Acquire),
            0
        );
    }

    #[test]
    fn the_dummy_hash_parses() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
