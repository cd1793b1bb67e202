//! Token tests: the JWT's header and claims as Apple documents them, and the cache's reuse and renewal.

use super::*;

fn src(key: &SigningKey) -> SigningKeySource {
    key.clone().into()
}
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::VerifyingKey;
use rand::rngs::OsRng;

fn decode_part(part: &str) -> serde_json::Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[test]
fn token_has_apple_header_and_claims_and_verifies() {
    let key = SigningKey::random(&mut OsRng);
    let token = make_token(
        &key,
        "2X9R4HXF34",
        "57246542-96fe-1a63-e053-0824d011072a",
        "com.example",
        1_700_000_000,
        1200,
    )
    .unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);

    let header = decode_part(parts[0]);
    assert_eq!(
        header,
        serde_json::json!({"alg": "ES256", "kid": "2X9R4HXF34", "typ": "JWT"})
    );
    let claims = decode_part(parts[1]);
    assert_eq!(
        claims,
        serde_json::json!({
            "iss": "57246542-96fe-1a63-e053-0824d011072a",
            "iat": 1_700_000_000,
            "exp": 1_700_001_200,
            "aud": "appstoreconnect-v1",
            "bid": "com.example",
        })
    );

    let sig_bytes = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    assert_eq!(sig_bytes.len(), 64, "JOSE ES256 is raw r||s");
    let sig = Signature::from_slice(&sig_bytes).unwrap();
    let vk: &VerifyingKey = key.verifying_key();
    let signed = format!("{}.{}", parts[0], parts[1]);
    vk.verify(signed.as_bytes(), &sig).unwrap();

    // Another key must not verify it.
    let other = SigningKey::random(&mut OsRng);
    assert!(other
        .verifying_key()
        .verify(signed.as_bytes(), &sig)
        .is_err());
}

#[test]
fn token_verifies_with_an_independent_jwt_library() {
    use p256::pkcs8::EncodePublicKey as _;
    let key = SigningKey::random(&mut OsRng);
    let now = chrono::Utc::now().timestamp();
    let token = make_token(&key, "KEYID", "issuer", "com.example", now, 300).unwrap();
    let pem = key
        .verifying_key()
        .to_public_key_pem(p256::pkcs8::LineEnding::LF)
        .unwrap();
    let decoding = jsonwebtoken::DecodingKey::from_ec_pem(pem.as_bytes()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&["appstoreconnect-v1"]);
    validation.set_issuer(&["issuer"]);
    let data = jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation).unwrap();
    assert_eq!(data.header.kid.as_deref(), Some("KEYID"));
    assert_eq!(data.claims["bid"], "com.example");
}

#[test]
fn rejects_bad_lifetimes_and_empty_fields() {
    let key = SigningKey::random(&mut OsRng);
    assert!(matches!(
        make_token(&key, "k", "i", "b", 0, 0),
        Err(TokenError::InvalidLifetime(0))
    ));
    assert!(matches!(
        make_token(&key, "k", "i", "b", 0, 3601),
        Err(TokenError::InvalidLifetime(3601))
    ));
    assert!(matches!(
        make_token(&key, "", "i", "b", 0, 60),
        Err(TokenError::MissingField)
    ));
}

#[test]
fn cache_reuses_until_a_minute_before_expiry() {
    let key = SigningKey::random(&mut OsRng);
    let cache = TokenCache::new();
    let t0 = 1_700_000_000;
    let a = cache
        .token(&src(&key), 1, "k", "i", "com.example", t0)
        .unwrap();
    let b = cache
        .token(&src(&key), 1, "k", "i", "com.example", t0 + 1139)
        .unwrap();
    assert_eq!(a, b, "reused within the lifetime minus the margin");
    let c = cache
        .token(&src(&key), 1, "k", "i", "com.example", t0 + 1140)
        .unwrap();
    assert_ne!(a, c, "renewed 60 s before expiry");
    let claims = decode_part(c.split('.').nth(1).unwrap());
    assert_eq!(claims["iat"], t0 + 1140);
    assert_eq!(claims["exp"], t0 + 1140 + 1200);
}

