//! Volunteers API for staff (`/api/v1/volunteers…`, `volunteers.manage`). Handlers are thin:
//! the rules live in the service functions of `volunteers`. Volunteers themselves never use
//! this API: they act through the public face (`public_pages`).

use axum::extract::{Path, Query};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::certificate::Certificate;
use super::totals::Totals;
use super::{AssignInput, ConfirmInput, NewTask, Shift, Task, TaskDetail, Volunteer};
use crate::kernel::error::{AppResult, ErrorBody};
use crate::kernel::handler::{ApiCaller, RegionQuery, api_handler};
use crate::kernel::web::Routes;

pub fn api_routes() -> Routes {
    vec![
        ("/api/v1/volunteers", get(volunteers)),
        ("/api/v1/volunteers/{id}/certificate", get(certificate)),
        ("/api/v1/volunteers/tasks", get(tasks).post(create_task)),
        ("/api/v1/volunteers/tasks/{id}", get(task)),
        ("/api/v1/volunteers/tasks/{id}/assign", post(assign)),
        ("/api/v1/volunteers/shifts/{id}/confirm", post(confirm)),
        ("/api/v1/volunteers/totals", get(totals)),
        ("/api/v1/volunteers/totals/export", get(export)),
    ]
}

api_handler! {
    /// Volunteers registered in the caller's scope (names and phones masked).
    get "/api/v1/volunteers", tag "volunteers", ok(Vec<Volunteer>), params(RegionQuery),
        errors(403, 404);
    fn volunteers(s, a, Query(q): Query<RegionQuery>) {
        super::list_volunteers(&s, &a.actor, q.region()?.as_ref()).await?
    }
}

api_handler! {
    /// A volunteer's certificate of service hours (confirmed tasks in the caller's scope).
    get "/api/v1/volunteers/{id}/certificate", tag "volunteers", ok(Certificate),
        params(("id" = i64, Path)), errors(403, 404);
    fn certificate(s, a, Path(id): Path<i64>) {
        super::certificate::for_staff(&s, &a.actor, id).await?
    }
}

api_handler! {
    /// Tasks in the caller's scope, latest start first.
    get "/api/v1/volunteers/tasks", tag "volunteers", ok(Vec<Task>), params(RegionQuery),
        errors(403, 404);
    fn tasks(s, a, Query(q): Query<RegionQuery>) {
        super::list_tasks(&s, &a.actor, q.region()?.as_ref()).await?
    }
}

api_handler! {
    /// Post a task (a township or village of the caller's scope).
    post "/api/v1/volunteers/tasks", tag "volunteers", created(Task), json(body: NewTask),
        errors(403, 404, 422);
    fn create_task(s, a) { super::create_task(&s, &a.actor, &body).await? }
}

api_handler! {
    /// One task with its volunteers (masked).
    get "/api/v1/volunteers/tasks/{id}", tag "volunteers", ok(TaskDetail),
        params(("id" = i64, Path)), errors(403, 404);
    fn task(s, a, Path(id): Path<i64>) { super::get_task(&s, &a.actor, id).await? }
}

api_handler! {
    /// Assign a volunteer of the caller's scope to a task (never more than needed).
    post "/api/v1/volunteers/tasks/{id}/assign", tag "volunteers", created(Shift),
        params(("id" = i64, Path)), json(body: AssignInput), errors(403, 404, 409, 422);
    fn assign(s, a, Path(id): Path<i64>) {
        super::assign(&s, &a.actor, id, body.volunteer_id).await?
    }
}

api_handler! {
    /// Confirm (or adjust, with a reason) the minutes of a shift checked out.
    post "/api/v1/volunteers/shifts/{id}/confirm", tag "volunteers", ok(Shift),
        params(("id" = i64, Path)), json(body: ConfirmInput), errors(403, 404, 409, 422);
    fn confirm(s, a, Path(id): Path<i64>) { super::confirm(&s, &a.actor, id, &body).await? }
}

api_handler! {
    /// Confirmed hours per region (rolled up), organisation and volunteer (masked).
    get "/api/v1/volunteers/totals", tag "volunteers", ok(Totals), params(RegionQuery),
        errors(403, 404);
    fn totals(s, a, Query(q): Query<RegionQuery>) {
        super::totals::totals(&s, &a.actor, q.region()?.as_ref()).await?
    }
}

/// The totals as an Excel workbook (text cells neutralised against formulas).
#[utoipa::path(get, path = "/api/v1/volunteers/totals/export", tag = "volunteers", params(RegionQuery),
    responses((status = 200, description = "the workbook (.xlsx)"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn export(
    ApiCaller(s, a): ApiCaller,
    Query(q): Query<RegionQuery>,
) -> AppResult<Response> {
    let (name, bytes) = super::totals::export_xlsx(&s, &a.actor, q.region()?.as_ref()).await?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}
