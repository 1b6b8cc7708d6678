//! Vulnerable groups and visits API (`/api/v1/care/…`): categories, a person's care record,
//! memberships, the carer and daily checks, visits, follow-up tasks, coverage and the list of
//! members not contacted. Thin handlers over the scoped service functions of `care`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};

use super::{
    CareRecord, Carer, CarerInput, Category, CheckInput, CloseTask, Coverage, CoverageQuery,
    DailyCheck, EndMembership, Membership, NewMembership, NewTask, NewVisit, NotContacted, Task,
    TaskQuery, Visit,
};
use crate::kernel::error::{AppResult, ErrorBody};
use crate::kernel::extract::{Api, JsonBody, region_param};
use crate::kernel::web::Routes;
use crate::state::AppState;

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

/// A person's care record: memberships, carer, recent daily checks, visits with tasks.
#[utoipa::path(get, path = "/api/v1/care/persons/{id}", tag = "care", params(("id" = i64, Path)),
    responses((status = 200, body = CareRecord), (status = 404, body = ErrorBody)))]
pub async fn person_record(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<CareRecord>> {
    Ok(axum::Json(super::record(&s, &a.actor, id).await?))
}

/// Record a group membership (audited).
#[utoipa::path(post, path = "/api/v1/care/persons/{id}/memberships", tag = "care",
    params(("id" = i64, Path)), request_body = NewMembership,
    responses((status = 201, body = Membership), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_membership(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<NewMembership>,
) -> AppResult<(StatusCode, axum::Json<Membership>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(super::add_membership(&s, &a.actor, id, &body).await?),
    ))
}

/// Set or correct the end date of a membership (audited).
#[utoipa::path(post, path = "/api/v1/care/memberships/{id}/end", tag = "care",
    params(("id" = i64, Path)), request_body = EndMembership,
    responses((status = 200, body = Membership), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn end_membership(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<EndMembership>,
) -> AppResult<axum::Json<Membership>> {
    Ok(axum::Json(
        super::end_membership(&s, &a.actor, id, &body).await?,
    ))
}

/// Name or replace the carer of a dispersed 特困 person (phone stored encrypted, shown masked).
#[utoipa::path(put, path = "/api/v1/care/persons/{id}/carer", tag = "care",
    params(("id" = i64, Path)), request_body = CarerInput,
    responses((status = 200, body = Carer), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_carer(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<CarerInput>,
) -> AppResult<axum::Json<Carer>> {
    Ok(axum::Json(super::set_carer(&s, &a.actor, id, &body).await?))
}

/// Record the carer's daily check: 201 for the day's first, 200 when it updates that one.
#[utoipa::path(post, path = "/api/v1/care/persons/{id}/checks", tag = "care",
    params(("id" = i64, Path)), request_body = CheckInput,
    responses((status = 201, body = DailyCheck), (status = 200, body = DailyCheck),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn record_check(
    State(s): State<AppState>,
    Api(a): Api,
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

/// Record a visit (phone or at home) by the calling user.
#[utoipa::path(post, path = "/api/v1/care/persons/{id}/visits", tag = "care",
    params(("id" = i64, Path)), request_body = NewVisit,
    responses((status = 201, body = Visit), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_visit(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<NewVisit>,
) -> AppResult<(StatusCode, axum::Json<Visit>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(super::add_visit(&s, &a.actor, id, &body).await?),
    ))
}

/// One visit with its follow-up tasks.
#[utoipa::path(get, path = "/api/v1/care/visits/{id}", tag = "care", params(("id" = i64, Path)),
    responses((status = 200, body = Visit), (status = 404, body = ErrorBody)))]
pub async fn one_visit(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Visit>> {
    Ok(axum::Json(super::get_visit(&s, &a.actor, id).await?))
}

/// Turn a need of a visit into a follow-up task (owner, due date).
#[utoipa::path(post, path = "/api/v1/care/visits/{id}/tasks", tag = "care",
    params(("id" = i64, Path)), request_body = NewTask,
    responses((status = 201, body = Task), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_task(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<NewTask>,
) -> AppResult<(StatusCode, axum::Json<Task>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(super::add_task(&s, &a.actor, id, &body).await?),
    ))
}

/// Follow-up tasks in a region (`status=open|overdue|closed|all`).
#[utoipa::path(get, path = "/api/v1/care/tasks", tag = "care", params(TaskQuery),
    responses((status = 200, body = [Task]), (status = 404, body = ErrorBody)))]
pub async fn list_tasks(
    State(s): State<AppState>,
    Api(a): Api,
    Query(q): Query<TaskQuery>,
) -> AppResult<axum::Json<Vec<Task>>> {
    let region = region_param(q.region.as_deref())?;
    let status = super::TaskStatus::parse(q.status.as_deref())?;
    Ok(axum::Json(
        super::list_tasks(&s, &a.actor, region.as_ref(), status).await?,
    ))
}

/// Close a task with a note (audited).
#[utoipa::path(post, path = "/api/v1/care/tasks/{id}/close", tag = "care",
    params(("id" = i64, Path)), request_body = CloseTask,
    responses((status = 200, body = Task), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn close_task(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<CloseTask>,
) -> AppResult<axum::Json<Task>> {
    Ok(axum::Json(
        super::close_task(&s, &a.actor, id, &body).await?,
    ))
}

/// Per category, members in the period, how many were contacted and the share.
#[utoipa::path(get, path = "/api/v1/care/coverage", tag = "care", params(CoverageQuery),
    responses((status = 200, body = Coverage), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn coverage(
    State(s): State<AppState>,
    Api(a): Api,
    Query(q): Query<CoverageQuery>,
) -> AppResult<axum::Json<Coverage>> {
    let period = q.period(s.today())?;
    Ok(axum::Json(super::coverage(&s, &a.actor, &period).await?))
}

/// Members active in the period who were not visited in it (names masked).
#[utoipa::path(get, path = "/api/v1/care/not-contacted", tag = "care", params(CoverageQuery),
    responses((status = 200, body = [NotContacted]), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn not_contacted(
    State(s): State<AppState>,
    Api(a): Api,
    Query(q): Query<CoverageQuery>,
) -> AppResult<axum::Json<Vec<NotContacted>>> {
    let period = q.period(s.today())?;
    let category = q.category()?;
    Ok(axum::Json(
        super::not_contacted(&s, &a.actor, &period, category).await?,
    ))
}
