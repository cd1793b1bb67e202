//! The stylesheet and script, embedded in the binary and served under a content-hashed path so they can be
//! cached for a year and still change with each release.
use std::sync::OnceLock;

use actix_web::{web, HttpResponse};
use sha2::{Digest, Sha256};

const CSS: &str = include_str!("../../static/app.css");
const JS: &str = include_str!("../../static/app.js");

fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut h = Sha256::new();
        h.update(CSS.as_bytes());
        h.update(JS.as_bytes());
        hex::encode(&h.finalize()[..6])
    })
}

pub fn css_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| format!("/static/{}/app.css", version()))
}

pub fn js_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| format!("/static/{}/app.js", version()))
}

pub async fn serve(path: web::Path<(String, String)>) -> HttpResponse {
    let (v, file) = path.into_inner();
    let (body, content_type) = match file.as_str() {
        "app.css" => (CSS, "text/css; charset=utf-8"),
        "app.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return HttpResponse::NotFound().finish(),
    };
    let cache = if v == version() {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", cache))
        .body(body)
}
