//! The simulated App Store's state: customers, products, transactions, subscriptions, orders, notifications.
//! Production and Sandbox share it; only the `environment` written into signed data differs.

use std::collections::{BTreeMap, HashMap};

use super::SimEnvironment;

pub(crate) const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProductKind {
    AutoRenewable,
    NonRenewing,
    Consumable,
    NonConsumable,
}

impl ProductKind {
    /// The `type` field of a signed transaction.
    pub(crate) fn payload_name(self) -> &'static str {
        match self {
            Self::AutoRenewable => "Auto-Renewable Subscription",
            Self::NonRenewing => "Non-Renewing Subscription",
            Self::Consumable => "Consumable",
            Self::NonConsumable => "Non-Consumable",
        }
    }

    /// The spelling the history `productType` filter uses.
    pub(crate) fn from_filter(s: &str) -> Option<Self> {
        match s {
            "AUTO_RENEWABLE" => Some(Self::AutoRenewable),
            "NON_RENEWABLE" => Some(Self::NonRenewing),
            "CONSUMABLE" => Some(Self::Consumable),
            "NON_CONSUMABLE" => Some(Self::NonConsumable),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Product {
    pub id: &'static str,
    pub kind: ProductKind,
    pub group: Option<&'static str>,
    /// Length of one period in days (subscriptions, non-renewing passes); each renewal adds one.
    pub period_days: Option<i64>,
    /// Price in milliunits per currency.
    pub prices: &'static [(&'static str, i64)],
}

