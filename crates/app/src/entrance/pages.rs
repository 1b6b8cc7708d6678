//! Entrance-check pages: the gates in scope with today's counts and the form to set up a gate
//! (`/gates`), and one gate's phone-first quick-entry screen (`/gates/{id}`): the form keeps
//! the cursor in the name field, Enter saves and an htmx swap brings back an empty form with
//! today's list (names and phones masked, fevers highlighted), the counts and the gate's open
//! fever alerts with their acknowledgement form. Without JavaScript the same forms post and
//! redirect. No inline script or style (CSP); the rules are in the service functions of
//! `entrance`.

use askama::Template;
use axum::extract::{Form, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use backstop_core::region::{RegionLevel, Scope};
use backstop_core::role::Permission;
use serde::Deserialize;

use super::{AckInput, Alert, DIRECTIONS, EntriesDay, EntryInput, EntryView, Gate};
use crate::kernel::auth::Authed;
use crate::kernel::error::AppError;
use crate::kernel::form::Kept;
use crate::kernel::handler::{PageCaller, PageId, page_id};
use crate::kernel::web::Routes;
use crate::kernel::web::{Nav, PageResult, render, render_status};
use crate::state::AppState;

pub fn routes() -> Routes {
    vec![
        ("/gates", get(list).post(create)),
        ("/gates/{id}", get(show)),
        ("/gates/{id}/edit", post(rename)),
        ("/gates/{id}/disable", post(disable)),
        ("/gates/{id}/enable", post(enable)),
        ("/gates/{id}/entries", post(add_entry)),
        ("/entrance-alerts/{id}/ack", post(ack)),
    ]
}

const AREA: &str = "/gates";

fn nav(a: &Authed) -> Option<Nav> {
    Some(Nav::for_actor(&a.actor, AREA))
}

fn with_status(mut resp: Response, status: StatusCode) -> Response {
    *resp.status_mut() = status;
    resp
}

fn is_htmx(h: &HeaderMap) -> bool {
    h.get("hx-request").is_some_and(|v| v.as_bytes() == b"true")
}

// ------------------------------------------------------------------------------------ gates

/// A place a new gate may be set up at, for the form.
struct PlaceOption {
    value: String,
    label: String,
}

#[derive(Template)]
#[template(path = "entrance_gates.html")]
struct ListPage {
    nav: Option<Nav>,
    gates: Vec<Gate>,
    open_alerts: Vec<Alert>,
    places: Vec<PlaceOption>,
    /// A free village code field for callers above the township.
    free_region: bool,
    can_create: bool,
    /// The form sent from this page (the gate form or an alert's), kept with its reason.
    form: Kept,
}

async fn list_page(s: &AppState, a: &Authed, form: Kept) -> Result<Response, AppError> {
    let actor = &a.actor;
    let gates = super::list_gates(s, actor, None).await?;
    let open_alerts = super::alerts_to_handle(s, actor).await?;
    let mut places = Vec::new();
    let mut free_region = false;
    if super::may_write(actor, None) {
        match &actor.scope {
            Scope::Region(c) if c.level() == RegionLevel::Village => {
                let r = crate::regions::get(s, actor, c.as_str()).await?;
                places.push(PlaceOption {
                    value: format!("region:{}", r.code),
                    label: r.name,
                });
            }
            Scope::Region(c) if c.level() == RegionLevel::Township => {
                for r in crate::regions::children(s, actor, c.as_str()).await? {
                    if r.level == "village" {
                        places.push(PlaceOption {
                            value: format!("region:{}", r.code),
                            label: r.name,
                        });
                    }
                }
            }
            Scope::Region(c) if c.level() > RegionLevel::Village => {}
            _ => free_region = true,
        }
    }
    for i in crate::institutions::list(s, actor, None).await? {
        if super::may_write(actor, Some(i.id)) {
            places.push(PlaceOption {
                value: format!("org:{}", i.id),
                label: format!("{}（{}）", i.name, i.kind_label),
            });
        }
    }
    let can_create = free_region || !places.is_empty();
    let status = form.status();
    Ok(render_status(
        &ListPage {
            nav: nav(a),
            gates,
            open_alerts,
            places,
            free_region,
            can_create,
            form,
        },
        status,
    ))
}

async fn list(PageCaller(s, a): PageCaller) -> PageResult {
    Ok(list_page(&s, &a, Kept::none()).await?)
}

async fn create(
    PageCaller(s, a): PageCaller,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("gate", pairs);
    let mut input = super::NewGate {
        name: form.get("name").to_string(),
        ..Default::default()
    };
    match form.get("place").trim().split_once(':') {
        Some(("org", id)) => input.org_id = Some(page_id(id)?),
        Some(("region", code)) => input.region_code = Some(code.to_string()),
        _ => input.region_code = Some(form.get("region_code").to_string()),
    }
    // The service names the place `org_id` or `region_code`; the page has `place` and the
    // free `region_code` field.
    let free = form.get("place").is_empty();
    let name = |f: &str| match f {
        "gate_name" => "name".to_string(),
        "org_id" => "place".to_string(),
        "region_code" if !free => "place".to_string(),
        o => o.to_string(),
    };
    match form.outcome_as(super::create_gate(&s, &a.actor, &input).await, name)? {
        Ok(g) => Ok(Redirect::to(&format!("/gates/{}", g.id)).into_response()),
        Err(form) => Ok(list_page(&s, &a, form).await?),
    }
}

// ------------------------------------------------------------------------------ quick entry

/// One row of the day's list.
struct Row {
    e: EntryView,
    at: String,
}

/// The part of the gate page that a save replaces (`#gate-live`).
struct Live {
    gate: Gate,
    date: String,
    is_today: bool,
    count: i64,
    in_count: i64,
    out_count: i64,
    fevers: i64,
    rows: Vec<Row>,
    alerts: Vec<Alert>,
    can_link: bool,
    saved: Option<String>,
    saved_fever: bool,
    /// The form sent from the gate page (entry, rename or an alert's), kept with its reason;
    /// after a save, empty.
    form: Kept,
    /// (value, label, checked) of the in/out choice.
    directions: Vec<(&'static str, &'static str, bool)>,
}

#[derive(Template)]
#[template(path = "entrance_gate.html")]
struct GatePage {
    nav: Option<Nav>,
    live: Live,
}

#[derive(Template)]
#[template(path = "entrance_live.html")]
struct LiveFragment {
    live: Live,
}

fn time_of(rfc: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc)
        .map(|t| {
            backstop_core::clock::beijing_naive(t.with_timezone(&chrono::Utc))
                .format("%H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

async fn live(
    s: &AppState,
    a: &Authed,
    id: i64,
    date: Option<&str>,
    saved: Option<&EntryView>,
    form: Kept,
) -> Result<Live, AppError> {
    let EntriesDay {
        gate,
        date,
        count,
        in_count,
        out_count,
        fevers,
        entries,
    } = super::list_entries(s, &a.actor, id, super::date_param(date)?).await?;
    let alerts = super::list_alerts(s, &a.actor, Some("open"), Some(gate.id)).await?;
    let today = super::today_str(s);
    // The in/out choice: as sent after a refusal, the last one after a save, else in.
    let direction = match (form.of("entry").get("direction"), saved) {
        ("", Some(e)) => e.direction.clone(),
        ("", None) => "in".to_string(),
        (d, _) => d.to_string(),
    };
    Ok(Live {
        is_today: date == today,
        gate,
        date,
        count,
        in_count,
        out_count,
        fevers,
        rows: entries
            .into_iter()
            .map(|e| Row {
                at: time_of(&e.entered_at),
                e,
            })
            .collect(),
        alerts,
        can_link: a.actor.can(Permission::PersonsRead),
        saved: saved.map(|e| {
            format!(
                "已登记：{}（{}，{:.1} ℃）",
                e.name_masked, e.direction_label, e.temperature
            )
        }),
        saved_fever: saved.is_some_and(|e| e.fever),
        directions: DIRECTIONS
            .iter()
            .map(|(k, l)| (*k, *l, *k == direction))
            .collect(),
        form,
    })
}

#[derive(Deserialize, Default)]
struct DateParam {
    #[serde(default)]
    date: String,
}

async fn show(
    PageCaller(s, a): PageCaller,
    PageId(id): PageId,
    Query(q): Query<DateParam>,
) -> PageResult {
    let live = live(&s, &a, id, Some(q.date.as_str()), None, Kept::none()).await?;
    Ok(render(&GatePage { nav: nav(&a), live }))
}

/// The gate page again with a refused form (422), its input kept.
async fn gate_refused(s: &AppState, a: &Authed, id: i64, form: Kept) -> PageResult {
    let status = form.status();
    let live = live(s, a, id, None, None, form).await?;
    Ok(with_status(render(&GatePage { nav: nav(a), live }), status))
}

async fn add_entry(
    PageCaller(s, a): PageCaller,
    PageId(id): PageId,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let htmx = is_htmx(&headers);
    let mut form = Kept::input("entry", pairs);
    let result = match super::parse_temperature_text(form.get("temperature")) {
        Ok(t) => {
            let input = EntryInput {
                name: form.get("name").to_string(),
                phone: form.get("phone").to_string(),
                from: form.get("from").to_string(),
                reason: form.get("reason").to_string(),
                direction: Some(form.get("direction").to_string()),
                temperature: t,
                id_number: Some(form.get("id_number").to_string()),
            };
            super::add_entry(&s, &a.actor, id, &input).await
        }
        Err(e) => Err(e),
    };
    // The ID number never comes back in the page, refused or not.
    form = form.without("id_number");
    match form.outcome(result)? {
        Ok(e) => {
            if htmx {
                // A fresh form (the direction kept) for the next visitor.
                let live = live(&s, &a, id, None, Some(&e), Kept::none()).await?;
                Ok(render(&LiveFragment { live }))
            } else {
                Ok(Redirect::to(&format!("/gates/{id}")).into_response())
            }
        }
        Err(form) if htmx => {
            // htmx swaps only 2xx answers: the reason is shown inside the fragment.
            let live = live(&s, &a, id, None, None, form).await?;
            Ok(render(&LiveFragment { live }))
        }
        Err(form) => gate_refused(&s, &a, id, form).await,
    }
}

fn back_to(back: &str) -> String {
    // Only our own pages: never an open redirect.
    if (back == "/" || back.starts_with("/gates")) && !back.starts_with("//") {
        back.to_string()
    } else {
        "/gates".to_string()
    }
}

async fn ack(
    PageCaller(s, a): PageCaller,
    PageId(id): PageId,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input(&format!("ack-{id}"), pairs);
    let back = back_to(form.get("back"));
    let input = AckInput {
        disposition: form.get("disposition").to_string(),
        note: form.get("note").to_string(),
    };
    match form.outcome(super::ack_alert(&s, &a.actor, id, &input).await)? {
        Ok(_) => Ok(Redirect::to(&back).into_response()),
        // Refused: the gate page it was sent from, else the list (which shows every open
        // alert), with the note kept beside the alert.
        Err(form) => match back.strip_prefix("/gates/").and_then(|g| g.parse().ok()) {
            Some(gate) => gate_refused(&s, &a, gate, form).await,
            None => Ok(list_page(&s, &a, form).await?),
        },
    }
}

/// Rename a gate; refused: the gate page again with the name typed and the reason (422).
async fn rename(
    PageCaller(s, a): PageCaller,
    PageId(id): PageId,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("rename", pairs);
    let patch = super::GatePatch {
        name: Some(form.get("name").to_string()),
    };
    let r = super::update_gate(&s, &a.actor, id, &patch).await;
    match form.outcome_as(r, |f| f.replace("gate_name", "name"))? {
        Ok(_) => Ok(Redirect::to(&format!("/gates/{id}")).into_response()),
        Err(form) => gate_refused(&s, &a, id, form).await,
    }
}

async fn disable(PageCaller(s, a): PageCaller, PageId(id): PageId) -> PageResult {
    super::set_gate_disabled(&s, &a.actor, id, true).await?;
    Ok(Redirect::to(&format!("/gates/{id}")).into_response())
}

async fn enable(PageCaller(s, a): PageCaller, PageId(id): PageId) -> PageResult {
    super::set_gate_disabled(&s, &a.actor, id, false).await?;
    Ok(Redirect::to(&format!("/gates/{id}")).into_response())
}
