//! Sign-in and sign-out. The answer never tells whether an e-mail address has an account.
use actix_web::cookie::{Cookie, SameSite};
use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use askama::Template;
use secrecy::SecretString;
use serde::Deserialize;

use super::{redirect, render, Layout};
use crate::auth::csrf::{self, CsrfForm, NoFields, LOGIN_CSRF_COOKIE};
use crate::auth::second_factor::{self, StepOutcome};
use crate::auth::session::{self, client_ip, CurrentUser};
use crate::auth::{password, throttle};
use crate::error::AppError;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub layout: Layout,
    pub email: String,
    pub next: String,
    pub error: Option<String>,
    pub login_csrf: String,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Only same-site paths are followed after sign-in, never another origin; a control character (which no
/// Location header may hold) sends the user to the projects list instead.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.starts_with("/login")
                && !n.chars().any(char::is_control) =>
        {
            n.to_string()
        }
        _ => crate::urls::projects(),
    }
}

fn login_csrf_cookie(token: &str, secure: bool) -> Cookie<'static> {
    Cookie::build(LOGIN_CSRF_COOKIE, token.to_string())
        .path("/login")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .finish()
}

fn login_page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    email: &str,
    next: &str,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    let token = csrf::new_token();
    let page = LoginPage {
        layout: Layout::anonymous("Sign in", req),
        email: email.to_string(),
        next: next.to_string(),
        error,
        login_csrf: token.clone(),
    };
    let mut response = render(req, status, &page)?;
    response
        .add_cookie(&login_csrf_cookie(&token, state.settings.secure_cookies()))
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("cookie: {e}")))?;
    Ok(response)
}

pub async fn form(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, AppError> {
    login_page(
        &req,
        &state,
        StatusCode::OK,
        "",
        &safe_next(query.next.as_deref()),
        None,
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    password: SecretString,
    #[serde(default)]
    next: String,
}

/// Who tried to sign in, as the audit log records it: the address typed (cut to a sane length) and the client.
fn attempt_actor(email: &str, ip: &str) -> crate::store::Actor {
    crate::store::Actor {
        user_id: None,
        email: email.chars().take(254).collect(),
        ip: ip.to_owned(),
    }
}

pub const WRONG_CREDENTIALS: &str = "The e-mail address or password is not right.";

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: CsrfForm<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let next = safe_next(Some(&form.next));
    let email = form.email.trim().to_ascii_lowercase();
    // No account's address holds a control character; such an address is answered like any wrong one, before it
    // reaches the database (PostgreSQL refuses a NUL).
    if email.chars().any(char::is_control) {
        return login_page(
            &req,
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            "",
            &next,
            Some(WRONG_CREDENTIALS.to_string()),
        );
    }
    let ip = client_ip(&req);
    let now = crate::clock::now_ms();

    let attempt = match throttle::admit(&state.store, &email, &ip, now).await? {
        throttle::Admission::Admitted(attempt) => attempt,
        throttle::Admission::Paused { minutes } => {
            state
                .store
                .audit(
                    &attempt_actor(&email, &ip),
                    "auth.sign_in_locked",
                    None,
                    &email,
                    "refused: too many failed attempts from this address",
                )
                .await?;
            let message = format!(
                "Too many failed sign-in attempts. Sign-in is paused for {}; try again then, or ask an admin to unlock your account.",
                throttle::minutes(minutes)
            );
            return login_page(
                &req,
                &state,
                StatusCode::TOO_MANY_REQUESTS,
                &email,
                &next,
                Some(message),
            );
        }
    };

    let user = state.store.user_by_email(&email).await?;
    let hash = user
        .as_ref()
        .filter(|u| !u.disabled)
        .map(|u| u.password_hash.clone());
    let ok = match password::verify_password(form.password, hash).await {
        Ok(ok) => ok,
        Err(e) => {
            // Nothing was checked (too busy, or the check failed): the attempt is not a failure of this user's.
            attempt.not_a_failure(&state.store).await?;
            return Err(e.into());
        }
    };
    let Some(user) = user.filter(|_| ok) else {
        // The attempt was counted as failed before the check.
        state.metrics.inc("storedesk_login_failures_total", "");
        tracing::info!(ip = %ip, "sign-in failed");
        state
            .store
            .audit(
                &attempt_actor(&email, &ip),
                "auth.sign_in_failed",
                None,
                &email,
                "wrong e-mail address or password",
            )
            .await?;
        return login_page(
            &req,
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            &email,
            &next,
            Some(WRONG_CREDENTIALS.to_string()),
        );
    };

    attempt.not_a_failure(&state.store).await?;
    // An issued password leads to the page that replaces it, whatever was asked for.
    let next = if user.must_change_password {
        crate::urls::account()
    } else {
        next
    };
    if state.store.has_second_factor(user.id).await? {
        // The password was right; failures are forgotten only once the second step passes too.
        return ask_second_factor(&state, &user, &ip, &next).await;
    }
    state
        .store
        .clear_login_failures(&throttle::account_subject(&email, &ip))
        .await?;
    start_session(
        &req,
        &state,
        &user,
        &ip,
        &next,
        if user.must_change_password {
            "signed in with an issued password; must choose their own"
        } else {
            "signed in"
        },
    )
    .await
}

/// Starts the session of a user who proved who they are, ends whichever session the browser still held, audits
/// the sign-in and sends them on to `next`.
async fn start_session(
    req: &HttpRequest,
    state: &AppState,
    user: &crate::store::User,
    ip: &str,
    next: &str,
    detail: &str,
) -> Result<HttpResponse, AppError> {
    let token = session::new_session_token();
    let user_agent = req
        .headers()
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    state
        .store
        .create_session(
            &session::token_hash(&token),
            user.id,
            &csrf::new_token(),
            ip,
            user_agent,
        )
        .await?;
    // A session this browser still held (another user's, or its own from before) ends with the new one, so a
    // token planted in the browser before sign-in is worth nothing afterwards.
    if let Some(old) = req.cookie(session::session_cookie_name(
        state.settings.secure_cookies(),
    )) {
        state
            .store
            .delete_session_by_token_hash(&session::token_hash(old.value()))
            .await?;
    }
    tracing::info!(user_id = user.id, "signed in");
    state
        .store
        .audit(
            &crate::store::Actor {
                user_id: Some(user.id),
                email: user.email.clone(),
                ip: ip.to_owned(),
            },
            "auth.sign_in",
            None,
            &user.email,
            detail,
        )
        .await?;
    let secure = state.settings.secure_cookies();
    let mut response = redirect(next);
    response
        .add_cookie(&session::session_cookie(token, secure))
        .and_then(|_| response.add_removal_cookie(&login_csrf_cookie("", secure)))
        .and_then(|_| response.add_removal_cookie(&pending_cookie("", secure)))
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("cookie: {e}")))?;
    Ok(response)
}

