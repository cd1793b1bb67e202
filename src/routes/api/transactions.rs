//! The support desk as JSON (scope `read`), thin handlers over `crate::support` like the pages in
//! `routes::support`: the same look-ups, the same audit rows (`lookup.transaction`, `lookup.subscription`,
//! `lookup.export`) with the token as actor, the same sentences.
//!
//! - `GET /api/v1/projects/{project}/transactions?q=…` (plus the history filters and `rev`/`page`)
//! - `GET /api/v1/projects/{project}/subscriptions/{original_transaction_id}`
//! - `GET /api/v1/projects/{project}/transactions/{transaction_id}/history.csv`
//!
//! An answer from storedesk's index is a 200 whose `freshness.fresh` is false; only when there is nothing to show
//! does Apple's problem become the error (mapped like every Apple error of the API).
use std::collections::BTreeMap;

use actix_web::web;

use super::json::{SearchJson, SubscriptionsJson};
use super::{ok, ApiError, ApiProject, ApiResult};
use crate::domain::TransactionId;
use crate::state::AppState;
use crate::support::{
    AppleProblem, FieldError, Freshness, HistoryFilters, HistoryParams, HistoryRequest, Pasted,
    SearchInput, SearchQuery,
};

fn invalid(errors: Vec<FieldError>) -> ApiError {
    ApiError::Invalid(
        errors
            .into_iter()
            .map(|e| (e.field.to_owned(), e.message))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// Nothing to show: Apple's problem (or its "no such thing") when there was one, else a plain 404.
fn nothing(freshness: &Freshness, message: String) -> ApiError {
    match &freshness.problem {
        Some(problem) => ApiError::Lookup {
            problem: problem.clone(),
            message,
        },
        None if freshness.fresh => ApiError::Lookup {
            problem: AppleProblem::not_found(message.clone()),
            message,
        },
        None => ApiError::NotFound(message),
    }
}

pub async fn transactions(
    state: web::Data<AppState>,
    api: ApiProject,
    query: web::Query<SearchQuery>,
) -> ApiResult {
    let ApiProject { client, project } = api;
    let SearchQuery { q, history } = query.into_inner();
    // Every refusal at once, each under its query parameter.
    let input = SearchInput::parse_pasted(&q);
    let request = HistoryRequest::parse(&history);
    let (Pasted { input, receipt }, request) = match (input, request) {
        (Ok(input), Ok(request)) => (input, request),
        (input, request) => {
            let mut errors = request.err().unwrap_or_default();
            if let Err(e) = input {
                errors.push(FieldError {
                    field: "q",
                    message: e.to_string(),
                });
            }
            return Err(invalid(errors));
        }
    };
    let actor = client.actor();
    let (result, names) = tokio::join!(
        crate::support::search(&state, &project, &actor, &input, &request),
        state.store.catalog_names(project.id)
    );
    let (result, names) = (result?, names?);
    let Some(report) = &result.report else {
        let message = result
            .not_found
            .clone()
            .unwrap_or_else(|| result.freshness.sentence.clone());
        return Err(nothing(&result.freshness, message));
    };
    let base = crate::urls::api_transactions(&project.slug);
    let filters = &report.history.filters;
    let next_url = |rev: &str, page: u32| next_page(&base, &input, filters, rev, page);
    let mut json = SearchJson::new(
        &result.input,
        &result.freshness,
        &result.matches,
        report,
        result.customer.as_ref(),
        &names,
        next_url,
    );
    json.query.from_receipt = receipt.map(|kind| kind.code());
    ok(&json)
}

/// The address of an older history page: the same query and filters, Apple's revision and the page number.
fn next_page(
    base: &str,
    input: &SearchInput,
    filters: &HistoryFilters,
    rev: &str,
    page: u32,
) -> String {
    let mut pairs = vec![("q", input.value().to_owned())];
    pairs.extend(filters.pairs());
    pairs.push(("rev", rev.to_owned()));
    pairs.push(("page", page.to_string()));
    crate::urls::link(base, &pairs)
}

pub async fn subscription(
    state: web::Data<AppState>,
    api: ApiProject,
    path: web::Path<(String, String)>,
) -> ApiResult {
    let ApiProject { client, project } = api;
    let (_, id) = path.into_inner();
    let actor = client.actor();
    let (report, names) = tokio::join!(
        crate::support::subscription_status(&state, &project, &actor, &id),
        state.store.catalog_names(project.id)
    );
    let (report, names) = (report?, names?);
    if report.groups.is_empty() && report.indexed.is_empty() {
        let message = report
            .not_found
            .clone()
            .unwrap_or_else(|| report.freshness.sentence.clone());
        return Err(nothing(&report.freshness, message));
    }
    ok(&SubscriptionsJson::new(&report, &names))
}

pub async fn history_csv(
    state: web::Data<AppState>,
    api: ApiProject,
    path: web::Path<(String, String)>,
    query: web::Query<HistoryParams>,
) -> ApiResult {
    let ApiProject { client, project } = api;
    let (_, transaction_id) = path.into_inner();
    let Ok(transaction_id) = TransactionId::parse(&transaction_id) else {
        return Err(ApiError::NotFound(format!(
            "“{}” is not a transaction id: those are digits only, such as 2000000442013708.",
            transaction_id.chars().take(40).collect::<String>()
        )));
    };
    let filters = HistoryFilters::parse(&query).map_err(invalid)?;
    let export =
        crate::support::export_csv(&state, &project, &client.actor(), &transaction_id, &filters)
            .await?;
    // A file of only the header row would hide why it is empty.
    let empty_from_index = export.rows == 0 && export.freshness.problem.is_some();
    if !export.complete || empty_from_index {
        return Err(nothing(
            &export.freshness,
            export.freshness.sentence.clone(),
        ));
    }
    Ok(crate::routes::page::csv_download(
        &export.file_name,
        export.body,
    ))
}
