//! Supervision pages: the inspections in scope with the recording form (`/inspections`), one
//! inspection with its problems and the answer / close / reopen forms, and the rectifications
//! list (`/inspections/rectifications`, overdue ones flagged; `?overdue=1` shows only those)
//! that every level above a unit sees. Changes are POST forms; rules live in `inspections`.

use askama::Template;
use axum::extract::{Form, Path, Query};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use backstop_core::role::Permission;
use serde::Deserialize;

use super::{Inspection, NewInspection, NewProblem, Problem};
use crate::kernel::auth::Authed;
use crate::kernel::error::AppError;
use crate::kernel::form::Kept;
use crate::kernel::handler::PageCaller;
use crate::kernel::web::Routes;
use crate::kernel::web::{Nav, PageResult, render, render_status};
use crate::state::AppState;

pub fn routes() -> Routes {
    vec![
        ("/inspections", get(list).post(create)),
        ("/inspections/rectifications", get(rectifications)),
        ("/inspections/rectifications/{id}/respond", post(respond)),
        ("/inspections/rectifications/{id}/close", post(close)),
        ("/inspections/rectifications/{id}/reopen", post(reopen)),
        ("/inspections/{id}", get(show)),
        ("/inspections/{id}/problems", post(add_problem)),
    ]
}

const AREA: &str = "/inspections";

fn status_label(s: &str) -> &'static str {
    match s {
        "open" => "待整改",
        "answered" => "已反馈",
        "closed" => "已销号",
        _ => "",
    }
}

struct ProblemRow {
    p: Problem,
    status_label: &'static str,
    can_respond: bool,
}

fn rows(list: Vec<Problem>, actor: &crate::kernel::actor::Actor) -> Vec<ProblemRow> {
    list.into_iter()
        .map(|p| ProblemRow {
            status_label: status_label(&p.status),
            can_respond: p.status != "closed" && super::may_respond(actor, &p.unit),
            p,
        })
        .collect()
}

struct InspectionRow {
    i: Inspection,
    problems: usize,
    open: usize,
    overdue: usize,
}

#[derive(Template)]
#[template(path = "inspections_list.html")]
struct ListPage {
    nav: Option<Nav>,
    rows: Vec<InspectionRow>,
    overdue: i64,
    can_manage: bool,
    today: String,
    /// The recording form: what was typed and why it was refused, when it was.
    form: Kept,
}

/// The problem slots of the recording form (`p1_…` to `p3_…`).
const SLOTS: [usize; 3] = [1, 2, 3];

async fn list_page(s: &AppState, a: &Authed, form: Kept) -> PageResult {
    let list = super::list(s, &a.actor, None).await?;
    let overdue = super::overdue_count(s, &a.actor).await?;
    let status = form.status();
    Ok(render_status(
        &ListPage {
            nav: Some(Nav::for_actor(&a.actor, AREA)),
            rows: list
                .into_iter()
                .map(|i| InspectionRow {
                    problems: i.problems.len(),
                    open: i.problems.iter().filter(|p| p.status != "closed").count(),
                    overdue: i.problems.iter().filter(|p| p.overdue).count(),
                    i,
                })
                .collect(),
            overdue,
            can_manage: a.actor.can(Permission::InspectionsManage),
            today: s.today().format("%Y-%m-%d").to_string(),
            form,
        },
        status,
    ))
}

async fn list(PageCaller(s, a): PageCaller) -> PageResult {
    list_page(&s, &a, Kept::none()).await
}

/// A refusal about `problems[k]` (the k-th problem *sent*) renamed to the form's slot it came
/// from, so the message counts as the page does (第 N 条, N the slot from 1) and sits beside
/// that slot's input (`pN_deadline`).
fn to_slot(e: AppError, slots: &[usize]) -> AppError {
    let Some(f) = e.fields.first() else {
        return e;
    };
    let Some((k, sub)) = f
        .field
        .strip_prefix("problems[")
        .and_then(|r| r.split_once("]."))
        .and_then(|(k, sub)| Some((k.parse::<usize>().ok()?, sub.to_string())))
    else {
        return e;
    };
    let slot = slots.get(k).copied().unwrap_or(k + 1);
    AppError::field(
        e.code,
        &format!("problems[{}].{sub}", slot - 1),
        f.message.clone(),
    )
}

/// The page's input name of a service field: `problems[N-1].x` → `pN_x`.
fn input_name(field: &str) -> String {
    field
        .strip_prefix("problems[")
        .and_then(|r| r.split_once("]."))
        .and_then(|(k, sub)| Some(format!("p{}_{sub}", k.parse::<usize>().ok()? + 1)))
        .unwrap_or_else(|| field.to_string())
}