pub async fn logout(
    state: web::Data<AppState>,
    user: CurrentUser,
    _form: CsrfForm<NoFields>,
) -> Result<HttpResponse, AppError> {
    state.store.delete_session(user.session_id).await?;
    let mut response =
        super::redirect_with_flash(&crate::urls::login(""), "ok", "You are signed out.");
    response
        .add_cookie(&session::removal_cookie(
            session::session_cookie_name(state.settings.secure_cookies()),
            state.settings.secure_cookies(),
        ))
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("cookie: {e}")))?;
    Ok(response)
}

/// The pending sign-in's cookie: a random token whose hash names a `pending_sign_ins` row (bound to the user, five
/// minutes, single use). It opens nothing but the second step.
pub const PENDING_COOKIE: &str = "storedesk_pending_sign_in";
/// Under https it takes the `__Host-` prefix, as the session cookie does (Secure, the whole host, no Domain): no
/// sibling subdomain or plain-http page can plant one.
pub const SECURE_PENDING_COOKIE: &str = "__Host-storedesk_pending_sign_in";

pub fn pending_cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_PENDING_COOKIE
    } else {
        PENDING_COOKIE
    }
}

fn pending_cookie(token: &str, secure: bool) -> Cookie<'static> {
    // `__Host-` requires Path=/; over plain http the cookie stays on the sign-in's pages.
    Cookie::build(pending_cookie_name(secure), token.to_string())
        .path(if secure { "/" } else { "/login" })
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .max_age(actix_web::cookie::time::Duration::milliseconds(
            second_factor::PENDING_MS,
        ))
        .finish()
}

