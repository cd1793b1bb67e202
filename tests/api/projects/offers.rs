//! Promotional offer signatures from the page and from the API, checked against the public key of the simulator-
//! issued key by Apple's rules (fields joined by U+2063, lowercase UUIDs, ECDSA P-256 SHA-256, DER, base64) and,
//! for the JWS form, as an ES256 JWS with Apple's claims.
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use p256::pkcs8::{DecodePrivateKey as _, EncodePublicKey as _, LineEnding};
use secrecy::ExposeSecret;
use serde_json::json;
use storedesk::apple_sim::{IssuedKey, SimConfig};
use storedesk::domain::Role;

use crate::admin::api_tokens::{assert_json_error, shown_token, TOKENS};
use crate::both_backends;
use crate::helpers::{client, create_project, ready, store_key, Backend, Ready, TestApp};
use crate::projects::settings::stores::apple::key::{field_error, unescape};

const OFFERS: &str = "/projects/demo/offers";
const SIGN: &str = "/api/v1/projects/demo/offers/signature";
const NONCE: &str = "1b4e28ba-2fa1-41d2-883f-0016d3cca427";
const TOKEN_UUID: &str = "7e3fb20b-4cdb-47cc-936d-99d65f608138";

/// `ready()` with a key whose private part this test knows, so it can check signatures with the public part.
async fn ready_with_known_key(backend: Backend) -> Option<(Ready, IssuedKey)> {
    let r = ready(backend, SimConfig::default()).await?;
    let key = r.sim.issue_key();
    store_key(&r.app, &r.project, &key).await;
    Some((r, key))
}

macro_rules! with_key {
    ($name:ident, |$r:ident, $key:ident| $body:block) => {
        $crate::on_both_backends!($name, |backend| ready_with_known_key(backend), ($r, $key) => $body);
    };
}

fn verifying_key(key: &IssuedKey) -> p256::ecdsa::VerifyingKey {
    *p256::ecdsa::SigningKey::from_pkcs8_pem(&key.private_key_pem)
        .unwrap()
        .verifying_key()
}

/// Apple's rule for the original signature, written out independently of the app's code.
fn apple_message(
    bundle: &str,
    key_id: &str,
    product: &str,
    offer: &str,
    user: &str,
    nonce: &str,
    ts: i64,
) -> Vec<u8> {
    [bundle, key_id, product, offer, user, nonce, &ts.to_string()]
        .join("\u{2063}")
        .into_bytes()
}

/// Verifies the base64 DER signature with `ring`, an implementation other than the one that signed.
fn verifies(key: &IssuedKey, message: &[u8], signature_b64: &str) -> bool {
    let Ok(der) = STANDARD.decode(signature_b64) else {
        return false;
    };
    let point = verifying_key(key).to_encoded_point(false);
    ring::signature::UnparsedPublicKey::new(
        &ring::signature::ECDSA_P256_SHA256_ASN1,
        point.as_bytes(),
    )
    .verify(message, &der)
    .is_ok()
}

/// Verifies the JWS form with `jsonwebtoken` and returns its header and claims.
fn jws_claims(key: &IssuedKey, jws: &str) -> (jsonwebtoken::Header, serde_json::Value) {
    let pem = verifying_key(key)
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&["promotional-offer"]);
    validation.set_issuer(&[key.issuer_id.as_str()]);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<serde_json::Value>(
        jws,
        &jsonwebtoken::DecodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
        &validation,
    )
    .expect("the JWS verifies with the key's public key");
    (data.header, data.claims)
}

async fn cli_token(app: &TestApp, project: &str, scope: &str) -> String {
    storedesk::commands::add_api_token(&app.store, project, scope, None)
        .await
        .unwrap()
        .token
        .expose_secret()
        .to_string()
}

