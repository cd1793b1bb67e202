//! The JSON shapes of the support desk's look-ups (`api::lookup`), made from `crate::support`'s results.
//!
//! The service's structs serialize in snake_case for the pages; the API speaks camelCase like Apple and the rest of
//! `/api/v1`, so these are its own types: a stable contract that leaves out what only a page needs (badge CSS
//! classes, relative times, timelines). Dates are epoch milliseconds, as in Apple's payloads. Every product id
//! comes with `productName`, the reference name the project's catalog gives it (null without one).
use serde::Serialize;
use serde_json::Value;

use crate::present::{Label, Money, When};
use crate::store::catalog::CatalogNames;
use crate::support::present::{RenewalView, RevocationView};
use crate::support::subscription::{GroupView, StateView, SubscriptionItem};
use crate::support::{
    AppleProblem, CustomerNow, Freshness, HistoryFilters, HistoryPage, RefundHistory, SearchInput,
    SubscriptionReport, TransactionReport, TransactionView,
};

fn ms(w: &Option<When>) -> Option<i64> {
    w.as_ref().map(|w| w.ms)
}

/// The catalog's name of a product; null when it has none.
fn product_name(names: &CatalogNames, product_id: &str) -> Option<String> {
    names.product(product_id).map(str::to_owned)
}

/// The catalog's name of a subscription group; null when it has none.
fn group_name(names: &CatalogNames, group_id: &str) -> Option<String> {
    names.group(group_id).map(str::to_owned)
}

/// A payload kept as text by the service, back as the JSON object Apple signed.
fn decoded(pretty: &str) -> Value {
    serde_json::from_str(pretty).unwrap_or_else(|_| Value::String(pretty.to_owned()))
}

/// Why Apple's answer is missing.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProblemJson {
    /// `no_key`, `unauthorized`, `not_found`, `rate_limited`, `apple_error`, `timeout`, `unreachable`,
    /// `unreadable`, `unverifiable`, `refused` or `unprepared` (`apple::ProblemKind`).
    pub kind: Value,
    pub message: String,
    pub apple_error_code: Option<i64>,
    pub http_status: Option<u16>,
}

impl From<&AppleProblem> for ProblemJson {
    fn from(p: &AppleProblem) -> Self {
        ProblemJson {
            kind: serde_json::to_value(p.kind).unwrap_or(Value::Null),
            message: p.sentence.clone(),
            apple_error_code: p.code,
            http_status: p.http_status,
        }
    }
}

/// Where an answer came from and how old it is. `fresh` is true only when Apple answered this very request.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FreshnessJson {
    pub fresh: bool,
    /// The environment that answered (fresh), or that the indexed rows belong to.
    pub environment: Option<String>,
    /// When Apple answered, or the oldest "as of" time of the indexed rows shown (epoch ms).
    pub as_of: Option<i64>,
    pub message: String,
    pub problem: Option<ProblemJson>,
}

impl From<&Freshness> for FreshnessJson {
    fn from(f: &Freshness) -> Self {
        FreshnessJson {
            fresh: f.fresh,
            environment: f.environment.clone(),
            as_of: ms(&f.as_of),
            message: f.sentence.clone(),
            problem: f.problem.as_ref().map(ProblemJson::from),
        }
    }
}

/// An enumeration value from Apple with storedesk's words for it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelJson {
    pub raw: Option<String>,
    pub text: String,
    /// False when this version of storedesk does not know the value.
    pub known: bool,
}

impl From<&Label> for LabelJson {
    fn from(l: &Label) -> Self {
        LabelJson {
            raw: l.raw.clone(),
            text: l.text.clone(),
            known: l.known,
        }
    }
}

