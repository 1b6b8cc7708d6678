//! Staff pages of the registration rules (issue 19 item 3): booking on behalf of a couple on
//! the phone (the form on the registry's page, `POST /bookings/orgs/{id}/book`), and the
//! registry's registration desk (`/bookings/orgs/{id}/register`): the pre-checks waiting for
//! an answer with the couple's data (the registry's own staff only) and the approve / what is
//! missing forms, the divorce applications in their cooling-off period with the window and a
//! withdrawal, the registry's designation for marriages involving foreigners or residents of
//! Hong Kong, Macao and Taiwan, and where couples may register in the regions in scope. Thin:
//! the rules live in [`super::register`], [`super::divorce`], [`super::precheck`] and
//! [`super::book`].

use askama::Template;
use axum::extract::{Form, Path};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use backstop_core::role::Permission;

use super::OrgInfo;
use super::book::{Booking, Party};
use super::divorce::Divorce;
use super::precheck::{PartyData, Precheck, PrecheckAnswer};
use super::register::{Designation, PlaceRule, SetPlaceRule};
use crate::kernel::auth::Authed;
use crate::kernel::form::Kept;
use crate::kernel::handler::PageCaller;
use crate::kernel::web::{Nav, PageResult, Routes, render_status};
use crate::state::AppState;

pub fn routes() -> Routes {
    vec![
        ("/bookings/orgs/{id}/book", post(book)),
        ("/bookings/orgs/{id}/register", get(show)),
        ("/bookings/orgs/{id}/designation", post(designate)),
        ("/bookings/orgs/{id}/place-rules", post(place_rule)),
        ("/bookings/{id}/precheck/answer", post(answer)),
        ("/bookings/divorces/{id}/withdraw", post(withdraw)),
    ]
}

/// Staff book on behalf of a couple (on the phone): the same parties' inputs as the public
/// form; the hidden `idem` makes a resent form answer the first booking.
async fn book(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("book", pairs);
    let mut input = super::public_pages::from_form(&form);
    input.phone = form.get("phone").to_string();
    let idem = form.get("idem").to_string();
    let idem = Some(idem.as_str()).filter(|k| !k.trim().is_empty());
    let day = input.day.clone();
    let created = match super::book::service_at(&s, id, input.service_id).await {
        Ok(()) => super::book::create(&s, &a.actor, &input, idem).await,
        Err(e) => Err(e),
    };
    match form.outcome_as(created, super::public_pages::input_name)? {
        Ok(b) => Ok(Redirect::to(&format!("/bookings/orgs/{id}?day={}", b.day)).into_response()),
        Err(form) => super::pages::org_page(&s, &a, id, &day, form).await,
    }
}

/// One waiting pre-check with its booking (number, parties masked, time).
struct Waiting {
    p: Precheck,
    b: Booking,
    /// Each party with the registration data entered for them.
    rows: Vec<(Party, PartyData)>,
    documents: Vec<&'static str>,
}

/// One divorce application with its booking's number and parties (masked).
struct Application {
    d: Divorce,
    number: String,
    parties: String,
}

#[derive(Template)]
#[template(path = "bookings_register.html")]
struct RegisterPage {
    nav: Option<Nav>,
    org: OrgInfo,
    waiting: Vec<Waiting>,
    divorces: Vec<Application>,
    designation: Designation,
    rules: Vec<PlaceRule>,
    can_manage: bool,
    can_set: bool,
    form: Kept,
}

async fn register_page(s: &AppState, a: &Authed, id: i64, form: Kept) -> PageResult {
    let org = super::org(s, &a.actor, id).await?;
    let can_manage = a.actor.can(Permission::BookingsManage);
    let mut waiting = Vec::new();
    if can_manage {
        for p in super::precheck::waiting(s, &a.actor, id).await? {
            let b = super::book::get(s, &a.actor, p.booking_id).await?;
            let documents = p
                .documents
                .iter()
                .map(|k| super::precheck::document_label(&b.service_kind, k))
                .collect();
            let rows = b
                .parties
                .iter()
                .cloned()
                .zip(p.data.iter().cloned())
                .collect();
            waiting.push(Waiting {
                p,
                b,
                rows,
                documents,
            });
        }
    }
    let mut divorces = Vec::new();
    for d in super::divorce::list(s, &a.actor, id).await? {
        let b = super::book::get(s, &a.actor, d.application_id).await?;
        let parties = b
            .parties
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join("、");
        divorces.push(Application {
            d,
            number: b.number,
            parties,
        });
    }
    let status = form.status();
    Ok(render_status(
        &RegisterPage {
            nav: Some(Nav::for_actor(&a.actor, "/bookings")),
            designation: super::register::designation(s, &a.actor, id).await?,
            rules: super::register::place_rules(s, &a.actor).await?,
            can_set: a.actor.can(Permission::BookingsEmergency),
            can_manage,
            org,
            waiting,
            divorces,
            form,
        },
        status,
    ))
}

async fn show(PageCaller(s, a): PageCaller, Path(id): Path<i64>) -> PageResult {
    register_page(&s, &a, id, Kept::none()).await
}

fn back(id: i64) -> PageResult {
    Ok(Redirect::to(&format!("/bookings/orgs/{id}/register")).into_response())
}

async fn designate(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("designation", pairs);
    let input = Designation {
        designated: form.get("designated") == "1",
    };
    match form.outcome(super::register::set_designation(&s, &a.actor, id, &input).await)? {
        Ok(_) => back(id),
        Err(form) => register_page(&s, &a, id, form).await,
    }
}

async fn place_rule(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    super::org(&s, &a.actor, id).await?;
    let form = Kept::input("rule", pairs);
    let input = SetPlaceRule {
        region_code: form.get("region_code").to_string(),
        rule: form.get("rule").to_string(),
    };
    match form.outcome(super::register::set_place_rule(&s, &a.actor, &input).await)? {
        Ok(_) => back(id),
        Err(form) => register_page(&s, &a, id, form).await,
    }
}

/// Approve a pre-check, or say what is missing (`approved=1` or `missing=…`).
async fn answer(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input(&format!("answer-{id}"), pairs);
    let input = PrecheckAnswer {
        approved: form.get("approved") == "1",
        missing: form.get("missing").to_string(),
    };
    let b = super::book::get(&s, &a.actor, id).await?;
    match form.outcome(super::precheck::answer(&s, &a.actor, id, &input).await)? {
        Ok(_) => back(b.org_id),
        Err(form) => register_page(&s, &a, b.org_id, form).await,
    }
}

async fn withdraw(PageCaller(s, a): PageCaller, Path(id): Path<i64>) -> PageResult {
    let d = super::divorce::withdraw(&s, &a.actor, id).await?;
    back(d.org_id)
}
