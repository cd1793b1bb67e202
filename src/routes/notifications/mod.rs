//! The notification log and the work around it: detail pages, refunds, the consumption-request queue,
//! backfill from Apple's history and the gap banner.
use actix_web::web;

pub mod backfill;
pub mod consumption;
pub mod detail;
pub mod log;
pub mod refunds;
pub mod view;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/projects/{project}/notifications",
        web::get().to(log::page),
    )
    .route(
        "/projects/{project}/notifications/refunds",
        web::get().to(refunds::page),
    )
    .route(
        "/projects/{project}/notifications/consumption",
        web::get().to(consumption::page),
    )
    .route(
        "/projects/{project}/notifications/consumption/{id}",
        web::post().to(consumption::send),
    )
    .route(
        "/projects/{project}/notifications/backfill",
        web::post().to(backfill::start),
    )
    .route(
        "/projects/{project}/notifications/gaps/acknowledge",
        web::post().to(log::acknowledge_gaps),
    )
    .route(
        "/projects/{project}/notifications/{id:\\d+}",
        web::get().to(detail::page),
    );
}
