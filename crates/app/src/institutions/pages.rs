//! Institution monitoring pages: the list of institutions in scope (`/institutions`), one
//! institution (closed management and its history, supplies, shortage requests), its entrance
//! log (persons masked), the one-screen temperature rounds for all residents, and the county's
//! list of shortage requests with the answer form. Changes are POST forms; the rules are in the
//! service functions of `institutions`.

use askama::Template;
use axum::extract::{Form, Path, Query};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use backstop_core::error::ErrorCode;
use serde::Deserialize;

use super::{Closure, EntryView, Institution, Item, Round, RoundsView, Shortage, Supply};
use crate::kernel::auth::Authed;
use crate::kernel::error::AppError;
use crate::kernel::form::Kept;
use crate::kernel::handler::PageCaller;
use crate::kernel::web::Routes;
use crate::kernel::web::{Nav, PageResult, render, render_status};
use crate::state::AppState;

pub fn routes() -> Routes {
    vec![
        ("/institutions", get(list)),
        ("/institutions/shortages", get(shortages)),
        ("/institutions/shortages/{id}/answer", post(answer)),
        ("/institutions/shortages/{id}/close", post(close)),
        ("/institutions/{id}", get(show)),
        ("/institutions/{id}/closure", post(closure)),
        ("/institutions/{id}/supplies", post(supplies)),
        ("/institutions/{id}/shortages", post(raise)),
        ("/institutions/{id}/entries", get(entries).post(add_entry)),
        ("/institutions/{id}/rounds", get(rounds).post(record_round)),
        (
            "/institutions/{id}/health-events",
            get(health_events).post(record_health_event),
        ),
        (
            "/institutions/{id}/residents",
            get(super::resident_edit::residents_page).post(add_resident),
        ),
        (
            "/institutions/{id}/residents/{rid}",
            get(super::resident_edit::show_resident).post(super::resident_edit::edit_resident),
        ),
        (
            "/institutions/{id}/residents/{rid}/disable",
            post(super::resident_edit::disable_resident),
        ),
        (
            "/institutions/{id}/residents/{rid}/enable",
            post(super::resident_edit::enable_resident),
        ),
    ]
}

const AREA: &str = "/institutions";

fn nav(a: &crate::kernel::auth::Authed) -> Option<Nav> {
    Some(Nav::for_actor(&a.actor, AREA))
}

fn see_other(to: &str) -> PageResult {
    Ok(Redirect::to(to).into_response())
}

fn fmt_at(rfc: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc)
        .map(|t| backstop_core::clock::format_beijing(t.with_timezone(&chrono::Utc)))
        .unwrap_or_default()
}

fn status_label(s: &str) -> &'static str {
    match s {
        "open" => "待答复",
        "answered" => "已答复",
        "closed" => "已关闭",
        _ => "",
    }
}

#[derive(Template)]
#[template(path = "institutions_list.html")]
struct ListPage {
    nav: Option<Nav>,
    rows: Vec<Institution>,
    open_shortages: usize,
    /// The organisation the user works for (its health events: institutions and hospitals).
    own_org: Option<i64>,
}

async fn list(PageCaller(s, a): PageCaller) -> PageResult {
    let rows = super::list(&s, &a.actor, None).await?;
    let open_shortages = super::list_shortages(&s, &a.actor, Some("open"), None)
        .await?
        .len();
    Ok(render(&ListPage {
        nav: nav(&a),
        rows,
        open_shortages,
        own_org: a.actor.org_id,
    }))
}

/// A shortage request as shown.
struct ShortageRow {
    s: Shortage,
    status_label: &'static str,
    created_at: String,
    answered_at: String,
}

fn shortage_rows(list: Vec<Shortage>) -> Vec<ShortageRow> {
    list.into_iter()
        .map(|s| ShortageRow {
            status_label: status_label(&s.status),
            created_at: fmt_at(&s.created_at),
            answered_at: s.answered_at.as_deref().map(fmt_at).unwrap_or_default(),
            s,
        })
        .collect()
}

/// One row of the supplies form.
struct SupplyRow {
    item: &'static str,
    label: &'static str,
    unit: &'static str,
    quantity: String,
    days_left: String,
    low: bool,
    known: bool,
}

