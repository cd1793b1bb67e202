//! The history filters: the query string as it arrives, checked field by field into `HistoryFilters`, which
//! become Apple's history query, apply the same way to decoded transactions from the index, and turn back into
//! query pairs for links.
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::apple::models::in_app_ownership_type::InAppOwnershipType;
use crate::apple::models::transaction_history_request::{Order, ProductType};
use crate::apple::HistoryQuery;
use crate::support::present::{int, text};
use crate::support::FieldError;

/// A revision token longer than this did not come from Apple.
const MAX_REVISION_LEN: usize = 4096;

/// The history filters as they arrive in a query string; every field optional.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct HistoryParams {
    /// `AUTO_RENEWABLE`, `NON_RENEWABLE`, `CONSUMABLE` or `NON_CONSUMABLE`.
    #[serde(default, rename = "type")]
    pub product_type: String,
    #[serde(default)]
    pub product: String,
    /// `YYYY-MM-DD` (UTC), purchases from the start of this day.
    #[serde(default)]
    pub from: String,
    /// `YYYY-MM-DD` (UTC), purchases up to the end of this day.
    #[serde(default)]
    pub to: String,
    /// `yes`, `no` or empty (both).
    #[serde(default)]
    pub revoked: String,
    /// `PURCHASED`, `FAMILY_SHARED` or empty (both).
    #[serde(default)]
    pub ownership: String,
    /// Apple's revision token of the page to show; empty for the first (newest) page.
    #[serde(default)]
    pub rev: String,
    /// The page number shown (1 = newest); Apple's paging itself runs on `rev`.
    #[serde(default)]
    pub page: String,
}

impl HistoryParams {
    /// The page number, 1 when absent or unreadable (it only labels the page).
    pub fn page_number(&self) -> u32 {
        self.page
            .trim()
            .parse::<u32>()
            .unwrap_or(1)
            .clamp(1, 100_000)
    }
}

/// The four product types as the history filter spells them.
pub const PRODUCT_TYPES: &[(&str, &str, &str)] = &[
    (
        "AUTO_RENEWABLE",
        "Auto-Renewable Subscription",
        "auto-renewable subscriptions",
    ),
    (
        "NON_RENEWABLE",
        "Non-Renewing Subscription",
        "non-renewing subscriptions",
    ),
    ("CONSUMABLE", "Consumable", "consumables"),
    ("NON_CONSUMABLE", "Non-Consumable", "non-consumables"),
];

/// Validated history filters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HistoryFilters {
    /// The filter spelling, e.g. `AUTO_RENEWABLE`.
    pub product_type: Option<String>,
    pub product_id: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub revoked: Option<bool>,
    /// `PURCHASED` or `FAMILY_SHARED`.
    pub ownership: Option<String>,
}

const DAY_MS: i64 = 86_400_000;

fn day_ms(d: NaiveDate) -> Option<i64> {
    d.and_hms_opt(0, 0, 0)
        .map(|dt| dt.and_utc().timestamp_millis())
}

