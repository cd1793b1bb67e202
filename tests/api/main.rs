//! Black-box tests: the real server on port 0, a fresh database per test, HTTP like a browser.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod helpers;

mod admin_users;
mod api_lookup;
mod api_tokens;
mod audit;
mod auth;
mod budget;
mod health;
mod keys;
mod offers;
mod projects;
mod roles;
mod step3;
mod support_common;
mod support_history;
mod support_outage;
mod support_search;
mod support_subscriptions;
mod verify;