#[derive(Template)]
#[template(path = "institutions_show.html")]
struct ShowPage {
    nav: Option<Nav>,
    inst: Institution,
    closures: Vec<Closure>,
    supplies: Vec<SupplyRow>,
    shortages: Vec<ShortageRow>,
    can_write: bool,
    can_answer: bool,
    today: String,
    items: Vec<(&'static str, &'static str)>,
    /// The form sent (closure, supplies or shortage), kept with its reason when refused.
    form: Kept,
}

async fn show(PageCaller(s, a): PageCaller, Path(id): Path<i64>) -> PageResult {
    show_page(&s, &a, id, Kept::none()).await
}

/// The institution page, with `form` shown again when it was refused.
async fn show_page(s: &AppState, a: &Authed, id: i64, form: Kept) -> PageResult {
    let d = super::get(s, &a.actor, id).await?;
    let supplies = Item::ALL
        .into_iter()
        .map(|item| {
            let cur: Option<&Supply> = d.supplies.iter().find(|x| x.item == item.as_str());
            SupplyRow {
                item: item.as_str(),
                label: item.label_zh(),
                unit: item.unit_zh(),
                quantity: cur.map(|c| c.quantity.to_string()).unwrap_or_default(),
                days_left: cur.map(|c| c.days_left.to_string()).unwrap_or_default(),
                low: cur.is_some_and(|c| c.low),
                known: cur.is_some(),
            }
        })
        .collect();
    let shortages = shortage_rows(super::list_shortages(s, &a.actor, None, Some(id)).await?);
    let status = form.status();
    Ok(render_status(
        &ShowPage {
            nav: nav(a),
            inst: d.institution,
            closures: d.closures,
            supplies,
            shortages,
            can_write: d.can_write,
            can_answer: super::may_answer(&a.actor),
            today: super::ymd(s.today()),
            items: Item::ALL
                .into_iter()
                .map(|i| (i.as_str(), i.label_zh()))
                .collect(),
            form,
        },
        status,
    ))
}

/// After a write from the institution page: back to it, or the page again with the form kept.
async fn after<T>(
    s: &AppState,
    a: &Authed,
    id: i64,
    form: Kept,
    result: crate::kernel::error::AppResult<T>,
) -> PageResult {
    match form.outcome(result)? {
        Ok(_) => see_other(&format!("/institutions/{id}")),
        Err(form) => show_page(s, a, id, form).await,
    }
}

async fn closure(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("closure", pairs);
    let input = super::ClosureInput {
        action: form.get("action").to_string(),
        date: Some(form.get("date").to_string()),
        note: form.get("note").to_string(),
    };
    let r = super::set_closure(&s, &a.actor, id, &input).await;
    after(&s, &a, id, form, r).await
}

fn parse_int(form: &Kept, key: &str) -> Result<Option<i64>, AppError> {
    match Some(form.get(key).trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .map(Some)
            .map_err(|_| AppError::field(ErrorCode::Validation, key, "应为整数")),
    }
}

/// The supplies form's items, or the first refusal (its field is the input's name).
fn supply_items(form: &Kept) -> Result<Vec<super::SupplyInput>, AppError> {
    let mut items = Vec::new();
    for item in Item::ALL {
        let q = parse_int(form, &format!("{}_quantity", item.as_str()))?;
        let d = parse_int(form, &format!("{}_days", item.as_str()))?;
        match (q, d) {
            (Some(q), Some(d)) => items.push(super::SupplyInput {
                item: item.as_str().to_string(),
                quantity: q,
                days_left: d,
            }),
            (None, None) => {}
            (None, _) | (_, None) => {
                let missing = if q.is_none() { "quantity" } else { "days" };
                return Err(AppError {
                    message: format!("{}：数量和可用天数须同时填写", item.label_zh()),
                    ..AppError::field(
                        ErrorCode::Validation,
                        &format!("{}_{missing}", item.as_str()),
                        "数量和可用天数须同时填写",
                    )
                });
            }
        }
    }
    Ok(items)
}

async fn supplies(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("supplies", pairs);
    let r = match supply_items(&form) {
        Ok(items) => super::set_supplies(&s, &a.actor, id, &super::SuppliesInput { items }).await,
        Err(e) => Err(e),
    };
    after(&s, &a, id, form, r).await
}

