//! Browser tests: the real app on port 0 (fresh SQLite, the Apple simulator in place of Apple) driven through
//! Debian's headless Chromium and chromedriver, as a person uses it. Each test saves full-page screenshots under
//! `target/screenshots/`. Without Chromium/chromedriver the tests pass with a notice, unless
//! `STOREDESK_REQUIRE_BROWSER=1`; `.ci/browser-setup.sh` installs them. `STOREDESK_UPDATE_SCREENSHOTS=1` also
//! refreshes the README's pictures in `docs/screenshots/`.
// Test code: a failed step should stop the test with its message, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod app;
mod checks;
mod connect;
mod customers;
mod driver;
mod extensions;
mod keys;
mod lookup;
mod notifications;
mod passkeys;

mod accessibility;
mod alerts;
mod roles;
mod screens;
mod second_factor;
mod setup;
mod wizard;
