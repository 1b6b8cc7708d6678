//! Supervision API (`/api/v1/inspections…`, `/api/v1/rectifications…`). Handlers are thin: the
//! rules live in the service functions of `inspections`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;

use super::{Inspection, NewInspection, NewProblem, Problem, ReopenInput, RespondInput};
use crate::kernel::error::{AppResult, ErrorBody};
use crate::kernel::extract::{Api, JsonBody, region_param};
use crate::kernel::web::Routes;
use crate::state::AppState;

pub fn api_routes() -> Routes {
    vec![
        ("/api/v1/inspections", get(list).post(create)),
        ("/api/v1/inspections/{id}", get(one)),
        ("/api/v1/inspections/{id}/problems", post(add_problem)),
        ("/api/v1/rectifications", get(rectifications)),
        ("/api/v1/rectifications/{id}", get(one_rectification)),
        ("/api/v1/rectifications/{id}/respond", post(respond)),
        ("/api/v1/rectifications/{id}/close", post(close)),
        ("/api/v1/rectifications/{id}/reopen", post(reopen)),
    ]
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct InspectionQuery {
    /// Region code; default the caller's whole scope.
    pub region: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct RectificationQuery {
    /// Region code; default the caller's whole scope.
    pub region: Option<String>,
    /// Only rectifications past their deadline (`true`); default all not closed.
    pub overdue: Option<bool>,
}

/// Inspections in the caller's scope, newest first, with their problems.
#[utoipa::path(get, path = "/api/v1/inspections", tag = "inspections", params(InspectionQuery),
    responses((status = 200, body = Vec<Inspection>), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    Api(a): Api,
    Query(q): Query<InspectionQuery>,
) -> AppResult<Json<Vec<Inspection>>> {
    Ok(Json(
        super::list(&s, &a.actor, region_param(q.region.as_deref())?.as_ref()).await?,
    ))
}

/// Record an inspection of a unit with the problems found.
#[utoipa::path(post, path = "/api/v1/inspections", tag = "inspections", request_body = NewInspection,
    responses((status = 201, body = Inspection), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    Api(a): Api,
    JsonBody(body): JsonBody<NewInspection>,
) -> AppResult<(StatusCode, Json<Inspection>)> {
    Ok((
        StatusCode::CREATED,
        Json(super::create(&s, &a.actor, &body).await?),
    ))
}

/// One inspection with its problems.
#[utoipa::path(get, path = "/api/v1/inspections/{id}", tag = "inspections", params(("id" = i64, Path)),
    responses((status = 200, body = Inspection), (status = 404, body = ErrorBody)))]
pub async fn one(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
) -> AppResult<Json<Inspection>> {
    Ok(Json(super::get(&s, &a.actor, id).await?))
}

/// Add a problem (with its rectification and deadline) to an inspection.
#[utoipa::path(post, path = "/api/v1/inspections/{id}/problems", tag = "inspections", params(("id" = i64, Path)),
    request_body = NewProblem,
    responses((status = 201, body = Inspection), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn add_problem(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<NewProblem>,
) -> AppResult<(StatusCode, Json<Inspection>)> {
    Ok((
        StatusCode::CREATED,
        Json(super::add_problem(&s, &a.actor, id, &body).await?),
    ))
}

/// Rectifications not closed in the caller's scope (`overdue=true`: only overdue ones),
/// earliest deadline first.
#[utoipa::path(get, path = "/api/v1/rectifications", tag = "inspections", params(RectificationQuery),
    responses((status = 200, body = Vec<Problem>), (status = 404, body = ErrorBody)))]
pub async fn rectifications(
    State(s): State<AppState>,
    Api(a): Api,
    Query(q): Query<RectificationQuery>,
) -> AppResult<Json<Vec<Problem>>> {
    Ok(Json(
        super::rectifications(
            &s,
            &a.actor,
            region_param(q.region.as_deref())?.as_ref(),
            q.overdue.unwrap_or(false),
        )
        .await?,
    ))
}

/// One rectification.
#[utoipa::path(get, path = "/api/v1/rectifications/{id}", tag = "inspections", params(("id" = i64, Path)),
    responses((status = 200, body = Problem), (status = 404, body = ErrorBody)))]
pub async fn one_rectification(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
) -> AppResult<Json<Problem>> {
    Ok(Json(super::get_problem(&s, &a.actor, id).await?))
}

/// The unit answers with what it did.
#[utoipa::path(post, path = "/api/v1/rectifications/{id}/respond", tag = "inspections", params(("id" = i64, Path)),
    request_body = RespondInput,
    responses((status = 200, body = Problem), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn respond(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<RespondInput>,
) -> AppResult<Json<Problem>> {
    Ok(Json(
        super::respond(&s, &a.actor, id, &body.response).await?,
    ))
}

/// The inspector closes (销号) a rectification.
#[utoipa::path(post, path = "/api/v1/rectifications/{id}/close", tag = "inspections", params(("id" = i64, Path)),
    responses((status = 200, body = Problem), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn close(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
) -> AppResult<Json<Problem>> {
    Ok(Json(super::close(&s, &a.actor, id).await?))
}

/// The inspector reopens a rectification.
#[utoipa::path(post, path = "/api/v1/rectifications/{id}/reopen", tag = "inspections", params(("id" = i64, Path)),
    request_body = ReopenInput,
    responses((status = 200, body = Problem), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn reopen(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<ReopenInput>,
) -> AppResult<Json<Problem>> {
    Ok(Json(super::reopen(&s, &a.actor, id, &body.reason).await?))
}