impl Product {
    pub(crate) fn price(&self, currency: &str) -> i64 {
        self.prices
            .iter()
            .find(|(c, _)| *c == currency)
            .or_else(|| self.prices.first())
            .map(|(_, p)| *p)
            .unwrap_or(0)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Storefront {
    pub country: &'static str,
    pub id: &'static str,
    pub currency: &'static str,
}

#[derive(Debug, Clone)]
pub(crate) struct Customer {
    /// A name for the seed summary and the demo; Apple never exposes one.
    pub label: &'static str,
    pub storefront: Storefront,
    pub app_transaction_id: Option<String>,
    pub first_install_ms: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct Revocation {
    pub date_ms: i64,
    pub reason: i64,
    pub kind: &'static str,
    pub percentage: Option<i64>,
}

#[derive(Debug, Clone)]
pub(crate) struct Offer {
    pub offer_type: i64,
    pub identifier: Option<&'static str>,
    pub discount_type: Option<&'static str>,
    pub period: Option<&'static str>,
}

#[derive(Debug, Clone)]
pub(crate) struct Transaction {
    pub transaction_id: String,
    pub original_transaction_id: String,
    pub web_order_line_item_id: Option<String>,
    pub customer: usize,
    pub product_id: &'static str,
    pub kind: ProductKind,
    pub group: Option<&'static str>,
    pub purchase_date_ms: i64,
    pub original_purchase_date_ms: i64,
    pub expires_date_ms: Option<i64>,
    pub quantity: i64,
    pub app_account_token: Option<String>,
    pub family_shared: bool,
    pub revocation: Option<Revocation>,
    pub is_upgraded: bool,
    pub offer: Option<Offer>,
    pub currency: &'static str,
    pub price: i64,
    pub renewal: bool,
    /// The "recently modified" date History sorts on: purchase, then any later upgrade, refund or update.
    pub modified_ms: i64,
    pub finished: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Subscription {
    pub original_transaction_id: String,
    pub customer: usize,
    pub group: &'static str,
    /// 1 active, 2 expired, 3 billing retry, 4 grace period, 5 revoked.
    pub status: i64,
    pub auto_renew_status: i64,
    pub auto_renew_product_id: &'static str,
    pub expiration_intent: Option<i64>,
    pub is_in_billing_retry_period: Option<bool>,
    pub price_increase_status: Option<i64>,
    pub grace_period_expires_ms: Option<i64>,
    pub renewal_price: Option<i64>,
    pub recent_subscription_start_ms: i64,
    pub extensions: Vec<Extension>,
}

#[derive(Debug, Clone)]
pub(crate) struct Extension {
    pub request_identifier: String,
    pub at_ms: i64,
    pub effective_date_ms: i64,
    pub web_order_line_item_id: String,
}

#[derive(Debug, Clone)]
pub(crate) struct SendAttempt {
    pub attempt_date_ms: i64,
    pub result: String,
}

#[derive(Debug, Clone)]
pub(crate) struct NotificationRecord {
    pub notification_uuid: String,
    pub notification_type: String,
    pub subtype: Option<String>,
    pub signed_date_ms: i64,
    pub signed_payload: String,
    /// The customer the notification is about, for the `transactionId` filter.
    pub customer: Option<usize>,
    pub attempts: Vec<SendAttempt>,
}

impl NotificationRecord {
    pub(crate) fn delivered(&self) -> bool {
        self.attempts.iter().any(|a| a.result == "SUCCESS")
    }
}

#[derive(Debug, Clone)]
pub(crate) struct TestNotification {
    pub env: SimEnvironment,
    pub notification_uuid: String,
}

#[derive(Debug, Clone)]
pub(crate) struct MassExtensionJob {
    pub env: SimEnvironment,
    /// As asked; `None` for every storefront. Echoed in the summary notification.
    pub storefronts: Option<Vec<String>>,
    pub complete: bool,
    pub complete_date_ms: Option<i64>,
    pub succeeded: i64,
    pub failed: i64,
}

/// A notification-history page cursor, kept server-side behind a UUID token as Apple's tokens look.
#[derive(Debug, Clone)]
pub(crate) struct PageCursor {
    pub env: SimEnvironment,
    pub filter_key: String,
    pub after: (i64, String),
    pub issued_ms: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct ConsumptionRecord {
    pub transaction_id: String,
    pub body: serde_json::Value,
    pub at_ms: i64,
}

#[derive(Default)]
pub(crate) struct Data {
    pub products: Vec<Product>,
    pub customers: Vec<Customer>,
    pub transactions: Vec<Transaction>,
    pub tx_index: HashMap<String, usize>,
    pub subscriptions: BTreeMap<String, Subscription>,
    pub orders: BTreeMap<String, Vec<String>>,
    pub notifications: HashMap<SimEnvironment, Vec<NotificationRecord>>,
    pub test_notifications: HashMap<String, TestNotification>,
    pub mass_jobs: HashMap<(String, String), MassExtensionJob>,
    pub page_cursors: HashMap<String, PageCursor>,
    pub consumption: Vec<ConsumptionRecord>,
}

/// What an id in a path turned out to be.
pub(crate) enum IdKind {
    Transaction(usize),
    AppTransaction(usize),
}

impl Data {
    pub(crate) fn product(&self, id: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.id == id)
    }

    pub(crate) fn tx(&self, id: &str) -> Option<&Transaction> {
        self.tx_index
            .get(id)
            .and_then(|&i| self.transactions.get(i))
    }

    pub(crate) fn tx_mut(&mut self, id: &str) -> Option<&mut Transaction> {
        let i = *self.tx_index.get(id)?;
        self.transactions.get_mut(i)
    }

    pub(crate) fn identify(&self, id: &str) -> Option<IdKind> {
        if let Some(&i) = self.tx_index.get(id) {
            return Some(IdKind::Transaction(i));
        }
        self.customers
            .iter()
            .position(|c| c.app_transaction_id.as_deref() == Some(id))
            .map(IdKind::AppTransaction)
    }

    /// The customer behind a transactionId, originalTransactionId or appTransactionId.
    pub(crate) fn customer_of(&self, id: &str) -> Option<usize> {
        match self.identify(id)? {
            IdKind::Transaction(i) => self.transactions.get(i).map(|t| t.customer),
            IdKind::AppTransaction(c) => Some(c),
        }
    }

    pub(crate) fn is_original_id(&self, id: &str) -> bool {
        self.tx(id)
            .is_some_and(|t| t.original_transaction_id == t.transaction_id)
    }

    /// The newest transaction of a purchase chain (renewals and upgrades share the original id).
    pub(crate) fn latest_of(&self, original_id: &str) -> Option<&Transaction> {
        self.transactions
            .iter()
            .filter(|t| t.original_transaction_id == original_id)
            .max_by_key(|t| (t.purchase_date_ms, t.transaction_id.clone()))
    }

    pub(crate) fn latest_of_mut(&mut self, original_id: &str) -> Option<&mut Transaction> {
        self.transactions
            .iter_mut()
            .filter(|t| t.original_transaction_id == original_id)
            .max_by_key(|t| (t.purchase_date_ms, t.transaction_id.clone()))
    }

    pub(crate) fn customer_transactions(
        &self,
        customer: usize,
    ) -> impl Iterator<Item = &Transaction> {
        self.transactions
            .iter()
            .filter(move |t| t.customer == customer)
    }

    pub(crate) fn notifications(&self, env: SimEnvironment) -> &[NotificationRecord] {
        self.notifications
            .get(&env)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub(crate) fn notifications_mut(
        &mut self,
        env: SimEnvironment,
    ) -> &mut Vec<NotificationRecord> {
        self.notifications.entry(env).or_default()
    }
}

/// Ids compare as numbers so that sorting matches Apple's numeric ids.
pub(crate) fn id_sort_key(id: &str) -> (usize, String) {
    (id.len(), id.to_owned())
}
