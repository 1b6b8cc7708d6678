//! Staff pages of funeral capacity and booking statistics: a funeral home's day plan
//! (`/bookings/funeral/{id}?day=`: each vehicle and cremator with its jobs by hour and free
//! hours, epidemic cases marked, done / cancel, the open requests with the forms to schedule
//! them, taking a family's request on the phone, a unit's service state), the funeral rollup
//! (`/bookings/funeral-rollup`) and the booking statistics (`/bookings/stats`), each with a
//! chart and the Excel export; a booking marked done or no-show. Changes are POST forms,
//! refused ones shown again through [`Kept`]; the rules live in [`super::funeral`] and
//! [`super::stats`].

use askama::Template;
use axum::extract::{Form, Path, Query};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use backstop_core::role::Permission;
use serde::Deserialize;

use super::funeral::{JobOutcome, NewJob, NewRequest, Plan, PlanUnit, UnitState};
use super::stats::{BookingRow, BookingStats, FuneralRow, FuneralStats, Outcome, StatsQuery};
use crate::kernel::auth::Authed;
use crate::kernel::form::Kept;
use crate::kernel::handler::PageCaller;
use crate::kernel::web::{Nav, PageResult, Routes, query_string, render, render_status};
use crate::state::AppState;

pub fn routes() -> Routes {
    vec![
        ("/bookings/funeral-rollup", get(rollup)),
        ("/bookings/funeral/{id}", get(show)),
        ("/bookings/funeral/{id}/requests", post(take_request)),
        ("/bookings/funeral/jobs/{id}", post(record)),
        ("/bookings/funeral/requests/{id}/schedule", post(schedule)),
        ("/bookings/funeral/resources/{id}", post(unit_state)),
        ("/bookings/stats", get(stats)),
        ("/bookings/{id}/outcome", post(outcome)),
    ]
}

const AREA: &str = "/bookings";

