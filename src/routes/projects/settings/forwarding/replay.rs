//! `POST /projects/{project}/settings/forwarding/{id}/replay`: sends a date range of stored notifications (by
//! Apple's signing date, UTC days, both included) to one destination again, optionally only one environment or
//! some types. The form records the replay; the background job (`crate::forwarding::replay`) queues it in
//! batches, and the destination's page shows its progress.
use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::destination::{destination_of, destination_page, LogQuery, ReplayForm};
use crate::auth::csrf::CsrfForm;
use crate::clock::parse_day;
use crate::error::AppError;
use crate::notifications::words::KNOWN_TYPES;
use crate::routes::{redirect_with_flash, ProjectContext};
use crate::store::forwarding::NewReplay;

const DAY_MS: i64 = 86_400_000;
pub const BAD_FROM: &str = "Write the first day as YYYY-MM-DD, for example 2026-11-01.";
pub const BAD_TO: &str = "Write the last day as YYYY-MM-DD, for example 2026-11-27.";
pub const TO_BEFORE_FROM: &str = "The last day comes before the first day.";

#[derive(Deserialize, Default)]
pub struct ReplayFields {
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub environment: String,
    /// Types separated by commas or spaces; empty for every type.
    #[serde(default)]
    pub types: String,
}

/// Checks the form: the replay to record, or the form to show again with its sentences.
pub fn check(destination_id: i64, f: &ReplayFields) -> Result<NewReplay, Box<ReplayForm>> {
    let mut shown = ReplayForm {
        from: f.from.trim().to_owned(),
        to: f.to.trim().to_owned(),
        environment: f.environment.trim().to_owned(),
        types: f.types.trim().to_owned(),
        ..ReplayForm::default()
    };
    let from = parse_day(&f.from);
    let to = parse_day(&f.to);
    if from.is_none() {
        shown.from_error = Some(BAD_FROM.into());
    }
    if to.is_none() {
        shown.to_error = Some(BAD_TO.into());
    }
    if let (Some(from), Some(to)) = (from, to) {
        if to < from {
            shown.to_error = Some(TO_BEFORE_FROM.into());
        }
    }
    let environment = match shown.environment.as_str() {
        "" => None,
        "Production" | "Sandbox" => Some(shown.environment.clone()),
        _ => {
            shown.environment = String::new();
            None
        }
    };
    let types: Vec<String> = shown
        .types
        .split([',', ' '])
        .map(|t| t.trim().to_ascii_uppercase())
        .filter(|t| !t.is_empty())
        .collect();
    if let Some(unknown) = types.iter().find(|t| !KNOWN_TYPES.contains(&t.as_str())) {
        shown.types_error = Some(format!(
            "“{unknown}” is not a notification type Apple sends. Use the codes shown in the notification log, such as DID_RENEW, separated by commas."
        ));
    }
    match (from, to) {
        (Some(from), Some(to))
            if shown.from_error.is_none()
                && shown.to_error.is_none()
                && shown.types_error.is_none() =>
        {
            Ok(NewReplay {
                destination_id,
                from_ms: from,
                to_ms: to + DAY_MS,
                environment,
                types: KNOWN_TYPES
                    .iter()
                    .filter(|t| types.iter().any(|x| x == *t))
                    .map(|t| (*t).to_owned())
                    .collect(),
            })
        }
        _ => Err(Box::new(shown)),
    }
}

pub async fn start(
    cx: ProjectContext,
    path: web::Path<(String, i64)>,
    form: CsrfForm<ReplayFields>,
) -> Result<HttpResponse, AppError> {
    let (_, id) = path.into_inner();
    let d = destination_of(&cx, id).await?;
    let replay = match check(id, &form) {
        Ok(replay) => replay,
        Err(shown) => {
            let mut page = destination_page(&cx, &d, &LogQuery::default()).await?;
            page.replay = *shown;
            return cx.unprocessable(&page);
        }
    };
    let row = cx
        .state
        .store
        .start_forward_replay(cx.project.id, &replay, &cx.user.actor())
        .await?;
    let message = match row.matched {
        0 => "No stored notification matches this replay, so nothing is sent.".to_owned(),
        n => format!(
            "Replay started: {n} notification{} will be sent to “{}” again, each with its own webhook-id. Its progress shows below; reload the page to follow it.",
            if n == 1 { "" } else { "s" },
            d.settings.name
        ),
    };
    Ok(redirect_with_flash(
        &format!(
            "{}#replays",
            crate::urls::forwarding_destination(&cx.project.slug, id)
        ),
        if row.matched == 0 { "warn" } else { "ok" },
        &message,
    ))
}
