//! One timeline of a customer, newest first: their transactions (purchases, renewals, plan changes), refunds
//! and revocations, the moments their subscriptions' current states began (expiry, billing retry, grace
//! period), the notifications Apple sent about them, consumption requests with their deadline, and what staff did
//! (renewal-date extensions, consumption answers). Each entry carries the links that act on it.
use crate::notifications::{consumption, words};
use crate::present::duration::time_left;
use crate::present::status::SubscriptionState;
use crate::present::{time, When};
use crate::store::catalog::CatalogNames;
use crate::store::notification_log::CONSUMPTION_DEADLINE_MS;
use crate::store::notification_work::ConsumptionOutcome;
use crate::support::customer::CustomerReport;
use crate::support::TransactionView;

/// A link that acts on an entry (look it up, answer it, see Apple's notification).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    pub text: String,
    pub url: String,
}

/// One entry of the timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventView {
    pub at: When,
    /// What kind of entry, as the badge says it: `purchase`, `renewal`, `refund`, `notification`, `staff`, …
    pub what: String,
    pub badge: &'static str,
    pub title: String,
    pub detail: Option<String>,
    /// Who did it, for what staff did.
    pub by: Option<String>,
    pub actions: Vec<Action>,
    /// A consumption request still waiting for an answer.
    pub waiting: bool,
}

fn event(at: i64, now: i64, what: &str, badge: &'static str, title: String) -> EventView {
    EventView {
        at: When::at(at, now),
        what: what.to_owned(),
        badge,
        title,
        detail: None,
        by: None,
        actions: Vec::new(),
        waiting: false,
    }
}

fn look_up(slug: &str, id: &str) -> Action {
    Action {
        text: format!("Look up {id}"),
        url: crate::urls::search(slug, id),
    }
}

fn price(t: &TransactionView) -> String {
    t.price
        .as_ref()
        .map(|m| format!(" for {}", m.text))
        .unwrap_or_default()
}

/// A product in an entry's words: "Pro Monthly (com.example.pro.monthly)" when the catalog names it, else its id.
fn named(names: &CatalogNames, product_id: &str) -> String {
    match names.product(product_id) {
        Some(name) => format!("{name} ({product_id})"),
        None => product_id.to_owned(),
    }
}

/// A transaction's own moments: its purchase (or renewal, or change of plan) and its refund or revocation.
fn transaction_events(
    slug: &str,
    t: &TransactionView,
    names: &CatalogNames,
    now: i64,
    out: &mut Vec<EventView>,
) {
    let product = named(names, &t.product_id);
    if let Some(p) = &t.purchase_date {
        let (what, title) = if t.transaction_reason.raw.as_deref() == Some("RENEWAL") {
            ("renewal", format!("Renewed {product}{}", price(t)))
        } else if t.family_shared {
            (
                "purchase",
                format!("{product} shared with the customer through Family Sharing"),
            )
        } else if t.is_subscription && !t.is_original {
            ("plan change", format!("Changed to {product}{}", price(t)))
        } else {
            let quantity = match t.quantity {
                Some(q) if q > 1 => format!(" ×{q}"),
                _ => String::new(),
            };
            (
                "purchase",
                format!("Bought {product}{quantity}{}", price(t)),
            )
        };
        let mut e = event(p.ms, now, what, "badge-neutral", title);
        e.detail = t.offer.clone();
        e.actions.push(look_up(slug, &t.transaction_id));
        out.push(e);
    }
    if let Some(r) = &t.revocation {
        let family = r.kind.raw.as_deref() == Some("FAMILY_REVOKE");
        let mut e = if family {
            event(
                r.date.ms,
                now,
                "revocation",
                "badge-bad",
                format!("Family Sharing of {product} stopped; access revoked"),
            )
        } else {
            event(
                r.date.ms,
                now,
                "refund",
                "badge-bad",
                format!(
                    "Apple refunded {product}{}",
                    t.price
                        .as_ref()
                        .map(|m| format!(" ({})", m.text))
                        .unwrap_or_default()
                ),
            )
        };
        // A revocation of Family Sharing is no refund, whatever reason code it carries.
        if !family {
            e.detail = Some(format!("Apple's reason: {}.", r.reason.text));
        }
        e.actions.push(look_up(slug, &t.transaction_id));
        out.push(e);
    }
}