async fn raise(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("shortage", pairs);
    let r = match form.get("quantity").trim().parse::<i64>() {
        Ok(quantity) => {
            let input = super::ShortageInput {
                item: form.get("item").to_string(),
                quantity,
                note: form.get("note").to_string(),
            };
            super::create_shortage(&s, &a.actor, id, &input).await
        }
        Err(_) => Err(AppError::field(
            ErrorCode::Validation,
            "quantity",
            "应为正整数",
        )),
    };
    after(&s, &a, id, form, r).await
}

#[derive(Template)]
#[template(path = "institutions_shortages.html")]
struct ShortagesPage {
    nav: Option<Nav>,
    rows: Vec<ShortageRow>,
    can_answer: bool,
    status: String,
    /// Where a row's answer or close form comes back to (this list, with its filter).
    back: String,
    /// The answer or close form of one row (`answer-{id}`, `close-{id}`), kept with its
    /// reason when refused.
    form: Kept,
}

#[derive(Deserialize, Default)]
struct StatusQuery {
    #[serde(default)]
    status: String,
}

async fn shortages(PageCaller(s, a): PageCaller, Query(q): Query<StatusQuery>) -> PageResult {
    shortages_page(&s, &a, &q.status, Kept::none()).await
}

/// The county's list of shortage requests (filtered by `status`), with `form` shown again in
/// its row when it was refused.
async fn shortages_page(s: &AppState, a: &Authed, status: &str, form: Kept) -> PageResult {
    let rows = shortage_rows(super::list_shortages(s, &a.actor, Some(status), None).await?);
    let code = form.status();
    Ok(render_status(
        &ShortagesPage {
            nav: nav(a),
            rows,
            can_answer: super::may_answer(&a.actor),
            back: shortages_back(status),
            status: status.to_string(),
            form,
        },
        code,
    ))
}

/// The list of shortage requests with its status filter (a known one), as a row form's way
/// back.
fn shortages_back(status: &str) -> String {
    match status {
        "open" | "answered" | "closed" => format!("/institutions/shortages?status={status}"),
        _ => "/institutions/shortages".to_string(),
    }
}

/// Where a row's form comes back to: an institution's page or the list (with its filter).
enum Back {
    Institution(i64),
    List(String),
}

fn back_to(back: &str) -> Back {
    // Only local institution pages: never an open redirect.
    if let Some(id) = back
        .strip_prefix("/institutions/")
        .and_then(|r| r.parse::<i64>().ok())
    {
        return Back::Institution(id);
    }
    let status = back
        .strip_prefix("/institutions/shortages?status=")
        .unwrap_or("");
    Back::List(status.to_string())
}

/// After a row's answer or close: back where it was sent from, or that page again with the
/// row's form kept and its reason (issue 14: no form loses input).
async fn after_row<T>(
    s: &AppState,
    a: &Authed,
    form: Kept,
    result: crate::kernel::error::AppResult<T>,
) -> PageResult {
    let back = back_to(form.get("back"));
    match (form.outcome(result)?, back) {
        (Ok(_), Back::Institution(id)) => see_other(&format!("/institutions/{id}")),
        (Ok(_), Back::List(status)) => see_other(&shortages_back(&status)),
        (Err(form), Back::Institution(id)) => show_page(s, a, id, form).await,
        (Err(form), Back::List(status)) => shortages_page(s, a, &status, form).await,
    }
}

async fn answer(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input(&format!("answer-{id}"), pairs);
    let r = super::answer_shortage(&s, &a.actor, id, form.get("answer")).await;
    after_row(&s, &a, form, r).await
}

async fn close(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input(&format!("close-{id}"), pairs);
    let r = super::close_shortage(&s, &a.actor, id).await;
    after_row(&s, &a, form, r).await
}

struct EntryRow {
    e: EntryView,
    at: String,
}

#[derive(Template)]
#[template(path = "institutions_entries.html")]
struct EntriesPage {
    nav: Option<Nav>,
    inst: Institution,
    day: String,
    rows: Vec<EntryRow>,
    fevers: usize,
    can_write: bool,
    /// The entry form as typed and why it was refused, when it was.
    form: Kept,
}

#[derive(Deserialize, Default)]
struct DayQuery {
    #[serde(default)]
    day: String,
}

async fn entries(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Query(q): Query<DayQuery>,
) -> PageResult {
    entries_page(&s, &a, id, &q.day, Kept::none()).await
}

