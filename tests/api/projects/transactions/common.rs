//! Shared by the support desk tests: the app wired to a fresh simulator with a short Apple timeout (so a hanging
//! Apple fails fast), the project `demo` with a simulator key, and a signed-in admin.
use std::time::Duration;

use storedesk::apple_sim::SimConfig;
use storedesk::domain::Role;

use crate::helpers::{project_for, spawn_app_with, store_key, Backend, Ready};

/// Apple's answer time budget in these tests; the Hang fault outlasts it.
pub const APPLE_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn ready_support(backend: Backend) -> Option<Ready> {
    let sim = storedesk::apple_sim::spawn(SimConfig::default())
        .await
        .expect("simulator");
    let (production, sandbox, root) = (sim.production_url(), sim.sandbox_url(), sim.root_ca_der());
    let connect = sim.connect_url();
    let app = spawn_app_with(backend, move |s| {
        s.apple.production_url = production;
        s.apple.sandbox_url = sandbox;
        s.apple.connect_url = connect;
        s.apple.extra_roots = vec![root];
        s.apple.timeout = APPLE_TIMEOUT;
    })
    .await?;
    let admin = app.session(Role::Admin).await;
    let project = project_for(&app, &sim, &admin).await;
    store_key(&app, &project, &sim.issue_key()).await;
    Some(Ready {
        app,
        sim,
        admin,
        project,
    })
}

/// Runs one test body on SQLite and on PostgreSQL, each with its own app and simulator.
#[macro_export]
macro_rules! support_test {
    ($name:ident, |$r:ident| $body:block) => {
        $crate::on_both_backends!(
            $name,
            |backend| $crate::projects::transactions::common::ready_support(backend),
            $r => $body
        );
    };
}

/// A sentence as askama writes it into a page.
pub fn html(s: &str) -> String {
    s.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

/// `/projects/demo/transactions?q=…`
pub fn search(q: &str) -> String {
    format!(
        "/projects/demo/transactions?q={}",
        storedesk::urls::urlencode(q)
    )
}

/// Rows of the first table body after `marker` (a heading id), counted by `<tr`.
pub fn rows_after(page: &str, marker: &str) -> usize {
    let Some(start) = page.find(marker) else {
        return 0;
    };
    let rest = &page[start..];
    let Some(body) = rest.find("<tbody>") else {
        return 0;
    };
    let end = rest[body..]
        .find("</tbody>")
        .map(|e| e + body)
        .unwrap_or(rest.len());
    rest[body..end].matches("<tr").count()
}

/// The transaction ids linked in the history table of a page.
pub fn history_ids(page: &str) -> Vec<String> {
    let Some(start) = page.find("id=\"history\"") else {
        return Vec::new();
    };
    let rest = &page[start..];
    let end = rest.find("id=\"refunds\"").unwrap_or(rest.len());
    let section = &rest[..end];
    let mut ids = Vec::new();
    for part in section.split("<a class=\"id\" href=\"").skip(1) {
        if let Some(close) = part.find("\">") {
            let after = &part[close + 2..];
            if let Some(end) = after.find("</a>") {
                ids.push(after[..end].to_string());
            }
        }
    }
    ids
}

/// The lookups written to the audit log, as (action, target, detail).
pub async fn lookups(app: &crate::helpers::TestApp) -> Vec<(String, String, String)> {
    app.store
        .list_audit(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action.starts_with("lookup.") || e.action.starts_with("subscription."))
        .map(|e| (e.action, e.target, e.detail))
        .collect()
}

/// Nothing like a stack trace or an internal error page.
pub fn assert_no_trace(page: &str) {
    for bad in [
        "panicked",
        "Caused by",
        "stack backtrace",
        "src/",
        "Something went wrong",
    ] {
        assert!(!page.contains(bad), "page shows {bad:?}: {page}");
    }
}

/// The HTML of the section whose heading has `id="{heading}"`, up to the section's end.
pub fn section<'a>(page: &'a str, heading: &str) -> &'a str {
    let marker = format!("id=\"{heading}\"");
    let Some(start) = page.find(&marker) else {
        return "";
    };
    let rest = &page[start..];
    let end = rest.find("</section>").unwrap_or(rest.len());
    &rest[..end]
}
