//! Children's cases API (`/api/v1/child-cases…`). Handlers are thin: the rules live in the
//! service functions of `children`. Roles without `children.read` get 404 everywhere.

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};

use super::stats::{Statistics, StatsQuery};
use super::{
    AssignInput, AssistInput, CaseLine, CaseQuery, ChildCase, ClassifyInput, CloseInput,
    ContactInput, HandoverInput, LinkInput, NewCase, PlanInput, TaskInput, ViewQuery,
};
use crate::kernel::error::{AppResult, ErrorBody};
use crate::kernel::extract::{JsonBody, region_param};
use crate::kernel::handler::{ApiCaller, api_handler, idem};
use crate::kernel::web::Routes;

pub fn api_routes() -> Routes {
    vec![
        ("/api/v1/child-cases", get(list).post(open)),
        ("/api/v1/child-cases/statistics", get(statistics)),
        ("/api/v1/child-cases/statistics/export", get(export)),
        ("/api/v1/child-cases/{id}", get(one)),
        ("/api/v1/child-cases/{id}/take", post(take)),
        ("/api/v1/child-cases/{id}/classify", post(classify)),
        ("/api/v1/child-cases/{id}/assign", post(assign)),
        ("/api/v1/child-cases/{id}/plan", post(plan)),
        ("/api/v1/child-cases/{id}/contacts", post(contact)),
        ("/api/v1/child-cases/{id}/tasks", post(task)),
        (
            "/api/v1/child-cases/{id}/tasks/{task_id}/done",
            post(task_done),
        ),
        ("/api/v1/child-cases/{id}/handover", post(handover)),
        ("/api/v1/child-cases/{id}/close", post(close)),
        ("/api/v1/child-cases/{id}/person", post(link_person)),
        ("/api/v1/child-cases/{id}/assistance", post(assistance)),
    ]
}

api_handler! {
    /// Cases and leads in the caller's scope (no sealed text, names masked), newest first.
    get "/api/v1/child-cases", tag "children", ok(Vec<CaseLine>), params(CaseQuery), errors(404, 422);
    fn list(s, a, Query(q): Query<CaseQuery>) {
        let region = region_param(q.region.as_deref())?;
        super::list(&s, &a.actor, region.as_ref(), q.status.as_deref()).await?
    }
}

