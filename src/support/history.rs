//! A customer's transaction history: Apple's pages (20 a page, newest first, the `revision` token leads to the
//! next), its filters, the same filters over the local index when Apple can't answer, and the CSV export.
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::index::{decoded_of, rows_of};
use super::present::{int, text, TransactionView, When};
use super::{
    call_apple, identity, split_verified, verify_transactions, AppleProblem, FieldError, Freshness,
    SignedTransaction,
};
use crate::apple::models::in_app_ownership_type::InAppOwnershipType;
use crate::apple::models::transaction_history_request::{Order, ProductType};
use crate::apple::{Environment, HistoryQuery};
use crate::error::AppError;
use crate::state::AppState;
use crate::store::transactions::{AuditNote, IndexedTransaction};
use crate::store::{Actor, Project};

/// A revision token longer than this did not come from Apple.
const MAX_REVISION_LEN: usize = 4096;
/// The export follows Apple's pages up to this many (20 each).
const MAX_EXPORT_PAGES: usize = 250;

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

/// One page of a customer's history.
#[derive(Clone, Debug, Serialize)]
pub struct HistoryPage {
    pub filters: HistoryFilters,
    /// 1 for the newest page.
    pub page: u32,
    pub items: Vec<TransactionView>,
    /// Apple's token for the next (older) page, when there is one.
    pub next_revision: Option<String>,
    pub freshness: Freshness,
}

/// One page from Apple, verified: the transactions, the next revision and whether there are more.
pub(crate) struct ApplePage {
    pub items: Vec<SignedTransaction>,
    pub next_revision: Option<String>,
    /// A signed item that failed verification (the others are kept).
    pub problem: Option<AppleProblem>,
}

/// Asks Apple for one page of history in the environment that knows the customer.
pub(crate) async fn fetch_page(
    state: &AppState,
    project: &Project,
    environment: Environment,
    transaction_id: &crate::domain::TransactionId,
    filters: &HistoryFilters,
    revision: Option<&str>,
) -> Result<Result<ApplePage, AppleProblem>, AppError> {
    let query = filters.to_query(revision);
    let answer = call_apple(state, project, |creds| {
        let query = &query;
        async move {
            state
                .apple
                .get_transaction_history(&creds, environment, transaction_id, query)
                .await
        }
    })
    .await?;
    let response = match answer {
        Ok(r) => r,
        Err(p) => return Ok(Err(p)),
    };
    let signed = response.signed_transactions.unwrap_or_default();
    let (items, problem) =
        split_verified(verify_transactions(state, &identity(project, environment), &signed).await);
    let has_more = response.has_more.unwrap_or(false);
    Ok(Ok(ApplePage {
        items,
        next_revision: response.revision.filter(|_| has_more),
        problem,
    }))
}

/// The history as far as the index knows it: every indexed transaction of the same subscription chain or app
/// account token, filtered like Apple would, newest purchase first.
pub(crate) fn page_from_index(
    rows: &[IndexedTransaction],
    filters: &HistoryFilters,
    problem: Option<AppleProblem>,
    now_ms: i64,
) -> HistoryPage {
    let mut kept: Vec<(&IndexedTransaction, Value)> = rows
        .iter()
        .filter_map(|r| decoded_of(r).map(|v| (r, v)))
        .filter(|(_, v)| filters.matches(v))
        .collect();
    kept.sort_by(|a, b| {
        (b.0.purchase_date, &b.0.transaction_id).cmp(&(a.0.purchase_date, &a.0.transaction_id))
    });
    let as_of = kept.iter().map(|(r, _)| r.seen_at).min();
    HistoryPage {
        filters: filters.clone(),
        page: 1,
        freshness: Freshness::from_index(as_of, problem, kept.is_empty(), now_ms),
        items: kept
            .iter()
            .map(|(_, v)| TransactionView::from_decoded(v, now_ms))
            .collect(),
        next_revision: None,
    }
}

/// A CSV file of the whole (filtered) history.
#[derive(Clone, Debug, Serialize)]
pub struct CsvExport {
    pub file_name: String,
    pub body: String,
    pub rows: usize,
    /// False when Apple stopped answering part way; `problem` says why.
    pub complete: bool,
    pub freshness: Freshness,
}

pub const CSV_HEADER: &[&str] = &[
    "transaction_id",
    "original_transaction_id",
    "web_order_line_item_id",
    "product_id",
    "product_type",
    "purchase_date_utc",
    "expires_date_utc",
    "price",
    "currency",
    "offer",
    "ownership",
    "environment",
    "transaction_reason",
    "revocation_date_utc",
    "revocation_reason",
    "refund_status",
    "storefront",
    "quantity",
    "app_account_token",
    "source",
    "as_of_utc",
];

/// One CSV field: quoted when needed, and a leading `=`, `+`, `-`, `@` neutralised so a spreadsheet never runs it.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

