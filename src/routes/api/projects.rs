//! `GET /api/v1/projects/{project}`: the project's public facts, the simplest check that a token works.
use serde::Serialize;

use super::{ok, ApiProject, ApiResult};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectInfo {
    pub slug: String,
    pub name: String,
    pub bundle_id: String,
    pub app_apple_id: Option<i64>,
    pub environment: String,
}

pub async fn show(api: ApiProject) -> ApiResult {
    let project = api.project;
    ok(&ProjectInfo {
        slug: project.slug,
        name: project.name,
        bundle_id: project.bundle_id,
        app_apple_id: project.app_apple_id,
        environment: project.environment,
    })
}
