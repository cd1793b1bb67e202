//! The route table: every URL of the console, who may use it, and the handler that answers it. The files below
//! follow the URLs: `/projects/{project}/settings/stores/apple` is answered in `projects/settings/stores/apple/`,
//! and its templates sit under the same path in `templates/`.
//!
//! Who may use a route is stated once, in [`TABLE`]; [`crate::auth::guard`] enforces it before any handler runs,
//! and the role × route test (`tests/api/roles.rs`) reads the same table.
use actix_web::http::Method;
use actix_web::middleware::from_fn;
use actix_web::{guard, web, HttpResponse};

use crate::auth::guard::{require, Access};
use crate::auth::CurrentUser;
use crate::domain::Role;
use crate::error::AppError;

pub mod account;
pub mod admin;
pub mod api;
pub mod apple;
pub mod assets;
pub mod health;
pub mod login;
pub mod page;
pub mod passkeys;
pub mod projects;
pub mod unavailable;

pub use page::{
    ok, redirect, redirect_with_flash, render, state, unprocessable, FieldErrors, Flash, Layout,
    ProjectContext, ProjectLink, ProjectNav, UserNav, FLASH_COOKIE,
};

/// One row of the route table.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
}

const ANYONE: Access = Access::Anyone;
const EVERYONE: Access = Access::SignedIn(Role::EVERYONE);
const MANAGERS: Access = Access::SignedIn(Role::MANAGERS);
const ADMINS: Access = Access::SignedIn(Role::ADMINS);

/// Declares the table once: [`TABLE`] for tests and documentation, and `register` mounting each row with its
/// guard, in the order written (routes are tried in order).
macro_rules! route_table {
    ($($method:ident $path:literal, $access:ident => $handler:path;)*) => {
        /// Every console route in the order it is tried. The JSON API has its own table (`api::TABLE`).
        pub const TABLE: &[Rule] = &[$(Rule { method: stringify!($method), path: $path, access: $access }),*];

        fn register(cfg: &mut web::ServiceConfig) {
            $(
                cfg.service(
                    web::resource($path)
                        .guard(guard::Method(Method::$method))
                        .wrap(from_fn(|req, next| require($access, req, next)))
                        // Outside `require`, so that a session read from a database that hangs is cut short too.
                        .wrap(from_fn(unavailable::cut_short))
                        .route(web::route().to($handler)),
                );
            )*
        }
    };
}

