//! The login flow of the web shell: the login form, the TOTP step, logout, the forced or
//! voluntary password change and TOTP enrolment. Everything it decides is in `kernel::auth`;
//! these handlers only show the step a session is in and carry its answer there.

use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::kernel::auth::{self, Stage};
use crate::kernel::extract::{PageAnyStage, Source, clear_cookie, safe_next, session_cookie};
use crate::kernel::web::Routes;
use crate::kernel::web::{Nav, PageResult, encode_query_value, render, render_status, with_status};
use crate::state::AppState;

/// The routes of the login flow.
pub(super) fn routes() -> Routes {
    vec![
        ("/login", get(login_form).post(login_submit)),
        ("/login/totp", get(totp_form).post(totp_submit)),
        ("/logout", axum::routing::post(logout)),
        (
            "/account/password",
            get(password_form).post(password_submit),
        ),
        ("/account/totp", get(enroll_form).post(enroll_submit)),
        ("/account/totp/start", axum::routing::post(enroll_start)),
    ]
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Option<Nav>,
    error: Option<String>,
    username: String,
    /// The page to return to afterwards (already checked by `safe_next`), or empty.
    next: String,
    max_failures: u32,
    lockout_minutes: i64,
}

fn login_page(state: &AppState, error: Option<String>, username: String, next: &str) -> Response {
    render(&LoginPage {
        nav: None,
        error,
        username,
        next: safe_next(next).unwrap_or("").to_string(),
        max_failures: state.rules().policy.max_failures,
        lockout_minutes: state.rules().policy.lockout_minutes,
    })
}

/// `?next=` of the login steps: where to go once logged in.
#[derive(Deserialize, Default)]
#[serde(default)]
struct NextQuery {
    next: String,
}

async fn login_form(State(s): State<AppState>, Query(q): Query<NextQuery>) -> Response {
    login_page(&s, None, String::new(), &q.next)
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    next: String,
}

/// Where a login step leads: the page asked for once the login is complete, the TOTP step
/// (carrying that page along) while the code is due, else the step the session is in.
fn after_step(stage: Stage, next: &str) -> String {
    match (stage, safe_next(next)) {
        (Stage::Full, Some(n)) => n.to_string(),
        (Stage::NeedTotp, Some(n)) => {
            format!("/login/totp?next={}", encode_query_value(n))
        }
        _ => stage.page().to_string(),
    }
}

async fn login_submit(
    State(s): State<AppState>,
    Source(src): Source,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let devices = auth::presented_devices(&headers);
    match auth::login_web(&s, &f.username, &f.password, &devices, &src).await {
        Ok(r) => {
            start_enrollment_if_needed(&s, &r.token, r.stage).await;
            (
                [(header::SET_COOKIE, session_cookie(&s, &r.token))],
                Redirect::to(&after_step(r.stage, &f.next)),
            )
                .into_response()
        }
        Err(e) => {
            let page = login_page(
                &s,
                Some(e.message.clone()),
                f.username.chars().take(64).collect(),
                &f.next,
            );
            with_status(page, e.status())
        }
    }
}

#[derive(Template)]
#[template(path = "login_totp.html")]
struct TotpPage {
    nav: Option<Nav>,
    error: Option<String>,
    next: String,
}

async fn totp_form(PageAnyStage(a): PageAnyStage, Query(q): Query<NextQuery>) -> Response {
    if a.stage != Stage::NeedTotp {
        return Redirect::to(a.stage.page()).into_response();
    }
    render(&TotpPage {
        nav: None,
        error: None,
        next: safe_next(&q.next).unwrap_or("").to_string(),
    })
}

#[derive(Deserialize)]
struct CodeForm {
    code: String,
    #[serde(default)]
    next: String,
}

async fn totp_submit(
    State(s): State<AppState>,
    PageAnyStage(a): PageAnyStage,
    headers: HeaderMap,
    Form(f): Form<CodeForm>,
) -> Response {
    match auth::verify_session_totp(&s, &a, &f.code).await {
        Ok(()) => {
            let stage = auth::authenticate_stage_after_totp(&a);
            let to = after_step(stage, &f.next);
            remembering_device(&s, &a, &headers, Redirect::to(&to)).await
        }
        Err(e) => {
            let page = TotpPage {
                nav: None,
                error: Some(e.message.clone()),
                next: safe_next(&f.next).unwrap_or("").to_string(),
            };
            render_status(&page, e.status())
        }
    }
}

async fn logout(State(s): State<AppState>, PageAnyStage(a): PageAnyStage) -> PageResult {
    auth::logout(&s, &a).await?;
    // The browser also forgets what the pages kept on the phone (unsent forms, assets/app.js;
    // docs/PRIVACY.md "On the phone"); the logout form clears them itself as well, for
    // browsers that ignore this header.
    Ok((
        [
            (header::SET_COOKIE, clear_cookie(&s)),
            (
                header::HeaderName::from_static("clear-site-data"),
                "\"storage\"".to_string(),
            ),
        ],
        Redirect::to("/login"),
    )
        .into_response())
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    nav: Option<Nav>,
    forced: bool,
    reason: &'static str,
    error: Option<String>,
    done: bool,
    min_len: usize,
    min_classes: usize,
    max_age_days: i64,
}

fn password_page(s: &AppState, a: &auth::Authed, error: Option<String>, done: bool) -> Response {
    let forced = a.stage == Stage::NeedPasswordChange;
    let rules = s.rules();
    let p = &rules.policy;
    render(&PasswordPage {
        nav: (a.stage == Stage::Full).then(|| Nav::for_actor(&a.actor, "/account")),
        forced,
        reason: if a.user.must_change_password {
            "首次登录或密码被重置，请先修改密码。"
        } else {
            "密码已超过有效期，请修改密码。"
        },
        error,
        done,
        min_len: p.min_len,
        min_classes: p.min_classes,
        max_age_days: p.max_age_days,
    })
}