/// Report a child (open a case). Send an `Idempotency-Key` header: a retry answers the first
/// case.
#[utoipa::path(post, path = "/api/v1/child-cases", tag = "children", request_body = NewCase,
    params(("Idempotency-Key" = Option<String>, Header, description = "重试时保持不变的唯一键")),
    responses((status = 201, body = ChildCase), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn open(
    ApiCaller(s, a): ApiCaller,
    headers: HeaderMap,
    JsonBody(body): JsonBody<NewCase>,
) -> AppResult<(StatusCode, axum::Json<ChildCase>)> {
    let case = super::open(&s, &a.actor, &body, idem(&headers)).await?;
    Ok((StatusCode::CREATED, axum::Json(case)))
}

api_handler! {
    /// One case in full (sealed text opened). Every view is audited; a viewer who is neither
    /// the case worker nor the supervisor gives `?reason=` (else 422 `reason_required`).
    get "/api/v1/child-cases/{id}", tag "children", ok(ChildCase),
        params(("id" = i64, Path), ViewQuery), errors(404, 422);
    fn one(s, a, Path(id): Path<i64>, Query(q): Query<ViewQuery>) {
        super::view(&s, &a.actor, id, q.reason.as_deref()).await?
    }
}

api_handler! {
    /// Take a lead: it becomes an open case with the caller as its worker.
    post "/api/v1/child-cases/{id}/take", tag "children", ok(ChildCase),
        params(("id" = i64, Path)), errors(403, 404, 409);
    fn take(s, a, Path(id): Path<i64>) { super::take(&s, &a.actor, id).await? }
}

api_handler! {
    /// Classify and place: guardianship and placement (an institution placement names an
    /// organisation of the matching kind, else 422).
    post "/api/v1/child-cases/{id}/classify", tag "children", ok(ChildCase),
        params(("id" = i64, Path)), json(body: ClassifyInput), errors(403, 404, 409, 422);
    fn classify(s, a, Path(id): Path<i64>) { super::classify(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// Name the case worker and / or supervisor (users who may read the case).
    post "/api/v1/child-cases/{id}/assign", tag "children", ok(ChildCase),
        params(("id" = i64, Path)), json(body: AssignInput), errors(403, 404, 409, 422);
    fn assign(s, a, Path(id): Path<i64>) { super::assign(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// Write the care plan (sealed at rest).
    post "/api/v1/child-cases/{id}/plan", tag "children", ok(ChildCase),
        params(("id" = i64, Path)), json(body: PlanInput), errors(403, 404, 409, 422);
    fn plan(s, a, Path(id): Path<i64>) { super::set_plan(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// Log a contact or visit (note sealed) with the next contact due; after closure, the
    /// follow-up visit.
    post "/api/v1/child-cases/{id}/contacts", tag "children", ok(ChildCase),
        params(("id" = i64, Path)), json(body: ContactInput), errors(403, 404, 409, 422);
    fn contact(s, a, Path(id): Path<i64>) { super::log_contact(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// Turn a need (food, medicine, schooling, psychological) into a task with an owner.
    post "/api/v1/child-cases/{id}/tasks", tag "children", ok(ChildCase),
        params(("id" = i64, Path)), json(body: TaskInput), errors(403, 404, 409, 422);
    fn task(s, a, Path(id): Path<i64>) { super::add_task(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// Mark a task done.
    post "/api/v1/child-cases/{id}/tasks/{task_id}/done", tag "children", ok(ChildCase),
        params(("id" = i64, Path), ("task_id" = i64, Path)), errors(403, 404, 409);
    fn task_done(s, a, Path((id, task_id)): Path<(i64, i64)>) {
        super::task_done(&s, &a.actor, id, task_id).await?
    }
}

api_handler! {
    /// Hand the case over to the village, township, county or city on the child's path.
    post "/api/v1/child-cases/{id}/handover", tag "children", ok(ChildCase),
        params(("id" = i64, Path)), json(body: HandoverInput), errors(403, 404, 409, 422);
    fn handover(s, a, Path(id): Path<i64>) { super::hand_over(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// Close the case when a guardian resumes care; a follow-up visit falls due.
    post "/api/v1/child-cases/{id}/close", tag "children", ok(ChildCase),
        params(("id" = i64, Path)), json(body: CloseInput), errors(403, 404, 409, 422);
    fn close(s, a, Path(id): Path<i64>) { super::close(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// Complete a quick record: link the case to a registry person.
    post "/api/v1/child-cases/{id}/person", tag "children", ok(ChildCase),
        params(("id" = i64, Path)), json(body: LinkInput), errors(403, 404, 409, 422);
    fn link_person(s, a, Path(id): Path<i64>) { super::link_person(&s, &a.actor, id, &body).await? }
}

/// Start an assistance application for the child's household (default the child allowance
/// 事实无人抚养儿童基本生活补贴); the case links it. Needs `assistance.apply` as well. Send an `Idempotency-Key` header.
#[utoipa::path(post, path = "/api/v1/child-cases/{id}/assistance", tag = "children",
    request_body = AssistInput,
    params(("id" = i64, Path), ("Idempotency-Key" = Option<String>, Header, description = "重试时保持不变的唯一键")),
    responses((status = 200, body = ChildCase), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn assistance(
    ApiCaller(s, a): ApiCaller,
    Path(id): Path<i64>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<AssistInput>,
) -> AppResult<(StatusCode, axum::Json<ChildCase>)> {
    let case = super::start_assistance(&s, &a.actor, id, &body, idem(&headers)).await?;
    Ok((StatusCode::OK, axum::Json(case)))
}

api_handler! {
    /// Statistics per region below the one asked and per day or week: cases opened, classified
    /// on time and late, by placement, closed, leads overdue; counts 1–4 below county level
    /// shown as "<5".
    get "/api/v1/child-cases/statistics", tag "children", ok(Statistics), params(StatsQuery),
        errors(404, 422);
    fn statistics(s, a, Query(q): Query<StatsQuery>) {
        let region = region_param(q.region.as_deref())?;
        super::stats::statistics(&s, &a.actor, region.as_ref(), q.period.as_deref(), q.date.as_deref()).await?
    }
}

/// The statistics as Excel (masked as shown).
#[utoipa::path(get, path = "/api/v1/child-cases/statistics/export", tag = "children",
    params(StatsQuery),
    responses((status = 200, description = "the workbook (.xlsx)"),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn export(
    ApiCaller(s, a): ApiCaller,
    Query(q): Query<StatsQuery>,
) -> AppResult<Response> {
    let region = region_param(q.region.as_deref())?;
    let (name, bytes) = super::stats::export_xlsx(
        &s,
        &a.actor,
        region.as_ref(),
        q.period.as_deref(),
        q.date.as_deref(),
    )
    .await?;
    Ok(crate::kernel::cells::xlsx_download(&name, bytes))
}
