//! The volunteer's pages on the public face (`/public/volunteers…`: its own layout and
//! session, never a staff account; rate-limited by the public layer). With a verified phone:
//! register (choose the township or village by links, name, skills, availability, the health
//! declaration, optionally an organisation); then one page, made for a phone, with the open
//! tasks of their township (sign up), their own tasks with check-in and check-out (the
//! phone's coarse location if given) and the hours; and the printable certificate. A refused
//! form comes back through [`Kept`] with the reason.

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use backstop_core::region::RegionCode;
use serde::Deserialize;

use super::certificate::Certificate;
use super::{NewVolunteer, SKILLS, Shift, Task, Volunteer, hours_text};
use crate::kernel::error::{AppError, AppResult};
use crate::kernel::form::Kept;
use crate::kernel::web::{Routes, encode_query_value, render, with_status};
use crate::public::{Citizen, PublicAddr, citizen_of, public_error};
use crate::regions::{self, Region};
use crate::state::AppState;

pub fn routes() -> Routes {
    vec![
        ("/public/volunteers", get(home)),
        (
            "/public/volunteers/register",
            get(register_page).post(register),
        ),
        ("/public/volunteers/certificate", get(certificate)),
        ("/public/volunteers/tasks/{id}/{action}", post(act)),
    ]
}

fn to_login(next: &str) -> Response {
    Redirect::to(&format!("/public/login?next={}", encode_query_value(next))).into_response()
}

/// The verified visitor, or where to send them.
async fn visitor(s: &AppState, headers: &HeaderMap, here: &str) -> Result<Citizen, Response> {
    match citizen_of(s, headers).await {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(to_login(here)),
        Err(e) => Err(public_error(&e)),
    }
}

/// A task of the open list, with whether the volunteer is already on it.
struct OpenRow {
    t: Task,
    mine: bool,
}

/// One of the volunteer's tasks as the page shows it.
struct MineRow {
    s: Shift,
    hours: String,
}

#[derive(Template)]
#[template(path = "public_volunteers.html")]
struct HomePage {
    v: Volunteer,
    open: Vec<OpenRow>,
    mine: Vec<MineRow>,
    confirmed: String,
    form: Kept,
}

async fn home_page(s: &AppState, c: &Citizen, form: Kept) -> AppResult<Response> {
    let Some(v) = super::mine(s, c).await? else {
        return Ok(Redirect::to("/public/volunteers/register").into_response());
    };
    let shifts = super::my_shifts(s, c).await?;
    let open = super::open_tasks(s, c)
        .await?
        .into_iter()
        .map(|t| OpenRow {
            mine: shifts.iter().any(|x| x.task_id == t.id),
            t,
        })
        .collect();
    let confirmed: i64 = shifts.iter().filter_map(|x| x.confirmed_minutes).sum();
    let mine = shifts
        .into_iter()
        .map(|x| MineRow {
            hours: x
                .confirmed_minutes
                .or(x.minutes)
                .map(hours_text)
                .unwrap_or_default(),
            s: x,
        })
        .collect();
    let status = form.status();
    Ok(with_status(
        render(&HomePage {
            v,
            open,
            mine,
            confirmed: hours_text(confirmed),
            form,
        }),
        status,
    ))
}

