//! `/projects/{project}/transactions/{transaction_id}/history.csv`: the whole filtered history as a file.
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;

use crate::domain::TransactionId;
use crate::error::AppError;
use crate::routes::{render, Layout, ProjectContext};
use crate::support::{HistoryFilters, HistoryParams};

#[derive(Template)]
#[template(path = "projects/transactions/history_csv_failed.html")]
pub struct ExportFailedPage {
    pub layout: Layout,
    pub slug: String,
    pub transaction_id: String,
    pub sentence: String,
}

pub async fn csv(
    cx: ProjectContext,
    path: web::Path<(String, String)>,
    query: web::Query<HistoryParams>,
) -> Result<HttpResponse, AppError> {
    let (state, project, user) = (&cx.state, &cx.project, &cx.user);
    let (_, transaction_id) = path.into_inner();
    let Ok(transaction_id) = TransactionId::parse(&transaction_id) else {
        return Err(AppError::NotFound);
    };
    let filters = HistoryFilters::parse(&query).map_err(|errors| {
        AppError::BadRequest(
            errors
                .into_iter()
                .map(|e| e.message)
                .collect::<Vec<_>>()
                .join(" "),
        )
    })?;
    let export =
        crate::support::export_csv(state, project, &user.actor(), &transaction_id, &filters)
            .await?;
    if !export.complete {
        let page = ExportFailedPage {
            layout: cx.layout("Export stopped", "transactions"),
            slug: project.slug.clone(),
            transaction_id: transaction_id.to_string(),
            sentence: export.freshness.sentence,
        };
        return render(&cx.req, StatusCode::BAD_GATEWAY, &page);
    }
    Ok(crate::routes::page::csv_download(
        &export.file_name,
        export.body,
    ))
}
