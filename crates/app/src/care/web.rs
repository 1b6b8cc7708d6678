//! Vulnerable groups and visits API (`/api/v1/care/…`): categories, a person's care record,
//! memberships, the carer and daily checks, visits, follow-up tasks, coverage and the list of
//! members not contacted. Thin handlers over the scoped service functions of `care`.

use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::routing::{get, post};

use super::{
    CareRecord, Carer, CarerInput, Category, CheckInput, CloseTask, Coverage, CoverageQuery,
    DailyCheck, EndMembership, Membership, NewMembership, NewTask, NewVisit, NotContacted, Task,
    TaskQuery, Visit,
};
use crate::kernel::error::{AppResult, ErrorBody};
use crate::kernel::extract::{Api, JsonBody, region_param};
use crate::kernel::handler::{ApiCaller, api_handler};
use crate::kernel::web::Routes;

pub fn api_routes() -> Routes {
    vec![
        ("/api/v1/care/categories", get(list_categories)),
        ("/api/v1/care/persons/{id}", get(person_record)),
        (
            "/api/v1/care/persons/{id}/memberships",
            post(add_membership),
        ),
        (
            "/api/v1/care/persons/{id}/carer",
            axum::routing::put(set_carer),
        ),
        ("/api/v1/care/memberships/{id}/end", post(end_membership)),
        ("/api/v1/care/persons/{id}/checks", post(record_check)),
        ("/api/v1/care/persons/{id}/visits", post(add_visit)),
        ("/api/v1/care/visits/{id}", get(one_visit)),
        ("/api/v1/care/visits/{id}/tasks", post(add_task)),
        ("/api/v1/care/tasks", get(list_tasks)),
        ("/api/v1/care/tasks/{id}/close", post(close_task)),
        ("/api/v1/care/coverage", get(coverage)),
        ("/api/v1/care/not-contacted", get(not_contacted)),
    ]
}

/// The group categories (stable identifiers and Chinese labels).
#[utoipa::path(get, path = "/api/v1/care/categories", tag = "care",
    responses((status = 200, body = [Category]), (status = 403, body = ErrorBody)))]
pub async fn list_categories(Api(a): Api) -> AppResult<axum::Json<Vec<Category>>> {
    a.actor
        .require(backstop_core::role::Permission::PersonsRead)?;
    Ok(axum::Json(super::categories()))
}

api_handler! {
    /// A person's care record: memberships, carer, recent daily checks, visits with tasks.
    get "/api/v1/care/persons/{id}", tag "care", ok(CareRecord), params(("id" = i64, Path)),
        errors(404);
    fn person_record(s, a, Path(id): Path<i64>) { super::record(&s, &a.actor, id).await? }
}

api_handler! {
    /// Record a group membership (audited).
    post "/api/v1/care/persons/{id}/memberships", tag "care", created(Membership),
        params(("id" = i64, Path)), json(body: NewMembership), errors(404, 422);
    fn add_membership(s, a, Path(id): Path<i64>) {
        super::add_membership(&s, &a.actor, id, &body).await?
    }
}

api_handler! {
    /// Set or correct the end date of a membership (audited).
    post "/api/v1/care/memberships/{id}/end", tag "care", ok(Membership),
        params(("id" = i64, Path)), json(body: EndMembership), errors(404, 422);
    fn end_membership(s, a, Path(id): Path<i64>) {
        super::end_membership(&s, &a.actor, id, &body).await?
    }
}

api_handler! {
    /// Name or replace the carer of a dispersed 特困 person (phone stored encrypted, shown masked).
    put "/api/v1/care/persons/{id}/carer", tag "care", ok(Carer), params(("id" = i64, Path)),
        json(body: CarerInput), errors(404, 422);
    fn set_carer(s, a, Path(id): Path<i64>) { super::set_carer(&s, &a.actor, id, &body).await? }
}

/// Record the carer's daily check: 201 for the day's first, 200 when it updates that one.
#[utoipa::path(post, path = "/api/v1/care/persons/{id}/checks", tag = "care",
    params(("id" = i64, Path)), request_body = CheckInput,
    responses((status = 201, body = DailyCheck), (status = 200, body = DailyCheck),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn record_check(
    ApiCaller(s, a): ApiCaller,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<CheckInput>,
) -> AppResult<(StatusCode, axum::Json<DailyCheck>)> {
    let c = super::record_check(&s, &a.actor, id, &body).await?;
    let status = if c.updated {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, axum::Json(c)))
}

api_handler! {
    /// Record a visit (phone or at home) by the calling user.
    post "/api/v1/care/persons/{id}/visits", tag "care", created(Visit), params(("id" = i64, Path)),
        json(body: NewVisit), errors(404, 422);
    fn add_visit(s, a, Path(id): Path<i64>) { super::add_visit(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// One visit with its follow-up tasks.
    get "/api/v1/care/visits/{id}", tag "care", ok(Visit), params(("id" = i64, Path)), errors(404);
    fn one_visit(s, a, Path(id): Path<i64>) { super::get_visit(&s, &a.actor, id).await? }
}

api_handler! {
    /// Turn a need of a visit into a follow-up task (owner, due date).
    post "/api/v1/care/visits/{id}/tasks", tag "care", created(Task), params(("id" = i64, Path)),
        json(body: NewTask), errors(404, 422);
    fn add_task(s, a, Path(id): Path<i64>) { super::add_task(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// Follow-up tasks in a region (`status=open|overdue|closed|all`).
    get "/api/v1/care/tasks", tag "care", ok(Vec<Task>), params(TaskQuery), errors(404);
    fn list_tasks(s, a, Query(q): Query<TaskQuery>) {
        let region = region_param(q.region.as_deref())?;
        let status = super::TaskStatus::parse(q.status.as_deref())?;
        super::list_tasks(&s, &a.actor, region.as_ref(), status).await?
    }
}

api_handler! {
    /// Close a task with a note (audited).
    post "/api/v1/care/tasks/{id}/close", tag "care", ok(Task), params(("id" = i64, Path)),
        json(body: CloseTask), errors(404, 409, 422);
    fn close_task(s, a, Path(id): Path<i64>) { super::close_task(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// Per category, members in the period, how many were contacted and the share.
    get "/api/v1/care/coverage", tag "care", ok(Coverage), params(CoverageQuery), errors(404, 422);
    fn coverage(s, a, Query(q): Query<CoverageQuery>) {
        let period = q.period(s.today())?;
        super::coverage(&s, &a.actor, &period).await?
    }
}

api_handler! {
    /// Members active in the period who were not visited in it (names masked).
    get "/api/v1/care/not-contacted", tag "care", ok(Vec<NotContacted>), params(CoverageQuery),
        errors(404, 422);
    fn not_contacted(s, a, Query(q): Query<CoverageQuery>) {
        let period = q.period(s.today())?;
        let category = q.category()?;
        super::not_contacted(&s, &a.actor, &period, category).await?
    }
}