fn opt_num(v: &str) -> Option<i64> {
    v.trim().parse().ok()
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DayQuery {
    day: String,
}

#[derive(Template)]
#[template(path = "bookings_funeral.html")]
struct PlanPage {
    nav: Option<Nav>,
    plan: Plan,
    /// The vehicles and the cremators, with their Chinese heading.
    groups: Vec<(&'static str, Vec<PlanUnit>)>,
    /// (value, label, selected by default: the current hour).
    hours: Vec<(String, String, bool)>,
    can_manage: bool,
    form: Kept,
}

async fn plan_page(s: &AppState, a: &Authed, id: i64, day: &str, form: Kept) -> PageResult {
    let plan = super::funeral::plan(s, &a.actor, id, day).await?;
    let this_hour = super::funeral::now_hour(s).1;
    let status = form.status();
    Ok(render_status(
        &PlanPage {
            nav: Some(Nav::for_actor(&a.actor, AREA)),
            groups: vec![
                ("车辆", plan.vehicles.clone()),
                ("火化炉", plan.cremators.clone()),
            ],
            plan,
            hours: (0..24)
                .map(|h| (h.to_string(), format!("{h:02}:00"), h == this_hour))
                .collect(),
            can_manage: a.actor.can(Permission::BookingsManage),
            form,
        },
        status,
    ))
}

async fn show(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Query(q): Query<DayQuery>,
) -> PageResult {
    plan_page(&s, &a, id, &q.day, Kept::none()).await
}

async fn take_request(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("request", pairs);
    let input = NewRequest {
        org_id: id,
        person_id: None,
        name: form.get("name").to_string(),
        id_number: form.get("id_number").to_string(),
        place: form.get("place").to_string(),
        died_at: form.get("died_at").to_string(),
        phone: form.get("phone").to_string(),
        epidemic: form.has("epidemic"),
        farewell: form.has("farewell"),
        attendance: opt_num(form.get("attendance")).unwrap_or(0),
    };
    let key = form.get("form_key").to_string();
    let key = Some(key.as_str()).filter(|k| !k.is_empty());
    match form.outcome(super::funeral::request(&s, &a.actor, &input, key).await)? {
        Ok(_) => Ok(Redirect::to(&format!("/bookings/funeral/{id}")).into_response()),
        Err(form) => plan_page(&s, &a, id, "", form).await,
    }
}

async fn schedule(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input(&format!("job-{id}"), pairs);
    let input = NewJob {
        resource_id: opt_num(form.get("resource_id")).unwrap_or(0),
        day: Some(form.get("day").to_string()),
        hour: opt_num(form.get("hour")),
        hours: opt_num(form.get("hours")),
    };
    let r = super::funeral::get(&s, &a.actor, id).await?;
    let done = if form.get("kind") == "cremation" {
        super::funeral::schedule_cremation(&s, &a.actor, id, &input).await
    } else {
        super::funeral::schedule_collection(&s, &a.actor, id, &input).await
    };
    let day = form.get("day").to_string();
    match form.outcome(done)? {
        Ok(_) => {
            Ok(Redirect::to(&format!("/bookings/funeral/{}?day={day}", r.org_id)).into_response())
        }
        Err(form) => plan_page(&s, &a, r.org_id, &day, form).await,
    }
}

async fn record(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("record", pairs);
    let input = JobOutcome {
        status: form.get("status").to_string(),
    };
    let j = super::funeral::record(&s, &a.actor, id, &input).await?;
    Ok(Redirect::to(&format!("/bookings/funeral/{}?day={}", j.org_id, j.day)).into_response())
}

async fn unit_state(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input(&format!("unit-{id}"), pairs);
    let input = UnitState {
        designated: form.has("designated"),
        out_of_service: form.has("out_of_service"),
        note: form.get("note").to_string(),
    };
    let org = opt_num(form.get("org_id")).unwrap_or(0);
    match form.outcome(super::funeral::set_unit(&s, &a.actor, id, &input).await)? {
        Ok(u) => Ok(Redirect::to(&format!("/bookings/funeral/{}", u.org_id)).into_response()),
        Err(form) => plan_page(&s, &a, org, "", form).await,
    }
}

async fn outcome(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("outcome", pairs);
    let input = Outcome {
        outcome: form.get("outcome").to_string(),
    };
    let b = super::stats::mark(&s, &a.actor, id, &input).await?;
    Ok(Redirect::to(&format!("/bookings/orgs/{}?day={}", b.org_id, b.day)).into_response())
}

/// One bar of a chart: a row's name, its value and the bar's width (0–100).
struct Bar {
    name: String,
    value: i64,
    width: i64,
}

fn bars(rows: impl Iterator<Item = (String, i64)>) -> Vec<Bar> {
    let rows: Vec<(String, i64)> = rows.collect();
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1);
    rows.into_iter()
        .map(|(name, value)| Bar {
            name,
            width: value * 100 / max,
            value,
        })
        .collect()
}

fn export_link(path: &str, q: &StatsQuery) -> String {
    let region = q.region.clone().unwrap_or_default();
    let from = q.from.clone().unwrap_or_default();
    let to = q.to.clone().unwrap_or_default();
    format!(
        "{path}?{}",
        query_string(&[("region", &region), ("from", &from), ("to", &to)])
    )
}

#[derive(Template)]
#[template(path = "bookings_funeral_rollup.html")]
struct RollupPage {
    nav: Option<Nav>,
    st: FuneralStats,
    /// The regions' rows, then the homes'.
    rows: Vec<FuneralRow>,
    bars: Vec<Bar>,
    export: String,
    region: String,
}

async fn rollup(PageCaller(s, a): PageCaller, Query(q): Query<StatsQuery>) -> PageResult {
    let st = super::stats::funeral(&s, &a.actor, &q).await?;
    Ok(render(&RollupPage {
        nav: Some(Nav::for_actor(&a.actor, AREA)),
        bars: bars(st.regions.iter().map(|r| (r.name.clone(), r.deaths))),
        rows: st.regions.iter().chain(&st.homes).cloned().collect(),
        export: export_link("/api/v1/bookings/funeral/rollup/export", &q),
        region: q.region.clone().unwrap_or_default(),
        st,
    }))
}

#[derive(Template)]
#[template(path = "bookings_stats.html")]
struct StatsPage {
    nav: Option<Nav>,
    st: BookingStats,
    /// The regions' rows, then the organisations'.
    rows: Vec<BookingRow>,
    bars: Vec<Bar>,
    export: String,
    region: String,
}

async fn stats(PageCaller(s, a): PageCaller, Query(q): Query<StatsQuery>) -> PageResult {
    let st = super::stats::bookings(&s, &a.actor, &q).await?;
    Ok(render(&StatsPage {
        nav: Some(Nav::for_actor(&a.actor, AREA)),
        bars: bars(st.regions.iter().map(|r| (r.name.clone(), r.booked))),
        rows: st.regions.iter().chain(&st.orgs).cloned().collect(),
        export: export_link("/api/v1/bookings/stats/export", &q),
        region: q.region.clone().unwrap_or_default(),
        st,
    }))
}
