//! The public pages (`/public…`): the region information pages, the phone login with a
//! one-time code, and "my requests". They take no staff cookie and set only `backstop_pub`.

use askama::Template;
use axum::extract::{Form, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use backstop_core::region::RegionCode;
use serde::Deserialize;

use super::{Citizen, PublicInfo};
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::web::{Routes, render};
use crate::regions::{self, Region};
use crate::state::AppState;

const COOKIE: &str = "backstop_pub";

pub(super) fn routes() -> Routes {
    vec![
        ("/public", get(index)),
        ("/public/regions/{code}", get(region)),
        ("/public/login", get(login_form).post(send_code)),
        ("/public/login/verify", post(verify)),
        ("/public/me", get(me)),
        ("/public/logout", post(logout)),
    ]
}

/// The client address of a public request (see `limits::client_addr`).
pub struct PublicAddr(pub String);

impl FromRequestParts<AppState> for PublicAddr {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(PublicAddr(super::limits::addr_of(
            state,
            &parts.headers,
            &parts.extensions,
        )))
    }
}

/// An error page of the public face (its own layout, never the staff one).
pub(crate) fn public_error(e: &AppError) -> Response {
    let page = PublicMessage {
        title: if e.status() == StatusCode::NOT_FOUND {
            "未找到"
        } else {
            "出错了"
        },
        message: e.message.clone(),
    };
    let mut r = render(&page);
    *r.status_mut() = e.status();
    r
}

#[derive(Template)]
#[template(path = "public_message.html")]
struct PublicMessage {
    title: &'static str,
    message: String,
}

#[derive(Template)]
#[template(path = "public_index.html")]
struct IndexPage {
    regions: Vec<Region>,
}

async fn index(State(s): State<AppState>) -> Response {
    match regions::public_children(&s, None).await {
        Ok(regions) => render(&IndexPage { regions }),
        Err(e) => public_error(&e),
    }
}

#[derive(Template)]
#[template(path = "public_region.html")]
struct RegionPage {
    region: Region,
    trail: Vec<Region>,
    children: Vec<Region>,
    info: Option<PublicInfo>,
    /// The info was set for a region above this one (its name).
    inherited_from: String,
}

async fn region_page(s: &AppState, code: &str) -> AppResult<Response> {
    let code = RegionCode::parse(code).map_err(|_| AppError::not_found())?;
    let region = regions::find(s, code.as_str())
        .await?
        .filter(|r| r.level != "grid")
        .ok_or_else(AppError::not_found)?;
    let mut trail = Vec::new();
    for a in code.ancestors() {
        if a.as_str() != code.as_str()
            && let Some(r) = regions::find(s, a.as_str()).await?
        {
            trail.push(r);
        }
    }
    let info = super::info_for(s, &code).await?;
    let inherited_from = match &info {
        Some(i) if i.region_code != region.code => regions::find(s, &i.region_code)
            .await?
            .map(|r| r.name)
            .unwrap_or_default(),
        _ => String::new(),
    };
    Ok(render(&RegionPage {
        children: regions::public_children(s, Some(&code)).await?,
        region,
        trail,
        info,
        inherited_from,
    }))
}

async fn region(State(s): State<AppState>, Path(code): Path<String>) -> Response {
    region_page(&s, &code)
        .await
        .unwrap_or_else(|e| public_error(&e))
}

