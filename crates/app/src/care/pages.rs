//! Vulnerable-group pages: the coverage view (`/care?region=&from=&to=`, per category members,
//! contacted and share, the members not contacted, and the overdue follow-up tasks) and a
//! person's care page (`/care/persons/{id}`) with POST forms to add a membership, name the
//! carer, record the daily check, record a visit, turn a need into a task and close a task.
//! Every read and write goes through the scoped service functions of `care`; a validation
//! error re-shows the page with the Chinese message (422).

use askama::Template;
use axum::extract::{Form, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use backstop_core::role::Permission;
use serde::Deserialize;

use super::{
    CareRecord, CarerInput, Category, CheckInput, CloseTask, Coverage, CoverageQuery,
    EndMembership, NewMembership, NewTask, NewVisit, NotContacted, Task, TaskStatus,
};
use crate::kernel::auth::Authed;
use crate::kernel::error::AppResult;
use crate::kernel::form::Kept;
use crate::kernel::handler::{PageCaller, PageId, page_id};
use crate::kernel::web::Routes;
use crate::kernel::web::{Nav, PageResult, clip, render, render_status};
use crate::state::AppState;

pub fn routes() -> Routes {
    vec![
        ("/care", get(coverage)),
        ("/care/persons/{id}", get(person)),
        ("/care/persons/{id}/memberships", post(add_membership)),
        ("/care/memberships/{id}/end", post(end_membership)),
        ("/care/persons/{id}/carer", post(set_carer)),
        ("/care/persons/{id}/checks", post(record_check)),
        ("/care/persons/{id}/visits", post(add_visit)),
        ("/care/visits/{id}/tasks", post(add_task)),
        ("/care/tasks/{id}/close", post(close_task)),
    ]
}

#[derive(Template)]
#[template(path = "care_coverage.html")]
struct CoveragePage {
    nav: Option<Nav>,
    region: String,
    from: String,
    to: String,
    category: String,
    categories: Vec<Category>,
    coverage: Option<Coverage>,
    missing: Vec<NotContacted>,
    overdue: Vec<Task>,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CoverageForm {
    region: String,
    from: String,
    to: String,
    category: String,
}

async fn coverage(PageCaller(s, a): PageCaller, Query(f): Query<CoverageForm>) -> PageResult {
    let actor = &a.actor;
    actor.require(Permission::PersonsRead)?;
    let opt = |v: &str, n| Some(clip(v, n)).filter(|v: &String| !v.is_empty());
    let q = CoverageQuery {
        region: opt(&f.region, 20),
        from: opt(&f.from, 10),
        to: opt(&f.to, 10),
        category: opt(&f.category, 40),
    };
    let mut error = None;
    let mut status = StatusCode::OK;
    let viewed = match q.period(super::today(&s)) {
        Ok(p) => super::coverage(&s, actor, &p).await.map(|c| (p, c)),
        Err(e) => Err(e),
    };
    let (period, cov) = match viewed {
        Ok((p, c)) => (Some(p), Some(c)),
        Err(e) if e.status() == StatusCode::NOT_FOUND => {
            status = StatusCode::NOT_FOUND;
            error = Some("区划不存在或不在您的管辖范围内".to_string());
            (None, None)
        }
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            status = e.status();
            error = Some(e.message);
            (None, None)
        }
        Err(e) => return Err(e.into()),
    };
    let (missing, overdue) = if let Some(p) = &period {
        let listed = match q.category() {
            Ok(c) => super::not_contacted(&s, actor, p, c).await,
            Err(e) => Err(e),
        };
        let missing = match listed {
            Ok(m) => m,
            Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
                status = e.status();
                error = Some(e.message);
                Vec::new()
            }
            Err(e) => return Err(e.into()),
        };
        let overdue = super::list_tasks(&s, actor, p.region.as_ref(), TaskStatus::Overdue).await?;
        (missing, overdue)
    } else {
        (Vec::new(), Vec::new())
    };
    let mut resp = render(&CoveragePage {
        nav: Some(Nav::for_actor(actor, "/care")),
        region: cov
            .as_ref()
            .map(|c| c.region.clone())
            .unwrap_or_else(|| clip(&f.region, 20)),
        from: cov
            .as_ref()
            .map(|c| c.from.clone())
            .unwrap_or_else(|| clip(&f.from, 10)),
        to: cov
            .as_ref()
            .map(|c| c.to.clone())
            .unwrap_or_else(|| clip(&f.to, 10)),
        category: clip(&f.category, 40),
        categories: super::categories(),
        coverage: cov,
        missing,
        overdue,
        error,
    });
    *resp.status_mut() = status;
    Ok(resp)
}

#[derive(Template)]
#[template(path = "care_person.html")]
struct PersonPage {
    nav: Option<Nav>,
    rec: CareRecord,
    categories: Vec<Category>,
    can_write: bool,
    today: String,
    /// The form sent from this page, kept with its reason when refused.
    form: Kept,
}

