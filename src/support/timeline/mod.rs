//! A subscription's life as a picture: one lane per product, one bar per period (paid, offer, refunded, billing
//! retry, grace period), markers for purchase, renewals, upgrades, refunds and expiry. `build` makes the model from
//! the transactions storedesk has seen (plus the status, when known); `layout` turns it into SVG coordinates, so
//! the page draws it with no JavaScript.
mod layout;

use serde::Serialize;

use super::present::{RenewalView, TransactionView};
use crate::present::When;

pub use layout::{SvgLane, SvgMarker, SvgRect, SvgTick, TimelineSvg};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    Paid,
    /// A free trial or a discounted period.
    Offer,
    Refunded,
    BillingRetry,
    GracePeriod,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Purchase,
    Renewal,
    Upgrade,
    Refund,
    Revocation,
    BillingRetry,
    GraceEnds,
    Expiry,
    /// The current period ends in the future and auto-renew is on.
    Renews,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Period {
    pub from_ms: i64,
    pub to_ms: i64,
    pub kind: PeriodKind,
    pub label: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Lane {
    pub product_id: String,
    pub periods: Vec<Period>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TimelineEvent {
    pub at: When,
    pub kind: EventKind,
    /// Index into `lanes`.
    pub lane: usize,
    pub label: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Timeline {
    pub start_ms: i64,
    pub end_ms: i64,
    pub now_ms: i64,
    pub lanes: Vec<Lane>,
    /// Oldest first.
    pub events: Vec<TimelineEvent>,
    /// How many transactions it was drawn from (only those storedesk has seen).
    pub transactions: usize,
}

/// The subscription's current state, when the page knows it (Get All Subscription Statuses).
#[derive(Clone, Copy, Debug)]
pub struct StatusInfo<'a> {
    /// Apple's status, 1..=5.
    pub status: i64,
    pub renewal: Option<&'a RenewalView>,
}

const DAY_MS: i64 = 86_400_000;

fn period_label(t: &TransactionView, kind: PeriodKind) -> String {
    let price = t
        .price
        .as_ref()
        .map(|m| m.text.clone())
        .unwrap_or_else(|| "no price".into());
    match kind {
        PeriodKind::Offer => format!(
            "{}: {}",
            t.offer.clone().unwrap_or_else(|| "offer".into()),
            price
        ),
        PeriodKind::Refunded => format!("refunded period ({price})"),
        _ => format!("paid period ({price})"),
    }
}

/// The model of one subscription chain; `None` when no transaction has a purchase date.
pub fn build(
    chain: &[TransactionView],
    status: Option<StatusInfo<'_>>,
    now_ms: i64,
) -> Option<Timeline> {
    let mut txs: Vec<&TransactionView> =
        chain.iter().filter(|t| t.purchase_date.is_some()).collect();
    txs.sort_by_key(|t| {
        (
            t.purchase_date.as_ref().map(|w| w.ms),
            t.transaction_id.clone(),
        )
    });
    txs.dedup_by(|a, b| a.transaction_id == b.transaction_id);
    let first = txs.first()?;
    let start_ms = first.purchase_date.as_ref()?.ms;
    let mut lanes: Vec<Lane> = Vec::new();
    let mut events: Vec<TimelineEvent> = Vec::new();
    let mut end_ms = now_ms;
    let lane_of = |lanes: &mut Vec<Lane>, product: &str| -> usize {
        match lanes.iter().position(|l| l.product_id == product) {
            Some(i) => i,
            None => {
                lanes.push(Lane {
                    product_id: product.to_owned(),
                    periods: Vec::new(),
                });
                lanes.len() - 1
            }
        }
    };
    let event = |at: i64, kind: EventKind, lane: usize, label: String| TimelineEvent {
        at: When::at(at, now_ms),
        kind,
        lane,
        label,
    };
    for (i, t) in txs.iter().enumerate() {
        let Some(purchase) = t.purchase_date.as_ref().map(|w| w.ms) else {
            continue;
        };
        let lane = lane_of(&mut lanes, &t.product_id);
        let next_purchase = txs
            .get(i + 1)
            .and_then(|n| n.purchase_date.as_ref().map(|w| w.ms));
        let mut to = t
            .expires_date
            .as_ref()
            .map(|w| w.ms)
            .unwrap_or(purchase + DAY_MS);
        if t.is_upgraded {
            if let Some(n) = next_purchase {
                to = to.min(n);
            }
        }
        let kind = if t.revocation.is_some() {
            PeriodKind::Refunded
        } else if t.offer.is_some() || t.price.as_ref().is_some_and(|m| m.milliunits == 0) {
            PeriodKind::Offer
        } else {
            PeriodKind::Paid
        };
        if let Some(l) = lanes.get_mut(lane) {
            l.periods.push(Period {
                from_ms: purchase,
                to_ms: to.max(purchase),
                kind,
                label: period_label(t, kind),
            });
        }
        end_ms = end_ms.max(to);
        let previous = i.checked_sub(1).and_then(|p| txs.get(p));
        let (kind, label) = match previous {
            None => (EventKind::Purchase, format!("Purchased {}", t.product_id)),
            Some(_) if t.transaction_reason.raw.as_deref() == Some("RENEWAL") => {
                (EventKind::Renewal, format!("Renewed {}", t.product_id))
            }
            Some(p) if p.product_id != t.product_id => (
                EventKind::Upgrade,
                format!("Changed from {} to {}", p.product_id, t.product_id),
            ),
            Some(_) => (
                EventKind::Purchase,
                format!("Purchased {} again", t.product_id),
            ),
        };
        events.push(event(purchase, kind, lane, label));
        if let Some(r) = &t.revocation {
            let kind = if r.kind.raw.as_deref() == Some("FAMILY_REVOKE") {
                EventKind::Revocation
            } else {
                EventKind::Refund
            };
            events.push(event(r.date.ms, kind, lane, t.refund_status.clone()));
        }
    }
    let last = txs.last()?;
    let last_lane = lanes
        .iter()
        .position(|l| l.product_id == last.product_id)
        .unwrap_or(0);
    let last_expiry = last.expires_date.as_ref().map(|w| w.ms);
    match (status, last_expiry) {
        (Some(StatusInfo { status: 3, .. }), Some(e)) => {
            if let Some(l) = lanes.get_mut(last_lane) {
                l.periods.push(Period {
                    from_ms: e,
                    to_ms: now_ms.max(e),
                    kind: PeriodKind::BillingRetry,
                    label: "billing retry: Apple is retrying the charge".into(),
                });
            }
            events.push(event(
                e,
                EventKind::BillingRetry,
                last_lane,
                "Renewal failed; Apple is retrying the charge".into(),
            ));
        }
        (Some(StatusInfo { status: 4, renewal }), Some(e)) => {
            let grace_end = renewal
                .and_then(|r| r.grace_period_ends.as_ref())
                .map(|w| w.ms)
                .unwrap_or(now_ms);
            if let Some(l) = lanes.get_mut(last_lane) {
                l.periods.push(Period {
                    from_ms: e,
                    to_ms: grace_end.max(e),
                    kind: PeriodKind::GracePeriod,
                    label: "grace period: still entitled while Apple retries the charge".into(),
                });
            }
            end_ms = end_ms.max(grace_end);
            events.push(event(
                e,
                EventKind::BillingRetry,
                last_lane,
                "Renewal failed; grace period began".into(),
            ));
            events.push(event(
                grace_end,
                EventKind::GraceEnds,
                last_lane,
                "Grace period ends".into(),
            ));
        }
        (Some(StatusInfo { status: 1, renewal }), Some(e)) => {
            let renews = renewal.is_none_or(|r| r.auto_renew_on);
            events.push(event(
                e,
                if renews {
                    EventKind::Renews
                } else {
                    EventKind::Expiry
                },
                last_lane,
                if renews {
                    "Renews".into()
                } else {
                    "Expires (auto-renew is off)".into()
                },
            ));
        }
        (Some(StatusInfo { status: 5, .. }), _) => {}
        (_, Some(e)) if last.revocation.is_none() => {
            let label = if e <= now_ms {
                "Expired"
            } else {
                "Current period ends"
            };
            events.push(event(e, EventKind::Expiry, last_lane, label.into()));
        }
        _ => {}
    }
    events.sort_by_key(|e| e.at.ms);
    // A little room on the right so the last marker is not cut in half.
    let span = (end_ms - start_ms).max(DAY_MS);
    Some(Timeline {
        start_ms,
        end_ms: end_ms + span / 40,
        now_ms,
        lanes,
        events,
        transactions: txs.len(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000_000;

    fn tx(
        id: &str,
        product: &str,
        start_days_ago: i64,
        days: i64,
        reason: &str,
    ) -> TransactionView {
        TransactionView::from_decoded(
            &json!({
                "transactionId": id, "originalTransactionId": "1", "productId": product,
                "type": "Auto-Renewable Subscription", "purchaseDate": NOW - start_days_ago * DAY_MS,
                "expiresDate": NOW - (start_days_ago - days) * DAY_MS, "price": 9990, "currency": "USD",
                "transactionReason": reason,
            }),
            NOW,
        )
    }

    #[test]
    fn renewals_and_an_upgrade_make_two_lanes() {
        let mut monthly = tx("2", "monthly", 70, 30, "RENEWAL");
        monthly.is_upgraded = true;
        let chain = vec![
            tx("1", "monthly", 100, 30, "PURCHASE"),
            monthly,
            tx("3", "yearly", 50, 365, "PURCHASE"),
        ];
        let t = build(&chain, None, NOW).unwrap();
        assert_eq!(t.lanes.len(), 2);
        let kinds: Vec<EventKind> = t.events.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                EventKind::Purchase,
                EventKind::Renewal,
                EventKind::Upgrade,
                EventKind::Expiry
            ]
        );
        // The upgraded period ends when the new product starts, not at its own expiry.
        assert_eq!(t.lanes[0].periods[1].to_ms, NOW - 50 * DAY_MS);
        let svg = t.layout();
        assert_eq!(svg.lanes.len(), 2);
        assert_eq!(svg.ticks.len(), 5);
    }

    #[test]
    fn billing_retry_and_grace_are_drawn_from_the_status() {
        let chain = vec![tx("1", "monthly", 40, 30, "PURCHASE")];
        let retry = build(
            &chain,
            Some(StatusInfo {
                status: 3,
                renewal: None,
            }),
            NOW,
        )
        .unwrap();
        assert!(retry.lanes[0]
            .periods
            .iter()
            .any(|p| p.kind == PeriodKind::BillingRetry));
        let renewal = RenewalView::from_decoded(
            &json!({"gracePeriodExpiresDate": NOW + 6 * DAY_MS, "autoRenewStatus": 1}),
            NOW,
        );
        let grace = build(
            &chain,
            Some(StatusInfo {
                status: 4,
                renewal: Some(&renewal),
            }),
            NOW,
        )
        .unwrap();
        assert!(grace
            .events
            .iter()
            .any(|e| e.kind == EventKind::GraceEnds && e.at.ms == NOW + 6 * DAY_MS));
        assert!(grace.end_ms > NOW + 6 * DAY_MS);
    }

    #[test]
    fn nothing_to_draw_without_dates() {
        assert!(build(&[], None, NOW).is_none());
    }
}