/// After the right password of a user with a second factor: no session yet, only a pending sign-in.
async fn ask_second_factor(
    state: &AppState,
    user: &crate::store::User,
    ip: &str,
    next: &str,
) -> Result<HttpResponse, AppError> {
    let token = session::new_session_token();
    let now = crate::clock::now_ms();
    state
        .store
        .create_pending_sign_in(
            &session::token_hash(&token),
            user.id,
            next,
            now,
            now + second_factor::PENDING_MS,
        )
        .await?;
    tracing::info!(user_id = user.id, "password accepted; second step asked");
    state
        .store
        .audit(
            &crate::store::Actor {
                user_id: Some(user.id),
                email: user.email.clone(),
                ip: ip.to_owned(),
            },
            "auth.second_factor_asked",
            None,
            &user.email,
            "right password; waiting for the second step",
        )
        .await?;
    let mut response = redirect(&crate::urls::login_second_step());
    response
        .add_cookie(&pending_cookie(&token, state.settings.secure_cookies()))
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("cookie: {e}")))?;
    Ok(response)
}

#[derive(Template)]
#[template(path = "login_second_step.html")]
pub struct SecondStepPage {
    pub layout: Layout,
    pub error: Option<String>,
    pub login_csrf: String,
    pub methods: Methods,
    pub passkey_js: &'static str,
}

/// The second step's methods a user has.
#[derive(Clone, Copy, Debug, Default)]
pub struct Methods {
    /// A passkey made for this console's host.
    pub passkey: bool,
    /// The authenticator app.
    pub totp: bool,
    /// Recovery codes left.
    pub recovery: bool,
}

impl Methods {
    pub async fn of(state: &AppState, user_id: i64) -> Result<Methods, AppError> {
        let passkey = match crate::auth::passkey::RelyingParty::of(&state.settings.public_url) {
            Ok(rp) => !crate::auth::passkey::usable_passkeys(&state.store, &rp, user_id)
                .await?
                .is_empty(),
            Err(_) => false,
        };
        Ok(Methods {
            passkey,
            totp: state.store.has_totp(user_id).await?,
            recovery: state.store.recovery_codes_left(user_id).await? > 0,
        })
    }

    /// A code can be typed (the app's, or a recovery code).
    pub fn codes(&self) -> bool {
        self.totp || self.recovery
    }
}

pub(super) async fn second_step_page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    error: Option<String>,
    user_id: i64,
) -> Result<HttpResponse, AppError> {
    let token = csrf::new_token();
    let page = SecondStepPage {
        layout: Layout::anonymous("Two-step sign-in", req),
        error,
        login_csrf: token.clone(),
        methods: Methods::of(state, user_id).await?,
        passkey_js: crate::assets::passkeys_js_url(),
    };
    let mut response = render(req, status, &page)?;
    response
        .add_cookie(&login_csrf_cookie(&token, state.settings.secure_cookies()))
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("cookie: {e}")))?;
    Ok(response)
}

pub const PENDING_GONE: &str =
    "Your sign-in waited more than five minutes or has ended. Sign in again with your password.";
pub const WRONG_CODE: &str =
    "This code is not right. Type the 6-digit code your app shows now, or one of your recovery codes.";
pub const REPLAYED_CODE: &str =
    "This code was already used. Wait for the next code in your app and type that one.";

/// The pending sign-in this browser holds, if it is still waiting.
pub(super) async fn pending(
    req: &HttpRequest,
    state: &AppState,
) -> Result<Option<crate::store::second_factor::PendingSignIn>, AppError> {
    let Some(cookie) = req.cookie(pending_cookie_name(state.settings.secure_cookies())) else {
        return Ok(None);
    };
    Ok(state
        .store
        .pending_sign_in(&session::token_hash(cookie.value()), crate::clock::now_ms())
        .await?)
}

pub(super) fn back_to_sign_in(state: &AppState) -> Result<HttpResponse, AppError> {
    let mut response = super::redirect_with_flash(&crate::urls::login(""), "error", PENDING_GONE);
    response
        .add_removal_cookie(&pending_cookie("", state.settings.secure_cookies()))
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("cookie: {e}")))?;
    Ok(response)
}

pub async fn second_step_form(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let Some(pending) = pending(&req, &state).await? else {
        return back_to_sign_in(&state);
    };
    second_step_page(&req, &state, StatusCode::OK, None, pending.user_id).await
}

#[derive(Deserialize)]
pub struct SecondStepForm {
    #[serde(default)]
    code: SecretString,
}