pub(crate) fn csv_line(t: &TransactionView, source: &str, as_of: Option<&When>) -> String {
    let date = |w: &Option<When>| w.as_ref().map(When::iso).unwrap_or_default();
    let fields: Vec<String> = vec![
        t.transaction_id.clone(),
        t.original_transaction_id.clone(),
        t.web_order_line_item_id.clone().unwrap_or_default(),
        t.product_id.clone(),
        t.product_type.raw.clone().unwrap_or_default(),
        date(&t.purchase_date),
        date(&t.expires_date),
        t.price
            .as_ref()
            .map(|m| m.amount.clone())
            .unwrap_or_default(),
        t.price
            .as_ref()
            .map(|m| m.currency.clone())
            .unwrap_or_default(),
        t.offer.clone().unwrap_or_default(),
        t.ownership
            .raw
            .clone()
            .unwrap_or_else(|| "PURCHASED".into()),
        t.environment.clone(),
        t.transaction_reason.raw.clone().unwrap_or_default(),
        t.revocation
            .as_ref()
            .map(|r| r.date.iso())
            .unwrap_or_default(),
        t.revocation
            .as_ref()
            .map(|r| r.reason.text.clone())
            .unwrap_or_default(),
        t.refund_status.clone(),
        t.storefront.clone().unwrap_or_default(),
        t.quantity.map(|q| q.to_string()).unwrap_or_default(),
        t.app_account_token.clone().unwrap_or_default(),
        source.to_owned(),
        as_of.map(When::iso).unwrap_or_default(),
    ];
    let mut line = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

/// Exports the customer's whole history (every page, with the filters), newest first, as CSV. When Apple can't
/// answer the first page, the index's rows are exported instead and each row says so (`source`, `as_of_utc`).
pub async fn export_csv(
    state: &AppState,
    project: &Project,
    actor: &Actor,
    transaction_id: &crate::domain::TransactionId,
    filters: &HistoryFilters,
) -> Result<CsvExport, AppError> {
    let now = crate::clock::now_ms();
    let mut body = CSV_HEADER.join(",");
    body.push_str("\r\n");
    let file_name = format!("transactions-{transaction_id}.csv");
    let first = call_apple(state, project, |creds| async move {
        state
            .apple
            .get_transaction_info_any_env(&creds, transaction_id)
            .await
    })
    .await?;
    let environment = match first {
        Ok(answered) => answered.environment,
        Err(problem) => {
            let rows = index_rows_for(state, project, transaction_id.as_str()).await?;
            let page = page_from_index(&rows, filters, Some(problem), now);
            for t in &page.items {
                body.push_str(&csv_line(t, "index", page.freshness.as_of.as_ref()));
            }
            audit_export(
                state,
                project,
                actor,
                transaction_id.as_str(),
                page.items.len(),
                "storedesk's index",
            )
            .await?;
            return Ok(CsvExport {
                file_name,
                rows: page.items.len(),
                body,
                complete: true,
                freshness: page.freshness,
            });
        }
    };
    let mut revision: Option<String> = None;
    let mut count = 0;
    let mut problem = None;
    let mut index_rows = Vec::new();
    let fetched_at = When::at(now, now);
    for _ in 0..MAX_EXPORT_PAGES {
        match fetch_page(
            state,
            project,
            environment,
            transaction_id,
            filters,
            revision.as_deref(),
        )
        .await?
        {
            Ok(page) => {
                if let Some(p) = page.problem {
                    problem = Some(p);
                    break;
                }
                for t in &page.items {
                    let view = TransactionView::from_decoded(&t.verified.raw, now);
                    body.push_str(&csv_line(&view, "apple", Some(&fetched_at)));
                    count += 1;
                }
                index_rows.extend(rows_of(project.id, "history", &page.items, now));
                match page.next_revision {
                    Some(r) => revision = Some(r),
                    None => break,
                }
            }
            Err(p) => {
                problem = Some(p);
                break;
            }
        }
    }
    let complete = problem.is_none();
    let detail = format!(
        "{count} transaction(s) from Apple ({environment}){}",
        if complete { "" } else { ", incomplete" }
    );
    let audit = AuditNote {
        actor,
        action: "lookup.export",
        project_id: Some(project.id),
        target: transaction_id.as_str(),
        detail: &detail,
    };
    state
        .store
        .index_transactions(&index_rows, &[], Some(audit))
        .await?;
    let mut freshness = Freshness::from_apple(environment, now);
    if let Some(p) = problem {
        freshness.sentence = format!(
            "The export stopped after {count} transaction(s): {}",
            p.sentence
        );
        freshness.problem = Some(p);
    }
    Ok(CsvExport {
        file_name,
        body,
        rows: count,
        complete,
        freshness,
    })
}

async fn audit_export(
    state: &AppState,
    project: &Project,
    actor: &Actor,
    transaction_id: &str,
    count: usize,
    from: &str,
) -> Result<(), AppError> {
    state
        .store
        .audit(
            actor,
            "lookup.export",
            Some(project.id),
            transaction_id,
            &format!("{count} transaction(s) from {from}"),
        )
        .await?;
    Ok(())
}

/// Everything the index holds that belongs with `transaction_id`: its subscription chain and, through the app
/// account token, the same customer's other purchases.
pub(crate) async fn index_rows_for(
    state: &AppState,
    project: &Project,
    transaction_id: &str,
) -> Result<Vec<IndexedTransaction>, AppError> {
    let store = &state.store;
    let mut rows = store
        .indexed_by_transaction_id(project.id, transaction_id)
        .await?;
    if rows.is_empty() {
        // It may be an original transaction id only ever seen as such.
        rows = store
            .indexed_by_original_id(project.id, transaction_id)
            .await?;
    }
    let originals: Vec<String> = dedup(rows.iter().map(|r| r.original_transaction_id.clone()));
    let tokens: Vec<String> = dedup(rows.iter().filter_map(|r| r.app_account_token.clone()));
    let mut all = rows;
    for o in &originals {
        all.extend(store.indexed_by_original_id(project.id, o).await?);
    }
    for t in &tokens {
        all.extend(store.indexed_by_app_account_token(project.id, t).await?);
    }
    let mut seen = std::collections::HashSet::new();
    all.retain(|r| seen.insert((r.transaction_id.clone(), r.environment.clone())));
    Ok(all)
}

fn dedup(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
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

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_field("@x"), "'@x");
    }
}