route_table! {
    // First: the webhook is the hot path. Apple proves itself by signature, not by a session.
    POST "/apple/notifications/{project_token}", ANYONE => apple::notifications::receive;
    GET "/", EVERYONE => home;
    GET "/healthz", ANYONE => health::healthz;
    GET "/readyz", ANYONE => health::readyz;
    // Uptime monitors often ask with HEAD.
    HEAD "/healthz", ANYONE => health::healthz;
    HEAD "/readyz", ANYONE => health::readyz;
    GET "/metrics", ANYONE => health::metrics;
    GET "/static/{version}/{file}", ANYONE => assets::serve;
    GET "/login", ANYONE => login::form;
    POST "/login", ANYONE => login::submit;
    GET "/login/second-step", ANYONE => login::second_step_form;
    POST "/login/second-step", ANYONE => login::second_step_submit;
    POST "/login/second-step/passkey/options", ANYONE => passkeys::sign_in_options;
    POST "/login/second-step/passkey", ANYONE => passkeys::sign_in;
    POST "/logout", EVERYONE => login::logout;
    GET "/account", EVERYONE => account::form;
    POST "/account", EVERYONE => account::submit;
    POST "/account/second-factor", EVERYONE => account::second_factor_start;
    POST "/account/second-factor/confirm", EVERYONE => account::second_factor_confirm;
    POST "/account/second-factor/disable", EVERYONE => account::second_factor_disable;
    POST "/account/second-factor/recovery-codes", EVERYONE => account::recovery_codes;
    POST "/account/passkeys/options", EVERYONE => passkeys::registration_options;
    POST "/account/passkeys", EVERYONE => passkeys::add;
    POST "/account/passkeys/{id}/remove", EVERYONE => passkeys::remove;
    // Lookups next: a support desk loads them all day, and each route before them is a pattern tried.
    GET "/projects/{project}/transactions", EVERYONE => projects::transactions::page;
    GET "/projects/{project}/transactions/{transaction_id}/history.csv", EVERYONE => projects::transactions::history_csv::csv;
    GET "/projects/{project}/subscriptions/extend-all", MANAGERS => projects::extend_all::page;
    POST "/projects/{project}/subscriptions/extend-all", MANAGERS => projects::extend_all::submit;
    GET "/projects/{project}/subscriptions/extend-all/{id:\\d+}", MANAGERS => projects::extend_all::request;
    POST "/projects/{project}/subscriptions/extend-all/{id:\\d+}/check", MANAGERS => projects::extend_all::check;
    POST "/projects/{project}/subscriptions/extend-all/{id:\\d+}/again", MANAGERS => projects::extend_all::again;
    GET "/projects/{project}/subscriptions/{original_transaction_id}", EVERYONE => projects::subscriptions::page;
    POST "/projects/{project}/subscriptions/{original_transaction_id}/extend", MANAGERS => projects::subscriptions::extend;
    GET "/projects/{project}/customers/{id}", EVERYONE => projects::customers::page;
    GET "/projects", EVERYONE => projects::list;
    POST "/projects", MANAGERS => projects::create;
    GET "/projects/new", MANAGERS => projects::new_form;
    GET "/projects/{project}", EVERYONE => projects::overview;
    GET "/projects/{project}/catalog", EVERYONE => projects::catalog::page;
    POST "/projects/{project}/catalog/sync", MANAGERS => projects::catalog::sync;
    GET "/projects/{project}/edit", MANAGERS => projects::edit_form;
    POST "/projects/{project}/edit", MANAGERS => projects::update;
    GET "/projects/{project}/settings/stores/apple", MANAGERS => projects::settings::stores::apple::page;
    POST "/projects/{project}/settings/stores/apple/connect-key", MANAGERS => projects::settings::stores::apple::connect_key::save;
    POST "/projects/{project}/settings/stores/apple/connect-key/revoke", MANAGERS => projects::settings::stores::apple::connect_key::revoke;
    POST "/projects/{project}/settings/stores/apple/connect-key/verify", MANAGERS => projects::settings::stores::apple::connect_key::verify;
    POST "/projects/{project}/settings/stores/apple/key", MANAGERS => projects::settings::stores::apple::key::save;
    POST "/projects/{project}/settings/stores/apple/notification-url/regenerate", MANAGERS => projects::settings::stores::apple::notification_url::regenerate;
    POST "/projects/{project}/settings/stores/apple/test-notification", MANAGERS => projects::settings::stores::apple::test_notification::send;
    GET "/projects/{project}/settings/stores/apple/test-notification/{id}", MANAGERS => projects::settings::stores::apple::test_notification::page;
    GET "/projects/{project}/settings/stores/apple/test-notification/{id}/status", MANAGERS => projects::settings::stores::apple::test_notification::status;
    GET "/projects/{project}/keys", EVERYONE => projects::keys::page;
    POST "/projects/{project}/keys", MANAGERS => projects::keys::rotate;
    POST "/projects/{project}/keys/{id}/revoke", MANAGERS => projects::keys::revoke::revoke;
    POST "/projects/{project}/keys/{id}/correct", MANAGERS => projects::keys::correct::correct;
    POST "/projects/{project}/keys/verify", MANAGERS => projects::keys::verify::verify_now;
    GET "/admin/users", ADMINS => admin::users::list;
    POST "/admin/users", ADMINS => admin::users::create;
    POST "/admin/users/{id}", ADMINS => admin::users::update;
    POST "/admin/users/{id}/unlock", ADMINS => admin::users::unlock;
    POST "/admin/users/{id}/reset-password", ADMINS => admin::users::reset_password;
    POST "/admin/users/{id}/reset-second-factor", ADMINS => admin::users::reset_second_factor;
    GET "/admin/audit", ADMINS => admin::audit::list;
    GET "/admin/api-tokens", ADMINS => admin::api_tokens::list;
    POST "/admin/api-tokens", ADMINS => admin::api_tokens::create;
    POST "/admin/api-tokens/{id}/revoke", ADMINS => admin::api_tokens::revoke;
    GET "/projects/{project}/notifications", EVERYONE => projects::notifications::page;
    GET "/projects/{project}/notifications/refunds", EVERYONE => projects::notifications::refunds::page;
    GET "/projects/{project}/notifications/consumption", EVERYONE => projects::notifications::consumption::page;
    POST "/projects/{project}/notifications/consumption/{id}", EVERYONE => projects::notifications::consumption::send;
    POST "/projects/{project}/notifications/backfill", MANAGERS => projects::notifications::backfill::start;
    POST "/projects/{project}/notifications/gaps/acknowledge", MANAGERS => projects::notifications::acknowledge_gaps;
    GET "/projects/{project}/notifications/{id:\\d+}", EVERYONE => projects::notifications::detail::page;
    GET "/projects/{project}/offers", MANAGERS => projects::offers::page;
    POST "/projects/{project}/offers", MANAGERS => projects::offers::sign;
    GET "/projects/{project}/settings/consumption", MANAGERS => projects::settings::consumption::page;
    POST "/projects/{project}/settings/consumption", MANAGERS => projects::settings::consumption::save;
    GET "/projects/{project}/settings/alerts", MANAGERS => projects::settings::alerts::page;
    POST "/projects/{project}/settings/alerts/email", MANAGERS => projects::settings::alerts::email::add;
    POST "/projects/{project}/settings/alerts/webhooks", MANAGERS => projects::settings::alerts::webhooks::add;
    POST "/projects/{project}/settings/alerts/{id:\\d+}/remove", MANAGERS => projects::settings::alerts::channel::remove;
    POST "/projects/{project}/settings/alerts/{id:\\d+}/test", MANAGERS => projects::settings::alerts::channel::test;
    // Forwarding: support reads the destinations and their logs (issue 18); only managers change them.
    GET "/projects/{project}/settings/forwarding", EVERYONE => projects::settings::forwarding::page;
    POST "/projects/{project}/settings/forwarding", MANAGERS => projects::settings::forwarding::add;
    GET "/projects/{project}/settings/forwarding/{id:\\d+}", EVERYONE => projects::settings::forwarding::destination::page;
    POST "/projects/{project}/settings/forwarding/{id:\\d+}", MANAGERS => projects::settings::forwarding::destination::update;
    POST "/projects/{project}/settings/forwarding/{id:\\d+}/pause", MANAGERS => projects::settings::forwarding::actions::pause;
    POST "/projects/{project}/settings/forwarding/{id:\\d+}/resume", MANAGERS => projects::settings::forwarding::actions::resume;
    POST "/projects/{project}/settings/forwarding/{id:\\d+}/rotate", MANAGERS => projects::settings::forwarding::actions::rotate;
    POST "/projects/{project}/settings/forwarding/{id:\\d+}/remove", MANAGERS => projects::settings::forwarding::actions::remove;
    POST "/projects/{project}/settings/forwarding/{id:\\d+}/test", MANAGERS => projects::settings::forwarding::actions::test;
    POST "/projects/{project}/settings/forwarding/{id:\\d+}/replay", MANAGERS => projects::settings::forwarding::replay::start;
    POST "/projects/{project}/notifications/{id:\\d+}/redeliver", MANAGERS => projects::notifications::redeliver::redeliver;
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    register(cfg);
    cfg.configure(api::configure)
        .default_service(web::to(not_found));
}

