//! Staff pages of bookings: the registries and funeral homes in scope with the emergency
//! settings (`/bookings`, the declaring form for `bookings.emergency`), and one organisation
//! (`/bookings/orgs/{id}`): its services, resources and special dates with the forms to set
//! them up, the bookings of a day (`?day=`), blocking a day, and the rebookings not answered
//! yet (who to call), and booking on behalf of a couple on the phone (the form posts to
//! [`super::register_pages`]). Changes are POST forms, refused ones shown again through [`Kept`]; the
//! rules live in `bookings`.

use askama::Template;
use axum::extract::{Form, Path, Query};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use backstop_core::role::Permission;
use serde::Deserialize;

use super::book::{Booking, Rebooking};
use super::emergency::{Emergency, NewEmergency};
use super::rebook::BlockInput;
use super::rules::{QUESTIONS, Question, question_text};
use super::{NewDate, NewResource, NewService, OrgInfo, SERVICE_KINDS, Setup};
use crate::kernel::auth::Authed;
use crate::kernel::form::Kept;
use crate::kernel::handler::PageCaller;
use crate::kernel::web::{Nav, PageResult, Routes, render_status};
use crate::state::AppState;

pub fn routes() -> Routes {
    vec![
        ("/bookings", get(list)),
        ("/bookings/emergencies", post(declare)),
        ("/bookings/emergencies/{id}/end", post(end)),
        ("/bookings/orgs/{id}", get(show)),
        ("/bookings/orgs/{id}/services", post(add_service)),
        ("/bookings/orgs/{id}/resources", post(add_resource)),
        ("/bookings/orgs/{id}/dates", post(set_date)),
        ("/bookings/orgs/{id}/block", post(block)),
        ("/bookings/{id}/cancel", post(cancel)),
    ]
}

const AREA: &str = "/bookings";

#[derive(Template)]
#[template(path = "bookings_list.html")]
struct ListPage {
    nav: Option<Nav>,
    orgs: Vec<OrgInfo>,
    emergencies: Vec<Emergency>,
    can_declare: bool,
    questions: Vec<(&'static str, &'static str)>,
    form: Kept,
}

async fn list_page(s: &AppState, a: &Authed, form: Kept) -> PageResult {
    let status = form.status();
    Ok(render_status(
        &ListPage {
            nav: Some(Nav::for_actor(&a.actor, AREA)),
            orgs: super::orgs(s, &a.actor).await?,
            emergencies: super::emergency::list(s, &a.actor, None).await?,
            can_declare: a.actor.can(Permission::BookingsEmergency),
            questions: QUESTIONS.to_vec(),
            form,
        },
        status,
    ))
}

async fn list(PageCaller(s, a): PageCaller) -> PageResult {
    list_page(&s, &a, Kept::none()).await
}

fn opt_num(v: &str) -> Option<i64> {
    v.trim().parse().ok()
}

async fn declare(
    PageCaller(s, a): PageCaller,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("emergency", pairs);
    let questions = QUESTIONS
        .iter()
        .filter_map(|(k, _)| match form.get(&format!("q_{k}")) {
            "refuse" => Some(Question {
                key: (*k).to_string(),
                action: "refuse".into(),
                days: 0,
            }),
            "defer" => Some(Question {
                key: (*k).to_string(),
                action: "defer".into(),
                days: opt_num(form.get("defer_days")).unwrap_or(14),
            }),
            _ => None,
        })
        .collect();
    let input = NewEmergency {
        region_code: form.get("region_code").to_string(),
        org_kind: form.get("org_kind").to_string(),
        starts_on: form.get("starts_on").to_string(),
        ends_on: form.get("ends_on").to_string(),
        daily_cap: opt_num(form.get("daily_cap")),
        suspended: form
            .all("suspended")
            .into_iter()
            .map(str::to_string)
            .collect(),
        no_ceremony: form.has("no_ceremony"),
        attendance_cap: opt_num(form.get("attendance_cap")),
        questions,
        reason: form.get("reason").to_string(),
    };
    match form.outcome(super::emergency::create(&s, &a.actor, &input).await)? {
        Ok(_) => Ok(Redirect::to("/bookings").into_response()),
        Err(form) => list_page(&s, &a, form).await,
    }
}

