//! Black-box tests: the real server on port 0, a fresh database per test, HTTP like a browser. The folders follow
//! the URLs: the tests of `/projects/{project}/keys` are in `projects/keys/`, as its handler is in
//! `src/routes/projects/keys/`; what crosses the routes (roles, bad requests, the layers) sits at the top.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod helpers;

mod admin;
mod api;
mod apple;
mod apple_faults;
mod architecture;
mod auth;
mod bad_requests;
mod budget;
mod check;
mod demo;
mod deploy;
mod faults;
mod first_run;
mod forwarding;
mod fuzz_corpus;
mod health;
mod housekeeping;
mod index_store;
mod projects;
mod proxies;
mod roles;
mod security;
mod storage;
