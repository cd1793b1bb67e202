//! The In-App Purchase key: Step 3 of the App Store wizard, and the key history with rotate and revoke.
use actix_web::web;

pub mod history;
pub mod upload;
pub mod verify;
pub mod wizard;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/projects/{project}/settings/stores/apple",
        web::get().to(wizard::page),
    )
    .route(
        "/projects/{project}/settings/stores/apple/key",
        web::post().to(wizard::save_key),
    )
    .route("/projects/{project}/keys", web::get().to(history::page))
    .route("/projects/{project}/keys", web::post().to(history::rotate))
    .route(
        "/projects/{project}/keys/{id}/revoke",
        web::post().to(history::revoke),
    )
    .route(
        "/projects/{project}/keys/verify",
        web::post().to(verify::verify_now),
    );
}

/// Status words and badge colours shared by the wizard and the keys page.
pub fn status_badge(status: &str) -> &'static str {
    match status {
        "active" => "badge-good",
        "failing" => "badge-bad",
        "revoked" => "badge-bad",
        _ => "badge-neutral",
    }
}
