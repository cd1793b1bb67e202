//! Each signature is checked by Apple's published rules with a verifier other than the code that signs:
//! `ring` for the DER form, `jsonwebtoken` for the JWS form.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use super::*;
use p256::pkcs8::{EncodePublicKey as _, LineEnding};

const BUNDLE: &str = "com.example.demo";
const KID: &str = "2X9R4HXF34";
const ISSUER: &str = "57246542-96fe-1a63-e053-0824d011072a";

fn key() -> SigningKey {
    SigningKey::random(&mut rand::rngs::OsRng)
}

fn request() -> OfferRequest {
    OfferRequest {
        product_id: "com.example.pro.monthly".into(),
        offer_id: "WINBACK_50".into(),
        application_username: "7e3fb20b-4cdb-47cc-936d-99d65f608138".into(),
        transaction_id: None,
        nonce: Uuid::parse_str("1B4E28BA-2FA1-41D2-883F-0016D3CCA427").unwrap(),
        timestamp: 1_767_225_600_123,
    }
}

/// The message by hand: the seven fields with the bytes E2 81 A3 between them and nowhere else.
fn expected_message(username: &str) -> Vec<u8> {
    let mut m = Vec::new();
    for (i, field) in [
        BUNDLE,
        KID,
        "com.example.pro.monthly",
        "WINBACK_50",
        username,
        "1b4e28ba-2fa1-41d2-883f-0016d3cca427",
        "1767225600123",
    ]
    .iter()
    .enumerate()
    {
        if i > 0 {
            m.extend_from_slice(&[0xE2, 0x81, 0xA3]);
        }
        m.extend_from_slice(field.as_bytes());
    }
    m
}

fn ring_verify(key: &SigningKey, message: &[u8], signature_b64: &str) -> bool {
    let der = STANDARD.decode(signature_b64).expect("standard base64");
    let point = key.verifying_key().to_encoded_point(false);
    ring::signature::UnparsedPublicKey::new(
        &ring::signature::ECDSA_P256_SHA256_ASN1,
        point.as_bytes(),
    )
    .verify(message, &der)
    .is_ok()
}

#[test]
fn the_original_message_joins_seven_fields_with_the_invisible_separator() {
    let message = v1_message(BUNDLE, KID, &request());
    assert_eq!(
        message.as_bytes(),
        expected_message("7e3fb20b-4cdb-47cc-936d-99d65f608138")
    );
    assert!(!message.starts_with(SEPARATOR) && !message.ends_with(SEPARATOR));
    let without_user = OfferRequest {
        application_username: String::new(),
        ..request()
    };
    assert_eq!(
        v1_message(BUNDLE, KID, &without_user).as_bytes(),
        expected_message(""),
        "an absent user name is an empty field, not a missing one"
    );
}

#[test]
fn the_original_signature_is_der_in_padded_base64_and_verifies_with_the_public_key() {
    let key = key();
    let signed = sign(&key, KID, ISSUER, BUNDLE, &request()).unwrap();
    let der = STANDARD.decode(&signed.signature).unwrap();
    assert!((68..=72).contains(&der.len()), "DER SEQUENCE, not r||s");
    assert_eq!(der[0], 0x30);
    assert_eq!(signed.signature.len() % 4, 0, "padded");
    let message = expected_message("7e3fb20b-4cdb-47cc-936d-99d65f608138");
    assert!(ring_verify(&key, &message, &signed.signature));
    assert!(!ring_verify(&key, &expected_message(""), &signed.signature));
    assert!(!ring_verify(&self::key(), &message, &signed.signature));
    assert_eq!(signed.nonce, "1b4e28ba-2fa1-41d2-883f-0016d3cca427");
    assert_eq!(signed.key_identifier, KID);
    assert_eq!(signed.timestamp, 1_767_225_600_123);
}

fn decode_jws(key: &SigningKey, jws: &str) -> (jsonwebtoken::Header, serde_json::Value) {
    let pem = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[JWS_AUDIENCE]);
    validation.set_issuer(&[ISSUER]);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<serde_json::Value>(
        jws,
        &jsonwebtoken::DecodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
        &validation,
    )
    .expect("the JWS verifies with the public key");
    (data.header, data.claims)
}

#[test]
fn the_jws_form_carries_apples_claims_without_exp_and_verifies() {
    let key = key();
    let request = OfferRequest {
        transaction_id: Some("2000000123456789".into()),
        ..request()
    };
    let signed = sign(&key, KID, ISSUER, BUNDLE, &request).unwrap();
    let (header, claims) = decode_jws(&key, &signed.compact_jws);
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    assert_eq!(header.kid.as_deref(), Some(KID));
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(
        claims,
        serde_json::json!({
            "iss": ISSUER,
            "iat": 1_767_225_600,
            "aud": "promotional-offer",
            "bid": BUNDLE,
            "nonce": "1b4e28ba-2fa1-41d2-883f-0016d3cca427",
            "productId": "com.example.pro.monthly",
            "offerIdentifier": "WINBACK_50",
            "transactionId": "2000000123456789",
        })
    );
    let without = sign(&key, KID, ISSUER, BUNDLE, &self::request()).unwrap();
    let (_, claims) = decode_jws(&key, &without.compact_jws);
    assert!(claims.get("transactionId").is_none());
    assert!(claims.get("exp").is_none());
}