fn label(l: &Option<Label>) -> Option<LabelJson> {
    l.as_ref().map(LabelJson::from)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MoneyJson {
    /// As Apple sends it: 9990 is 9.99.
    pub milliunits: i64,
    pub currency: String,
    /// `9.99`
    pub amount: String,
    /// `9.99 EUR`
    pub text: String,
}

impl From<&Money> for MoneyJson {
    fn from(m: &Money) -> Self {
        MoneyJson {
            milliunits: m.milliunits,
            currency: m.currency.clone(),
            amount: m.amount.clone(),
            text: m.text.clone(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RevocationJson {
    pub date: i64,
    pub reason: LabelJson,
    #[serde(rename = "type")]
    pub kind: LabelJson,
    pub percentage: Option<String>,
}

impl From<&RevocationView> for RevocationJson {
    fn from(r: &RevocationView) -> Self {
        RevocationJson {
            date: r.date.ms,
            reason: (&r.reason).into(),
            kind: (&r.kind).into(),
            percentage: r.percentage.clone(),
        }
    }
}

/// One transaction: Apple's values under Apple's names, plus storedesk's words.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionJson {
    pub transaction_id: String,
    pub original_transaction_id: String,
    /// The first transaction of its chain.
    pub is_original: bool,
    pub web_order_line_item_id: Option<String>,
    pub app_account_token: Option<String>,
    pub app_transaction_id: Option<String>,
    pub product_id: String,
    /// The product's reference name in the project's catalog; null without a catalog that names it.
    pub product_name: Option<String>,
    #[serde(rename = "type")]
    pub product_type: LabelJson,
    pub is_subscription: bool,
    pub subscription_group_identifier: Option<String>,
    /// The group's reference name in the catalog; null without one.
    pub subscription_group_name: Option<String>,
    pub purchase_date: Option<i64>,
    pub original_purchase_date: Option<i64>,
    pub expires_date: Option<i64>,
    pub signed_date: Option<i64>,
    pub price: Option<MoneyJson>,
    pub quantity: Option<i64>,
    pub offer: Option<String>,
    pub ownership: LabelJson,
    pub family_shared: bool,
    pub environment: String,
    pub storefront: Option<String>,
    pub transaction_reason: LabelJson,
    pub is_upgraded: bool,
    pub revocation: Option<RevocationJson>,
    /// This transaction's own period, never the subscription's state (that is `customer.subscriptions[].state`):
    /// `active` (its period runs), `expired` (its period is over), `purchased` (no period), `upgraded`,
    /// `refunded` or `revoked`.
    pub status: &'static str,
    /// One sentence: "Not refunded." / "Refunded in full on …".
    pub refund_status: String,
    /// The same as a code: `none`, `refund_full`, `refund_prorated`, `family_revoke` or `revoked`.
    pub refund_code: &'static str,
    /// One sentence: "An auto-renewable subscription renewed automatically on … for 9.99 EUR."
    pub summary: String,
}

impl TransactionJson {
    pub fn new(t: &TransactionView, names: &CatalogNames) -> Self {
        TransactionJson {
            transaction_id: t.transaction_id.clone(),
            original_transaction_id: t.original_transaction_id.clone(),
            is_original: t.is_original,
            web_order_line_item_id: t.web_order_line_item_id.clone(),
            app_account_token: t.app_account_token.clone(),
            app_transaction_id: t.app_transaction_id.clone(),
            product_id: t.product_id.clone(),
            product_name: product_name(names, &t.product_id),
            product_type: (&t.product_type).into(),
            is_subscription: t.is_subscription,
            subscription_group_identifier: t.subscription_group.clone(),
            subscription_group_name: t
                .subscription_group
                .as_deref()
                .and_then(|g| group_name(names, g)),
            purchase_date: ms(&t.purchase_date),
            original_purchase_date: ms(&t.original_purchase_date),
            expires_date: ms(&t.expires_date),
            signed_date: ms(&t.signed_date),
            price: t.price.as_ref().map(MoneyJson::from),
            quantity: t.quantity,
            offer: t.offer.clone(),
            ownership: (&t.ownership).into(),
            family_shared: t.family_shared,
            environment: t.environment.clone(),
            storefront: t.storefront.clone(),
            transaction_reason: (&t.transaction_reason).into(),
            is_upgraded: t.is_upgraded,
            revocation: t.revocation.as_ref().map(RevocationJson::from),
            status: t.fact.api_status(),
            refund_status: t.refund_status.clone(),
            refund_code: t.refund_code,
            summary: t.summary.clone(),
        }
    }
}

fn transactions(items: &[TransactionView], names: &CatalogNames) -> Vec<TransactionJson> {
    items
        .iter()
        .map(|t| TransactionJson::new(t, names))
        .collect()
}

/// The history filters under their query parameter names, so they can be sent back as they are.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FiltersJson {
    #[serde(rename = "type")]
    pub product_type: Option<String>,
    pub product: Option<String>,
    /// `YYYY-MM-DD`
    pub from: Option<String>,
    pub to: Option<String>,
    pub revoked: Option<bool>,
    pub ownership: Option<String>,
}

impl From<&HistoryFilters> for FiltersJson {
    fn from(f: &HistoryFilters) -> Self {
        let day = |d: &Option<chrono::NaiveDate>| d.map(|d| d.format("%Y-%m-%d").to_string());
        FiltersJson {
            product_type: f.product_type.clone(),
            product: f.product_id.clone(),
            from: day(&f.from),
            to: day(&f.to),
            revoked: f.revoked,
            ownership: f.ownership.clone(),
        }
    }
}

/// One page of the customer's history, newest first.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryJson {
    /// 1 for the newest page.
    pub page: u32,
    pub filters: FiltersJson,
    pub items: Vec<TransactionJson>,
    /// Apple's token for the next (older) page: send it back as `rev` (with `page` = this page + 1).
    pub next_revision: Option<String>,
    /// The address of the next page, filters included.
    pub next: Option<String>,
    pub freshness: FreshnessJson,
}

impl HistoryJson {
    /// `next_url` turns the revision and the next page number into the address of the next page.
    pub fn new(
        page: &HistoryPage,
        names: &CatalogNames,
        next_url: impl FnOnce(&str, u32) -> String,
    ) -> Self {
        HistoryJson {
            page: page.page,
            filters: (&page.filters).into(),
            items: transactions(&page.items, names),
            next: page
                .next_revision
                .as_deref()
                .map(|rev| next_url(rev, page.page + 1)),
            next_revision: page.next_revision.clone(),
            freshness: (&page.freshness).into(),
        }
    }
}

/// The customer's approved refunds, newest first.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundsJson {
    pub items: Vec<TransactionJson>,
    /// More refunds exist than were fetched.
    pub truncated: bool,
    pub freshness: FreshnessJson,
}

impl RefundsJson {
    pub fn new(r: &RefundHistory, names: &CatalogNames) -> Self {
        RefundsJson {
            items: transactions(&r.items, names),
            truncated: r.truncated,
            freshness: (&r.freshness).into(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryJson {
    /// `transaction_id` (which may be an original transaction id), `order_id` or `app_account_token`.
    pub kind: &'static str,
    /// As searched: order ids uppercase, tokens lowercase.
    pub value: String,
    /// `app_receipt` or `transaction_receipt` when `q` was a receipt and `value` the transaction id read from it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_receipt: Option<&'static str>,
}

impl From<&SearchInput> for QueryJson {
    fn from(input: &SearchInput) -> Self {
        QueryJson {
            kind: match input {
                SearchInput::TransactionId(_) => "transaction_id",
                SearchInput::OrderId(_) => "order_id",
                SearchInput::AppAccountToken(_) => "app_account_token",
            },
            value: input.value().to_owned(),
            from_receipt: None,
        }
    }
}

/// `GET /api/v1/projects/{project}/transactions?q=…`
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchJson {
    pub query: QueryJson,
    /// The environment that answered, or that the indexed rows belong to.
    pub environment: Option<String>,
    /// Where the answer came from, and how old it is.
    pub freshness: FreshnessJson,
    /// Every transaction the query resolved to: one for a transaction id, all of an order or of a token.
    pub matches: Vec<TransactionJson>,
    /// The first match, told in full.
    pub transaction: TransactionJson,
    /// The first match's payload exactly as Apple signed it.
    pub decoded_transaction: Value,
    /// The original transaction id to ask `subscriptions/{id}` with, for auto-renewable subscriptions.
    pub subscription_id: Option<String>,
    pub history: HistoryJson,
    pub refunds: RefundsJson,
    /// What the customer has now: every subscription's state (the page leads with it).
    pub customer: Option<CustomerJson>,
}

impl SearchJson {
    pub fn new(
        input: &SearchInput,
        freshness: &Freshness,
        matches: &[TransactionView],
        report: &TransactionReport,
        customer: Option<&CustomerNow>,
        names: &CatalogNames,
        next_url: impl FnOnce(&str, u32) -> String,
    ) -> Self {
        SearchJson {
            query: input.into(),
            environment: freshness.environment.clone(),
            freshness: freshness.into(),
            matches: transactions(matches, names),
            transaction: TransactionJson::new(&report.transaction, names),
            decoded_transaction: decoded(&report.decoded_json),
            subscription_id: report.subscription_id.clone(),
            history: HistoryJson::new(&report.history, names, next_url),
            refunds: RefundsJson::new(&report.refunds, names),
            customer: customer.map(|c| CustomerJson::new(c, names)),
        }
    }
}

/// One subscription's state now, in a code, words and dates.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StateJson {
    /// `active`, `free_trial`, `grace_period`, `billing_retry`, `expired`, `revoked` (Family Sharing stopped),
    /// `refunded`, or, when only storedesk's index answered, `period_ended` (its last known period is over;
    /// only Apple can say more); `unknown` for a status this version does not know.
    pub state: &'static str,
    /// The badge's words: `active`, `free trial`, `grace period`, …
    pub state_text: String,
    /// The sentence: "In grace period until … the customer keeps access meanwhile."
    pub message: String,
    /// Until when the customer has (or had) access: the period's end, or the grace period's (epoch ms).
    pub until: Option<i64>,
    /// Since when the renewal charge is being retried (billing retry, grace period).
    pub since: Option<i64>,
    /// Whether it renews by itself; null when Apple's renewal info is not at hand.
    pub auto_renew: Option<bool>,
}

impl From<&StateView> for StateJson {
    fn from(s: &StateView) -> Self {
        StateJson {
            state: s.state.code(),
            state_text: s.badge.word.clone(),
            message: s.sentence.clone(),
            until: ms(&s.until),
            since: ms(&s.since),
            auto_renew: s.auto_renew,
        }
    }
}

/// One of the customer's subscriptions and its state now.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerSubscriptionJson {
    pub subscription_group_identifier: String,
    /// The group's reference name in the catalog; null without one.
    pub subscription_group_name: Option<String>,
    pub original_transaction_id: String,
    pub product_id: String,
    /// The product's reference name in the catalog; null without one.
    pub product_name: Option<String>,
    /// Apple's status: 1 active, 2 expired, 3 billing retry, 4 grace period, 5 revoked; null from the index.
    pub status_code: Option<i64>,
    #[serde(flatten)]
    pub state: StateJson,
    /// The lookup matched a transaction of this subscription.
    pub matched: bool,
    /// Set when part of Apple's answer for it failed verification.
    pub problem: Option<ProblemJson>,
}

/// What the customer has now: every subscription of theirs with its state.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerJson {
    /// The id of the customer's page in the console (`/projects/{project}/customers/{customerId}`).
    pub customer_id: String,
    /// Where the states came from: Apple's Get All Subscription Statuses, or storedesk's index.
    pub freshness: FreshnessJson,
    /// The matched ones first.
    pub subscriptions: Vec<CustomerSubscriptionJson>,
}

impl CustomerJson {
    pub fn new(c: &CustomerNow, names: &CatalogNames) -> Self {
        CustomerJson {
            customer_id: c.customer_id.clone(),
            freshness: (&c.freshness).into(),
            subscriptions: c
                .groups
                .iter()
                .flat_map(|g| {
                    g.items.iter().map(|i| CustomerSubscriptionJson {
                        subscription_group_identifier: g.group_id.clone(),
                        subscription_group_name: group_name(names, &g.group_id),
                        original_transaction_id: i.original_transaction_id.clone(),
                        product_id: i.product_id.clone(),
                        product_name: product_name(names, &i.product_id),
                        status_code: i.state.apple_status,
                        state: (&i.state).into(),
                        matched: i.is_requested,
                        problem: i.problem.as_ref().map(ProblemJson::from),
                    })
                })
                .collect(),
        }
    }
}

/// A subscription's next renewal, in Apple's names and storedesk's words.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RenewalJson {
    pub auto_renew_status: LabelJson,
    pub auto_renew_on: bool,
    pub auto_renew_product_id: Option<String>,
    /// The catalog's reference name of `autoRenewProductId`; null without one.
    pub auto_renew_product_name: Option<String>,
    /// It renews into another product (an upgrade, downgrade or crossgrade).
    pub changes_product: bool,
    pub expiration_intent: Option<LabelJson>,
    pub is_in_billing_retry_period: bool,
    pub grace_period_expires_date: Option<i64>,
    pub price_increase_status: Option<LabelJson>,
    pub renewal_date: Option<i64>,
    pub renewal_price: Option<MoneyJson>,
    pub offer: Option<String>,
    pub recent_subscription_start_date: Option<i64>,
    pub eligible_win_back_offer_ids: Vec<String>,
    pub signed_date: Option<i64>,
}

impl RenewalJson {
    pub fn new(r: &RenewalView, names: &CatalogNames) -> Self {
        RenewalJson {
            auto_renew_status: (&r.auto_renew).into(),
            auto_renew_on: r.auto_renew_on,
            auto_renew_product_id: r.auto_renew_product_id.clone(),
            auto_renew_product_name: r
                .auto_renew_product_id
                .as_deref()
                .and_then(|p| product_name(names, p)),
            changes_product: r.changes_product,
            expiration_intent: label(&r.expiration_intent),
            is_in_billing_retry_period: r.in_billing_retry,
            grace_period_expires_date: ms(&r.grace_period_ends),
            price_increase_status: label(&r.price_increase),
            renewal_date: ms(&r.renewal_date),
            renewal_price: r.renewal_price.as_ref().map(MoneyJson::from),
            offer: r.offer.clone(),
            recent_subscription_start_date: ms(&r.recent_subscription_start),
            eligible_win_back_offer_ids: r.eligible_win_back_offer_ids.clone(),
            signed_date: ms(&r.signed_date),
        }
    }
}

/// One subscription (one original transaction) of a group.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionJson {
    pub original_transaction_id: String,
    /// The product it is on now (its latest transaction's, or the renewal info's); empty when Apple's answer did
    /// not say.
    pub product_id: String,
    /// The product's reference name in the catalog; null without one.
    pub product_name: Option<String>,
    /// Apple's status: 1 active, 2 expired, 3 billing retry, 4 grace period, 5 revoked.
    pub status_code: Option<i64>,
    /// `active`, `expired`, `billing retry`, `grace period`, `revoked`, or `status N` for a value not known.
    pub status: String,
    /// Its state in storedesk's words (a free trial, a refund told apart from a revocation), with the sentence.
    #[serde(flatten)]
    pub state: StateJson,
    /// The subscription the request named.
    pub is_requested: bool,
    /// Apple would consider extending its renewal date: active, not shared through Family Sharing, and not in a
    /// free trial or other free offer period.
    pub extendable: bool,
    /// Why it can't be extended now, when it is a passing state (a free offer period); null otherwise.
    pub not_extendable: Option<String>,
    /// Its latest transaction; null when Apple's signed copy failed verification.
    pub last_transaction: Option<TransactionJson>,
    pub renewal_info: Option<RenewalJson>,
    /// Both payloads exactly as Apple signed them.
    pub decoded_transaction: Option<Value>,
    pub decoded_renewal_info: Option<Value>,
    /// Set when part of Apple's answer for it failed verification (that part is left out).
    pub problem: Option<ProblemJson>,
}

