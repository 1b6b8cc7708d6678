//! Supervision pages: the inspections in scope with the recording form (`/inspections`), one
//! inspection with its problems and the answer / close / reopen forms, and the rectifications
//! list (`/inspections/rectifications`, overdue ones flagged; `?overdue=1` shows only those)
//! that every level above a unit sees. Changes are POST forms; rules live in `inspections`.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Form, Path, Query};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use backstop_core::role::Permission;
use serde::Deserialize;

use super::{Inspection, NewInspection, NewProblem, Problem, ReopenInput, RespondInput};
use crate::kernel::handler::PageCaller;
use crate::kernel::web::Routes;
use crate::kernel::web::{Nav, PageResult, render};

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
}

async fn list(PageCaller(s, a): PageCaller) -> PageResult {
    let list = super::list(&s, &a.actor, None).await?;
    let overdue = super::overdue_count(&s, &a.actor).await?;
    Ok(render(&ListPage {
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
    }))
}

async fn create(
    PageCaller(s, a): PageCaller,
    Form(body): Form<HashMap<String, String>>,
) -> PageResult {
    let g = |k: &str| body.get(k).cloned().unwrap_or_default();
    let mut problems = Vec::new();
    for i in 1..=3 {
        let description = g(&format!("p{i}_description"));
        let requirement = g(&format!("p{i}_requirement"));
        let deadline = g(&format!("p{i}_deadline"));
        if description.trim().is_empty() && requirement.trim().is_empty() {
            continue;
        }
        problems.push(NewProblem {
            description,
            requirement,
            deadline,
        });
    }
    let insp = super::create(
        &s,
        &a.actor,
        &NewInspection {
            unit: g("unit"),
            mode: g("mode"),
            date: Some(g("date")),
            findings: g("findings"),
            problems,
        },
    )
    .await?;
    Ok(Redirect::to(&format!("/inspections/{}", insp.id)).into_response())
}

#[derive(Template)]
#[template(path = "inspections_show.html")]
struct ShowPage {
    nav: Option<Nav>,
    i: Inspection,
    rows: Vec<ProblemRow>,
    can_manage: bool,
    today: String,
}

async fn show(PageCaller(s, a): PageCaller, Path(id): Path<i64>) -> PageResult {
    let mut i = super::get(&s, &a.actor, id).await?;
    let problems = std::mem::take(&mut i.problems);
    Ok(render(&ShowPage {
        nav: Some(Nav::for_actor(&a.actor, AREA)),
        rows: rows(problems, &a.actor),
        i,
        can_manage: a.actor.can(Permission::InspectionsManage),
        today: s.today().format("%Y-%m-%d").to_string(),
    }))
}

async fn add_problem(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(problem): Form<NewProblem>,
) -> PageResult {
    super::add_problem(&s, &a.actor, id, &problem).await?;
    Ok(Redirect::to(&format!("/inspections/{id}")).into_response())
}

#[derive(Template)]
#[template(path = "inspections_rectifications.html")]
struct RectificationsPage {
    nav: Option<Nav>,
    rows: Vec<ProblemRow>,
    overdue_only: bool,
    can_manage: bool,
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
    }))
}

async fn respond(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(f): Form<RespondInput>,
) -> PageResult {
    let p = super::respond(&s, &a.actor, id, &f.response).await?;
    Ok(Redirect::to(&format!("/inspections/{}", p.inspection_id)).into_response())
}

async fn close(PageCaller(s, a): PageCaller, Path(id): Path<i64>) -> PageResult {
    let p = super::close(&s, &a.actor, id).await?;
    Ok(Redirect::to(&format!("/inspections/{}", p.inspection_id)).into_response())
}

async fn reopen(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(f): Form<ReopenInput>,
) -> PageResult {
    let p = super::reopen(&s, &a.actor, id, &f.reason).await?;
    Ok(Redirect::to(&format!("/inspections/{}", p.inspection_id)).into_response())
}
