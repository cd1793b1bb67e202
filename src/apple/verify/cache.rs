//! The chain cache: a validated (leaf, intermediate) pair, keyed on the x5c text as sent, and the JWS headers
//! already seen, so a warm verification decodes no certificate; the last few headers are kept as text, so a warm
//! verification of one of them does not even hash its header.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::jws::B64STD;
use super::{SignedDataVerifier, VerifyError};

pub(super) const DEFAULT_CACHE_CAPACITY: usize = 64;
/// Header texts compared byte for byte before hashing. Apple signs a notification and the transaction and renewal
/// info inside it under one header (about 3.5 KB of base64), so one entry serves all three; a few allow for
/// both environments and a certificate rotation.
const RECENT_HEADERS: usize = 4;
/// Same period the official libraries use for their (online) chain cache.
pub(super) const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(15 * 60);

#[derive(Clone)]
pub(super) struct CacheEntry {
    pub(super) leaf_key: p256::ecdsa::VerifyingKey,
    /// The same key as an uncompressed SEC1 point, for ring's signature check: ring's assembly P-256 verifies
    /// several times faster than the portable `p256` arithmetic, and a notification carries three signatures.
    pub(super) leaf_point: std::sync::Arc<[u8]>,
    pub(super) not_before_ms: i64,
    pub(super) not_after_ms: i64,
    pub(super) inserted: Instant,
}

#[derive(Default)]
pub(super) struct ChainCache {
    pub(super) map: HashMap<[u8; 32], CacheEntry>,
    pub(super) order: VecDeque<[u8; 32]>,
    /// JWS header text (hashed) → key of its chain in `map`. Apple's headers repeat exactly, so a known header
    /// skips decoding and parsing its three certificates' worth of JSON; the chain entry's TTL still applies.
    pub(super) headers: HashMap<[u8; 32], [u8; 32]>,
    /// The last [`RECENT_HEADERS`] header texts found in `headers`, newest first, with their chain's key. Equal
    /// text is the same header, so a match needs no SHA-256 (about 7 µs of a notification's three).
    pub(super) recent: VecDeque<(Box<str>, [u8; 32])>,
}

impl SignedDataVerifier {
    /// The validated chain for the x5c entries as sent (standard base64). The cache is keyed on that text, so a
    /// warm verification decodes no certificate; the same certificates spelled differently are merely a miss.
    pub(super) fn chain_for(
        &self,
        leaf_b64: &str,
        intermediate_b64: &str,
    ) -> Result<([u8; 32], CacheEntry), VerifyError> {
        let mut hasher = Sha256::new();
        hasher.update(leaf_b64.as_bytes());
        // '.' is not a base64 character: the split between the two entries is unambiguous.
        hasher.update(b".");
        hasher.update(intermediate_b64.as_bytes());
        let key: [u8; 32] = hasher.finalize().into();
        if let Some(entry) = self.cached_chain(&key) {
            return Ok((key, entry));
        }

        let leaf_der = B64STD
            .decode(leaf_b64)
            .map_err(|_| VerifyError::BadCertificate {
                which: "leaf",
                reason: "not base64".into(),
            })?;
        let intermediate_der =
            B64STD
                .decode(intermediate_b64)
                .map_err(|_| VerifyError::BadCertificate {
                    which: "intermediate",
                    reason: "not base64".into(),
                })?;
        let entry = self.validate_structure(&leaf_der, &intermediate_der)?;
        let mut cache = self.lock_cache();
        if !cache.map.contains_key(&key) {
            while cache.map.len() >= self.cache_capacity {
                match cache.order.pop_front() {
                    Some(oldest) => {
                        cache.map.remove(&oldest);
                    }
                    None => {
                        cache.map.clear();
                        break;
                    }
                }
            }
            cache.order.push_back(key);
        }
        cache.map.insert(key, entry.clone());
        Ok((key, entry))
    }

    /// A live cache entry (counted as a hit), or None; an expired one is dropped.
    fn cached_chain(&self, key: &[u8; 32]) -> Option<CacheEntry> {
        let mut cache = self.lock_cache();
        match cache.map.get(key) {
            Some(entry) if entry.inserted.elapsed() < self.cache_ttl => {
                self.cache_hits.fetch_add(1, Ordering::Relaxed);
                Some(entry.clone())
            }
            Some(_) => {
                cache.map.remove(key);
                cache.order.retain(|k| k != key);
                None
            }
            None => None,
        }
    }

    /// The chain of a header seen before, if its entry is still live.
    pub(super) fn chain_for_header(&self, header_b64: &str) -> Option<CacheEntry> {
        let recent = self
            .lock_cache()
            .recent
            .iter()
            .find(|(text, _)| **text == *header_b64)
            .map(|(_, chain_key)| *chain_key);
        let chain_key = match recent {
            Some(chain_key) => chain_key,
            None => {
                // Hashed outside the lock: the verification threads share it.
                let header_key = header_key(header_b64);
                let mut cache = self.lock_cache();
                let chain_key = *cache.headers.get(&header_key)?;
                cache.remember_recent(header_b64, chain_key);
                chain_key
            }
        };
        self.cached_chain(&chain_key)
    }

    pub(super) fn remember_header(&self, header_b64: &str, chain_key: [u8; 32]) {
        let header_key = header_key(header_b64);
        let mut cache = self.lock_cache();
        // Headers of evicted chains linger harmlessly; bound the index anyway.
        if cache.headers.len() >= self.cache_capacity.saturating_mul(4) {
            cache.headers.clear();
        }
        cache.headers.insert(header_key, chain_key);
        cache.remember_recent(header_b64, chain_key);
    }
}

impl ChainCache {
    pub(super) fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
        self.headers.clear();
        self.recent.clear();
    }

    fn remember_recent(&mut self, header_b64: &str, chain_key: [u8; 32]) {
        self.recent.retain(|(text, _)| **text != *header_b64);
        self.recent.truncate(RECENT_HEADERS - 1);
        self.recent.push_front((header_b64.into(), chain_key));
    }
}

/// The key of a header text in [`ChainCache::headers`].
fn header_key(header_b64: &str) -> [u8; 32] {
    Sha256::digest(header_b64.as_bytes()).into()
}