/// The entrance log of a day, with the entry form (kept with its reason when refused).
async fn entries_page(s: &AppState, a: &Authed, id: i64, day: &str, form: Kept) -> PageResult {
    let d = super::get(s, &a.actor, id).await?;
    let day = super::day_param("day", Some(day))?;
    let list = super::list_entries(s, &a.actor, id, day).await?;
    let day = super::ymd(super::day_or_today(s, "day", day)?);
    let status = form.status();
    Ok(render_status(
        &EntriesPage {
            nav: nav(a),
            inst: d.institution,
            day,
            fevers: list.iter().filter(|e| e.fever).count(),
            rows: list
                .into_iter()
                .map(|e| EntryRow {
                    at: fmt_at(&e.entered_at),
                    e,
                })
                .collect(),
            can_write: d.can_write,
            form,
        },
        status,
    ))
}

async fn add_entry(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("entry", pairs);
    let r = match form.get("temperature").trim().parse::<f64>() {
        Ok(temperature) => {
            let input = super::EntryInput {
                name: form.get("name").to_string(),
                phone: form.get("phone").to_string(),
                reason: form.get("reason").to_string(),
                temperature,
            };
            super::add_entry(&s, &a.actor, id, &input).await
        }
        Err(_) => Err(AppError::field(
            ErrorCode::Validation,
            "temperature",
            "应为数字，如 36.5",
        )),
    };
    match form.outcome(r)? {
        Ok(_) => see_other(&format!("/institutions/{id}/entries")),
        Err(form) => entries_page(&s, &a, id, "", form).await,
    }
}

/// One resident's line of the rounds screen.
struct RoundLine {
    resident_id: i64,
    name: String,
    room: String,
    cells: Vec<(String, bool)>,
    value: String,
}