async fn create(
    PageCaller(s, a): PageCaller,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("inspection", pairs);
    let mut problems = Vec::new();
    let mut slots = Vec::new();
    for n in SLOTS {
        let description = form.get(&format!("p{n}_description")).to_string();
        let requirement = form.get(&format!("p{n}_requirement")).to_string();
        let deadline = form.get(&format!("p{n}_deadline")).to_string();
        if description.trim().is_empty()
            && requirement.trim().is_empty()
            && deadline.trim().is_empty()
        {
            continue;
        }
        slots.push(n);
        problems.push(NewProblem {
            description,
            requirement,
            deadline,
        });
    }
    let input = NewInspection {
        unit: form.get("unit").to_string(),
        mode: form.get("mode").to_string(),
        date: Some(form.get("date").to_string()),
        findings: form.get("findings").to_string(),
        problems,
    };
    let result = match super::create(&s, &a.actor, &input).await {
        // A unit outside the caller's scope reads as not found: say so beside the field
        // rather than dropping the write-up for an error page.
        Err(e) if e.status() == axum::http::StatusCode::NOT_FOUND => Err(AppError::field(
            backstop_core::error::ErrorCode::Validation,
            "unit",
            "单位不存在或不在您的管辖范围内",
        )),
        r => r.map_err(|e| to_slot(e, &slots)),
    };
    match form.outcome_as(result, input_name)? {
        Ok(insp) => Ok(Redirect::to(&format!("/inspections/{}", insp.id)).into_response()),
        Err(form) => list_page(&s, &a, form).await,
    }
}

#[derive(Template)]
#[template(path = "inspections_show.html")]
struct ShowPage {
    nav: Option<Nav>,
    i: Inspection,
    rows: Vec<ProblemRow>,
    can_manage: bool,
    today: String,
    /// The form sent from this page (a new problem, a row's answer or reopening), kept with
    /// its reason when refused.
    form: Kept,
}

async fn show(PageCaller(s, a): PageCaller, Path(id): Path<i64>) -> PageResult {
    show_page(&s, &a, id, Kept::none()).await
}

async fn show_page(s: &AppState, a: &Authed, id: i64, form: Kept) -> PageResult {
    let mut i = super::get(s, &a.actor, id).await?;
    let problems = std::mem::take(&mut i.problems);
    let status = form.status();
    Ok(render_status(
        &ShowPage {
            nav: Some(Nav::for_actor(&a.actor, AREA)),
            rows: rows(problems, &a.actor),
            i,
            can_manage: a.actor.can(Permission::InspectionsManage),
            today: s.today().format("%Y-%m-%d").to_string(),
            form,
        },
        status,
    ))
}

async fn add_problem(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("problem", pairs);
    let problem = NewProblem {
        description: form.get("description").to_string(),
        requirement: form.get("requirement").to_string(),
        deadline: form.get("deadline").to_string(),
    };
    // The one problem of this form: its fields by their own names and labels.
    let r = super::add_problem(&s, &a.actor, id, &problem)
        .await
        .map_err(|e| match e.fields.first() {
            Some(f) if f.field.starts_with("problems[") => {
                let name = input_name(&f.field);
                let sub = name.split_once('_').map(|(_, s)| s).unwrap_or(&name);
                AppError::field(e.code, sub, f.message.clone())
            }
            _ => e,
        });
    match form.outcome(r)? {
        Ok(_) => Ok(Redirect::to(&format!("/inspections/{id}")).into_response()),
        Err(form) => show_page(&s, &a, id, form).await,
    }
}

#[derive(Template)]
#[template(path = "inspections_rectifications.html")]
struct RectificationsPage {
    nav: Option<Nav>,
    rows: Vec<ProblemRow>,
    overdue_only: bool,
    can_manage: bool,
    /// Forms of the rows are sent back to the inspection's page when refused: none here.
    form: Kept,
}

#[derive(Deserialize, Default)]
struct RectQuery {
    #[serde(default)]
    overdue: String,
}

async fn rectifications(PageCaller(s, a): PageCaller, Query(q): Query<RectQuery>) -> PageResult {
    let overdue_only = !q.overdue.is_empty() && q.overdue != "0";
    let list = super::rectifications(&s, &a.actor, None, overdue_only).await?;
    Ok(render(&RectificationsPage {
        nav: Some(Nav::for_actor(&a.actor, AREA)),
        rows: rows(list, &a.actor),
        overdue_only,
        can_manage: a.actor.can(Permission::InspectionsManage),
        form: Kept::none(),
    }))
}

/// A row's write (answer, close, reopen): back to the problem's inspection, or its page again
/// with the row's form kept and the reason.
async fn row_write(
    s: &AppState,
    a: &Authed,
    id: i64,
    form: Kept,
    r: crate::kernel::error::AppResult<Problem>,
) -> PageResult {
    match form.outcome(r)? {
        Ok(p) => Ok(Redirect::to(&format!("/inspections/{}", p.inspection_id)).into_response()),
        Err(form) => {
            let p = super::get_problem(s, &a.actor, id).await?;
            show_page(s, a, p.inspection_id, form).await
        }
    }
}

async fn respond(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input(&format!("respond-{id}"), pairs);
    let r = super::respond(&s, &a.actor, id, form.get("response")).await;
    row_write(&s, &a, id, form, r).await
}

async fn close(PageCaller(s, a): PageCaller, Path(id): Path<i64>) -> PageResult {
    let r = super::close(&s, &a.actor, id).await;
    row_write(
        &s,
        &a,
        id,
        Kept::input(&format!("close-{id}"), Vec::new()),
        r,
    )
    .await
}

async fn reopen(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input(&format!("reopen-{id}"), pairs);
    let r = super::reopen(&s, &a.actor, id, form.get("reason")).await;
    row_write(&s, &a, id, form, r).await
}
