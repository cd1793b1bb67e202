//! Black-box tests: the real server on port 0, a fresh database per test, HTTP like a browser.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod helpers;

mod admin_users;
mod audit;
mod auth;
mod health;
mod keys;
mod projects;
mod roles;
mod step3;
mod step4;
mod verify;
mod webhook;