async fn home(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let c = match visitor(&s, &headers, "/public/volunteers").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    home_page(&s, &c, Kept::none())
        .await
        .unwrap_or_else(|e| public_error(&e))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RegionQuery {
    region: String,
}

#[derive(Template)]
#[template(path = "public_volunteer_register.html")]
struct RegisterPage {
    trail: Vec<Region>,
    children: Vec<Region>,
    /// The township or village chosen (the form is shown), if any.
    region: Option<Region>,
    orgs: Vec<(i64, String)>,
    skills: Vec<(&'static str, &'static str)>,
    phone_masked: String,
    form: Kept,
}

async fn register_form(s: &AppState, c: &Citizen, region: &str, form: Kept) -> AppResult<Response> {
    let code = match region.trim() {
        "" => None,
        r => Some(RegionCode::parse(r).map_err(|_| AppError::not_found())?),
    };
    let mut trail = Vec::new();
    let mut chosen = None;
    if let Some(code) = &code {
        for a in code
            .ancestors()
            .into_iter()
            .chain(std::iter::once(code.clone()))
        {
            if let Some(r) = regions::find(s, a.as_str()).await?
                && !trail.iter().any(|t: &Region| t.code == r.code)
            {
                trail.push(r);
            }
        }
        chosen = trail
            .last()
            .filter(|r| {
                r.code == code.as_str() && matches!(r.level.as_str(), "township" | "village")
            })
            .cloned();
    }
    let children = if chosen.as_ref().is_some_and(|r| r.level == "village") {
        Vec::new()
    } else {
        regions::public_children(s, code.as_ref()).await?
    };
    let orgs = match &chosen {
        Some(r) => super::orgs_for(s, &r.code).await?,
        None => Vec::new(),
    };
    let status = form.status();
    Ok(with_status(
        render(&RegisterPage {
            trail,
            children,
            region: chosen,
            orgs,
            skills: SKILLS.to_vec(),
            phone_masked: c.phone_masked.clone(),
            form,
        }),
        status,
    ))
}

async fn register_page(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<RegionQuery>,
) -> Response {
    let c = match visitor(&s, &headers, "/public/volunteers/register").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match super::mine(&s, &c).await {
        Ok(Some(_)) => return Redirect::to("/public/volunteers").into_response(),
        Ok(None) => {}
        Err(e) => return public_error(&e),
    }
    register_form(&s, &c, &q.region, Kept::none())
        .await
        .unwrap_or_else(|e| public_error(&e))
}

async fn register(
    State(s): State<AppState>,
    PublicAddr(addr): PublicAddr,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let c = match visitor(&s, &headers, "/public/volunteers/register").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let form = Kept::input("register", pairs);
    let input = NewVolunteer {
        region_code: form.get("region_code").to_string(),
        name: form.get("name").to_string(),
        skills: form.all("skills").into_iter().map(str::to_string).collect(),
        availability: form.get("availability").to_string(),
        no_fever: form.has("no_fever"),
        no_contact: form.has("no_contact"),
        org_id: form.get("org_id").trim().parse().ok(),
    };
    match super::register(&s, &c, &addr, &input).await {
        Ok(_) => Redirect::to("/public/volunteers").into_response(),
        Err(e) if matches!(e.status().as_u16(), 409 | 422) => {
            let region = form.get("region_code").to_string();
            register_form(&s, &c, &region, form.refuse(&e))
                .await
                .unwrap_or_else(|e| public_error(&e))
        }
        Err(e) => public_error(&e),
    }
}

/// Answer a write on a task: the page again, with the reason beside the task's form when
/// refused.
async fn answer(s: &AppState, c: &Citizen, form: Kept, r: AppResult<Shift>) -> Response {
    match r {
        Ok(_) => Redirect::to("/public/volunteers").into_response(),
        Err(e) if matches!(e.status().as_u16(), 409 | 422) => home_page(s, c, form.refuse(&e))
            .await
            .unwrap_or_else(|e| public_error(&e)),
        Err(e) => public_error(&e),
    }
}

/// A write on a task by the verified volunteer: `signup`, `checkin` or `checkout` (both with
/// the `place` they are at); anything else is not found.
async fn act(
    State(s): State<AppState>,
    PublicAddr(addr): PublicAddr,
    headers: HeaderMap,
    Path((id, action)): Path<(i64, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    if !["signup", "checkin", "checkout"].contains(&action.as_str()) {
        return public_error(&AppError::not_found());
    }
    let c = match visitor(&s, &headers, "/public/volunteers").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let form = Kept::input(&format!("task-{id}"), pairs);
    let r = match action.as_str() {
        "signup" => super::sign_up(&s, &c, &addr, id).await,
        "checkin" => super::check_in(&s, &c, &addr, id, form.get("place")).await,
        _ => super::check_out(&s, &c, &addr, id, form.get("place")).await,
    };
    answer(&s, &c, form, r).await
}

#[derive(Template)]
#[template(path = "public_volunteer_certificate.html")]
struct CertificatePage {
    c: Certificate,
}

async fn certificate(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let c = match visitor(&s, &headers, "/public/volunteers/certificate").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match super::certificate::own(&s, &c).await {
        Ok(c) => render(&CertificatePage { c }),
        Err(e) => public_error(&e),
    }
}
