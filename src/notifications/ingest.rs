//! Verify, decode, store: the one path by which a notification enters the database.
use serde_json::Value;

use crate::apple::{AppIdentity, Environment, SignedDataVerifier, VerifyError};
use crate::store::notifications::{Inserted, NewNotification};
use crate::store::{Project, Store, StoreError};

/// Where a notification came from; shown on its detail page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Webhook,
    Backfill,
    Recovered,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Webhook => "webhook",
            Source::Backfill => "backfill",
            Source::Recovered => "recovered",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The payload is not Apple's, not this app's, or not well-formed: Apple retrying can't fix it.
    #[error("{0}")]
    Rejected(#[from] VerifyError),
    #[error("The notification has no {0}.")]
    MissingField(&'static str),
    /// Ours: the notification may be fine, so the sender should retry.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IngestError {
    /// A short, stable reason for logs and metrics labels.
    pub fn reason(&self) -> &'static str {
        match self {
            IngestError::Rejected(e) => e.code(),
            IngestError::MissingField(_) => "MISSING_FIELD",
            IngestError::Store(_) => "STORE_FAILURE",
        }
    }

    pub fn is_ours(&self) -> bool {
        matches!(self, IngestError::Store(_))
    }
}

/// A notification whose JWS and nested JWS all verified, with the fields pages filter on.
#[derive(Debug, Clone)]
pub struct VerifiedNotification {
    pub environment: Environment,
    pub notification_uuid: String,
    pub notification_type: String,
    pub subtype: Option<String>,
    pub signed_date: i64,
    pub notification: Value,
    pub transaction: Option<
        crate::apple::Verified<
            crate::apple::models::jws_transaction_decoded_payload::JWSTransactionDecodedPayload,
        >,
    >,
    pub renewal_info: Option<Value>,
    /// RESCIND_CONSENT's `appData.signedAppTransactionInfo`, verified and decoded.
    pub app_transaction: Option<Value>,
}

impl VerifiedNotification {
    pub fn transaction_raw(&self) -> Option<&Value> {
        self.transaction.as_ref().map(|t| &t.raw)
    }

    fn transaction_str(&self, field: &str) -> Option<String> {
        self.transaction_raw()?
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    /// The stored JSON text (see `payload_json`), written straight from the parsed documents.
    pub fn payload_string(&self) -> String {
        serde_json::to_string(&self.stored()).unwrap_or_default()
    }

    /// The stored JSON: `{"notification", "transaction", "renewalInfo"}` (and `"appTransaction"` when the
    /// notification carries one), each as Apple signed it (unknown fields kept), except that the notification's
    /// `data` and `appData` leave out the nested JWS that were verified and decoded into `transaction`,
    /// `renewalInfo` and `appTransaction`: they would double the row, and the verbatim original is in
    /// `signed_payload`.
    pub fn payload_json(&self) -> Value {
        serde_json::to_value(self.stored()).unwrap_or(Value::Null)
    }

    fn stored(&self) -> Stored<'_> {
        Stored {
            notification: WithoutNestedJws(&self.notification),
            transaction: self.transaction_raw(),
            renewal_info: self.renewal_info.as_ref(),
            app_transaction: self.app_transaction.as_ref(),
        }
    }
}

#[derive(serde::Serialize)]
struct Stored<'a> {
    notification: WithoutNestedJws<'a>,
    transaction: Option<&'a Value>,
    #[serde(rename = "renewalInfo")]
    renewal_info: Option<&'a Value>,
    #[serde(rename = "appTransaction", skip_serializing_if = "Option::is_none")]
    app_transaction: Option<&'a Value>,
}

/// The nested JWS `ingest` verifies and stores decoded.
const NESTED_JWS: [&str; 3] = [
    "signedTransactionInfo",
    "signedRenewalInfo",
    "signedAppTransactionInfo",
];

/// Serializes a notification without the nested JWS of `data` (`signedTransactionInfo`, `signedRenewalInfo`) and
/// `appData` (`signedAppTransactionInfo`), without copying it.
struct WithoutNestedJws<'a>(&'a Value);

