//! Decoded payloads (API digest §8) built from the simulator's state; `jws::Signer` turns them into JWS.

use serde_json::{json, Map, Value};

use super::data::{Customer, Data, Subscription, Transaction};
use super::SimEnvironment;

/// The app every signed payload belongs to.
#[derive(Debug, Clone)]
pub(crate) struct AppInfo {
    pub bundle_id: String,
    pub app_apple_id: i64,
    pub bundle_version: String,
}

fn put(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        map.insert(key.to_owned(), v);
    }
}

pub(crate) fn transaction(
    data: &Data,
    tx: &Transaction,
    app: &AppInfo,
    env: SimEnvironment,
    signed_date_ms: i64,
) -> Value {
    let customer = data.customers.get(tx.customer);
    let mut m = Map::new();
    m.insert("transactionId".into(), json!(tx.transaction_id));
    m.insert(
        "originalTransactionId".into(),
        json!(tx.original_transaction_id),
    );
    put(
        &mut m,
        "webOrderLineItemId",
        tx.web_order_line_item_id.as_ref().map(|v| json!(v)),
    );
    m.insert("bundleId".into(), json!(app.bundle_id));
    m.insert("productId".into(), json!(tx.product_id));
    put(
        &mut m,
        "subscriptionGroupIdentifier",
        tx.group.map(|g| json!(g)),
    );
    m.insert("purchaseDate".into(), json!(tx.purchase_date_ms));
    m.insert(
        "originalPurchaseDate".into(),
        json!(tx.original_purchase_date_ms),
    );
    put(&mut m, "expiresDate", tx.expires_date_ms.map(|v| json!(v)));
    m.insert("quantity".into(), json!(tx.quantity));
    m.insert("type".into(), json!(tx.kind.payload_name()));
    put(
        &mut m,
        "appAccountToken",
        tx.app_account_token.as_ref().map(|v| json!(v)),
    );
    m.insert(
        "inAppOwnershipType".into(),
        json!(if tx.family_shared {
            "FAMILY_SHARED"
        } else {
            "PURCHASED"
        }),
    );
    m.insert("signedDate".into(), json!(signed_date_ms));
    if let Some(r) = &tx.revocation {
        m.insert("revocationReason".into(), json!(r.reason));
        m.insert("revocationDate".into(), json!(r.date_ms));
        m.insert("revocationType".into(), json!(r.kind));
        put(
            &mut m,
            "revocationPercentage",
            r.percentage.map(|v| json!(v)),
        );
    }
    if tx.group.is_some() {
        m.insert("isUpgraded".into(), json!(tx.is_upgraded));
    }
    if let Some(o) = &tx.offer {
        m.insert("offerType".into(), json!(o.offer_type));
        put(&mut m, "offerIdentifier", o.identifier.map(|v| json!(v)));
        put(
            &mut m,
            "offerDiscountType",
            o.discount_type.map(|v| json!(v)),
        );
        put(&mut m, "offerPeriod", o.period.map(|v| json!(v)));
    }
    m.insert("environment".into(), json!(env.as_str()));
    if let Some(c) = customer {
        m.insert("storefront".into(), json!(c.storefront.country));
        m.insert("storefrontId".into(), json!(c.storefront.id));
        put(
            &mut m,
            "appTransactionId",
            c.app_transaction_id.as_ref().map(|v| json!(v)),
        );
    }
    m.insert(
        "transactionReason".into(),
        json!(if tx.renewal { "RENEWAL" } else { "PURCHASE" }),
    );
    m.insert("currency".into(), json!(tx.currency));
    m.insert("price".into(), json!(tx.price));
    Value::Object(m)
}

pub(crate) fn renewal(
    data: &Data,
    sub: &Subscription,
    env: SimEnvironment,
    signed_date_ms: i64,
) -> Value {
    let latest = data.latest_of(&sub.original_transaction_id);
    let customer = data.customers.get(sub.customer);
    let mut m = Map::new();
    m.insert(
        "originalTransactionId".into(),
        json!(sub.original_transaction_id),
    );
    m.insert(
        "autoRenewProductId".into(),
        json!(sub.auto_renew_product_id),
    );
    put(&mut m, "productId", latest.map(|t| json!(t.product_id)));
    m.insert("autoRenewStatus".into(), json!(sub.auto_renew_status));
    put(
        &mut m,
        "expirationIntent",
        sub.expiration_intent.map(|v| json!(v)),
    );
    put(
        &mut m,
        "isInBillingRetryPeriod",
        sub.is_in_billing_retry_period.map(|v| json!(v)),
    );
    put(
        &mut m,
        "priceIncreaseStatus",
        sub.price_increase_status.map(|v| json!(v)),
    );
    put(
        &mut m,
        "gracePeriodExpiresDate",
        sub.grace_period_expires_ms.map(|v| json!(v)),
    );
    m.insert("signedDate".into(), json!(signed_date_ms));
    m.insert("environment".into(), json!(env.as_str()));
    m.insert(
        "recentSubscriptionStartDate".into(),
        json!(sub.recent_subscription_start_ms),
    );
    // Apple only states a renewal date while the subscription can still renew.
    if sub.status != 2 && sub.status != 5 {
        put(
            &mut m,
            "renewalDate",
            latest.and_then(|t| t.expires_date_ms).map(|v| json!(v)),
        );
    }
    if let Some(t) = latest {
        m.insert("currency".into(), json!(t.currency));
        let price = sub.renewal_price.or_else(|| {
            data.product(sub.auto_renew_product_id)
                .map(|p| p.price(t.currency))
        });
        put(&mut m, "renewalPrice", price.map(|v| json!(v)));
        put(
            &mut m,
            "appAccountToken",
            t.app_account_token.as_ref().map(|v| json!(v)),
        );
    }
    if sub.status == 2 && sub.expiration_intent == Some(1) {
        m.insert(
            "eligibleWinBackOfferIds".into(),
            json!(["winback.pro.50off"]),
        );
    }
    put(
        &mut m,
        "appTransactionId",
        customer
            .and_then(|c| c.app_transaction_id.as_ref())
            .map(|v| json!(v)),
    );
    Value::Object(m)
}

pub(crate) fn app_transaction(
    customer: &Customer,
    app: &AppInfo,
    env: SimEnvironment,
    now_ms: i64,
) -> Value {
    json!({
        "receiptType": env.as_str(),
        "appAppleId": app.app_apple_id,
        "bundleId": app.bundle_id,
        "applicationVersion": app.bundle_version,
        "versionExternalIdentifier": 871_234_567_i64,
        "receiptCreationDate": now_ms,
        "originalPurchaseDate": customer.first_install_ms,
        "originalApplicationVersion": "1",
        "deviceVerification": "cYUsXc53EbYc0pOeXG5d6/31LGHeVGf84sqSN0OrJi5u/j2H89WWKgS8N0hMsMlf",
        "deviceVerificationNonce": "48c8b92d-ce0d-4229-bedf-e61b4f9cfc92",
        "appTransactionId": customer.app_transaction_id,
        "originalPlatform": "iOS",
    })
}
