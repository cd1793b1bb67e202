//! Admin areas: users, the audit log and API tokens (admins only).
use actix_web::web;

pub mod api_tokens;
pub mod audit;
pub mod users;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/users", web::get().to(users::list))
        .route("/admin/users", web::post().to(users::create))
        .route("/admin/users/{id}", web::post().to(users::update))
        .route("/admin/audit", web::get().to(audit::list))
        .route("/admin/api-tokens", web::get().to(api_tokens::list))
        .route("/admin/api-tokens", web::post().to(api_tokens::create))
        .route(
            "/admin/api-tokens/{id}/revoke",
            web::post().to(api_tokens::revoke),
        );
}