async fn end(PageCaller(s, a): PageCaller, Path(id): Path<i64>) -> PageResult {
    super::emergency::end(&s, &a.actor, id).await?;
    Ok(Redirect::to("/bookings").into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DayQuery {
    day: String,
}

#[derive(Template)]
#[template(path = "bookings_org.html")]
struct OrgPage {
    nav: Option<Nav>,
    setup: Setup,
    day: String,
    bookings: Vec<Booking>,
    waiting: Vec<Rebooking>,
    kinds: Vec<(&'static str, &'static str)>,
    can_manage: bool,
    /// The services staff may book on behalf of someone (marriage, divorce, certificates).
    bookable: Vec<super::Service>,
    id_types: &'static [(&'static str, &'static str)],
    /// The key of the booking-on-behalf form (a resent form answers the first booking).
    idem: String,
    form: Kept,
}

/// The registry's page again (the booking-on-behalf form's refusals come back here too).
pub(super) async fn org_page(
    s: &AppState,
    a: &Authed,
    id: i64,
    day: &str,
    form: Kept,
) -> PageResult {
    let setup = super::setup(s, &a.actor, id).await?;
    let day = match crate::kernel::error::date_field("day", day) {
        Ok(d) => d,
        Err(_) => s.today() + chrono::Duration::days(1),
    }
    .format("%Y-%m-%d")
    .to_string();
    let status = form.status();
    Ok(render_status(
        &OrgPage {
            nav: Some(Nav::for_actor(&a.actor, AREA)),
            bookings: super::book::day_list(s, &a.actor, id, &day).await?,
            waiting: super::rebook::waiting(s, &a.actor, id).await?,
            kinds: SERVICE_KINDS
                .iter()
                .filter(|(_, k, _)| *k == setup.org.kind)
                .map(|(k, _, l)| (*k, *l))
                .collect(),
            can_manage: a.actor.can(Permission::BookingsManage),
            bookable: setup
                .services
                .iter()
                .filter(|_| setup.org.kind == "marriage_registry")
                .cloned()
                .collect(),
            id_types: super::register::ID_TYPES,
            idem: crate::kernel::crypto::random_token("bk"),
            setup,
            day,
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
    org_page(&s, &a, id, &q.day, Kept::none()).await
}

async fn add_service(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("service", pairs);
    let input = NewService {
        kind: form.get("kind").to_string(),
        name: form.get("name").to_string(),
        open_days: form.get("open_days").to_string(),
        opens: form.get("opens").to_string(),
        closes: form.get("closes").to_string(),
        slot_minutes: opt_num(form.get("slot_minutes")).unwrap_or(0),
        per_slot: opt_num(form.get("per_slot")).unwrap_or(0),
        window_days: opt_num(form.get("window_days")),
        resource_id: opt_num(form.get("resource_id")),
    };
    match form.outcome(super::add_service(&s, &a.actor, id, &input).await)? {
        Ok(_) => Ok(Redirect::to(&format!("/bookings/orgs/{id}")).into_response()),
        Err(form) => org_page(&s, &a, id, "", form).await,
    }
}

async fn add_resource(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("resource", pairs);
    let input = NewResource {
        kind: form.get("kind").to_string(),
        name: form.get("name").to_string(),
        units: opt_num(form.get("units")).unwrap_or(0),
    };
    match form.outcome(super::add_resource(&s, &a.actor, id, &input).await)? {
        Ok(_) => Ok(Redirect::to(&format!("/bookings/orgs/{id}")).into_response()),
        Err(form) => org_page(&s, &a, id, "", form).await,
    }
}

async fn set_date(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("date", pairs);
    let input = NewDate {
        day: form.get("day").to_string(),
        kind: form.get("kind").to_string(),
        day_cap: opt_num(form.get("day_cap")),
        reason: form.get("reason").to_string(),
    };
    match form.outcome(super::set_date(&s, &a.actor, id, &input).await)? {
        Ok(d) => Ok(Redirect::to(&format!("/bookings/orgs/{id}?day={}", d.day)).into_response()),
        Err(form) => org_page(&s, &a, id, "", form).await,
    }
}

async fn block(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("block", pairs);
    let input = BlockInput {
        day: form.get("day").to_string(),
        reason: form.get("reason").to_string(),
    };
    match form.outcome(super::rebook::block(&s, &a.actor, id, &input).await)? {
        Ok(o) => Ok(Redirect::to(&format!("/bookings/orgs/{id}?day={}", o.day)).into_response()),
        Err(form) => org_page(&s, &a, id, &input.day, form).await,
    }
}

async fn cancel(PageCaller(s, a): PageCaller, Path(id): Path<i64>) -> PageResult {
    let b = super::book::staff_cancel(&s, &a.actor, id).await?;
    Ok(Redirect::to(&format!("/bookings/orgs/{}?day={}", b.org_id, b.day)).into_response())
}

/// The text of a question (for the templates).
pub fn question(key: &str) -> &'static str {
    question_text(key)
}