#[derive(Template)]
#[template(path = "institutions_rounds.html")]
struct RoundsPage {
    nav: Option<Nav>,
    inst: Institution,
    day: String,
    round: &'static str,
    rounds: Vec<(&'static str, &'static str, bool)>,
    lines: Vec<RoundLine>,
    fevers: Vec<super::FeverRow>,
    can_write: bool,
    /// The round or resident form as typed and why it was refused, when it was.
    form: Kept,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RoundsQuery {
    day: String,
    round: String,
}

fn default_round(s: &AppState) -> Round {
    use chrono::Timelike;
    let h = backstop_core::clock::beijing_naive(s.clock.now()).hour();
    if h < 11 {
        Round::Morning
    } else if h < 17 {
        Round::Noon
    } else {
        Round::Evening
    }
}

fn rounds_lines(v: &RoundsView, round: Round) -> Vec<RoundLine> {
    v.rows
        .iter()
        .map(|r| {
            let cell = |x: &Option<super::Reading>| {
                x.as_ref()
                    .map(|x| (format!("{:.1}", x.temperature), x.fever))
                    .unwrap_or_default()
            };
            let current = match round {
                Round::Morning => &r.morning,
                Round::Noon => &r.noon,
                Round::Evening => &r.evening,
            };
            RoundLine {
                resident_id: r.resident_id,
                name: r.name.clone(),
                room: r.room.clone(),
                cells: vec![cell(&r.morning), cell(&r.noon), cell(&r.evening)],
                value: current
                    .as_ref()
                    .map(|x| format!("{:.1}", x.temperature))
                    .unwrap_or_default(),
            }
        })
        .collect()
}

async fn rounds(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Query(q): Query<RoundsQuery>,
) -> PageResult {
    rounds_page(&s, &a, id, &q, Kept::none()).await
}

/// The rounds screen of a day and round, with the form sent from it when it was refused.
async fn rounds_page(s: &AppState, a: &Authed, id: i64, q: &RoundsQuery, form: Kept) -> PageResult {
    let d = super::get(s, &a.actor, id).await?;
    let round = Round::parse(&q.round).unwrap_or_else(|| default_round(s));
    let day = match super::day_param("day", Some(&q.day)) {
        Ok(d) => d,
        // A day refused with the form: the page of today, the form still kept.
        Err(_) if form.refused() => None,
        Err(e) => return Err(e.into()),
    };
    let v = super::rounds(s, &a.actor, id, day).await?;
    let mut lines = rounds_lines(&v, round);
    if form.of("round").refused() {
        // The values as typed, not the ones on record.
        for l in &mut lines {
            l.value = form.get(&format!("t_{}", l.resident_id)).to_string();
        }
    }
    let status = form.status();
    Ok(render_status(
        &RoundsPage {
            nav: nav(a),
            inst: d.institution,
            round: round.as_str(),
            rounds: Round::ALL
                .into_iter()
                .map(|r| (r.as_str(), r.label_zh(), r == round))
                .collect(),
            lines,
            fevers: v.fevers,
            day: v.day,
            can_write: d.can_write,
            form,
        },
        status,
    ))
}

async fn record_round(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("round", pairs);
    let q = RoundsQuery {
        day: form.get("day").to_string(),
        round: form.get("round").to_string(),
    };
    let mut temperatures = Vec::new();
    let mut bad = None;
    for (k, v) in form.pairs() {
        let Some(rid) = k.strip_prefix("t_").and_then(|r| r.parse::<i64>().ok()) else {
            continue;
        };
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        match v.parse::<f64>() {
            Ok(t) => temperatures.push(super::TempInput {
                resident_id: rid,
                temperature: Some(t),
            }),
            Err(_) => bad = bad.or(Some(k.clone())),
        }
    }
    if let Some(k) = bad {
        let form = form.refuse_msg(Some(&k), "体温应为数字（如 36.5），本轮未保存");
        return rounds_page(&s, &a, id, &q, form).await;
    }
    temperatures.sort_by_key(|t| t.resident_id);
    let input = super::RoundsInput {
        day: Some(q.day.clone()),
        round: q.round.clone(),
        temperatures,
    };
    match form.outcome(super::record_round(&s, &a.actor, id, &input).await)? {
        Ok(_) => see_other(&format!(
            "/institutions/{id}/rounds?day={}&round={}",
            q.day,
            Round::parse(&q.round).map(|r| r.as_str()).unwrap_or("")
        )),
        Err(form) => rounds_page(&s, &a, id, &q, form).await,
    }
}

async fn add_resident(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("resident", pairs);
    let input = super::ResidentInput {
        name: form.get("name").to_string(),
        room: form.get("room").to_string(),
    };
    match form.outcome(super::add_resident(&s, &a.actor, id, &input).await)? {
        Ok(_) => see_other(&format!("/institutions/{id}/rounds")),
        Err(form) => rounds_page(&s, &a, id, &RoundsQuery::default(), form).await,
    }
}

#[derive(Template)]
#[template(path = "institutions_health.html")]
struct HealthPage {
    nav: Option<Nav>,
    org: crate::orgs::Org,
    rows: Vec<super::HealthEvent>,
    statuses: [(&'static str, &'static str); 5],
    today: String,
    can_write: bool,
    form: Kept,
}

async fn health_events(PageCaller(s, a): PageCaller, Path(id): Path<i64>) -> PageResult {
    health_page(&s, &a, id, Kept::none()).await
}

/// An institution's or hospital's health events, with the form (kept with its reason when
/// refused).
async fn health_page(s: &AppState, a: &Authed, id: i64, form: Kept) -> PageResult {
    let (org, can_write) = super::health::page_org(s, &a.actor, id).await?;
    let rows = super::health::list(s, &a.actor, id).await?;
    let status = form.status();
    Ok(render_status(
        &HealthPage {
            nav: nav(a),
            org,
            rows,
            statuses: super::health::STATUSES,
            today: super::ymd(s.today()),
            can_write,
            form,
        },
        status,
    ))
}

async fn record_health_event(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("health", pairs);
    // The picker gives a person id; typed, an ID number (18 characters) is looked up.
    let person = form.get("person").trim().to_string();
    let input = super::NewHealthEvent {
        person_id: person.parse().ok().filter(|_| person.len() < 15),
        id_number: (!person.is_empty() && person.len() >= 15).then(|| person.clone()),
        status: form.get("status").to_string(),
        day: Some(form.get("day").to_string()),
    };
    let r = super::health::record(&s, &a.actor, id, &input, None).await;
    let name = |f: &str| match f {
        "person_id" | "id_number" => "person".to_string(),
        other => other.to_string(),
    };
    match form.outcome_as(r, name)? {
        Ok(_) => see_other(&format!("/institutions/{id}/health-events")),
        Err(form) => health_page(&s, &a, id, form).await,
    }
}
