//! Target `webhook`: the notification webhook's body as `POST /apple/notifications/{token}` takes it, after the
//! size check: `parse_body` (the JSON `{"signedPayload": …}`, the copy kept for forwarding) and then
//! `notifications::prepare`, everything the route does before the store (the notification's JWS, the nested
//! transaction and renewal info, the row and the transaction index). The first byte chooses (its lowest bit):
//!
//! - even: the rest is the body;
//! - odd: the rest is a notification payload; the harness signs each of `data.signedTransactionInfo` and
//!   `data.signedRenewalInfo` that is a JSON object, then the whole, with the test chain and sends it in
//!   Apple's body, so that the fuzzer reaches what follows a good signature.
use serde_json::Value;
use storedesk::notifications::{prepare, Source};
use storedesk::routes::apple::notifications::{parse_body, WebhookBody, BODY_LIMIT};
use storedesk::store::Project;

use super::jws::{APP_APPLE_ID, BUNDLE_ID};
use super::mode_and_rest;
use super::pki::{sign_payload, verifier};

pub fn run(data: &[u8]) {
    let (mode, rest) = mode_and_rest(data);
    let body = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        signed_body(rest)
    };
    // Larger bodies are answered 413 before they are parsed.
    if body.len() > BODY_LIMIT {
        return;
    }
    let Some(WebhookBody {
        signed_payload,
        raw_body,
    }) = parse_body(&body)
    else {
        return;
    };
    assert!(!signed_payload.trim().is_empty());
    match &raw_body {
        // Kept for forwarding: the body exactly as it came (JSON that parsed is UTF-8).
        Some(raw) => assert_eq!(raw.as_bytes(), &body[..]),
        None => assert_eq!(
            body,
            serde_json::json!({ "signedPayload": signed_payload })
                .to_string()
                .into_bytes()
        ),
    }
    match prepare(verifier(), &project(), &signed_payload, Source::Webhook) {
        Ok((row, n)) => {
            assert_eq!(row.notification_uuid, n.notification_uuid);
            assert_eq!(row.signed_payload, signed_payload.trim());
            assert!(serde_json::from_str::<Value>(&row.payload).is_ok());
        }
        Err(e) => {
            assert!(!e.is_ours(), "a refusal blamed on storedesk: {e}");
            assert!(!e.to_string().is_empty());
        }
    }
}

fn project() -> Project {
    Project {
        id: 1,
        slug: "demo".into(),
        name: "Demo".into(),
        bundle_id: BUNDLE_ID.into(),
        app_apple_id: Some(APP_APPLE_ID),
        environment: "Sandbox".into(),
        created_at: 0,
        updated_at: 0,
    }
}

/// Apple's body around a notification the harness signs (and its nested payloads, when they are objects).
fn signed_body(payload: &[u8]) -> Vec<u8> {
    let jws = match serde_json::from_slice::<Value>(payload) {
        Ok(mut notification) => {
            if let Some(Value::Object(data)) = notification.get_mut("data") {
                for field in ["signedTransactionInfo", "signedRenewalInfo"] {
                    if let Some(nested @ Value::Object(_)) = data.get_mut(field) {
                        *nested = Value::String(sign_payload(nested.to_string().as_bytes()));
                    }
                }
            }
            sign_payload(notification.to_string().as_bytes())
        }
        Err(_) => sign_payload(payload),
    };
    serde_json::json!({ "signedPayload": jws })
        .to_string()
        .into_bytes()
}