#[test]
fn a_tampered_jws_does_not_verify() {
    let key = key();
    let jws = sign_v2(&key, KID, ISSUER, BUNDLE, &request()).unwrap();
    let mut parts: Vec<String> = jws.split('.').map(String::from).collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    claims["offerIdentifier"] = "FREE_FOREVER".into();
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    let pem = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.validate_aud = false;
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    assert!(jsonwebtoken::decode::<serde_json::Value>(
        &parts.join("."),
        &jsonwebtoken::DecodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
        &validation,
    )
    .is_err());
}

fn input(fields: &[(&str, &str)]) -> OfferInput {
    let mut i = OfferInput {
        product_id: "com.example.pro.monthly".into(),
        offer_id: "WINBACK_50".into(),
        ..OfferInput::default()
    };
    for (name, value) in fields {
        let v = value.to_string();
        match *name {
            "product_id" => i.product_id = v,
            "offer_id" => i.offer_id = v,
            "app_account_token" => i.app_account_token = v,
            "application_username" => i.application_username = v,
            "transaction_id" => i.transaction_id = v,
            "nonce" => i.nonce = v,
            "timestamp" => i.timestamp = v,
            other => panic!("no field {other}"),
        }
    }
    i
}

const NOW: i64 = 1_767_225_600_000;

fn errors(fields: &[(&str, &str)]) -> Vec<(OfferField, String)> {
    parse(&input(fields), Uuid::new_v4(), NOW).unwrap_err()
}

#[test]
fn empty_nonce_and_timestamp_are_made_by_us_and_given_ones_are_kept_in_lower_case() {
    let fresh = Uuid::new_v4();
    let made = parse(&input(&[]), fresh, NOW).unwrap();
    assert_eq!((made.nonce, made.timestamp), (fresh, NOW));
    assert_eq!(made.application_username, "");
    assert_eq!(made.transaction_id, None);
    let given = parse(
        &input(&[
            ("nonce", " 1B4E28BA-2FA1-41D2-883F-0016D3CCA427 "),
            ("timestamp", "1767225600123"),
            ("app_account_token", "7E3FB20B-4CDB-47CC-936D-99D65F608138"),
            ("transaction_id", "2000000123456789"),
        ]),
        fresh,
        NOW,
    )
    .unwrap();
    assert_eq!(
        given,
        OfferRequest {
            transaction_id: Some("2000000123456789".into()),
            ..request()
        }
    );
    let username = parse(
        &input(&[("application_username", "Hash-Of-User-42")]),
        fresh,
        NOW,
    )
    .unwrap();
    assert_eq!(username.application_username, "hash-of-user-42");
}

#[test]
fn every_bad_field_gets_its_own_sentence() {
    assert_eq!(
        errors(&[("product_id", " "), ("offer_id", "")]),
        vec![
            (OfferField::ProductId, PRODUCT_EMPTY.to_string()),
            (OfferField::OfferId, OFFER_EMPTY.to_string())
        ]
    );
    assert_eq!(
        errors(&[("product_id", "com.example.pro\u{2063}evil")]),
        vec![(OfferField::ProductId, "The product ID may contain only letters, digits, periods, underscores and hyphens, as in App Store Connect.".to_string())]
    );
    assert_eq!(
        errors(&[("offer_id", &"x".repeat(201))]),
        vec![(
            OfferField::OfferId,
            "Keep the offer identifier to 200 characters or fewer.".to_string()
        )]
    );
    assert_eq!(
        errors(&[("app_account_token", "not-a-uuid")]),
        vec![(
            OfferField::AppAccountToken,
            APP_ACCOUNT_TOKEN_BAD.to_string()
        )]
    );
    assert_eq!(
        errors(&[("app_account_token", "7e3fb20b4cdb47cc936d99d65f608138")]),
        vec![(
            OfferField::AppAccountToken,
            APP_ACCOUNT_TOKEN_BAD.to_string()
        )],
        "only the hyphenated form, the one StoreKit prints"
    );
    assert_eq!(
        errors(&[
            ("app_account_token", "7e3fb20b-4cdb-47cc-936d-99d65f608138"),
            ("application_username", "someone")
        ]),
        vec![(OfferField::ApplicationUsername, BOTH_USERNAMES.to_string())]
    );
    assert_eq!(
        errors(&[("application_username", "a\u{2063}b")])[0].0,
        OfferField::ApplicationUsername
    );
    assert_eq!(
        errors(&[("transaction_id", "20000001234x")]),
        vec![(OfferField::TransactionId, TRANSACTION_ID_BAD.to_string())]
    );
    assert_eq!(
        errors(&[("nonce", "{1b4e28ba-2fa1-41d2-883f-0016d3cca427}")]),
        vec![(OfferField::Nonce, NONCE_BAD.to_string())]
    );
    for bad in [
        "soon",
        "-1767225600000",
        "1.7e12",
        "+1767225600000",
        "99999999999999999999",
    ] {
        assert_eq!(
            errors(&[("timestamp", bad)]),
            vec![(OfferField::Timestamp, TIMESTAMP_BAD.to_string())],
            "{bad}"
        );
    }
    assert_eq!(
        errors(&[("timestamp", "1767225600")]),
        vec![(OfferField::Timestamp, TIMESTAMP_SECONDS.to_string())]
    );
    assert_eq!(
        errors(&[("timestamp", "100000000000000")]),
        vec![(OfferField::Timestamp, TIMESTAMP_FUTURE.to_string())]
    );
}

#[test]
fn field_names_follow_the_form_and_apples_json_spelling() {
    assert_eq!(OfferField::ProductId.form_name(), "product_id");
    assert_eq!(OfferField::ProductId.json_name(), "productIdentifier");
    assert_eq!(OfferField::AppAccountToken.json_name(), "appAccountToken");
}
