//! `GET /static/{version}/{file}`: the embedded stylesheet and script (`crate::assets`), cached for a year when the
//! version is this build's.
use actix_web::{web, HttpResponse};

pub async fn serve(path: web::Path<(String, String)>) -> HttpResponse {
    let (v, file) = path.into_inner();
    let Some((body, content_type)) = crate::assets::file(&file) else {
        return HttpResponse::NotFound().finish();
    };
    let cache = if crate::assets::is_current(&v) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", cache))
        .body(body)
}
