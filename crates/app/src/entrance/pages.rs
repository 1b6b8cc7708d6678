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
use crate::kernel::handler::{PageCaller, PageId, page_id};
use crate::kernel::web::Routes;
use crate::kernel::web::{Nav, PageResult, render};
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
    error: Option<String>,
    name: String,
}

async fn list_page(
    s: &AppState,
    a: &Authed,
    error: Option<String>,
    name: String,
) -> Result<Response, AppError> {
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
    Ok(render(&ListPage {
        nav: nav(a),
        gates,
        open_alerts,
        places,
        free_region,
        can_create,
        error,
        name,
    }))
}

async fn list(PageCaller(s, a): PageCaller) -> PageResult {
    Ok(list_page(&s, &a, None, String::new()).await?)
}

#[derive(Deserialize)]
struct CreateForm {
    name: String,
    #[serde(default)]
    place: String,
    #[serde(default)]
    region_code: String,
}

async fn create(PageCaller(s, a): PageCaller, Form(f): Form<CreateForm>) -> PageResult {
    let mut input = super::NewGate {
        name: f.name.clone(),
        ..Default::default()
    };
    match f.place.trim().split_once(':') {
        Some(("org", id)) => input.org_id = Some(page_id(id)?),
        Some(("region", code)) => input.region_code = Some(code.to_string()),
        _ => input.region_code = Some(f.region_code.clone()),
    }
    match super::create_gate(&s, &a.actor, &input).await {
        Ok(g) => Ok(Redirect::to(&format!("/gates/{}", g.id)).into_response()),
        Err(e) if matches!(e.status().as_u16(), 409 | 422) => {
            let status = e.status();
            Ok(with_status(
                list_page(&s, &a, Some(e.message), f.name).await?,
                status,
            ))
        }
        Err(e) => Err(e.into()),
    }
}

// ------------------------------------------------------------------------------ quick entry

/// What the entry form shows: empty after a save, as typed after an error.
#[derive(Default)]
struct FormValues {
    name: String,
    phone: String,
    from: String,
    reason: String,
    direction: String,
    temperature: String,
}

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
    error: Option<String>,
    saved: Option<String>,
    saved_fever: bool,
    v: FormValues,
    /// (value, label, checked) of the in/out choice.
    directions: Vec<(&'static str, &'static str, bool)>,
}

#[derive(Template)]
#[template(path = "entrance_gate.html")]
struct GatePage {
    nav: Option<Nav>,
    live: Live,
    /// The rename form's value, and why it was refused.
    edit_name: String,
    edit_error: Option<String>,
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
    error: Option<String>,
    saved: Option<&EntryView>,
    v: FormValues,
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
    let v = FormValues {
        direction: if v.direction.is_empty() {
            "in".to_string()
        } else {
            v.direction
        },
        ..v
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
        error,
        saved: saved.map(|e| {
            format!(
                "已登记：{}（{}，{:.1} ℃）",
                e.name_masked, e.direction_label, e.temperature
            )
        }),
        saved_fever: saved.is_some_and(|e| e.fever),
        directions: DIRECTIONS
            .iter()
            .map(|(k, l)| (*k, *l, *k == v.direction))
            .collect(),
        v,
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
    let live = live(
        &s,
        &a,
        id,
        Some(q.date.as_str()),
        None,
        None,
        FormValues::default(),
    )
    .await?;
    Ok(render(&GatePage {
        nav: nav(&a),
        edit_name: live.gate.name.clone(),
        live,
        edit_error: None,
    }))
}

#[derive(Deserialize)]
struct EntryForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    direction: String,
    #[serde(default)]
    temperature: String,
    #[serde(default)]
    id_number: String,
}

async fn add_entry(
    PageCaller(s, a): PageCaller,
    PageId(id): PageId,
    headers: HeaderMap,
    Form(f): Form<EntryForm>,
) -> PageResult {
    let htmx = is_htmx(&headers);
    let result = match super::parse_temperature_text(&f.temperature) {
        Ok(t) => {
            let input = EntryInput {
                name: f.name.clone(),
                phone: f.phone.clone(),
                from: f.from.clone(),
                reason: f.reason.clone(),
                direction: Some(f.direction.clone()),
                temperature: t,
                id_number: Some(f.id_number.clone()),
            };
            super::add_entry(&s, &a.actor, id, &input).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(e) => {
            if htmx {
                // A fresh form (the direction kept) for the next visitor.
                let v = FormValues {
                    direction: e.direction.clone(),
                    ..Default::default()
                };
                let live = live(&s, &a, id, None, None, Some(&e), v).await?;
                Ok(render(&LiveFragment { live }))
            } else {
                Ok(Redirect::to(&format!("/gates/{id}")).into_response())
            }
        }
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            // The typed values come back (never the ID number) with the reason.
            let v = FormValues {
                name: f.name,
                phone: f.phone,
                from: f.from,
                reason: f.reason,
                direction: f.direction,
                temperature: f.temperature,
            };
            let live = live(&s, &a, id, None, Some(e.message), None, v).await?;
            if htmx {
                // htmx swaps only 2xx answers: the error is shown inside the fragment.
                Ok(render(&LiveFragment { live }))
            } else {
                Ok(with_status(
                    render(&GatePage {
                        nav: nav(&a),
                        edit_name: live.gate.name.clone(),
                        live,
                        edit_error: None,
                    }),
                    StatusCode::UNPROCESSABLE_ENTITY,
                ))
            }
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct AckForm {
    #[serde(default)]
    disposition: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    back: String,
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
    Form(f): Form<AckForm>,
) -> PageResult {
    super::ack_alert(
        &s,
        &a.actor,
        id,
        &AckInput {
            disposition: f.disposition,
            note: f.note,
        },
    )
    .await?;
    Ok(Redirect::to(&back_to(&f.back)).into_response())
}

#[derive(Deserialize, Default)]
struct RenameForm {
    #[serde(default)]
    name: String,
}

/// Rename a gate; refused: the gate page again with the name typed and the reason (422).
async fn rename(
    PageCaller(s, a): PageCaller,
    PageId(id): PageId,
    Form(f): Form<RenameForm>,
) -> PageResult {
    let patch = super::GatePatch {
        name: Some(f.name.clone()),
    };
    match crate::kernel::handler::refusal(super::update_gate(&s, &a.actor, id, &patch).await)? {
        Ok(_) => Ok(Redirect::to(&format!("/gates/{id}")).into_response()),
        Err(message) => {
            let live = live(&s, &a, id, None, None, None, FormValues::default()).await?;
            let page = GatePage {
                nav: nav(&a),
                live,
                edit_name: crate::kernel::web::clip(&f.name, 50),
                edit_error: Some(message),
            };
            Ok(crate::kernel::web::render_status(
                &page,
                StatusCode::UNPROCESSABLE_ENTITY,
            ))
        }
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
