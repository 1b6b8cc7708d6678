//! Staff pages of the volunteers area (`volunteers.manage`): the tasks in scope with the
//! posting form (`/volunteers`), one task with its volunteers, the assign form and the
//! confirm-hours form per volunteer, the volunteers registered in scope with their
//! certificates (printable), and the totals of confirmed hours with a chart and the Excel
//! export. Changes are POST forms; the rules live in `volunteers`.

use askama::Template;
use axum::extract::{Form, Path, Query};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use backstop_core::region::Scope;

use super::certificate::Certificate;
use super::totals::Totals;
use super::{ConfirmInput, KINDS, NewTask, SKILLS, Shift, Task, Volunteer};
use crate::kernel::auth::Authed;
use crate::kernel::form::Kept;
use crate::kernel::handler::{PageCaller, RegionQuery};
use crate::kernel::web::{Nav, PageResult, Routes, render, render_status};
use crate::state::AppState;

pub fn routes() -> Routes {
    vec![
        ("/volunteers", get(list)),
        ("/volunteers/tasks", post(create)),
        ("/volunteers/tasks/{id}", get(show)),
        ("/volunteers/tasks/{id}/assign", post(assign)),
        ("/volunteers/shifts/{id}/confirm", post(confirm)),
        ("/volunteers/people", get(people)),
        ("/volunteers/people/{id}/certificate", get(certificate)),
        ("/volunteers/totals", get(totals)),
    ]
}

const AREA: &str = "/volunteers";

#[derive(Template)]
#[template(path = "volunteers_tasks.html")]
struct ListPage {
    nav: Option<Nav>,
    tasks: Vec<Task>,
    kinds: Vec<(&'static str, &'static str)>,
    skills: Vec<(&'static str, &'static str)>,
    /// The region the form starts with (the actor's own, if a township or village).
    region: String,
    today: String,
    form: Kept,
}

async fn list_page(s: &AppState, a: &Authed, form: Kept) -> PageResult {
    let tasks = super::list_tasks(s, &a.actor, None).await?;
    let region = match &a.actor.scope {
        Scope::Region(c) if c.as_str().len() >= 9 => c.as_str().to_string(),
        _ => String::new(),
    };
    let status = form.status();
    Ok(render_status(
        &ListPage {
            nav: Some(Nav::for_actor(&a.actor, AREA)),
            tasks,
            kinds: KINDS.to_vec(),
            skills: SKILLS.to_vec(),
            region,
            today: s.today().format("%Y-%m-%d").to_string(),
            form,
        },
        status,
    ))
}

async fn list(PageCaller(s, a): PageCaller) -> PageResult {
    list_page(&s, &a, Kept::none()).await
}

async fn create(
    PageCaller(s, a): PageCaller,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("task", pairs);
    let input = NewTask {
        region_code: form.get("region_code").to_string(),
        kind: form.get("kind").to_string(),
        title: form.get("title").to_string(),
        address: form.get("address").to_string(),
        day: form.get("day").to_string(),
        starts: form.get("starts").to_string(),
        ends: form.get("ends").to_string(),
        needed: form.get("needed").trim().parse().unwrap_or(0),
        skills: form.all("skills").into_iter().map(str::to_string).collect(),
        note: form.get("note").to_string(),
    };
    match form.outcome(super::create_task(&s, &a.actor, &input).await)? {
        Ok(t) => Ok(Redirect::to(&format!("/volunteers/tasks/{}", t.id)).into_response()),
        Err(form) => list_page(&s, &a, form).await,
    }
}

/// A volunteer on the task page, with whether the confirm form applies.
struct ShiftRow {
    s: Shift,
    can_confirm: bool,
}

#[derive(Template)]
#[template(path = "volunteers_task.html")]
struct TaskPage {
    nav: Option<Nav>,
    t: Task,
    rows: Vec<ShiftRow>,
    /// Volunteers of the scope not yet on the task (for the assign form).
    candidates: Vec<Volunteer>,
    form: Kept,
}

