//! Admin areas: users and the audit log (admins only).
use actix_web::web;

pub mod audit;
pub mod users;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/users", web::get().to(users::list))
        .route("/admin/users", web::post().to(users::create))
        .route("/admin/users/{id}", web::post().to(users::update))
        .route("/admin/audit", web::get().to(audit::list));
}