async fn password_form(State(s): State<AppState>, PageAnyStage(a): PageAnyStage) -> Response {
    if a.stage == Stage::NeedTotp {
        return Redirect::to(a.stage.page()).into_response();
    }
    password_page(&s, &a, None, false)
}

#[derive(Deserialize)]
struct PasswordForm {
    old_password: String,
    new_password: String,
    confirm: String,
}

async fn password_submit(
    State(s): State<AppState>,
    PageAnyStage(a): PageAnyStage,
    Form(f): Form<PasswordForm>,
) -> Response {
    if a.stage == Stage::NeedTotp {
        return Redirect::to(a.stage.page()).into_response();
    }
    if f.new_password != f.confirm {
        let page = password_page(&s, &a, Some("两次输入的新密码不一致".to_string()), false);
        return with_status(page, axum::http::StatusCode::UNPROCESSABLE_ENTITY);
    }
    match auth::change_password(&s, &a, &f.old_password, &f.new_password).await {
        Ok(r) => {
            start_enrollment_if_needed(&s, &r.token, r.stage).await;
            let cookie = session_cookie(&s, &r.token);
            if r.stage == Stage::Full && a.stage == Stage::Full {
                let mut resp = password_page(&s, &a, None, true);
                if let Ok(v) = header::HeaderValue::from_str(&cookie) {
                    resp.headers_mut().insert(header::SET_COOKIE, v);
                }
                resp
            } else {
                ([(header::SET_COOKIE, cookie)], Redirect::to(r.stage.page())).into_response()
            }
        }
        Err(e) => with_status(
            password_page(&s, &a, Some(e.message.clone()), false),
            e.status(),
        ),
    }
}

#[derive(Template)]
#[template(path = "totp_enroll.html")]
struct EnrollPage {
    nav: Option<Nav>,
    required: bool,
    error: Option<String>,
    qr_svg: String,
    secret: String,
}

async fn enroll_form(State(s): State<AppState>, PageAnyStage(a): PageAnyStage) -> PageResult {
    if matches!(a.stage, Stage::NeedTotp | Stage::NeedPasswordChange) {
        return Ok(Redirect::to(a.stage.page()).into_response());
    }
    if a.user.totp_enabled {
        return Ok(Redirect::to("/account").into_response());
    }
    // GET changes nothing: show the enrolment in progress, or a button that starts one.
    let pending = auth::pending_totp_enrollment(&s, a.user.id).await?;
    Ok(render(&EnrollPage {
        nav: (a.stage == Stage::Full).then(|| Nav::for_actor(&a.actor, "/account")),
        required: a.stage == Stage::NeedTotpEnrollment,
        error: None,
        qr_svg: pending
            .as_ref()
            .map(|e| e.qr_svg.clone())
            .unwrap_or_default(),
        secret: pending.map(|e| e.secret_base32).unwrap_or_default(),
    }))
}

async fn enroll_start(State(s): State<AppState>, PageAnyStage(a): PageAnyStage) -> PageResult {
    if matches!(a.stage, Stage::NeedTotp | Stage::NeedPasswordChange) {
        return Ok(Redirect::to(a.stage.page()).into_response());
    }
    if !a.user.totp_enabled {
        auth::begin_totp_enrollment(&s, &a).await?;
    }
    Ok(Redirect::to("/account/totp").into_response())
}

/// When a login step leaves the session needing TOTP enrolment, start it in that POST, so
/// the enrolment page (a GET) only shows it.
async fn start_enrollment_if_needed(s: &AppState, token: &str, stage: Stage) {
    if stage != Stage::NeedTotpEnrollment {
        return;
    }
    if let Ok(a) = auth::authenticate(s, token, "local").await
        && let Ok(None) = auth::pending_totp_enrollment(s, a.user.id).await
    {
        let _ = auth::begin_totp_enrollment(s, &a).await;
    }
}

async fn enroll_submit(
    State(s): State<AppState>,
    PageAnyStage(a): PageAnyStage,
    headers: HeaderMap,
    Form(f): Form<CodeForm>,
) -> PageResult {
    if matches!(a.stage, Stage::NeedTotp | Stage::NeedPasswordChange) {
        return Ok(Redirect::to(a.stage.page()).into_response());
    }
    match auth::confirm_totp_enrollment(&s, &a, &f.code).await {
        Ok(()) => Ok(remembering_device(&s, &a, &headers, Redirect::to("/")).await),
        Err(e) => {
            // Show the same secret again so the user can retry with the next code.
            let pending = auth::pending_totp_enrollment(&s, a.user.id).await?;
            let page = EnrollPage {
                nav: None,
                required: a.stage == Stage::NeedTotpEnrollment,
                error: Some(e.message.clone()),
                qr_svg: pending
                    .as_ref()
                    .map(|e| e.qr_svg.clone())
                    .unwrap_or_default(),
                secret: pending.map(|e| e.secret_base32).unwrap_or_default(),
            };
            Ok(render_status(&page, e.status()))
        }
    }
}

/// After a second-factor proof on this browser: the response, carrying a device credential
/// when the account holds them (field roles), so that later logins here need no TOTP code.
/// A failure to issue one is not the login's failure: the worker gives a code next time.
async fn remembering_device(
    s: &AppState,
    a: &auth::Authed,
    headers: &HeaderMap,
    then: impl IntoResponse,
) -> Response {
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut resp = then.into_response();
    match auth::remember_device(s, a, ua).await {
        Ok(Some(d)) => {
            if let Ok(v) = header::HeaderValue::from_str(&d.set_cookie) {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(code = ?e.code, "device credential not issued"),
    }
    resp
}
