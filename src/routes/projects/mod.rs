//! Projects: list, create, edit, and the per-project areas mounted below `/projects/{project}`.
use actix_web::web;

pub mod form;
pub mod pages;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/projects", web::get().to(pages::list))
        .route("/projects", web::post().to(pages::create))
        .route("/projects/new", web::get().to(pages::new_form))
        .route("/projects/{project}", web::get().to(pages::overview))
        .route("/projects/{project}/edit", web::get().to(pages::edit_form))
        .route("/projects/{project}/edit", web::post().to(pages::update));
}