async fn task_page(s: &AppState, a: &Authed, id: i64, form: Kept) -> PageResult {
    let d = super::get_task(s, &a.actor, id).await?;
    let township: String = d.task.region_code.chars().take(9).collect();
    let candidates = super::list_volunteers(s, &a.actor, None)
        .await?
        .into_iter()
        .filter(|v| v.region_code.starts_with(&township))
        .filter(|v| !d.shifts.iter().any(|x| x.volunteer_id == v.id))
        .collect();
    let status = form.status();
    Ok(render_status(
        &TaskPage {
            nav: Some(Nav::for_actor(&a.actor, AREA)),
            rows: d
                .shifts
                .into_iter()
                .map(|s| ShiftRow {
                    can_confirm: s.minutes.is_some(),
                    s,
                })
                .collect(),
            t: d.task,
            candidates,
            form,
        },
        status,
    ))
}

async fn show(PageCaller(s, a): PageCaller, Path(id): Path<i64>) -> PageResult {
    task_page(&s, &a, id, Kept::none()).await
}

async fn assign(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("assign", pairs);
    let vid = form.get("volunteer_id").trim().parse().unwrap_or(0);
    match form.outcome(super::assign(&s, &a.actor, id, vid).await)? {
        Ok(_) => Ok(Redirect::to(&format!("/volunteers/tasks/{id}")).into_response()),
        Err(form) => task_page(&s, &a, id, form).await,
    }
}

async fn confirm(
    PageCaller(s, a): PageCaller,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let shift = super::get_shift(&s, &a.actor, id).await?;
    let form = Kept::input(&format!("confirm-{id}"), pairs);
    let input = ConfirmInput {
        minutes: match form.get("minutes").trim() {
            "" => None,
            m => Some(m.parse().unwrap_or(-1)),
        },
        reason: form.get("reason").to_string(),
    };
    match form.outcome(super::confirm(&s, &a.actor, id, &input).await)? {
        Ok(_) => Ok(Redirect::to(&format!("/volunteers/tasks/{}", shift.task_id)).into_response()),
        Err(form) => task_page(&s, &a, shift.task_id, form).await,
    }
}

#[derive(Template)]
#[template(path = "volunteers_people.html")]
struct PeoplePage {
    nav: Option<Nav>,
    people: Vec<Volunteer>,
}

async fn people(PageCaller(s, a): PageCaller) -> PageResult {
    Ok(render(&PeoplePage {
        nav: Some(Nav::for_actor(&a.actor, AREA)),
        people: super::list_volunteers(&s, &a.actor, None).await?,
    }))
}

#[derive(Template)]
#[template(path = "volunteers_certificate.html")]
struct CertificatePage {
    nav: Option<Nav>,
    c: Certificate,
}

async fn certificate(PageCaller(s, a): PageCaller, Path(id): Path<i64>) -> PageResult {
    Ok(render(&CertificatePage {
        nav: Some(Nav::for_actor(&a.actor, AREA)),
        c: super::certificate::for_staff(&s, &a.actor, id).await?,
    }))
}

/// One bar of the chart: a region's name, its hours and the bar's width (0–100).
struct Bar {
    name: String,
    value: String,
    width: i64,
}

#[derive(Template)]
#[template(path = "volunteers_totals.html")]
struct TotalsPage {
    nav: Option<Nav>,
    t: Totals,
    bars: Vec<Bar>,
    /// (title, table id, lines): per region, organisation and volunteer.
    sections: Vec<(&'static str, &'static str, Vec<super::totals::TotalLine>)>,
    export: String,
}

async fn totals(PageCaller(s, a): PageCaller, Query(q): Query<RegionQuery>) -> PageResult {
    let t = super::totals::totals(&s, &a.actor, q.region()?.as_ref()).await?;
    let max = t
        .regions
        .iter()
        .map(|l| l.minutes)
        .max()
        .unwrap_or(0)
        .max(1);
    let bars = t
        .regions
        .iter()
        .map(|l| Bar {
            name: l.name.clone(),
            value: l.hours.clone(),
            width: l.minutes * 100 / max,
        })
        .collect();
    let export = format!(
        "/api/v1/volunteers/totals/export?{}",
        crate::kernel::web::query_string(&[("region", q.region.as_deref().unwrap_or(""))])
    );
    let sections = vec![
        ("分区划", "vol-by-region", t.regions.clone()),
        ("分社会组织", "vol-by-org", t.orgs.clone()),
        ("分志愿者", "vol-by-volunteer", t.volunteers.clone()),
    ];
    Ok(render(&TotalsPage {
        nav: Some(Nav::for_actor(&a.actor, AREA)),
        t,
        bars,
        sections,
        export,
    }))
}