fn valid_product_id(s: &str) -> bool {
    s.len() <= 200
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

impl HistoryFilters {
    /// Checks every field; each refusal names its field and says what is expected.
    pub fn parse(p: &HistoryParams) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut error = |field: &'static str, message: &str| {
            errors.push(FieldError {
                field,
                message: message.to_owned(),
            })
        };
        let product_type = match p.product_type.trim() {
            "" => None,
            t => match PRODUCT_TYPES
                .iter()
                .find(|(f, _, _)| f.eq_ignore_ascii_case(t))
            {
                Some((f, _, _)) => Some((*f).to_owned()),
                None => {
                    error("type", "Choose a product type from the list: auto-renewable, non-renewing, consumable or non-consumable.");
                    None
                }
            },
        };
        let product_id = match p.product.trim() {
            "" => None,
            id if valid_product_id(id) => Some(id.to_owned()),
            _ => {
                error("product", "A product id is letters, digits, dots, dashes and underscores, such as com.example.pro.monthly.");
                None
            }
        };
        let mut date = |field: &'static str, s: &str| -> Option<NaiveDate> {
            let s = s.trim();
            if s.is_empty() {
                return None;
            }
            match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                Ok(d) if day_ms(d).is_some() => Some(d),
                _ => {
                    errors.push(FieldError {
                        field,
                        message: "Dates are written YYYY-MM-DD, for example 2026-11-26.".into(),
                    });
                    None
                }
            }
        };
        let from = date("from", &p.from);
        let to = date("to", &p.to);
        let mut error = |field: &'static str, message: &str| {
            errors.push(FieldError {
                field,
                message: message.to_owned(),
            })
        };
        if let (Some(f), Some(t)) = (from, to) {
            if f > t {
                error(
                    "to",
                    "The end date is before the start date; the range would be empty.",
                );
            }
        }
        let revoked = match p.revoked.trim() {
            "" | "any" => None,
            "yes" | "true" => Some(true),
            "no" | "false" => Some(false),
            _ => {
                error("revoked", "Choose whether to show revoked transactions: only revoked, only not revoked, or both.");
                None
            }
        };
        let ownership = match p.ownership.trim() {
            "" | "any" => None,
            o if o.eq_ignore_ascii_case("PURCHASED") => Some("PURCHASED".to_owned()),
            o if o.eq_ignore_ascii_case("FAMILY_SHARED") => Some("FAMILY_SHARED".to_owned()),
            _ => {
                error(
                    "ownership",
                    "Choose an ownership: purchased, family shared, or both.",
                );
                None
            }
        };
        if p.rev.len() > MAX_REVISION_LEN {
            error(
                "rev",
                "This page link is damaged; start again from the first page.",
            );
        }
        if errors.is_empty() {
            Ok(HistoryFilters {
                product_type,
                product_id,
                from,
                to,
                revoked,
                ownership,
            })
        } else {
            Err(errors)
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == HistoryFilters::default()
    }

    /// Purchases from the start of `from` (inclusive) to the end of `to` (exclusive next midnight), in ms.
    pub fn window(&self) -> (Option<i64>, Option<i64>) {
        (
            self.from.and_then(day_ms),
            self.to.and_then(day_ms).map(|t| t + DAY_MS),
        )
    }

    /// Apple's query: these filters, newest first, from `revision` on.
    pub fn to_query(&self, revision: Option<&str>) -> HistoryQuery {
        let (start_date, end_date) = self.window();
        HistoryQuery {
            revision: revision.filter(|r| !r.is_empty()).map(str::to_owned),
            start_date,
            end_date,
            product_ids: self.product_id.iter().cloned().collect(),
            product_types: self
                .product_type
                .iter()
                .filter_map(|t| match t.as_str() {
                    "AUTO_RENEWABLE" => Some(ProductType::AutoRenewable),
                    "NON_RENEWABLE" => Some(ProductType::NonRenewable),
                    "CONSUMABLE" => Some(ProductType::Consumable),
                    "NON_CONSUMABLE" => Some(ProductType::NonConsumable),
                    _ => None,
                })
                .collect(),
            subscription_group_ids: Vec::new(),
            ownership: self.ownership.as_deref().map(|o| match o {
                "FAMILY_SHARED" => InAppOwnershipType::FamilyShared,
                _ => InAppOwnershipType::Purchased,
            }),
            revoked: self.revoked,
            sort: Some(Order::Descending),
        }
    }

    /// The same filters applied to a decoded transaction (for answers from the index).
    pub fn matches(&self, v: &Value) -> bool {
        let (start, end) = self.window();
        let purchase = int(v, "purchaseDate");
        let in_window = match purchase {
            Some(p) => start.is_none_or(|s| p >= s) && end.is_none_or(|e| p < e),
            None => start.is_none() && end.is_none(),
        };
        let payload_type = self.product_type.as_deref().and_then(|f| {
            PRODUCT_TYPES
                .iter()
                .find(|(filter, _, _)| *filter == f)
                .map(|(_, payload, _)| *payload)
        });
        in_window
            && payload_type.is_none_or(|t| text(v, "type") == Some(t))
            && self
                .product_id
                .as_deref()
                .is_none_or(|p| text(v, "productId") == Some(p))
            && self
                .revoked
                .is_none_or(|r| int(v, "revocationDate").is_some() == r)
            && self
                .ownership
                .as_deref()
                .is_none_or(|o| text(v, "inAppOwnershipType").unwrap_or("PURCHASED") == o)
    }

    /// The filters as query pairs (without `rev` and `page`), to build links that keep them.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(t) = &self.product_type {
            out.push(("type", t.clone()));
        }
        if let Some(p) = &self.product_id {
            out.push(("product", p.clone()));
        }
        if let Some(d) = self.from {
            out.push(("from", d.format("%Y-%m-%d").to_string()));
        }
        if let Some(d) = self.to {
            out.push(("to", d.format("%Y-%m-%d").to_string()));
        }
        if let Some(r) = self.revoked {
            out.push(("revoked", if r { "yes" } else { "no" }.to_owned()));
        }
        if let Some(o) = &self.ownership {
            out.push(("ownership", o.clone()));
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(f: impl FnOnce(&mut HistoryParams)) -> HistoryParams {
        let mut p = HistoryParams::default();
        f(&mut p);
        p
    }

    #[test]
    fn filters_parse_and_turn_into_apples_query() {
        let f = HistoryFilters::parse(&params(|p| {
            p.product_type = "AUTO_RENEWABLE".into();
            p.product = "com.example.pro".into();
            p.from = "2026-01-01".into();
            p.to = "2026-01-31".into();
            p.revoked = "no".into();
            p.ownership = "FAMILY_SHARED".into();
        }))
        .unwrap();
        let q = f.to_query(Some("abc"));
        assert_eq!(q.start_date, Some(1_767_225_600_000));
        // "to" is a whole day: the range ends at the next midnight.
        assert_eq!(q.end_date, Some(1_767_225_600_000 + 31 * DAY_MS));
        assert_eq!(q.product_ids, vec!["com.example.pro".to_string()]);
        assert_eq!(q.product_types, vec![ProductType::AutoRenewable]);
        assert_eq!(q.revoked, Some(false));
        assert_eq!(q.ownership, Some(InAppOwnershipType::FamilyShared));
        assert_eq!(q.sort, Some(Order::Descending));
        assert_eq!(q.revision.as_deref(), Some("abc"));
        assert_eq!(f.pairs().len(), 6);
    }

    #[test]
    fn bad_filters_name_their_field() {
        let errors = HistoryFilters::parse(&params(|p| {
            p.product_type = "SUBSCRIPTION".into();
            p.product = "bad id!".into();
            p.from = "26/11/2026".into();
            p.revoked = "maybe".into();
            p.ownership = "stolen".into();
        }))
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["type", "product", "from", "revoked", "ownership"]);
        let reversed = HistoryFilters::parse(&params(|p| {
            p.from = "2026-02-01".into();
            p.to = "2026-01-01".into();
        }))
        .unwrap_err();
        assert_eq!(reversed[0].field, "to");
        assert_eq!(
            reversed[0].message,
            "The end date is before the start date; the range would be empty."
        );
    }

    #[test]
    fn filters_apply_to_decoded_transactions_like_apple() {
        let v = json!({"productId": "coins", "type": "Consumable", "purchaseDate": 1_767_225_600_000_i64,
                       "revocationDate": 5, "inAppOwnershipType": "PURCHASED"});
        let f = |p: HistoryParams| HistoryFilters::parse(&p).unwrap().matches(&v);
        assert!(f(params(|_| {})));
        assert!(f(params(|p| p.product_type = "CONSUMABLE".into())));
        assert!(!f(params(|p| p.product_type = "NON_CONSUMABLE".into())));
        assert!(f(params(|p| p.revoked = "yes".into())));
        assert!(!f(params(|p| p.revoked = "no".into())));
        assert!(f(params(|p| p.from = "2026-01-01".into())));
        assert!(!f(params(|p| p.to = "2025-12-31".into())));
        assert!(!f(params(|p| p.ownership = "FAMILY_SHARED".into())));
        assert!(!f(params(|p| p.product = "gems".into())));
    }
}
