//! The stylesheet and script, embedded in the binary and served under a content-hashed path so they can be
//! cached for a year and still change with each release.
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

const CSS: &str = include_str!("../static/app.css");
const JS: &str = include_str!("../static/app.js");
const PASSKEYS_JS: &str = include_str!("../static/passkeys.js");

fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut h = Sha256::new();
        h.update(CSS.as_bytes());
        h.update(JS.as_bytes());
        h.update(PASSKEYS_JS.as_bytes());
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

/// The passkeys script, loaded only by the pages that add or use a passkey.
pub fn passkeys_js_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| format!("/static/{}/passkeys.js", version()))
}

/// An embedded file by name, with its content type.
pub fn file(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "app.css" => Some((CSS, "text/css; charset=utf-8")),
        "app.js" => Some((JS, "text/javascript; charset=utf-8")),
        "passkeys.js" => Some((PASSKEYS_JS, "text/javascript; charset=utf-8")),
        _ => None,
    }
}

/// True when `v` is this build's version, so the file may be cached for good.
pub fn is_current(v: &str) -> bool {
    v == version()
}