async fn home(_user: CurrentUser) -> HttpResponse {
    redirect("/projects")
}

async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::urls;

    /// Whether a concrete path is an address of a route pattern (`{name}` takes one segment, `{id:\d+}` digits).
    fn is_address_of(pattern: &str, path: &str) -> bool {
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let (p, a): (Vec<_>, Vec<_>) = (pattern.split('/').collect(), path.split('/').collect());
        p.len() == a.len()
            && p.iter().zip(&a).all(|(p, a)| match p.strip_prefix('{') {
                Some(var) if var.contains(":\\d+") => a.bytes().all(|b| b.is_ascii_digit()),
                Some(_) => !a.is_empty(),
                None => p == a,
            })
    }

    #[test]
    fn every_url_function_builds_a_route_and_every_page_has_one() {
        let (s, id, tx) = ("demo", 7_i64, "2000000874121031");
        let built: Vec<(&str, String)> = vec![
            ("GET", urls::login("")),
            ("GET", urls::login("/projects/demo")),
            ("POST", urls::login("")),
            ("POST", urls::logout()),
            ("GET", urls::account()),
            ("POST", urls::account()),
            ("GET", urls::login_second_step()),
            ("POST", urls::login_second_step()),
            ("POST", urls::account_second_factor()),
            ("POST", urls::account_second_factor_confirm()),
            ("POST", urls::account_second_factor_disable()),
            ("POST", urls::account_recovery_codes()),
            ("POST", urls::login_second_step_passkey_options()),
            ("POST", urls::login_second_step_passkey()),
            ("POST", urls::account_passkey_options()),
            ("POST", urls::account_passkeys()),
            ("POST", urls::account_passkey_remove(7)),
            ("GET", urls::transactions(s)),
            ("GET", urls::search(s, tx)),
            ("GET", urls::history_csv(s, tx)),
            ("GET", urls::subscription(s, tx)),
            ("POST", urls::subscription_extend(s, tx)),
            ("GET", urls::extend_all(s)),
            ("POST", urls::extend_all(s)),
            ("GET", urls::extend_all_request(s, id)),
            ("POST", urls::extend_all_check(s, id)),
            ("POST", urls::extend_all_again(s, id)),
            ("GET", urls::customer(s, tx)),
            (
                "GET",
                urls::customer(s, "f3b1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d"),
            ),
            ("GET", urls::projects()),
            ("POST", urls::projects()),
            ("GET", urls::new_project()),
            ("GET", urls::project(s)),
            ("GET", urls::project_edit(s)),
            ("POST", urls::project_edit(s)),
            ("GET", urls::apple_settings(s)),
            ("GET", urls::apple_step4(s)),
            ("POST", urls::apple_connect_key(s)),
            ("POST", urls::apple_connect_key_revoke(s)),
            ("POST", urls::apple_connect_key_verify(s)),
            ("GET", urls::catalog(s)),
            ("POST", urls::catalog_sync(s)),
            ("POST", urls::apple_key(s)),
            ("POST", urls::notification_url_regenerate(s)),
            ("POST", urls::test_notifications(s)),
            ("GET", urls::test_notification(s, id)),
            ("GET", urls::test_notification_status(s, id)),
            ("GET", urls::keys(s)),
            ("POST", urls::keys(s)),
            ("POST", urls::key_revoke(s, id)),
            ("POST", urls::keys_verify(s)),
            ("POST", urls::key_correct(s, id)),
            ("GET", urls::admin_users()),
            ("POST", urls::admin_users()),
            ("POST", urls::admin_user(id)),
            ("POST", urls::admin_user_unlock(id)),
            ("POST", urls::admin_user_reset_password(id)),
            ("POST", urls::admin_user_reset_second_factor(id)),
            ("GET", urls::admin_audit()),
            ("GET", urls::admin_api_tokens()),
            ("POST", urls::admin_api_tokens()),
            ("POST", urls::admin_api_token_revoke(id)),
            ("GET", urls::notifications(s)),
            ("GET", urls::refunds(s)),
            ("GET", urls::consumption(s)),
            ("GET", urls::consumption_policy(s)),
            ("POST", urls::consumption_policy(s)),
            ("GET", urls::consumption_request(s, id)),
            ("POST", urls::consumption_answer(s, id)),
            ("POST", urls::backfill(s)),
            ("POST", urls::gaps_acknowledge(s)),
            ("GET", urls::notification(s, id)),
            ("GET", urls::offers(s)),
            ("POST", urls::offers(s)),
            ("GET", urls::alert_settings(s)),
            ("POST", urls::alert_email(s)),
            ("POST", urls::alert_webhooks(s)),
            ("POST", urls::alert_channel_remove(s, id)),
            ("POST", urls::alert_channel_test(s, id)),
            ("GET", urls::forwarding(s)),
            ("POST", urls::forwarding(s)),
            ("GET", urls::forwarding_destination(s, id)),
            (
                "GET",
                urls::forwarding_log(s, id, "dead", "Sandbox", Some(9)),
            ),
            ("POST", urls::forwarding_destination(s, id)),
            ("POST", urls::forwarding_pause(s, id)),
            ("POST", urls::forwarding_resume(s, id)),
            ("POST", urls::forwarding_rotate(s, id)),
            ("POST", urls::forwarding_remove(s, id)),
            ("POST", urls::forwarding_test(s, id)),
            ("POST", urls::forwarding_replay(s, id)),
            ("POST", urls::notification_redeliver(s, id)),
        ];
        for (method, url) in &built {
            assert!(
                TABLE
                    .iter()
                    .any(|r| r.method == *method && is_address_of(r.path, url)),
                "{method} {url} is no route of the table"
            );
        }
        // Every route a person reaches from a page or a form has its function; the machines' routes don't need one.
        let for_machines = ["/", "/healthz", "/readyz", "/metrics"];
        for rule in TABLE.iter().filter(|r| {
            !r.path.starts_with("/apple/")
                && !for_machines.contains(&r.path)
                && !r.path.starts_with("/static/")
                && r.method != "HEAD"
        }) {
            assert!(
                built
                    .iter()
                    .any(|(m, url)| *m == rule.method && is_address_of(rule.path, url)),
                "{} {} has no function in crate::urls",
                rule.method,
                rule.path
            );
        }
        // Values are encoded: a query keeps its slash, a path segment cannot reach another route with one.
        assert_eq!(
            urls::search(s, "a b/c"),
            "/projects/demo/transactions?q=a%20b/c"
        );
        assert_eq!(
            urls::subscription(s, "1/2"),
            "/projects/demo/subscriptions/1%2F2"
        );
    }
}