#[test]
fn cache_separates_keys_versions_and_apps() {
    let key = SigningKey::random(&mut OsRng);
    let rotated = SigningKey::random(&mut OsRng);
    let cache = TokenCache::new();
    let t0 = 1_700_000_000;
    let a = cache
        .token(&src(&key), 1, "k", "i", "com.example", t0)
        .unwrap();
    let rotated_token = cache
        .token(&src(&rotated), 2, "k", "i", "com.example", t0)
        .unwrap();
    assert_ne!(a, rotated_token);
    assert_eq!(cache.len(), 2);
    // A new version of the same key material gets its own entry (the bytes are equal: RFC 6979).
    cache
        .token(&src(&key), 2, "k", "i", "com.example", t0)
        .unwrap();
    assert_eq!(cache.len(), 3);
    let other_bundle = cache
        .token(&src(&key), 1, "k", "i", "com.other", t0)
        .unwrap();
    assert_ne!(a, other_bundle);
    assert_eq!(cache.len(), 4);
    // Reused: the issue time stays t0 although asked at t0 + 5.
    assert_eq!(
        a,
        cache
            .token(&src(&key), 1, "k", "i", "com.example", t0 + 5)
            .unwrap()
    );
    assert_eq!(cache.len(), 4);
    // The rotated key's token verifies with the rotated key only.
    let parts: Vec<&str> = rotated_token.split('.').collect();
    let sig = Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
    let signed = format!("{}.{}", parts[0], parts[1]);
    assert!(rotated
        .verifying_key()
        .verify(signed.as_bytes(), &sig)
        .is_ok());
    assert!(key.verifying_key().verify(signed.as_bytes(), &sig).is_err());
    cache.clear();
    assert!(cache.is_empty());
}

#[test]
fn clock_going_back_does_not_reuse_a_future_token() {
    let key = SigningKey::random(&mut OsRng);
    let cache = TokenCache::new();
    let a = cache
        .token(&src(&key), 1, "k", "i", "b", 1_700_000_000)
        .unwrap();
    let b = cache
        .token(&src(&key), 1, "k", "i", "b", 1_699_999_000)
        .unwrap();
    assert_ne!(a, b);
}

#[test]
fn a_stored_key_is_opened_only_when_a_new_token_is_signed() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let key = SigningKey::random(&mut OsRng);
    let opened = Arc::new(AtomicUsize::new(0));
    let counter = opened.clone();
    let source = SigningKeySource::on_demand("SHA256:ab:cd".into(), move || {
        counter.fetch_add(1, Ordering::SeqCst);
        Ok(key.clone())
    });
    let cache = TokenCache::new();
    let t0 = 1_700_000_000;
    let a = cache.token(&source, 1, "k", "i", "b", t0).unwrap();
    let b = cache.token(&source, 1, "k", "i", "b", t0 + 600).unwrap();
    assert_eq!(a, b);
    assert_eq!(
        opened.load(Ordering::SeqCst),
        1,
        "served from the cache the second time"
    );
    cache.token(&source, 1, "k", "i", "b", t0 + 1140).unwrap();
    assert_eq!(opened.load(Ordering::SeqCst), 2, "opened again to renew");
}

#[test]
fn a_key_that_cannot_be_opened_is_a_sentence_not_a_token() {
    let source = SigningKeySource::on_demand("SHA256:ab".into(), || {
        Err("key ABC123 is sealed under master key m2, which this instance does not have".into())
    });
    let err = TokenCache::new()
        .token(&source, 1, "k", "i", "b", 1_700_000_000)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "The project's private key could not be opened to sign an API token: key ABC123 is sealed under master key m2, which this instance does not have"
    );
}

#[test]
fn connect_token_has_kid_iss_aud_no_bid_and_at_most_twenty_minutes() {
    use p256::pkcs8::EncodePublicKey as _;
    let key = SigningKey::random(&mut OsRng);
    let now = chrono::Utc::now().timestamp();
    let token = make_connect_token(&key, "2X9R4HXF34", "issuer", now, 1200).unwrap();
    let pem = key
        .verifying_key()
        .to_public_key_pem(p256::pkcs8::LineEnding::LF)
        .unwrap();
    let decoding = jsonwebtoken::DecodingKey::from_ec_pem(pem.as_bytes()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&["appstoreconnect-v1"]);
    validation.set_issuer(&["issuer"]);
    let data = jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation).unwrap();
    assert_eq!(data.header.kid.as_deref(), Some("2X9R4HXF34"));
    assert!(data.claims.get("bid").is_none(), "no bid: {}", data.claims);
    assert_eq!(data.claims["iat"], now);
    assert_eq!(data.claims["exp"], now + 1200);
    assert!(matches!(
        make_connect_token(&key, "k", "i", now, 1201),
        Err(TokenError::InvalidLifetime(1201))
    ));
    assert!(matches!(
        make_connect_token(&key, "", "i", now, 60),
        Err(TokenError::MissingField)
    ));
}