impl serde::Serialize for WithoutNestedJws<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let Value::Object(top) = self.0 else {
            return self.0.serialize(serializer);
        };
        let mut map = serializer.serialize_map(Some(top.len()))?;
        for (key, value) in top {
            match (key.as_str(), value) {
                ("data" | "appData", Value::Object(data)) => {
                    map.serialize_entry(key, &DataWithout(data))?;
                }
                _ => map.serialize_entry(key, value)?,
            }
        }
        map.end()
    }
}

struct DataWithout<'a>(&'a serde_json::Map<String, Value>);

impl serde::Serialize for DataWithout<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in self.0 {
            if !NESTED_JWS.contains(&key.as_str()) {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

/// Checks the notification's JWS and then each nested JWS against the environment the notification names. A
/// nested JWS under the notification's own header is covered by its signature and not checked again (see
/// `apple::verify::Envelope` and docs/decisions.md).
/// One project takes both environments (App Review uses Sandbox against the production build).
pub fn verify_notification(
    verifier: &SignedDataVerifier,
    project: &Project,
    signed_payload: &str,
) -> Result<VerifiedNotification, IngestError> {
    let (verified, environment, envelope) = verifier.verify_notification_any_env(
        signed_payload,
        &project.bundle_id,
        project.app_apple_id,
    )?;
    let raw = verified.raw;
    let text = |field: &str| raw.get(field).and_then(Value::as_str).map(str::to_owned);
    let notification_uuid =
        text("notificationUUID").ok_or(IngestError::MissingField("notificationUUID"))?;
    let notification_type =
        text("notificationType").ok_or(IngestError::MissingField("notificationType"))?;
    let subtype = text("subtype");
    // Apple sends integers; a float is accepted the way the payload models accept it.
    let signed_date = raw
        .get("signedDate")
        .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
        .ok_or(IngestError::MissingField("signedDate"))?;
    let identity = AppIdentity {
        bundle_id: project.bundle_id.clone(),
        app_apple_id: project.app_apple_id,
        environment,
    };
    let data = raw.get("data");
    let nested = |field: &str| data.and_then(|d| d.get(field)).and_then(Value::as_str);
    let transaction = match nested("signedTransactionInfo") {
        Some(jws) => Some(verifier.verify_enclosed_transaction(jws, &identity, envelope)?),
        None => None,
    };
    let renewal_info = match nested("signedRenewalInfo") {
        Some(jws) => Some(
            verifier
                .verify_enclosed_renewal_info(jws, &identity, envelope)?
                .raw,
        ),
        None => None,
    };
    // RESCIND_CONSENT carries the app transaction, signed like the rest and checked the same way.
    let app_transaction = match raw
        .get("appData")
        .and_then(|a| a.get("signedAppTransactionInfo"))
        .and_then(Value::as_str)
    {
        Some(jws) => Some(
            verifier
                .verify_enclosed_app_transaction(jws, &identity, envelope)?
                .raw,
        ),
        None => None,
    };
    Ok(VerifiedNotification {
        environment,
        notification_uuid,
        notification_type,
        subtype,
        signed_date,
        notification: raw,
        transaction,
        renewal_info,
        app_transaction,
    })
}

/// Verifies a notification and turns it into the row to store, without touching the database: CPU work only,
/// so callers can run it off the async workers (the webhook uses a dedicated pool).
pub fn prepare(
    verifier: &SignedDataVerifier,
    project: &Project,
    signed_payload: &str,
    source: Source,
) -> Result<(NewNotification, VerifiedNotification), IngestError> {
    let n = verify_notification(verifier, project, signed_payload)?;
    let row = NewNotification {
        project_id: project.id,
        notification_uuid: n.notification_uuid.clone(),
        notification_type: n.notification_type.clone(),
        subtype: n.subtype.clone(),
        environment: n.environment.as_str().to_owned(),
        signed_date: n.signed_date,
        transaction_id: n.transaction_str("transactionId"),
        original_transaction_id: n.transaction_str("originalTransactionId"),
        product_id: n.transaction_str("productId"),
        source: source.as_str().to_owned(),
        received_at: crate::clock::now_ms(),
        signed_payload: signed_payload.trim().to_owned(),
        payload: n.payload_string(),
        raw_body: None,
        forward: true,
        index: None,
    };
    let jws = n
        .notification
        .get("data")
        .and_then(|d| d.get("signedTransactionInfo"))
        .and_then(Value::as_str);
    let index = match (jws, n.transaction_raw()) {
        (Some(jws), Some(decoded)) => Some(crate::store::transactions::index_row(
            project.id,
            n.environment,
            "notification",
            jws,
            decoded,
            row.received_at,
        )),
        _ => None,
    };
    Ok((NewNotification { index, ..row }, n))
}

/// Verifies and stores one notification; a second delivery of the same notificationUUID is not a second row.
/// A new one is queued for the project's forwarding destinations.
pub async fn ingest(
    store: &Store,
    verifier: &SignedDataVerifier,
    project: &Project,
    signed_payload: &str,
    source: Source,
) -> Result<(Inserted, VerifiedNotification), IngestError> {
    ingest_forwarding(store, verifier, project, signed_payload, source, true).await
}

/// [`ingest`], queueing a new notification for the project's forwarding destinations only when `forward` (a
/// backfill's form may say not to).
pub async fn ingest_forwarding(
    store: &Store,
    verifier: &SignedDataVerifier,
    project: &Project,
    signed_payload: &str,
    source: Source,
    forward: bool,
) -> Result<(Inserted, VerifiedNotification), IngestError> {
    let (mut row, n) = prepare(verifier, project, signed_payload, source)?;
    row.forward = forward;
    let inserted = store.insert_notification(&row).await?;
    Ok((inserted, n))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn verified(notification: Value) -> VerifiedNotification {
        VerifiedNotification {
            environment: Environment::Sandbox,
            notification_uuid: "u".into(),
            notification_type: "DID_RENEW".into(),
            subtype: None,
            signed_date: 1,
            notification,
            transaction: None,
            renewal_info: Some(json!({"autoRenewStatus": 1})),
            app_transaction: None,
        }
    }

    #[test]
    fn the_app_transaction_is_stored_decoded_without_its_jws() {
        let mut n = verified(json!({
            "notificationType": "RESCIND_CONSENT",
            "appData": {"bundleId": "b", "signedAppTransactionInfo": "a.b.c"},
        }));
        n.renewal_info = None;
        n.app_transaction = Some(json!({"appTransactionId": "704"}));
        assert_eq!(
            n.payload_json(),
            json!({
                "notification": {"notificationType": "RESCIND_CONSENT", "appData": {"bundleId": "b"}},
                "transaction": null,
                "renewalInfo": null,
                "appTransaction": {"appTransactionId": "704"},
            })
        );
    }

    #[test]
    fn the_stored_json_leaves_out_only_the_nested_jws_it_decoded() {
        let n = verified(json!({
            "notificationType": "DID_RENEW",
            "data": {
                "bundleId": "b", "status": 1, "x": [1, "é\""],
                "signedTransactionInfo": "a.b.c", "signedRenewalInfo": "d.e.f",
            },
            "version": "2.0",
        }));
        assert_eq!(
            n.payload_json(),
            json!({
                "notification": {
                    "notificationType": "DID_RENEW",
                    "data": {"bundleId": "b", "status": 1, "x": [1, "é\""]},
                    "version": "2.0",
                },
                "transaction": null,
                "renewalInfo": {"autoRenewStatus": 1},
            })
        );
        let text: Value = serde_json::from_str(&n.payload_string()).unwrap();
        assert_eq!(text, n.payload_json());
        // The original keeps them.
        assert_eq!(n.notification["data"]["signedTransactionInfo"], "a.b.c");
        // Other shapes pass through unchanged.
        let summary = json!({"summary": {"signedTransactionInfo": "kept"}});
        assert_eq!(
            verified(summary.clone()).payload_json()["notification"],
            summary
        );
    }
}
