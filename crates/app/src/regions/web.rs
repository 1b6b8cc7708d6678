//! Region API (`/api/v1/regions…`). Pages are in `regions::pages`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;

use super::Region;
use crate::kernel::error::{AppResult, ErrorBody};
use crate::kernel::extract::{Api, JsonBody};
use crate::kernel::web::Routes;
use crate::state::AppState;

pub fn api_routes() -> Routes {
    vec![
        ("/api/v1/regions", get(roots)),
        ("/api/v1/regions/{code}", get(one)),
        ("/api/v1/regions/{code}/children", get(children)),
        ("/api/v1/regions/{code}/grids", post(create_grid)),
    ]
}

/// The top of the caller's tree (the provinces for national scope, else its own region).
#[utoipa::path(get, path = "/api/v1/regions", tag = "regions",
    responses((status = 200, body = Vec<Region>), (status = 401, body = ErrorBody)))]
pub async fn roots(State(s): State<AppState>, Api(a): Api) -> AppResult<axum::Json<Vec<Region>>> {
    Ok(axum::Json(super::roots(&s, &a.actor).await?))
}

/// One region: `{code, name, level, parent}`. Outside the caller's scope: 404.
#[utoipa::path(get, path = "/api/v1/regions/{code}", tag = "regions",
    params(("code" = String, Path, description = "区划代码 (2/4/6/9/12 位，网格 15 位)")),
    responses((status = 200, body = Region), (status = 404, body = ErrorBody)))]
pub async fn one(
    State(s): State<AppState>,
    Api(a): Api,
    Path(code): Path<String>,
) -> AppResult<axum::Json<Region>> {
    Ok(axum::Json(super::get(&s, &a.actor, &code).await?))
}

/// The children of a region.
#[utoipa::path(get, path = "/api/v1/regions/{code}/children", tag = "regions",
    params(("code" = String, Path)),
    responses((status = 200, body = Vec<Region>), (status = 404, body = ErrorBody)))]
pub async fn children(
    State(s): State<AppState>,
    Api(a): Api,
    Path(code): Path<String>,
) -> AppResult<axum::Json<Vec<Region>>> {
    Ok(axum::Json(super::children(&s, &a.actor, &code).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewGrid {
    pub name: String,
}

/// Create a grid (网格) under a village or community.
#[utoipa::path(post, path = "/api/v1/regions/{code}/grids", tag = "regions",
    params(("code" = String, Path, description = "村（社区）代码")), request_body = NewGrid,
    responses((status = 201, body = Region), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_grid(
    State(s): State<AppState>,
    Api(a): Api,
    Path(code): Path<String>,
    JsonBody(body): JsonBody<NewGrid>,
) -> AppResult<(StatusCode, axum::Json<Region>)> {
    let r = super::create_grid(&s, &a.actor, &code, &body.name).await?;
    Ok((StatusCode::CREATED, axum::Json(r)))
}
