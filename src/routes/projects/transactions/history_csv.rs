//! `/projects/{project}/transactions/{transaction_id}/history.csv`: the whole filtered history as a file.
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use crate::auth::CurrentUser;
use crate::domain::TransactionId;
use crate::error::AppError;
use crate::routes::{project_by_slug, render, Layout};
use crate::state::AppState;
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
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<(String, String)>,
    query: web::Query<HistoryParams>,
) -> Result<HttpResponse, AppError> {
    let (slug, transaction_id) = path.into_inner();
    let project = project_by_slug(&state, &slug).await?;
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
        crate::support::export_csv(&state, &project, &user.actor(), &transaction_id, &filters)
            .await?;
    if !export.complete {
        let page = ExportFailedPage {
            layout: Layout::new(
                &state,
                &req,
                &user,
                "Export stopped",
                Some((&project, "transactions")),
            )
            .await?,
            slug: project.slug.clone(),
            transaction_id: transaction_id.to_string(),
            sentence: export.freshness.sentence,
        };
        return render(&req, StatusCode::BAD_GATEWAY, &page);
    }
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}\"", export.file_name),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(export.body))
}
