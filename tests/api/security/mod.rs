//! Issue 20's security review, black-box: sign-in and the account page throttled alike, admins' ways out of a
//! lock, issued passwords replaced at first sign-in, pages kept out of caches, cookies under https, and the cap on
//! concurrent password hashing.
mod account;
mod cookies;
mod hashing;
mod host;
mod passkeys;
mod second_factor;
mod soft_passkey;

// What the two-step tests (TOTP and passkeys) share.
use storedesk::store::AuditFilter;

use crate::helpers::{csrf_from, TestApp};

pub async fn text(response: reqwest::Response) -> String {
    response.text().await.expect("body")
}

pub async fn audit(app: &TestApp, action: &str) -> Vec<storedesk::store::AuditEntry> {
    app.store
        .list_audit(&AuditFilter {
            action: Some(action.into()),
            limit: 1000,
            ..AuditFilter::default()
        })
        .await
        .expect("audit")
}

pub async fn user_id(app: &TestApp, email: &str) -> i64 {
    app.store
        .user_by_email(email)
        .await
        .expect("lookup")
        .expect("user")
        .id
}

/// Posts one of the account page's forms with the page's token.
pub async fn account_post(
    app: &TestApp,
    c: &reqwest::Client,
    action: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let page = text(
        c.get(app.url("/account"))
            .send()
            .await
            .expect("GET /account"),
    )
    .await;
    let csrf = csrf_from(&page);
    let mut all = fields.to_vec();
    all.push(("csrf_token", &csrf));
    c.post(app.url(action))
        .form(&all)
        .send()
        .await
        .expect("POST")
}
