//! Organisation API (`/api/v1/orgs…`). Pages are in `orgs::pages`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use serde::Deserialize;

use super::{NewOrg, Org};
use crate::kernel::error::{AppResult, ErrorBody};
use crate::kernel::extract::{Api, JsonBody, region_param};
use crate::kernel::web::Routes;
use crate::state::AppState;

pub fn api_routes() -> Routes {
    vec![
        ("/api/v1/orgs", get(list).post(create)),
        ("/api/v1/orgs/{id}", get(one)),
    ]
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct OrgQuery {
    /// Region code; default the caller's whole scope.
    pub region: Option<String>,
    /// Kind identifier, e.g. `elderly_care`.
    pub kind: Option<String>,
}

/// Organisations in a region of the caller's scope.
#[utoipa::path(get, path = "/api/v1/orgs", tag = "orgs", params(OrgQuery),
    responses((status = 200, body = Vec<Org>), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    Api(a): Api,
    Query(q): Query<OrgQuery>,
) -> AppResult<axum::Json<Vec<Org>>> {
    Ok(axum::Json(
        super::list(
            &s,
            &a.actor,
            region_param(q.region.as_deref())?.as_ref(),
            super::OrgKind::param(q.kind.as_deref())?,
        )
        .await?,
    ))
}

/// Create an organisation.
#[utoipa::path(post, path = "/api/v1/orgs", tag = "orgs", request_body = NewOrg,
    responses((status = 201, body = Org), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    Api(a): Api,
    JsonBody(body): JsonBody<NewOrg>,
) -> AppResult<(StatusCode, axum::Json<Org>)> {
    Ok((
        StatusCode::CREATED,
        axum::Json(super::create(&s, &a.actor, &body).await?),
    ))
}

/// One organisation.
#[utoipa::path(get, path = "/api/v1/orgs/{id}", tag = "orgs", params(("id" = i64, Path)),
    responses((status = 200, body = Org), (status = 404, body = ErrorBody)))]
pub async fn one(
    State(s): State<AppState>,
    Api(a): Api,
    Path(id): Path<i64>,
) -> AppResult<axum::Json<Org>> {
    Ok(axum::Json(super::get(&s, &a.actor, id).await?))
}
