//! Cross-check API: `POST /api/v1/crosschecks/run`, `GET /api/v1/crosschecks?status=open`,
//! `GET /api/v1/crosschecks/{id}`, `POST /api/v1/crosschecks/{id}/resolve`. Handlers only
//! extract and call the scoped service functions of `crosscheck`.

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};

use super::{Conflict, ConflictList, ConflictQuery, ResolveRequest, RunReport, RunRequest};
use crate::kernel::error::{AppResult, ErrorBody};
use crate::kernel::extract::{Api, JsonBody, region_param};
use crate::kernel::web::Routes;
use crate::state::AppState;

pub fn api_routes() -> Routes {
    vec![
        ("/api/v1/crosschecks", get(list)),
        ("/api/v1/crosschecks/run", post(run)),
        ("/api/v1/crosschecks/{id}", get(one)),
        ("/api/v1/crosschecks/{id}/resolve", post(resolve)),
    ]
}

/// Run the cross-checks over the caller's scope (or a region inside it) and store the
/// conflicts found (idempotent: a rerun never duplicates; resolved ones stay resolved).
#[utoipa::path(post, path = "/api/v1/crosschecks/run", tag = "crosschecks", request_body = RunRequest,
    responses((status = 200, body = RunReport), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn run(
    State(s): State<AppState>,
    Api(a): Api,
    JsonBody(body): JsonBody<RunRequest>,
) -> AppResult<axum::Json<RunReport>> {
    Ok(axum::Json(
        super::run_in(&s, &a.actor, region_param(body.region.as_deref())?.as_ref()).await?,
    ))
}

/// Conflicts visible to the caller (all their persons in scope), with counts per kind.
#[utoipa::path(get, path = "/api/v1/crosschecks", tag = "crosschecks", params(ConflictQuery),
    responses((status = 200, body = ConflictList), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    Api(a): Api,
    Query(q): Query<ConflictQuery>,
) -> AppResult<axum::Json<ConflictList>> {
    Ok(axum::Json(
        super::list(
            &s,
            &a.actor,
            region_param(q.region.as_deref())?.as_ref(),
            &q,
        )
        .await?,
    ))
}

/// One conflict.
#[utoipa::path(get, path = "/api/v1/crosschecks/{id}", tag = "crosschecks", params(("id" = i64, Path)),
    responses((status = 200, body = Conflict), (status = 404, body = ErrorBody)))]
pub async fn one(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Conflict>> {
    Ok(axum::Json(super::get(&s, &a.actor, id).await?))
}

/// Resolve an open conflict with a note (required; audited).
#[utoipa::path(post, path = "/api/v1/crosschecks/{id}/resolve", tag = "crosschecks",
    params(("id" = i64, Path)), request_body = ResolveRequest,
    responses((status = 200, body = Conflict), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn resolve(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<ResolveRequest>,
) -> AppResult<axum::Json<Conflict>> {
    Ok(axum::Json(
        super::resolve(&s, &a.actor, id, &body.note).await?,
    ))
}