pub async fn second_step_submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: CsrfForm<SecondStepForm>,
) -> Result<HttpResponse, AppError> {
    use secrecy::ExposeSecret as _;
    let form = form.into_inner();
    let step = match SecondStep::admit(&req, &state).await? {
        Ok(step) => step,
        Err(response) => return Ok(response),
    };
    let user = &step.user;
    let keyring = state.settings.keyring();
    let outcome =
        second_factor::verify(&state.store, &keyring, user.id, form.code.expose_secret()).await?;
    let method = match outcome {
        StepOutcome::Passed(method) => method,
        StepOutcome::Replayed | StepOutcome::Wrong => {
            let replayed = outcome == StepOutcome::Replayed;
            let (sentence, detail) = if replayed {
                (REPLAYED_CODE, "a code already used was typed again")
            } else {
                (WRONG_CODE, "wrong code")
            };
            return step
                .failed(&req, &state, "auth.second_factor_failed", sentence, detail)
                .await;
        }
    };
    let detail = match method {
        second_factor::Method::Totp => "second step passed with an authenticator code".to_string(),
        second_factor::Method::RecoveryCode => format!(
            "second step passed with a recovery code, now used up; {} left",
            state.store.recovery_codes_left(user.id).await?
        ),
        second_factor::Method::Passkey => "second step passed with a passkey".to_string(),
    };
    step.passed(&req, &state, "auth.second_factor_passed", &detail)
        .await
}

/// A second-step attempt of the pending sign-in this browser holds, admitted by the sign-in throttle: wrong
/// codes and refused passkeys count as failed sign-ins of this account from this address, with the same limits.
pub(super) struct SecondStep {
    pub pending: crate::store::second_factor::PendingSignIn,
    pub user: crate::store::User,
    pub ip: String,
    pub actor: crate::store::Actor,
    attempt: throttle::Attempt,
}

impl SecondStep {
    /// The admitted attempt, or the response that ends the request (no pending sign-in, or paused).
    pub async fn admit(
        req: &HttpRequest,
        state: &AppState,
    ) -> Result<Result<SecondStep, HttpResponse>, AppError> {
        let Some(pending) = pending(req, state).await? else {
            return Ok(Err(back_to_sign_in(state)?));
        };
        let user = state.store.user_by_id(pending.user_id).await?;
        if user.disabled {
            return Ok(Err(back_to_sign_in(state)?));
        }
        let ip = client_ip(req);
        let now = crate::clock::now_ms();
        let actor = crate::store::Actor {
            user_id: Some(user.id),
            email: user.email.clone(),
            ip: ip.clone(),
        };
        let attempt = match throttle::admit(&state.store, &user.email, &ip, now).await? {
            throttle::Admission::Admitted(attempt) => attempt,
            throttle::Admission::Paused { minutes } => {
                state
                    .store
                    .audit(
                        &actor,
                        "auth.second_factor_locked",
                        None,
                        &user.email,
                        "refused: too many failed attempts from this address",
                    )
                    .await?;
                let message = format!(
                    "Too many wrong codes. Sign-in is paused for {}; try again then, or ask an admin to unlock your account.",
                    throttle::minutes(minutes)
                );
                return Ok(Err(second_step_page(
                    req,
                    state,
                    StatusCode::TOO_MANY_REQUESTS,
                    Some(message),
                    user.id,
                )
                .await?));
            }
        };
        Ok(Ok(SecondStep {
            pending,
            user,
            ip,
            actor,
            attempt,
        }))
    }

    /// The attempt failed (it stays counted): audited as `action` with `detail`, and the page says `sentence`.
    pub async fn failed(
        self,
        req: &HttpRequest,
        state: &AppState,
        action: &str,
        sentence: &str,
        detail: &str,
    ) -> Result<HttpResponse, AppError> {
        state.metrics.inc("storedesk_login_failures_total", "");
        state
            .store
            .audit(&self.actor, action, None, &self.user.email, detail)
            .await?;
        second_step_page(
            req,
            state,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(sentence.to_string()),
            self.user.id,
        )
        .await
    }

    /// The attempt passed: the pending sign-in is used up (single use: of two requests carrying it, only one goes
    /// on), the failures are forgotten, `action` is audited and the session starts.
    pub async fn passed(
        self,
        req: &HttpRequest,
        state: &AppState,
        action: &str,
        detail: &str,
    ) -> Result<HttpResponse, AppError> {
        self.attempt.not_a_failure(&state.store).await?;
        if !state.store.consume_pending_sign_in(self.pending.id).await? {
            return back_to_sign_in(state);
        }
        state
            .store
            .clear_login_failures(&throttle::account_subject(&self.user.email, &self.ip))
            .await?;
        state
            .store
            .audit(&self.actor, action, None, &self.user.email, detail)
            .await?;
        start_session(
            req,
            state,
            &self.user,
            &self.ip,
            &self.pending.next_path,
            "signed in with a password and a second factor",
        )
        .await
    }
}