async fn post_json(app: &TestApp, path: &str, token: &str, body: &str) -> reqwest::Response {
    client()
        .post(app.url(path))
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

async fn offer_audits(app: &TestApp) -> Vec<storedesk::store::AuditEntry> {
    app.store
        .list_audit(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "offer.sign")
        .collect()
}

with_key!(a_json_body_sent_without_a_content_type_is_read, |r, key| {
    let token = cli_token(&r.app, "demo", "sign").await;
    let body = json!({
        "productIdentifier": "com.example.pro.monthly",
        "offerIdentifier": "WINBACK_50",
        "appAccountToken": TOKEN_UUID,
        "nonce": NONCE,
        "timestamp": 1_767_225_600_123_i64,
    });

    let response = client()
        .post(r.app.url(SIGN))
        .header("Authorization", format!("Bearer {token}"))
        .body(body.to_string())
        .send()
        .await
        .unwrap();

    assert_eq!(response.status().as_u16(), 200);
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(answer["keyIdentifier"], key.key_id.as_str());
});

with_key!(the_api_signs_both_forms_with_the_key_in_use, |r, key| {
    let token = cli_token(&r.app, "demo", "sign").await;
    let bundle = r.project.bundle_id.clone();
    let response = post_json(
        &r.app,
        SIGN,
        &token,
        &json!({
            "productIdentifier": "com.example.pro.monthly",
            "offerIdentifier": "WINBACK_50",
            "appAccountToken": TOKEN_UUID.to_uppercase(),
            "transactionId": "2000000123456789",
            "nonce": NONCE.to_uppercase(),
            "timestamp": 1_767_225_600_123_i64,
        })
        .to_string(),
    )
    .await;
    assert_eq!(response.status().as_u16(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    let signature = body["signature"].as_str().unwrap().to_string();
    let jws = body["compactJWS"].as_str().unwrap().to_string();
    assert_eq!(
        body,
        json!({
            "keyIdentifier": key.key_id,
            "productIdentifier": "com.example.pro.monthly",
            "offerIdentifier": "WINBACK_50",
            "applicationUsername": TOKEN_UUID,
            "nonce": NONCE,
            "timestamp": 1_767_225_600_123_i64,
            "signature": signature,
            "compactJWS": jws,
            "transactionId": "2000000123456789",
            "productName": null,
        })
    );
    let message = apple_message(
        &bundle,
        &key.key_id,
        "com.example.pro.monthly",
        "WINBACK_50",
        TOKEN_UUID,
        NONCE,
        1_767_225_600_123,
    );
    assert!(
        verifies(&key, &message, &signature),
        "the original signature verifies"
    );
    let upper = apple_message(
        &bundle,
        &key.key_id,
        "com.example.pro.monthly",
        "WINBACK_50",
        &TOKEN_UUID.to_uppercase(),
        &NONCE.to_uppercase(),
        1_767_225_600_123,
    );
    assert!(
        !verifies(&key, &upper, &signature),
        "UUIDs are signed in lower case"
    );
    let (header, claims) = jws_claims(&key, &jws);
    assert_eq!(header.kid.as_deref(), Some(key.key_id.as_str()));
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(
        claims,
        json!({
            "iss": key.issuer_id, "iat": 1_767_225_600, "aud": "promotional-offer", "bid": bundle,
            "nonce": NONCE, "productId": "com.example.pro.monthly", "offerIdentifier": "WINBACK_50",
            "transactionId": "2000000123456789",
        })
    );

    // Left out, the nonce and timestamp are made fresh; the timestamp may also come as a string.
    let before = storedesk::clock::now_ms();
    let made = post_json(
        &r.app,
        SIGN,
        &token,
        r#"{"productIdentifier": "com.example.pro.monthly", "offerIdentifier": "WINBACK_50"}"#,
    )
    .await;
    assert_eq!(made.status().as_u16(), 200);
    let made: serde_json::Value = made.json().await.unwrap();
    let nonce = made["nonce"].as_str().unwrap();
    let parsed = uuid::Uuid::parse_str(nonce).unwrap();
    assert_eq!(parsed.get_version_num(), 4);
    assert_eq!(nonce, nonce.to_lowercase());
    let ts = made["timestamp"].as_i64().unwrap();
    assert!(ts >= before && ts <= storedesk::clock::now_ms());
    assert_eq!(made["applicationUsername"], "");
    assert!(made.get("transactionId").is_none());
    let message = apple_message(
        &bundle,
        &key.key_id,
        "com.example.pro.monthly",
        "WINBACK_50",
        "",
        nonce,
        ts,
    );
    assert!(verifies(
        &key,
        &message,
        made["signature"].as_str().unwrap()
    ));
    let (_, claims) = jws_claims(&key, made["compactJWS"].as_str().unwrap());
    assert!(claims.get("transactionId").is_none() && claims.get("exp").is_none());

    let again = post_json(
        &r.app,
        SIGN,
        &token,
        r#"{"productIdentifier": "p1", "offerIdentifier": "o1", "applicationUsername": "User-Hash-42", "timestamp": "1767225600000"}"#,
    )
    .await;
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(again["timestamp"], 1_767_225_600_000_i64);
    let message = apple_message(
        &bundle,
        &key.key_id,
        "p1",
        "o1",
        "user-hash-42",
        again["nonce"].as_str().unwrap(),
        1_767_225_600_000,
    );
    assert!(verifies(
        &key,
        &message,
        again["signature"].as_str().unwrap()
    ));

    let audits = offer_audits(&r.app).await;
    assert_eq!(audits.len(), 3);
    let first = audits.last().unwrap();
    assert_eq!(first.target, "com.example.pro.monthly / WINBACK_50");
    assert!(
        first
            .user_email
            .starts_with("API token “sign token from the command line” (sd_"),
        "{}",
        first.user_email
    );
    assert_eq!(
        first.detail,
        format!("key {}; nonce {NONCE}; timestamp 1767225600123; for {TOKEN_UUID}; transaction 2000000123456789", key.key_id)
    );
});

with_key!(a_read_token_cannot_sign, |r, key| {
    let _ = key;
    let read = cli_token(&r.app, "demo", "read").await;
    let response = post_json(
        &r.app,
        SIGN,
        &read,
        r#"{"productIdentifier": "p1", "offerIdentifier": "o1"}"#,
    )
    .await;
    assert_eq!(
        response.headers().get("www-authenticate").unwrap(),
        "Bearer realm=\"storedesk\", error=\"insufficient_scope\", scope=\"sign\""
    );
    assert_json_error(
        response,
        403,
        "insufficient_scope",
        "This endpoint needs an API token with the sign scope; this token has the read scope. Create a sign token under /admin/api-tokens.",
    )
    .await;
    // Nor can a sign token of another project.
    let admin = &r.admin;
    assert_eq!(create_project(admin, "other").await.status().as_u16(), 303);
    let other = cli_token(&r.app, "other", "sign").await;
    assert_json_error(
        post_json(
            &r.app,
            SIGN,
            &other,
            r#"{"productIdentifier": "p1", "offerIdentifier": "o1"}"#,
        )
        .await,
        403,
        "forbidden",
        "This API token belongs to the project “other” and cannot be used for “demo”.",
    )
    .await;
    assert!(offer_audits(&r.app).await.is_empty(), "nothing signed");
});

with_key!(bad_requests_get_sentences_per_field, |r, key| {
    let _ = key;
    let token = cli_token(&r.app, "demo", "sign").await;
    let response = post_json(
        &r.app,
        SIGN,
        &token,
        &json!({
            "productIdentifier": "",
            "offerIdentifier": "WIN\u{2063}BACK",
            "appAccountToken": "customer-42",
            "nonce": "abc",
            "timestamp": 1_767_225_600,
        })
        .to_string(),
    )
    .await;
    assert_eq!(response.status().as_u16(), 422);
    let id = response
        .headers()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let body: serde_json::Value = response.json().await.unwrap();
    let fields = json!({
        "appAccountToken": storedesk::offers::APP_ACCOUNT_TOKEN_BAD,
        "nonce": storedesk::offers::NONCE_BAD,
        "offerIdentifier": "The offer identifier may contain only letters, digits, periods, underscores and hyphens, as in App Store Connect.",
        "productIdentifier": storedesk::offers::PRODUCT_EMPTY,
        "timestamp": storedesk::offers::TIMESTAMP_SECONDS,
    });
    let message = [
        storedesk::offers::APP_ACCOUNT_TOKEN_BAD,
        storedesk::offers::NONCE_BAD,
        "The offer identifier may contain only letters, digits, periods, underscores and hyphens, as in App Store Connect.",
        storedesk::offers::PRODUCT_EMPTY,
        storedesk::offers::TIMESTAMP_SECONDS,
    ]
    .join(" ");
    assert_eq!(
        body,
        json!({"error": {"code": "invalid_request", "message": message, "fields": fields, "request_id": id}})
    );
    let not_a_number = post_json(
        &r.app,
        SIGN,
        &token,
        r#"{"productIdentifier": "p1", "offerIdentifier": "o1", "timestamp": true}"#,
    )
    .await;
    assert_eq!(not_a_number.status().as_u16(), 422);
    let not_a_number: serde_json::Value = not_a_number.json().await.unwrap();
    assert_eq!(
        not_a_number["error"]["fields"],
        json!({"timestamp": storedesk::offers::TIMESTAMP_BAD})
    );
    let both = post_json(
        &r.app,
        SIGN,
        &token,
        &json!({"productIdentifier": "p1", "offerIdentifier": "o1", "appAccountToken": TOKEN_UUID, "applicationUsername": "x"})
            .to_string(),
    )
    .await;
    assert_eq!(both.status().as_u16(), 422);
    let both: serde_json::Value = both.json().await.unwrap();
    assert_eq!(
        both["error"]["fields"],
        json!({"applicationUsername": storedesk::offers::BOTH_USERNAMES})
    );

    assert_json_error(
        post_json(&r.app, SIGN, &token, "{not json").await,
        400,
        "bad_request",
        "The request body is not valid JSON. Send an object such as {\"productIdentifier\": \"…\"}.",
    )
    .await;
    let unknown = post_json(&r.app, SIGN, &token, r#"{"productId": "p1"}"#).await;
    assert_eq!(unknown.status().as_u16(), 400);
    let unknown: serde_json::Value = unknown.json().await.unwrap();
    let message = unknown["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("The request body does not have the fields this endpoint expects: unknown field `productId`"),
        "{message}"
    );
    assert!(offer_audits(&r.app).await.is_empty(), "nothing signed");
});

both_backends!(a_project_without_a_key_gets_a_409_sentence, |app| {
    let admin = app.session(Role::Admin).await;
    create_project(&admin, "demo").await;
    let token = cli_token(&app, "demo", "sign").await;
    assert_json_error(
        post_json(&app, SIGN, &token, r#"{"productIdentifier": "p1", "offerIdentifier": "o1"}"#).await,
        409,
        "no_key",
        "The project “demo” has no In-App Purchase key in use, so nothing can be signed. Add the key under App Store settings first.",
    )
    .await;
    let page = admin.get_text(OFFERS).await;
    assert!(unescape(&page)
        .contains("This project has no In-App Purchase key in use, so nothing can be signed yet."));
    let r = admin
        .post_form(OFFERS, OFFERS, &[("product_id", "p1"), ("offer_id", "o1")])
        .await;
    assert_eq!(r.status().as_u16(), 422);
    assert!(unescape(&r.text().await.unwrap()).contains(
        "<p class=\"form-error\" role=\"alert\">The project “demo” has no In-App Purchase key in use, so nothing can be signed. Add the key under App Store settings first.</p>"
    ));
    assert!(offer_audits(&app).await.is_empty());
});

/// The text of the `<code … id="{id}">` on the result page.
fn shown(html: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\">");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no #{id}")) + marker.len();
    let end = html[start..].find('<').unwrap() + start;
    unescape(&html[start..end])
}

with_key!(
    the_page_signs_and_shows_each_value_with_a_copy_button,
    |r, key| {
        let lead = r.app.session(Role::Lead).await;
        let page = lead.get_text(OFFERS).await;
        assert!(page.contains(&key.key_id), "names the key that signs");
        let response = lead
            .post_form(
                OFFERS,
                OFFERS,
                &[
                    ("product_id", " com.example.pro.monthly "),
                    ("offer_id", "WINBACK_50"),
                    ("app_account_token", TOKEN_UUID),
                    ("transaction_id", ""),
                    ("nonce", NONCE),
                    ("timestamp", "1767225600123"),
                ],
            )
            .await;
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(response.headers().get("cache-control").unwrap(), "no-store");
        let html = response.text().await.unwrap();
        for id in [
            "offer-key-id",
            "offer-nonce",
            "offer-timestamp",
            "offer-signature",
            "offer-jws",
        ] {
            assert!(
                html.contains(&format!("data-copy=\"{id}\"")),
                "copy button for {id}"
            );
        }
        assert_eq!(shown(&html, "offer-key-id"), key.key_id);
        assert_eq!(shown(&html, "offer-nonce"), NONCE);
        assert_eq!(shown(&html, "offer-timestamp"), "1767225600123");
        let message = apple_message(
            &r.project.bundle_id,
            &key.key_id,
            "com.example.pro.monthly",
            "WINBACK_50",
            TOKEN_UUID,
            NONCE,
            1_767_225_600_123,
        );
        assert!(verifies(&key, &message, &shown(&html, "offer-signature")));
        let (_, claims) = jws_claims(&key, &shown(&html, "offer-jws"));
        assert_eq!(claims["offerIdentifier"], "WINBACK_50");
        let audits = offer_audits(&r.app).await;
        assert_eq!(audits.len(), 1);
        assert_eq!(audits[0].user_email, "lead@example.com");
    }
);

with_key!(the_page_ties_each_bad_value_to_its_field, |r, key| {
    let _ = key;
    let response = r
        .admin
        .post_form(
            OFFERS,
            OFFERS,
            &[
                ("product_id", ""),
                ("offer_id", "has space"),
                ("app_account_token", "not-a-uuid"),
                ("transaction_id", "12ab"),
                ("nonce", "xyz"),
                ("timestamp", "yesterday"),
            ],
        )
        .await;
    assert_eq!(response.status().as_u16(), 422);
    let html = response.text().await.unwrap();
    assert_eq!(
        field_error(&html, "product_id").as_deref(),
        Some(storedesk::offers::PRODUCT_EMPTY)
    );
    assert_eq!(
        field_error(&html, "offer_id").as_deref(),
        Some("The offer identifier may contain only letters, digits, periods, underscores and hyphens, as in App Store Connect.")
    );
    assert_eq!(
        field_error(&html, "app_account_token").as_deref(),
        Some(storedesk::offers::APP_ACCOUNT_TOKEN_BAD)
    );
    assert_eq!(
        field_error(&html, "transaction_id").as_deref(),
        Some(storedesk::offers::TRANSACTION_ID_BAD)
    );
    assert_eq!(
        field_error(&html, "nonce").as_deref(),
        Some(storedesk::offers::NONCE_BAD)
    );
    assert_eq!(
        field_error(&html, "timestamp").as_deref(),
        Some(storedesk::offers::TIMESTAMP_BAD)
    );
    assert!(html.contains("aria-describedby=\"nonce-help nonce-error\""));
    assert!(
        html.contains("value=\"has space\""),
        "what was typed stays in the form"
    );
    assert!(!html.contains("id=\"offer-signature\""));
    assert!(offer_audits(&r.app).await.is_empty(), "nothing signed");
});

both_backends!(the_token_page_offers_a_sign_token_that_signs, |app| {
    let admin = app.session(Role::Admin).await;
    create_project(&admin, "demo").await;
    let r = admin
        .post_form(
            TOKENS,
            TOKENS,
            &[("name", "backend"), ("project", "demo"), ("scope", "sign")],
        )
        .await;
    let token = shown_token(&r.text().await.unwrap());
    // No key in this project: the token is accepted, the project is not ready.
    let answer = post_json(
        &app,
        SIGN,
        &token,
        r#"{"productIdentifier": "p1", "offerIdentifier": "o1"}"#,
    )
    .await;
    assert_eq!(answer.status().as_u16(), 409);
});