impl SubscriptionJson {
    pub fn new(i: &SubscriptionItem, names: &CatalogNames) -> Self {
        SubscriptionJson {
            original_transaction_id: i.original_transaction_id.clone(),
            product_id: i.product_id.clone(),
            product_name: product_name(names, &i.product_id),
            status_code: i.status.raw,
            status: i.status.word.clone(),
            state: (&i.state).into(),
            is_requested: i.is_requested,
            extendable: i.extendable,
            not_extendable: i.not_extendable.clone(),
            last_transaction: i.latest.as_ref().map(|t| TransactionJson::new(t, names)),
            renewal_info: i.renewal.as_ref().map(|r| RenewalJson::new(r, names)),
            decoded_transaction: i.decoded_transaction_json.as_deref().map(decoded),
            decoded_renewal_info: i.decoded_renewal_json.as_deref().map(decoded),
            problem: i.problem.as_ref().map(ProblemJson::from),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupJson {
    pub subscription_group_identifier: String,
    /// The group's reference name in the catalog; null without one.
    pub subscription_group_name: Option<String>,
    pub subscriptions: Vec<SubscriptionJson>,
}

impl GroupJson {
    pub fn new(g: &GroupView, names: &CatalogNames) -> Self {
        GroupJson {
            subscription_group_identifier: g.group_id.clone(),
            subscription_group_name: group_name(names, &g.group_id),
            subscriptions: g
                .items
                .iter()
                .map(|i| SubscriptionJson::new(i, names))
                .collect(),
        }
    }
}

/// `GET /api/v1/projects/{project}/subscriptions/{original_transaction_id}`
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionsJson {
    pub original_transaction_id: String,
    pub environment: Option<String>,
    pub freshness: FreshnessJson,
    /// Every subscription group of the customer, fresh from Apple (the requested one first); empty when
    /// Apple could not answer.
    pub groups: Vec<GroupJson>,
    /// When Apple could not answer: this subscription's transactions as storedesk's index holds them.
    pub indexed: Vec<TransactionJson>,
    /// Renewal-date extensions whose outcome is not known (`outcome: "unknown"`): sent, and Apple's answer was lost
    /// or its server failed. A person sends the same request again from the subscription's page.
    pub pending_extensions: Vec<PendingExtensionJson>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingExtensionJson {
    pub original_transaction_id: String,
    pub request_identifier: String,
    pub days: i64,
    pub reason_code: i64,
    pub outcome: &'static str,
    /// When it was last sent, in milliseconds since the epoch.
    pub sent_at: i64,
    pub attempts: i64,
    pub message: String,
}

impl SubscriptionsJson {
    pub fn new(r: &SubscriptionReport, names: &CatalogNames) -> Self {
        SubscriptionsJson {
            original_transaction_id: r.original_transaction_id.clone(),
            environment: r.freshness.environment.clone(),
            freshness: (&r.freshness).into(),
            groups: r.groups.iter().map(|g| GroupJson::new(g, names)).collect(),
            indexed: transactions(&r.indexed, names),
            pending_extensions: r
                .pending_extensions
                .iter()
                .map(|p| PendingExtensionJson {
                    original_transaction_id: p.original_transaction_id.clone(),
                    request_identifier: p.request_identifier.clone(),
                    days: p.days,
                    reason_code: p.reason_code,
                    outcome: p.outcome,
                    sent_at: p.sent.ms,
                    attempts: p.attempts,
                    message: p.sentence.clone(),
                })
                .collect(),
        }
    }
}