async fn person_page(s: &AppState, a: &Authed, id: i64, form: Kept) -> PageResult {
    let rec = super::record(s, &a.actor, id).await?;
    let status = form.status();
    Ok(render_status(
        &PersonPage {
            nav: Some(Nav::for_actor(&a.actor, "/care")),
            rec,
            categories: super::categories(),
            can_write: a.actor.can(Permission::PersonsWrite),
            today: super::ymd(super::today(s)),
            form,
        },
        status,
    ))
}

async fn person(PageCaller(s, a): PageCaller, PageId(id): PageId) -> PageResult {
    person_page(&s, &a, id, Kept::none()).await
}

/// After a form post: back to the person's page, or the page again with the form kept and
/// the reason.
async fn after<T>(
    s: &AppState,
    a: &Authed,
    person_id: i64,
    form: Kept,
    r: AppResult<T>,
) -> PageResult {
    match form.outcome(r)? {
        Ok(_) => Ok(Redirect::to(&format!("/care/persons/{person_id}")).into_response()),
        Err(form) => person_page(s, a, person_id, form).await,
    }
}

/// The pairs of a page form, kept as the form `name`.
fn kept(name: &str, Form(pairs): Form<Vec<(String, String)>>) -> Kept {
    Kept::input(name, pairs)
}

async fn add_membership(
    PageCaller(s, a): PageCaller,
    PageId(id): PageId,
    f: Form<Vec<(String, String)>>,
) -> PageResult {
    let form = kept("membership", f);
    let input = NewMembership {
        category: form.get("category").to_string(),
        start_date: form.get("start_date").to_string(),
        end_date: Some(form.get("end_date").to_string()),
        deciding_body: form.get("deciding_body").to_string(),
    };
    let r = super::add_membership(&s, &a.actor, id, &input).await;
    after(&s, &a, id, form, r).await
}

async fn end_membership(
    PageCaller(s, a): PageCaller,
    PageId(id): PageId,
    f: Form<Vec<(String, String)>>,
) -> PageResult {
    // One end form per membership: named by the membership, so only that one shows the input.
    let form = kept(&format!("end-{id}"), f);
    let person_id = page_id(form.get("person_id"))?;
    let input = EndMembership {
        end_date: form.get("end_date").to_string(),
    };
    match form.outcome(super::end_membership(&s, &a.actor, id, &input).await)? {
        Ok(m) => Ok(Redirect::to(&format!("/care/persons/{}", m.person_id)).into_response()),
        Err(form) => person_page(&s, &a, person_id, form).await,
    }
}

async fn set_carer(
    PageCaller(s, a): PageCaller,
    PageId(id): PageId,
    f: Form<Vec<(String, String)>>,
) -> PageResult {
    let form = kept("carer", f);
    let input = CarerInput {
        name: form.get("name").to_string(),
        phone: form.get("phone").to_string(),
        relationship: form.get("relationship").to_string(),
    };
    let r = super::set_carer(&s, &a.actor, id, &input).await;
    after(&s, &a, id, form, r).await
}

async fn record_check(
    PageCaller(s, a): PageCaller,
    PageId(id): PageId,
    f: Form<Vec<(String, String)>>,
) -> PageResult {
    let form = kept("check", f);
    let input = CheckInput {
        date: Some(form.get("date").to_string()),
        status: form.get("status").to_string(),
        note: form.get("note").to_string(),
    };
    let r = super::record_check(&s, &a.actor, id, &input).await;
    after(&s, &a, id, form, r).await
}

async fn add_visit(
    PageCaller(s, a): PageCaller,
    PageId(id): PageId,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let form = Kept::input("visit", pairs);
    let input = NewVisit {
        method: form.get("method").to_string(),
        visited_on: Some(form.get("visited_on").to_string()),
        findings: form.get("findings").to_string(),
        // One need per line.
        needs: form
            .get("needs")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect(),
        help_given: form.get("help_given").to_string(),
    };
    let r = super::add_visit(&s, &a.actor, id, &input).await;
    after(&s, &a, id, form, r).await
}

async fn add_task(
    PageCaller(s, a): PageCaller,
    PageId(visit_id): PageId,
    f: Form<Vec<(String, String)>>,
) -> PageResult {
    let visit = super::get_visit(&s, &a.actor, visit_id).await?;
    // One task form per need of the visit: named by the visit, told apart by the need.
    let form = kept(&format!("task-{visit_id}"), f);
    let input = NewTask {
        need_index: form.get("need_index").trim().parse().unwrap_or(usize::MAX),
        owner: form.get("owner").to_string(),
        due_date: form.get("due_date").to_string(),
    };
    let r = super::add_task(&s, &a.actor, visit_id, &input).await;
    after(&s, &a, visit.person_id, form, r).await
}

async fn close_task(
    PageCaller(s, a): PageCaller,
    PageId(task_id): PageId,
    f: Form<Vec<(String, String)>>,
) -> PageResult {
    let task = super::one_task(&s, &a.actor, task_id).await?;
    let form = kept(&format!("close-{task_id}"), f);
    let input = CloseTask {
        note: form.get("note").to_string(),
    };
    let r = super::close_task(&s, &a.actor, task_id, &input).await;
    after(&s, &a, task.person_id, form, r).await
}