#[derive(Template)]
#[template(path = "public_login.html")]
struct LoginPage {
    /// The number typed (kept on an error), or empty.
    phone: String,
    /// The code step: the number a code was sent to, masked.
    sent_to: String,
    error: Option<String>,
    /// Where to go once verified (see [`safe_next`]).
    next: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct NextQuery {
    next: String,
}

/// Where a verified visitor may be sent on: the application page or one of their
/// applications; anything else is "my requests".
pub(super) fn safe_next(next: &str) -> &str {
    let digits = |s: &str| !s.is_empty() && s.len() <= 30 && s.bytes().all(|b| b.is_ascii_digit());
    let ok = next == "/public/apply"
        || next
            .strip_prefix("/public/apply?region=")
            .is_some_and(digits)
        || next
            .strip_prefix("/public/applications/")
            .is_some_and(digits)
        || matches!(
            next,
            "/public/volunteers" | "/public/volunteers/register" | "/public/volunteers/certificate"
        )
        || next.strip_prefix("/public/bookings/").is_some_and(digits)
        || next
            .strip_prefix("/public/bookings/orgs/")
            .is_some_and(digits);
    if ok { next } else { "/public/me" }
}

async fn login_form(Query(q): Query<NextQuery>) -> Response {
    render(&LoginPage {
        phone: String::new(),
        sent_to: String::new(),
        error: None,
        next: safe_next(&q.next).to_string(),
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PhoneForm {
    phone: String,
    code: String,
    next: String,
}

fn clip(s: &str) -> String {
    s.chars().take(20).collect()
}

async fn send_code(
    State(s): State<AppState>,
    PublicAddr(addr): PublicAddr,
    Form(f): Form<PhoneForm>,
) -> Response {
    match super::request_code(&s, &f.phone, &addr).await {
        Ok(()) => {
            let phone = super::mobile(&f.phone).unwrap_or_default();
            render(&LoginPage {
                sent_to: backstop_core::mask::mask_phone(&phone),
                phone,
                error: None,
                next: safe_next(&f.next).to_string(),
            })
        }
        Err(e) => {
            let mut r = render(&LoginPage {
                phone: clip(&f.phone),
                sent_to: String::new(),
                error: Some(e.message.clone()),
                next: safe_next(&f.next).to_string(),
            });
            *r.status_mut() = e.status();
            r
        }
    }
}

async fn verify(
    State(s): State<AppState>,
    PublicAddr(addr): PublicAddr,
    Form(f): Form<PhoneForm>,
) -> Response {
    match super::verify_code(&s, &f.phone, &f.code, &addr).await {
        Ok(token) => {
            let cookie = format!(
                "{COOKIE}={token}; Path=/public; HttpOnly; SameSite=Strict; Max-Age={}{}",
                super::SESSION_MINUTES * 60,
                if s.config.secure_cookies {
                    "; Secure"
                } else {
                    ""
                }
            );
            let mut r = Redirect::to(safe_next(&f.next)).into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => {
            let phone = super::mobile(&f.phone).unwrap_or_default();
            let mut r = render(&LoginPage {
                sent_to: backstop_core::mask::mask_phone(&phone),
                phone,
                error: Some(e.message.clone()),
                next: safe_next(&f.next).to_string(),
            });
            *r.status_mut() = e.status();
            r
        }
    }
}

/// The public session of a request, from its own cookie only.
pub(crate) async fn citizen_of(s: &AppState, headers: &HeaderMap) -> AppResult<Option<Citizen>> {
    let token = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string());
    match token {
        Some(t) => super::citizen(s, &t).await,
        None => Ok(None),
    }
}

#[derive(Template)]
#[template(path = "public_me.html")]
struct MePage {
    phone_masked: String,
    applications: Vec<crate::assistance::public::PublicStatus>,
}

async fn me(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let c = match citizen_of(&s, &headers).await {
        Ok(Some(c)) => c,
        Ok(None) => return Redirect::to("/public/login").into_response(),
        Err(e) => return public_error(&e),
    };
    match crate::assistance::public::mine(&s, &c.phone_index).await {
        Ok(applications) => render(&MePage {
            phone_masked: c.phone_masked,
            applications,
        }),
        Err(e) => public_error(&e),
    }
}

async fn logout(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if let Ok(Some(c)) = citizen_of(&s, &headers).await
        && let Err(e) = super::end_session(&s, &c).await
    {
        return public_error(&e);
    }
    let mut r = Redirect::to("/public").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "backstop_pub=; Path=/public; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    r
}
