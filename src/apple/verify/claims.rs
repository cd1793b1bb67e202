//! The identity checks on a verified payload: the bundle id, the App Apple ID and the environment it must
//! belong to, and where a notification keeps them.

use app_store_server_library::models::app_store_environment::Environment as LibEnvironment;
use app_store_server_library::models::response_body_v2_decoded_payload::ResponseBodyV2DecodedPayload;

use super::VerifyError;
use crate::apple::{lib_env_str, Environment};

/// Whether two payloads hold the same claims apart from `signedDate` (keys are compared by name, values exactly).
/// The index's write has a cheaper rule on stored text (`store::transactions`), where a wrong "different" only
/// costs a rewrite; this one decides what is shown unchecked, so it compares parsed values.
pub(super) fn same_claims_apart_from_signed_date(
    a: &serde_json::Map<String, serde_json::Value>,
    b: &serde_json::Map<String, serde_json::Value>,
) -> bool {
    let others = |m: &serde_json::Map<String, serde_json::Value>| {
        m.len() - usize::from(m.contains_key("signedDate"))
    };
    others(a) == others(b)
        && a.iter()
            .filter(|(k, _)| *k != "signedDate")
            .all(|(k, v)| b.get(k) == Some(v))
}

pub(super) fn check_bundle(expected: &str, got: Option<&str>) -> Result<(), VerifyError> {
    if got == Some(expected) {
        Ok(())
    } else {
        Err(VerifyError::WrongBundleId {
            expected: expected.to_owned(),
            got: got.map(str::to_owned),
        })
    }
}

pub(super) fn check_app_apple_id(
    expected: Option<i64>,
    got: Option<i64>,
) -> Result<(), VerifyError> {
    let expected = expected.ok_or(VerifyError::AppAppleIdNotConfigured)?;
    if got == Some(expected) {
        Ok(())
    } else {
        Err(VerifyError::WrongAppAppleId { expected, got })
    }
}

pub(super) fn check_environment(
    expected: Environment,
    got: Option<&LibEnvironment>,
) -> Result<(), VerifyError> {
    if got.and_then(Environment::from_lib) == Some(expected) {
        Ok(())
    } else {
        Err(VerifyError::WrongEnvironment {
            expected: expected.as_str().to_owned(),
            got: got
                .map(|e| lib_env_str(e).to_owned())
                .unwrap_or_else(|| "(none)".into()),
        })
    }
}

pub(super) struct NotificationIdentity<'a> {
    pub(super) bundle_id: Option<&'a str>,
    pub(super) app_apple_id: Option<i64>,
    pub(super) environment: Option<LibEnvironment>,
}

/// Apple puts the app's identity in exactly one of four objects, depending on the notification type.
pub(super) fn notification_identity(p: &ResponseBodyV2DecodedPayload) -> NotificationIdentity<'_> {
    if let Some(d) = &p.data {
        NotificationIdentity {
            bundle_id: d.bundle_id.as_deref(),
            app_apple_id: d.app_apple_id,
            environment: d.environment.clone(),
        }
    } else if let Some(s) = &p.summary {
        NotificationIdentity {
            bundle_id: s.bundle_id.as_deref(),
            app_apple_id: s.app_apple_id,
            environment: s.environment.clone(),
        }
    } else if let Some(t) = &p.external_purchase_token {
        // This object has no environment field; Apple prefixes sandbox purchase ids instead.
        let sandbox = t
            .external_purchase_id
            .as_deref()
            .is_some_and(|id| id.starts_with("SANDBOX"));
        NotificationIdentity {
            bundle_id: t.bundle_id.as_deref(),
            app_apple_id: t.app_apple_id,
            environment: Some(if sandbox {
                LibEnvironment::Sandbox
            } else {
                LibEnvironment::Production
            }),
        }
    } else if let Some(a) = &p.app_data {
        NotificationIdentity {
            bundle_id: a.bundle_id.as_deref(),
            app_apple_id: a.app_apple_id,
            environment: a.environment.clone(),
        }
    } else {
        NotificationIdentity {
            bundle_id: None,
            app_apple_id: None,
            environment: None,
        }
    }
}
