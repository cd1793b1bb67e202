//! The CSV export of a customer's whole (filtered) history: Apple's pages followed to the end (or the index's
//! rows when Apple can't answer), each field made safe for spreadsheets, the export written to the audit log.
use serde::Serialize;

use super::{fetch_page, index_rows_for, page_from_index, HistoryFilters};
use crate::apple::models::transaction_history_request::Order;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::transactions::AuditNote;
use crate::store::{Actor, Project};
use crate::support::index::rows_of;
use crate::support::present::{TransactionView, When};
use crate::support::{call_apple, Freshness};

/// The export follows Apple's pages up to this many (20 each).
const MAX_EXPORT_PAGES: usize = 250;

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
    // Last, so that files read by column position before the catalog keep their columns.
    "product_name",
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

pub(crate) fn csv_line(
    t: &TransactionView,
    source: &str,
    as_of: Option<&When>,
    names: &crate::store::catalog::CatalogNames,
) -> String {
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
        // Codes, not sentences: Apple's revocationReason (0, 1) and storedesk's refund code.
        t.revocation
            .as_ref()
            .and_then(|r| r.reason.raw.clone())
            .unwrap_or_default(),
        t.refund_code.to_owned(),
        t.storefront.clone().unwrap_or_default(),
        t.quantity.map(|q| q.to_string()).unwrap_or_default(),
        t.app_account_token.clone().unwrap_or_default(),
        source.to_owned(),
        as_of.map(When::iso).unwrap_or_default(),
        names.product(&t.product_id).unwrap_or_default().to_owned(),
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
    let names = state.store.catalog_names(project.id).await?;
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
                body.push_str(&csv_line(t, "index", page.freshness.as_of.as_ref(), &names));
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
    // Apple's pages in last-modified order, oldest change first: a transaction Apple changes mid-export moves to
    // the end of that order, so it comes again on a later page instead of being skipped (newest first, it would
    // move ahead of the pages already read); its newer state then replaces the row already taken, so it is in the
    // file once.
    let mut lines: Vec<Option<String>> = Vec::new();
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
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
            Order::Ascending,
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
                    if let Some(earlier) = at.insert(view.transaction_id.clone(), lines.len()) {
                        lines[earlier] = None;
                    }
                    lines.push(Some(csv_line(&view, "apple", Some(&fetched_at), &names)));
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
    let count = at.len();
    for line in lines.into_iter().flatten() {
        body.push_str(&line);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_field("@x"), "'@x");
    }
}