/// Every entry, newest first.
pub fn events(
    slug: &str,
    report: &CustomerReport,
    names: &CatalogNames,
    now: i64,
) -> Vec<EventView> {
    let mut out = Vec::new();
    for t in &report.transactions {
        transaction_events(slug, t, names, now, &mut out);
    }
    // When the subscriptions' present states began, as far as they are past.
    for s in report.groups().iter().flat_map(|g| &g.items) {
        let product = named(names, &s.product_id);
        let (at, what, badge, title) = match s.state.state {
            SubscriptionState::Expired => (
                s.state.until.as_ref(),
                "expiry",
                "badge-neutral",
                format!("{product} expired"),
            ),
            SubscriptionState::BillingRetry => (
                s.state.since.as_ref(),
                "billing retry",
                "badge-warn",
                format!("The renewal of {product} failed; Apple is retrying the charge"),
            ),
            SubscriptionState::GracePeriod => (
                s.state.since.as_ref(),
                "grace period",
                "badge-warn",
                format!("The renewal of {product} failed; the grace period began"),
            ),
            _ => (None, "", "", String::new()),
        };
        if let Some(at) = at.filter(|w| w.ms <= now) {
            let mut e = event(at.ms, now, what, badge, title);
            e.detail = Some(s.state.sentence.clone());
            out.push(e);
        }
    }
    for n in &report.notifications {
        let row = &n.notification;
        let label = words::type_label(&row.notification_type);
        let mut e = if row.notification_type == "CONSUMPTION_REQUEST" {
            let deadline = row.signed_date + CONSUMPTION_DEADLINE_MS;
            let mut e = event(
                row.signed_date,
                now,
                "consumption request",
                "badge-warn",
                "Apple asks for consumption information: the customer asked for a refund"
                    .to_owned(),
            );
            e.detail = Some(match n.answered_at {
                Some(a) => format!("Answered on {}.", time::utc_and_relative(a, now)),
                None if deadline > now => format!(
                    "Waiting for an answer: the deadline is {} ({}).",
                    time::utc(deadline),
                    time_left(deadline, now)
                ),
                None => format!(
                    "Not answered; Apple's 12 hours ended on {}.",
                    time::utc(deadline)
                ),
            });
            if n.answered_at.is_none() {
                e.waiting = deadline > now;
                e.actions.push(Action {
                    text: "Answer it".to_owned(),
                    url: crate::urls::consumption_request(slug, row.id),
                });
            }
            e
        } else {
            let mut title = format!("Apple notified: {label}");
            if let Some(sub) = row.subtype.as_deref() {
                title.push_str(&format!(" ({})", words::subtype_label(sub)));
            }
            event(
                row.signed_date,
                now,
                "notification",
                words::type_badge(&row.notification_type, row.subtype.as_deref()),
                title,
            )
        };
        if e.detail.is_none() {
            e.detail = row
                .product_id
                .as_ref()
                .map(|p| format!("{} · {}", named(names, p), row.environment));
        }
        e.actions.push(Action {
            text: "The notification".to_owned(),
            url: crate::urls::notification(slug, row.id),
        });
        out.push(e);
    }
    for x in &report.extensions {
        let title = match x.action.as_str() {
            "subscription.extend" => "Extended the renewal date",
            "subscription.extend_unknown" => {
                "Asked Apple to extend the renewal date; whether it did is not known"
            }
            _ => "Asked Apple to extend the renewal date; Apple refused",
        };
        let mut e = event(x.at, now, "staff", "badge-neutral", title.to_owned());
        e.detail = Some(x.detail.clone());
        e.by = Some(x.user_email.clone());
        e.actions.push(Action {
            text: "The subscription".to_owned(),
            url: crate::urls::subscription(slug, &x.target),
        });
        out.push(e);
    }
    for a in &report.answers {
        let accepted = a.outcome == ConsumptionOutcome::Accepted;
        let mut e = event(
            a.sent_at,
            now,
            "staff",
            if accepted {
                "badge-neutral"
            } else {
                "badge-bad"
            },
            if accepted {
                "Sent consumption information; Apple accepted it".to_owned()
            } else {
                "Sent consumption information; Apple refused it".to_owned()
            },
        );
        let mut detail = consumption::describe(&a.request);
        if let Some(err) = &a.error {
            detail.push_str(&format!(". {err}"));
        }
        e.detail = Some(detail);
        e.by = Some(a.sent_by.clone());
        e.actions.push(look_up(slug, &a.transaction_id));
        out.push(e);
    }
    // Newest first; at the same moment, in the order written (a purchase before its notification).
    out.sort_by_key(|e| std::cmp::Reverse(e.at.ms));
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000_000;
    const DAY: i64 = 86_400_000;

    fn tx(v: serde_json::Value) -> TransactionView {
        TransactionView::from_decoded(&v, NOW)
    }

    #[test]
    fn purchases_renewals_changes_and_refunds_are_told_newest_first() {
        let mut out = Vec::new();
        let first = tx(
            json!({"transactionId": "1", "originalTransactionId": "1", "productId": "pro.monthly",
            "type": "Auto-Renewable Subscription", "purchaseDate": NOW - 60 * DAY, "price": 0, "currency": "USD",
            "transactionReason": "PURCHASE", "offerType": 1, "offerDiscountType": "FREE_TRIAL",
            "offerPeriod": "P1M"}),
        );
        let renewal = tx(
            json!({"transactionId": "2", "originalTransactionId": "1", "productId": "pro.monthly",
            "type": "Auto-Renewable Subscription", "purchaseDate": NOW - 30 * DAY, "price": 9990, "currency": "USD",
            "transactionReason": "RENEWAL"}),
        );
        let change = tx(
            json!({"transactionId": "3", "originalTransactionId": "1", "productId": "pro.yearly",
            "type": "Auto-Renewable Subscription", "purchaseDate": NOW - 10 * DAY, "price": 99990,
            "currency": "USD", "transactionReason": "PURCHASE", "revocationDate": NOW - 2 * DAY,
            "revocationReason": 1, "revocationType": "REFUND_FULL"}),
        );
        let names = CatalogNames::default();
        for t in [&first, &renewal, &change] {
            transaction_events("demo", t, &names, NOW, &mut out);
        }
        out.sort_by_key(|e| std::cmp::Reverse(e.at.ms));
        let titles: Vec<&str> = out.iter().map(|e| e.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "Apple refunded pro.yearly (99.99 USD)",
                "Changed to pro.yearly for 99.99 USD",
                "Renewed pro.monthly for 9.99 USD",
                "Bought pro.monthly for 0.00 USD",
            ]
        );
        assert_eq!(
            out[3].detail.as_deref(),
            Some("introductory offer: free trial for 1 month")
        );
        assert_eq!(out[0].actions[0].url, "/projects/demo/transactions?q=3");
    }

    #[test]
    fn a_product_the_catalog_names_is_told_by_its_name_and_id() {
        let names =
            CatalogNames::from_pairs([("pro.monthly".to_owned(), "Pro Monthly".to_owned())], []);
        let mut out = Vec::new();
        let bought = tx(
            json!({"transactionId": "1", "originalTransactionId": "1", "productId": "pro.monthly",
            "type": "Auto-Renewable Subscription", "purchaseDate": NOW - DAY, "price": 9990, "currency": "USD",
            "transactionReason": "PURCHASE"}),
        );
        let unnamed = tx(
            json!({"transactionId": "2", "originalTransactionId": "2", "productId": "coins.100",
            "type": "Consumable", "purchaseDate": NOW - 2 * DAY, "price": 990, "currency": "USD",
            "transactionReason": "PURCHASE"}),
        );
        transaction_events("demo", &bought, &names, NOW, &mut out);
        transaction_events("demo", &unnamed, &names, NOW, &mut out);
        let titles: Vec<&str> = out.iter().map(|e| e.title.as_str()).collect();
        assert_eq!(
            titles,
            [
                "Bought Pro Monthly (pro.monthly) for 9.99 USD",
                "Bought coins.100 for 0.99 USD"
            ]
        );
    }
}
